/* codec/canon_answer: events -> chat.completion -> events, and events
 * through bytes, as the response cache stores and shares answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "codec/anth_msgs.h"
#include "codec/canon_answer.h"
#include "codec/canon_doc.h"
#include "codec/oai_stream.h"
#include "config/config.h"
#include "providers/anthropic.h"

#include <stdlib.h>
#include <string.h>

#define ANTH CANON_FMT_ANTHROPIC

/* JSON written with ' for " (and \\' for an escaped quote), parsed. */
static cJSON *pj(const char *s)
{
  char *t = sb_strdup(s);
  cJSON *j;

  for(char *p = t; *p; p++)
    if(*p == '\'')
      *p = '"';
  j = cJSON_Parse(t);
  if(!j)
    fail_msg("bad JSON in test: %s", t);
  free(t);
  return j;
}

static void assert_same_json(const cJSON *got, const cJSON *want)
{
  if(!cJSON_Compare(got, want, 1)) {
    char *g = cJSON_PrintUnformatted(got);
    char *w = cJSON_PrintUnformatted(want);
    fail_msg("JSON differs:\n got: %s\nwant: %s", g, w);
  }
}

static void assert_json(const cJSON *got, const char *want)
{
  cJSON *w = pj(want);

  assert_same_json(got, w);
  cJSON_Delete(w);
}

/* ---- an event recorder ------------------------------------------------- */

#define REC_MAX 64

/* Deep copies of the events a sink got. stop_at > 0: the stop_at-th
 * event is answered with stop_rc. */
struct rec {
  struct canon_ev v[REC_MAX];
  struct api_error err[REC_MAX];
  int n;
  int stop_at, stop_rc;
};

static char *dup_or_null(const char *s)
{
  return s ? sb_strdup(s) : NULL;
}

static int rec_emit(void *ud, const struct canon_ev *ev)
{
  struct rec *r = ud;
  struct canon_ev *c;

  assert_true(r->n < REC_MAX);
  c = &r->v[r->n];
  *c = *ev;
  c->id = dup_or_null(ev->id);
  c->model = dup_or_null(ev->model);
  c->name = dup_or_null(ev->name);
  c->text = ev->text ? sb_strndup(ev->text, ev->len) : NULL;
  c->signature = dup_or_null(ev->signature);
  c->data = dup_or_null(ev->data);
  c->format = dup_or_null(ev->format);
  c->finish_reason = dup_or_null(ev->finish_reason);
  if(ev->err) {
    r->err[r->n] = *ev->err;
    c->err = &r->err[r->n];
  }
  r->n++;
  return r->stop_at && r->n == r->stop_at ? r->stop_rc : 0;
}

static void rec_free(struct rec *r)
{
  for(int i = 0; i < r->n; i++) {
    free((char *)r->v[i].id);
    free((char *)r->v[i].model);
    free((char *)r->v[i].name);
    free((char *)r->v[i].text);
    free((char *)r->v[i].signature);
    free((char *)r->v[i].data);
    free((char *)r->v[i].format);
    free((char *)r->v[i].finish_reason);
  }
  r->n = 0;
}

static void assert_str_or_null(const char *got, const char *want)
{
  if(!want)
    assert_null(got);
  else {
    assert_non_null(got);
    assert_string_equal(got, want);
  }
}

/* Every field the event's type uses. */
static void assert_ev_equal(const struct canon_ev *got,
                            const struct canon_ev *want)
{
  assert_int_equal(got->type, want->type);
  assert_int_equal(got->index, want->index);
  assert_str_or_null(got->id, want->id);
  assert_str_or_null(got->model, want->model);
  assert_str_or_null(got->name, want->name);
  assert_int_equal(got->len, want->len);
  if(want->text) {
    assert_non_null(got->text);
    assert_memory_equal(got->text, want->text, want->len);
  } else {
    assert_null(got->text);
  }
  assert_str_or_null(got->signature, want->signature);
  assert_str_or_null(got->data, want->data);
  assert_str_or_null(got->format, want->format);
  assert_str_or_null(got->finish_reason, want->finish_reason);
  if(want->type == CANON_EV_USAGE) {
    assert_int_equal(got->usage.prompt_tokens, want->usage.prompt_tokens);
    assert_int_equal(got->usage.completion_tokens,
                     want->usage.completion_tokens);
    assert_int_equal(got->usage.cached_tokens, want->usage.cached_tokens);
    assert_int_equal(got->usage.reasoning_tokens, want->usage.reasoning_tokens);
  }
  if(want->type == CANON_EV_ERROR) {
    assert_non_null(got->err);
    assert_int_equal(got->err->status, want->err->status);
    assert_string_equal(got->err->type, want->err->type);
    assert_string_equal(got->err->code, want->err->code);
    assert_string_equal(got->err->param, want->err->param);
    assert_string_equal(got->err->message, want->err->message);
    assert_int_equal(got->err->retry_after_s, want->err->retry_after_s);
    assert_int_equal(got->err->retry_after_ms, want->err->retry_after_ms);
    assert_int_equal(got->err->final, want->err->final);
  }
}

