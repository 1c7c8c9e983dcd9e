/*
 * ui.c - the web dashboard: its embedded files at /ui/ and its sign-in
 * sessions at /ui/session.
 *
 * Files are matched exactly against the table the build made of web/:
 * no file system is read, so no path a client sends (dots, slashes,
 * encodings) can name anything but one of those files.
 */
#include "gateway/ui.h"
#include "gateway/http.h"
#include "admission/lockout.h"
#include "base/sb.h"
#include "store/keys.h"
#include "store/ui.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ui_security_headers[] = {
    "content-security-policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src "
    "'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri "
    "'none'; form-action 'self'",
    "x-content-type-options",
    "nosniff",
    "referrer-policy",
    "no-referrer",
    "cache-control",
    "no-cache",
    NULL,
};

const struct ui_file *ui_file_find(const char *path)
{
  for(int i = 0; i < ui_files_count; i++)
    if(ui_files[i].path[0] && !strcmp(ui_files[i].path, path))
      return &ui_files[i];
  return NULL;
}

void ui_static(struct req *r)
{
  const struct ui_file *f;
  struct api_error err;

  if(!strcmp(r->path, "/ui")) {
    req_add_header(r, "location", "/ui/");
    req_respond_json(r, 302, "", 0);
    return;
  }
  /* "/ui/" is the index; anything else must be a file of the bundle. */
  f = ui_file_find(r->path[4] ? r->path + 4 : "index.html");
  if(!f) {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL, "%s",
                  "No such file in the dashboard.");
    req_respond_error(r, &err);
    return;
  }
  req_add_header(r, "content-type", f->content_type);
  req_respond_json(r, 200, f->bytes, f->len);
}

/* --- sessions ------------------------------------------------------------ */

enum ui_op { UI_CREATE, UI_GET, UI_DELETE, UI_LOOKUP };

/* UI_DELETE's rc when the token presented is not the session's. */
#define CSRF_MISMATCH 1

/* One session operation on the thread pool. */
struct ui_job {
  enum ui_op op;
  const char *db; /* the config's; outlives every request */
  unsigned char hash[STORE_KEY_HASH_LEN];
  char cookie[UI_SESSION_HEX + 1]; /* UI_CREATE: the new cookie */
  char csrf[UI_SESSION_HEX + 1];   /* UI_CREATE: the new token;
                                    * UI_DELETE: the one presented */
  char key_id[STORE_UI_KEY_ID_MAX];
  char admin_tag[STORE_UI_TAG_MAX]; /* UI_CREATE, for key_id "" */
  char name[96];
  int read_only; /* UI_CREATE: a viewer key signed in */
  int64_t now_s, ttl_s;
  struct store_ui_session s;
  int rc;
  char err[256];
  void (*lookup_done)(struct req *r, const char *key_id, const char *csrf);
};

