/*
 * bodylog.c - request and response bodies kept with their record
 * (bodylog.h).
 */
#include "gateway/bodylog.h"
#include "gateway/http.h"
#include "base/sb.h"
#include "config/config.h"
#include "gateway/subreq.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers lws keeps apart from its known tokens are only reachable by
 * name (lws 4.1 cannot list them): the ones clients of an LLM API send. */
static const char *const custom_names[] = {
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
    "openai-organization",
    "openai-project",
    "idempotency-key",
    "x-request-id",
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-switchboard-conversation",
    "x-switchboard-route",
    SUBREQ_KEY_HEADER,
    "mcp-session-id",
    "mcp-protocol-version",
};

/* A header whose value is a credential, shown only as "[redacted]". */
static int secret_header(const char *name)
{
  return config_credential_header(name) || !strcasecmp(name, "set-cookie") ||
         !strcasecmp(name, SUBREQ_KEY_HEADER);
}

static void add(cJSON *o, const char *name, char *value)
{
  if(!value)
    return;
  cJSON_AddStringToObject(o, name, secret_header(name) ? "[redacted]" : value);
  free(value);
}

/* The value of a header lws keeps under token t, or NULL. Caller frees. */
static char *token_value(struct req *r, enum lws_token_indexes t)
{
  int n = lws_hdr_total_length(r->wsi, t);
  char *v;

  if(n <= 0)
    return NULL;
  v = sb_malloc((size_t)n + 1);
  if(lws_hdr_copy(r->wsi, v, n + 1, t) < 0) {
    free(v);
    return NULL;
  }
  return v;
}

static char *headers_json(struct req *r)
{
  cJSON *o = cJSON_CreateObject();
  char name[96], *s;

  for(int t = 0; t < WSI_TOKEN_COUNT; t++) {
    const unsigned char *tn = lws_token_to_string((enum lws_token_indexes)t);
    size_t n;
    /* Only header tokens ("name:"), not the request line's ("get "). */
    if(!tn || !(n = strlen((const char *)tn)) || tn[n - 1] != ':' ||
       n >= sizeof(name) || t == WSI_TOKEN_HTTP_URI_ARGS)
      continue;
    memcpy(name, tn, n - 1);
    name[n - 1] = '\0';
    if(cJSON_GetObjectItemCaseSensitive(o, name))
      continue;
    add(o, name, token_value(r, (enum lws_token_indexes)t));
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(custom_names); i++)
    add(o, custom_names[i], req_header(r, custom_names[i]));
  s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

void bodylog_begin(struct req *r)
{
  const struct config_logging *l = &r->gw->cfg->logging;

  if(!l->bodies || r->log)
    return;
  r->log = sb_calloc(1, sizeof(*r->log));
  buf_init(&r->log->out, l->body_max_bytes);
  r->log->headers = headers_json(r);
}

void bodylog_out(struct req *r, const void *p, size_t n)
{
  size_t room;

  if(!r->log || !n)
    return;
  room = r->log->out.max - r->log->out.len;
  if(n > room) {
    r->log->out_truncated = 1;
    n = room;
  }
  if(n && buf_append(&r->log->out, p, n))
    r->log->out_truncated = 1;
}

void bodylog_take(struct req *r, struct store_usage *rec)
{
  size_t max = r->gw->cfg->logging.body_max_bytes;
  size_t n = r->body.len < max ? r->body.len : max;

  if(!r->log)
    return;
  rec->body_headers = r->log->headers;
  r->log->headers = NULL;
  rec->body_request = sb_malloc(n + 1);
  if(n)
    memcpy(rec->body_request, r->body.data, n);
  rec->body_request[n] = '\0';
  rec->body_request_truncated = r->body.len > max;
  rec->body_response = buf_take(&r->log->out, NULL);
  if(!rec->body_response)
    rec->body_response = sb_strdup("");
  rec->body_response_truncated = r->log->out_truncated;
}

void bodylog_free(struct req *r)
{
  if(!r->log)
    return;
  free(r->log->headers);
  buf_free(&r->log->out);
  free(r->log);
  r->log = NULL;
}