static cJSON *doc_of(const struct canon_ev *evs, size_t n, const char *fb_id,
                     const char *fb_model)
{
  struct canon_answer *a = canon_answer_new(1 << 20);
  cJSON *doc;

  for(size_t i = 0; i < n; i++)
    assert_int_equal(canon_answer_feed(a, &evs[i]), 0);
  doc = canon_answer_doc(a, fb_id, 42, fb_model);
  canon_answer_free(a);
  return doc;
}

/* A sink that feeds an answer. */
static int feed_emit(void *ud, const struct canon_ev *ev)
{
  return canon_answer_feed(ud, ev);
}

/* doc replayed into a new answer, and the doc that one makes. */
static cJSON *replay_doc(const cJSON *doc)
{
  struct canon_answer *a = canon_answer_new(1 << 20);
  struct canon_sink sink = {feed_emit, a};
  cJSON *out;

  assert_int_equal(canon_answer_replay(doc, &sink), 0);
  /* START carries the id and model: the fallbacks must not be needed. */
  out = canon_answer_doc(a, "other-id", 42, "other-model");
  canon_answer_free(a);
  return out;
}

/* ---- 1. events -> doc -> events -> doc --------------------------------- */

static void test_events_doc_replay(void **state)
{
  static const struct api_error boom = {.status = 502, .message = "x"};
  struct canon_ev evs[] = {
      {.type = CANON_EV_START, .id = "msg_1", .model = "claude-x"},
      {.type = CANON_EV_START}, /* a later START changes nothing */
      {.type = CANON_EV_REASONING, .text = "Let me ", .len = 7},
      {.type = CANON_EV_REASONING, .text = "think.", .len = 6},
      {.type = CANON_EV_REASONING,
       .text = "",
       .signature = "sig-A",
       .format = ANTH},
      {.type = CANON_EV_REASONING, .text = "", .data = "ENC", .format = ANTH},
      {.type = CANON_EV_REASONING, .text = "Second.", .len = 7},
      {.type = CANON_EV_REASONING,
       .text = "",
       .signature = "sig-B",
       .format = ANTH},
      {.type = CANON_EV_TEXT, .text = "Hello, ", .len = 7},
      {.type = CANON_EV_TEXT, .text = "\"world\"\nxx", .len = 8},
      {.type = CANON_EV_TOOL_START, .index = 1, .id = "toolu_2", .name = "t2"},
      {.type = CANON_EV_TOOL_START, .index = 0, .id = "toolu_1", .name = "t1"},
      {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "{\"city\":", .len = 8},
      {.type = CANON_EV_TOOL_ARGS, .index = 1, .text = "{}", .len = 2},
      {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "\"Paris\"}", .len = 8},
      {.type = CANON_EV_FINISH, .finish_reason = "stop"},
      {.type = CANON_EV_FINISH, .finish_reason = "tool_calls"},
      {.type = CANON_EV_USAGE, .usage = {1, 1, -1, -1}},
      {.type = CANON_EV_USAGE, .usage = {100, 50, 20, 30}},
      {.type = CANON_EV_ERROR, .err = &boom},
  };
  cJSON *doc = doc_of(evs, SB_ARRAY_LEN(evs), "fb-id", "fb-model"), *again;
  (void)state;

  assert_json(
      doc,
      "{'id':'msg_1','object':'chat.completion','created':42,"
      "'model':'claude-x','choices':[{'index':0,'message':{"
      "'role':'assistant','content':'Hello, \\'world\\'\\n',"
      "'reasoning_content':'Let me think.Second.',"
      "'tool_calls':[{'id':'toolu_1','type':'function','function':{"
      "'name':'t1','arguments':'{\\'city\\':\\'Paris\\'}'}},"
      "{'id':'toolu_2','type':'function','function':{'name':'t2',"
      "'arguments':'{}'}}],'refusal':null,"
      "'reasoning_details':["
      "{'type':'reasoning.text','text':'Let me think.','signature':'sig-A',"
      "'format':'anthropic-claude-v1'},"
      "{'type':'reasoning.encrypted','data':'ENC',"
      "'format':'anthropic-claude-v1'},"
      "{'type':'reasoning.text','text':'Second.','signature':'sig-B',"
      "'format':'anthropic-claude-v1'}]},"
      "'logprobs':null,'finish_reason':'tool_calls'}],"
      "'usage':{'prompt_tokens':100,'completion_tokens':50,"
      "'total_tokens':150,'prompt_tokens_details':{'cached_tokens':20},"
      "'completion_tokens_details':{'reasoning_tokens':30}}}");
  again = replay_doc(doc);
  assert_same_json(again, doc);
  cJSON_Delete(again);
  cJSON_Delete(doc);
}

