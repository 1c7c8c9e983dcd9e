/*
 * keys.c - API keys in SQLite (table api_keys, migrations/0003_keys.sql).
 *
 * Every call opens a connection of its own and closes it again: these run
 * from the CLI, at start-up or on a thread pool, rarely, and a private
 * connection can never be caught half-way through by another thread.
 * Only store_keys_version() keeps one, because a gateway polls it.
 */
#include "store/keys.h"
#include "store/db.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEYS_BUSY_TIMEOUT_MS 5000
#define KEYS_ID_PREFIX       "key_"
#define KEYS_ID_HEX          16
#define KEYS_SECRET_BYTES    32
#define KEYS_PREFIX_HEX      6

#define KEYS_COLUMNS                                                           \
  "id, name, prefix, hash, role, models, rpm, tpm, max_parallel,"              \
  " budget_usd, budget_period, expires_at, tags, created_at, revoked_at,"      \
  " mcp_tools, context_summary_model, cache"

static const char *const secret_prefix[] = {
    [STORE_KEY_GATEWAY] = "sk-sb-",
    [STORE_KEY_ADMIN] = "sk-sb-admin-",
    [STORE_KEY_VIEWER] = "sk-sb-viewer-",
};

static const char *const role_name[] = {
    [STORE_KEY_GATEWAY] = "gateway",
    [STORE_KEY_ADMIN] = "admin",
    [STORE_KEY_VIEWER] = "viewer",
};

const char *store_key_role_name(enum store_key_role r)
{
  return (unsigned)r < SB_ARRAY_LEN(role_name) ? role_name[r] : "gateway";
}

int store_key_role_parse(const char *s)
{
  for(size_t i = 0; s && i < SB_ARRAY_LEN(role_name); i++)
    if(!strcmp(s, role_name[i]))
      return (int)i;
  return -1;
}

static const char *const period_names[] = {
    [STORE_PERIOD_NONE] = "",         [STORE_PERIOD_DAILY] = "daily",
    [STORE_PERIOD_WEEKLY] = "weekly", [STORE_PERIOD_MONTHLY] = "monthly",
    [STORE_PERIOD_TOTAL] = "total",
};

struct store_keys_watch {
  sqlite3 *db;
  sqlite3_stmt *read; /* the counter; reset after every read */
};

/* ---- pure helpers ---- */

