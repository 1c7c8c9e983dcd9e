/*
 * conv_turn.c - a turn of a stored conversation for every inbound API
 * (conv_turn.h). The reads run on libuv's thread pool; the append is
 * queued to the store's writer, never written on the loop.
 */
#include "gateway/conv_turn.h"
#include "codec/trim.h"
#include "base/log.h"
#include "base/log.h"
#include "base/sb.h"
#include "codec/oai_resp.h"
#include "store/conv.h"

#include <stdlib.h>
#include <string.h>

struct conv_turn {
  char *id;
  cJSON *input; /* this turn's input items, or NULL */
  int appended; /* conv_turn_append() ran */
  void (*cont)(struct req *r, cJSON *history);
  /* conv_turn_chat(): the request, and the API's own hooks it wraps. */
  cJSON *chat;
  void (*inner_doc)(struct req *r, cJSON *completion);
  void (*inner_done)(struct req *r);
  /* A stream's events rendered again as a Responses stream, for its
   * output items; scratch holds each rendering until it is dropped. */
  struct oai_resp_stream *shadow;
  struct buf scratch;
  int shadow_broken;
};

static struct conv_turn *turn_of(struct req *r)
{
  if(!r->conv)
    r->conv = sb_calloc(1, sizeof(*r->conv));
  return r->conv;
}

void conv_turn_release(struct req *r)
{
  struct conv_turn *t = r->conv;

  if(!t)
    return;
  memset(&r->tap, 0, sizeof(r->tap));
  free(t->id);
  cJSON_Delete(t->input);
  cJSON_Delete(t->chat);
  oai_resp_stream_free(t->shadow);
  buf_free(&t->scratch);
  free(t);
  r->conv = NULL;
}

const char *conv_turn_id(const struct req *r)
{
  return r->conv ? r->conv->id : NULL;
}

/* --- reading the history ------------------------------------------------- */

/* What the thread pool reads: the conversation (for its owner) and every
 * item. */
struct conv_read {
  struct store *st;
  char *id;
  struct store_conv *conv;
  struct store_conv_item *items;
  int n;
  int rc;
};

static void read_work(void *ud)
{
  struct conv_read *rd = ud;

  rd->rc = store_conv_get(rd->st, rd->id, &rd->conv);
  if(!rd->rc)
    rd->rc = store_conv_items_all(rd->st, rd->id, &rd->items, &rd->n);
}

static void read_free(struct conv_read *rd)
{
  store_conv_free(rd->conv);
  store_conv_items_free(rd->items, rd->n);
  free(rd->id);
  free(rd);
}

static void not_found(struct req *r, const char *id)
{
  struct api_error err;

  api_error_set(&err, 404, "invalid_request_error", NULL, NULL,
                "Conversation with id '%s' not found.", id);
  req_respond_error(r, &err);
}

static void store_failed(struct req *r)
{
  struct api_error err;

  api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                "The conversation store is not available; retry later.");
  req_respond_error(r, &err);
}

/* The stored items as chat messages, or NULL with err filled. */
static cJSON *history_of(const struct conv_read *rd, struct api_error *err)
{
  cJSON *items = cJSON_CreateArray();
  cJSON *msgs = NULL;

  for(int i = 0; i < rd->n; i++) {
    cJSON *it = cJSON_Parse(rd->items[i].item);
    if(!it)
      abort(); /* written by this gateway as JSON */
    cJSON_AddItemToArray(items, it);
  }
  if(oai_resp_items_to_chat(items, &msgs, err)) {
    /* Items the Conversations API took that no provider can be sent. */
    char why[sizeof(err->message)];
    snprintf(why, sizeof(why), "%s", err->message);
    api_error_set(err, 400, "invalid_request_error", "invalid_value",
                  "conversation",
                  "Conversation '%s' holds an item this gateway cannot send "
                  "(%s): %s",
                  rd->id, err->param, why);
  }
  cJSON_Delete(items);
  return msgs;
}

