/*
 * responses.c - the OpenAI Responses API inbound: POST /v1/responses,
 * GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items.
 *
 * Every provider is served through the canonical model
 * (codec/oai_resp.h translates and renders). With store (the API's
 * default) the response, its input items and the whole conversation as
 * chat messages go to SQLite through the store's writer queue, so that
 * previous_response_id continues a conversation on any provider. A
 * request naming a conversation (store/conv.h) continues it instead: its
 * items come first, and the turn's input and output are appended to it
 * (gateway/conv_turn.h). Reads
 * block on the disk, so they run on libuv's thread pool, never on the
 * loop.
 */
#include "gateway/http.h"
#include "codec/oai_chat.h"
#include "codec/oai_err.h"
#include "codec/oai_resp.h"
#include "base/sb.h"
#include "gateway/conv_turn.h"
#include "gateway/worker.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

struct resp_state {
  cJSON *req;     /* the client's body */
  cJSON *history; /* stored conversation of previous_response_id, or NULL */
  cJSON *turn;    /* this turn's input as chat messages */
  cJSON *items;   /* this turn's input as the items stored, ids given */
  char id[40];
  int64_t created_at;
  int store;
};

/* A read of a stored response, run on the thread pool (req_offload). */
struct lookup {
  struct store *st;
  char *id;
  void (*done)(struct req *r, struct store_response *res, int rc);
  struct store_response *res;
  int rc;
};

static void lookup_work(void *ud)
{
  struct lookup *lk = ud;

  lk->rc = store_response_get(lk->st, lk->id, &lk->res);
}

static void lookup_done(struct req *r, void *ud)
{
  struct lookup *lk = ud;

  if(r && !lk->rc && !req_visible(r, lk->res->key_id)) {
    store_response_free(lk->res);
    lk->res = NULL;
    lk->rc = SB_ENOTFOUND;
  }
  if(r)
    lk->done(r, lk->res, lk->rc);
  else
    store_response_free(lk->res); /* the client went away */
  free(lk->id);
  free(lk);
}

static void state_free(struct req *r)
{
  struct resp_state *rs = r->api_state;

  if(!rs)
    return;
  cJSON_Delete(rs->req);
  cJSON_Delete(rs->history);
  cJSON_Delete(rs->turn);
  cJSON_Delete(rs->items);
  free(rs);
  r->api_state = NULL;
}

static struct resp_state *state_of(struct req *r)
{
  if(!r->api_state) {
    r->api_state = sb_calloc(1, sizeof(struct resp_state));
    r->api_free = state_free;
  }
  return r->api_state;
}

static void start_lookup(struct req *r, const char *id,
                         void (*done)(struct req *, struct store_response *,
                                      int))
{
  struct lookup *lk = sb_calloc(1, sizeof(*lk));
  struct api_error err;

  lk->st = r->gw->store;
  lk->id = sb_strdup(id);
  lk->done = done;
  if(req_offload(r, lookup_work, lookup_done, lk)) {
    free(lk->id);
    free(lk);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not read the response store.");
    req_respond_error(r, &err);
  }
}

static void not_found(struct req *r, const char *param, const char *id)
{
  struct api_error err;

  api_error_set(&err, 404, "invalid_request_error", "not_found", param,
                param ? "Previous response with id '%s' not found."
                      : "Response with id '%s' not found.",
                id);
  req_respond_error(r, &err);
}

static void store_failed(struct req *r)
{
  struct api_error err;

  api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                "The response store is not available; retry later.");
  req_respond_error(r, &err);
}

/* --- storing ------------------------------------------------------------- */

/* This turn's input as the list of items GET .../input_items returns and
 * a conversation stores (new). */