/* No START ids, reasoning left open after a closed block, no finish, no
 * usage; and reasoning never closed (an OpenAI-compatible upstream). */
static void test_fallbacks_and_open_reasoning(void **state)
{
  struct canon_ev open_tail[] = {
      {.type = CANON_EV_START},
      {.type = CANON_EV_REASONING, .text = "a", .len = 1},
      {.type = CANON_EV_REASONING, .signature = "s", .format = ANTH},
      {.type = CANON_EV_REASONING, .text = "tail", .len = 4},
      {.type = CANON_EV_TOOL_ARGS, .index = 0, .text = "{}", .len = 2},
  };
  struct canon_ev plain[] = {
      {.type = CANON_EV_REASONING, .text = "hm", .len = 2},
      {.type = CANON_EV_REASONING, .text = "m", .len = 1},
      {.type = CANON_EV_TOOL_START, .index = 0, .id = "c", .name = "f"},
  };
  cJSON *doc, *again;
  (void)state;

  doc = doc_of(open_tail, SB_ARRAY_LEN(open_tail), "fb-id", "fb-model");
  assert_json(doc,
              "{'id':'fb-id','object':'chat.completion','created':42,"
              "'model':'fb-model','choices':[{'index':0,'message':{"
              "'role':'assistant','content':null,'reasoning_content':'atail',"
              "'tool_calls':[{'id':'','type':'function','function':{"
              "'name':'','arguments':'{}'}}],'refusal':null,"
              "'reasoning_details':["
              "{'type':'reasoning.text','text':'a','signature':'s',"
              "'format':'anthropic-claude-v1'},"
              "{'type':'reasoning.text','text':'tail'}]},"
              "'logprobs':null,'finish_reason':'tool_calls'}]}");
  again = replay_doc(doc);
  assert_same_json(again, doc);
  cJSON_Delete(again);
  cJSON_Delete(doc);

  doc = doc_of(plain, SB_ARRAY_LEN(plain), "i", "m");
  assert_json(doc, "{'id':'i','object':'chat.completion','created':42,"
                   "'model':'m','choices':[{'index':0,'message':{"
                   "'role':'assistant','content':null,"
                   "'reasoning_content':'hmm','tool_calls':[{'id':'c',"
                   "'type':'function','function':{'name':'f',"
                   "'arguments':'{}'}}],'refusal':null},"
                   "'logprobs':null,'finish_reason':'tool_calls'}]}");
  cJSON_Delete(doc);
}

/* Replay as the events: order, content parts, Gemini's signature on a
 * tool call, the sink's stop, and a document without a message. */
