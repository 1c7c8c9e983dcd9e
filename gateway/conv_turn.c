/*
 * conv_turn.c - a turn of a stored conversation for every inbound API
 * (conv_turn.h). The reads run on libuv's thread pool; the append is
 * queued to the store's writer, never written on the loop.
 */
#include "gateway/conv_turn.h"
#include "base/log.h"
#include "base/sb.h"
#include "codec/oai_resp.h"
#include "codec/trim.h"
#include "gateway/subreq.h"
#include "gateway/worker.h"
#include "net/upstream.h"
#include "providers/adapter.h"
#include "router/run.h"
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
  cJSON *turn; /* conv_turn_chat(): this turn's messages, until fitted */
  /* The stored items' ids in order, and which are user messages: where a
   * summary's cut falls (conv_turn_fit()). */
  char **ids;
  unsigned char *user;
  int nids;
  struct fit *fit;     /* a fit waiting for its summary, or NULL */
  struct count *count; /* a fit waiting for the provider's count, or NULL */
};

/* conv_turn_fit() while the provider counts the prompt's tokens. */
struct count {
  struct req *r;
  cJSON *chat;
  int nhistory;
  void (*cont)(struct req *r, cJSON *chat);
  struct adm_model_caps caps;
  const struct prov_adapter *adapter;
  int64_t estimated; /* the estimate of what the provider counts */
  struct upstream_xfer *x;
  struct buf body;
};

static void count_free(struct count *c)
{
  if(!c)
    return;
  if(c->x)
    upstream_cancel(c->x);
  cJSON_Delete(c->chat);
  buf_free(&c->body);
  free(c);
}

/* conv_turn_fit() while the dropped history is summarised. */
struct fit {
  cJSON *chat;
  int nhistory; /* kept history, after the trim */
  void (*cont)(struct req *r, cJSON *chat);
  cJSON *dropped; /* the dropped messages, in order */
  int resume;     /* where they were in chat's messages */
  int messages;   /* dropped: messages, exchanges, tokens */
  int exchanges;
  int64_t tokens;
  char *model;    /* what summarises */
  int64_t room;   /* the most tokens the summary may take */
  char **cuts;    /* candidate cut items, the whole cut first */
  int *cut_users; /* the dropped user messages each cut covers */
  int ncuts;
  struct subreq *sub; /* the summary being made, or NULL */
};

static void fit_free(struct fit *f)
{
  if(!f)
    return;
  subreq_cancel(f->sub);
  cJSON_Delete(f->chat);
  cJSON_Delete(f->dropped);
  free(f->model);
  for(int i = 0; i < f->ncuts; i++)
    free(f->cuts[i]);
  free(f->cuts);
  free(f->cut_users);
  free(f);
}

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
  cJSON_Delete(t->turn);
  for(int i = 0; i < t->nids; i++)
    free(t->ids[i]);
  free(t->ids);
  free(t->user);
  fit_free(t->fit);
  count_free(t->count);
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

/* The items' ids and which are user messages, for a summary's cut. */
static void keep_ids(struct conv_turn *t, const struct conv_read *rd)
{
  t->ids = rd->n ? sb_calloc((size_t)rd->n, sizeof(*t->ids)) : NULL;
  t->user = rd->n ? sb_calloc((size_t)rd->n, 1) : NULL;
  t->nids = rd->n;
  for(int i = 0; i < rd->n; i++) {
    cJSON *it = cJSON_Parse(rd->items[i].item);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(it, "type"));
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(it, "role"));
    t->ids[i] = sb_strdup(rd->items[i].id);
    t->user[i] =
        (!type || !strcmp(type, "message")) && role && !strcmp(role, "user");
    cJSON_Delete(it);
  }
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
  keep_ids(r->conv, rd);
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

/* What summarises the history a turn leaves out: the route's choice, else
 * the key's; NULL: it is trimmed. */
