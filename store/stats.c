/*
 * stats.c - the dashboard's time series (stats.h): rows of the hourly
 * roll-ups, or records for minute buckets, folded in C into buckets,
 * groups and top lists, each with its latency histograms.
 */
#include "store/stats.h"
#include "base/sb.h"
#include "store/db.h"
#include "store/rollup.h"
#include "store/usage_sql.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_S INT64_C(3600)
#define DAY_S  INT64_C(86400)

/* Where a row's dimensions are, in the row the SELECTs below make. */
enum { COL_T, COL_KEY, COL_PROVIDER, COL_MODEL, COL_ROUTE, COL_SUMS };
#define NSUMS 8

static const char *const sum_names[NSUMS] = {
    "requests",      "errors",           "prompt_tokens", "completion_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd",      "unpriced_requests"};

/* One accumulated cell: a bucket of a group, a total, or a top entry. */
struct cell {
  int64_t t;
  char *name; /* the group's value, or NULL */
  double sum[NSUMS];
  struct store_hist latency, overhead;
};

/* Cells by (t, name), in insertion order. */
struct cells {
  struct cell *c;
  int n, cap;
  int *slot;
  int nslots;
};

static uint64_t hash(int64_t t, const char *name)
{
  uint64_t h = UINT64_C(14695981039346656037) ^ (uint64_t)t;

  for(; name && *name; name++)
    h = (h ^ (unsigned char)*name) * UINT64_C(1099511628211);
  return h * UINT64_C(1099511628211);
}

static void cells_free(struct cells *cs)
{
  for(int i = 0; i < cs->n; i++)
    free(cs->c[i].name);
  free(cs->c);
  free(cs->slot);
  memset(cs, 0, sizeof(*cs));
}

static void rehash(struct cells *cs)
{
  int nslots = cs->nslots ? cs->nslots * 2 : 64;

  free(cs->slot);
  cs->slot = sb_malloc(sizeof(int) * (size_t)nslots);
  memset(cs->slot, 0xff, sizeof(int) * (size_t)nslots);
  cs->nslots = nslots;
  for(int i = 0; i < cs->n; i++) {
    size_t s = hash(cs->c[i].t, cs->c[i].name) & (size_t)(nslots - 1);
    while(cs->slot[s] >= 0)
      s = (s + 1) & (size_t)(nslots - 1);
    cs->slot[s] = i;
  }
}

static struct cell *cell(struct cells *cs, int64_t t, const char *name)
{
  size_t s;

  if(!cs->nslots || (cs->n + 1) * 2 > cs->nslots)
    rehash(cs);
  for(s = hash(t, name) & (size_t)(cs->nslots - 1); cs->slot[s] >= 0;
      s = (s + 1) & (size_t)(cs->nslots - 1)) {
    struct cell *c = &cs->c[cs->slot[s]];
    if(c->t == t &&
       (c->name == name || (c->name && name && !strcmp(c->name, name))))
      return c;
  }
  if(cs->n == cs->cap) {
    cs->cap = cs->cap ? cs->cap * 2 : 32;
    cs->c = sb_realloc(cs->c, sizeof(*cs->c) * (size_t)cs->cap);
  }
  memset(&cs->c[cs->n], 0, sizeof(cs->c[0]));
  cs->c[cs->n].t = t;
  cs->c[cs->n].name = name ? sb_strdup(name) : NULL;
  cs->slot[s] = cs->n;
  return &cs->c[cs->n++];
}

/* What one row adds: sums, and either two stored histograms (roll-ups)
 * or one latency and upstream time (a record). */
struct row {
  double sum[NSUMS];
  const void *lat_blob, *ovh_blob;
  int lat_len, ovh_len;
  int64_t latency_us, upstream_us; /* a record's; latency_us < 0: none */
};