static void test_replay_events(void **state)
{
  cJSON *doc =
      pj("{'id':'x1','model':'m1','choices':[{'message':{'role':'assistant',"
         "'content':[{'type':'text','text':'Hel'},{'type':'image_url'},"
         "{'type':'text','text':'lo'}],'reasoning_content':'ignored',"
         "'reasoning_details':[{'type':'reasoning.summary','summary':'s'},"
         "{'type':'reasoning.text','text':'r1','signature':'S1','format':'f1'},"
         "{'type':'reasoning.encrypted','data':'D','format':'f2'}],"
         "'tool_calls':[{'id':'c1','type':'function','function':{'name':'n1',"
         "'arguments':'{\\'a\\':1}'},'extra_content':{'google':{"
         "'thought_signature':'TS'}}}]},'finish_reason':'tool_calls'}],"
         "'usage':{'prompt_tokens':9,'completion_tokens':4,"
         "'prompt_tokens_details':{'cached_tokens':2}}}");
  struct canon_ev want[] = {
      {.type = CANON_EV_START, .id = "x1", .model = "m1"},
      {.type = CANON_EV_REASONING, .text = "r1", .len = 2},
      {.type = CANON_EV_REASONING,
       .text = "",
       .signature = "S1",
       .format = "f1"},
      {.type = CANON_EV_REASONING, .text = "", .data = "D", .format = "f2"},
      {.type = CANON_EV_TEXT, .text = "Hello", .len = 5},
      {.type = CANON_EV_TOOL_START,
       .id = "c1",
       .name = "n1",
       .signature = "TS"},
      {.type = CANON_EV_TOOL_ARGS, .text = "{\"a\":1}", .len = 7},
      {.type = CANON_EV_FINISH, .finish_reason = "tool_calls"},
      {.type = CANON_EV_USAGE, .usage = {9, 4, 2, -1}},
  };
  struct rec r = {.n = 0};
  struct canon_sink sink = {rec_emit, &r};
  cJSON *bad, *again;
  (void)state;

  assert_int_equal(canon_answer_replay(doc, &sink), 0);
  assert_int_equal(r.n, SB_ARRAY_LEN(want));
  for(int i = 0; i < r.n; i++)
    assert_ev_equal(&r.v[i], &want[i]);
  rec_free(&r);

  /* The thought signature comes back where it was. */
  again = replay_doc(doc);
  assert_json(
      canon_json_get(
          cJSON_GetArrayItem(
              canon_json_get(
                  canon_json_get(
                      cJSON_GetArrayItem(canon_json_get(again, "choices"), 0),
                      "message"),
                  "tool_calls"),
              0),
          "extra_content"),
      "{'google':{'thought_signature':'TS'}}");
  cJSON_Delete(again);

  r.stop_at = 3;
  r.stop_rc = 7;
  assert_int_equal(canon_answer_replay(doc, &sink), 7);
  assert_int_equal(r.n, 3);
  rec_free(&r);
  r.stop_at = 0;

  bad = pj("{'id':'x','choices':[]}");
  assert_int_equal(canon_answer_replay(bad, &sink), SB_EINVAL);
  cJSON_Delete(bad);
  bad = pj("{'id':'x','choices':{'message':{}}}");
  assert_int_equal(canon_answer_replay(bad, &sink), SB_EINVAL);
  cJSON_Delete(bad);
  assert_int_equal(r.n, 0);
  cJSON_Delete(doc);
}

/* ---- 2. an adapter's document, replayed through the renderers ---------- */

static cJSON *anthropic_doc(void)
{
  static const char body[] =
      "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
      "\"model\":\"claude-x\",\"content\":["
      "{\"type\":\"thinking\",\"thinking\":\"I should call two tools.\","
      "\"signature\":\"EqQBsig==\"},"
      "{\"type\":\"redacted_thinking\",\"data\":\"REDACTED==\"},"
      "{\"type\":\"text\",\"text\":\"Checking \\\"both\\\" \xc3\xa9\\n\"},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_A\",\"name\":\"get_weather\","
      "\"input\":{\"city\":\"Paris\"}},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"get_time\","
      "\"input\":{\"tz\":\"CET\"}}],"
      "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":10,"
      "\"output_tokens\":20,\"cache_read_input_tokens\":5}}";
  const struct prov_adapter *A = &prov_anthropic_adapter;
  struct config_provider cfg;
  struct prov p;
  struct canon_usage u;
  struct api_error err;
  char cerr[256] = "";
  cJSON *out = NULL;

  memset(&cfg, 0, sizeof(cfg));
  memset(&p, 0, sizeof(p));
  cfg.name = "claude";
  cfg.kind = "anthropic";
  p.name = "claude";
  p.kind = PROV_ADAPTER;
  p.cfg = &cfg;
  p.adapter = A;
  p.base_url = "https://api.anthropic.com";
  p.api_key = "sk-ant-secret";
  assert_int_equal(A->configure(&p, NULL, "test", cerr, sizeof(cerr)), 0);
  if(A->parse_chat(&p, body, strlen(body), "claude-x", "chatcmpl-1", 42, &out,
                   &u, &err))
    fail_msg("parse_chat failed: %s", err.message);
  A->unconfigure(&p);
  return out;
}