static void read_done(struct req *r, void *ud)
{
  struct conv_read *rd = ud;
  struct api_error err;
  cJSON *history;

  if(!r) {
    read_free(rd); /* the client went away */
    return;
  }
  if(rd->rc == SB_ENOTFOUND || (!rd->rc && !req_visible(r, rd->conv->key_id))) {
    not_found(r, rd->id);
    read_free(rd);
    return;
  }
  if(rd->rc) {
    store_failed(r);
    read_free(rd);
    return;
  }
  history = history_of(rd, &err);
  read_free(rd);
  if(!history) {
    req_respond_error(r, &err);
    return;
  }
  /* Held against the budget once trimmed (conv_turn_fit). */
  r->conv->cont(r, history);
}

/* The max_tokens a canonical request asks for, or 0. */
static int64_t asked_output(const cJSON *chat)
{
  const cJSON *m =
      cJSON_GetObjectItemCaseSensitive(chat, "max_completion_tokens");

  if(!cJSON_IsNumber(m))
    m = cJSON_GetObjectItemCaseSensitive(chat, "max_tokens");
  return cJSON_IsNumber(m) && m->valuedouble > 0 ? (int64_t)m->valuedouble : 0;
}

int conv_turn_fit(struct req *r, cJSON *chat, int nhistory,
                  struct api_error *err)
{
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(chat, "messages");
  struct adm_model_caps caps;
  struct trim_params tp;
  struct trim_result res;
  cJSON *held;
  int rc;

  /* A model of known window: the oldest history goes until the prompt
   * and the room for the answer fit. A route's attempts may reach models
   * of other windows; it is trimmed for none of them (the upstream says
   * so when it does not fit). */
  if(r->prov && r->upstream_model && !r->run &&
     !adm_model_caps(r->gw->adm, r->prov->name, r->upstream_model, &caps) &&
     caps.context_tokens > 0) {
    memset(&tp, 0, sizeof(tp));
    tp.context_tokens = caps.context_tokens;
    tp.max_output = asked_output(chat);
    if(!tp.max_output)
      tp.max_output = caps.max_output_tokens > 0 ? caps.max_output_tokens : 0;
    tp.fixed_tokens =
        trim_estimate_json(cJSON_GetObjectItemCaseSensitive(chat, "tools")) +
        trim_estimate_json(
            cJSON_GetObjectItemCaseSensitive(chat, "response_format"));
    trim_history(msgs, nhistory, &tp, &res);
    if(res.dropped) {
      char v[96];
      snprintf(v, sizeof(v), "messages=%d; exchanges=%d; tokens=%lld",
               res.dropped, res.exchanges, (long long)res.dropped_tokens);
      req_add_header(r, "x-switchboard-context-trimmed", v);
      log_event(
          LOG_INFO, "conversation trimmed", LOG_S("request_id", r->request_id),
          LOG_S("conversation", r->conv ? r->conv->id : NULL),
          LOG_I("messages", res.dropped), LOG_I("tokens", res.dropped_tokens),
          LOG_I("context_tokens", caps.context_tokens), LOG_END);
      nhistory -= res.dropped;
      r->context_dropped = res.dropped; /* in the request's record */
      r->context_dropped_tokens = res.dropped_tokens;
    }
    if(!res.fits) {
      api_error_set(err, 400, "invalid_request_error",
                    "context_length_exceeded", "messages",
                    "This turn needs about %lld tokens with its answer; the "
                    "model's context window is %lld.",
                    (long long)(res.prompt_tokens + tp.max_output),
                    (long long)caps.context_tokens);
      return SB_EINVAL;
    }
  }
  /* The kept history is prompt too: held against the budget. */
  held = cJSON_CreateArray();
  for(int i = 0; i < nhistory && i < cJSON_GetArraySize(msgs); i++)
    cJSON_AddItemToArray(held, cJSON_Duplicate(cJSON_GetArrayItem(msgs, i), 1));
  rc = chat_hold_more(r, held, err);
  cJSON_Delete(held);
  return rc;
}

