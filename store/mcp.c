/*
 * mcp.c - MCP sessions and tool-call records (store/mcp.h).
 *
 * Writes are items of the writer's queue (store.c): this file builds
 * them, and writes and frees them when the writer asks (store_mcp_write,
 * store_mcp_item_free, on the writer thread inside its batch). Reads
 * open a connection of their own (store/db.h), as keys.c does.
 */
#include "store/mcp.h"
#include "store/db.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* STORE_ITEM_MCP_SESSION_TOUCH's record. */
struct store_mcp_touch {
  char *id;
  int64_t now_ms;
};

void store_mcp_session_free(struct store_mcp_session *s)
{
  if(!s)
    return;
  free(s->id);
  free(s->key_id);
  free(s->scope);
  free(s->protocol_version);
  free(s->client_info);
  free(s->capabilities);
  free(s->log_level);
  free(s);
}

/* Free the members of the n sessions of an array, and the array. */
void store_mcp_sessions_free(struct store_mcp_session *s, int n)
{
  for(int i = 0; s && i < n; i++) {
    free(s[i].id);
    free(s[i].key_id);
    free(s[i].scope);
    free(s[i].protocol_version);
    free(s[i].client_info);
    free(s[i].capabilities);
    free(s[i].log_level);
  }
  free(s);
}

void store_mcp_call_free(struct store_mcp_call *c)
{
  if(!c)
    return;
  free(c->request_id);
  free(c->session_id);
  free(c->key_id);
  free(c->server);
  free(c->tool);
  free(c->error);
  free(c);
}

void store_mcp_calls_free(struct store_mcp_call *c, int n)
{
  for(int i = 0; c && i < n; i++) {
    free(c[i].request_id);
    free(c[i].session_id);
    free(c[i].key_id);
    free(c[i].server);
    free(c[i].tool);
    free(c[i].error);
  }
  free(c);
}

void store_mcp_item_free(enum store_item_kind kind, void *rec)
{
  switch(kind) {
  case STORE_ITEM_MCP_SESSION_PUT: store_mcp_session_free(rec); break;
  case STORE_ITEM_MCP_SESSION_TOUCH: {
    struct store_mcp_touch *t = rec;
    if(t)
      free(t->id);
    free(t);
    break;
  }
  case STORE_ITEM_MCP_CALL: store_mcp_call_free(rec); break;
  default: free(rec); break;
  }
}

/* ---- queued writes ---- */

int store_mcp_session_put(struct store *st, struct store_mcp_session *s)
{
  /* id and protocol_version are NOT NULL columns: one such record would
   * fail the whole batch it lands in. */
  if(!st || !s || !s->id || !s->protocol_version) {
    store_mcp_session_free(s);
    return SB_EINVAL;
  }
  return store_queue_submit(st, STORE_ITEM_MCP_SESSION_PUT, s);
}

int store_mcp_session_touch(struct store *st, const char *id, int64_t now_ms)
{
  struct store_mcp_touch *t;

  if(!st || !id)
    return SB_EINVAL;
  t = sb_malloc(sizeof(*t));
  t->id = sb_strdup(id);
  t->now_ms = now_ms;
  return store_queue_submit(st, STORE_ITEM_MCP_SESSION_TOUCH, t);
}

int store_mcp_session_delete(struct store *st, const char *id)
{
  if(!st || !id)
    return SB_EINVAL;
  return store_queue_submit(st, STORE_ITEM_MCP_SESSION_DELETE, sb_strdup(id));
}

