#include "codec/oai_stream.h"
#include "codec/canon_doc.h"
#include "base/sb.h"
#include "base/sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oai_stream_init(struct oai_stream *s, const char *id, int64_t created,
                     const char *model, int include_usage)
{
  memset(s, 0, sizeof(*s));
  snprintf(s->id, sizeof(s->id), "%s", id);
  s->created = created;
  s->model = sb_strdup(model);
  s->include_usage = include_usage;
  canon_usage_init(&s->usage);
}

void oai_stream_free(struct oai_stream *s)
{
  free(s->model);
  s->model = NULL;
}

static cJSON *envelope(const struct oai_stream *s)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", s->id);
  cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
  cJSON_AddNumberToObject(o, "created", (double)s->created);
  cJSON_AddStringToObject(o, "model", s->model);
  return o;
}

/* A chunk with one choice whose delta the caller fills. */
static cJSON *choice_chunk(const struct oai_stream *s, cJSON **delta,
                           const char *finish)
{
  cJSON *o = envelope(s);
  cJSON *c = cJSON_CreateObject();

  cJSON_AddNumberToObject(c, "index", 0);
  *delta = cJSON_AddObjectToObject(c, "delta");
  cJSON_AddNullToObject(c, "logprobs");
  if(finish)
    cJSON_AddStringToObject(c, "finish_reason", finish);
  else
    cJSON_AddNullToObject(c, "finish_reason");
  cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c);
  if(s->include_usage)
    cJSON_AddNullToObject(o, "usage");
  return o;
}

static int emit(cJSON *o, struct buf *out)
{
  char *json = cJSON_PrintUnformatted(o);
  int rc;

  cJSON_Delete(o);
  if(!json)
    abort();
  rc = sse_write_event(out, NULL, json, strlen(json));
  free(json);
  return rc;
}

static void add_strn(cJSON *o, const char *k, const char *p, size_t n)
{
  char *s = sb_strndup(p ? p : "", p ? n : 0);

  cJSON_AddStringToObject(o, k, s);
  free(s);
}

static int start(struct oai_stream *s, struct buf *out)
{
  cJSON *delta, *o;

  if(s->started)
    return 0;
  s->started = 1;
  o = choice_chunk(s, &delta, NULL);
  cJSON_AddStringToObject(delta, "role", "assistant");
  cJSON_AddStringToObject(delta, "content", "");
  return emit(o, out);
}

static int tool_delta(struct oai_stream *s, const struct canon_ev *ev,
                      struct buf *out)
{
  cJSON *delta, *o = choice_chunk(s, &delta, NULL);
  cJSON *tc = cJSON_CreateObject();
  cJSON *fn;

  cJSON_AddNumberToObject(tc, "index", ev->index);
  if(ev->type == CANON_EV_TOOL_START) {
    cJSON_AddStringToObject(tc, "id", ev->id ? ev->id : "");
    cJSON_AddStringToObject(tc, "type", "function");
    /* Gemini's thought signature must come back with the call; this is
     * where Google's own OpenAI-compatible endpoint puts it. */
    if(ev->signature)
      cJSON_AddStringToObject(
          cJSON_AddObjectToObject(cJSON_AddObjectToObject(tc, "extra_content"),
                                  "google"),
          "thought_signature", ev->signature);
  }
  fn = cJSON_AddObjectToObject(tc, "function");
  if(ev->type == CANON_EV_TOOL_START) {
    cJSON_AddStringToObject(fn, "name", ev->name ? ev->name : "");
    add_strn(fn, "arguments", ev->text, ev->len);
  } else {
    add_strn(fn, "arguments", ev->text, ev->len);
  }
  cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), tc);
  s->saw_tool = 1;
  return emit(o, out);
}

int oai_stream_render(struct oai_stream *s, const struct canon_ev *ev,
                      struct buf *out)
{
  cJSON *delta, *o;
  int rc;

  if(ev->type == CANON_EV_ERROR) {
    char *json = api_error_openai_json(ev->err);
    rc = sse_write_event(out, NULL, json, strlen(json));
    free(json);
    return rc;
  }
  if(ev->type == CANON_EV_USAGE) {
    s->usage = ev->usage;
    return 0;
  }
  rc = start(s, out);
  if(rc)
    return rc;
  switch(ev->type) {
  case CANON_EV_START: return 0;
  case CANON_EV_TEXT:
    if(!ev->len)
      return 0;
    o = choice_chunk(s, &delta, NULL);
    add_strn(delta, "content", ev->text, ev->len);
    return emit(o, out);
  case CANON_EV_REASONING:
    if(!ev->len)
      return 0; /* a bare signature has no OpenAI rendering */
    o = choice_chunk(s, &delta, NULL);
    add_strn(delta, "reasoning_content", ev->text, ev->len);
    return emit(o, out);
  case CANON_EV_TOOL_START:
  case CANON_EV_TOOL_ARGS: return tool_delta(s, ev, out);
  case CANON_EV_FINISH:
    if(s->finished)
      return 0;
    s->finished = 1;
    o = choice_chunk(s, &delta, ev->finish_reason ? ev->finish_reason : "stop");
    return emit(o, out);
  default: return 0;
  }
}

int oai_stream_end(struct oai_stream *s, struct buf *out)
{
  int rc = start(s, out);

  if(!rc && !s->finished) {
    struct canon_ev ev = {.type = CANON_EV_FINISH,
                          .finish_reason = s->saw_tool ? "tool_calls" : "stop"};
    rc = oai_stream_render(s, &ev, out);
  }
  if(!rc && s->include_usage) {
    cJSON *o = envelope(s);
    cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToObject(o, "usage", canon_usage_json(&s->usage));
    rc = emit(o, out);
  }
  if(!rc)
    rc = sse_write_event(out, NULL, "[DONE]", 6);
  return rc;
}