static void free_strv(char **v, int n)
{
  for(int i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

static void key_clear(struct store_key *k)
{
  free(k->id);
  free(k->name);
  free(k->prefix);
  free_strv(k->models, k->nmodels);
  free_strv(k->tags, k->ntags);
  free_strv(k->mcp_tools, k->nmcp_tools);
  free(k->context_summary_model);
  free(k->cache);
  memset(k, 0, sizeof(*k));
}

void store_key_free(struct store_key *k)
{
  if(!k)
    return;
  key_clear(k);
  free(k);
}

void store_keys_free(struct store_key *keys, int n)
{
  if(!keys)
    return;
  for(int i = 0; i < n; i++)
    key_clear(&keys[i]);
  free(keys);
}

void store_key_hash(const char *secret, unsigned char out[STORE_KEY_HASH_LEN])
{
  sb_sha256(secret, strlen(secret), out);
}

int store_key_period_parse(const char *s)
{
  if(!s)
    return STORE_PERIOD_NONE;
  for(size_t i = 0; i < SB_ARRAY_LEN(period_names); i++)
    if(!strcmp(s, period_names[i]))
      return (int)i;
  return -1;
}

const char *store_key_period_name(enum store_key_period p)
{
  if((unsigned)p >= SB_ARRAY_LEN(period_names))
    return "";
  return period_names[p];
}

/* Lower-case hex of n random bytes into out (2n + 1 bytes). */
static void random_hex(char *out, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[KEYS_SECRET_BYTES];

  assert(n <= sizeof(rnd));
  if(RAND_bytes(rnd, (int)n) != 1)
    abort(); /* no entropy: a guessable key would be worse than no key */
  for(size_t i = 0; i < n; i++) {
    out[2 * i] = hex[rnd[i] >> 4];
    out[2 * i + 1] = hex[rnd[i] & 15];
  }
  out[2 * n] = '\0';
  OPENSSL_cleanse(rnd, sizeof(rnd));
}

/* "key_" + 16 lower-case hex digits. */
static int id_shaped(const char *s)
{
  size_t n = strlen(KEYS_ID_PREFIX);

  if(strncmp(s, KEYS_ID_PREFIX, n) || strlen(s) != n + KEYS_ID_HEX)
    return 0;
  for(s += n; *s; s++)
    if(!strchr("0123456789abcdef", *s))
      return 0;
  return 1;
}

static int valid_strv(char **v, int n, const char *field, char *err,
                      size_t errlen)
{
  if(n < 0 || (n > 0 && !v)) {
    sb_errf(err, errlen, "%s: invalid list", field);
    return SB_EINVAL;
  }
  for(int i = 0; i < n; i++) {
    if(!v[i] || !*v[i]) {
      sb_errf(err, errlen, "%s: entry %d is empty", field, i + 1);
      return SB_EINVAL;
    }
  }
  return SB_OK;
}

/* MCP tool globs: a bounded list of short, printable patterns (they are
 * matched against every tool name a key lists). */
/* A summary model: "provider/model" or a route name, printable, no
 * spaces. Whether it exists is checked when it is used (models and
 * routes come and go). */
static int valid_summary_model(const struct store_key *k, char *err,
                               size_t errlen)
{
  const unsigned char *p = (const unsigned char *)k->context_summary_model;
  size_t n = p ? strlen((const char *)p) : 0;

  if(!p)
    return SB_OK;
  if(!n || n > STORE_KEY_MODEL_MAX) {
    sb_errf(err, errlen, "context_summary_model: must be 1 to %d bytes",
            STORE_KEY_MODEL_MAX);
    return SB_EINVAL;
  }
  for(; *p; p++)
    if(*p < 0x21 || *p == 0x7f) {
      sb_errf(err, errlen,
              "context_summary_model: has a space or control character");
      return SB_EINVAL;
    }
  return SB_OK;
}

static int valid_tools(const struct store_key *k, char *err, size_t errlen)
{
  if(!k->mcp_tools_set)
    return SB_OK;
  if(k->nmcp_tools < 0 || k->nmcp_tools > STORE_KEY_MCP_TOOLS_MAX ||
     (k->nmcp_tools > 0 && !k->mcp_tools)) {
    sb_errf(err, errlen, "mcp_tools: at most %d patterns",
            STORE_KEY_MCP_TOOLS_MAX);
    return SB_EINVAL;
  }
  for(int i = 0; i < k->nmcp_tools; i++) {
    const unsigned char *p = (const unsigned char *)k->mcp_tools[i];
    size_t n = p ? strlen((const char *)p) : 0;

    if(!n || n > STORE_KEY_MCP_TOOL_LEN) {
      sb_errf(err, errlen, "mcp_tools: entry %d must be 1 to %d bytes", i + 1,
              STORE_KEY_MCP_TOOL_LEN);
      return SB_EINVAL;
    }
    for(; *p; p++)
      if(*p < 0x21 || *p == 0x7f) {
        sb_errf(err, errlen,
                "mcp_tools: entry %d has a space or control character", i + 1);
        return SB_EINVAL;
      }
  }
  return SB_OK;
}

int store_key_validate(const struct store_key *k, char *err, size_t errlen)
{
  size_t len;

  if(!k->name || !(len = strlen(k->name)) || len > STORE_KEY_NAME_MAX) {
    sb_errf(err, errlen, "name: must be 1 to %d bytes", STORE_KEY_NAME_MAX);
    return SB_EINVAL;
  }
  for(const unsigned char *p = (const unsigned char *)k->name; *p; p++) {
    if(*p < 0x20 || *p == 0x7f) {
      sb_errf(err, errlen, "name: control characters are not allowed");
      return SB_EINVAL;
    }
  }
  /* Revoke takes an id or a name: they must never be confused. */
  if(id_shaped(k->name)) {
    sb_errf(err, errlen, "name: '%s' looks like a key id", k->name);
    return SB_EINVAL;
  }
  if(valid_strv(k->models, k->nmodels, "models", err, errlen) ||
     valid_strv(k->tags, k->ntags, "tags", err, errlen))
    return SB_EINVAL;
  if(k->rpm < 0 || k->tpm < 0 || k->max_parallel < 0) {
    sb_errf(err, errlen, "%s: must be 0 (unlimited) or more",
            k->rpm < 0   ? "rpm"
            : k->tpm < 0 ? "tpm"
                         : "max_parallel");
    return SB_EINVAL;
  }
  if(isnan(k->budget_usd) || isinf(k->budget_usd)) {
    sb_errf(err, errlen, "budget_usd: must be a finite number");
    return SB_EINVAL;
  }
  if((unsigned)k->budget_period >= SB_ARRAY_LEN(period_names)) {
    sb_errf(err, errlen, "budget_period: unknown period");
    return SB_EINVAL;
  }
  if(k->budget_usd >= 0 && k->budget_period == STORE_PERIOD_NONE) {
    sb_errf(err, errlen, "budget_period: a budget needs a period");
    return SB_EINVAL;
  }
  if(k->budget_usd < 0 && k->budget_period != STORE_PERIOD_NONE) {
    sb_errf(err, errlen, "budget_period: set without a budget");
    return SB_EINVAL;
  }
  if(k->expires_at < 0) {
    sb_errf(err, errlen, "expires_at: must be 0 (never) or a unix time");
    return SB_EINVAL;
  }
  if(valid_tools(k, err, errlen))
    return SB_EINVAL;
  if(k->cache && (!k->cache[0] || strlen(k->cache) > STORE_KEY_CACHE_MAX)) {
    sb_errf(err, errlen, "cache: must be 1 to %d bytes of JSON",
            STORE_KEY_CACHE_MAX);
    return SB_EINVAL;
  }
  return valid_summary_model(k, err, errlen);
}

/* ---- SQLite plumbing ---- */

int store_db_fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
  sb_errf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
  return SB_EDB;
}

/* Opens an existing database only: creating an empty file here would
 * just turn "wrong path" into "no such table". */
static int keys_open(const char *path, int flags, sqlite3 **out, char *err,
                     size_t errlen)
{
  sqlite3 *db = NULL;
  int rc;

  *out = NULL;
  rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
  if(rc != SQLITE_OK) {
    sb_errf(err, errlen, "cannot open database %s: %s", path,
            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return SB_EDB;
  }
  sqlite3_busy_timeout(db, KEYS_BUSY_TIMEOUT_MS);
  if(sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) !=
     SQLITE_OK) {
    rc = store_db_fail(db, "PRAGMA foreign_keys", err, errlen);
    sqlite3_close(db);
    return rc;
  }
  *out = db;
  return SB_OK;
}

/* Open path and start a transaction: IMMEDIATE for writers, so that the
 * checks they make hold until their COMMIT. */
int store_db_begin(const char *path, int write, sqlite3 **out, char *err,
                   size_t errlen)
{
  int rc = keys_open(path, SQLITE_OPEN_READWRITE, out, err, errlen);

  if(rc)
    return rc;
  if(sqlite3_exec(*out, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL,
                  NULL) != SQLITE_OK) {
    rc = store_db_fail(*out, "BEGIN", err, errlen);
    sqlite3_close(*out);
    *out = NULL;
  }
  return rc;
}

/* Commit when rc is 0, else roll back; close either way. */
int store_db_finish(sqlite3 *db, int rc, char *err, size_t errlen)
{
  if(!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "COMMIT", err, errlen);
  if(!sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err,
                   size_t errlen)
{
  if(sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
    return store_db_fail(db, "prepare", err, errlen);
  return SB_OK;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
  if(s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

/* JSON array text of v, or NULL for an empty list (caller frees). */
static char *strv_json(char **v, int n)
{
  cJSON *a;
  char *s, *out;

  if(!n)
    return NULL;
  a = cJSON_CreateArray();
  if(!a)
    abort();
  for(int i = 0; i < n; i++) {
    cJSON *it = cJSON_CreateString(v[i]);
    if(!it)
      abort();
    cJSON_AddItemToArray(a, it);
  }
  s = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  if(!s)
    abort();
  /* Our allocator's copy, so that callers free() it like the rest. */
  out = sb_strdup(s);
  cJSON_free(s);
  return out;
}

/* Parse a JSON array of strings (NULL column: an empty list). */
static int strv_parse(const char *json, char ***out, int *n)
{
  cJSON *a, *it;
  char **v;
  int i = 0;

  *out = NULL;
  *n = 0;
  if(!json)
    return SB_OK;
  a = cJSON_Parse(json);
  if(!cJSON_IsArray(a)) {
    cJSON_Delete(a);
    return SB_EINVAL;
  }
  v = sb_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*v));
  cJSON_ArrayForEach(it, a)
  {
    if(!cJSON_IsString(it)) {
      free_strv(v, i);
      cJSON_Delete(a);
      return SB_EINVAL;
    }
    v[i++] = sb_strdup(it->valuestring);
  }
  cJSON_Delete(a);
  if(!i) {
    free(v);
    v = NULL;
  }
  *out = v;
  *n = i;
  return SB_OK;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);

  return t ? sb_strdup((const char *)t) : NULL;
}

static int64_t column_int_or_zero(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL
             ? 0
             : sqlite3_column_int64(st, i);
}

/* One row of SELECT KEYS_COLUMNS into k. */
static int read_row(sqlite3_stmt *st, struct store_key *k, char *err,
                    size_t errlen)
{
  const char *role, *period;
  int hlen, p;

  memset(k, 0, sizeof(*k));
  k->id = column_dup(st, 0);
  k->name = column_dup(st, 1);
  k->prefix = column_dup(st, 2);
  hlen = sqlite3_column_bytes(st, 3);
  if(hlen == STORE_KEY_HASH_LEN)
    memcpy(k->hash, sqlite3_column_blob(st, 3), STORE_KEY_HASH_LEN);
  role = (const char *)sqlite3_column_text(st, 4);
  /* The table's CHECK allows only known roles; anything else reads as
   * the least powerful one (a gateway key cannot reach /admin/v1). */
  p = store_key_role_parse(role);
  k->role = p < 0 ? STORE_KEY_GATEWAY : (enum store_key_role)p;
  k->rpm = sqlite3_column_int64(st, 6);
  k->tpm = sqlite3_column_int64(st, 7);
  k->max_parallel = sqlite3_column_int64(st, 8);
  k->budget_usd = sqlite3_column_type(st, 9) == SQLITE_NULL
                      ? -1
                      : sqlite3_column_double(st, 9);
  period = (const char *)sqlite3_column_text(st, 10);
  p = store_key_period_parse(period);
  k->budget_period = p < 0 ? STORE_PERIOD_NONE : (enum store_key_period)p;
  k->expires_at = column_int_or_zero(st, 11);
  k->created_at = sqlite3_column_int64(st, 13);
  k->revoked_at = column_int_or_zero(st, 14);
  if(!k->id || !k->name || !k->prefix || hlen != STORE_KEY_HASH_LEN) {
    sb_errf(err, errlen, "api_keys row %s: missing id, name, prefix or hash",
            k->id ? k->id : "?");
    goto bad;
  }
  k->mcp_tools_set = sqlite3_column_type(st, 15) != SQLITE_NULL;
  if(sqlite3_column_type(st, 16) != SQLITE_NULL)
    k->context_summary_model =
        sb_strdup((const char *)sqlite3_column_text(st, 16));
  if(sqlite3_column_type(st, 17) != SQLITE_NULL)
    k->cache = sb_strdup((const char *)sqlite3_column_text(st, 17));
  if(strv_parse((const char *)sqlite3_column_text(st, 5), &k->models,
                &k->nmodels) ||
     strv_parse((const char *)sqlite3_column_text(st, 12), &k->tags,
                &k->ntags) ||
     strv_parse((const char *)sqlite3_column_text(st, 15), &k->mcp_tools,
                &k->nmcp_tools)) {
    sb_errf(err, errlen,
            "api_keys row %s: models, tags or mcp_tools is not a JSON array"
            " of strings",
            k->id);
    goto bad;
  }
  return SB_OK;
bad:
  key_clear(k);
  return SB_EDB;
}

/* 1 when a key other than except_id is named name, 0 when none, or an
 * SB_E* code. */
static int name_taken(sqlite3 *db, const char *name, const char *except_id,
                      char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int rc;

  rc = prepare(db, "SELECT 1 FROM api_keys WHERE name = ?1 AND id IS NOT ?2",
               &st, err, errlen);
  if(rc)
    return rc;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  bind_text_or_null(st, 2, except_id);
  rc = sqlite3_step(st);
  if(rc == SQLITE_ROW)
    rc = 1;
  else if(rc == SQLITE_DONE)
    rc = 0;
  else
    rc = store_db_fail(db, "reading api_keys", err, errlen);
  sqlite3_finalize(st);
  if(rc == 1)
    sb_errf(err, errlen, "a key named '%s' already exists", name);
  return rc;
}

/* Bind the editable fields at ?2..?10 (name, models, rpm, tpm,
 * max_parallel, budget_usd, budget_period, expires_at, tags) and ?15
 * (mcp_tools: NULL for any tool, "[]" for none), ?16
 * (context_summary_model), ?17 (cache). */
static void bind_editable(sqlite3_stmt *st, const struct store_key *k)
{
  char *models = strv_json(k->models, k->nmodels);
  char *tags = strv_json(k->tags, k->ntags);

  sqlite3_bind_text(st, 2, k->name, -1, SQLITE_TRANSIENT);
  bind_text_or_null(st, 3, models);
  sqlite3_bind_int64(st, 4, k->rpm);
  sqlite3_bind_int64(st, 5, k->tpm);
  sqlite3_bind_int64(st, 6, k->max_parallel);
  if(k->budget_usd < 0) {
    sqlite3_bind_null(st, 7);
    sqlite3_bind_null(st, 8);
  } else {
    sqlite3_bind_double(st, 7, k->budget_usd);
    sqlite3_bind_text(st, 8, store_key_period_name(k->budget_period), -1,
                      SQLITE_STATIC);
  }
  if(k->expires_at > 0)
    sqlite3_bind_int64(st, 9, k->expires_at);
  else
    sqlite3_bind_null(st, 9);
  bind_text_or_null(st, 10, tags);
  if(k->mcp_tools_set) {
    char *tools = strv_json(k->mcp_tools, k->nmcp_tools);
    sqlite3_bind_text(st, 15, tools ? tools : "[]", -1, SQLITE_TRANSIENT);
    free(tools);
  } else {
    sqlite3_bind_null(st, 15);
  }
  bind_text_or_null(st, 16, k->context_summary_model);
  bind_text_or_null(st, 17, k->cache);
  free(models);
  free(tags);
}

static char **strv_dup(char **v, int n)
{
  char **d;

  if(!n)
    return NULL;
  d = sb_calloc((size_t)n, sizeof(*d));
  for(int i = 0; i < n; i++)
    d[i] = sb_strdup(v[i]);
  return d;
}

/* ---- public API ---- */

int store_keys_create(const char *path, const struct store_key *spec,
                      char secret[STORE_KEY_SECRET_MAX], struct store_key **out,
                      char *err, size_t errlen)
{
  struct store_key k;
  char hex[2 * KEYS_SECRET_BYTES + 1], id[sizeof(KEYS_ID_PREFIX) + KEYS_ID_HEX];
  const char *kind;
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc;

  secret[0] = '\0';
  if(out)
    *out = NULL;
  sb_errf(err, errlen, "%s", "");
  if(spec->role != STORE_KEY_GATEWAY && spec->role != STORE_KEY_ADMIN &&
     spec->role != STORE_KEY_VIEWER) {
    sb_errf(err, errlen, "role: unknown role");
    return SB_EINVAL;
  }
  rc = store_key_validate(spec, err, errlen);
  if(rc)
    return rc;

  memset(&k, 0, sizeof(k));
  kind = secret_prefix[spec->role];
  random_hex(hex, KEYS_SECRET_BYTES);
  snprintf(secret, STORE_KEY_SECRET_MAX, "%s%s", kind, hex);
  OPENSSL_cleanse(hex, sizeof(hex));
  random_hex(id + strlen(KEYS_ID_PREFIX), KEYS_ID_HEX / 2);
  memcpy(id, KEYS_ID_PREFIX, strlen(KEYS_ID_PREFIX));
  k.id = sb_strdup(id);
  k.name = sb_strdup(spec->name);
  k.prefix = sb_strndup(secret, strlen(kind) + KEYS_PREFIX_HEX);
  store_key_hash(secret, k.hash);
  k.role = spec->role;
  k.models = strv_dup(spec->models, spec->nmodels);
  k.nmodels = spec->nmodels;
  k.rpm = spec->rpm;
  k.tpm = spec->tpm;
  k.max_parallel = spec->max_parallel;
  k.budget_usd = spec->budget_usd < 0 ? -1 : spec->budget_usd;
  k.budget_period = spec->budget_period;
  k.expires_at = spec->expires_at;
  k.tags = strv_dup(spec->tags, spec->ntags);
  k.ntags = spec->ntags;
  k.mcp_tools = strv_dup(spec->mcp_tools, spec->nmcp_tools);
  k.nmcp_tools = spec->nmcp_tools;
  k.mcp_tools_set = spec->mcp_tools_set;
  k.context_summary_model = spec->context_summary_model
                                ? sb_strdup(spec->context_summary_model)
                                : NULL;
  k.cache = spec->cache ? sb_strdup(spec->cache) : NULL;
  k.created_at = sb_now_ms() / 1000;
  k.revoked_at = 0;

  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    goto out;
  rc = name_taken(db, k.name, NULL, err, errlen);
  if(rc == 1)
    rc = SB_EINVAL;
  if(!rc)
    rc = prepare(db,
                 "INSERT INTO api_keys(id, name, models, rpm, tpm,"
                 " max_parallel, budget_usd, budget_period, expires_at, tags,"
                 " prefix, hash, role, created_at, mcp_tools,"
                 " context_summary_model, cache)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                 " ?13, ?14, ?15, ?16, ?17)",
                 &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, k.id, -1, SQLITE_STATIC);
    bind_editable(st, &k);
    sqlite3_bind_text(st, 11, k.prefix, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 12, k.hash, STORE_KEY_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, role_name[k.role], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, k.created_at);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "inserting the key", err, errlen);
    sqlite3_finalize(st);
  }
  rc = store_db_finish(db, rc, err, errlen);
