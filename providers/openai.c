#include "providers/openai.h"
#include "gateway/sb.h"
#include "gateway/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Headers every request to this upstream carries: credentials (the
 * gateway's or, with passthrough_auth, the client's), configured extras
 * and the client headers this provider forwards. */
static void add_headers(const struct prov *p, const struct prov_client *client,
                        struct prov_http *out)
{
  const struct config_provider *c = p->cfg;

  /* curl would otherwise send Expect: 100-continue for large bodies. */
  prov_http_add_header(out, "Expect:");
  if(c->passthrough_auth) {
    if(client->authorization)
      prov_http_add_header(out, "Authorization: %s", client->authorization);
  } else if(p->api_key) {
    if(p->azure)
      prov_http_add_header(out, "api-key: %s", p->api_key);
    else
      prov_http_add_header(out, "Authorization: Bearer %s", p->api_key);
  }
  for(int i = 0; i < c->nheaders; i++)
    prov_http_add_header(out, "%s: %s", c->headers[i].name,
                         c->headers[i].value);
  for(int i = 0; i < client->nfwd; i++)
    prov_http_add_header(out, "%s: %s", client->fwd[i].name,
                         client->fwd[i].value);
}

int prov_openai_build_chat(const struct prov *p, cJSON *body,
                           const char *upstream_model,
                           const struct prov_client *client,
                           struct prov_http *out, int *client_usage)
{
  const struct config_provider *c = p->cfg;
  cJSON *so;
  char *json;
  int stream;