/* The data of each SSE event in out, parsed. */
static int sse_data(const struct buf *out, cJSON **v, int max)
{
  const char *p = out->data, *q;
  int n = 0;

  while(p && (q = strstr(p, "\n\n")) && n < max) {
    const char *d = strstr(p, "data: ");
    assert_true(d && d < q);
    if(strncmp(d + 6, "[DONE]", 6)) {
      v[n] = cJSON_ParseWithLength(d + 6, (size_t)(q - d - 6));
      assert_non_null(v[n]);
      n++;
    }
    p = q + 2;
  }
  return n;
}

static int anth_emit(void *ud, const struct canon_ev *ev)
{
  void **v = ud;
  return anth_stream_render(v[0], ev, v[1]);
}

static int oai_emit(void *ud, const struct canon_ev *ev)
{
  void **v = ud;
  return oai_stream_render(v[0], ev, v[1]);
}

static const cJSON *message_of(const cJSON *doc)
{
  return canon_json_get(cJSON_GetArrayItem(canon_json_get(doc, "choices"), 0),
                        "message");
}

static const char *call_str(const cJSON *doc, int i, const char *k)
{
  const cJSON *tc =
      cJSON_GetArrayItem(canon_json_get(message_of(doc), "tool_calls"), i);
  const char *s = canon_json_str(tc, k);

  return s ? s : canon_json_str(canon_json_get(tc, "function"), k);
}

/* Concatenate s onto *acc. */
static void cat(char **acc, const char *s)
{
  char *t = sb_asprintf("%s%s", *acc ? *acc : "", s ? s : "");

  free(*acc);
  *acc = t;
}

static void test_adapter_doc_as_anthropic_stream(void **state)
{
  cJSON *doc = anthropic_doc(), *v[64], *again;
  const cJSON *details = canon_json_get(message_of(doc), "reasoning_details");
  struct anth_stream *s = anth_stream_new("msg_gw", "claude-x");
  struct buf out;
  void *ud[2] = {s, &out};
  struct canon_sink sink = {anth_emit, ud};
  char *thinking = NULL, *sig = NULL, *text = NULL, *args[2] = {NULL, NULL};
  const char *types[8] = {NULL};
  const char *ids[2] = {NULL, NULL}, *stop = NULL;
  int n, ntool = 0;
  (void)state;

  /* The document as the adapter builds it. */
  assert_int_equal(cJSON_GetArraySize(details), 2);
  assert_string_equal(
      canon_json_str(cJSON_GetArrayItem(details, 0), "signature"), "EqQBsig==");
  again = replay_doc(doc);
  assert_same_json(again, doc);
  cJSON_Delete(again);

  buf_init(&out, 1 << 20);
  assert_int_equal(canon_answer_replay(doc, &sink), 0);
  assert_int_equal(anth_stream_end(s, &out), 0);
  n = sse_data(&out, v, 64);
  for(int i = 0; i < n; i++) {
    const char *type = canon_json_str(v[i], "type");
    const cJSON *d = canon_json_get(v[i], "delta");
    const cJSON *cb = canon_json_get(v[i], "content_block");
    int idx = (int)canon_json_count(canon_json_get(v[i], "index"), -1);
    const char *dt = canon_json_str(d, "type");

    if(!strcmp(type, "content_block_start")) {
      assert_true(idx >= 0 && idx < 8);
      types[idx] = canon_json_str(cb, "type");
      if(!strcmp(types[idx], "tool_use")) {
        assert_true(ntool < 2);
        ids[ntool++] = canon_json_str(cb, "id");
      }
    } else if(!strcmp(type, "content_block_delta")) {
      assert_true(idx >= 0 && idx < 8);
      if(!strcmp(dt, "thinking_delta")) {
        assert_string_equal(types[idx], "thinking");
        cat(&thinking, canon_json_str(d, "thinking"));
      } else if(!strcmp(dt, "signature_delta")) {
        /* The signature closes the thinking block it belongs to. */
        assert_string_equal(types[idx], "thinking");
        assert_non_null(thinking);
        cat(&sig, canon_json_str(d, "signature"));
      } else if(!strcmp(dt, "text_delta")) {
        cat(&text, canon_json_str(d, "text"));
      } else if(!strcmp(dt, "input_json_delta")) {
        cat(&args[ntool - 1], canon_json_str(d, "partial_json"));
      }
    } else if(!strcmp(type, "message_delta")) {
      stop = canon_json_str(d, "stop_reason");
    }
  }
  assert_non_null(types[0]);
  assert_non_null(thinking);
  assert_non_null(sig);
  assert_non_null(text);
  assert_non_null(args[0]);
  assert_non_null(args[1]);
  assert_string_equal(types[0], "thinking");
  assert_string_equal(thinking,
                      canon_json_str(cJSON_GetArrayItem(details, 0), "text"));
  assert_string_equal(sig, "EqQBsig==");
  assert_string_equal(text, canon_json_str(message_of(doc), "content"));
  assert_int_equal(ntool, 2);
  for(int i = 0; i < 2; i++) {
    assert_string_equal(ids[i], call_str(doc, i, "id"));
    assert_string_equal(args[i], call_str(doc, i, "arguments"));
  }
  assert_string_equal(stop, "tool_use");
  for(int i = 0; i < n; i++)
    cJSON_Delete(v[i]);
  free(thinking);
  free(sig);
  free(text);
  free(args[0]);
  free(args[1]);
  buf_free(&out);
  anth_stream_free(s);
  cJSON_Delete(doc);
}

