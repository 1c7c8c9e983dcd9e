/*
 * test_keys.c - store/keys.c against real SQLite files in a temporary
 * directory (migrated with store_migrate first, as the CLI and the
 * gateway do), and the CLI's --expires parser.
 */
#include "tests/unit/support/testdb.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/cli.h"
#include "base/sb.h"
#include "store/keys.h"
#include <cjson/cJSON.h>
#include "store/store.h"

#include <dirent.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static int64_t file_int(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t v;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  return v;
}

static void file_exec(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *msg = NULL;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  if(sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
    fail_msg("%s: %s", sql, msg ? msg : "?");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void spec_init(struct store_key *k, const char *name)
{
  memset(k, 0, sizeof(*k));
  k->name = (char *)name;
  k->role = STORE_KEY_GATEWAY;
  k->budget_usd = -1;
}

static struct store_key *create_ok(const char *db, const struct store_key *spec,
                                   char secret[STORE_KEY_SECRET_MAX])
{
  struct store_key *k = NULL;
  char err[256];
  int rc = store_keys_create(db, spec, secret, &k, err, sizeof(err));

  if(rc)
    fail_msg("store_keys_create: %d %s", rc, err);
  assert_non_null(k);
  return k;
}

static struct store_key *list_ok(const char *db, int *n)
{
  struct store_key *keys = NULL;
  char err[256];
  int rc = store_keys_list(db, &keys, n, err, sizeof(err));

  if(rc)
    fail_msg("store_keys_list: %d %s", rc, err);
  return keys;
}

static int64_t version_of(const char *db)
{
  struct store_keys_watch *w = NULL;
  int64_t v = -1;

  assert_int_equal(store_keys_version(db, &w, &v, NULL), SB_OK);
  store_keys_version_close(w);
  return v;
}

static int is_hex(const char *s, size_t n)
{
  if(strlen(s) != n)
    return 0;
  for(; *s; s++)
    if(!strchr("0123456789abcdef", *s))
      return 0;
  return 1;
}

/* Whether path, or its WAL, holds the bytes of s. */
static int file_contains(const char *path, const char *s)
{
  const char *suffix[] = {"", "-wal"};
  int found = 0;

  for(size_t i = 0; i < SB_ARRAY_LEN(suffix); i++) {
    char name[400];
    FILE *fp;
    char *buf;
    long n;

    snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
    fp = fopen(name, "rb");
    if(!fp)
      continue;
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    rewind(fp);
    buf = sb_malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    if(memmem(buf, (size_t)n, s, strlen(s)))
      found = 1;
    free(buf);
  }
  return found;
}

static int64_t now_s(void)
{
  return sb_now_ms() / 1000;
}

/* ---- tests ---- */

static void test_create_then_list(void **state)
{
  struct testdb *f = *state;
  char *models[] = {"openai/gpt-4o*", "echo/*"};
  char *tags[] = {"team-a"};
  unsigned char want[SHA256_DIGEST_LENGTH];
  char secret[STORE_KEY_SECRET_MAX];
  struct store_key spec, *k, *keys;
  int64_t t0 = now_s(), t1;
  int n = -1;

  spec_init(&spec, "alice");
  spec.models = models;
  spec.nmodels = 2;
  spec.tags = tags;
  spec.ntags = 1;
  spec.rpm = 60;
  spec.tpm = 10000;
  spec.max_parallel = 4;
  spec.budget_usd = 12.5;
  spec.budget_period = STORE_PERIOD_WEEKLY;
  spec.expires_at = 1893542400;
  spec.context_summary_model = "openai/gpt-4o-mini";
  k = create_ok(f->db, &spec, secret);
  t1 = now_s();

  /* The secret: kind prefix and 64 lower-case hex digits. */
  assert_int_equal(strncmp(secret, "sk-sb-", 6), 0);
  assert_true(is_hex(secret + 6, 64));
  assert_true(strlen(k->id) == 20 && !strncmp(k->id, "key_", 4) &&
              is_hex(k->id + 4, 16));
  assert_int_equal(strlen(k->prefix), 12);
  assert_int_equal(strncmp(k->prefix, secret, 12), 0);
  SHA256((const unsigned char *)secret, strlen(secret), want);
  assert_memory_equal(k->hash, want, sizeof(want));
  assert_in_range(k->created_at, t0, t1);
  assert_int_equal(k->revoked_at, 0);

  keys = list_ok(f->db, &n);
  assert_int_equal(n, 1);
  assert_string_equal(keys[0].id, k->id);
  assert_string_equal(keys[0].name, "alice");
  assert_string_equal(keys[0].prefix, k->prefix);
  assert_memory_equal(keys[0].hash, want, sizeof(want));
  assert_int_equal(keys[0].role, STORE_KEY_GATEWAY);
  assert_int_equal(keys[0].nmodels, 2);
  assert_string_equal(keys[0].models[0], "openai/gpt-4o*");
  assert_string_equal(keys[0].models[1], "echo/*");
  assert_int_equal(keys[0].ntags, 1);
  assert_string_equal(keys[0].tags[0], "team-a");
  assert_int_equal(keys[0].rpm, 60);
  assert_int_equal(keys[0].tpm, 10000);
  assert_int_equal(keys[0].max_parallel, 4);
  assert_true(keys[0].budget_usd == 12.5);
  assert_int_equal(keys[0].budget_period, STORE_PERIOD_WEEKLY);
  assert_int_equal(keys[0].expires_at, 1893542400);
  assert_string_equal(keys[0].context_summary_model, "openai/gpt-4o-mini");
  assert_int_equal(keys[0].created_at, k->created_at);
  assert_int_equal(keys[0].revoked_at, 0);
  store_keys_free(keys, n);
  store_key_free(k);

  /* Neither the secret nor its random part past the prefix is anywhere
   * in the database files. */
  assert_false(file_contains(f->db, secret + 12));
}

static void test_defaults_stored_as_null(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX];
  struct store_key spec, *keys;
  int n;

  spec_init(&spec, "plain");
  store_key_free(create_ok(f->db, &spec, secret));
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM api_keys WHERE"
                                   " models IS NULL AND tags IS NULL AND"
                                   " budget_usd IS NULL AND budget_period IS"
                                   " NULL AND expires_at IS NULL AND"
                                   " revoked_at IS NULL AND rpm = 0 AND"
                                   " tpm = 0 AND max_parallel = 0 AND"
                                   " role = 'gateway'"),
                   1);
  keys = list_ok(f->db, &n);
  assert_int_equal(n, 1);
  assert_null(keys[0].models);
  assert_int_equal(keys[0].nmodels, 0);
  assert_null(keys[0].tags);
  assert_true(keys[0].budget_usd < 0);
  assert_int_equal(keys[0].budget_period, STORE_PERIOD_NONE);
  assert_int_equal(keys[0].expires_at, 0);
  assert_null(keys[0].context_summary_model);
  store_keys_free(keys, n);
}