out:
  if(rc) {
    OPENSSL_cleanse(secret, STORE_KEY_SECRET_MAX);
    secret[0] = '\0';
    key_clear(&k);
    return rc;
  }
  if(out) {
    *out = sb_malloc(sizeof(**out));
    **out = k;
  } else {
    key_clear(&k);
  }
  return SB_OK;
}

int store_keys_list(const char *path, struct store_key **keys, int *n,
                    char *err, size_t errlen)
{
  struct store_key *v = NULL;
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int cap = 0, count = 0, rc, step = SQLITE_DONE;

  *keys = NULL;
  *n = 0;
  sb_errf(err, errlen, "%s", "");
  rc = store_db_begin(path, 0, &db, err, errlen);
  if(rc)
    return rc;
  rc = prepare(db,
               "SELECT " KEYS_COLUMNS " FROM api_keys"
               " ORDER BY created_at, rowid",
               &st, err, errlen);
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if(count == cap) {
      cap = cap ? 2 * cap : 16;
      v = sb_realloc(v, (size_t)cap * sizeof(*v));
    }
    rc = read_row(st, &v[count], err, errlen);
    if(!rc)
      count++;
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "reading api_keys", err, errlen);
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_keys_free(v, count);
    return rc;
  }
  *keys = v;
  *n = count;
  return SB_OK;
}

