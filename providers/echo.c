#include "providers/echo.h"
#include "base/sb.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const prov_echo_models[] = {"echo-1", "story-1", "embed-1"};
const int prov_echo_nmodels = 3;

#define ECHO_EMBED_DIMS     16
#define ECHO_EMBED_MAX_DIMS 4096

static const char story[] =
    "Once upon a time, in a data centre humming like a beehive, a small "
    "gateway named Switchboard listened on port 8080. Every request that "
    "arrived carried a question and a model name, and Switchboard knew "
    "exactly where each one had to go. Some went to giant models far "
    "away, some to little ones running on a laptop under a desk. One "
    "night a provider fell silent in the middle of an answer. Switchboard "
    "did not panic: it told the client plainly what had happened, wrote "
    "everything down in its ledger, and kept the other streams flowing. "
    "By morning the operators read the ledger, nodded, and went back to "
    "their coffee. The end.";

enum echo_phase { PH_START, PH_WORDS, PH_FINISH, PH_END };

struct prov_echo {
  char *model;
  char *id;
  int64_t created;
  char *text;    /* the words to emit, already cut to max tokens */
  size_t pos;    /* next byte of text to stream */
  int truncated; /* cut by max_tokens: finish_reason "length" */
  struct canon_usage usage;
  enum echo_phase phase;
};

static int64_t count_words(const char *s, size_t n)
{
  int64_t words = 0;
  int in = 0;

  for(size_t i = 0; i < n; i++) {
    int sp = isspace((unsigned char)s[i]);
    if(!sp && !in)
      words++;
    in = !sp;
  }
  return words;
}

/* Length of the next chunk: leading whitespace plus one word. */
static size_t next_word(const char *s)
{
  size_t i = 0;

  while(s[i] && isspace((unsigned char)s[i]))
    i++;
  while(s[i] && !isspace((unsigned char)s[i]))
    i++;
  return i;
}

static int64_t prompt_words(const cJSON *body)
{
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
  const cJSON *m, *c, *part;
  int64_t n = 0;

  cJSON_ArrayForEach(m, msgs)
  {
    c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if(cJSON_IsString(c))
      n += count_words(c->valuestring, strlen(c->valuestring));
    else if(cJSON_IsArray(c))
      cJSON_ArrayForEach(part, c)
      {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if(cJSON_IsString(t))
          n += count_words(t->valuestring, strlen(t->valuestring));
      }
  }
  return n;
}

static int64_t max_tokens(const cJSON *body)
{
  const cJSON *v =
      cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens");

  if(!cJSON_IsNumber(v))
    v = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

int prov_echo_start(const cJSON *body, const char *model, const char *id,
                    int64_t created, struct prov_echo **out,
                    struct api_error *err)
{
  struct prov_echo *e;
  struct buf text;
  int64_t limit;

  buf_init(&text, 1 << 30);
  if(!strcmp(model, "echo-1")) {
    if(oai_chat_last_user_text(body, &text))
      buf_appendz(&text, "");
  } else if(!strcmp(model, "story-1")) {
    buf_appendz(&text, story);
  } else if(prov_echo_is_embedding_model(model)) {
    buf_free(&text);
    api_error_set(
        err, 400, "invalid_request_error", "model_not_supported", "model",
        "'echo/%s' is an embeddings model: use /v1/embeddings.", model);
    return SB_EINVAL;
  } else {
    buf_free(&text);
    api_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                  "The model 'echo/%s' does not exist.", model);
    return SB_ENOTFOUND;
  }

  e = sb_calloc(1, sizeof(*e));
  e->model = sb_strdup(model);
  e->id = sb_strdup(id);
  e->created = created;
  e->text = buf_take(&text, NULL);
  if(!e->text)
    e->text = sb_strdup("");
  limit = max_tokens(body);
  if(limit >= 0) {
    /* Keep the first `limit` words, with the whitespace before them. */
    size_t p = 0;
    for(int64_t w = 0; w < limit && e->text[p]; w++)
      p += next_word(e->text + p);
    if(count_words(e->text + p, strlen(e->text + p)) > 0) {
      e->text[p] = '\0';
      e->truncated = 1;
    }
  }
  canon_usage_init(&e->usage);
  e->usage.prompt_tokens = prompt_words(body);
  e->usage.completion_tokens = count_words(e->text, strlen(e->text));
  *out = e;
  return 0;
}

static void add_usage(cJSON *obj, const struct canon_usage *u)
{
  cJSON *us = cJSON_AddObjectToObject(obj, "usage");

  cJSON_AddNumberToObject(us, "prompt_tokens", (double)u->prompt_tokens);
  cJSON_AddNumberToObject(us, "completion_tokens",
                          (double)u->completion_tokens);
  cJSON_AddNumberToObject(us, "total_tokens",
                          (double)(u->prompt_tokens + u->completion_tokens));
}

static cJSON *envelope(const struct prov_echo *e, const char *object)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", e->id);
  cJSON_AddStringToObject(o, "object", object);
  cJSON_AddNumberToObject(o, "created", (double)e->created);
  cJSON_AddStringToObject(o, "model", e->model);
  return o;
}

static char *print(cJSON *o)
{
  char *s = cJSON_PrintUnformatted(o);

  cJSON_Delete(o);
  if(!s)
    abort();
  return s;
}