static cJSON *input_items(const cJSON *req)
{
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "input");
  cJSON *items;

  if(cJSON_IsString(in)) {
    cJSON *m = cJSON_CreateObject(), *part = cJSON_CreateObject();
    items = cJSON_CreateArray();
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(part, "type", "input_text");
    cJSON_AddStringToObject(part, "text", in->valuestring);
    cJSON_AddStringToObject(m, "status", "completed");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "content"), part);
    cJSON_AddItemToArray(items, m);
  } else {
    items = cJSON_IsArray(in) ? cJSON_Duplicate(in, 1) : cJSON_CreateArray();
  }
  /* Listed items carry ids, as OpenAI's do; the client's own are kept. */
  for(cJSON *it = items->child; it; it = it->next) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
    char id[40];

    if(!cJSON_IsObject(it))
      continue;
    if(!type && cJSON_HasObjectItem(it, "role")) {
      /* An easy input message is listed as the message item it stands
       * for. */
      const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
      cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
      cJSON_AddStringToObject(it, "type", "message");
      if(cJSON_IsString(c)) {
        cJSON *part = cJSON_CreateObject();
        int out =
            cJSON_IsString(role) && !strcmp(role->valuestring, "assistant");
        cJSON_AddStringToObject(part, "type",
                                out ? "output_text" : "input_text");
        cJSON_AddStringToObject(part, "text", c->valuestring);
        if(out)
          cJSON_AddArrayToObject(part, "annotations");
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, part);
        cJSON_ReplaceItemInObjectCaseSensitive(it, "content", arr);
      }
      type = cJSON_GetObjectItemCaseSensitive(it, "type");
    }
    if(!cJSON_HasObjectItem(it, "status") && cJSON_IsString(type) &&
       !strcmp(type->valuestring, "message"))
      cJSON_AddStringToObject(it, "status", "completed");
    if(cJSON_HasObjectItem(it, "id"))
      continue;
    if(!type || (cJSON_IsString(type) && !strcmp(type->valuestring, "message")))
      sb_random_id(id, sizeof(id), "msg_");
    else
      sb_random_id(id, sizeof(id), "item_");
    cJSON_AddStringToObject(it, "id", id);
  }
  return items;
}

/* The turn completed with response: stored, and appended to its
 * conversation. Both are queued before the client has the answer, so its
 * next request (on any worker) reads them back: reads see queued
 * writes. */
static void save(struct req *r, const cJSON *response);

static void completed(struct req *r, const cJSON *response)
{
  save(r, response);
  conv_turn_append(r, cJSON_GetObjectItemCaseSensitive(response, "output"));
}

static void save(struct req *r, const cJSON *response)
{
  struct resp_state *rs = r->api_state;
  const cJSON *prev =
      cJSON_GetObjectItemCaseSensitive(rs->req, "previous_response_id");
  struct store_response *rec;
  cJSON *ctx;

  if(!rs->store)
    return;
  ctx = rs->history ? cJSON_Duplicate(rs->history, 1) : cJSON_CreateArray();
  for(const cJSON *m = rs->turn ? rs->turn->child : NULL; m; m = m->next)
    cJSON_AddItemToArray(ctx, cJSON_Duplicate(m, 1));
  oai_resp_output_to_messages(response, ctx);
  rec = sb_calloc(1, sizeof(*rec));
  rec->id = sb_strdup(rs->id);
  rec->created_at = rs->created_at;
  rec->model = sb_strdup(r->model);
  rec->previous_response_id =
      cJSON_IsString(prev) ? sb_strdup(prev->valuestring) : NULL;
  rec->response = cJSON_PrintUnformatted(response);
  rec->input_items = cJSON_PrintUnformatted(rs->items);
  rec->context = cJSON_PrintUnformatted(ctx);
  rec->key_id = req_owner(r) ? sb_strdup(req_owner(r)) : NULL;
  cJSON_Delete(ctx);
  if(!rec->response || !rec->input_items || !rec->context)
    abort();
  store_response_put(r->gw->store, rec);
}

/* --- rendering ----------------------------------------------------------- */

