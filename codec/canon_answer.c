#include "codec/canon_answer.h"
#include "base/sb.h"
#include "codec/canon_doc.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a tool call costs against max_bytes besides its strings, so that a
 * stream of empty TOOL_STARTs with fresh indexes is bounded too. */
#define TOOL_COST 64

struct answer_tool {
  int index;
  char *id;        /* NULL until a TOOL_START names it */
  char *name;      /* idem */
  char *signature; /* TOOL_START's (Gemini's thought signature), or NULL */
  struct buf args;
};

struct canon_answer {
  size_t max;  /* most bytes of strings kept */
  size_t kept; /* bytes of strings kept so far */
  char *id;    /* START's, or NULL */
  char *model; /* idem */
  struct buf text;
  struct buf reasoning; /* all reasoning text: reasoning_content */
  size_t block;         /* where the open reasoning block starts in it */
  cJSON *details;       /* reasoning_details of the closed blocks */
  struct answer_tool *tools;
  size_t ntools, cap;
  char *finish;             /* the last FINISH's reason, or NULL */
  struct canon_usage usage; /* the last USAGE's */
  int has_usage;
};

struct canon_answer *canon_answer_new(size_t max_bytes)
{
  struct canon_answer *a = sb_calloc(1, sizeof(*a));

  a->max = max_bytes;
  /* The charge in canon_answer_feed keeps every buffer under max; the
   * buffers' own limits are the same bound again. */
  buf_init(&a->text, max_bytes);
  buf_init(&a->reasoning, max_bytes);
  a->details = cJSON_CreateArray();
  canon_usage_init(&a->usage);
  return a;
}

void canon_answer_free(struct canon_answer *a)
{
  if(!a)
    return;
  for(size_t i = 0; i < a->ntools; i++) {
    free(a->tools[i].id);
    free(a->tools[i].name);
    free(a->tools[i].signature);
    buf_free(&a->tools[i].args);
  }
  free(a->tools);
  free(a->id);
  free(a->model);
  free(a->finish);
  buf_free(&a->text);
  buf_free(&a->reasoning);
  cJSON_Delete(a->details);
  free(a);
}

static size_t slen(const char *s)
{
  return s ? strlen(s) : 0;
}

static struct answer_tool *find_tool(struct canon_answer *a, int index)
{
  for(size_t i = 0; i < a->ntools; i++)
    if(a->tools[i].index == index)
      return &a->tools[i];
  return NULL;
}

static struct answer_tool *add_tool(struct canon_answer *a, int index)
{
  struct answer_tool *t;

  if(a->ntools == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 4;
    a->tools = sb_realloc(a->tools, a->cap * sizeof(*a->tools));
  }
  t = &a->tools[a->ntools++];
  memset(t, 0, sizeof(*t));
  t->index = index;
  buf_init(&t->args, a->max);
  return t;
}

/* The reasoning text of the open block, as a new string. */
static char *open_block(const struct canon_answer *a)
{
  return sb_strndup(a->reasoning.data ? a->reasoning.data + a->block : "",
                    a->reasoning.len - a->block);
}

/* Close the open reasoning block as a reasoning.text entry. */
static void close_block(struct canon_answer *a, const char *signature,
                        const char *format)
{
  char *text = open_block(a);

  cJSON_AddItemToArray(a->details,
                       canon_reasoning_text(text, signature, format));
  free(text);
  a->block = a->reasoning.len;
}

/* The bytes ev adds to what a keeps: checked before anything changes, so
 * that a refused event leaves the answer as it was. */
static size_t cost(struct canon_answer *a, const struct canon_ev *ev)
{
  struct answer_tool *t;
  size_t n = ev->text ? ev->len : 0;

  switch(ev->type) {
  case CANON_EV_START:
    return (a->id ? 0 : slen(ev->id)) + (a->model ? 0 : slen(ev->model));
  case CANON_EV_TEXT: return n;
  case CANON_EV_REASONING:
    return n + slen(ev->signature) + slen(ev->data) + slen(ev->format);
  case CANON_EV_TOOL_START:
    t = find_tool(a, ev->index);
    if(!t)
      return n + TOOL_COST + slen(ev->id) + slen(ev->name) +
             slen(ev->signature);
    return n + (t->id ? 0 : slen(ev->id)) + (t->name ? 0 : slen(ev->name)) +
           (t->signature ? 0 : slen(ev->signature));
  case CANON_EV_TOOL_ARGS: return n + (find_tool(a, ev->index) ? 0 : TOOL_COST);
  case CANON_EV_FINISH: return slen(ev->finish_reason);
  default: return 0;
  }
}