static void test_secrets_unique(void **state)
{
  struct testdb *f = *state;
  enum { N = 40 };
  char secrets[N][STORE_KEY_SECRET_MAX], name[32];
  struct store_key spec, *keys;
  int n;

  for(int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "k%d", i);
    spec_init(&spec, name);
    store_key_free(create_ok(f->db, &spec, secrets[i]));
    assert_true(is_hex(secrets[i] + 6, 64));
    for(int j = 0; j < i; j++)
      assert_string_not_equal(secrets[i], secrets[j]);
  }
  keys = list_ok(f->db, &n);
  assert_int_equal(n, N);
  for(int i = 0; i < N; i++) {
    /* Oldest first. */
    snprintf(name, sizeof(name), "k%d", i);
    assert_string_equal(keys[i].name, name);
    for(int j = 0; j < i; j++) {
      assert_string_not_equal(keys[i].id, keys[j].id);
      assert_memory_not_equal(keys[i].hash, keys[j].hash, STORE_KEY_HASH_LEN);
    }
  }
  store_keys_free(keys, n);
}

static void test_admin_key(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX];
  unsigned char h[STORE_KEY_HASH_LEN];
  struct store_key spec, *k, *keys;
  int n;

  spec_init(&spec, "admin");
  spec.role = STORE_KEY_ADMIN;
  k = create_ok(f->db, &spec, secret);
  assert_int_equal(strncmp(secret, "sk-sb-admin-", 12), 0);
  assert_true(is_hex(secret + 12, 64));
  /* The prefix shows some of the random part, not just the kind. */
  assert_int_equal(strlen(k->prefix), 18);
  assert_int_equal(strncmp(k->prefix, secret, 18), 0);
  store_key_hash(secret, h);
  assert_memory_equal(k->hash, h, sizeof(h));
  store_key_free(k);

  keys = list_ok(f->db, &n);
  assert_int_equal(n, 1);
  assert_int_equal(keys[0].role, STORE_KEY_ADMIN);
  store_keys_free(keys, n);
  assert_int_equal(
      file_int(f->db, "SELECT count(*) FROM api_keys WHERE role = 'admin'"), 1);
}