static void respond_doc(struct req *r, cJSON *completion)
{
  struct resp_state *rs = r->api_state;
  cJSON *resp = oai_resp_from_completion(rs->req, completion, rs->id,
                                         rs->created_at, r->model);
  char *json;

  cJSON_Delete(completion);
  completed(r, resp);
  json = cJSON_PrintUnformatted(resp);
  cJSON_Delete(resp);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

static void stream_done(struct req *r)
{
  completed(r, oai_resp_stream_response(r->rend.s));
}

static int r_render(void *s, const struct canon_ev *ev, struct buf *out)
{
  return oai_resp_stream_render(s, ev, out);
}

static int r_end(void *s, struct buf *out)
{
  return oai_resp_stream_end(s, out);
}

static void r_free(void *s)
{
  oai_resp_stream_free(s);
}

/* --- create -------------------------------------------------------------- */

static void serve_fitted(struct req *r, cJSON *chat);

static void serve(struct req *r)
{
  struct resp_state *rs = r->api_state;
  struct api_error err;
  char *dropped = NULL;
  cJSON *chat = NULL;

  if(oai_resp_to_chat(rs->req, rs->history, &chat, &rs->turn, &dropped, &err) ||
     oai_chat_validate(chat, &err)) {
    req_respond_error(r, &err);
    cJSON_Delete(chat);
    free(dropped);
    return;
  }
  if(dropped)
    req_add_header(r, "x-switchboard-dropped-params", dropped);
  free(dropped);
  if(conv_turn_id(r)) {
    /* [instructions] + the conversation + this turn. */
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(rs->req, "instructions");
    int nhistory = cJSON_GetArraySize(rs->history) +
                   (cJSON_IsString(in) && in->valuestring[0]);
    conv_turn_fit(r, chat, nhistory, serve_fitted);
    return;
  }
  serve_fitted(r, chat);
}

/* The request, fitted to its model when it continues a conversation
 * (chat taken): served. */
static void serve_fitted(struct req *r, cJSON *chat)
{
  struct resp_state *rs = r->api_state;

  rs->items = input_items(rs->req);
  if(conv_turn_id(r))
    conv_turn_set_input(r, cJSON_Duplicate(rs->items, 1));
  r->respond_doc = respond_doc;
  if(r->stream) {
    r->rend = (struct req_render){
        oai_resp_stream_new(rs->req, rs->id, rs->created_at, r->model),
        r_render, r_end, r_free};
    r->stream_done = stream_done;
  }
  chat_serve(r, chat);
  cJSON_Delete(chat);
}

/* --- item references ------------------------------------------------------
 *
 * {"type":"item_reference","id":"fc_…"} in input stands for an output item
 * of a stored response (the Vercel AI SDK sends them in every tool loop
 * with store on). They are read on the thread pool and put in place
 * before the input is translated, so the codec never sees one. */

/* At most this many references in one request. */
#define MAX_ITEM_REFS 256

struct items_job {
  struct store *st;
  int n;
  char **ids;
  char **items;  /* JSON, NULL when not found */
  char **owners; /* the owning response's key, or NULL */
  int rc;
};

static void items_job_free(struct items_job *j)
{
  for(int i = 0; i < j->n; i++) {
    free(j->ids[i]);
    free(j->items[i]);
    free(j->owners[i]);
  }
  free(j->ids);
  free(j->items);
  free(j->owners);
  free(j);
}

/* 1 when input item it is a reference: typed so, or untyped with an id
 * and no role (the API's shorthand). */
static int is_item_ref(const cJSON *it)
{
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");

  if(cJSON_IsString(t))
    return !strcmp(t->valuestring, "item_reference");
  return cJSON_IsObject(it) && (!t || cJSON_IsNull(t)) &&
         !cJSON_GetObjectItemCaseSensitive(it, "role") &&
         cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "id"));
}

static void items_work(void *ud)
{
  struct items_job *j = ud;

  for(int i = 0; i < j->n && !j->rc; i++) {
    int rc =
        store_response_item_get(j->st, j->ids[i], &j->items[i], &j->owners[i]);
    if(rc && rc != SB_ENOTFOUND)
      j->rc = rc;
  }
}