static void take(char **dst, const char *s)
{
  if(!*dst && s)
    *dst = sb_strdup(s);
}

static void reasoning(struct canon_answer *a, const struct canon_ev *ev)
{
  if(ev->text && ev->len)
    buf_append(&a->reasoning, ev->text, ev->len);
  if(ev->signature)
    close_block(a, ev->signature, ev->format);
  if(ev->data) {
    /* A redacted block stands alone: text before it that no signature
     * closed is a block of its own. */
    if(a->reasoning.len > a->block)
      close_block(a, NULL, NULL);
    cJSON_AddItemToArray(a->details,
                         canon_reasoning_encrypted(ev->data, ev->format));
  }
}

int canon_answer_feed(struct canon_answer *a, const struct canon_ev *ev)
{
  struct answer_tool *t;
  size_t n = cost(a, ev);

  if(n > a->max - a->kept)
    return SB_ETOOBIG;
  a->kept += n;
  switch(ev->type) {
  case CANON_EV_START:
    take(&a->id, ev->id);
    take(&a->model, ev->model);
    break;
  case CANON_EV_TEXT:
    if(ev->text && ev->len)
      buf_append(&a->text, ev->text, ev->len);
    break;
  case CANON_EV_REASONING: reasoning(a, ev); break;
  case CANON_EV_TOOL_START:
  case CANON_EV_TOOL_ARGS:
    t = find_tool(a, ev->index);
    if(!t)
      t = add_tool(a, ev->index);
    if(ev->type == CANON_EV_TOOL_START) {
      take(&t->id, ev->id);
      take(&t->name, ev->name);
      take(&t->signature, ev->signature);
    }
    /* A repeated start's text is more arguments, as renderers read it. */
    if(ev->text && ev->len)
      buf_append(&t->args, ev->text, ev->len);
    break;
  case CANON_EV_FINISH:
    if(ev->finish_reason) {
      free(a->finish);
      a->finish = sb_strdup(ev->finish_reason);
    }
    break;
  case CANON_EV_USAGE:
    a->usage = ev->usage;
    a->has_usage = 1;
    break;
  default: break; /* ERROR: the caller drops a failed answer */
  }
  return 0;
}

static int by_index(const void *x, const void *y)
{
  const struct answer_tool *const *p = x, *const *q = y;

  return ((*p)->index > (*q)->index) - ((*p)->index < (*q)->index);
}

/* The tool_calls array, in index order, or NULL without tool calls. */
static cJSON *tool_calls(const struct canon_answer *a)
{
  const struct answer_tool **v;
  cJSON *calls;

  if(!a->ntools)
    return NULL;
  v = sb_calloc(a->ntools, sizeof(*v));
  for(size_t i = 0; i < a->ntools; i++)
    v[i] = &a->tools[i];
  qsort(v, a->ntools, sizeof(*v), by_index);
  calls = cJSON_CreateArray();
  for(size_t i = 0; i < a->ntools; i++) {
    cJSON *tc = canon_tool_call(v[i]->id, v[i]->name,
                                v[i]->args.len ? v[i]->args.data : NULL);
    if(v[i]->signature)
      /* Where adapters and oai_stream put Gemini's thought signature. */
      cJSON_AddStringToObject(
          cJSON_AddObjectToObject(cJSON_AddObjectToObject(tc, "extra_content"),
                                  "google"),
          "thought_signature", v[i]->signature);
    cJSON_AddItemToArray(calls, tc);
  }
  free(v);
  return calls;
}

cJSON *canon_answer_doc(const struct canon_answer *a, const char *fallback_id,
                        int64_t created, const char *fallback_model)
{
  const char *finish = a->finish   ? a->finish
                       : a->ntools ? "tool_calls"
                                   : "stop";
  const char *id = a->id ? a->id : fallback_id;
  const char *model = a->model ? a->model : fallback_model;
  cJSON *choice = canon_chat_choice(0, a->text.data, a->reasoning.data,
                                    tool_calls(a), finish);

  if(cJSON_GetArraySize(a->details)) {
    cJSON *details = cJSON_Duplicate(a->details, 1);

    if(!details)
      abort();
    if(a->reasoning.len > a->block) {
      /* Reasoning after the last closed block: kept in order, without a
       * signature no adapter sends it back. */
      char *text = open_block(a);
      cJSON_AddItemToArray(details, canon_reasoning_text(text, NULL, NULL));
      free(text);
    }
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(choice, "message"),
                          "reasoning_details", details);
  }
  return canon_chat_completion(id ? id : "", created, model ? model : "",
                               choice, a->has_usage ? &a->usage : NULL);
}