static void absorb(struct cell *c, const struct row *r)
{
  for(int i = 0; i < NSUMS; i++)
    c->sum[i] += r->sum[i];
  if(r->latency_us >= 0) {
    store_hist_add(&c->latency, r->latency_us);
    if(r->upstream_us > 0)
      store_hist_add(&c->overhead, r->latency_us > r->upstream_us
                                       ? r->latency_us - r->upstream_us
                                       : 0);
    return;
  }
  /* A malformed blob counts what it holds before the fault: the rest of
   * the row's numbers are still right. */
  if(r->lat_blob)
    store_hist_merge_blob(&c->latency, r->lat_blob, (size_t)r->lat_len);
  if(r->ovh_blob)
    store_hist_merge_blob(&c->overhead, r->ovh_blob, (size_t)r->ovh_len);
}

static void add_ms(cJSON *o, const char *name, const struct store_hist *h,
                   double q)
{
  double us = store_hist_quantile(h, q);

  if(us < 0)
    cJSON_AddNullToObject(o, name);
  else
    cJSON_AddNumberToObject(o, name, (double)(int64_t)(us / 10.0) / 100.0);
}

static void add_fields(cJSON *o, const struct cell *c)
{
  for(int i = 0; i < NSUMS; i++)
    cJSON_AddNumberToObject(o, sum_names[i], c->sum[i]);
  add_ms(o, "latency_p50_ms", &c->latency, 0.50);
  add_ms(o, "latency_p95_ms", &c->latency, 0.95);
  add_ms(o, "overhead_p50_ms", &c->overhead, 0.50);
  add_ms(o, "overhead_p95_ms", &c->overhead, 0.95);
}

/* o's "key_name": the name of key id, read with names (SELECT name FROM
 * api_keys WHERE id = ?1, prepared once per query), or null. */
static void add_key_name(cJSON *o, sqlite3_stmt *names, const char *id)
{
  const char *name = NULL;

  if(names && id && *id) {
    sqlite3_reset(names);
    sqlite3_bind_text(names, 1, id, -1, SQLITE_STATIC);
    if(sqlite3_step(names) == SQLITE_ROW)
      name = (const char *)sqlite3_column_text(names, 0);
  }
  if(name)
    cJSON_AddStringToObject(o, "key_name", name);
  else
    cJSON_AddNullToObject(o, "key_name");
}