static void test_adapter_doc_as_chat_chunks(void **state)
{
  cJSON *doc = anthropic_doc(), *v[64];
  struct oai_stream s;
  struct buf out;
  void *ud[2] = {&s, &out};
  struct canon_sink sink = {oai_emit, ud};
  char *content = NULL, *reasoning = NULL, *args[2] = {NULL, NULL};
  const char *ids[2] = {NULL, NULL}, *names[2] = {NULL, NULL}, *finish = NULL;
  const cJSON *usage = NULL;
  int n;
  (void)state;

  oai_stream_init(&s, "chatcmpl-1", 42, "claude-x", 1);
  buf_init(&out, 1 << 20);
  assert_int_equal(canon_answer_replay(doc, &sink), 0);
  assert_int_equal(oai_stream_end(&s, &out), 0);
  n = sse_data(&out, v, 64);
  for(int i = 0; i < n; i++) {
    const cJSON *c = cJSON_GetArrayItem(canon_json_get(v[i], "choices"), 0);
    const cJSON *d = canon_json_get(c, "delta"), *tc;

    if(canon_json_str(c, "finish_reason"))
      finish = canon_json_str(c, "finish_reason");
    if(cJSON_IsObject(canon_json_get(v[i], "usage")))
      usage = canon_json_get(v[i], "usage");
    cat(&content, canon_json_str(d, "content"));
    cat(&reasoning, canon_json_str(d, "reasoning_content"));
    cJSON_ArrayForEach(tc, canon_json_get(d, "tool_calls"))
    {
      int k = (int)canon_json_count(canon_json_get(tc, "index"), -1);
      const cJSON *fn = canon_json_get(tc, "function");

      assert_true(k >= 0 && k < 2);
      if(canon_json_str(tc, "id"))
        ids[k] = canon_json_str(tc, "id");
      if(canon_json_str(fn, "name"))
        names[k] = canon_json_str(fn, "name");
      cat(&args[k], canon_json_str(fn, "arguments"));
    }
  }
  assert_non_null(content);
  assert_non_null(reasoning);
  assert_non_null(finish);
  assert_string_equal(content, canon_json_str(message_of(doc), "content"));
  assert_string_equal(reasoning,
                      canon_json_str(message_of(doc), "reasoning_content"));
  for(int i = 0; i < 2; i++) {
    assert_non_null(ids[i]);
    assert_non_null(names[i]);
    assert_non_null(args[i]);
    assert_string_equal(ids[i], call_str(doc, i, "id"));
    assert_string_equal(names[i], call_str(doc, i, "name"));
    assert_string_equal(args[i], call_str(doc, i, "arguments"));
  }
  assert_string_equal(finish, "tool_calls");
  assert_non_null(usage);
  assert_same_json(usage, canon_json_get(doc, "usage"));
  for(int i = 0; i < n; i++)
    cJSON_Delete(v[i]);
  free(content);
  free(reasoning);
  free(args[0]);
  free(args[1]);
  buf_free(&out);
  oai_stream_free(&s);
  cJSON_Delete(doc);
}