char *prov_echo_complete(struct prov_echo *e)
{
  cJSON *o = envelope(e, "chat.completion");
  cJSON *choices = cJSON_AddArrayToObject(o, "choices");
  cJSON *c = cJSON_CreateObject();
  cJSON *msg = cJSON_AddObjectToObject(c, "message");

  cJSON_AddNumberToObject(c, "index", 0);
  cJSON_AddStringToObject(msg, "role", "assistant");
  cJSON_AddStringToObject(msg, "content", e->text);
  cJSON_AddNullToObject(msg, "refusal");
  cJSON_AddNullToObject(c, "logprobs");
  cJSON_AddStringToObject(c, "finish_reason", e->truncated ? "length" : "stop");
  cJSON_AddItemToArray(choices, c);
  add_usage(o, &e->usage);
  return print(o);
}

int prov_echo_next(struct prov_echo *e, const struct canon_sink *sink)
{
  struct canon_ev ev = {.type = CANON_EV_TEXT};
  int rc;

  switch(e->phase) {
  case PH_START:
    e->phase = e->text[0] ? PH_WORDS : PH_FINISH;
    ev.type = CANON_EV_START;
    ev.id = e->id;
    ev.model = e->model;
    return sink->emit(sink->ud, &ev);
  case PH_WORDS:
    ev.text = e->text + e->pos;
    ev.len = next_word(e->text + e->pos);
    e->pos += ev.len;
    if(!count_words(e->text + e->pos, strlen(e->text + e->pos)))
      e->phase = PH_FINISH;
    return sink->emit(sink->ud, &ev);
  case PH_FINISH:
    e->phase = PH_END;
    ev.type = CANON_EV_FINISH;
    ev.finish_reason = e->truncated ? "length" : "stop";
    rc = sink->emit(sink->ud, &ev);
    if(rc)
      return rc;
    ev.type = CANON_EV_USAGE;
    canon_usage_init(&ev.usage);
    ev.usage.prompt_tokens = e->usage.prompt_tokens;
    ev.usage.completion_tokens = e->usage.completion_tokens;
    rc = sink->emit(sink->ud, &ev);
    return rc ? rc : 1;
  case PH_END: return 1;
  }
  return 1;
}

void prov_echo_usage(const struct prov_echo *e, struct canon_usage *u)
{
  *u = e->usage;
}

void prov_echo_free(struct prov_echo *e)
{
  if(!e)
    return;
  free(e->model);
  free(e->id);
  free(e->text);
  free(e);
}

int prov_echo_is_embedding_model(const char *model)
{
  return !strcmp(model, "embed-1");
}

/* FNV-1a over the input, seeded per component: cheap, deterministic and
 * different for different texts, which is all a test double needs. */
static uint64_t fnv1a(const char *p, size_t n, uint64_t seed)
{
  uint64_t h = 1469598103934665603ULL ^ seed;

  for(size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static void embed_one(const char *p, size_t n, int dims, float *v)
{
  double norm = 0;

  for(int i = 0; i < dims; i++) {
    uint64_t h = fnv1a(p, n, (uint64_t)i * 0x9E3779B97F4A7C15ULL);
    v[i] = (float)((double)(h >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
    norm += (double)v[i] * v[i];
  }
  norm = sqrt(norm);
  for(int i = 0; i < dims && norm > 0; i++)
    v[i] = (float)(v[i] / norm);
}

static cJSON *vector_json(const float *v, int dims)
{
  cJSON *arr = cJSON_CreateArray();

  for(int i = 0; i < dims; i++)
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
  return arr;
}

/* The text an input stands for: a string, or its token ids printed. */
static char *input_text(const cJSON *item)
{
  if(cJSON_IsString(item))
    return sb_strdup(item->valuestring);
  return cJSON_PrintUnformatted(item);
}

cJSON *prov_echo_embed(const cJSON *body, const char *model,
                       struct canon_usage *u)
{
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
  const cJSON *dimv = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
  int dims = cJSON_IsNumber(dimv) ? (int)dimv->valuedouble : ECHO_EMBED_DIMS;
  /* A flat array of token ids is one input, not many. */
  int single =
      !cJSON_IsArray(input) || cJSON_IsNumber(cJSON_GetArrayItem(input, 0));
  cJSON *root = cJSON_CreateObject();
  cJSON *data = cJSON_CreateArray();
  cJSON *usage;
  float *v;
  int64_t words = 0;
  int idx = 0;

  if(dims > ECHO_EMBED_MAX_DIMS)
    dims = ECHO_EMBED_MAX_DIMS;
  v = sb_calloc((size_t)dims, sizeof(float));
  cJSON_AddStringToObject(root, "object", "list");
  cJSON_AddItemToObject(root, "data", data);
  for(const cJSON *it = single ? input : input->child; it;
      it = single ? NULL : it->next) {
    char *text = input_text(it);
    cJSON *e = cJSON_CreateObject();

    words += count_words(text, strlen(text));
    embed_one(text, strlen(text), dims, v);
    cJSON_AddStringToObject(e, "object", "embedding");
    cJSON_AddNumberToObject(e, "index", idx++);
    cJSON_AddItemToObject(e, "embedding", vector_json(v, dims));
    cJSON_AddItemToArray(data, e);
    free(text);
  }
  cJSON_AddStringToObject(root, "model", model);
  usage = cJSON_AddObjectToObject(root, "usage");
  cJSON_AddNumberToObject(usage, "prompt_tokens", (double)words);
  cJSON_AddNumberToObject(usage, "total_tokens", (double)words);
  u->prompt_tokens = words;
  u->completion_tokens = 0;
  free(v);
  return root;
}