static int by_cost_then_requests(const void *a, const void *b)
{
  const struct cell *x = a, *y = b;

  if(x->sum[6] != y->sum[6])
    return x->sum[6] < y->sum[6] ? 1 : -1;
  if(x->sum[0] != y->sum[0])
    return x->sum[0] < y->sum[0] ? 1 : -1;
  return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int by_time_then_name(const void *a, const void *b)
{
  const struct cell *x = a, *y = b;

  if(x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* The top n of cs as an array of {<label>: name, requests, tokens,
 * cost_usd, …}; key rows also carry key_name. */
static cJSON *top_list(sqlite3_stmt *names, struct cells *cs, const char *label,
                       int n, int latency)
{
  cJSON *a = cJSON_CreateArray();

  if(cs->n)
    qsort(cs->c, (size_t)cs->n, sizeof(*cs->c), by_cost_then_requests);
  for(int i = 0; i < cs->n && i < n; i++) {
    const struct cell *c = &cs->c[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, label, c->name ? c->name : "");
    if(!strcmp(label, "key_id"))
      add_key_name(o, names, c->name);
    cJSON_AddNumberToObject(o, "requests", c->sum[0]);
    cJSON_AddNumberToObject(o, "errors", c->sum[1]);
    cJSON_AddNumberToObject(o, "tokens", c->sum[2] + c->sum[3]);
    cJSON_AddNumberToObject(o, "cost_usd", c->sum[6]);
    if(latency) {
      add_ms(o, "latency_p50_ms", &c->latency, 0.50);
      add_ms(o, "latency_p95_ms", &c->latency, 0.95);
    }
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

/* The SELECT for a source: t (unix s, raw), key, provider, model, route,
 * the sums, then either the two histograms (roll-ups) or latency_ms and
 * upstream_us (records). */
#define ROLLUP_COLS_SQL                                                        \
  " r.key_id, r.provider, " ROLLUP_MODEL_SQL ", r.route,"                      \
  " r.requests, r.errors, r.prompt_tokens, r.completion_tokens,"               \
  " r.cached_tokens, r.reasoning_tokens, r.cost_usd, r.unpriced,"              \
  " r.latency_hist, r.overhead_hist"

static const char hourly_sql[] =
    "SELECT r.hour," ROLLUP_COLS_SQL " FROM usage_hourly r" HOURLY_FILTER_SQL;

static const char daily_sql[] =
    "SELECT CAST(strftime('%s', r.day) AS INTEGER)," ROLLUP_COLS_SQL
    " FROM usage_daily r" DAILY_FILTER_SQL;

static const char records_sql[] =
    "SELECT r.ts_ms / 1000, coalesce(r.key_id, ''), coalesce(r.provider, ''),"
    " coalesce(r.provider || '/' || r.upstream_model, r.model, ''),"
    " coalesce(r.route, ''), 1, r.status >= 400,"
    " coalesce(r.prompt_tokens, 0), coalesce(r.completion_tokens, 0),"
    " coalesce(r.cached_tokens, 0), coalesce(r.reasoning_tokens, 0),"
    " coalesce(r.cost_usd, 0), r.unpriced, r.latency_ms, r.upstream_us"
    " FROM requests r" FILTER_SQL;

static int group_col(const char *group)
{
  if(!strcmp(group, "none"))
    return -1;
  if(!strcmp(group, "key"))
    return COL_KEY;
  if(!strcmp(group, "model"))
    return COL_MODEL;
  if(!strcmp(group, "provider"))
    return COL_PROVIDER;
  if(!strcmp(group, "route"))
    return COL_ROUTE;
  return -2;
}

int store_stats_query(const char *path, const struct store_usage_filter *f,
                      const char *bucket, const char *group, int top,
                      cJSON **out, char *err, size_t errlen)
{
  struct store_usage_filter g = *f;
  struct cells series = {0}, totals = {0}, models = {0}, keys = {0},
               providers = {0};
  int64_t bucket_s;
  int minute, gcol, rc, step;
  sqlite3_stmt *st = NULL, *names = NULL;
  sqlite3 *db;
  cJSON *o, *a, *t;

  *out = NULL;
  minute = !strcmp(bucket, "minute");
  bucket_s = minute                    ? 60
             : !strcmp(bucket, "hour") ? HOUR_S
             : !strcmp(bucket, "day")  ? DAY_S
                                       : 0;
  gcol = group_col(group);
  if(!bucket_s) {
    sb_errf(err, errlen, "bucket: expected minute, hour or day");
    return SB_EINVAL;
  }
  if(gcol == -2) {
    sb_errf(err, errlen, "group: expected none, model, key, provider or route");
    return SB_EINVAL;
  }
  if(top < 1 || top > 100) {
    sb_errf(err, errlen, "top: expected 1 to 100");
    return SB_EINVAL;
  }
  if(g.since_ms < 0 || g.until_ms <= g.since_ms) {
    sb_errf(err, errlen, "since: must come before until");
    return SB_EINVAL;
  }
  if(minute && g.until_ms - g.since_ms > STORE_STATS_MINUTE_MAX_MS) {
    sb_errf(err, errlen, "bucket: minute buckets cover at most 6 hours");
    return SB_EINVAL;
  }
  if(!minute) { /* whole hours or days: the roll-ups' units */
    int64_t unit = bucket_s * 1000;
    g.since_ms -= g.since_ms % unit;
    if(g.until_ms % unit)
      g.until_ms += unit - g.until_ms % unit;
  }
  g.api = NULL;
  g.status_min = g.status_max = 0;

  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  if(sqlite3_prepare_v2(db,
                        minute               ? records_sql
                        : bucket_s == HOUR_S ? hourly_sql
                                             : daily_sql,
                        -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "stats", err, errlen);
  if(!rc) {
    store_usage_bind(st, &g);
    while((step = sqlite3_step(st)) == SQLITE_ROW) {
      struct row r;
      int64_t ts = sqlite3_column_int64(st, COL_T);
      const char *gv =
          gcol >= 0 ? (const char *)sqlite3_column_text(st, gcol) : NULL;

      memset(&r, 0, sizeof(r));
      for(int i = 0; i < NSUMS; i++)
        r.sum[i] = sqlite3_column_double(st, COL_SUMS + i);
      if(minute) {
        r.latency_us = sqlite3_column_int64(st, COL_SUMS + NSUMS) * 1000;
        r.upstream_us = sqlite3_column_int64(st, COL_SUMS + NSUMS + 1);
      } else {
        r.latency_us = -1;
        r.lat_blob = sqlite3_column_blob(st, COL_SUMS + NSUMS);
        r.lat_len = sqlite3_column_bytes(st, COL_SUMS + NSUMS);
        r.ovh_blob = sqlite3_column_blob(st, COL_SUMS + NSUMS + 1);
        r.ovh_len = sqlite3_column_bytes(st, COL_SUMS + NSUMS + 1);
      }
      absorb(cell(&series, ts - ts % bucket_s, gv ? gv : NULL), &r);
      absorb(cell(&totals, 0, NULL), &r);
      absorb(cell(&models, 0, (const char *)sqlite3_column_text(st, COL_MODEL)),
             &r);
      absorb(cell(&keys, 0, (const char *)sqlite3_column_text(st, COL_KEY)),
             &r);
      absorb(cell(&providers, 0,
                  (const char *)sqlite3_column_text(st, COL_PROVIDER)),
             &r);
    }
    if(step != SQLITE_DONE)
      rc = store_db_fail(db, "stats", err, errlen);
  }
  sqlite3_finalize(st);
  /* A missing name is shown as null; the figures stand without it. */
  if(sqlite3_prepare_v2(db, "SELECT name FROM api_keys WHERE id = ?1", -1,
                        &names, NULL) != SQLITE_OK)
    names = NULL;

  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "stats");
  cJSON_AddNumberToObject(o, "since", (double)(g.since_ms / 1000));
  cJSON_AddNumberToObject(o, "until", (double)(g.until_ms / 1000));
  cJSON_AddStringToObject(o, "bucket", bucket);
  cJSON_AddNumberToObject(o, "bucket_s", (double)bucket_s);
  cJSON_AddStringToObject(o, "group", group);
  t = cJSON_AddObjectToObject(o, "totals");
  if(totals.n)
    add_fields(t, &totals.c[0]);
  else {
    struct cell empty;
    memset(&empty, 0, sizeof(empty));
    add_fields(t, &empty);
  }
  a = cJSON_AddArrayToObject(o, "series");
  if(series.n)
    qsort(series.c, (size_t)series.n, sizeof(*series.c), by_time_then_name);
  for(int i = 0; i < series.n; i++) {
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "t", (double)series.c[i].t);
    if(gcol >= 0) {
      cJSON_AddStringToObject(row, "group", series.c[i].name);
      if(gcol == COL_KEY)
        add_key_name(row, names, series.c[i].name);
    }
    add_fields(row, &series.c[i]);
    cJSON_AddItemToArray(a, row);
  }
  t = cJSON_AddObjectToObject(o, "top");
  cJSON_AddItemToObject(t, "models", top_list(names, &models, "model", top, 1));
  cJSON_AddItemToObject(t, "keys", top_list(names, &keys, "key_id", top, 0));
  cJSON_AddItemToObject(t, "providers",
                        top_list(names, &providers, "provider", top, 1));
  sqlite3_finalize(names);
  cells_free(&series);
  cells_free(&totals);
  cells_free(&models);
  cells_free(&keys);
  cells_free(&providers);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc)
    cJSON_Delete(o);
  else
    *out = o;
  return rc;
}
