/*
 * messages.c - the Anthropic Messages API inbound: POST /v1/messages and
 * /v1/messages/count_tokens.
 *
 * Anthropic in, Anthropic upstream out is a raw relay: the body reaches
 * the upstream with only "model" rewritten, and the upstream's answer or
 * stream reaches the client as it is (read for accounting on the way).
 * Every other provider is served through the canonical model:
 * codec/anth_msgs.h translates the body into a Chat Completions
 * request and renders the answer back.
 */
#include "codec/anth_msgs.h"
#include "gateway/http.h"
#include "codec/oai_chat.h"
#include "gateway/conv_turn.h"
#include "base/sb.h"
#include "providers/anthropic.h"

#include <stdlib.h>
#include <string.h>

/* Anthropic's clients send the key as x-api-key; the upstream code
 * (passthrough_auth) reads it from the Authorization value. */
static void take_x_api_key(struct req *r)
{
  char *key;

  if(r->authorization || r->granted)
    return; /* a gateway key is never forwarded */
  key = req_header(r, "x-api-key");
  if(key && *key)
    r->authorization = sb_asprintf("Bearer %s", key);
  free(key);
}

/* The model must be known before anything else: it picks the provider,
 * and with it the path the body takes. */
static int check_model(const cJSON *body, struct api_error *err)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");

  if(!cJSON_IsString(m) || !m->valuestring[0]) {
    api_error_set(err, 400, "invalid_request_error",
                  m ? "invalid_type" : "missing_required_parameter", "model",
                  m ? "model: Input should be a non-empty string"
                    : "model: Field required");
    return SB_EINVAL;
  }
  return 0;
}

static int is_anthropic(const struct prov *p)
{
  return p->kind == PROV_ADAPTER && p->adapter == &prov_anthropic_adapter;
}

static void relay(struct req *r, cJSON *body, const char *api_path)
{
  struct prov_client client = {r->authorization, NULL, 0};
  struct config_kv *fwd = chat_forwarded(r, &client.nfwd);
  char *version = req_header(r, "anthropic-version");
  char *betas = req_header(r, "anthropic-beta");
  struct prov_http http;

  client.fwd = fwd;
  prov_anthropic_build_passthrough(r->prov, body, r->upstream_model, api_path,
                                   NULL, version, betas, &client, &http);
  free(fwd);
  free(version);
  free(betas);
  chat_relay_raw(r, &http);
  prov_http_free(&http);
}

/* --- rendering ----------------------------------------------------------- */

static void respond_doc(struct req *r, cJSON *completion)
{
  char id[40];
  cJSON *msg;
  char *json;

  sb_random_id(id, sizeof(id), "msg_");
  msg = anth_msgs_from_completion(completion, id, r->model);
  cJSON_Delete(completion);
  json = cJSON_PrintUnformatted(msg);
  cJSON_Delete(msg);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

static int r_render(void *s, const struct canon_ev *ev, struct buf *out)
{
  return anth_stream_render(s, ev, out);
}

static int r_end(void *s, struct buf *out)
{
  return anth_stream_end(s, out);
}

static void r_free(void *s)
{
  anth_stream_free(s);
}

/* The body as a canonical request, or NULL after answering the error. */
static cJSON *translate(struct req *r, const cJSON *body)
{
  struct api_error err;
  char *dropped = NULL;
  cJSON *chat = NULL;

  if(anth_msgs_to_chat(body, &chat, &dropped, &err) ||
     oai_chat_validate(chat, &err)) {
    req_respond_error(r, &err);
    cJSON_Delete(chat);
    free(dropped);
    return NULL;
  }
  if(dropped)
    req_add_header(r, "x-switchboard-dropped-params", dropped);
  free(dropped);
  return chat;
}

void messages_handle(struct req *r)
{
  cJSON *body = chat_parse_body(r);
  char *conv;
  cJSON *chat;

  if(!body)
    return;
  take_x_api_key(r);
  r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  if(chat_route(r, body, check_model)) {
    cJSON_Delete(body);
    return;
  }
  /* Anthropic's metadata takes only user_id: the conversation comes in a
   * header. */
  conv = req_header(r, CONV_TURN_HEADER);
  if(conv && !conv[0]) {
    free(conv);
    conv = NULL;
  }
  /* A route may fall back to another kind: it goes through the
   * canonical model whatever its first target; so does a conversation's
   * turn, whose answer is stored, and a request the cache may answer or
   * keep (its entries are canonical answers). */
  if(is_anthropic(r->prov) && !r->run && !conv && !r->cache) {
    relay(r, body, "/v1/messages");
    cJSON_Delete(body);
    return;
  }
  chat = translate(r, body);
  cJSON_Delete(body);
  if(!chat) {
    free(conv);
    return;
  }
  r->respond_doc = respond_doc;
  if(r->stream) {
    char id[40];
    sb_random_id(id, sizeof(id), "msg_");
    r->rend = (struct req_render){anth_stream_new(id, r->model), r_render,
                                  r_end, r_free};
  }
  if(conv) {
    conv_turn_chat(r, conv, chat); /* takes chat */
    free(conv);
    return;
  }
  chat_serve(r, chat);
  cJSON_Delete(chat);
}

/* --- count_tokens -------------------------------------------------------- */

/* Characters of every string in v: what the estimate counts. */
static size_t text_chars(const cJSON *v)
{
  size_t n = 0;
  const cJSON *c;

  if(cJSON_IsString(v))
    return strlen(v->valuestring);
  cJSON_ArrayForEach(c, v)
  {
    /* Images and files are counted by a flat rate below, not by their
     * base64 size. */
    if(c->string && (!strcmp(c->string, "url") || !strcmp(c->string, "data") ||
                     !strcmp(c->string, "file_data")))
      n += 1600 * 4;
    else
      n += text_chars(c) + (c->string ? strlen(c->string) : 0);
  }
  return n;
}

void messages_count_tokens(struct req *r)
{
  cJSON *body = chat_parse_body(r);
  cJSON *chat, *o;
  char *json;

  if(!body)
    return;
  take_x_api_key(r);
  if(chat_route(r, body, check_model)) {
    cJSON_Delete(body);
    return;
  }
  if(is_anthropic(r->prov) && !r->run) {
    relay(r, body, "/v1/messages/count_tokens");
    cJSON_Delete(body);
    return;
  }
  /* count_tokens takes no max_tokens; the translation wants one. */
  if(!cJSON_HasObjectItem(body, "max_tokens"))
    cJSON_AddNumberToObject(body, "max_tokens", 1);
  chat = translate(r, body);
  cJSON_Delete(body);
  if(!chat)
    return;
  /* No other kind has a count matching Anthropic's semantics: about four
   * characters a token, said so in a header and a field. */
  o = cJSON_CreateObject();
  cJSON_AddNumberToObject(
      o, "input_tokens",
      (double)((text_chars(cJSON_GetObjectItemCaseSensitive(chat, "messages")) +
                text_chars(cJSON_GetObjectItemCaseSensitive(chat, "tools")) +
                3) /
               4));
  cJSON_AddBoolToObject(o, "estimated", 1);
  cJSON_Delete(chat);
  json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if(!json)
    abort();
  req_add_header(r, "x-switchboard-token-count", "estimate");
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}