int store_keys_revoke(const char *path, const char *id_or_name, char *err,
                      size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc, step;
  int64_t revoked = 0;
  char *id = NULL;

  sb_errf(err, errlen, "%s", "");
  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    return rc;
  rc = prepare(db,
               "SELECT id, revoked_at FROM api_keys"
               " WHERE id = ?1 OR name = ?1",
               &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, id_or_name, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if(step == SQLITE_ROW) {
      id = column_dup(st, 0);
      revoked = column_int_or_zero(st, 1);
    } else if(step == SQLITE_DONE) {
      sb_errf(err, errlen, "no key with id or name '%s'", id_or_name);
      rc = SB_ENOTFOUND;
    } else {
      rc = store_db_fail(db, "reading api_keys", err, errlen);
    }
    sqlite3_finalize(st);
  }
  /* Revoked stays revoked at its first time, and the version counter
   * does not move for nothing. */
  if(!rc && !revoked) {
    rc = prepare(db, "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1", &st,
                 err, errlen);
    if(!rc) {
      sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, sb_now_ms() / 1000);
      if(sqlite3_step(st) != SQLITE_DONE)
        rc = store_db_fail(db, "revoking the key", err, errlen);
      sqlite3_finalize(st);
    }
  }
  free(id);
  return store_db_finish(db, rc, err, errlen);
}