static void serve(struct req *r);

static void items_done(struct req *r, void *ud)
{
  struct items_job *j = ud;
  struct resp_state *rs;
  struct api_error err;
  cJSON *it, *input;
  int k = 0;

  if(!r) {
    items_job_free(j);
    return;
  }
  if(j->rc) {
    items_job_free(j);
    store_failed(r);
    return;
  }
  for(int i = 0; i < j->n; i++) {
    if(!j->items[i] || !req_visible(r, j->owners[i])) {
      api_error_set(&err, 404, "invalid_request_error", "not_found", "input",
                    "Item with id '%s' not found.", j->ids[i]);
      req_respond_error(r, &err);
      items_job_free(j);
      return;
    }
  }
  for(int i = 0; i < j->n; i++) {
    cJSON *item = cJSON_Parse(j->items[i]);
    int rc = chat_hold_more(r, item, &err);

    cJSON_Delete(item);
    if(rc) {
      req_respond_error(r, &err);
      items_job_free(j);
      return;
    }
  }
  rs = r->api_state;
  input = cJSON_GetObjectItemCaseSensitive(rs->req, "input");
  for(it = input->child; it; it = it->next) {
    cJSON *item;
    if(!is_item_ref(it))
      continue;
    item = cJSON_Parse(j->items[k++]);
    if(!item)
      abort(); /* written by this gateway as JSON */
    cJSON_ReplaceItemViaPointer(input, it, item);
    it = item;
  }
  items_job_free(j);
  serve(r);
}

/* Serve r once the item references of its input are resolved. */
static void resolve_items(struct req *r)
{
  struct resp_state *rs = r->api_state;
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(rs->req, "input");
  const cJSON *it;
  struct items_job *j;
  struct api_error err;
  int n = 0, i = 0;

  if(cJSON_IsArray(input)) {
    cJSON_ArrayForEach(it, input)
    {
      char p[OAI_ERR_PATH_LEN];

      if(!is_item_ref(it)) {
        i++;
        continue;
      }
      snprintf(p, sizeof(p), "input[%d]", i);
      if(oai_err_need_string(it, "id", p, NULL, &err)) {
        req_respond_error(r, &err);
        return;
      }
      n++;
      i++;
    }
  }
  if(!n) {
    serve(r);
    return;
  }
  if(n > MAX_ITEM_REFS) {
    api_error_set(&err, 400, "invalid_request_error", "invalid_value", "input",
                  "At most %d item references per request.", MAX_ITEM_REFS);
    req_respond_error(r, &err);
    return;
  }
  j = sb_calloc(1, sizeof(*j));
  j->st = r->gw->store;
  j->ids = sb_calloc((size_t)n, sizeof(char *));
  j->items = sb_calloc((size_t)n, sizeof(char *));
  j->owners = sb_calloc((size_t)n, sizeof(char *));
  cJSON_ArrayForEach(it, input)
  {
    if(is_item_ref(it))
      j->ids[j->n++] =
          sb_strdup(cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring);
  }
  if(req_offload(r, items_work, items_done, j)) {
    items_job_free(j);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not read the response store.");
    req_respond_error(r, &err);
  }
}

static void on_previous(struct req *r, struct store_response *res, int rc)
{
  struct resp_state *rs = r->api_state;
  struct api_error err;

  if(rc == SB_ENOTFOUND) {
    const cJSON *prev =
        cJSON_GetObjectItemCaseSensitive(rs->req, "previous_response_id");
    not_found(r, "previous_response_id", prev->valuestring);
    return;
  }
  if(rc) {
    store_failed(r);
    return;
  }
  rs->history = cJSON_Parse(res->context);
  /* The conversation is the prompt too: hold for it before going on. */
  if(chat_hold_more(r, rs->history, &err)) {
    store_response_free(res);
    req_respond_error(r, &err);
    return;
  }
  store_response_free(res);
  if(!cJSON_IsArray(rs->history)) {
    store_failed(r);
    return;
  }
  resolve_items(r);
}