void conv_turn_load(struct req *r, const char *id,
                    void (*cont)(struct req *r, cJSON *history))
{
  struct conv_turn *t = turn_of(r);
  struct conv_read *rd = sb_calloc(1, sizeof(*rd));
  struct api_error err;

  free(t->id);
  t->id = sb_strdup(id);
  t->cont = cont;
  rd->st = r->gw->store;
  rd->id = sb_strdup(id);
  if(req_offload(r, read_work, read_done, rd)) {
    read_free(rd);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not read the conversation store.");
    req_respond_error(r, &err);
  }
}

/* --- appending the turn -------------------------------------------------- */

/* The id an item is stored under: its own, else a new one by kind. */
static const char *item_id(cJSON *it)
{
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(it, "type"));
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
  const char *prefix = "item_";
  char buf[40];

  if(cJSON_IsString(id) && id->valuestring[0])
    return id->valuestring;
  if(!type || !strcmp(type, "message"))
    prefix = "msg_";
  else if(!strcmp(type, "function_call"))
    prefix = "fc_";
  else if(!strcmp(type, "function_call_output"))
    prefix = "fco_";
  else if(!strcmp(type, "reasoning"))
    prefix = "rs_";
  sb_random_id(buf, sizeof(buf), prefix);
  cJSON_DeleteItemFromObjectCaseSensitive(it, "id");
  return cJSON_GetStringValue(cJSON_AddStringToObject(it, "id", buf));
}

void conv_turn_set_input(struct req *r, cJSON *items)
{
  struct conv_turn *t = turn_of(r);
  cJSON *it;

  cJSON_ArrayForEach(it, items)
  {
    if(cJSON_IsObject(it))
      item_id(it);
  }
  cJSON_Delete(t->input);
  t->input = items;
}

/* One stored item for it (an object): produced by provider/model, or the
 * client's when provider is NULL. */
static void fill_item(struct store_conv_item *si, const char *conv_id,
                      cJSON *it, const char *provider, const char *model)
{
  si->id = sb_strdup(item_id(it));
  si->conv_id = sb_strdup(conv_id);
  si->item = cJSON_PrintUnformatted(it);
  if(!si->item)
    abort();
  si->provider = provider ? sb_strdup(provider) : NULL;
  si->model = provider && model ? sb_strdup(model) : NULL;
}

void conv_turn_append(struct req *r, const cJSON *output)
{
  struct conv_turn *t = r->conv;
  struct store_conv_item *items;
  cJSON *out;
  cJSON *it;
  int n = 0, cap;
  int rc;

  if(!t || !t->id || t->appended)
    return;
  t->appended = 1;
  out =
      cJSON_IsArray(output) ? cJSON_Duplicate(output, 1) : cJSON_CreateArray();
  cap = cJSON_GetArraySize(t->input) + cJSON_GetArraySize(out);
  if(!cap) {
    cJSON_Delete(out);
    return;
  }
  items = sb_calloc((size_t)cap, sizeof(*items));
  cJSON_ArrayForEach(it, t->input)
  {
    if(cJSON_IsObject(it))
      fill_item(&items[n++], t->id, it, NULL, NULL);
  }
  cJSON_ArrayForEach(it, out)
  {
    if(cJSON_IsObject(it))
      fill_item(&items[n++], t->id, it, r->prov ? r->prov->name : NULL,
                r->upstream_model);
  }
  cJSON_Delete(out);
  rc = store_conv_append(r->gw->store, t->id, items, n);
  if(rc)
    log_event(LOG_WARN, "conversation turn not stored", LOG_S("conv", t->id),
              LOG_S("request_id", r->request_id), LOG_I("rc", rc), LOG_END);
}

/* --- Chat Completions and Messages --------------------------------------- */

