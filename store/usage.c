#include "store/usage.h"
#include "base/buf.h"
#include "base/sb.h"
#include "store/db.h"
#include "store/usage_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
  if(s && *s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

void store_usage_bind(sqlite3_stmt *st, const struct store_usage_filter *f)
{
  bind_opt(st, 1, f->key);
  bind_opt(st, 2, f->model);
  bind_opt(st, 3, f->provider);
  sqlite3_bind_int64(st, 4, f->since_ms);
  sqlite3_bind_int64(st, 5, f->until_ms > 0 ? f->until_ms : INT64_MAX);
  bind_opt(st, 6, f->route);
  bind_opt(st, 7, f->api);
  sqlite3_bind_int(st, 8, f->status_min);
  sqlite3_bind_int(st, 9, f->status_max);
}

#define SUMS_SQL                                                               \
  "count(*), total(r.status >= 400), total(r.prompt_tokens),"                  \
  " total(r.completion_tokens), total(r.cached_tokens),"                       \
  " total(r.reasoning_tokens), total(r.cost_usd), total(r.unpriced)"

static const char *const sum_names[] = {
    "requests",      "errors",           "prompt_tokens", "completion_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd",      "unpriced_requests"};

#define ROLLUP_SUMS_SQL                                                        \
  "total(r.requests), total(r.errors), total(r.prompt_tokens),"                \
  " total(r.completion_tokens), total(r.cached_tokens),"                       \
  " total(r.reasoning_tokens), total(r.cost_usd), total(r.unpriced)"

/* Where a usage query reads: the records, or their roll-ups. */
struct usage_source {
  const char *from, *filter, *sums;
  const char *day, *key, *model, *provider, *route; /* group expressions */
};

static const struct usage_source records = {
    " FROM requests r",
    FILTER_SQL,
    SUMS_SQL,
    "strftime('%Y-%m-%d', r.ts_ms / 1000, 'unixepoch')",
    "coalesce(r.key_id, '')",
    "coalesce(r.provider || '/' || r.upstream_model, r.model, '')",
    "coalesce(r.provider, '')",
    "coalesce(r.route, '')"};

static const struct usage_source daily = {" FROM usage_daily r",
                                          DAILY_FILTER_SQL,
                                          ROLLUP_SUMS_SQL,
                                          "r.day",
                                          "r.key_id",
                                          ROLLUP_MODEL_SQL,
                                          "r.provider",
                                          "r.route"};

static const struct usage_source hourly = {
    " FROM usage_hourly r",
    HOURLY_FILTER_SQL,
    ROLLUP_SUMS_SQL,
    "strftime('%Y-%m-%d', r.hour, 'unixepoch')",
    "r.key_id",
    ROLLUP_MODEL_SQL,
    "r.provider",
    "r.route"};

#define DAY_MS  INT64_C(86400000)
#define HOUR_MS INT64_C(3600000)

static int aligned(const struct store_usage_filter *f, int64_t unit)
{
  return f->since_ms % unit == 0 &&
         (f->until_ms <= 0 || f->until_ms % unit == 0);
}

/* Whole days are answered from the daily roll-ups (kept longest), whole
 * hours from the hourly ones; a time of day, an API or a status needs
 * the records themselves. */
static const struct usage_source *source_for(const struct store_usage_filter *f)
{
  if((f->api && *f->api) || f->status_max)
    return &records;
  if(aligned(f, DAY_MS))
    return &daily;
  if(aligned(f, HOUR_MS))
    return &hourly;
  return &records;
}

/* The sums of columns first.. of st into o. */
static void add_sums(cJSON *o, sqlite3_stmt *st, int first)
{
  for(int i = 0; i < (int)SB_ARRAY_LEN(sum_names); i++)
    cJSON_AddNumberToObject(o, sum_names[i],
                            sqlite3_column_double(st, first + i));
}

static const char *group_expr(const struct usage_source *src, const char *group)
{
  if(!group || !strcmp(group, "day"))
    return src->day;
  if(!strcmp(group, "key"))
    return src->key;
  if(!strcmp(group, "model"))
    return src->model;
  if(!strcmp(group, "provider"))
    return src->provider;
  if(!strcmp(group, "route"))
    return src->route;
  return NULL;
}

int store_usage_query(const char *path, const struct store_usage_filter *f,
                      const char *group, cJSON **out, char *err, size_t errlen)
{
  const struct usage_source *src = source_for(f);
  const char *g = group_expr(src, group);
  sqlite3_stmt *st = NULL;
  cJSON *o, *series;
  sqlite3 *db;
  char *sql;
  int rc;

  *out = NULL;
  if(!g) {
    sb_errf(err, errlen, "group: expected day, key, model, provider or route");
    return SB_EINVAL;
  }
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "usage");
  cJSON_AddStringToObject(o, "group", group ? group : "day");
  sql = sb_asprintf("SELECT %s%s%s", src->sums, src->from, src->filter);
  if(sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "usage totals", err, errlen);
  free(sql);
  if(!rc) {
    store_usage_bind(st, f);
    if(sqlite3_step(st) == SQLITE_ROW)
      add_sums(cJSON_AddObjectToObject(o, "totals"), st, 0);
    else
      rc = store_db_fail(db, "usage totals", err, errlen);
  }
  sqlite3_finalize(st);
  st = NULL;
  series = cJSON_AddArrayToObject(o, "series");
  sql = sb_asprintf("SELECT %s AS g, %s%s%s GROUP BY g ORDER BY g", g,
                    src->sums, src->from, src->filter);
  if(!rc && sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "usage series", err, errlen);
  free(sql);
  if(!rc) {
    int step;
    store_usage_bind(st, f);
    while((step = sqlite3_step(st)) == SQLITE_ROW) {
      cJSON *row = cJSON_CreateObject();
      cJSON_AddStringToObject(row, group ? group : "day",
                              (const char *)sqlite3_column_text(st, 0));
      add_sums(row, st, 1);
      cJSON_AddItemToArray(series, row);
    }
    if(step != SQLITE_DONE)
      rc = store_db_fail(db, "usage series", err, errlen);
  }
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc)
    cJSON_Delete(o);
  else
    *out = o;
  return rc;
}