int store_keys_update(const char *path, const struct store_key *k, char *err,
                      size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc;

  sb_errf(err, errlen, "%s", "");
  if(!k->id) {
    sb_errf(err, errlen, "id: missing");
    return SB_EINVAL;
  }
  rc = store_key_validate(k, err, errlen);
  if(rc)
    return rc;
  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    return rc;
  rc = name_taken(db, k->name, k->id, err, errlen);
  if(rc == 1)
    rc = SB_EINVAL;
  if(!rc)
    rc = prepare(db,
                 "UPDATE api_keys SET name = ?2, models = ?3, rpm = ?4,"
                 " tpm = ?5, max_parallel = ?6, budget_usd = ?7,"
                 " budget_period = ?8, expires_at = ?9, tags = ?10,"
                 " mcp_tools = ?15, context_summary_model = ?16,"
                 " cache = ?17 WHERE id = ?1",
                 &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
    bind_editable(st, k);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "updating the key", err, errlen);
    else if(!sqlite3_changes(db)) {
      sb_errf(err, errlen, "no key with id '%s'", k->id);
      rc = SB_ENOTFOUND;
    }
    sqlite3_finalize(st);
  }
  return store_db_finish(db, rc, err, errlen);
}

void store_keys_version_close(struct store_keys_watch *conn)
{
  if(!conn)
    return;
  sqlite3_finalize(conn->read);
  sqlite3_close(conn->db);
  free(conn);
}

/* The providers' watcher's counters apart from the others, and the MCP
 * servers' alone within them (store_keys_version, store_watch_versions). */
#define VERSIONS_SQL                                                           \
  "SELECT coalesce(sum(version) FILTER (WHERE name NOT IN ('providers',"       \
  " 'mcp_servers')), 0),"                                                      \
  " coalesce(sum(version) FILTER (WHERE name IN ('providers',"                 \
  " 'mcp_servers')), 0),"                                                      \
  " coalesce(sum(version) FILTER (WHERE name = 'mcp_servers'), 0)"             \
  " FROM versions"

int store_keys_version(const char *path, struct store_keys_watch **conn,
                       int64_t *control, int64_t *providers)
{
  return store_watch_versions(path, conn, control, providers, NULL);
}