/* n random bytes as 2n lower-case hex digits in out (2n + 1 bytes). */
static int random_hex(char *out, size_t n)
{
  unsigned char b[32];

  if(n > sizeof(b) || RAND_bytes(b, (int)n) != 1)
    return SB_EIO;
  for(size_t i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", b[i]);
  OPENSSL_cleanse(b, sizeof(b));
  return 0;
}

static int hex_token(const char *s, size_t n)
{
  return n == UI_SESSION_HEX && strspn(s, "0123456789abcdef") == n;
}

/* The sb_session cookie r sent, when well formed, into out. Of several,
 * the first well-formed one. */
static int session_cookie(struct req *r, char out[UI_SESSION_HEX + 1])
{
  char *c = req_header(r, "cookie");
  const char *p = c;
  int rc = SB_ENOTFOUND;

  while(p && *p) {
    size_t n = strcspn(p, ";");
    while(*p == ' ' || *p == '\t')
      p++, n--;
    if(n > sizeof(UI_COOKIE) && !strncmp(p, UI_COOKIE "=", sizeof(UI_COOKIE)) &&
       hex_token(p + sizeof(UI_COOKIE), n - sizeof(UI_COOKIE))) {
      memcpy(out, p + sizeof(UI_COOKIE), UI_SESSION_HEX);
      out[UI_SESSION_HEX] = '\0';
      rc = 0;
      break;
    }
    p += n;
    if(*p == ';')
      p++;
  }
  free(c);
  return rc;
}

int ui_csrf_ok(struct req *r, const char *csrf)
{
  char *t = req_header(r, "x-csrf-token");
  int ok = t && csrf && strlen(csrf) == UI_SESSION_HEX &&
           strlen(t) == UI_SESSION_HEX &&
           !CRYPTO_memcmp(t, csrf, UI_SESSION_HEX);

  free(t);
  return ok;
}

static void job_work(void *ud)
{
  struct ui_job *j = ud;

  switch(j->op) {
  case UI_CREATE:
    j->rc = store_ui_session_create(j->db, j->hash, j->key_id, j->admin_tag,
                                    j->csrf, j->now_s, j->ttl_s, j->err,
                                    sizeof(j->err));
    break;
  case UI_GET:
  case UI_LOOKUP:
    j->rc = store_ui_session_get(j->db, j->hash, j->now_s, &j->s, j->err,
                                 sizeof(j->err));
    break;
  case UI_DELETE:
    j->rc = store_ui_session_get(j->db, j->hash, j->now_s, &j->s, j->err,
                                 sizeof(j->err));
    if(j->rc)
      break;
    /* Signing out is a write: a page of another site must not do it. */
    if(strlen(j->csrf) != UI_SESSION_HEX ||
       strlen(j->s.csrf) != UI_SESSION_HEX ||
       CRYPTO_memcmp(j->csrf, j->s.csrf, UI_SESSION_HEX)) {
      j->rc = CSRF_MISMATCH;
      break;
    }
    j->rc = store_ui_session_delete(j->db, j->hash, j->err, sizeof(j->err));
    break;
  }
}

static void job_free(struct ui_job *j)
{
  OPENSSL_cleanse(j, sizeof(*j));
  free(j);
}

static void fail(struct req *r, int status, const char *code, const char *msg)
{
  struct api_error err;

  api_error_set(&err, status,
                status >= 500 ? "server_error" : "invalid_request_error", code,
                NULL, "%s", msg);
  req_respond_error(r, &err);
}

static void no_session(struct req *r)
{
  fail(r, 401, "invalid_session",
       "Not signed in, or the session has ended: sign in again.");
}

static void store_failed(struct req *r, const struct ui_job *j)
{
  struct api_error err;

  api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                "The session store is not available: %s", j->err);
  req_respond_error(r, &err);
}

static void set_cookie(struct req *r, const char *value, int64_t max_age)
{
  char v[192];

  /* No Secure: the gateway serves plain HTTP (docs/reference.md,
   * "Dashboard"). */
  snprintf(v, sizeof(v),
           UI_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%lld",
           value, (long long)max_age);
  req_add_header(r, "set-cookie", v);
}

/* The role is not stored with the session: it is the key's, read from
 * the keys in memory each time, so the page and the guard never disagree. */
static void respond_session(struct req *r, const char *name, const char *csrf,
                            int read_only)
{
  cJSON *o = cJSON_CreateObject();
  char *json;

  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "csrf_token", csrf);
  cJSON_AddBoolToObject(o, "read_only", read_only);
  json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

/* 1 when a session of SWITCHBOARD_ADMIN_KEY (key_id "") was made with
 * the credential the gateway has now, or the session is a key's. */
static int same_admin(struct req *r, const struct store_ui_session *s)
{
  const char *tag = adm_admin_env_tag(r->gw->adm);

  if(s->key_id[0])
    return 1;
  return tag && strlen(tag) == strlen(s->admin_tag) &&
         !CRYPTO_memcmp(tag, s->admin_tag, strlen(tag));
}

