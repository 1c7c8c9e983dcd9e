/*
 * rollup.c - usage roll-ups summed per batch, and latency histograms
 * (rollup.h).
 */
#include "store/rollup.h"
#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

/* ---- histograms ---- */

/* Lower bounds of buckets 1..STORE_HIST_BUCKETS-1, in microseconds;
 * bucket 0 is [0, 10). */
static const int64_t bounds[STORE_HIST_BUCKETS - 1] = {
#define DECADE(m)                                                              \
  10 * (m), 12 * (m), 15 * (m), 20 * (m), 25 * (m), 30 * (m), 40 * (m),        \
      50 * (m), 60 * (m), 80 * (m)
    DECADE(INT64_C(1)),       DECADE(INT64_C(10)),
    DECADE(INT64_C(100)),     DECADE(INT64_C(1000)),
    DECADE(INT64_C(10000)),   DECADE(INT64_C(100000)),
    DECADE(INT64_C(1000000)), DECADE(INT64_C(10000000)),
    INT64_C(1000000000),
#undef DECADE
};

int store_hist_bucket(int64_t us)
{
  int lo = 0, hi = STORE_HIST_BUCKETS - 1; /* answer in [lo, hi] */

  if(us < bounds[0])
    return 0;
  /* The last bound at or below us, plus one. */
  while(lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if(bounds[mid - 1] <= us)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

void store_hist_add(struct store_hist *h, int64_t us)
{
  h->n[store_hist_bucket(us < 0 ? 0 : us)]++;
  h->total++;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
  size_t n = 0;

  while(v >= 0x80) {
    p[n++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (unsigned char)v;
  return n;
}

/* 0, or -1 when the varint runs past end or is longer than 64 bits. */
static int get_varint(const unsigned char **p, const unsigned char *end,
                      uint64_t *v)
{
  *v = 0;
  for(int shift = 0; shift < 64; shift += 7) {
    if(*p >= end)
      return -1;
    *v |= (uint64_t)(**p & 0x7f) << shift;
    if(!(*(*p)++ & 0x80))
      return 0;
  }
  return -1;
}

size_t store_hist_blob(const struct store_hist *h, unsigned char *out)
{
  size_t len = 0;

  for(int i = 0; i < STORE_HIST_BUCKETS; i++)
    if(h->n[i]) {
      len += put_varint(out + len, (uint64_t)i);
      len += put_varint(out + len, h->n[i]);
    }
  return len;
}

int store_hist_merge_blob(struct store_hist *h, const void *blob, size_t len)
{
  const unsigned char *p = blob, *end = p + len;
  uint64_t i, n;

  while(p < end) {
    if(get_varint(&p, end, &i) || get_varint(&p, end, &n) ||
       i >= STORE_HIST_BUCKETS)
      return SB_EINVAL;
    h->n[i] += n;
    h->total += n;
  }
  return SB_OK;
}

double store_hist_quantile(const struct store_hist *h, double q)
{
  double target = q * (double)h->total, cum = 0;

  if(!h->total)
    return -1;
  for(int i = 0; i < STORE_HIST_BUCKETS; i++) {
    double lo, hi;
    if(!h->n[i] || cum + (double)h->n[i] < target) {
      cum += (double)h->n[i];
      continue;
    }
    lo = i ? (double)bounds[i - 1] : 0;
    /* The open last bucket is read as its lower bound. */
    hi = i < STORE_HIST_BUCKETS - 1 ? (double)bounds[i] : lo;
    return lo + (hi - lo) * ((target - cum) / (double)h->n[i]);
  }
  return (double)bounds[STORE_HIST_BUCKETS - 2];
}

/* sb_hist_add(a, b): the sum of two stored histograms (NULL: empty), for
 * the upserts below. A malformed operand is an error, so a bad row is
 * never silently overwritten. */
static void sql_hist_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  struct store_hist h;
  unsigned char out[STORE_HIST_BLOB_MAX];
  size_t len;

  memset(&h, 0, sizeof(h));
  for(int i = 0; i < argc; i++) {
    const void *b = sqlite3_value_blob(argv[i]);
    if(b &&
       store_hist_merge_blob(&h, b, (size_t)sqlite3_value_bytes(argv[i]))) {
      sqlite3_result_error(ctx, "sb_hist_add: malformed histogram", -1);
      return;
    }
  }
  len = store_hist_blob(&h, out);
  if(len)
    sqlite3_result_blob(ctx, out, (int)len, SQLITE_TRANSIENT);
  else
    sqlite3_result_null(ctx);
}

/* ---- one batch's groups ---- */

/* A power of two above the most groups a batch can have (one a record:
 * batch_max is at most 100000 by config), kept half empty. */
#define SLOTS_MIN 64

struct group {
  int64_t hour;                                             /* unix seconds */
  char *key_id, *provider, *upstream_model, *model, *route; /* never NULL */
  uint64_t hash;
  int64_t requests, errors, prompt, completion, cached, reasoning, unpriced;
  double cost;
  struct store_hist latency, overhead;
};

struct store_rollup {
  struct group *g;
  int n, cap;
  int *slot; /* nslots entries: an index into g, or -1 */
  int nslots;
  sqlite3 *db; /* the connection the statements are prepared on */
  sqlite3_stmt *hourly, *daily;
};

struct store_rollup *store_rollup_new(void)
{
  struct store_rollup *ru = sb_calloc(1, sizeof(*ru));

  ru->nslots = SLOTS_MIN;
  ru->slot = sb_malloc(sizeof(int) * (size_t)ru->nslots);
  memset(ru->slot, 0xff, sizeof(int) * (size_t)ru->nslots);
  return ru;
}

static void group_clear(struct group *g)
{
  free(g->key_id);
  free(g->provider);
  free(g->upstream_model);
  free(g->model);
  free(g->route);
}

void store_rollup_clear(struct store_rollup *ru)
{
  for(int i = 0; i < ru->n; i++)
    group_clear(&ru->g[i]);
  ru->n = 0;
  memset(ru->slot, 0xff, sizeof(int) * (size_t)ru->nslots);
}

void store_rollup_free(struct store_rollup *ru)
{
  if(!ru)
    return;
  store_rollup_clear(ru);
  sqlite3_finalize(ru->hourly);
  sqlite3_finalize(ru->daily);
  free(ru->g);
  free(ru->slot);
  free(ru);
}

static uint64_t fnv(uint64_t h, const char *s)
{
  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return (h ^ 0xff) * UINT64_C(1099511628211); /* field separator */
}

static const char *nz(const char *s)
{
  return s ? s : "";
}

static int same(const struct group *g, int64_t hour, const char *const f[5])
{
  return g->hour == hour && !strcmp(g->key_id, f[0]) &&
         !strcmp(g->provider, f[1]) && !strcmp(g->upstream_model, f[2]) &&
         !strcmp(g->model, f[3]) && !strcmp(g->route, f[4]);
}

static void grow_slots(struct store_rollup *ru)
{
  free(ru->slot);
  ru->nslots *= 2;
  ru->slot = sb_malloc(sizeof(int) * (size_t)ru->nslots);
  memset(ru->slot, 0xff, sizeof(int) * (size_t)ru->nslots);
  for(int i = 0; i < ru->n; i++) {
    size_t s = ru->g[i].hash & (size_t)(ru->nslots - 1);
    while(ru->slot[s] >= 0)
      s = (s + 1) & (size_t)(ru->nslots - 1);
    ru->slot[s] = i;
  }
}

static struct group *find(struct store_rollup *ru, int64_t hour,
                          const char *const f[5])
{
  uint64_t h = UINT64_C(14695981039346656037) ^ (uint64_t)hour;
  struct group *g;
  size_t s;

  for(int i = 0; i < 5; i++)
    h = fnv(h, f[i]);
  for(s = h & (size_t)(ru->nslots - 1); ru->slot[s] >= 0;
      s = (s + 1) & (size_t)(ru->nslots - 1)) {
    g = &ru->g[ru->slot[s]];
    if(g->hash == h && same(g, hour, f))
      return g;
  }
  if(ru->n == ru->cap) {
    ru->cap = ru->cap ? ru->cap * 2 : 16;
    ru->g = sb_realloc(ru->g, sizeof(*ru->g) * (size_t)ru->cap);
  }
  g = &ru->g[ru->n];
  memset(g, 0, sizeof(*g));
  g->hour = hour;
  g->hash = h;
  g->key_id = sb_strdup(f[0]);
  g->provider = sb_strdup(f[1]);
  g->upstream_model = sb_strdup(f[2]);
  g->model = sb_strdup(f[3]);
  g->route = sb_strdup(f[4]);
  ru->slot[s] = ru->n++;
  if(ru->n * 2 > ru->nslots)
    grow_slots(ru);
  return g;
}

static int64_t count(int64_t v)
{
  return v > 0 ? v : 0;
}

void store_rollup_add(struct store_rollup *ru, const struct store_usage *rec)
{
  const char *f[5] = {nz(rec->key_id), nz(rec->provider),
                      nz(rec->upstream_model), nz(rec->model), nz(rec->route)};
  int64_t hour = (rec->ts_ms >= 0 ? rec->ts_ms : 0) / 3600000 * 3600;
  int64_t latency_us =
      rec->latency_us > 0 ? rec->latency_us : rec->latency_ms * 1000;
  struct group *g = find(ru, hour, f);

  g->requests++;
  g->errors += rec->status >= 400;
  g->prompt += count(rec->prompt_tokens);
  g->completion += count(rec->completion_tokens);
  g->cached += count(rec->cached_tokens);
  g->reasoning += count(rec->reasoning_tokens);
  g->unpriced += rec->unpriced != 0;
  if(rec->cost_usd > 0)
    g->cost += rec->cost_usd;
  store_hist_add(&g->latency, latency_us);
  if(rec->upstream_us > 0)
    store_hist_add(&g->overhead, latency_us > rec->upstream_us
                                     ? latency_us - rec->upstream_us
                                     : 0);
}

#define SUMS_SET                                                               \
  " requests = requests + excluded.requests,"                                  \
  " errors = errors + excluded.errors,"                                        \
  " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"                   \
  " completion_tokens = completion_tokens + excluded.completion_tokens,"       \
  " cached_tokens = cached_tokens + excluded.cached_tokens,"                   \
  " reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,"          \
  " cost_usd = cost_usd + excluded.cost_usd,"                                  \
  " unpriced = unpriced + excluded.unpriced"

static const char hourly_sql[] =
    "INSERT INTO usage_hourly VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT DO UPDATE SET" SUMS_SET ","
    " latency_hist = sb_hist_add(latency_hist, excluded.latency_hist),"
    " overhead_hist = sb_hist_add(overhead_hist, excluded.overhead_hist)";

static const char daily_sql[] =
    "INSERT INTO usage_daily VALUES(strftime('%Y-%m-%d', ?1, 'unixepoch'),"
    " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    " ON CONFLICT DO UPDATE SET" SUMS_SET ","
    " latency_hist = sb_hist_add(latency_hist, excluded.latency_hist),"
    " overhead_hist = sb_hist_add(overhead_hist, excluded.overhead_hist)";

static int prepare(struct store_rollup *ru, sqlite3 *db)
{
  int rc;

  if(ru->db == db)
    return SQLITE_OK;
  sqlite3_finalize(ru->hourly);
  sqlite3_finalize(ru->daily);
  ru->hourly = ru->daily = NULL;
  ru->db = NULL;
  rc = sqlite3_create_function_v2(db, "sb_hist_add", 2,
                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                  sql_hist_add, NULL, NULL, NULL);
  if(rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(db, hourly_sql, -1, SQLITE_PREPARE_PERSISTENT,
                            &ru->hourly, NULL);
  if(rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(db, daily_sql, -1, SQLITE_PREPARE_PERSISTENT,
                            &ru->daily, NULL);
  if(rc == SQLITE_OK)
    ru->db = db;
  return rc;
}

static void bind_hist(sqlite3_stmt *st, int i, const struct store_hist *h)
{
  unsigned char b[STORE_HIST_BLOB_MAX];
  size_t len = store_hist_blob(h, b);

  if(len)
    sqlite3_bind_blob(st, i, b, (int)len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static int upsert(sqlite3_stmt *st, const struct group *g)
{
  int rc;

  sqlite3_bind_int64(st, 1, g->hour);
  sqlite3_bind_text(st, 2, g->key_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, g->provider, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, g->upstream_model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, g->model, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, g->route, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, g->requests);
  sqlite3_bind_int64(st, 8, g->errors);
  sqlite3_bind_int64(st, 9, g->prompt);
  sqlite3_bind_int64(st, 10, g->completion);
  sqlite3_bind_int64(st, 11, g->cached);
  sqlite3_bind_int64(st, 12, g->reasoning);
  sqlite3_bind_double(st, 13, g->cost);
  sqlite3_bind_int64(st, 14, g->unpriced);
  bind_hist(st, 15, &g->latency);
  bind_hist(st, 16, &g->overhead);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_rollup_flush(struct store_rollup *ru, sqlite3 *db)
{
  int rc = ru->n ? prepare(ru, db) : SQLITE_OK;

  for(int i = 0; rc == SQLITE_OK && i < ru->n; i++) {
    rc = upsert(ru->hourly, &ru->g[i]);
    if(rc == SQLITE_OK)
      rc = upsert(ru->daily, &ru->g[i]);
  }
  store_rollup_clear(ru);
  return rc;
}