static const char *const log_cols[] = {"id",
                                       "ts_ms",
                                       "request_id",
                                       "api",
                                       "model",
                                       "provider",
                                       "upstream_model",
                                       "stream",
                                       "status",
                                       "error_type",
                                       "prompt_tokens",
                                       "completion_tokens",
                                       "cached_tokens",
                                       "reasoning_tokens",
                                       "cost_usd",
                                       "unpriced",
                                       "ttfb_ms",
                                       "latency_ms",
                                       "key_id",
                                       "route",
                                       "attempts",
                                       "context_dropped",
                                       "context_dropped_tokens",
                                       "context_strategy",
                                       "context_summary",
                                       "context_counted",
                                       "upstream_us",
                                       "cache",
                                       "saved_usd"};

/* The record st's row holds (log_cols, in order). */
static cJSON *log_row(sqlite3_stmt *st)
{
  cJSON *row = cJSON_CreateObject();
  int64_t latency_ms = 0, upstream_us = -1;

  for(int i = 0; i < (int)SB_ARRAY_LEN(log_cols); i++) {
    const char *name = log_cols[i];
    switch(sqlite3_column_type(st, i)) {
    case SQLITE_NULL: cJSON_AddNullToObject(row, name); break;
    case SQLITE_TEXT:
      cJSON_AddStringToObject(row, name,
                              (const char *)sqlite3_column_text(st, i));
      break;
    default:
      if(!strcmp(name, "upstream_us")) {
        upstream_us = sqlite3_column_int64(st, i);
        continue;
      }
      if(!strcmp(name, "latency_ms"))
        latency_ms = sqlite3_column_int64(st, i);
      cJSON_AddNumberToObject(row, name, sqlite3_column_double(st, i));
    }
  }
  /* The gateway's own time: what the upstream did not take. Records
   * made before upstream time was measured have neither. */
  cJSON_DeleteItemFromObjectCaseSensitive(row, "upstream_us");
  if(upstream_us >= 0) {
    double up = (double)upstream_us / 1000.0;
    double own = (double)latency_ms - up;
    cJSON_AddNumberToObject(row, "upstream_ms", up);
    cJSON_AddNumberToObject(row, "overhead_ms", own > 0 ? own : 0);
  } else {
    cJSON_AddNullToObject(row, "upstream_ms");
    cJSON_AddNullToObject(row, "overhead_ms");
  }
  return row;
}

