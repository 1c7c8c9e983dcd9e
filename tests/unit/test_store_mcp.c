/* store/mcp.h (sessions, tool-call records through the writer queue),
 * the mcp_servers named definitions and version counter, and the keys'
 * mcp_tools column (store/keys.h). */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/mcp.h"
#include "store/keys.h"
#include "store/store.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct store *open_store(const char *path)
{
  struct store *st = NULL;
  char err[256];

  if(store_open(path, NULL, &st, err, sizeof(err)))
    fail_msg("store_open: %s", err);
  return st;
}

static struct store_mcp_session *session(const char *id, const char *key,
                                         int64_t created, int64_t seen)
{
  struct store_mcp_session *s = sb_calloc(1, sizeof(*s));

  s->id = sb_strdup(id);
  s->key_id = key ? sb_strdup(key) : NULL;
  s->scope = sb_strdup("");
  s->protocol_version = sb_strdup("2025-11-25");
  s->client_info = sb_strdup("{\"name\":\"t\"}");
  s->capabilities = sb_strdup("{}");
  s->created_ms = created;
  s->last_seen_ms = seen;
  return s;
}

static void test_sessions(void **state)
{
  struct testdb *f = *state;
  struct store_mcp_session *rows = NULL, *bad;
  struct store *st = open_store(f->db);
  char err[256];
  int n = -1;

  assert_int_equal(store_mcp_session_put(st, session("a", "key_1", 10, 100)),
                   0);
  assert_int_equal(store_mcp_session_put(st, session("b", NULL, 20, 50)), 0);
  assert_int_equal(store_mcp_session_put(st, session("c", NULL, 30, 300)), 0);
  /* Touches move last_seen forward only. */
  assert_int_equal(store_mcp_session_touch(st, "b", 400), 0);
  assert_int_equal(store_mcp_session_touch(st, "c", 200), 0);
  assert_int_equal(store_mcp_session_touch(st, "nobody", 400), 0);
  /* Replaced as a whole (a log level set later). */
  {
    struct store_mcp_session *s = session("a", "key_1", 10, 150);
    s->log_level = sb_strdup("debug");
    s->scope[0] = '\0';
    free(s->scope);
    s->scope = sb_strdup("files");
    assert_int_equal(store_mcp_session_put(st, s), 0);
  }
  assert_int_equal(store_mcp_session_put(st, session("d", NULL, 1, 1)), 0);
  assert_int_equal(store_mcp_session_delete(st, "d"), 0);
  /* Refused at once: a missing NOT NULL field. */
  bad = session("e", NULL, 1, 1);
  free(bad->id);
  bad->id = NULL;
  assert_int_equal(store_mcp_session_put(st, bad), SB_EINVAL);
  assert_int_equal(store_mcp_session_put(st, NULL), SB_EINVAL);
  assert_int_equal(store_mcp_session_touch(st, NULL, 1), SB_EINVAL);
  store_close(st); /* writes everything queued */

  assert_int_equal(
      store_mcp_sessions_load(f->db, 0, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 3);
  /* Oldest first by last use: a(150), c(300), b(400). */
  assert_string_equal(rows[0].id, "a");
  assert_string_equal(rows[0].key_id, "key_1");
  assert_string_equal(rows[0].scope, "files");
  assert_string_equal(rows[0].log_level, "debug");
  assert_string_equal(rows[0].protocol_version, "2025-11-25");
  assert_string_equal(rows[0].client_info, "{\"name\":\"t\"}");
  assert_int_equal(rows[0].created_ms, 10);
  assert_int_equal(rows[0].last_seen_ms, 150);
  assert_string_equal(rows[1].id, "c");
  assert_int_equal(rows[1].last_seen_ms, 300);
  assert_string_equal(rows[2].id, "b");
  assert_null(rows[2].key_id);
  assert_null(rows[2].log_level);
  assert_int_equal(rows[2].last_seen_ms, 400);
  store_mcp_sessions_free(rows, n);

  /* Expiry: what was last seen before the cut goes, for good. */
  assert_int_equal(
      store_mcp_sessions_load(f->db, 300, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].id, "c");
  assert_string_equal(rows[1].id, "b");
  store_mcp_sessions_free(rows, n);
  assert_int_equal(
      store_mcp_sessions_load(f->db, 0, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  store_mcp_sessions_free(rows, n);

  /* A missing database is an error with a reason. */
  assert_int_equal(store_mcp_sessions_load("/nonexistent/x.db", 0, &rows, &n,
                                           err, sizeof(err)),
                   SB_EDB);
  assert_null(rows);
  assert_true(strlen(err) > 0);
  store_mcp_sessions_free(NULL, 0);
  store_mcp_session_free(NULL);
}

static struct store_mcp_call *call(int64_t ts, const char *key,
                                   const char *server, const char *tool,
                                   const char *outcome)
{
  struct store_mcp_call *c = sb_calloc(1, sizeof(*c));

  c->ts_ms = ts;
  c->request_id = sb_asprintf("req-%lld", (long long)ts);
  c->session_id = sb_strdup("s1");
  c->key_id = key ? sb_strdup(key) : NULL;
  c->server = sb_strdup(server);
  c->tool = sb_strdup(tool);
  c->outcome = outcome;
  c->duration_ms = 7;
  c->request_bytes = 11;
  c->response_bytes = 13;
  return c;
}

static void test_calls(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_mcp_call_filter flt;
  struct store_mcp_call *rows = NULL, *c;
  struct store_key spec, *k = NULL;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  int n = -1;

  memset(&spec, 0, sizeof(spec));
  spec.name = "alice";
  spec.budget_usd = -1;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, &k, err, sizeof(err)), 0);

  assert_int_equal(
      store_mcp_call_submit(st, call(1000, k->id, "files", "read", "ok")), 0);
  c = call(2000, k->id, "files", "write", STORE_MCP_TOOL_ERROR);
  c->error = sb_strdup("disk full");
  assert_int_equal(store_mcp_call_submit(st, c), 0);
  assert_int_equal(
      store_mcp_call_submit(st, call(3000, NULL, "web", "fetch", "denied")), 0);
  assert_int_equal(store_mcp_call_submit(
                       st, call(4000, "key_x", "gateway", "chat", "timeout")),
                   0);
  c = call(5000, NULL, "web", "fetch", "ok");
  free(c->server);
  c->server = NULL;
  assert_int_equal(store_mcp_call_submit(st, c), SB_EINVAL);
  assert_int_equal(store_mcp_call_submit(st, NULL), SB_EINVAL);
  store_close(st);

  memset(&flt, 0, sizeof(flt));
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 4);
  /* Newest first. */
  assert_int_equal(rows[0].ts_ms, 4000);
  assert_string_equal(rows[0].outcome, STORE_MCP_TIMEOUT);
  assert_int_equal(rows[2].ts_ms, 2000);
  assert_string_equal(rows[2].error, "disk full");
  assert_string_equal(rows[2].request_id, "req-2000");
  assert_string_equal(rows[2].session_id, "s1");
  assert_int_equal(rows[2].duration_ms, 7);
  assert_int_equal(rows[2].request_bytes, 11);
  assert_int_equal(rows[2].response_bytes, 13);
  assert_null(rows[1].key_id);
  store_mcp_calls_free(rows, n);

  /* By key id, and by key name. */
  flt.key_id = k->id;
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  store_mcp_calls_free(rows, n);
  flt.key_id = "alice";
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  store_mcp_calls_free(rows, n);

  /* Server, tool, time window, limit. */
  memset(&flt, 0, sizeof(flt));
  flt.server = "files";
  flt.tool = "write";
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].tool, "write");
  store_mcp_calls_free(rows, n);
  memset(&flt, 0, sizeof(flt));
  flt.since_ms = 2000;
  flt.until_ms = 4000;
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rows[0].ts_ms, 3000);
  assert_int_equal(rows[1].ts_ms, 2000);
  store_mcp_calls_free(rows, n);
  memset(&flt, 0, sizeof(flt));
  flt.limit = 1;
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  store_mcp_calls_free(rows, n);
  flt.server = "nothing";
  assert_int_equal(
      store_mcp_calls_list(f->db, &flt, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  assert_null(rows);
  store_key_free(k);
}

/* Statistics by tool: counts by outcome, nearest-rank percentiles over
 * the calls that reached the server, the range [since, until). */
static void test_stats(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_mcp_tool_stat *s = NULL;
  char err[256];
  int n = -1;

  /* a/t: durations 1..10 (ok), one tool_error at 100 ms, two denied. */
  for(int i = 1; i <= 10; i++) {
    struct store_mcp_call *c = call(1000 + i, NULL, "a", "t", STORE_MCP_OK);
    c->duration_ms = i;
    assert_int_equal(store_mcp_call_submit(st, c), 0);
  }
  {
    struct store_mcp_call *c = call(1100, NULL, "a", "t", STORE_MCP_TOOL_ERROR);
    c->duration_ms = 100;
    assert_int_equal(store_mcp_call_submit(st, c), 0);
  }
  for(int i = 0; i < 2; i++) {
    struct store_mcp_call *c = call(1200, NULL, "a", "t", STORE_MCP_DENIED);
    c->duration_ms = 0;
    assert_int_equal(store_mcp_call_submit(st, c), 0);
  }
  assert_int_equal(
      store_mcp_call_submit(st, call(900, NULL, "a", "u", STORE_MCP_LIMITED)),
      0);
  assert_int_equal(store_mcp_call_submit(st, call(5000, NULL, "b", "t", "ok")),
                   0);
  store_close(st);

  assert_int_equal(store_mcp_stats(f->db, 0, 5000, &s, &n, err, sizeof(err)),
                   0);
  assert_int_equal(n, 2); /* b/t is at until: out */
  assert_string_equal(s[0].server, "a");
  assert_string_equal(s[0].tool, "t");
  assert_int_equal(s[0].calls, 13);
  assert_int_equal(s[0].errors, 3);
  assert_int_equal(s[0].outcomes[0], 10);
  assert_int_equal(s[0].outcomes[1], 1);
  assert_int_equal(s[0].outcomes[3], 2);
  /* 11 calls reached it: ranks 6 and 11 of 1..10, 100. */
  assert_int_equal(s[0].p50_ms, 6);
  assert_int_equal(s[0].p95_ms, 100);
  assert_int_equal(s[0].last_ts_ms, 1200);
  assert_string_equal(s[1].tool, "u");
  assert_int_equal(s[1].calls, 1);
  assert_int_equal(s[1].p50_ms, -1);
  assert_int_equal(s[1].p95_ms, -1);
  store_mcp_stats_free(s, n);

  assert_int_equal(store_mcp_stats(f->db, 1200, 6000, &s, &n, err, sizeof(err)),
                   0);
  assert_int_equal(n, 2);
  assert_int_equal(s[0].calls, 2);
  assert_int_equal(s[0].p50_ms, -1);
  assert_string_equal(s[1].server, "b");
  assert_int_equal(s[1].p50_ms, 7);
  store_mcp_stats_free(s, n);
  assert_int_equal(store_mcp_stats(f->db, 1, 2, &s, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  assert_null(s);
}

/* A full queue refuses, counts the drop, and frees what it refused. */
static void test_queue_full(void **state)
{
  struct testdb *f = *state;
  struct store_options o;
  struct store *st = NULL;
  char err[256];
  int refused = 0;

  store_options_default(&o);
  o.queue_max = 1;
  o.batch_max = 1;
  assert_int_equal(store_open(f->db, &o, &st, err, sizeof(err)), 0);
  for(int i = 0; i < 200; i++)
    if(store_mcp_call_submit(st, call(i, NULL, "s", "t", "ok")) == SB_EAGAIN)
      refused++;
  assert_int_equal(store_dropped(st), (uint64_t)refused);
  store_close(st);
}

static void test_definitions(void **state)
{
  struct testdb *f = *state;
  struct store_keys_watch *w = NULL;
  struct store_def *defs = NULL, seed[2];
  int64_t c0, p0, m0, c, p, m;
  char err[256], **kept = NULL;
  int n = 0;

  assert_int_equal(store_watch_versions(f->db, &w, &c0, &p0, &m0), 0);
  assert_int_equal(store_defs_set(f->db, STORE_MCP_SERVERS, "files",
                                  "{\"command\":\"x\"}", err, sizeof(err)),
                   0);
  assert_int_equal(store_watch_versions(f->db, &w, &c, &p, &m), 0);
  /* The providers' watcher's number moves, the keys' does not. */
  assert_int_equal(c, c0);
  assert_true(p > p0);
  assert_true(m > m0);
  assert_int_equal(p - m, p0 - m0);
  assert_int_equal(store_keys_version(f->db, &w, &c, &p), 0);
  assert_true(p > p0);

  assert_int_equal(
      store_defs_list(f->db, STORE_MCP_SERVERS, &defs, &n, err, sizeof(err)),
      0);
  assert_int_equal(n, 1);
  assert_string_equal(defs[0].name, "files");
  assert_string_equal(defs[0].definition, "{\"command\":\"x\"}");
  assert_int_equal(defs[0].source, STORE_SRC_API);
  store_defs_free(defs, n);
  /* Apart from the providers. */
  assert_int_equal(
      store_defs_list(f->db, STORE_PROVIDERS, &defs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);

  /* Seeding: the operator's row wins and is named. */
  seed[0].name = "files";
  seed[0].definition = "{\"command\":\"y\"}";
  seed[1].name = "web";
  seed[1].definition = "{\"url\":\"http://w\"}";
  assert_int_equal(store_defs_seed(f->db, STORE_MCP_SERVERS, seed, 2, &kept,
                                   err, sizeof(err)),
                   0);
  assert_non_null(kept);
  assert_string_equal(kept[0], "files");
  assert_null(kept[1]);
  free(kept[0]);
  free(kept);
  assert_int_equal(
      store_defs_list(f->db, STORE_MCP_SERVERS, &defs, &n, err, sizeof(err)),
      0);
  assert_int_equal(n, 2);
  assert_string_equal(defs[0].definition, "{\"command\":\"x\"}");
  assert_int_equal(defs[1].source, STORE_SRC_CONFIG);
  store_defs_free(defs, n);

  assert_int_equal(
      store_defs_delete(f->db, STORE_MCP_SERVERS, "files", err, sizeof(err)),
      0);
  assert_int_equal(
      store_defs_delete(f->db, STORE_MCP_SERVERS, "files", err, sizeof(err)),
      SB_ENOTFOUND);
  assert_int_equal(store_watch_versions(f->db, &w, &c, &p, &m), 0);
  assert_int_equal(p - m, p0 - m0);
  store_keys_version_close(w);
}

static void test_key_tools(void **state)
{
  struct testdb *f = *state;
  char *tools[] = {"files__*", "chat"};
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec, *k = NULL, *keys = NULL;
  cJSON *j, *t;
  int n = 0;

  memset(&spec, 0, sizeof(spec));
  spec.name = "any";
  spec.budget_usd = -1;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, &k, err, sizeof(err)), 0);
  j = store_key_json(k, 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "mcp_tools")));
  cJSON_Delete(j);
  store_key_free(k);

  spec.name = "none";
  spec.mcp_tools_set = 1;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, &k, err, sizeof(err)), 0);
  j = store_key_json(k, 0);
  t = cJSON_GetObjectItem(j, "mcp_tools");
  assert_true(cJSON_IsArray(t));
  assert_int_equal(cJSON_GetArraySize(t), 0);
  cJSON_Delete(j);
  store_key_free(k);

  spec.name = "some";
  spec.mcp_tools = tools;
  spec.nmcp_tools = 2;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, &k, err, sizeof(err)), 0);

  assert_int_equal(store_keys_list(f->db, &keys, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 3);
  assert_int_equal(keys[0].mcp_tools_set, 0);
  assert_int_equal(keys[1].mcp_tools_set, 1);
  assert_int_equal(keys[1].nmcp_tools, 0);
  assert_int_equal(keys[2].mcp_tools_set, 1);
  assert_int_equal(keys[2].nmcp_tools, 2);
  assert_string_equal(keys[2].mcp_tools[0], "files__*");
  j = store_key_json(&keys[2], 0);
  t = cJSON_GetObjectItem(j, "mcp_tools");
  assert_string_equal(cJSON_GetArrayItem(t, 1)->valuestring, "chat");
  cJSON_Delete(j);

  /* Update: back to any tool. */
  keys[2].mcp_tools_set = 0;
  assert_int_equal(store_keys_update(f->db, &keys[2], err, sizeof(err)), 0);
  store_keys_free(keys, n);
  assert_int_equal(store_keys_list(f->db, &keys, &n, err, sizeof(err)), 0);
  assert_int_equal(keys[2].mcp_tools_set, 0);
  assert_int_equal(keys[2].nmcp_tools, 0);
  store_keys_free(keys, n);
  store_key_free(k);

  /* Validation. */
  {
    char long_glob[STORE_KEY_MCP_TOOL_LEN + 2];
    char *bad[] = {"ok", ""}, *sp[] = {"a b"}, *lg[] = {long_glob};
    char *many[STORE_KEY_MCP_TOOLS_MAX + 1];

    memset(long_glob, 'a', sizeof(long_glob) - 1);
    long_glob[sizeof(long_glob) - 1] = '\0';
    spec.name = "bad";
    spec.mcp_tools = bad;
    spec.nmcp_tools = 2;
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), SB_EINVAL);
    assert_non_null(strstr(err, "mcp_tools: entry 2"));
    spec.mcp_tools = sp;
    spec.nmcp_tools = 1;
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), SB_EINVAL);
    assert_non_null(strstr(err, "space or control"));
    spec.mcp_tools = lg;
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), SB_EINVAL);
    for(int i = 0; i < STORE_KEY_MCP_TOOLS_MAX + 1; i++)
      many[i] = "x";
    spec.mcp_tools = many;
    spec.nmcp_tools = STORE_KEY_MCP_TOOLS_MAX + 1;
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), SB_EINVAL);
    assert_non_null(strstr(err, "at most 64"));
    spec.nmcp_tools = STORE_KEY_MCP_TOOLS_MAX;
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), 0);
    assert_int_equal(
        store_keys_create(f->db, &spec, secret, NULL, err, sizeof(err)), 0);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sessions, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_calls, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_stats, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_queue_full, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_definitions, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_key_tools, testdb_setup,
                                      testdb_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