/* ---- replay ------------------------------------------------------------ */

/* The REASONING events of message m; *replayed counts the entries. */
static int replay_details(const cJSON *m, const struct canon_sink *sink,
                          int *replayed)
{
  const cJSON *d;
  int rc = 0;

  *replayed = 0;
  cJSON_ArrayForEach(d, canon_json_get(m, "reasoning_details"))
  {
    const char *type = canon_json_str(d, "type");
    struct canon_ev ev = {.type = CANON_EV_REASONING, .text = "", .len = 0};

    ev.format = canon_json_str(d, "format");
    if(!type)
      continue;
    if(!strcmp(type, "reasoning.text")) {
      if(!canon_json_str(d, "text"))
        continue;
      rc = canon_emit_text(sink, CANON_EV_REASONING, 0,
                           canon_json_str(d, "text"));
      ev.signature = canon_json_str(d, "signature");
      if(!rc && ev.signature)
        rc = canon_emit(sink, &ev);
    } else if(!strcmp(type, "reasoning.encrypted")) {
      ev.data = canon_json_str(d, "data");
      if(!ev.data)
        continue;
      rc = canon_emit(sink, &ev);
    } else {
      continue; /* summaries and future types: no canonical event */
    }
    ++*replayed;
    if(rc)
      return rc;
  }
  return 0;
}

/* The TEXT event of message m's content: a string or text parts. */
static int replay_content(const cJSON *m, const struct canon_sink *sink)
{
  const cJSON *c = canon_json_get(m, "content"), *part;
  struct buf text; /* bounded by the document, already bounded */
  int rc;

  if(cJSON_IsString(c))
    return canon_emit_text(sink, CANON_EV_TEXT, 0, c->valuestring);
  if(!cJSON_IsArray(c))
    return 0;
  buf_init(&text, SIZE_MAX);
  cJSON_ArrayForEach(part, c)
  {
    const char *type = canon_json_str(part, "type");
    const char *s = canon_json_str(part, "text");

    if(type && !strcmp(type, "text") && s)
      buf_appendz(&text, s);
  }
  rc = canon_emit_text(sink, CANON_EV_TEXT, 0, text.data);
  buf_free(&text);
  return rc;
}

static int replay_tools(const cJSON *m, const struct canon_sink *sink)
{
  const cJSON *tc;
  int i = 0, rc = 0;

  cJSON_ArrayForEach(tc, canon_json_get(m, "tool_calls"))
  {
    const cJSON *fn = canon_json_get(tc, "function");
    struct canon_ev ev = {.type = CANON_EV_TOOL_START, .index = i};

    ev.id = canon_json_str(tc, "id");
    ev.name = canon_json_str(fn, "name");
    ev.signature = canon_json_str(
        canon_json_get(canon_json_get(tc, "extra_content"), "google"),
        "thought_signature");
    rc = canon_emit(sink, &ev);
    if(!rc)
      rc = canon_emit_text(sink, CANON_EV_TOOL_ARGS, i,
                           canon_json_str(fn, "arguments"));
    if(rc)
      return rc;
    i++;
  }
  return 0;
}

static void usage_of(const cJSON *u, struct canon_usage *cu)
{
  canon_usage_init(cu);
  canon_usage_read(u, cu);
}

int canon_answer_replay(const cJSON *completion, const struct canon_sink *sink)
{
  const cJSON *choices = canon_json_get(completion, "choices");
  const cJSON *choice = cJSON_GetArrayItem(choices, 0);
  const cJSON *m = canon_json_get(choice, "message");
  const cJSON *u = canon_json_get(completion, "usage");
  struct canon_ev ev = {.type = CANON_EV_START};
  int rc, replayed;

  if(!cJSON_IsArray(choices) || !cJSON_IsObject(m))
    return SB_EINVAL;
  ev.id = canon_json_str(completion, "id");
  ev.model = canon_json_str(completion, "model");
  rc = canon_emit(sink, &ev);
  if(!rc)
    rc = replay_details(m, sink, &replayed);
  if(!rc && !replayed)
    rc = canon_emit_text(sink, CANON_EV_REASONING, 0,
                         canon_json_str(m, "reasoning_content"));
  if(!rc)
    rc = replay_content(m, sink);
  if(!rc)
    rc = replay_tools(m, sink);
  if(!rc && canon_json_str(choice, "finish_reason")) {
    struct canon_ev f = {.type = CANON_EV_FINISH};
    f.finish_reason = canon_json_str(choice, "finish_reason");
    rc = canon_emit(sink, &f);
  }
  if(!rc && cJSON_IsObject(u)) {
    struct canon_ev f = {.type = CANON_EV_USAGE};
    usage_of(u, &f.usage);
    rc = canon_emit(sink, &f);
  }
  return rc;
}