/* The session names a key that may still use the admin API: r is granted
 * it. 0, or 1 after answering 401. */
static int grant_session(struct req *r, const char *key_id)
{
  struct api_error err;

  if(adm_admit_as(r->gw->adm, key_id, sb_now_ms(), &r->grant, &err)) {
    no_session(r);
    return 1;
  }
  r->granted = 1; /* released when r settles */
  if(!r->grant.admin) {
    no_session(r);
    return 1;
  }
  return 0;
}

static void job_done(struct req *r, void *ud)
{
  struct ui_job *j = ud;

  if(!r) {
    job_free(j);
    return;
  }
  switch(j->op) {
  case UI_CREATE:
    if(j->rc) {
      store_failed(r, j);
      break;
    }
    set_cookie(r, j->cookie, j->ttl_s);
    respond_session(r, j->name, j->csrf, j->read_only);
    break;
  case UI_GET:
    if(j->rc == SB_ENOTFOUND)
      no_session(r);
    else if(j->rc)
      store_failed(r, j);
    else if(!same_admin(r, &j->s))
      no_session(r);
    else if(!grant_session(r, j->s.key_id))
      respond_session(r, r->grant.name, j->s.csrf, r->grant.read_only);
    break;
  case UI_DELETE:
    if(j->rc == SB_ENOTFOUND) {
      no_session(r);
    } else if(j->rc == CSRF_MISMATCH) {
      fail(r, 403, "csrf_token_invalid",
           "Signing out needs the session's token as X-CSRF-Token.");
    } else if(j->rc) {
      store_failed(r, j);
    } else {
      set_cookie(r, "", 0);
      req_respond_json(r, 204, "", 0);
    }
    break;
  case UI_LOOKUP:
    if(j->rc || !same_admin(r, &j->s))
      j->lookup_done(r, NULL, NULL);
    else
      j->lookup_done(r, j->s.key_id, j->s.csrf);
    break;
  }
  job_free(j);
}

static struct ui_job *job_new(struct req *r, enum ui_op op)
{
  struct ui_job *j = sb_calloc(1, sizeof(*j));

  j->op = op;
  j->db = r->gw->cfg->database;
  j->now_s = sb_now_ms() / 1000;
  j->ttl_s = r->gw->cfg->ui.session_ttl_s;
  return j;
}

static int run(struct req *r, struct ui_job *j)
{
  if(req_offload(r, job_work, job_done, j)) {
    job_free(j);
    return SB_EIO;
  }
  return 0;
}

/* 429 for an address locked out of signing in. */
static void locked_out(struct req *r, int64_t retry_after_s)
{
  struct api_error err;

  api_error_set(&err, 429, "rate_limit_error", "signin_locked", NULL,
                "Too many failed sign-ins from this address: try again in "
                "%lld s (ui.signin_max_failures, ui.signin_window_s).",
                (long long)retry_after_s);
  err.retry_after_s = (int)retry_after_s;
  req_respond_error(r, &err);
}

/* POST /ui/session {"credential": "..."}: sign in with an admin or
 * viewer credential. Failures count against the client's address
 * (admission/lockout.h): the socket's peer, never a forwarded-for header
 * a client could write itself. */