/* A viewer key: its own secret prefix, stored and listed with its role. */
static void test_viewer_key(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX];
  struct store_key spec, *k, *keys;
  cJSON *j;
  int n;

  spec_init(&spec, "watcher");
  spec.role = STORE_KEY_VIEWER;
  k = create_ok(f->db, &spec, secret);
  assert_int_equal(strncmp(secret, "sk-sb-viewer-", 13), 0);
  assert_true(is_hex(secret + 13, 64));
  assert_int_equal(strlen(k->prefix), 19);
  assert_int_equal(strncmp(k->prefix, secret, 19), 0);
  j = store_key_json(k, 0);
  assert_string_equal(cJSON_GetObjectItem(j, "role")->valuestring, "viewer");
  cJSON_Delete(j);
  store_key_free(k);

  keys = list_ok(f->db, &n);
  assert_int_equal(n, 1);
  assert_int_equal(keys[0].role, STORE_KEY_VIEWER);
  store_keys_free(keys, n);
  assert_int_equal(
      file_int(f->db, "SELECT count(*) FROM api_keys WHERE role = 'viewer'"),
      1);
}

static void test_role_names(void **state)
{
  (void)state;
  assert_string_equal(store_key_role_name(STORE_KEY_GATEWAY), "gateway");
  assert_string_equal(store_key_role_name(STORE_KEY_ADMIN), "admin");
  assert_string_equal(store_key_role_name(STORE_KEY_VIEWER), "viewer");
  assert_int_equal(store_key_role_parse("gateway"), STORE_KEY_GATEWAY);
  assert_int_equal(store_key_role_parse("admin"), STORE_KEY_ADMIN);
  assert_int_equal(store_key_role_parse("viewer"), STORE_KEY_VIEWER);
  /* Exact names only: no case folding, no prefixes, no padding. */
  assert_int_equal(store_key_role_parse("Viewer"), -1);
  assert_int_equal(store_key_role_parse("view"), -1);
  assert_int_equal(store_key_role_parse("viewer "), -1);
  assert_int_equal(store_key_role_parse(""), -1);
  assert_int_equal(store_key_role_parse(NULL), -1);
}

static void test_duplicate_name_refused(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec, *k = (struct store_key *)&spec, *keys;
  int64_t v;
  int n;

  spec_init(&spec, "dup");
  store_key_free(create_ok(f->db, &spec, secret));
  v = version_of(f->db);
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, &k, err, sizeof(err)), SB_EINVAL);
  assert_null(k);
  assert_string_equal(secret, "");
  assert_non_null(strstr(err, "a key named 'dup' already exists"));
  keys = list_ok(f->db, &n);
  store_keys_free(keys, n);
  assert_int_equal(n, 1);
  assert_int_equal(version_of(f->db), v);

  /* The admin role does not get a separate namespace. */
  spec.role = STORE_KEY_ADMIN;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, NULL, err, sizeof(err)),
      SB_EINVAL);
}