  memset(out, 0, sizeof(*out));
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model",
                                         cJSON_CreateString(upstream_model));
  stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
  *client_usage =
      stream &&
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
  if(stream && c->stream_usage && !*client_usage) {
    /* Ask for usage anyway so every stream is accounted; the usage chunk
     * is removed again on the way back. */
    if(!cJSON_IsObject(so)) {
      cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
      so = cJSON_AddObjectToObject(body, "stream_options");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
    cJSON_AddTrueToObject(so, "include_usage");
  }
  json = cJSON_PrintUnformatted(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  if(!p->azure)
    out->url = sb_asprintf("%s/chat/completions", p->base_url);
  else if(p->azure_api_version)
    /* Dated API: the deployment is in the path; the body's model is
     * ignored there. */
    out->url = sb_asprintf("%s/openai/deployments/%s/chat/completions"
                           "?api-version=%s",
                           p->base_url, upstream_model, p->azure_api_version);
  else
    out->url = sb_asprintf("%s/openai/v1/chat/completions", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: %s",
                       stream ? "text/event-stream" : "application/json");
  add_headers(p, client, out);
  return 0;
}

void prov_openai_build_embeddings(const struct prov *p, cJSON *body,
                                  const char *upstream_model,
                                  const struct prov_client *client,
                                  struct prov_http *out)
{
  char *json;

  memset(out, 0, sizeof(*out));
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model",
                                         cJSON_CreateString(upstream_model));
  json = cJSON_PrintUnformatted(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  if(!p->azure)
    out->url = sb_asprintf("%s/embeddings", p->base_url);
  else if(p->azure_api_version)
    out->url = sb_asprintf("%s/openai/deployments/%s/embeddings"
                           "?api-version=%s",
                           p->base_url, upstream_model, p->azure_api_version);
  else
    out->url = sb_asprintf("%s/openai/v1/embeddings", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: application/json");
  add_headers(p, client, out);
}

void prov_openai_build_models(const struct prov *p, struct prov_http *out)
{
  const struct config_provider *c = p->cfg;

  memset(out, 0, sizeof(*out));
  out->url = p->azure ? sb_asprintf("%s/openai/v1/models", p->base_url)
                      : sb_asprintf("%s/models", p->base_url);
  prov_http_add_header(out, "Accept: application/json");
  if(p->api_key && !c->passthrough_auth)
    prov_http_add_header(
        out, p->azure ? "api-key: %s" : "Authorization: Bearer %s", p->api_key);
  for(int i = 0; i < c->nheaders; i++)
    prov_http_add_header(out, "%s: %s", c->headers[i].name,
                         c->headers[i].value);
}

int prov_openai_parse_models(const char *body, size_t len, char ***models,
                             int *nmodels)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  const cJSON *m;
  char **v;
  int n = 0;

  if(!cJSON_IsArray(data)) {
    cJSON_Delete(root);
    return SB_EPROTO;
  }
  v = sb_calloc((size_t)cJSON_GetArraySize(data) + 1, sizeof(char *));
  cJSON_ArrayForEach(m, data)
  {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    if(cJSON_IsString(id) && id->valuestring[0])
      v[n++] = sb_strdup(id->valuestring);
  }
  cJSON_Delete(root);
  *models = v;
  *nmodels = n;
  return 0;
}

static const char *json_str(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The message of an upstream error body: OpenAI's {"error":{...}}, or a
 * bare {"error":"..."} / {"message":"..."} as some compatible servers
 * send. Returns the parsed object for type/code lookup (may be NULL). */
static const cJSON *error_object(const cJSON *root, const char **message)
{
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");

  *message = NULL;
  if(cJSON_IsObject(e)) {
    *message = json_str(e, "message");
    return e;
  }
  if(cJSON_IsString(e))
    *message = e->valuestring;
  else
    *message = json_str(root, "message");
  return NULL;
}

void prov_openai_map_error(const struct prov *p, int status, const char *body,
                           size_t len, const char *retry_after,
                           const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const char *msg = NULL;
  const cJSON *e = error_object(root, &msg);
  const char *type = e ? json_str(e, "type") : NULL;
  const char *code = e ? json_str(e, "code") : NULL;
  const char *param = e ? json_str(e, "param") : NULL;
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if((status == 401 || status == 403) && own_credential) {
    /* The upstream refused the gateway's credential: the client can do
     * nothing about it, and the upstream's message may quote the key. */
    api_error_set(err, 502, "upstream_error", "upstream_auth_failed", NULL,
                  "Provider '%s' rejected the gateway's credentials "
                  "(upstream status %d).",
                  p->name, status);
  } else if(status == 503 || status == 529) {
    api_error_set(err, 503, "upstream_error", "upstream_unavailable", NULL,
                  "Provider '%s' is overloaded or unavailable%s%s", p->name,
                  msg ? ": " : ".", msg ? msg : "");
  } else if(status >= 500 || status < 400) {
    api_error_set(err, 502, "upstream_error", "upstream_error", NULL,
                  "Provider '%s' failed with status %d%s%s", p->name, status,
                  msg ? ": " : ".", msg ? msg : "");
  } else {
    api_error_set(err, status, type ? type : "invalid_request_error", code,
                  param, "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(status == 429 || status == 503 || status == 529) {
    if(retry_after)
      err->retry_after_s = atoi(retry_after);
    if(retry_after_ms)
      err->retry_after_ms = atoi(retry_after_ms);
  }
  cJSON_Delete(root);
}

static void read_usage(const cJSON *root, struct prov_usage *u)
{
  const cJSON *us = cJSON_GetObjectItemCaseSensitive(root, "usage");
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(us, "prompt_tokens");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(us, "completion_tokens");

  if(cJSON_IsNumber(pt))
    u->prompt_tokens = (int64_t)pt->valuedouble;
  if(cJSON_IsNumber(ct))
    u->completion_tokens = (int64_t)ct->valuedouble;
}

int prov_openai_parse_response(const char *body, size_t len,
                               struct prov_usage *u, struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);

  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The upstream provider sent a response that is not JSON.");
    return SB_EPROTO;
  }
  read_usage(root, u);
  cJSON_Delete(root);
  return 0;
}

void prov_openai_stream_init(struct prov_openai_stream *s, int client_usage)
{
  memset(s, 0, sizeof(*s));
  s->client_usage = client_usage;
  s->usage.prompt_tokens = -1;
  s->usage.completion_tokens = -1;
}

int prov_openai_stream_event(struct prov_openai_stream *s, const char *data,
                             size_t len, struct buf *out, struct api_error *err)
{
  cJSON *root, *usage;
  const char *msg;
  int rc;

  if(len == 6 && !memcmp(data, "[DONE]", 6)) {
    s->done = 1;
    return sse_write_event(out, NULL, data, len);
  }
  root = cJSON_ParseWithLength(data, len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The upstream provider sent a malformed stream chunk.");
    return SB_EPROTO;
  }
  if(cJSON_GetObjectItemCaseSensitive(root, "error")) {
    const cJSON *e = error_object(root, &msg);
    const char *code = e ? json_str(e, "code") : NULL;
    /* Same type as every other upstream failure; the upstream's code
     * and message are kept. */
    api_error_set(err, 502, "upstream_error", code ? code : "upstream_error",
                  NULL, "%s",
                  msg ? msg : "The upstream provider failed mid-stream.");
    cJSON_Delete(root);
    return SB_EIO;
  }
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if(cJSON_IsObject(usage))
    read_usage(root, &s->usage);
  if(s->client_usage || !usage) {
    /* Pass-through: the client gets the upstream's bytes unchanged. */
    cJSON_Delete(root);
    return sse_write_event(out, NULL, data, len);
  }
  /* We asked for usage on the client's behalf: hide it again. */
  if(cJSON_IsObject(usage) &&
     !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "choices"))) {
    cJSON_Delete(root);
    return 0;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
  {
    char *s2 = cJSON_PrintUnformatted(root);
    if(!s2)
      abort();
    rc = sse_write_event(out, NULL, s2, strlen(s2));
    free(s2);
  }
  cJSON_Delete(root);
  return rc;
}