/* The request log's WHERE clause with only the conditions f sets, so the
 * planner can walk an index in the order the page is read (newest
 * first: requests_key for a key, requests_ts otherwise) and stop after
 * one page, instead of sorting every row a blanket condition matches.
 * ?10, ?11: the (ts_ms, id) of the row the page starts below. */
static void log_where(struct buf *sql, const struct store_usage_filter *f,
                      int before, int after)
{
  buf_appendz(sql, " WHERE 1");
  if(f->key && *f->key)
    /* names are never shaped like ids (store/keys.h), so either reads */
    buf_appendz(sql, " AND r.key_id = coalesce((SELECT id FROM api_keys"
                     " WHERE name = ?1), ?1)");
  if(f->model && *f->model)
    buf_appendz(sql, " AND (r.model = ?2 OR r.provider || '/' ||"
                     " r.upstream_model = ?2)");
  if(f->provider && *f->provider)
    buf_appendz(sql, " AND r.provider = ?3");
  if(f->since_ms > 0)
    buf_appendz(sql, " AND r.ts_ms >= ?4");
  if(f->until_ms > 0)
    buf_appendz(sql, " AND r.ts_ms < ?5");
  if(f->route && *f->route)
    buf_appendz(sql, " AND r.route = ?6");
  if(f->api && *f->api)
    buf_appendz(sql, " AND r.api = ?7");
  if(f->status_max)
    buf_appendz(sql, " AND r.status BETWEEN ?8 AND ?9");
  if(before)
    buf_appendz(sql, " AND r.ts_ms <= ?10 AND (r.ts_ms < ?10 OR r.id < ?11)");
  if(after)
    buf_appendz(sql, " AND r.id > ?12");
}

/* The start time of record id (0 when there is none: an empty page). */
static int64_t ts_of(sqlite3 *db, int64_t id, int *found)
{
  sqlite3_stmt *st = NULL;
  int64_t ts = 0;

  *found = 0;
  if(sqlite3_prepare_v2(db, "SELECT ts_ms FROM requests WHERE id = ?1", -1, &st,
                        NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, id);
    if(sqlite3_step(st) == SQLITE_ROW) {
      ts = sqlite3_column_int64(st, 0);
      *found = 1;
    }
  }
  sqlite3_finalize(st);
  return ts;
}