static void test_invalid_specs(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX], err[256], long_name[80];
  char *empty[] = {"ok", ""};
  struct store_key spec, *keys;
  int n;

  memset(long_name, 'x', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';

#define REFUSED(field)                                                         \
  do {                                                                         \
    assert_int_equal(                                                          \
        store_keys_create(f->db, &spec, secret, NULL, err, sizeof(err)),       \
        SB_EINVAL);                                                            \
    assert_int_equal(strncmp(err, field ":", strlen(field ":")), 0);           \
    assert_int_equal(store_key_validate(&spec, err, sizeof(err)), SB_EINVAL);  \
  } while(0)

  spec_init(&spec, "");
  REFUSED("name");
  spec_init(&spec, long_name);
  REFUSED("name");
  spec_init(&spec, "tab\there");
  REFUSED("name");
  spec_init(&spec, "key_0123456789abcdef");
  REFUSED("name");
  spec_init(&spec, "m");
  spec.models = empty;
  spec.nmodels = 2;
  REFUSED("models");
  spec_init(&spec, "t");
  spec.tags = empty;
  spec.ntags = 2;
  REFUSED("tags");
  spec_init(&spec, "r");
  spec.rpm = -1;
  REFUSED("rpm");
  spec_init(&spec, "t");
  spec.tpm = -1;
  REFUSED("tpm");
  spec_init(&spec, "p");
  spec.max_parallel = -1;
  REFUSED("max_parallel");
  spec_init(&spec, "b");
  spec.budget_usd = 5;
  REFUSED("budget_period");
  spec_init(&spec, "b");
  spec.budget_period = STORE_PERIOD_DAILY;
  REFUSED("budget_period");
  spec_init(&spec, "e");
  spec.expires_at = -5;
  REFUSED("expires_at");
#undef REFUSED

  keys = list_ok(f->db, &n);
  store_keys_free(keys, n);
  assert_int_equal(n, 0);
  assert_int_equal(version_of(f->db), 0);

  /* Names that are fine: 64 bytes, UTF-8, spaces, almost an id. */
  long_name[STORE_KEY_NAME_MAX] = '\0';
  spec_init(&spec, long_name);
  assert_int_equal(store_key_validate(&spec, err, sizeof(err)), 0);
  spec_init(&spec, "équipe données");
  assert_int_equal(store_key_validate(&spec, err, sizeof(err)), 0);
  spec_init(&spec, "key_0123456789abcdeF");
  assert_int_equal(store_key_validate(&spec, err, sizeof(err)), 0);
  spec_init(&spec, "free");
  spec.budget_usd = 0; /* a zero budget blocks spending; it is allowed */
  spec.budget_period = STORE_PERIOD_TOTAL;
  assert_int_equal(store_key_validate(&spec, err, sizeof(err)), 0);
}

static void test_revoke(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec, *a, *b, *keys;
  int64_t t0 = now_s(), v, revoked;
  int n;

  spec_init(&spec, "a");
  a = create_ok(f->db, &spec, secret);
  spec_init(&spec, "b");
  b = create_ok(f->db, &spec, secret);

  assert_int_equal(store_keys_revoke(f->db, "a", err, sizeof(err)), SB_OK);
  keys = list_ok(f->db, &n);
  assert_int_equal(n, 2);
  assert_in_range(keys[0].revoked_at, t0, now_s());
  assert_int_equal(keys[1].revoked_at, 0);
  revoked = keys[0].revoked_at;
  store_keys_free(keys, n);

  /* Again: a no-op, the first time stays, the counter does not move. */
  v = version_of(f->db);
  assert_int_equal(store_keys_revoke(f->db, a->id, err, sizeof(err)), SB_OK);
  assert_int_equal(version_of(f->db), v);
  assert_int_equal(
      file_int(f->db, "SELECT revoked_at FROM api_keys WHERE name = 'a'"),
      revoked);

  assert_int_equal(store_keys_revoke(f->db, b->id, err, sizeof(err)), SB_OK);
  assert_true(version_of(f->db) > v);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM api_keys"
                                   " WHERE revoked_at IS NOT NULL"),
                   2);

  assert_int_equal(store_keys_revoke(f->db, "nobody", err, sizeof(err)),
                   SB_ENOTFOUND);
  assert_non_null(strstr(err, "nobody"));
  assert_int_equal(
      store_keys_revoke(f->db, "key_0000000000000000", err, sizeof(err)),
      SB_ENOTFOUND);
  store_key_free(a);
  store_key_free(b);
}

