/*
 * subreq.c - sub-requests over loopback to the gateway itself
 * (subreq.h).
 */
#include "gateway/subreq.h"
#include "base/buf.h"
#include "base/sb.h"
#include "gateway/worker.h"
#include "net/upstream.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBREQ_SECRET_BYTES 32
#define SUBREQ_PREFIX       "sk-sb-internal-"

struct subreq {
  struct req *r;
  struct upstream_xfer *x;
  struct buf body;
  subreq_cb cb;
  void *ud;
};

int subreq_init(struct gw *gw)
{
  unsigned char raw[SUBREQ_SECRET_BYTES];
  char *secret = gw->internal_secret;
  size_t n = strlen(SUBREQ_PREFIX);

  _Static_assert(sizeof(gw->internal_secret) >
                     sizeof(SUBREQ_PREFIX) + 2 * SUBREQ_SECRET_BYTES,
                 "room for the internal credential");
  if(RAND_bytes(raw, sizeof(raw)) != 1)
    return SB_EIO;
  memcpy(secret, SUBREQ_PREFIX, n);
  for(size_t i = 0; i < sizeof(raw); i++)
    snprintf(secret + n + 2 * i, 3, "%02x", raw[i]);
  OPENSSL_cleanse(raw, sizeof(raw));
  return 0;
}

int subreq_is_credential(const struct gw *gw, const char *s)
{
  size_t n = strnlen(gw->internal_secret, sizeof(gw->internal_secret));

  return n && s && strlen(s) == n && !CRYPTO_memcmp(s, gw->internal_secret, n);
}

static int on_data(void *ud, const char *p, size_t n)
{
  struct subreq *s = ud;

  return buf_append(&s->body, p, n) ? -1 : 0;
}

static void on_done(void *ud, const struct upstream_result *res)
{
  struct subreq *s = ud;
  struct req *r = s->r;
  cJSON *doc = s->body.data ? cJSON_Parse(s->body.data) : NULL;
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "choices"), 0),
      "message");
  const char *text =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "content"));
  const char *err = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(doc, "error"), "message"));
  char why[300];

  if(res->failed)
    snprintf(why, sizeof(why), "%s",
             res->message ? res->message : "transfer failed");
  else if(res->status != 200 || !text)
    snprintf(why, sizeof(why), "status %ld: %s", res->status,
             err ? err : "no answer");
  s->x = NULL;
  s->cb(r, !res->failed && res->status == 200 ? text : NULL,
        !res->failed && res->status == 200 && text ? NULL : why, s->ud);
  cJSON_Delete(doc);
  buf_free(&s->body);
  free(s);
}

/* The gateway's own address as a URL host: the loopback address for a
 * wildcard listener. */
static void self_host(const char *host, char *out, size_t len)
{
  if(!host || !*host || !strcmp(host, "0.0.0.0"))
    snprintf(out, len, "127.0.0.1");
  else if(!strcmp(host, "::"))
    snprintf(out, len, "[::1]");
  else if(strchr(host, ':'))
    snprintf(out, len, "[%s]", host);
  else
    snprintf(out, len, "%s", host);
}

int subreq_chat(struct req *r, const char *purpose, const cJSON *body,
                subreq_cb cb, void *ud, struct subreq **out)
{
  const struct config *cfg = r->gw->cfg;
  struct prov_http h;
  struct upstream_limits lim;
  struct upstream_cb ucb = {on_data, on_done};
  struct subreq *s;
  char host[300];
  int rc;

  *out = NULL;
  memset(&h, 0, sizeof(h));
  self_host(cfg->host, host, sizeof(host));
  h.url = sb_asprintf("http://%s:%d/v1/chat/completions", host, cfg->port);
  h.body = cJSON_PrintUnformatted(body);
  if(!h.body)
    abort();
  h.body_len = strlen(h.body);
  prov_http_add_header(&h, "content-type: application/json");
  prov_http_add_header(&h, "x-request-id: %s.%s", r->request_id, purpose);
  /* A gateway running open needs no credential (and must not forward
   * one upstream as the client's); else the key this request acts for. */
  if(adm_required(r->gw->adm) && r->granted) {
    prov_http_add_header(&h, "authorization: Bearer %s",
                         r->gw->internal_secret);
    prov_http_add_header(&h, SUBREQ_KEY_HEADER ": %s",
                         r->grant.key_id[0] ? r->grant.key_id : "-");
  }
  memset(&lim, 0, sizeof(lim));
  lim.connect_timeout_ms = cfg->limits.connect_timeout_ms;
  lim.total_timeout_ms = (long)cfg->limits.request_timeout_s * 1000;
  s = sb_calloc(1, sizeof(*s));
  s->r = r;
  s->cb = cb;
  s->ud = ud;
  buf_init(&s->body, SUBREQ_MAX_RESPONSE);
  rc = upstream_start(worker_upstream(r->w), &h, &lim, &ucb, s, &s->x);
  for(int i = 0; i < h.nheaders; i++)
    OPENSSL_cleanse(h.headers[i], strlen(h.headers[i]));
  prov_http_free(&h);
  if(rc) {
    buf_free(&s->body);
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void subreq_cancel(struct subreq *s)
{
  if(!s)
    return;
  if(s->x)
    upstream_cancel(s->x);
  buf_free(&s->body);
  free(s);
}