static const char *summary_model(const struct req *r)
{
  if(r->run && r->run->route.summary_model)
    return r->run->route.summary_model;
  return r->grant.summary_model;
}

/* The window r's turn is fitted to: its model's, or, for a route that
 * summarises, the smallest of its targets' that are known (a route's
 * attempts may reach models of other windows, so a route that does not
 * is fitted to none: the upstream says when it does not fit). 0, or
 * SB_ENOTFOUND. */
static int window_of(const struct req *r, struct adm_model_caps *caps)
{
  const struct route *rt;
  struct adm_model_caps c;
  int rc = SB_ENOTFOUND;

  if(!r->run)
    return r->prov && r->upstream_model
               ? adm_model_caps(r->gw->adm, r->prov->name, r->upstream_model,
                                caps)
               : SB_ENOTFOUND;
  rt = &r->run->route;
  if(!rt->summary_model)
    return SB_ENOTFOUND;
  for(int i = 0; i < rt->ntargets; i++)
    if(!adm_model_caps(r->gw->adm, rt->targets[i].provider,
                       rt->targets[i].model, &c) &&
       c.context_tokens > 0 &&
       (rc || c.context_tokens < caps->context_tokens)) {
      *caps = c;
      rc = 0;
    }
  return rc;
}

/* Room kept in the window for a summary, and the most it may be: an
 * eighth of the window, at most this many tokens. */
#define SUMMARY_MAX_TOKENS 1024

static int64_t summary_room(int64_t context_tokens)
{
  int64_t n = context_tokens / 8;

  return n > SUMMARY_MAX_TOKENS ? SUMMARY_MAX_TOKENS : n;
}

/* Say in the response header what the turn left out, and how. */
static void trimmed_header(struct req *r, int messages, int exchanges,
                           int64_t tokens, const char *how)
{
  const char *counted = r->context_counted ? r->context_counted : "estimate";
  char v[200];

  snprintf(v, sizeof(v), "messages=%d; exchanges=%d; tokens=%lld%s; counted=%s",
           messages, exchanges, (long long)tokens, how ? how : "", counted);
  req_add_header(r, "x-switchboard-context-trimmed", v);
}

/* The end of every fit: the kept history is prompt too, held against the
 * budget; then cont, or the error answered. */
static void fit_done(struct req *r, cJSON *chat, int nhistory,
                     void (*cont)(struct req *r, cJSON *chat))
{
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(chat, "messages");
  struct api_error err;
  cJSON *held = cJSON_CreateArray();
  int rc;

  for(int i = 0; i < nhistory && i < cJSON_GetArraySize(msgs); i++)
    cJSON_AddItemToArray(held, cJSON_Duplicate(cJSON_GetArrayItem(msgs, i), 1));
  rc = chat_hold_more(r, held, &err);
  cJSON_Delete(held);
  if(rc) {
    cJSON_Delete(chat);
    req_respond_error(r, &err);
    return;
  }
  cont(r, chat);
}

/* The fit goes on with its summary in place, or (summary NULL) trimmed,
 * saying why. */
static void fit_resume(struct req *r, const char *summary, const char *why)
{
  struct conv_turn *t = r->conv;
  struct fit *f = t->fit;
  cJSON *chat = f->chat;
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(chat, "messages");
  int nhistory = f->nhistory;
  void (*cont)(struct req *, cJSON *) = f->cont;

  if(summary) {
    int before = cJSON_GetArraySize(msgs);
    trim_put_summary(msgs, f->resume, summary);
    if(cJSON_GetArraySize(msgs) > before && f->resume <= nhistory)
      nhistory++; /* a user message of its own, in the history */
    r->context_strategy = "summarize";
    free(r->context_summary);
    r->context_summary = sb_strdup(summary);
    trimmed_header(r, f->messages, f->exchanges, f->tokens,
                   "; strategy=summarize");
    log_event(LOG_INFO, "conversation summarised",
              LOG_S("request_id", r->request_id), LOG_S("conversation", t->id),
              LOG_I("messages", f->messages), LOG_I("tokens", f->tokens),
              LOG_S("summary_model", f->model), LOG_END);
  } else {
    r->context_strategy = "trim";
    trimmed_header(r, f->messages, f->exchanges, f->tokens,
                   "; strategy=trim; summary=failed");
    log_event(LOG_WARN, "conversation summary failed, trimmed instead",
              LOG_S("request_id", r->request_id), LOG_S("conversation", t->id),
              LOG_I("messages", f->messages), LOG_S("summary_model", f->model),
              LOG_S("why", why), LOG_END);
  }
  f->chat = NULL;
  fit_free(f);
  t->fit = NULL;
  fit_done(r, chat, nhistory, cont);
}