static void test_update(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  char *models[] = {"anthropic/*"};
  char *tags[] = {"x", "y"};
  struct store_key spec, *a, *b, *keys, upd;
  int64_t v;
  int n;

  spec_init(&spec, "a");
  spec.models = tags;
  spec.nmodels = 1;
  spec.rpm = 5;
  a = create_ok(f->db, &spec, secret);
  spec_init(&spec, "b");
  b = create_ok(f->db, &spec, secret);
  v = version_of(f->db);

  spec_init(&upd, "renamed");
  upd.id = a->id;
  upd.models = models;
  upd.nmodels = 1;
  upd.tags = tags;
  upd.ntags = 2;
  upd.tpm = 77;
  upd.max_parallel = 2;
  upd.budget_usd = 3.25;
  upd.budget_period = STORE_PERIOD_DAILY;
  upd.expires_at = 2000000000;
  upd.context_summary_model = "cheap";
  /* Not editable: ignored. */
  upd.role = STORE_KEY_ADMIN;
  upd.revoked_at = 5;
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)), SB_OK);
  assert_true(version_of(f->db) > v);

  keys = list_ok(f->db, &n);
  assert_int_equal(n, 2);
  assert_string_equal(keys[0].id, a->id);
  assert_string_equal(keys[0].name, "renamed");
  assert_string_equal(keys[0].prefix, a->prefix);
  assert_memory_equal(keys[0].hash, a->hash, STORE_KEY_HASH_LEN);
  assert_int_equal(keys[0].role, STORE_KEY_GATEWAY);
  assert_int_equal(keys[0].nmodels, 1);
  assert_string_equal(keys[0].models[0], "anthropic/*");
  assert_int_equal(keys[0].ntags, 2);
  assert_int_equal(keys[0].rpm, 0);
  assert_int_equal(keys[0].tpm, 77);
  assert_int_equal(keys[0].max_parallel, 2);
  assert_true(keys[0].budget_usd == 3.25);
  assert_int_equal(keys[0].budget_period, STORE_PERIOD_DAILY);
  assert_int_equal(keys[0].expires_at, 2000000000);
  assert_string_equal(keys[0].context_summary_model, "cheap");
  assert_int_equal(keys[0].revoked_at, 0);
  assert_int_equal(keys[0].created_at, a->created_at);
  store_keys_free(keys, n);

  /* Back to "any model", no budget, no expiry. */
  spec_init(&upd, "renamed");
  upd.id = a->id;
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)), SB_OK);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM api_keys WHERE"
                                   " name = 'renamed' AND models IS NULL AND"
                                   " budget_usd IS NULL AND expires_at IS"
                                   " NULL AND tags IS NULL AND"
                                   " context_summary_model IS NULL"),
                   1);

  /* Keeping its own name is fine; taking another key's is not. */
  v = version_of(f->db);
  spec_init(&upd, "b");
  upd.id = a->id;
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)), SB_EINVAL);
  assert_non_null(strstr(err, "already exists"));
  assert_int_equal(version_of(f->db), v);

  spec_init(&upd, "ghost");
  upd.id = "key_0000000000000000";
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)),
                   SB_ENOTFOUND);
  spec_init(&upd, "ghost");
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)), SB_EINVAL);
  spec_init(&upd, "");
  upd.id = b->id;
  assert_int_equal(store_keys_update(f->db, &upd, err, sizeof(err)), SB_EINVAL);
  assert_int_equal(version_of(f->db), v);
  store_key_free(a);
  store_key_free(b);
}

static void test_version_counter(void **state)
{
  struct testdb *f = *state;
  struct store_keys_watch *w = NULL;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec, *k, *keys;
  struct store_usage *rec;
  struct store *st = NULL;
  int64_t v0 = -1, v, prev;
  int n;

  assert_int_equal(store_keys_version(f->db, &w, &v0, NULL), SB_OK);
  assert_non_null(w);
  assert_int_equal(v0, 0);
  /* Reading is stable. */
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_int_equal(v, v0);

  spec_init(&spec, "one");
  k = create_ok(f->db, &spec, secret);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_true(v > v0);
  prev = v;

  /* Reads and unrelated writes leave it alone, request records
   * included (PRAGMA data_version would move here). */
  keys = list_ok(f->db, &n);
  store_keys_free(keys, n);
  assert_int_equal(store_open(f->db, NULL, &st, err, sizeof(err)), SB_OK);
  for(int i = 0; i < 10; i++) {
    rec = sb_calloc(1, sizeof(*rec));
    rec->ts_ms = sb_now_ms();
    rec->request_id = sb_asprintf("req_%d", i);
    rec->api = sb_strdup("chat");
    rec->status = 200;
    rec->prompt_tokens = rec->completion_tokens = rec->ttfb_ms = -1;
    assert_int_equal(store_usage_submit(st, rec), SB_OK);
  }
  store_close(st);
  assert_int_equal(file_int(f->db, "SELECT count(*) FROM requests"), 10);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_int_equal(v, prev);

  assert_int_equal(store_keys_revoke(f->db, "one", err, sizeof(err)), SB_OK);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_true(v > prev);
  prev = v;

  spec_init(&spec, "one-renamed");
  spec.id = k->id;
  assert_int_equal(store_keys_update(f->db, &spec, err, sizeof(err)), SB_OK);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_true(v > prev);
  prev = v;

  /* Another process writing the table directly is seen too, deletes
   * included. */
  file_exec(f->db, "DELETE FROM api_keys");
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_true(v > prev);
  prev = v;
  file_exec(f->db, "INSERT INTO requests(ts_ms, request_id, api, status,"
                   " latency_ms) VALUES(1, 'r', 'chat', 200, 1)");
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_int_equal(v, prev);

  store_keys_version_close(w);
  store_keys_version_close(NULL);
  store_key_free(k);
}