/* ---- records ----------------------------------------------------------- */

/* The record's "type" for each enum canon_ev_type, in enum order. */
static const char *const EV_TYPES[] = {
    "start",     "text",   "reasoning", "tool_start",
    "tool_args", "finish", "usage",     "error",
};

static void add_str(cJSON *o, const char *k, const char *s)
{
  if(s)
    cJSON_AddStringToObject(o, k, s);
}

/* Integers as their digits: cJSON prints a double with 15 significant
 * digits when that reads back within an epsilon, which rounds counts
 * past 10^15. */
static void add_int(cJSON *o, const char *k, int64_t v)
{
  char s[24];

  snprintf(s, sizeof(s), "%" PRId64, v);
  cJSON_AddRawToObject(o, k, s);
}

/* A count as decode takes it: unknown (-1) unless 0..CANON_COUNT_MAX. */
static void add_count(cJSON *o, const char *k, int64_t v)
{
  add_int(o, k, v >= 0 && (double)v <= CANON_COUNT_MAX ? v : -1);
}

static cJSON *error_json(const struct api_error *err)
{
  cJSON *e = cJSON_CreateObject();

  add_int(e, "status", err->status);
  cJSON_AddStringToObject(e, "type", err->type);
  cJSON_AddStringToObject(e, "code", err->code);
  cJSON_AddStringToObject(e, "param", err->param);
  cJSON_AddStringToObject(e, "message", err->message);
  add_int(e, "retry_after_s", err->retry_after_s);
  add_int(e, "retry_after_ms", err->retry_after_ms);
  add_int(e, "final", err->final);
  return e;
}

int canon_ev_encode(const struct canon_ev *ev, struct buf *out)
{
  cJSON *o;
  char *json;
  size_t n;

  if((unsigned)ev->type >= SB_ARRAY_LEN(EV_TYPES))
    return SB_EINVAL;
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", EV_TYPES[ev->type]);
  add_str(o, "id", ev->id);
  add_str(o, "model", ev->model);
  if(ev->index)
    add_int(o, "index", ev->index);
  add_str(o, "name", ev->name);
  if(ev->text) {
    char *s = sb_strndup(ev->text, ev->len);
    cJSON_AddStringToObject(o, "text", s);
    free(s);
  }
  add_str(o, "signature", ev->signature);
  add_str(o, "data", ev->data);
  add_str(o, "format", ev->format);
  add_str(o, "finish_reason", ev->finish_reason);
  if(ev->type == CANON_EV_USAGE) {
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    add_count(u, "prompt_tokens", ev->usage.prompt_tokens);
    add_count(u, "completion_tokens", ev->usage.completion_tokens);
    add_count(u, "cached_tokens", ev->usage.cached_tokens);
    add_count(u, "reasoning_tokens", ev->usage.reasoning_tokens);
  }
  if(ev->type == CANON_EV_ERROR && ev->err)
    cJSON_AddItemToObject(o, "error", error_json(ev->err));
  /* Unformatted: strings escape their control characters, so the only
   * newline is the one that ends the record. */
  json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if(!json)
    abort();
  n = strlen(json);
  if(n + 1 > out->max - out->len) {
    free(json);
    return SB_ETOOBIG;
  }
  buf_append(out, json, n);
  buf_append(out, "\n", 1);
  free(json);
  return 0;
}

/* Member k of o as a string into *dst: 0, or -1 when it is there and not
 * a string. */
static int rd_str(const cJSON *o, const char *k, const char **dst)
{
  const cJSON *v = canon_json_get(o, k);

  if(!v)
    return 0;
  if(!cJSON_IsString(v))
    return -1;
  *dst = v->valuestring;
  return 0;
}