static void on_summary(struct req *r, const char *text, const char *why,
                       void *ud)
{
  struct fit *f = r->conv->fit;
  struct store_conv_summary *s;

  (void)ud;
  f->sub = NULL;
  if(text) {
    /* Remembered for the next turn with the same cut. */
    s = sb_calloc(1, sizeof(*s));
    s->conv_id = sb_strdup(r->conv->id);
    s->cut_item = sb_strdup(f->cuts[0]);
    s->summary = sb_strdup(text);
    s->model = sb_strdup(f->model);
    if(store_conv_summary_put(r->gw->store, s))
      log_event(LOG_WARN, "conversation summary not stored",
                LOG_S("request_id", r->request_id), LOG_END);
  }
  fit_resume(r, text, why);
}

/* Looking up the summaries of the candidate cuts, on the thread pool. */
struct sum_lookup {
  struct store *st;
  char *conv_id;
  char **cuts; /* copies: the request, and its fit, may go first */
  int ncuts;
  int found; /* index into cuts, or -1 */
  char *summary;
};

static void lookup_work(void *ud)
{
  struct sum_lookup *l = ud;
  struct store_conv_summary *s;

  l->found = -1;
  for(int i = 0; i < l->ncuts; i++)
    if(!store_conv_summary_get(l->st, l->conv_id, l->cuts[i], &s)) {
      l->found = i;
      l->summary = s->summary;
      s->summary = NULL;
      store_conv_summary_free(s);
      return;
    }
}

static void lookup_free(struct sum_lookup *l)
{
  for(int i = 0; i < l->ncuts; i++)
    free(l->cuts[i]);
  free(l->cuts);
  free(l->conv_id);
  free(l->summary);
  free(l);
}

/* A summary of the same cut is used again; one of an earlier cut is
 * summarised again with the messages dropped since; else all of them. */
static void lookup_done(struct req *r, void *ud)
{
  struct sum_lookup *l = ud;
  struct fit *f;
  cJSON *body, *prompt;
  int from = 0;

  if(!r) {
    lookup_free(l);
    return;
  }
  f = r->conv->fit;
  if(l->found == 0) {
    fit_resume(r, l->summary, NULL);
    lookup_free(l);
    return;
  }
  if(l->found > 0)
    from = trim_user_index(f->dropped, f->cut_users[l->found]);
  prompt =
      trim_summary_prompt(l->found > 0 ? l->summary : NULL, f->dropped, from);
  body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", f->model);
  cJSON_AddItemToObject(body, "messages", prompt);
  if(f->room > 0)
    cJSON_AddNumberToObject(body, "max_tokens", (double)f->room);
  lookup_free(l);
  if(subreq_chat(r, "summary", body, on_summary, NULL, &f->sub))
    fit_resume(r, NULL, "the summary request could not start");
  cJSON_Delete(body);
}

/* The cuts a stored summary may have, from the whole of the dropped
 * history back to its first exchange: the item before the first user
 * item each leaves (the last item when it leaves none). */