static void test_unusable_database(void **state)
{
  struct testdb *f = *state;
  struct store_keys_watch *w = NULL;
  struct store_key *keys = (struct store_key *)f, spec;
  char path[400], err[256], secret[STORE_KEY_SECRET_MAX];
  int64_t v;
  int n = -1;

  /* A missing file is an error, and is not created. */
  snprintf(path, sizeof(path), "%s/missing.db", f->dir);
  assert_int_equal(store_keys_list(path, &keys, &n, err, sizeof(err)), SB_EDB);
  assert_null(keys);
  assert_int_equal(n, 0);
  assert_non_null(strstr(err, "missing.db"));
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(store_keys_version(path, &w, &v, NULL), SB_EDB);
  assert_null(w);
  spec_init(&spec, "x");
  assert_int_equal(
      store_keys_create(path, &spec, secret, NULL, err, sizeof(err)), SB_EDB);
  assert_string_equal(secret, "");

  /* A database without the migration. */
  snprintf(path, sizeof(path), "%s/bare.db", f->dir);
  file_exec(path, "CREATE TABLE t(a)");
  assert_int_equal(store_keys_list(path, &keys, &n, err, sizeof(err)), SB_EDB);
  assert_non_null(strstr(err, "api_keys"));
  assert_int_equal(store_keys_version(path, &w, &v, NULL), SB_EDB);
  assert_null(w);
  assert_int_equal(store_keys_revoke(path, "x", err, sizeof(err)), SB_EDB);
}

static void test_corrupt_allow_list_is_an_error(void **state)
{
  struct testdb *f = *state;
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec, *keys = NULL;
  int n = -1;

  spec_init(&spec, "c");
  store_key_free(create_ok(f->db, &spec, secret));
  file_exec(f->db, "UPDATE api_keys SET models = '{\"not\": \"a list\"}'");
  assert_int_equal(store_keys_list(f->db, &keys, &n, err, sizeof(err)), SB_EDB);
  assert_null(keys);
  assert_int_equal(n, 0);
  assert_non_null(strstr(err, "models"));
  file_exec(f->db, "UPDATE api_keys SET models = '[\"a\", 1]'");
  assert_int_equal(store_keys_list(f->db, &keys, &n, err, sizeof(err)), SB_EDB);
  /* An empty array reads as "any", like NULL. */
  file_exec(f->db, "UPDATE api_keys SET models = '[]'");
  keys = list_ok(f->db, &n);
  assert_int_equal(keys[0].nmodels, 0);
  store_keys_free(keys, n);
}