/* ---- 3. records ---------------------------------------------------------- */

static void test_encode_decode(void **state)
{
  static const char odd[] = "say \"hi\"\\ \n\ttab \x01 caf\xc3\xa9 "
                            "\xe6\xbc\xa2 \xf0\x9f\x8e\x89 end";
  struct api_error err = {.status = 429,
                          .type = "rate_limit_exceeded",
                          .code = "rate_limit_exceeded",
                          .param = "model",
                          .message = "Slow \"down\"\nplease \xc3\xa9",
                          .retry_after_s = 3,
                          .retry_after_ms = 2500,
                          .final = 1};
  struct canon_ev evs[] = {
      {.type = CANON_EV_START, .id = "msg_1", .model = "m"},
      {.type = CANON_EV_START},
      {.type = CANON_EV_TEXT, .text = odd, .len = sizeof(odd) - 1},
      {.type = CANON_EV_TEXT, .text = "", .len = 0},
      {.type = CANON_EV_REASONING, .text = "th\"ink", .len = 6},
      {.type = CANON_EV_REASONING,
       .text = "",
       .signature = "sig/+=",
       .format = ANTH},
      {.type = CANON_EV_REASONING, .text = "", .data = "DATA", .format = ANTH},
      {.type = CANON_EV_TOOL_START,
       .index = 3,
       .id = "call_9",
       .name = "f",
       .signature = "TS"},
      {.type = CANON_EV_TOOL_ARGS, .index = 3, .text = "{\"a\":", .len = 5},
      {.type = CANON_EV_FINISH, .finish_reason = "length"},
      {.type = CANON_EV_USAGE, .usage = {9007199254740992LL, 5, -1, 0}},
      {.type = CANON_EV_ERROR, .err = &err},
  };
  size_t nev = SB_ARRAY_LEN(evs), lines = 0, cut = 0;
  struct rec r = {.n = 0};
  struct canon_sink sink = {rec_emit, &r};
  struct buf log;
  (void)state;

  buf_init(&log, 1 << 20);
  for(size_t i = 0; i < nev; i++) {
    assert_int_equal(canon_ev_encode(&evs[i], &log), 0);
    if(i == 4)
      cut = log.len; /* a record boundary */
  }
  for(size_t i = 0; i < log.len; i++)
    lines += log.data[i] == '\n';
  assert_int_equal(lines, nev); /* one line per record */
  assert_int_equal(log.data[log.len - 1], '\n');

  assert_int_equal(canon_ev_decode(log.data, log.len, &sink), 0);
  assert_int_equal(r.n, nev);
  for(size_t i = 0; i < nev; i++)
    assert_ev_equal(&r.v[i], &evs[i]);
  rec_free(&r);

  /* Read in two parts split at a record boundary. */
  assert_int_equal(canon_ev_decode(log.data, cut, &sink), 0);
  assert_int_equal(r.n, 5);
  assert_int_equal(canon_ev_decode(log.data + cut, log.len - cut, &sink), 0);
  assert_int_equal(r.n, nev);
  for(size_t i = 0; i < nev; i++)
    assert_ev_equal(&r.v[i], &evs[i]);
  rec_free(&r);

  /* A record not yet whole is left for later. */
  assert_int_equal(canon_ev_decode(log.data, cut + 3, &sink), 0);
  assert_int_equal(r.n, 5);
  rec_free(&r);

  /* The sink's stop. */
  r.stop_at = 2;
  r.stop_rc = -42;
  assert_int_equal(canon_ev_decode(log.data, log.len, &sink), -42);
  assert_int_equal(r.n, 2);
  rec_free(&r);
  buf_free(&log);
}