/* The conversation's items are the history, as a previous response's
 * are. */
static void on_conversation(struct req *r, cJSON *history)
{
  struct resp_state *rs = r->api_state;

  rs->history = history;
  resolve_items(r);
}

/* The id of the request's conversation (a string, or {"id": string}), or
 * NULL. */
static const char *conversation_id(const cJSON *body)
{
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "conversation");

  if(cJSON_IsObject(c))
    c = cJSON_GetObjectItemCaseSensitive(c, "id");
  return cJSON_IsString(c) ? c->valuestring : NULL;
}

static int check(const cJSON *body, struct api_error *err)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");
  const cJSON *prev =
      cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "store");
  const cJSON *conv = cJSON_GetObjectItemCaseSensitive(body, "conversation");

  if(!cJSON_IsString(m) || !m->valuestring[0]) {
    api_error_set(err, 400, "invalid_request_error",
                  m ? "invalid_type" : "missing_required_parameter", "model",
                  m ? "Invalid type for 'model': expected a non-empty string."
                    : "Missing required parameter: 'model'.");
    return SB_EINVAL;
  }
  if(prev && !cJSON_IsNull(prev) && !cJSON_IsString(prev)) {
    api_error_set(err, 400, "invalid_request_error", "invalid_type",
                  "previous_response_id",
                  "Invalid type for 'previous_response_id': expected a "
                  "string.");
    return SB_EINVAL;
  }
  if(conv && !cJSON_IsNull(conv) &&
     (!conversation_id(body) || !conversation_id(body)[0])) {
    api_error_set(err, 400, "invalid_request_error", "invalid_type",
                  "conversation",
                  "Invalid type for 'conversation': expected a conversation "
                  "id or an object with its id.");
    return SB_EINVAL;
  }
  if(conversation_id(body) && cJSON_IsString(prev)) {
    api_error_set(err, 400, "invalid_request_error",
                  "mutually_exclusive_parameters", NULL,
                  "Mutually exclusive parameters: Ensure you are only "
                  "providing one of: 'previous_response_id' or "
                  "'conversation'.");
    return SB_EINVAL;
  }
  if(st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) {
    api_error_set(err, 400, "invalid_request_error", "invalid_type", "store",
                  "Invalid type for 'store': expected a boolean.");
    return SB_EINVAL;
  }
  return 0;
}

void responses_handle(struct req *r)
{
  cJSON *body = chat_parse_body(r);
  const cJSON *prev, *st;
  struct resp_state *rs;

  if(!body)
    return;
  r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  if(chat_route(r, body, check)) {
    cJSON_Delete(body);
    return;
  }
  rs = state_of(r);
  rs->req = body;
  sb_random_id(rs->id, sizeof(rs->id), "resp_");
  rs->created_at = r->ts_ms / 1000;
  st = cJSON_GetObjectItemCaseSensitive(body, "store");
  rs->store = !cJSON_IsFalse(st); /* the API's default is true */
  prev = cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
  if(cJSON_IsString(prev))
    start_lookup(r, prev->valuestring, on_previous);
  else if(conversation_id(body))
    conv_turn_load(r, conversation_id(body), on_conversation);
  else
    resolve_items(r);
}

/* --- retrieve, delete, input items --------------------------------------- */

/* The id in /v1/responses/{id}[/input_items] into out; 1 when the path
 * asks for input_items, -1 for a path that is neither. */
static int parse_item_path(const char *path, char *out, size_t cap)
{
  const char *id = path + strlen("/v1/responses/");
  const char *slash = strchr(id, '/');
  size_t n = slash ? (size_t)(slash - id) : strlen(id);

  if(!n || n >= cap)
    return -1;
  memcpy(out, id, n);
  out[n] = '\0';
  if(!slash)
    return 0;
  return !strcmp(slash, "/input_items") ? 1 : -1;
}