int store_watch_versions(const char *path, struct store_keys_watch **conn,
                         int64_t *control, int64_t *providers,
                         int64_t *mcp_servers)
{
  struct store_keys_watch *w = *conn;
  int rc;

  if(!w) {
    w = sb_calloc(1, sizeof(*w));
    /* Read-only: a watcher never takes the write lock, so it cannot
     * delay the writer. */
    if(keys_open(path, SQLITE_OPEN_READONLY, &w->db, NULL, 0) ||
       sqlite3_prepare_v3(w->db, VERSIONS_SQL, -1, SQLITE_PREPARE_PERSISTENT,
                          &w->read, NULL) != SQLITE_OK) {
      store_keys_version_close(w);
      return SB_EDB;
    }
    *conn = w;
  }
  rc = sqlite3_step(w->read);
  if(rc == SQLITE_ROW) {
    *control = sqlite3_column_int64(w->read, 0);
    if(providers)
      *providers = sqlite3_column_int64(w->read, 1);
    if(mcp_servers)
      *mcp_servers = sqlite3_column_int64(w->read, 2);
  }
  /* The reset ends the read transaction: a statement left pending would
   * pin an old snapshot and keep the WAL from being checkpointed. */
  sqlite3_reset(w->read);
  return rc == SQLITE_ROW ? SB_OK : SB_EDB;
}

/* ---- running gateways ---- */

static void host_name(char *out, size_t len)
{
  if(gethostname(out, len) != 0)
    snprintf(out, len, "localhost");
  out[len - 1] = '\0';
}

int store_gateway_seen(const char *path, int64_t control, int64_t providers,
                       char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  char host[256];
  int rc = store_db_begin(path, 1, &db, err, errlen);

  if(rc)
    return rc;
  host_name(host, sizeof(host));
  rc = prepare(db,
               "INSERT INTO gateways(host, pid, version, providers_version,"
               " started_at) VALUES(?1, ?2, ?3, ?4, ?5)"
               " ON CONFLICT(host, pid) DO UPDATE SET"
               " version = excluded.version,"
               " providers_version = excluded.providers_version",
               &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (int64_t)getpid());
    sqlite3_bind_int64(st, 3, control);
    sqlite3_bind_int64(st, 4, providers);
    sqlite3_bind_int64(st, 5, sb_now_ms() / 1000);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "INSERT gateways", err, errlen);
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}

/* Delete the row of (host, pid): a gateway that stopped, or one that was
 * killed and never said so. */
static void gateway_forget(const char *path, const char *host, int64_t pid)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  char err[256];
  int rc = store_db_begin(path, 1, &db, err, sizeof(err));

  if(rc)
    return;
  rc = prepare(db, "DELETE FROM gateways WHERE host = ?1 AND pid = ?2", &st,
               err, sizeof(err));
  if(!rc) {
    sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, pid);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "DELETE gateways", err, sizeof(err));
  }
  sqlite3_finalize(st);
  store_db_finish(db, rc, err, sizeof(err));
}

void store_gateway_gone(const char *path)
{
  char host[256];

  host_name(host, sizeof(host));
  gateway_forget(path, host, (int64_t)getpid());
}

/* One look, read-only: how many live gateways of this host serve less
 * than the current version; *dead: the pid of one that no longer exists
 * (0: none). */