static void test_decode_malformed(void **state)
{
  static const char *const bad[] = {
      "not json\n",
      "{\"type\":\"nope\"}\n",
      "{\"text\":\"x\"}\n",
      "[1]\n",
      "{\"type\":\"text\",\"text\":1}\n",
      "{\"type\":\"text\",\"text\":\"a\"}junk\n",
      "{\"type\":\"tool_args\",\"index\":1e12}\n",
      "{\"type\":\"usage\",\"usage\":{\"prompt_tokens\":-5}}\n",
      "{\"type\":\"usage\",\"usage\":[]}\n",
      "{\"type\":\"error\"}\n",
      "{\"type\":\"error\",\"error\":{\"status\":\"x\"}}\n",
      "\n",
  };
  struct rec r = {.n = 0};
  struct canon_sink sink = {rec_emit, &r};
  struct buf log, small;
  struct canon_ev ok = {.type = CANON_EV_TEXT, .text = "fine", .len = 4};
  (void)state;

  buf_init(&log, 1 << 16);
  for(size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
    buf_reset(&log);
    assert_int_equal(canon_ev_encode(&ok, &log), 0);
    assert_int_equal(buf_appendz(&log, bad[i]), 0);
    assert_int_equal(canon_ev_encode(&ok, &log), 0);
    if(canon_ev_decode(log.data, log.len, &sink) != SB_EPROTO)
      fail_msg("decoded a malformed record: %s", bad[i]);
    /* The record before it was emitted, none after it. */
    assert_int_equal(r.n, 1);
    rec_free(&r);
  }
  buf_free(&log);

  /* A record that does not fit leaves the log as it was. */
  buf_init(&small, 20);
  assert_int_equal(buf_appendz(&small, "0123456789"), 0);
  assert_int_equal(canon_ev_encode(&ok, &small), SB_ETOOBIG);
  assert_int_equal(small.len, 10);
  assert_string_equal(small.data, "0123456789");
  buf_free(&small);
}

/* ---- 4. the limit -------------------------------------------------------- */

static void test_feed_limit(void **state)
{
  struct canon_answer *a = canon_answer_new(10);
  struct canon_ev six = {.type = CANON_EV_TEXT, .text = "abcdef", .len = 6};
  struct canon_ev five = {.type = CANON_EV_TEXT, .text = "ghijk", .len = 5};
  struct canon_ev four = {.type = CANON_EV_TEXT, .text = "ghij", .len = 4};
  struct canon_ev one = {.type = CANON_EV_REASONING, .text = "r", .len = 1};
  struct canon_ev tool = {.type = CANON_EV_TOOL_START, .id = "c", .name = "f"};
  struct canon_ev fin = {.type = CANON_EV_FINISH, .finish_reason = "stop"};
  cJSON *doc;
  (void)state;

  assert_int_equal(canon_answer_feed(a, &six), 0);
  assert_int_equal(canon_answer_feed(a, &five), SB_ETOOBIG);
  assert_int_equal(canon_answer_feed(a, &four), 0);
  /* Full: every kind of kept string counts. */
  assert_int_equal(canon_answer_feed(a, &one), SB_ETOOBIG);
  assert_int_equal(canon_answer_feed(a, &tool), SB_ETOOBIG);
  assert_int_equal(canon_answer_feed(a, &fin), SB_ETOOBIG);
  /* The refused events left nothing behind. */
  doc = canon_answer_doc(a, "i", 1, "m");
  assert_json(doc, "{'id':'i','object':'chat.completion','created':1,"
                   "'model':'m','choices':[{'index':0,'message':{"
                   "'role':'assistant','content':'abcdefghij',"
                   "'refusal':null},'logprobs':null,"
                   "'finish_reason':'stop'}]}");
  cJSON_Delete(doc);
  canon_answer_free(a);

  /* Tool arguments and signatures count too. */
  a = canon_answer_new(99);
  {
    char big[101];
    struct canon_ev args = {.type = CANON_EV_TOOL_ARGS, .text = big};
    struct canon_ev sig = {.type = CANON_EV_REASONING, .signature = big};

    memset(big, 'x', sizeof(big) - 1);
    big[100] = '\0';
    args.len = 100;
    assert_int_equal(canon_answer_feed(a, &args), SB_ETOOBIG);
    assert_int_equal(canon_answer_feed(a, &sig), SB_ETOOBIG);
    big[50] = '\0';
    assert_int_equal(canon_answer_feed(a, &sig), 0);
  }
  canon_answer_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_events_doc_replay),
      cmocka_unit_test(test_fallbacks_and_open_reasoning),
      cmocka_unit_test(test_replay_events),
      cmocka_unit_test(test_adapter_doc_as_anthropic_stream),
      cmocka_unit_test(test_adapter_doc_as_chat_chunks),
      cmocka_unit_test(test_encode_decode),
      cmocka_unit_test(test_decode_malformed),
      cmocka_unit_test(test_feed_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