int store_requests_page(const char *path, const struct store_usage_filter *f,
                        int limit, int64_t before_id, int64_t after_id,
                        cJSON **out, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  struct buf sql;
  cJSON *o, *data;
  int64_t last = 0, before_ts = 0;
  sqlite3 *db;
  int rc, n = 0, step = SQLITE_DONE, found = 1;

  *out = NULL;
  if(limit < 1 || limit > 1000) {
    sb_errf(err, errlen, "limit: expected 1 to 1000");
    return SB_EINVAL;
  }
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  if(before_id > 0 && after_id <= 0)
    before_ts = ts_of(db, before_id, &found);
  buf_init(&sql, 4096);
  buf_appendz(&sql, "SELECT ");
  for(size_t i = 0; i < SB_ARRAY_LEN(log_cols); i++)
    buf_printf(&sql, "%sr.%s", i ? ", " : "", log_cols[i]);
  buf_appendz(&sql, " FROM requests r");
  log_where(&sql, f, before_id > 0 && after_id <= 0, after_id > 0);
  /* Newest first by start time; a live tail (after_id) oldest first by
   * arrival in the log. One more than asked: whether there is a next
   * page. */
  buf_printf(&sql, " ORDER BY %s LIMIT %d",
             after_id > 0 ? "r.id ASC" : "r.ts_ms DESC, r.id DESC", limit + 1);
  if(sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "request log", err, errlen);
  buf_free(&sql);
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  if(!rc && found) {
    store_usage_bind(st, f);
    sqlite3_bind_int64(st, 10, before_ts);
    sqlite3_bind_int64(st, 11, before_id);
    sqlite3_bind_int64(st, 12, after_id);
    while((step = sqlite3_step(st)) == SQLITE_ROW && n++ < limit) {
      last = sqlite3_column_int64(st, 0);
      cJSON_AddItemToArray(data, log_row(st));
    }
    if(step != SQLITE_DONE && step != SQLITE_ROW)
      rc = store_db_fail(db, "request log", err, errlen);
  }
  sqlite3_finalize(st);
  cJSON_AddBoolToObject(o, "has_more", step == SQLITE_ROW);
  if(step == SQLITE_ROW)
    cJSON_AddNumberToObject(o, "next_before_id", (double)last);
  else
    cJSON_AddNullToObject(o, "next_before_id");
  rc = store_db_finish(db, rc, err, errlen);
  if(rc)
    cJSON_Delete(o);
  else
    *out = o;
  return rc;
}

/* What was logged of record id (request_bodies), or JSON null. */
static cJSON *body_of(sqlite3 *db, int64_t id, int *rc, char *err,
                      size_t errlen)
{
  static const char *const names[] = {"request", "response"};
  sqlite3_stmt *st = NULL;
  cJSON *b = NULL, *h;
  int step;

  if(sqlite3_prepare_v2(db,
                        "SELECT request_headers, request, response,"
                        " request_truncated, response_truncated"
                        " FROM request_bodies WHERE id = ?1",
                        -1, &st, NULL) != SQLITE_OK) {
    *rc = store_db_fail(db, "request body", err, errlen);
    return cJSON_CreateNull();
  }
  sqlite3_bind_int64(st, 1, id);
  step = sqlite3_step(st);
  if(step == SQLITE_ROW) {
    b = cJSON_CreateObject();
    h = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    cJSON_AddItemToObject(b, "request_headers",
                          cJSON_IsObject(h) ? h : cJSON_CreateObject());
    if(h && !cJSON_IsObject(h))
      cJSON_Delete(h);
    for(int i = 0; i < 2; i++) {
      const char *t = (const char *)sqlite3_column_text(st, 1 + i);
      char flag[32];
      cJSON_AddStringToObject(b, names[i], t ? t : "");
      snprintf(flag, sizeof(flag), "%s_truncated", names[i]);
      cJSON_AddBoolToObject(b, flag, sqlite3_column_int(st, 3 + i));
    }
  } else if(step != SQLITE_DONE)
    *rc = store_db_fail(db, "request body", err, errlen);
  sqlite3_finalize(st);
  return b ? b : cJSON_CreateNull();
}