static int gateways_behind(sqlite3 *db, const char *host, int providers,
                           int *behind, int64_t *dead, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  int64_t cur[2] = {0, 0};
  int rc, step;

  *behind = 0;
  *dead = 0;
  rc = prepare(db, VERSIONS_SQL, &st, err, errlen);
  if(!rc && sqlite3_step(st) == SQLITE_ROW) {
    cur[0] = sqlite3_column_int64(st, 0);
    cur[1] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  st = NULL;
  if(!rc)
    rc = prepare(db,
                 "SELECT pid, version, providers_version FROM gateways"
                 " WHERE host = ?1",
                 &st, err, errlen);
  if(rc)
    return rc;
  sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
  while((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t pid = sqlite3_column_int64(st, 0);

    if(kill((pid_t)pid, 0) && errno == ESRCH)
      *dead = pid;
    else if(sqlite3_column_int64(st, providers ? 2 : 1) <
            cur[providers ? 1 : 0])
      (*behind)++;
  }
  if(step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT gateways", err, errlen);
  sqlite3_finalize(st);
  return rc;
}

int store_gateways_wait(const char *path, int providers, int timeout_ms,
                        int *late, char *err, size_t errlen)
{
  int64_t deadline = sb_now_ms() + timeout_ms, dead;
  char host[256];
  int rc;

  host_name(host, sizeof(host));
  for(;;) {
    sqlite3 *db;

    /* Reading only: the writer and the gateways reporting to us must
     * not wait for this loop. */
    if((rc = store_db_begin(path, 0, &db, err, errlen)))
      return rc;
    rc = gateways_behind(db, host, providers != 0, late, &dead, err, errlen);
    rc = store_db_finish(db, rc, err, errlen);
    if(!rc && dead && sb_now_ms() < deadline) {
      gateway_forget(path, host, dead);
      continue;
    }
    if(rc || !*late || sb_now_ms() >= deadline)
      return rc;
    nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
  }
}

const char *store_key_status(const struct store_key *k, int64_t now_s)
{
  if(k->revoked_at)
    return "revoked";
  if(k->expires_at && k->expires_at <= now_s)
    return "expired";
  return "active";
}

static cJSON *strv_array(char **v, int n)
{
  cJSON *a;

  if(!n)
    return cJSON_CreateNull();
  a = cJSON_CreateArray();
  for(int i = 0; i < n; i++)
    cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

static void add_time(cJSON *o, const char *name, int64_t t)
{
  if(t)
    cJSON_AddNumberToObject(o, name, (double)t);
  else
    cJSON_AddNullToObject(o, name);
}

cJSON *store_key_json(const struct store_key *k, int64_t now_s)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", k->id);
  cJSON_AddStringToObject(o, "object", "gateway.key");
  cJSON_AddStringToObject(o, "name", k->name);
  cJSON_AddStringToObject(o, "prefix", k->prefix);
  cJSON_AddStringToObject(o, "role", store_key_role_name(k->role));
  cJSON_AddItemToObject(o, "models", strv_array(k->models, k->nmodels));
  cJSON_AddNumberToObject(o, "rpm", (double)k->rpm);
  cJSON_AddNumberToObject(o, "tpm", (double)k->tpm);
  cJSON_AddNumberToObject(o, "max_parallel", (double)k->max_parallel);
  if(k->budget_usd >= 0) {
    cJSON_AddNumberToObject(o, "budget_usd", k->budget_usd);
    cJSON_AddStringToObject(o, "budget_period",
                            store_key_period_name(k->budget_period));
  } else {
    cJSON_AddNullToObject(o, "budget_usd");
    cJSON_AddNullToObject(o, "budget_period");
  }
  add_time(o, "expires_at", k->expires_at);
  cJSON_AddItemToObject(o, "tags", strv_array(k->tags, k->ntags));
  if(k->mcp_tools_set) {
    cJSON *t = cJSON_AddArrayToObject(o, "mcp_tools");
    for(int i = 0; i < k->nmcp_tools; i++)
      cJSON_AddItemToArray(t, cJSON_CreateString(k->mcp_tools[i]));
  } else {
    cJSON_AddNullToObject(o, "mcp_tools");
  }
  if(k->context_summary_model)
    cJSON_AddStringToObject(o, "context_summary_model",
                            k->context_summary_model);
  else
    cJSON_AddNullToObject(o, "context_summary_model");
  {
    /* Stored by the admin API as a policy it checked; anything else
     * (an older binary's row) reads as none. */
    cJSON *c = k->cache ? cJSON_Parse(k->cache) : NULL;
    if(cJSON_IsObject(c))
      cJSON_AddItemToObject(o, "cache", c);
    else {
      cJSON_Delete(c);
      cJSON_AddNullToObject(o, "cache");
    }
  }
  cJSON_AddNumberToObject(o, "created_at", (double)k->created_at);
  add_time(o, "revoked_at", k->revoked_at);
  cJSON_AddStringToObject(o, "status", store_key_status(k, now_s));
  return o;
}

/* ---- prices and spend ---- */

void store_prices_free(struct store_price *p, int n)
{
  for(int i = 0; p && i < n; i++)
    free(p[i].model);
  free(p);
}

int store_prices_list(const char *path, struct store_price **out, int *n,
                      char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 0, &db, err, errlen), cap = 0, step;

  *out = NULL;
  *n = 0;
  if(rc)
    return rc;
  rc = prepare(db,
               "SELECT model, input_per_mtok, output_per_mtok,"
               " cached_input_per_mtok FROM prices ORDER BY model",
               &st, err, errlen);
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_price *p;
    if(*n == cap) {
      cap = cap ? cap * 2 : 64;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    p = &(*out)[(*n)++];
    p->model = column_dup(st, 0);
    p->input = sqlite3_column_double(st, 1);
    p->output = sqlite3_column_double(st, 2);
    p->cached = sqlite3_column_type(st, 3) == SQLITE_NULL
                    ? -1
                    : sqlite3_column_double(st, 3);
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT prices", err, errlen);
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_prices_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int store_prices_set(const char *path, const struct store_price *p, char *err,
                     size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc;

  if(!p->model || !p->model[0] || p->input < 0 || p->output < 0) {
    sb_errf(err, errlen, "a price needs a model and non-negative prices");
    return SB_EINVAL;
  }
  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    return rc;
  rc = prepare(db,
               "INSERT OR REPLACE INTO prices(model, input_per_mtok,"
               " output_per_mtok, cached_input_per_mtok, updated_at)"
               " VALUES(?1, ?2, ?3, ?4, ?5)",
               &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, p->model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, p->input);
    sqlite3_bind_double(st, 3, p->output);
    if(p->cached >= 0)
      sqlite3_bind_double(st, 4, p->cached);
    else
      sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, sb_now_ms() / 1000);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "INSERT prices", err, errlen);
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}

int store_db_delete_one(const char *path, const char *sql, const char *key,
                        char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 1, &db, err, errlen);

  if(rc)
    return rc;
  rc = prepare(db, sql, &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, sql, err, errlen);
    else if(!sqlite3_changes(db))
      rc = SB_ENOTFOUND;
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}

int store_prices_delete(const char *path, const char *model, char *err,
                        size_t errlen)
{
  return store_db_delete_one(path, "DELETE FROM prices WHERE model = ?1", model,
                             err, errlen);
}

int store_key_spend(const char *path, const char *key_id, int64_t since_ms,
                    double *usd, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 0, &db, err, errlen);

  *usd = 0;
  if(rc)
    return rc;
  /* From a UTC midnight on (every budget period starts at one) the
   * daily roll-ups hold the same sum, and keep it when retention deletes
   * old request records. */
  rc = prepare(db,
               since_ms % 86400000 == 0
                   ? "SELECT total(cost_usd) FROM usage_daily WHERE key_id ="
                     " ?1 AND day >= strftime('%Y-%m-%d', ?2 / 1000,"
                     " 'unixepoch')"
                   : "SELECT total(cost_usd) FROM requests"
                     " WHERE key_id = ?1 AND ts_ms >= ?2",
               &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, since_ms);
    if(sqlite3_step(st) == SQLITE_ROW)
      *usd = sqlite3_column_double(st, 0);
    else
      rc = store_db_fail(db, "SELECT spend", err, errlen);
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}

/* ---- named definitions: routes, providers and MCP servers ---- */

/* Never a client's bytes: one of three fixed names. */
static const char *table_name(enum store_table t)
{
  switch(t) {
  case STORE_PROVIDERS: return "providers";
  case STORE_MCP_SERVERS: return "mcp_servers";
  case STORE_ROUTES: break;
  }
  return "routes";
}