static void respond_cjson(struct req *r, cJSON *o)
{
  char *json = cJSON_PrintUnformatted(o);

  cJSON_Delete(o);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

/* One page of the stored input items per the query (order: desc by
 * default, as on OpenAI; limit 1..100, default 20; after: an item id);
 * sets has_more on list. */
static cJSON *page_items(struct req *r, const char *json, cJSON *list)
{
  cJSON *all = cJSON_Parse(json), *page = cJSON_CreateArray();
  char b[160];
  const char *v;
  int n = cJSON_GetArraySize(all), limit = 20, asc = 0, start = 0, more;

  /* lws copies "name=value" into b and points v at the value. */
  if((v = lws_get_urlarg_by_name(r->wsi, "order=", b, sizeof(b))))
    asc = !strcmp(v, "asc");
  if((v = lws_get_urlarg_by_name(r->wsi, "limit=", b, sizeof(b)))) {
    limit = atoi(v);
    limit = limit < 1 ? 1 : limit > 100 ? 100 : limit;
  }
  if((v = lws_get_urlarg_by_name(r->wsi, "after=", b, sizeof(b)))) {
    for(int i = 0; i < n; i++) {
      const cJSON *it = cJSON_GetArrayItem(all, asc ? i : n - 1 - i);
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
      if(cJSON_IsString(id) && !strcmp(id->valuestring, v))
        start = i + 1;
    }
  }
  for(int i = start; i < n && i - start < limit; i++)
    cJSON_AddItemToArray(
        page, cJSON_Duplicate(cJSON_GetArrayItem(all, asc ? i : n - 1 - i), 1));
  more = n - start > limit;
  cJSON_AddBoolToObject(list, "has_more", more);
  cJSON_Delete(all);
  return page;
}

static void on_get(struct req *r, struct store_response *res, int rc)
{
  char id[128];
  int items = parse_item_path(r->path, id, sizeof(id));

  if(rc == SB_ENOTFOUND) {
    not_found(r, NULL, id);
    return;
  }
  if(rc) {
    store_failed(r);
    return;
  }
  if(!items) {
    req_respond_json(r, 200, res->response, strlen(res->response));
  } else {
    cJSON *list = cJSON_CreateObject();
    cJSON *data = page_items(r, res->input_items, list);
    const cJSON *first, *last;

    cJSON_AddStringToObject(list, "object", "list");
    cJSON_AddItemToObject(list, "data", data);
    first = cJSON_GetArrayItem(data, 0);
    last = cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1);
    if(cJSON_IsString(cJSON_GetObjectItem(first, "id")))
      cJSON_AddStringToObject(list, "first_id",
                              cJSON_GetObjectItem(first, "id")->valuestring);
    else
      cJSON_AddNullToObject(list, "first_id");
    if(cJSON_IsString(cJSON_GetObjectItem(last, "id")))
      cJSON_AddStringToObject(list, "last_id",
                              cJSON_GetObjectItem(last, "id")->valuestring);
    else
      cJSON_AddNullToObject(list, "last_id");
    respond_cjson(r, list);
  }
  store_response_free(res);
}

static void on_delete(struct req *r, struct store_response *res, int rc)
{
  char id[128];
  cJSON *o;

  parse_item_path(r->path, id, sizeof(id));
  if(rc == SB_ENOTFOUND) {
    not_found(r, NULL, id);
    return;
  }
  store_response_free(res);
  if(rc || store_response_delete(r->gw->store, id)) {
    store_failed(r);
    return;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "object", "response.deleted");
  cJSON_AddBoolToObject(o, "deleted", 1);
  respond_cjson(r, o);
}

void responses_item(struct req *r)
{
  char id[128];
  int items = parse_item_path(r->path, id, sizeof(id));
  struct api_error err;

  if(items < 0 || (items && r->method == LWSHUMETH_DELETE)) {
    api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                  "Unknown path %s.", r->path);
    req_respond_error(r, &err);
    return;
  }
  start_lookup(r, id, r->method == LWSHUMETH_DELETE ? on_delete : on_get);
}
