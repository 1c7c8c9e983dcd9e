#include "store/usage.h"
#include "base/buf.h"
#include "base/sb.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The WHERE clause for f; its parameters are bound by bind_filter in the
 * same order. A key may be named by id or by name. */
#define FILTER_SQL                                                             \
  " WHERE (?1 IS NULL OR r.key_id = ?1 OR r.key_id ="                          \
  " (SELECT id FROM api_keys WHERE name = ?1))"                                \
  " AND (?2 IS NULL OR r.model = ?2 OR r.provider || '/' ||"                   \
  " r.upstream_model = ?2)"                                                    \
  " AND (?3 IS NULL OR r.provider = ?3)"                                       \
  " AND r.ts_ms >= ?4 AND r.ts_ms < ?5"

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
  if(s && *s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static void bind_filter(sqlite3_stmt *st, const struct store_usage_filter *f)
{
  bind_opt(st, 1, f->key);
  bind_opt(st, 2, f->model);
  bind_opt(st, 3, f->provider);
  sqlite3_bind_int64(st, 4, f->since_ms);
  sqlite3_bind_int64(st, 5, f->until_ms > 0 ? f->until_ms : INT64_MAX);
}

#define SUMS_SQL                                                               \
  "count(*), total(r.status >= 400), total(r.prompt_tokens),"                  \
  " total(r.completion_tokens), total(r.cached_tokens),"                       \
  " total(r.reasoning_tokens), total(r.cost_usd), total(r.unpriced)"

static const char *const sum_names[] = {
    "requests",      "errors",           "prompt_tokens", "completion_tokens",
    "cached_tokens", "reasoning_tokens", "cost_usd",      "unpriced_requests"};

/* The same filter over the daily roll-ups ('' for none, days as text). */
#define DAILY_FILTER_SQL                                                       \
  " WHERE (?1 IS NULL OR r.key_id = ?1 OR r.key_id ="                          \
  " (SELECT id FROM api_keys WHERE name = ?1))"                                \
  " AND (?2 IS NULL OR r.model = ?2 OR r.provider || '/' ||"                   \
  " r.upstream_model = ?2)"                                                    \
  " AND (?3 IS NULL OR r.provider = ?3)"                                       \
  " AND r.day >= strftime('%Y-%m-%d', ?4 / 1000, 'unixepoch')"                 \
  " AND (?5 = 9223372036854775807 OR"                                          \
  " r.day < strftime('%Y-%m-%d', ?5 / 1000, 'unixepoch'))"

#define DAILY_SUMS_SQL                                                         \
  "total(r.requests), total(r.errors), total(r.prompt_tokens),"                \
  " total(r.completion_tokens), total(r.cached_tokens),"                       \
  " total(r.reasoning_tokens), total(r.cost_usd), total(r.unpriced)"

/* Where a usage query reads: the records, or their daily roll-ups. */
struct usage_source {
  const char *from, *filter, *sums;
  const char *day, *key, *model, *provider; /* group expressions */
};

static const struct usage_source records = {
    " FROM requests r",
    FILTER_SQL,
    SUMS_SQL,
    "strftime('%Y-%m-%d', r.ts_ms / 1000, 'unixepoch')",
    "coalesce(r.key_id, '')",
    "coalesce(r.provider || '/' || r.upstream_model, r.model, '')",
    "coalesce(r.provider, '')"};

static const struct usage_source daily = {
    " FROM usage_daily r",
    DAILY_FILTER_SQL,
    DAILY_SUMS_SQL,
    "r.day",
    "r.key_id",
    "CASE WHEN r.provider <> '' AND r.upstream_model <> ''"
    " THEN r.provider || '/' || r.upstream_model ELSE r.model END",
    "r.provider"};

#define DAY_MS INT64_C(86400000)

/* Whole days (or open ends) are answered from the roll-ups; a range with a
 * time of day needs the records themselves. */
static const struct usage_source *source_for(const struct store_usage_filter *f)
{
  if(f->since_ms % DAY_MS == 0 &&
     (f->until_ms <= 0 || f->until_ms % DAY_MS == 0))
    return &daily;
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
    sb_errf(err, errlen, "group: expected day, key, model or provider");
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
    bind_filter(st, f);
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
    bind_filter(st, f);
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
                                       "context_counted"};

int store_requests_page(const char *path, const struct store_usage_filter *f,
                        int limit, int64_t before_id, cJSON **out, char *err,
                        size_t errlen)
{
  sqlite3_stmt *st = NULL;
  struct buf sql;
  cJSON *o, *data;
  int64_t last = 0;
  sqlite3 *db;
  int rc, n = 0, step = SQLITE_DONE;

  *out = NULL;
  if(limit < 1 || limit > 1000) {
    sb_errf(err, errlen, "limit: expected 1 to 1000");
    return SB_EINVAL;
  }
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  buf_init(&sql, 4096);
  buf_appendz(&sql, "SELECT ");
  for(size_t i = 0; i < SB_ARRAY_LEN(log_cols); i++)
    buf_printf(&sql, "%sr.%s", i ? ", " : "", log_cols[i]);
  /* One more than asked: whether there is a next page. */
  buf_printf(&sql,
             " FROM requests r" FILTER_SQL
             " AND (?6 = 0 OR r.id < ?6) ORDER BY r.id DESC LIMIT %d",
             limit + 1);
  if(sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "request log", err, errlen);
  buf_free(&sql);
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  if(!rc) {
    bind_filter(st, f);
    sqlite3_bind_int64(st, 6, before_id);
    while((step = sqlite3_step(st)) == SQLITE_ROW && n++ < limit) {
      cJSON *row = cJSON_CreateObject();
      for(int i = 0; i < (int)SB_ARRAY_LEN(log_cols); i++) {
        switch(sqlite3_column_type(st, i)) {
        case SQLITE_NULL: cJSON_AddNullToObject(row, log_cols[i]); break;
        case SQLITE_TEXT:
          cJSON_AddStringToObject(row, log_cols[i],
                                  (const char *)sqlite3_column_text(st, i));
          break;
        default:
          cJSON_AddNumberToObject(row, log_cols[i],
                                  sqlite3_column_double(st, i));
        }
      }
      last = sqlite3_column_int64(st, 0);
      cJSON_AddItemToArray(data, row);
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