void store_defs_free(struct store_def *defs, int n)
{
  for(int i = 0; defs && i < n; i++) {
    free(defs[i].name);
    free(defs[i].definition);
  }
  free(defs);
}

static int defs_read(sqlite3 *db, enum store_table table,
                     struct store_def **out, int *n, char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  char sql[128];
  int rc, cap = 0, step = SQLITE_DONE;

  *out = NULL;
  *n = 0;
  snprintf(sql, sizeof(sql),
           "SELECT name, definition, source, updated_at FROM %s"
           " ORDER BY name",
           table_name(table));
  rc = prepare(db, sql, &st, err, errlen);
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_def *d;
    if(*n == cap) {
      cap = cap ? cap * 2 : 16;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    d = &(*out)[(*n)++];
    d->name = column_dup(st, 0);
    d->definition = column_dup(st, 1);
    d->source = !strcmp((const char *)sqlite3_column_text(st, 2), "config")
                    ? STORE_SRC_CONFIG
                    : STORE_SRC_API;
    d->updated_at = sqlite3_column_int64(st, 3);
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT definitions", err, errlen);
  sqlite3_finalize(st);
  if(rc) {
    store_defs_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int store_defs_list(const char *path, enum store_table table,
                    struct store_def **out, int *n, char *err, size_t errlen)
{
  sqlite3 *db;
  int rc = store_db_begin(path, 0, &db, err, errlen);

  *out = NULL;
  *n = 0;
  if(rc)
    return rc;
  rc = defs_read(db, table, out, n, err, errlen);
  return store_db_finish(db, rc, err, errlen);
}

/* One statement on db with name, definition and source bound as ?1..?3
 * and the time as ?4 (a statement that does not use some leaves them
 * unbound: SQLITE_RANGE, harmless); *changed: rows it touched. */
static int defs_exec(sqlite3 *db, const char *fmt, enum store_table table,
                     const char *name, const char *definition,
                     enum store_source source, int *changed, char *err,
                     size_t errlen)
{
  sqlite3_stmt *st = NULL;
  char sql[256];
  int rc;

  snprintf(sql, sizeof(sql), fmt, table_name(table));
  rc = prepare(db, sql, &st, err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, definition);
    sqlite3_bind_text(st, 3, source == STORE_SRC_CONFIG ? "config" : "api", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, sb_now_ms() / 1000);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "writing a definition", err, errlen);
    else if(changed)
      *changed = sqlite3_changes(db);
  }
  sqlite3_finalize(st);
  return rc;
}

#define DEFS_UPSERT                                                            \
  "INSERT INTO %s(name, definition, source, updated_at)"                       \
  " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET"                    \
  " definition = excluded.definition, source = excluded.source,"               \
  " updated_at = excluded.updated_at"

int store_defs_set(const char *path, enum store_table table, const char *name,
                   const char *definition, char *err, size_t errlen)
{
  sqlite3 *db;
  int rc = store_db_begin(path, 1, &db, err, errlen);

  if(rc)
    return rc;
  rc = defs_exec(db, DEFS_UPSERT, table, name, definition, STORE_SRC_API, NULL,
                 err, errlen);
  return store_db_finish(db, rc, err, errlen);
}

int store_defs_delete(const char *path, enum store_table table,
                      const char *name, char *err, size_t errlen)
{
  sqlite3 *db;
  int rc = store_db_begin(path, 1, &db, err, errlen), changed = 0;

  if(rc)
    return rc;
  rc = defs_exec(db, "DELETE FROM %s WHERE name = ?1", table, name, NULL,
                 STORE_SRC_API, &changed, err, errlen);
  if(!rc && !changed)
    rc = SB_ENOTFOUND;
  return store_db_finish(db, rc, err, errlen);
}

static const struct store_def *def_find(const struct store_def *defs, int n,
                                        const char *name)
{
  for(int i = 0; i < n; i++)
    if(!strcmp(defs[i].name, name))
      return &defs[i];
  return NULL;
}

int store_defs_seed(const char *path, enum store_table table,
                    const struct store_def *defs, int n, char ***kept,
                    char *err, size_t errlen)
{
  struct store_def *rows = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 1, &db, err, errlen), nrows = 0, nkept = 0;

  *kept = NULL;
  if(rc)
    return rc;
  rc = defs_read(db, table, &rows, &nrows, err, errlen);
  for(int i = 0; !rc && i < n; i++) {
    const struct store_def *cur = def_find(rows, nrows, defs[i].name);

    if(cur && !strcmp(cur->definition, defs[i].definition))
      continue;
    if(cur && cur->source == STORE_SRC_API) {
      *kept = sb_realloc(*kept, sizeof(**kept) * (size_t)(nkept + 2));
      (*kept)[nkept++] = sb_strdup(cur->name);
      (*kept)[nkept] = NULL;
      continue;
    }
    rc = defs_exec(db, DEFS_UPSERT, table, defs[i].name, defs[i].definition,
                   STORE_SRC_CONFIG, NULL, err, errlen);
  }
  for(int i = 0; !rc && i < nrows; i++)
    if(rows[i].source == STORE_SRC_CONFIG && !def_find(defs, n, rows[i].name))
      rc = defs_exec(db, "DELETE FROM %s WHERE name = ?1", table, rows[i].name,
                     NULL, STORE_SRC_CONFIG, NULL, err, errlen);
  store_defs_free(rows, nrows);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    for(int i = 0; i < nkept; i++)
      free((*kept)[i]);
    free(*kept);
    *kept = NULL;
  }
  return rc;
}