int store_request_get(const char *path, int64_t id, cJSON **out, char *err,
                      size_t errlen)
{
  sqlite3_stmt *st = NULL;
  struct buf sql;
  cJSON *row = NULL, *attempts;
  sqlite3 *db;
  int rc, step;

  *out = NULL;
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  buf_init(&sql, 4096);
  buf_appendz(&sql, "SELECT ");
  for(size_t i = 0; i < SB_ARRAY_LEN(log_cols); i++)
    buf_printf(&sql, "%sr.%s", i ? ", " : "", log_cols[i]);
  buf_appendz(&sql, ", r.attempts_detail FROM requests r WHERE r.id = ?1");
  if(sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "request", err, errlen);
  buf_free(&sql);
  if(!rc) {
    sqlite3_bind_int64(st, 1, id);
    step = sqlite3_step(st);
    if(step == SQLITE_ROW) {
      row = log_row(st);
      attempts = cJSON_Parse(
          (const char *)sqlite3_column_text(st, (int)SB_ARRAY_LEN(log_cols)));
      /* The attempts themselves instead of their count. */
      cJSON_DeleteItemFromObjectCaseSensitive(row, "attempts");
      cJSON_AddItemToObject(row, "attempts",
                            cJSON_IsArray(attempts) ? attempts
                                                    : cJSON_CreateArray());
      if(attempts && !cJSON_IsArray(attempts))
        cJSON_Delete(attempts);
      cJSON_AddItemToObject(row, "body", body_of(db, id, &rc, err, errlen));
    } else if(step == SQLITE_DONE) {
      sb_errf(err, errlen, "no request record %lld", (long long)id);
      rc = SB_ENOTFOUND;
    } else
      rc = store_db_fail(db, "request", err, errlen);
  }
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc)
    cJSON_Delete(row);
  else
    *out = row;
  return rc;
}

static void csv_field(struct buf *b, const char *s)
{
  if(!strpbrk(s, ",\"\r\n")) {
    buf_appendz(b, s);
    return;
  }
  buf_appendz(b, "\"");
  for(; *s; s++) {
    if(*s == '"')
      buf_appendz(b, "\"\"");
    else
      buf_append(b, s, 1);
  }
  buf_appendz(b, "\"");
}

char *store_usage_csv(const cJSON *usage)
{
  const char *group = cJSON_GetObjectItem(usage, "group")->valuestring;
  const cJSON *row;
  struct buf b;
  char num[64];

  buf_init(&b, (size_t)1 << 30);
  buf_appendz(&b, group);
  for(size_t i = 0; i < SB_ARRAY_LEN(sum_names); i++)
    buf_printf(&b, ",%s", sum_names[i]);
  buf_appendz(&b, "\r\n");
  cJSON_ArrayForEach(row, cJSON_GetObjectItem(usage, "series"))
  {
    csv_field(&b, cJSON_GetObjectItem(row, group)->valuestring);
    for(size_t i = 0; i < SB_ARRAY_LEN(sum_names); i++) {
      snprintf(num, sizeof(num), ",%.10g",
               cJSON_GetObjectItem(row, sum_names[i])->valuedouble);
      buf_appendz(&b, num);
    }
    buf_appendz(&b, "\r\n");
  }
  return buf_take(&b, NULL);
}

int store_cache_usage(const char *path, int64_t since_ms, int64_t until_ms,
                      struct store_cache_usage *out, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc, step;

  memset(out, 0, sizeof(*out));
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  /* requests_cache (cache, ts_ms) holds only the records the cache saw. */
  if(sqlite3_prepare_v2(db,
                        "SELECT cache, count(*), total(saved_usd) FROM requests"
                        " WHERE cache IS NOT NULL AND ts_ms >= ?1 AND"
                        " ts_ms < ?2 GROUP BY cache",
                        -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "cache usage", err, errlen);
  if(!rc) {
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, until_ms);
    while((step = sqlite3_step(st)) == SQLITE_ROW) {
      const char *what = (const char *)sqlite3_column_text(st, 0);
      int64_t n = sqlite3_column_int64(st, 1);

      if(!strcmp(what, "hit"))
        out->hits = n;
      else if(!strcmp(what, "coalesced"))
        out->coalesced = n;
      else if(!strcmp(what, "miss"))
        out->misses = n;
      else if(!strcmp(what, "bypass"))
        out->bypassed = n;
      out->saved_usd += sqlite3_column_double(st, 2);
    }
    if(step != SQLITE_DONE)
      rc = store_db_fail(db, "cache usage", err, errlen);
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}