static void test_schema_constraints(void **state)
{
  struct testdb *f = *state;
  sqlite3 *db = NULL;

  assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
  assert_int_not_equal(
      sqlite3_exec(db,
                   "INSERT INTO api_keys(id, name, prefix, hash, role,"
                   " created_at) VALUES('i', 'n', 'p', x'00', 'root', 1)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_not_equal(
      sqlite3_exec(db,
                   "INSERT INTO api_keys(id, name, prefix, hash, role,"
                   " budget_period, created_at)"
                   " VALUES('i', 'n', 'p', x'00', 'admin', 'yearly', 1)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO api_keys(id, name, prefix, hash,"
                                " role, created_at)"
                                " VALUES('i', 'n', 'p', x'00', 'admin', 1)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  /* Same hash under another name. */
  assert_int_not_equal(
      sqlite3_exec(db,
                   "INSERT INTO api_keys(id, name, prefix, hash, role,"
                   " created_at) VALUES('j', 'm', 'p', x'00', 'admin', 1)",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The config file owns what it seeded until an operator edits it; rows
 * it no longer lists go, operators' rows stay. */
static void test_defs_seed(void **state)
{
  struct testdb *f = *state;
  struct store_def file1[] = {{"a", "{\"v\":1}", 0, 0},
                              {"b", "{\"v\":1}", 0, 0}};
  struct store_def file2[] = {{"a", "{\"v\":2}", 0, 0},
                              {"c", "{\"v\":2}", 0, 0}};
  struct store_def file3[] = {{"a", "{\"v\":2}", 0, 0},
                              {"b", "{\"v\":1}", 0, 0},
                              {"c", "{\"v\":2}", 0, 0}};
  struct store_keys_watch *w = NULL;
  struct store_def *rows;
  char **kept, err[256];
  int64_t v0, v;
  int n;

  assert_int_equal(store_defs_seed(f->db, STORE_PROVIDERS, file1, 2, &kept, err,
                                   sizeof(err)),
                   0);
  assert_null(kept);
  assert_int_equal(store_keys_version(f->db, &w, &v0, NULL), SB_OK);
  /* Seeding the same file again writes nothing, so no worker reloads. */
  assert_int_equal(store_defs_seed(f->db, STORE_PROVIDERS, file1, 2, &kept, err,
                                   sizeof(err)),
                   0);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_int_equal(v, v0);

  /* An operator takes b over. */
  assert_int_equal(store_defs_set(f->db, STORE_PROVIDERS, "b", "{\"v\":9}", err,
                                  sizeof(err)),
                   0);
  assert_int_equal(store_defs_seed(f->db, STORE_PROVIDERS, file2, 2, &kept, err,
                                   sizeof(err)),
                   0);
  assert_null(kept); /* b is no longer in the file: nothing to report */
  assert_int_equal(store_defs_seed(f->db, STORE_PROVIDERS, file3, 3, &kept, err,
                                   sizeof(err)),
                   0);
  assert_non_null(kept);
  assert_string_equal(kept[0], "b");
  assert_null(kept[1]);
  free(kept[0]);
  free(kept);

  assert_int_equal(
      store_defs_list(f->db, STORE_PROVIDERS, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 3); /* a (file, updated), b (operator's), c (file) */
  assert_string_equal(rows[0].name, "a");
  assert_string_equal(rows[0].definition, "{\"v\":2}");
  assert_int_equal(rows[0].source, STORE_SRC_CONFIG);
  assert_string_equal(rows[1].definition, "{\"v\":9}");
  assert_int_equal(rows[1].source, STORE_SRC_API);
  assert_string_equal(rows[2].name, "c");
  store_defs_free(rows, n);

  /* A file without providers removes what it owned, not the operator's. */
  assert_int_equal(
      store_defs_seed(f->db, STORE_PROVIDERS, NULL, 0, &kept, err, sizeof(err)),
      0);
  assert_int_equal(
      store_defs_list(f->db, STORE_PROVIDERS, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].name, "b");
  store_defs_free(rows, n);
  /* The routes table is another table. */
  assert_int_equal(
      store_defs_list(f->db, STORE_ROUTES, &rows, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 0);
  store_defs_free(rows, n);
  assert_int_equal(
      store_defs_delete(f->db, STORE_PROVIDERS, "zz", err, sizeof(err)),
      SB_ENOTFOUND);
  store_keys_version_close(w);
}

/* A CLI waits for running gateways: a gateway behind the database's
 * version counts as late until it reports the new one. */
static void test_gateways_wait(void **state)
{
  struct testdb *f = *state;
  struct store_keys_watch *w = NULL;
  char err[256];
  int64_t v, pv;
  int late = -1;

  /* No gateway: nothing to wait for. */
  assert_int_equal(store_gateways_wait(f->db, 0, 50, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  /* This process plays the gateway. */
  assert_int_equal(store_gateway_seen(f->db, v, 0, err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 0, 50, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  assert_int_equal(
      store_defs_set(f->db, STORE_ROUTES, "r", "{}", err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 0, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 1);
  assert_int_equal(store_keys_version(f->db, &w, &v, NULL), SB_OK);
  assert_int_equal(store_gateway_seen(f->db, v, 0, err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 0, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  /* A provider change is waited for on its own counter: a gateway that
   * has the keys but not yet the providers is late only for the latter. */
  assert_int_equal(store_defs_set(f->db, STORE_PROVIDERS, "p",
                                  "{\"kind\":\"ollama\"}", err, sizeof(err)),
                   0);
  assert_int_equal(store_keys_version(f->db, &w, &v, &pv), SB_OK);
  assert_int_equal(store_gateways_wait(f->db, 0, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  assert_int_equal(store_gateways_wait(f->db, 1, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 1);
  assert_int_equal(store_gateway_seen(f->db, v, pv, err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 1, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  /* Gone: a later change waits for nobody. */
  store_gateway_gone(f->db);
  assert_int_equal(
      store_defs_delete(f->db, STORE_ROUTES, "r", err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 0, 30, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  store_keys_version_close(w);
}

static void test_period_parse(void **state)
{
  static const char *const names[] = {"daily", "weekly", "monthly", "total"};
  static const enum store_key_period vals[] = {
      STORE_PERIOD_DAILY, STORE_PERIOD_WEEKLY, STORE_PERIOD_MONTHLY,
      STORE_PERIOD_TOTAL};

  (void)state;
  for(size_t i = 0; i < SB_ARRAY_LEN(names); i++) {
    assert_int_equal(store_key_period_parse(names[i]), vals[i]);
    assert_string_equal(store_key_period_name(vals[i]), names[i]);
  }
  assert_int_equal(store_key_period_parse(""), STORE_PERIOD_NONE);
  assert_int_equal(store_key_period_parse(NULL), STORE_PERIOD_NONE);
  assert_string_equal(store_key_period_name(STORE_PERIOD_NONE), "");
  assert_string_equal(store_key_period_name((enum store_key_period)99), "");
  assert_int_equal(store_key_period_parse("Daily"), -1);
  assert_int_equal(store_key_period_parse("yearly"), -1);
  assert_int_equal(store_key_period_parse("month"), -1);
  assert_int_equal(store_key_period_parse("daily "), -1);
}

static void test_hash_known_answer(void **state)
{
  unsigned char h[STORE_KEY_HASH_LEN];
  /* SHA-256("abc"), FIPS 180-2 appendix B.1. */
  static const unsigned char abc[STORE_KEY_HASH_LEN] = {
      0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
      0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
      0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};

  (void)state;
  store_key_hash("abc", h);
  assert_memory_equal(h, abc, sizeof(abc));
  store_key_free(NULL);
  store_keys_free(NULL, 0);
}

static void test_cli_parse_time(void **state)
{
  int64_t t = -1;

  (void)state;
  assert_int_equal(cli_parse_time("2030-01-02", &t), 0);
  assert_int_equal(t, 1893542400);
  assert_int_equal(cli_parse_time("2030-01-02T03:04:05Z", &t), 0);
  assert_int_equal(t, 1893542400 + 3 * 3600 + 4 * 60 + 5);
  assert_int_equal(cli_parse_time("2030-01-02T03:04:05.999+00:00", &t), 0);
  assert_int_equal(t, 1893542400 + 3 * 3600 + 4 * 60 + 5);
  assert_int_equal(cli_parse_time("2030-01-02T03:04", &t), 0);
  assert_int_equal(t, 1893542400 + 3 * 3600 + 4 * 60);
  assert_int_equal(cli_parse_time("2024-02-29", &t), 0);
  assert_int_equal(t, 1709164800);
  assert_int_equal(cli_parse_time("1700000000", &t), 0);
  assert_int_equal(t, 1700000000);

  t = 42;
  assert_int_equal(cli_parse_time("2025-02-29", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2025-04-31", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-13-01", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-00-10", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-1-2", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01-02T24:00Z", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01-02T03:04:05+01:00", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01-02T03:04:05.Z", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01-02 03:04", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01-02x", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("2030-01", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("1969-12-31", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("0", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("-5", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("", &t), SB_EINVAL);
  assert_int_equal(cli_parse_time("99999999999999999999", &t), SB_EINVAL);
  assert_int_equal(t, 42);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_then_list, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_defaults_stored_as_null,
                                      testdb_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_secrets_unique, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_admin_key, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_viewer_key, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test(test_role_names),
      cmocka_unit_test_setup_teardown(test_duplicate_name_refused, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_invalid_specs, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_revoke, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_update, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_version_counter, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_unusable_database, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_allow_list_is_an_error,
                                      testdb_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_schema_constraints, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_defs_seed, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_gateways_wait, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test(test_period_parse),
      cmocka_unit_test(test_hash_known_answer),
      cmocka_unit_test(test_cli_parse_time),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