static void candidate_cuts(const struct conv_turn *t, struct fit *f)
{
  int users = 0, *pos;
  const cJSON *m;

  cJSON_ArrayForEach(m, f->dropped)
  {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    users += role && !strcmp(role, "user");
  }
  pos = sb_calloc((size_t)t->nids + 1, sizeof(*pos));
  for(int i = 0, k = 0; i < t->nids; i++)
    if(t->user[i])
      pos[k++] = i;
  f->cuts = sb_calloc((size_t)users + 1, sizeof(*f->cuts));
  f->cut_users = sb_calloc((size_t)users + 1, sizeof(*f->cut_users));
  for(int j = users; j >= 1 && t->nids; j--) {
    int nuser = 0;
    for(int i = 0; i < t->nids; i++)
      nuser += t->user[i];
    if(j > nuser)
      continue;
    f->cuts[f->ncuts] = sb_strdup(t->ids[j < nuser ? pos[j] - 1 : t->nids - 1]);
    f->cut_users[f->ncuts++] = j;
  }
  free(pos);
}

/* Room kept for the answer: the request's max tokens, else the model's
 * max output. */
static int64_t answer_room(const cJSON *chat, const struct adm_model_caps *caps)
{
  int64_t n = asked_output(chat);

  if(!n)
    n = caps->max_output_tokens > 0 ? caps->max_output_tokens : 0;
  return n;
}

/* The estimate of the prompt that is not messages (tools, the response
 * format). */
static int64_t fixed_estimate(const cJSON *chat)
{
  return trim_estimate_json(cJSON_GetObjectItemCaseSensitive(chat, "tools")) +
         trim_estimate_json(
             cJSON_GetObjectItemCaseSensitive(chat, "response_format"));
}

/* Trim chat to caps' window (by the estimate, scaled by sc when the
 * provider counted), then summarise or go on. */
static void fit_trim(struct req *r, cJSON *chat, int nhistory,
                     void (*cont)(struct req *r, cJSON *chat),
                     const struct adm_model_caps *cp,
                     const struct trim_scale *sc)
{
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(chat, "messages");
  struct conv_turn *t = r->conv;
  const char *model = summary_model(r);
  struct adm_model_caps caps = *cp;
  struct trim_params tp;
  struct trim_result res;
  struct api_error err;
  struct sum_lookup *l;
  struct fit *f;

  r->context_counted = sc ? "provider" : "estimate"; /* in the record */
  memset(&tp, 0, sizeof(tp));
  tp.context_tokens = caps.context_tokens;
  tp.max_output = answer_room(chat, &caps);
  tp.fixed_tokens = trim_scale_apply(sc, fixed_estimate(chat));
  if(sc) {
    tp.estimate = trim_estimate_scaled;
    tp.estimate_ud = (void *)sc;
  }
  if(model && t && t->id) {
    /* The summary takes the place of what it covers: room for it. */
    tp.dropped = cJSON_CreateArray();
    tp.fixed_tokens += summary_room(caps.context_tokens);
  }
  trim_history(msgs, nhistory, &tp, &res);
  if(res.dropped) {
    nhistory -= res.dropped;
    r->context_dropped = res.dropped; /* in the request's record */
    r->context_dropped_tokens = res.dropped_tokens;
    log_event(
        LOG_INFO, "conversation trimmed", LOG_S("request_id", r->request_id),
        LOG_S("conversation", t ? t->id : NULL), LOG_I("messages", res.dropped),
        LOG_I("tokens", res.dropped_tokens),
        LOG_I("context_tokens", caps.context_tokens),
        LOG_S("counted", sc ? "provider" : "estimate"), LOG_END);
  }
  if(!res.fits) {
    cJSON_Delete(tp.dropped);
    api_error_set(&err, 400, "invalid_request_error", "context_length_exceeded",
                  "messages",
                  "This turn needs about %lld tokens with its answer; the "
                  "model's context window is %lld.",
                  (long long)(res.prompt_tokens + tp.max_output),
                  (long long)caps.context_tokens);
    cJSON_Delete(chat);
    req_respond_error(r, &err);
    return;
  }
  if(!res.dropped || !tp.dropped) {
    cJSON_Delete(tp.dropped);
    if(res.dropped) {
      r->context_strategy = "trim";
      trimmed_header(r, res.dropped, res.exchanges, res.dropped_tokens, NULL);
    }
    fit_done(r, chat, nhistory, cont);
    return;
  }

  /* Summarised: a stored summary of this cut, or of an earlier one, is
   * looked for first (off the loop). */
  f = sb_calloc(1, sizeof(*f));
  f->chat = chat;
  f->nhistory = nhistory;
  f->cont = cont;
  f->dropped = tp.dropped;
  f->resume = res.resume;
  f->messages = res.dropped;
  f->exchanges = res.exchanges;
  f->tokens = res.dropped_tokens;
  f->model = sb_strdup(model);
  f->room = summary_room(caps.context_tokens);
  candidate_cuts(t, f);
  fit_free(t->fit);
  t->fit = f;
  if(!f->ncuts) {
    fit_resume(r, NULL, "the dropped history has no stored items");
    return;
  }
  l = sb_calloc(1, sizeof(*l));
  l->st = r->gw->store;
  l->conv_id = sb_strdup(t->id);
  l->cuts = sb_calloc((size_t)f->ncuts, sizeof(*l->cuts));
  for(int i = 0; i < f->ncuts; i++)
    l->cuts[i] = sb_strdup(f->cuts[i]);
  l->ncuts = f->ncuts;
  if(req_offload(r, lookup_work, lookup_done, l)) {
    lookup_free(l);
    fit_resume(r, NULL, "the summary store could not be read");
  }
}