/* Member k of o as a number from lo to hi into *dst (when present). */
static int rd_num(const cJSON *o, const char *k, double lo, double hi,
                  double *dst)
{
  const cJSON *v = canon_json_get(o, k);

  if(!v)
    return 0;
  if(!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
    return -1;
  *dst = v->valuedouble;
  return 0;
}

static int rd_int(const cJSON *o, const char *k, int *dst)
{
  double d = *dst;

  if(rd_num(o, k, INT_MIN, INT_MAX, &d))
    return -1;
  *dst = (int)d;
  return 0;
}

static int rd_count(const cJSON *o, const char *k, int64_t *dst)
{
  double d = (double)*dst;

  if(rd_num(o, k, -1, CANON_COUNT_MAX, &d))
    return -1;
  *dst = (int64_t)d;
  return 0;
}

/* A string member of e copied into dst (cap bytes), "" when absent. */
static int rd_field(const cJSON *e, const char *k, char *dst, size_t cap)
{
  const char *s = "";

  if(rd_str(e, k, &s))
    return -1;
  snprintf(dst, cap, "%s", s);
  return 0;
}

static int rd_error(const cJSON *e, struct api_error *err)
{
  memset(err, 0, sizeof(*err));
  if(!cJSON_IsObject(e))
    return -1;
  if(rd_int(e, "status", &err->status) ||
     rd_field(e, "type", err->type, sizeof(err->type)) ||
     rd_field(e, "code", err->code, sizeof(err->code)) ||
     rd_field(e, "param", err->param, sizeof(err->param)) ||
     rd_field(e, "message", err->message, sizeof(err->message)) ||
     rd_int(e, "retry_after_s", &err->retry_after_s) ||
     rd_int(e, "retry_after_ms", &err->retry_after_ms) ||
     rd_int(e, "final", &err->final))
    return -1;
  return 0;
}

/* Decode one record (without its '\n') and emit it. */
static int decode_one(const char *p, size_t n, const struct canon_sink *sink)
{
  const char *end = NULL, *type = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(p, n, &end, 0);
  const cJSON *u;
  struct canon_ev ev;
  struct api_error err;
  int rc = SB_EPROTO;
  size_t t;

  memset(&ev, 0, sizeof(ev));
  canon_usage_init(&ev.usage);
  while(end && end < p + n && (*end == ' ' || *end == '\t' || *end == '\r'))
    end++;
  if(!cJSON_IsObject(o) || end != p + n || rd_str(o, "type", &type) || !type)
    goto done;
  for(t = 0; t < SB_ARRAY_LEN(EV_TYPES) && strcmp(type, EV_TYPES[t]); t++)
    ;
  if(t == SB_ARRAY_LEN(EV_TYPES))
    goto done;
  ev.type = (enum canon_ev_type)t;
  if(rd_str(o, "id", &ev.id) || rd_str(o, "model", &ev.model) ||
     rd_int(o, "index", &ev.index) || rd_str(o, "name", &ev.name) ||
     rd_str(o, "text", &ev.text) || rd_str(o, "signature", &ev.signature) ||
     rd_str(o, "data", &ev.data) || rd_str(o, "format", &ev.format) ||
     rd_str(o, "finish_reason", &ev.finish_reason))
    goto done;
  ev.len = slen(ev.text);
  if((u = canon_json_get(o, "usage"))) {
    if(!cJSON_IsObject(u) ||
       rd_count(u, "prompt_tokens", &ev.usage.prompt_tokens) ||
       rd_count(u, "completion_tokens", &ev.usage.completion_tokens) ||
       rd_count(u, "cached_tokens", &ev.usage.cached_tokens) ||
       rd_count(u, "reasoning_tokens", &ev.usage.reasoning_tokens))
      goto done;
  }
  if(ev.type == CANON_EV_ERROR) {
    if(rd_error(canon_json_get(o, "error"), &err))
      goto done;
    ev.err = &err;
  }
  rc = canon_emit(sink, &ev);
done:
  cJSON_Delete(o);
  return rc;
}

int canon_ev_decode(const char *p, size_t len, const struct canon_sink *sink)
{
  const char *nl;
  int rc;

  while(len && (nl = memchr(p, '\n', len))) {
    size_t n = (size_t)(nl - p);

    rc = decode_one(p, n, sink);
    if(rc)
      return rc;
    p += n + 1;
    len -= n + 1;
  }
  return 0;
}