static void sign_in(struct req *r)
{
  struct lockout *lo = r->gw->signin_lockout;
  char peer[LOCKOUT_ADDR_MAX] = "";
  int64_t wait_s;
  cJSON *body;
  const cJSON *cred;
  struct adm_grant g;
  struct api_error err;
  struct ui_job *j;

  lws_get_peer_simple(r->wsi, peer, sizeof(peer));
  /* Locked out: refused before the credential is even read. */
  if(lo && lockout_check(lo, peer, sb_now_ms(), &wait_s)) {
    locked_out(r, wait_s);
    return;
  }
  body = chat_parse_body(r);
  if(!body)
    return;
  cred = cJSON_GetObjectItemCaseSensitive(body, "credential");
  if(!cJSON_IsString(cred) || !cred->valuestring[0]) {
    cJSON_Delete(body);
    fail(r, 400, "invalid_value",
         "Send {\"credential\": \"<admin key>\"} to sign in.");
    return;
  }
  /* Counted as a failure until it proves good, in one step with the
   * check, so that parallel attempts on several workers cannot overrun
   * the limit. */
  if(lo && lockout_attempt(lo, peer, sb_now_ms(), &wait_s)) {
    OPENSSL_cleanse(cred->valuestring, strlen(cred->valuestring));
    cJSON_Delete(body);
    locked_out(r, wait_s);
    return;
  }
  /* The same check as the admin API's: 401 for an unknown key, 403 for a
   * gateway key, 429 over its limits; counted in the request metrics. */
  if(adm_admit(r->gw->adm, cred->valuestring, sb_now_ms(), 1, &g, &err)) {
    OPENSSL_cleanse(cred->valuestring, strlen(cred->valuestring));
    cJSON_Delete(body);
    /* A key over its own limits is a good credential, not a guess. */
    if(lo && err.status == 429)
      lockout_clear(lo, peer);
    req_respond_error(r, &err);
    return;
  }
  if(lo)
    lockout_clear(lo, peer);
  OPENSSL_cleanse(cred->valuestring, strlen(cred->valuestring));
  OPENSSL_cleanse(r->body.data, r->body.len);
  cJSON_Delete(body);
  r->grant = g;
  r->granted = 1; /* released when r settles */
  j = job_new(r, UI_CREATE);
  snprintf(j->key_id, sizeof(j->key_id), "%s", g.key_id);
  snprintf(j->name, sizeof(j->name), "%s", g.name);
  j->read_only = g.read_only;
  if(!g.key_id[0] && adm_admin_env_tag(r->gw->adm))
    snprintf(j->admin_tag, sizeof(j->admin_tag), "%s",
             adm_admin_env_tag(r->gw->adm));
  if(random_hex(j->cookie, UI_SESSION_HEX / 2) ||
     random_hex(j->csrf, UI_SESSION_HEX / 2)) {
    job_free(j);
    fail(r, 500, "internal_error", "No randomness for a session.");
    return;
  }
  store_key_hash(j->cookie, j->hash);
  if(run(r, j))
    fail(r, 500, "internal_error", "Could not reach the session store.");
}

void ui_session(struct req *r)
{
  char cookie[UI_SESSION_HEX + 1];
  struct ui_job *j;

  if(r->method == LWSHUMETH_POST) {
    sign_in(r);
    return;
  }
  if(session_cookie(r, cookie)) {
    no_session(r);
    return;
  }
  j = job_new(r, r->method == LWSHUMETH_DELETE ? UI_DELETE : UI_GET);
  store_key_hash(cookie, j->hash);
  OPENSSL_cleanse(cookie, sizeof(cookie));
  if(j->op == UI_DELETE) {
    char *t = req_header(r, "x-csrf-token");
    if(t && strlen(t) == UI_SESSION_HEX)
      memcpy(j->csrf, t, UI_SESSION_HEX);
    free(t);
  }
  if(run(r, j))
    fail(r, 500, "internal_error", "Could not reach the session store.");
}

int ui_session_lookup(struct req *r,
                      void (*done)(struct req *r, const char *key_id,
                                   const char *csrf))
{
  char cookie[UI_SESSION_HEX + 1];
  struct ui_job *j;

  if(session_cookie(r, cookie))
    return SB_ENOTFOUND;
  j = job_new(r, UI_LOOKUP);
  store_key_hash(cookie, j->hash);
  OPENSSL_cleanse(cookie, sizeof(cookie));
  j->lookup_done = done;
  return run(r, j);
}

int ui_session_grant(struct req *r, const char *key_id)
{
  return grant_session(r, key_id);
}