/* The answer's output items, from a chat.completion. */
static void on_doc(struct req *r, cJSON *completion)
{
  struct conv_turn *t = r->conv;
  cJSON *empty = cJSON_CreateObject();
  cJSON *resp = oai_resp_from_completion(empty, completion, "resp_conv",
                                         r->ts_ms / 1000, r->model);

  conv_turn_append(r, cJSON_GetObjectItemCaseSensitive(resp, "output"));
  cJSON_Delete(resp);
  cJSON_Delete(empty);
  t->inner_doc(r, completion);
}

/* Every event of a streamed answer, rendered again as a Responses stream
 * whose final object lists the output items. */
static int on_event(void *ud, const struct canon_ev *ev)
{
  struct req *r = ud;
  struct conv_turn *t = r->conv;

  if(!t->shadow_broken && oai_resp_stream_render(t->shadow, ev, &t->scratch))
    t->shadow_broken = 1;
  buf_reset(&t->scratch);
  return 0;
}

static void on_stream_done(struct req *r)
{
  struct conv_turn *t = r->conv;

  if(!t->shadow_broken && !oai_resp_stream_end(t->shadow, &t->scratch)) {
    const cJSON *resp = oai_resp_stream_response(t->shadow);
    conv_turn_append(r, cJSON_GetObjectItemCaseSensitive(resp, "output"));
  } else {
    log_event(LOG_WARN, "conversation turn too large to store",
              LOG_S("conv", t->id), LOG_S("request_id", r->request_id),
              LOG_END);
  }
  buf_reset(&t->scratch);
  if(t->inner_done)
    t->inner_done(r);
}

static int is_instruction(const cJSON *m)
{
  const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));

  return role && (!strcmp(role, "system") || !strcmp(role, "developer"));
}

static void chat_continue(struct req *r, cJSON *history)
{
  struct conv_turn *t = r->conv;
  cJSON *chat = t->chat;
  cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(chat, "messages");
  cJSON *all = cJSON_CreateArray(), *turn = cJSON_CreateArray();
  struct api_error err;
  int nhistory;
  cJSON *m;

  t->chat = NULL;
  /* The API's instructions first, then the history, then the turn. */
  while(msgs && msgs->child && is_instruction(msgs->child))
    cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(msgs, msgs->child));
  while(history->child)
    cJSON_AddItemToArray(all,
                         cJSON_DetachItemViaPointer(history, history->child));
  nhistory = cJSON_GetArraySize(all);
  while(msgs && msgs->child) {
    m = cJSON_DetachItemViaPointer(msgs, msgs->child);
    cJSON_AddItemToArray(turn, cJSON_Duplicate(m, 1));
    cJSON_AddItemToArray(all, m);
  }
  cJSON_Delete(msgs);
  cJSON_Delete(history);
  cJSON_AddItemToObject(chat, "messages", all);
  if(conv_turn_fit(r, chat, nhistory, &err)) {
    cJSON_Delete(turn);
    cJSON_Delete(chat);
    req_respond_error(r, &err);
    return;
  }
  conv_turn_set_input(r, oai_resp_items_from_chat(turn));
  cJSON_Delete(turn);

  r->canonical = 1; /* the answer is needed, not only relayed */
  t->inner_doc = r->respond_doc ? r->respond_doc : chat_respond_completion;
  r->respond_doc = on_doc;
  if(r->stream) {
    cJSON *empty = cJSON_CreateObject();
    t->shadow =
        oai_resp_stream_new(empty, "resp_conv", r->ts_ms / 1000, r->model);
    cJSON_Delete(empty);
    buf_init(&t->scratch, r->gw->cfg->limits.max_response_bytes);
    r->tap = (struct canon_sink){on_event, r};
    t->inner_done = r->stream_done;
    r->stream_done = on_stream_done;
  }
  chat_serve(r, chat);
  cJSON_Delete(chat);
}

void conv_turn_chat(struct req *r, const char *id, cJSON *chat)
{
  struct conv_turn *t = turn_of(r);

  cJSON_Delete(t->chat);
  t->chat = chat;
  conv_turn_load(r, id, chat_continue);
}