int store_mcp_call_submit(struct store *st, struct store_mcp_call *c)
{
  if(!st || !c || !c->server || !c->tool || !c->outcome) {
    store_mcp_call_free(c);
    return SB_EINVAL;
  }
  return store_queue_submit(st, STORE_ITEM_MCP_CALL, c);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
  /* The record outlives the step. */
  if(s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static int step_done(sqlite3_stmt *st)
{
  int rc = sqlite3_step(st);

  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_mcp_write(sqlite3 *db, enum store_item_kind kind, const void *rec)
{
  sqlite3_stmt *st = NULL;
  const char *sql;
  int rc;

  switch(kind) {
  case STORE_ITEM_MCP_SESSION_PUT:
    sql = "INSERT OR REPLACE INTO mcp_sessions(id, key_id, scope,"
          " protocol_version, client_info, capabilities, log_level,"
          " created_ms, last_seen_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
          " ?9)";
    break;
  case STORE_ITEM_MCP_SESSION_TOUCH:
    /* Never backwards: touches of two workers may land out of order. */
    sql = "UPDATE mcp_sessions SET last_seen_ms = max(last_seen_ms, ?2)"
          " WHERE id = ?1";
    break;
  case STORE_ITEM_MCP_SESSION_DELETE:
    sql = "DELETE FROM mcp_sessions WHERE id = ?1";
    break;
  case STORE_ITEM_MCP_CALL:
    sql = "INSERT INTO mcp_calls(ts_ms, request_id, session_id, key_id,"
          " server, tool, outcome, error, duration_ms, request_bytes,"
          " response_bytes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
          " ?11)";
    break;
  default: return SQLITE_MISUSE;
  }
  rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if(rc != SQLITE_OK)
    return rc;
  if(kind == STORE_ITEM_MCP_SESSION_PUT) {
    const struct store_mcp_session *s = rec;
    bind_text(st, 1, s->id);
    bind_text(st, 2, s->key_id);
    bind_text(st, 3, s->scope ? s->scope : "");
    bind_text(st, 4, s->protocol_version);
    bind_text(st, 5, s->client_info);
    bind_text(st, 6, s->capabilities);
    bind_text(st, 7, s->log_level);
    sqlite3_bind_int64(st, 8, s->created_ms);
    sqlite3_bind_int64(st, 9, s->last_seen_ms);
  } else if(kind == STORE_ITEM_MCP_SESSION_TOUCH) {
    const struct store_mcp_touch *t = rec;
    bind_text(st, 1, t->id);
    sqlite3_bind_int64(st, 2, t->now_ms);
  } else if(kind == STORE_ITEM_MCP_SESSION_DELETE) {
    bind_text(st, 1, rec);
  } else {
    const struct store_mcp_call *c = rec;
    sqlite3_bind_int64(st, 1, c->ts_ms);
    bind_text(st, 2, c->request_id);
    bind_text(st, 3, c->session_id);
    bind_text(st, 4, c->key_id);
    bind_text(st, 5, c->server);
    bind_text(st, 6, c->tool);
    bind_text(st, 7, c->outcome);
    bind_text(st, 8, c->error);
    sqlite3_bind_int64(st, 9, c->duration_ms);
    sqlite3_bind_int64(st, 10, c->request_bytes);
    sqlite3_bind_int64(st, 11, c->response_bytes);
  }
  return step_done(st);
}

/* ---- blocking reads ---- */

static char *column_dup(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);

  return t ? sb_strdup((const char *)t) : NULL;
}

int store_mcp_sessions_load(const char *path, int64_t min_last_seen_ms,
                            struct store_mcp_session **out, int *n, char *err,
                            size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc, cap = 0, step = SQLITE_DONE;

  *out = NULL;
  *n = 0;
  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    return rc;
  if(sqlite3_prepare_v2(db, "DELETE FROM mcp_sessions WHERE last_seen_ms < ?1",
                        -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "prepare", err, errlen);
  else {
    sqlite3_bind_int64(st, 1, min_last_seen_ms);
    if(step_done(st) != SQLITE_OK)
      rc = store_db_fail(db, "DELETE mcp_sessions", err, errlen);
  }
  st = NULL;
  if(!rc && sqlite3_prepare_v2(db,
                               "SELECT id, key_id, scope, protocol_version,"
                               " client_info, capabilities, log_level,"
                               " created_ms, last_seen_ms FROM mcp_sessions"
                               " ORDER BY last_seen_ms, id",
                               -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "prepare", err, errlen);
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_mcp_session *s;

    if(*n == cap) {
      cap = cap ? cap * 2 : 64;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    s = &(*out)[(*n)++];
    s->id = column_dup(st, 0);
    s->key_id = column_dup(st, 1);
    s->scope = column_dup(st, 2);
    s->protocol_version = column_dup(st, 3);
    s->client_info = column_dup(st, 4);
    s->capabilities = column_dup(st, 5);
    s->log_level = column_dup(st, 6);
    s->created_ms = sqlite3_column_int64(st, 7);
    s->last_seen_ms = sqlite3_column_int64(st, 8);
    if(!s->scope)
      s->scope = sb_strdup("");
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT mcp_sessions", err, errlen);
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_mcp_sessions_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* A key may be named by id or by name, as in store/usage.c. */
#define CALLS_SQL                                                              \
  "SELECT ts_ms, request_id, session_id, key_id, server, tool, outcome,"       \
  " error, duration_ms, request_bytes, response_bytes FROM mcp_calls"          \
  " WHERE (?1 IS NULL OR key_id = ?1 OR key_id ="                              \
  " (SELECT id FROM api_keys WHERE name = ?1))"                                \
  " AND (?2 IS NULL OR server = ?2) AND (?3 IS NULL OR tool = ?3)"             \
  " AND ts_ms >= ?4 AND (?5 <= 0 OR ts_ms < ?5)"                               \
  " ORDER BY ts_ms DESC, id DESC LIMIT ?6"

const char *const store_mcp_outcomes[STORE_MCP_NOUTCOMES] = {
    STORE_MCP_OK,     STORE_MCP_TOOL_ERROR, STORE_MCP_ERROR,
    STORE_MCP_DENIED, STORE_MCP_CANCELLED,  STORE_MCP_TIMEOUT,
    STORE_MCP_LIMITED};

/* The outcome's index in store_mcp_outcomes; an unknown stored value
 * reads as "error". */
static int outcome_index(const unsigned char *s)
{
  for(int i = 0; s && i < STORE_MCP_NOUTCOMES; i++)
    if(!strcmp((const char *)s, store_mcp_outcomes[i]))
      return i;
  return 2;
}

/* The outcome's constant, so that the record's outcome need not be
 * freed. */
static const char *outcome_of(const unsigned char *s)
{
  return store_mcp_outcomes[outcome_index(s)];
}

int store_mcp_calls_list(const char *path,
                         const struct store_mcp_call_filter *f,
                         struct store_mcp_call **out, int *n, char *err,
                         size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc, cap = 0, step = SQLITE_DONE;
  int limit = f->limit > 0 ? f->limit : 100;

  *out = NULL;
  *n = 0;
  if(limit > 10000)
    limit = 10000;
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  if(sqlite3_prepare_v2(db, CALLS_SQL, -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "prepare", err, errlen);
  if(!rc) {
    bind_text(st, 1, f->key_id);
    bind_text(st, 2, f->server);
    bind_text(st, 3, f->tool);
    sqlite3_bind_int64(st, 4, f->since_ms);
    sqlite3_bind_int64(st, 5, f->until_ms);
    sqlite3_bind_int(st, 6, limit);
  }
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_mcp_call *c;

    if(*n == cap) {
      cap = cap ? cap * 2 : 64;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    c = &(*out)[(*n)++];
    c->ts_ms = sqlite3_column_int64(st, 0);
    c->request_id = column_dup(st, 1);
    c->session_id = column_dup(st, 2);
    c->key_id = column_dup(st, 3);
    c->server = column_dup(st, 4);
    c->tool = column_dup(st, 5);
    c->outcome = outcome_of(sqlite3_column_text(st, 6));
    c->error = column_dup(st, 7);
    c->duration_ms = sqlite3_column_int64(st, 8);
    c->request_bytes = sqlite3_column_int64(st, 9);
    c->response_bytes = sqlite3_column_int64(st, 10);
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT mcp_calls", err, errlen);
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_mcp_calls_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- stats by tool ---- */

/* Counts by (server, tool, outcome); one group is consecutive rows. */
#define STATS_COUNT_SQL                                                        \
  "SELECT server, tool, outcome, count(*), max(ts_ms) FROM mcp_calls"          \
  " WHERE ts_ms >= ?1 AND ts_ms < ?2"                                          \
  " GROUP BY server, tool, outcome ORDER BY server, tool"

/* The durations at the nearest ranks ceil(n/2) and ceil(0.95 n) of each
 * tool's calls that reached its server, sorted within the tool. */
#define STATS_PCT_SQL                                                          \
  "SELECT server, tool, n, rn, duration_ms FROM (SELECT server, tool,"         \
  " duration_ms, row_number() OVER (PARTITION BY server, tool"                 \
  " ORDER BY duration_ms) AS rn, count(*) OVER (PARTITION BY server, tool)"    \
  " AS n FROM mcp_calls WHERE ts_ms >= ?1 AND ts_ms < ?2"                      \
  " AND outcome NOT IN ('denied', 'rate_limited'))"                            \
  " WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 95 + 99) / 100"                \
  " ORDER BY server, tool, rn"

static int same_tool(const struct store_mcp_tool_stat *t, sqlite3_stmt *st)
{
  const unsigned char *sv = sqlite3_column_text(st, 0);
  const unsigned char *tl = sqlite3_column_text(st, 1);

  return sv && tl && !strcmp(t->server, (const char *)sv) &&
         !strcmp(t->tool, (const char *)tl);
}

static int stats_counts(sqlite3 *db, int64_t since_ms, int64_t until_ms,
                        struct store_mcp_tool_stat **out, int *n, char *err,
                        size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int cap = 0, step;

  if(sqlite3_prepare_v2(db, STATS_COUNT_SQL, -1, &st, NULL) != SQLITE_OK)
    return store_db_fail(db, "prepare", err, errlen);
  sqlite3_bind_int64(st, 1, since_ms);
  sqlite3_bind_int64(st, 2, until_ms);
  while((step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_mcp_tool_stat *t = *n ? &(*out)[*n - 1] : NULL;
    int64_t c = sqlite3_column_int64(st, 3), last = sqlite3_column_int64(st, 4);
    int oi = outcome_index(sqlite3_column_text(st, 2));

    if(!t || !same_tool(t, st)) {
      if(*n == STORE_MCP_STATS_MAX)
        break;
      if(*n == cap) {
        cap = cap ? cap * 2 : 16;
        *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
      }
      t = &(*out)[(*n)++];
      memset(t, 0, sizeof(*t));
      t->server = column_dup(st, 0);
      t->tool = column_dup(st, 1);
      if(!t->server)
        t->server = sb_strdup("");
      if(!t->tool)
        t->tool = sb_strdup("");
      t->p50_ms = t->p95_ms = -1;
    }
    t->calls += c;
    t->outcomes[oi] += c;
    if(oi != 0)
      t->errors += c;
    if(last > t->last_ts_ms)
      t->last_ts_ms = last;
  }
  if(step != SQLITE_DONE && step != SQLITE_ROW) {
    sqlite3_finalize(st);
    return store_db_fail(db, "SELECT mcp_calls", err, errlen);
  }
  sqlite3_finalize(st);
  return 0;
}

static int stats_percentiles(sqlite3 *db, int64_t since_ms, int64_t until_ms,
                             struct store_mcp_tool_stat *t, int n, char *err,
                             size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int i = 0, step;

  if(sqlite3_prepare_v2(db, STATS_PCT_SQL, -1, &st, NULL) != SQLITE_OK)
    return store_db_fail(db, "prepare", err, errlen);
  sqlite3_bind_int64(st, 1, since_ms);
  sqlite3_bind_int64(st, 2, until_ms);
  while((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t cnt = sqlite3_column_int64(st, 2), rn = sqlite3_column_int64(st, 3);
    int64_t d = sqlite3_column_int64(st, 4);

    /* Both queries are ordered by (server, tool) alike: walk forward. */
    while(i < n && !same_tool(&t[i], st))
      i++;
    if(i == n)
      break;
    if(rn == (cnt * 50 + 99) / 100)
      t[i].p50_ms = d;
    if(rn == (cnt * 95 + 99) / 100)
      t[i].p95_ms = d;
  }
  if(step != SQLITE_DONE && step != SQLITE_ROW) {
    sqlite3_finalize(st);
    return store_db_fail(db, "SELECT mcp_calls", err, errlen);
  }
  sqlite3_finalize(st);
  return 0;
}

int store_mcp_stats(const char *path, int64_t since_ms, int64_t until_ms,
                    struct store_mcp_tool_stat **out, int *n, char *err,
                    size_t errlen)
{
  sqlite3 *db;
  int rc;

  *out = NULL;
  *n = 0;
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  /* One read transaction: the percentiles see the rows counted. */
  rc = stats_counts(db, since_ms, until_ms, out, n, err, errlen);
  if(!rc)
    rc = stats_percentiles(db, since_ms, until_ms, *out, *n, err, errlen);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_mcp_stats_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void store_mcp_stats_free(struct store_mcp_tool_stat *s, int n)
{
  for(int i = 0; i < n; i++) {
    free(s[i].server);
    free(s[i].tool);
  }
  free(s);
}

/* ---- JSON ---- */

static void add_str_or_null(cJSON *o, const char *name, const char *v)
{
  if(v)
    cJSON_AddStringToObject(o, name, v);
  else
    cJSON_AddNullToObject(o, name);
}

cJSON *store_mcp_call_json(const struct store_mcp_call *c)
{
  cJSON *e = cJSON_CreateObject();

  cJSON_AddNumberToObject(e, "ts_ms", (double)c->ts_ms);
  add_str_or_null(e, "request_id", c->request_id);
  add_str_or_null(e, "session_id", c->session_id);
  add_str_or_null(e, "key_id", c->key_id);
  cJSON_AddStringToObject(e, "server", c->server ? c->server : "");
  cJSON_AddStringToObject(e, "tool", c->tool ? c->tool : "");
  cJSON_AddStringToObject(e, "outcome", c->outcome);
  add_str_or_null(e, "error", c->error);
  cJSON_AddNumberToObject(e, "duration_ms", (double)c->duration_ms);
  cJSON_AddNumberToObject(e, "request_bytes", (double)c->request_bytes);
  cJSON_AddNumberToObject(e, "response_bytes", (double)c->response_bytes);
  return e;
}