/* --- the provider's count ------------------------------------------------ */

/* How long a count may take before the estimate decides alone. */
#define COUNT_TIMEOUT_MS 3000
/* The most of a count's answer that is read. */
#define COUNT_MAX_RESPONSE (64 * 1024)

static int count_data(void *ud, const char *p, size_t n)
{
  struct count *c = ud;

  return buf_append(&c->body, p, n) ? -1 : 0;
}

static void count_done(void *ud, const struct upstream_result *res)
{
  struct count *c = ud;
  struct req *r = c->r;
  struct conv_turn *t = r->conv;
  struct trim_scale sc = {0, c->estimated};
  cJSON *chat = c->chat;
  char why[200] = "";

  c->x = NULL;
  c->chat = NULL;
  t->count = NULL;
  if(res->failed)
    snprintf(why, sizeof(why), "%s",
             res->timed_out
                 ? "timed out"
                 : (res->message ? res->message : "transfer failed"));
  else if(res->status != 200)
    snprintf(why, sizeof(why), "status %ld", res->status);
  else if(c->adapter->parse_count(c->body.data, c->body.len, &sc.real))
    snprintf(why, sizeof(why), "an answer without a count");
  if(why[0]) {
    log_event(LOG_WARN, "token count failed, estimated",
              LOG_S("request_id", r->request_id),
              LOG_S("provider", r->prov->name), LOG_S("why", why), LOG_END);
  } else {
    log_event(LOG_DEBUG, "tokens counted by the provider",
              LOG_S("request_id", r->request_id),
              LOG_S("provider", r->prov->name), LOG_I("tokens", sc.real),
              LOG_I("estimated", sc.estimated), LOG_END);
  }
  fit_trim(r, chat, c->nhistory, c->cont, &c->caps, why[0] ? NULL : &sc);
  count_free(c);
}

/* Ask r's provider to count chat's prompt when it has a counter and the
 * estimate is near the window: 0 when the count went out (the fit goes
 * on in count_done()), else nonzero and nothing was taken. A route is
 * not counted: which target serves it is not known yet. */
static int count_start(struct req *r, cJSON *chat, int nhistory,
                       void (*cont)(struct req *r, cJSON *chat),
                       const struct adm_model_caps *caps)
{
  const struct config *cfg = r->gw->cfg;
  const struct prov_adapter *a =
      r->prov && !r->run ? prov_adapter_of(r->prov) : NULL;
  struct prov_client client = {r->authorization, NULL, 0};
  struct upstream_cb ucb = {count_data, count_done};
  struct upstream_limits lim;
  struct prov_http h;
  struct api_error err;
  struct count *c;
  int64_t estimated;
  int rc;

  if(!a || !a->build_count || !a->parse_count || !r->upstream_model)
    return SB_ENOTFOUND;
  estimated = trim_estimate_messages(
                  cJSON_GetObjectItemCaseSensitive(chat, "messages")) +
              fixed_estimate(chat);
  if(estimated <= 0 ||
     !trim_count_near(estimated, answer_room(chat, caps), caps->context_tokens))
    return SB_ENOTFOUND;
  turn_of(r); /* where the count waits */
  client.fwd = chat_forwarded(r, &client.nfwd);
  rc = a->build_count(r->prov, chat, r->upstream_model, &client, &h, &err);
  free((void *)client.fwd);
  if(rc) {
    log_event(LOG_WARN, "token count not built, estimated",
              LOG_S("request_id", r->request_id),
              LOG_S("provider", r->prov->name), LOG_S("why", err.message),
              LOG_END);
    return rc;
  }
  memset(&lim, 0, sizeof(lim));
  lim.connect_timeout_ms = cfg->limits.connect_timeout_ms < COUNT_TIMEOUT_MS
                               ? cfg->limits.connect_timeout_ms
                               : COUNT_TIMEOUT_MS;
  lim.total_timeout_ms = COUNT_TIMEOUT_MS;
  lim.allow_link_local = cfg->security.allow_link_local;
  c = sb_calloc(1, sizeof(*c));
  c->r = r;
  c->nhistory = nhistory;
  c->cont = cont;
  c->caps = *caps;
  c->adapter = a;
  c->estimated = estimated;
  buf_init(&c->body, COUNT_MAX_RESPONSE);
  rc = upstream_start(worker_upstream(r->w), &h, &lim, &ucb, c, &c->x);
  prov_http_free(&h);
  if(rc) {
    log_event(LOG_WARN, "token count not started, estimated",
              LOG_S("request_id", r->request_id),
              LOG_S("provider", r->prov->name), LOG_I("rc", rc), LOG_END);
    buf_free(&c->body);
    free(c);
    return rc;
  }
  c->chat = chat;
  count_free(r->conv->count);
  r->conv->count = c;
  return 0;
}

void conv_turn_fit(struct req *r, cJSON *chat, int nhistory,
                   void (*cont)(struct req *r, cJSON *chat))
{
  struct adm_model_caps caps;

  /* A model of known window: the oldest history goes until the prompt
   * and the room for the answer fit, measured by the provider's own
   * count when it has one and the estimate is near the window. */
  if(window_of(r, &caps) || caps.context_tokens <= 0) {
    fit_done(r, chat, nhistory, cont);
    return;
  }
  if(!count_start(r, chat, nhistory, cont, &caps))
    return;
  fit_trim(r, chat, nhistory, cont, &caps, NULL);
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

static void chat_fitted(struct req *r, cJSON *chat);

static void chat_continue(struct req *r, cJSON *history)
{
  struct conv_turn *t = r->conv;
  cJSON *chat = t->chat;
  cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(chat, "messages");
  cJSON *all = cJSON_CreateArray(), *turn = cJSON_CreateArray();
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
  cJSON_Delete(t->turn);
  t->turn = turn;
  conv_turn_fit(r, chat, nhistory, chat_fitted);
}

/* The turn fitted to its model (chat taken): served. */
static void chat_fitted(struct req *r, cJSON *chat)
{
  struct conv_turn *t = r->conv;

  conv_turn_set_input(r, oai_resp_items_from_chat(t->turn));
  cJSON_Delete(t->turn);
  t->turn = NULL;

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
