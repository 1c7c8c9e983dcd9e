/*
 * cohere.c - OpenAI Chat Completions <-> Cohere v2 Chat. The parameter policy
 * is in docs/providers/cohere.md.
 */
#include "providers/cohere.h"
#include "codec/canon_doc.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More tool calls than this in one streamed answer is not an answer. */
#define COHERE_MAX_STREAM_TOOLS 1024

/* Present and not null. */
static int given(const cJSON *v)
{
  return v && !cJSON_IsNull(v);
}

static int unsupported(const struct prov *p, const char *param,
                       struct api_error *err)
{
  api_error_set(err, 400, "invalid_request_error", "unsupported_parameter",
                param, "Provider '%s' does not support '%s'.", p->name, param);
  return SB_EINVAL;
}

static int invalid(const char *param, const char *code, const char *msg,
                   struct api_error *err)
{
  api_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
  return SB_EINVAL;
}

/* ---- configuration ---------------------------------------------------- */

/* Cohere's input_type values for text ("image" is for
 * images, which the OpenAI request cannot carry). */
static const char *const INPUT_TYPES[] = {"search_document", "search_query",
                                          "classification", "clustering"};
static const char *const TRUNCATES[] = {"NONE", "START", "END"};

/* Parsed provider options (p->priv); the strings point into the tables
 * above. */
struct cohere_opts {
  const char *embed_input_type;
  const char *embed_truncate;
};

static const struct cohere_opts DEFAULT_OPTS = {"search_document", "NONE"};

static const struct cohere_opts *opts_of(const struct prov *p)
{
  return p->priv ? p->priv : &DEFAULT_OPTS;
}

/* The entry of table equal to v, or NULL. */
static const char *one_of(const char *const *table, size_t n, const cJSON *v)
{
  if(!cJSON_IsString(v))
    return NULL;
  for(size_t i = 0; i < n; i++)
    if(!strcmp(table[i], v->valuestring))
      return table[i];
  return NULL;
}

static int configure(struct prov *p, const cJSON *options, const char *path,
                     char *err, size_t errlen)
{
  struct cohere_opts *o = sb_calloc(1, sizeof(*o));
  const cJSON *it;

  *o = DEFAULT_OPTS;
  if(options && !cJSON_IsObject(options)) {
    snprintf(err, errlen, "%s: expected an object", path);
    goto bad;
  }
  cJSON_ArrayForEach(it, options)
  {
    const char *k = it->string;

    if(!strcmp(k, "embed_input_type")) {
      o->embed_input_type = one_of(INPUT_TYPES, SB_ARRAY_LEN(INPUT_TYPES), it);
      if(!o->embed_input_type) {
        snprintf(err, errlen,
                 "%s.%s: expected one of \"search_document\", "
                 "\"search_query\", \"classification\", \"clustering\"",
                 path, k);
        goto bad;
      }
    } else if(!strcmp(k, "embed_truncate")) {
      o->embed_truncate = one_of(TRUNCATES, SB_ARRAY_LEN(TRUNCATES), it);
      if(!o->embed_truncate) {
        snprintf(err, errlen,
                 "%s.%s: expected one of \"NONE\", \"START\", \"END\"", path,
                 k);
        goto bad;
      }
    } else {
      snprintf(err, errlen,
               "%s.%s: unknown option (known: embed_input_type, "
               "embed_truncate)",
               path, k);
      goto bad;
    }
  }
  p->priv = o;
  return 0;
bad:
  free(o);
  return SB_ECONFIG;
}

static void unconfigure(struct prov *p)
{
  free(p->priv);
  p->priv = NULL;
}

/* ---- request ---------------------------------------------------------- */

/* What happens to each top-level request field. Fields not listed are not
 * translated: they are dropped and reported. */
enum field_policy { F_HANDLED, F_DROP, F_REJECT };

static const struct {
  const char *name;
  enum field_policy policy;
} FIELDS[] = {
    {"model", F_HANDLED},
    {"messages", F_HANDLED},
    {"stream", F_HANDLED},
    {"stream_options", F_HANDLED}, /* Cohere always reports usage */
    {"temperature", F_HANDLED},
    {"top_p", F_HANDLED},
    {"top_k", F_HANDLED},
    {"seed", F_HANDLED},
    {"stop", F_HANDLED},
    {"max_tokens", F_HANDLED},
    {"max_completion_tokens", F_HANDLED},
    {"frequency_penalty", F_HANDLED},
    {"presence_penalty", F_HANDLED},
    {"response_format", F_HANDLED},
    {"tools", F_HANDLED},
    {"tool_choice", F_HANDLED},
    {"parallel_tool_calls", F_HANDLED},
    {"reasoning_effort", F_HANDLED},
    /* Refused through the caps when used; their neutral values pass. */
    {"n", F_HANDLED},
    {"logprobs", F_HANDLED},
    {"top_logprobs", F_HANDLED},
    {"logit_bias", F_HANDLED},
    {"modalities", F_HANDLED},
    {"audio", F_HANDLED},
    /* Advisory: dropped and reported. */
    {"user", F_DROP},
    {"safety_identifier", F_DROP},
    {"metadata", F_DROP},
    {"store", F_DROP},
    {"service_tier", F_DROP},
    {"prompt_cache_key", F_DROP},
    {"prompt_cache_retention", F_DROP},
    {"prompt_cache_options", F_DROP},
    {"verbosity", F_DROP},
    /* Change the answer's shape or behaviour; Cohere has no equivalent. */
    {"functions", F_REJECT},
    {"function_call", F_REJECT},
    {"prediction", F_REJECT},
    {"web_search_options", F_REJECT},
};

static int check_fields(const struct prov *p, const cJSON *req,
                        struct prov_http *out, struct api_error *err)
{
  const cJSON *f;

  cJSON_ArrayForEach(f, req)
  {
    enum field_policy pol = F_DROP;

    if(cJSON_IsNull(f))
      continue;
    for(size_t i = 0; i < SB_ARRAY_LEN(FIELDS); i++)
      if(!strcmp(FIELDS[i].name, f->string)) {
        pol = FIELDS[i].policy;
        break;
      }
    if(pol == F_REJECT)
      return unsupported(p, f->string, err);
    if(pol == F_DROP)
      prov_http_note_dropped(out, f->string);
  }
  return 0;
}

int prov_cohere_thinking_budget(const char *effort)
{
  static const struct {
    const char *effort;
    int budget;
  } budgets[] = {
      {"none", 0},     {"minimal", 1024}, {"low", 2048},  {"medium", 8192},
      {"high", 16384}, {"xhigh", 24576},  {"max", 32768},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(budgets); i++)
    if(!strcmp(budgets[i].effort, effort))
      return budgets[i].budget;
  return -1;
}

static void text_part(cJSON *arr, const char *text)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "type", "text");
  cJSON_AddStringToObject(o, "text", text);
  cJSON_AddItemToArray(arr, o);
}

/*
 * Translate a message's content (string or parts) into Cohere's. Text and
 * refusal parts become text parts; image_url parts are kept (user only,
 * images != 0). Anything else is refused, naming the part.
 */
static int content(const struct prov *p, const cJSON *c, int images,
                   const char *path, cJSON **out, struct api_error *err)
{
  const cJSON *part;
  char param[96];
  int j = 0;

  *out = NULL;
  if(cJSON_IsString(c)) {
    *out = cJSON_CreateString(c->valuestring);
    return 0;
  }
  if(!cJSON_IsArray(c))
    return 0; /* null: no content */
  *out = cJSON_CreateArray();
  cJSON_ArrayForEach(part, c)
  {
    const char *type = canon_json_str(part, "type");

    if(type && !strcmp(type, "text")) {
      text_part(*out, canon_json_str(part, "text"));
    } else if(type && !strcmp(type, "refusal")) {
      text_part(*out, canon_json_str(part, "refusal"));
    } else if(type && images && !strcmp(type, "image_url")) {
      const cJSON *iu = canon_json_get(part, "image_url");
      cJSON *o = cJSON_CreateObject();
      cJSON *u;

      cJSON_AddStringToObject(o, "type", "image_url");
      u = cJSON_AddObjectToObject(o, "image_url");
      cJSON_AddStringToObject(u, "url", canon_json_str(iu, "url"));
      if(canon_json_str(iu, "detail"))
        cJSON_AddStringToObject(u, "detail", canon_json_str(iu, "detail"));
      cJSON_AddItemToArray(*out, o);
    } else {
      snprintf(param, sizeof(param), "%s[%d]", path, j);
      cJSON_Delete(*out);
      *out = NULL;
      return unsupported(p, param, err);
    }
    j++;
  }
  return 0;
}

/* An assistant message's tool_calls in Cohere's shape (*out NULL when
 * there are none). */
static int tool_calls(const struct prov *p, const cJSON *calls, int i,
                      cJSON **out, struct api_error *err)
{
  const cJSON *tc;
  char param[96];
  int j = 0;

  *out = NULL;
  if(!cJSON_GetArraySize(calls))
    return 0;
  *out = cJSON_CreateArray();
  cJSON_ArrayForEach(tc, calls)
  {
    const char *type = canon_json_str(tc, "type");
    const char *args =
        canon_json_str(canon_json_get(tc, "function"), "arguments");
    cJSON *o, *f;

    if(!type || strcmp(type, "function")) {
      snprintf(param, sizeof(param), "messages[%d].tool_calls[%d]", i, j);
      cJSON_Delete(*out);
      *out = NULL;
      return unsupported(p, param, err);
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", canon_json_str(tc, "id"));
    cJSON_AddStringToObject(o, "type", "function");
    f = cJSON_AddObjectToObject(o, "function");
    cJSON_AddStringToObject(
        f, "name", canon_json_str(canon_json_get(tc, "function"), "name"));
    /* Cohere takes the arguments as a JSON string too: sent unchanged. */
    cJSON_AddStringToObject(f, "arguments", args ? args : "{}");
    cJSON_AddItemToArray(*out, o);
    j++;
  }
  return 0;
}

static int empty(const cJSON *c)
{
  return cJSON_IsString(c) ? !c->valuestring[0] : !cJSON_GetArraySize(c);
}

static int message(const struct prov *p, const cJSON *m, int i, cJSON *msgs,
                   struct api_error *err)
{
  const char *role = canon_json_str(m, "role");
  const cJSON *c = canon_json_get(m, "content");
  cJSON *out, *cc = NULL, *calls = NULL;
  const char *to = role;
  char path[64];
  int rc;

  snprintf(path, sizeof(path), "messages[%d].content", i);
  if(!strcmp(role, "system") || !strcmp(role, "developer")) {
    to = "system";
    rc = content(p, c, 0, path, &cc, err);
  } else if(!strcmp(role, "user")) {
    rc = content(p, c, 1, path, &cc, err);
  } else if(!strcmp(role, "assistant")) {
    rc = content(p, c, 0, path, &cc, err);
    if(!rc)
      rc = tool_calls(p, canon_json_get(m, "tool_calls"), i, &calls, err);
    /* Cohere wants content or tool calls, and no empty content beside
     * tool calls. */
    if(!rc && calls && cc && empty(cc)) {
      cJSON_Delete(cc);
      cc = NULL;
    }
    if(!rc && !cc && !calls)
      cc = cJSON_CreateString("");
  } else if(!strcmp(role, "tool")) {
    rc = content(p, c, 0, path, &cc, err);
  } else {
    snprintf(path, sizeof(path), "messages[%d].role", i);
    rc = unsupported(p, path, err);
  }
  if(rc) {
    cJSON_Delete(cc);
    return rc;
  }
  out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "role", to);
  if(!strcmp(role, "tool"))
    cJSON_AddStringToObject(out, "tool_call_id",
                            canon_json_str(m, "tool_call_id"));
  if(cc)
    cJSON_AddItemToObject(out, "content", cc);
  if(calls)
    cJSON_AddItemToObject(out, "tool_calls", calls);
  cJSON_AddItemToArray(msgs, out);
  return 0;
}

static int messages(const struct prov *p, const cJSON *req, cJSON *body,
                    struct prov_http *out, struct api_error *err)
{
  cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
  const cJSON *m;
  int i = 0, named = 0;

  cJSON_ArrayForEach(m, canon_json_get(req, "messages"))
  {
    int rc = message(p, m, i++, msgs, err);
    if(rc)
      return rc;
    if(given(canon_json_get(m, "name")) && !named++)
      prov_http_note_dropped(out, "messages[].name");
  }
  return 0;
}

/* Which tools go upstream and with which tool_choice (a named
 * function is emulated by sending only that tool + REQUIRED). */
static int tools(const struct prov *p, const cJSON *req, cJSON *body,
                 struct api_error *err)
{
  const cJSON *tl = canon_json_get(req, "tools");
  const cJSON *tc = canon_json_get(req, "tool_choice");
  const cJSON *allowed = NULL, *t;
  const char *only = NULL, *choice = NULL;
  cJSON *arr;
  int i = 0, sent = 0, strict = 0;

  if(cJSON_IsString(tc)) {
    if(!strcmp(tc->valuestring, "required"))
      choice = "REQUIRED";
    else if(!strcmp(tc->valuestring, "none"))
      choice = "NONE";
  } else if(cJSON_IsObject(tc)) {
    const char *type = canon_json_str(tc, "type");

    if(type && !strcmp(type, "function")) {
      only = canon_json_str(canon_json_get(tc, "function"), "name");
      choice = "REQUIRED";
    } else if(type && !strcmp(type, "allowed_tools")) {
      const cJSON *at = canon_json_get(tc, "allowed_tools");
      const char *mode = canon_json_str(at, "mode");
      allowed = canon_json_get(at, "tools");
      if(mode && !strcmp(mode, "required"))
        choice = "REQUIRED";
    } else {
      return unsupported(p, "tool_choice", err);
    }
  }
  if(!cJSON_GetArraySize(tl)) {
    if(only || allowed || (choice && !strcmp(choice, "REQUIRED")))
      return invalid("tool_choice", "invalid_value",
                     "'tool_choice' is only allowed when 'tools' are "
                     "specified.",
                     err);
    return 0;
  }
  if(cJSON_IsFalse(canon_json_get(req, "parallel_tool_calls")))
    return unsupported(p, "parallel_tool_calls", err);

  arr = cJSON_AddArrayToObject(body, "tools");
  cJSON_ArrayForEach(t, tl)
  {
    const char *type = canon_json_str(t, "type");
    const cJSON *fn = canon_json_get(t, "function");
    const char *name = canon_json_str(fn, "name");
    cJSON *o, *f;
    char param[32];

    if(!type || strcmp(type, "function")) {
      snprintf(param, sizeof(param), "tools[%d]", i);
      return unsupported(p, param, err);
    }
    i++;
    if(only && (!name || strcmp(only, name)))
      continue;
    if(allowed) {
      const cJSON *a;
      int found = 0;
      cJSON_ArrayForEach(a, allowed)
      {
        const char *an = canon_json_str(canon_json_get(a, "function"), "name");
        found |= an && name && !strcmp(an, name);
      }
      if(!found)
        continue;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "function");
    f = cJSON_AddObjectToObject(o, "function");
    cJSON_AddStringToObject(f, "name", name);
    if(canon_json_str(fn, "description"))
      cJSON_AddStringToObject(f, "description",
                              canon_json_str(fn, "description"));
    if(cJSON_IsObject(canon_json_get(fn, "parameters")))
      cJSON_AddItemToObject(
          f, "parameters",
          cJSON_Duplicate(canon_json_get(fn, "parameters"), 1));
    else
      cJSON_AddItemToObject(
          f, "parameters",
          cJSON_Parse("{\"type\":\"object\",\"properties\":{}}"));
    strict |= cJSON_IsTrue(canon_json_get(fn, "strict"));
    cJSON_AddItemToArray(arr, o);
    sent++;
  }
  if(!sent)
    return invalid("tool_choice", "invalid_value",
                   "'tool_choice' names no function listed in 'tools'.", err);
  if(strict)
    cJSON_AddTrueToObject(body, "strict_tools");
  if(choice)
    cJSON_AddStringToObject(body, "tool_choice", choice);
  return 0;
}

static void copy_number(const cJSON *req, const char *from, cJSON *body,
                        const char *to)
{
  const cJSON *v = canon_json_get(req, from);

  if(cJSON_IsNumber(v))
    cJSON_AddItemToObject(body, to, cJSON_Duplicate(v, 0));
}

static int sampling(const cJSON *req, cJSON *body, struct api_error *err)
{
  const cJSON *v;

  copy_number(req, "temperature", body, "temperature");
  v = canon_json_get(req, "top_p");
  if(cJSON_IsNumber(v)) {
    /* Cohere's p lies in [0.01, 0.99]; OpenAI's 1.0 means "no cut". */
    double d = v->valuedouble;
    cJSON_AddNumberToObject(body, "p", d < 0.01 ? 0.01 : d > 0.99 ? 0.99 : d);
  }
  v = canon_json_get(req, "top_k");
  if(given(v)) {
    if(!cJSON_IsNumber(v))
      return invalid("top_k", "invalid_type",
                     "Invalid type for 'top_k': expected an integer.", err);
    if(v->valuedouble < 0 || v->valuedouble > 1e9)
      return invalid("top_k", "invalid_value",
                     "Invalid 'top_k': expected an integer >= 0.", err);
    if(v->valuedouble != (double)(int64_t)v->valuedouble)
      return invalid("top_k", "invalid_type",
                     "Invalid type for 'top_k': expected an integer.", err);
    cJSON_AddNumberToObject(body, "k", v->valuedouble);
  }
  copy_number(req, "seed", body, "seed");
  v = canon_json_get(req, "stop");
  if(cJSON_IsString(v)) {
    cJSON *a = cJSON_AddArrayToObject(body, "stop_sequences");
    cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
  } else if(cJSON_GetArraySize(v)) {
    cJSON_AddItemToObject(body, "stop_sequences", cJSON_Duplicate(v, 1));
  }
  if(cJSON_IsNumber(canon_json_get(req, "max_completion_tokens")))
    copy_number(req, "max_completion_tokens", body, "max_tokens");
  else
    copy_number(req, "max_tokens", body, "max_tokens");
  copy_number(req, "frequency_penalty", body, "frequency_penalty");
  copy_number(req, "presence_penalty", body, "presence_penalty");
  return 0;
}

static void response_format(const cJSON *req, cJSON *body)
{
  const cJSON *rf = canon_json_get(req, "response_format");
  const char *type = canon_json_str(rf, "type");
  cJSON *o;

  if(!type || !strcmp(type, "text"))
    return;
  o = cJSON_AddObjectToObject(body, "response_format");
  cJSON_AddStringToObject(o, "type", "json_object");
  if(!strcmp(type, "json_schema")) {
    const cJSON *schema =
        canon_json_get(canon_json_get(rf, "json_schema"), "schema");
    if(cJSON_IsObject(schema))
      cJSON_AddItemToObject(o, "json_schema", cJSON_Duplicate(schema, 1));
  }
}

static int thinking(const cJSON *req, cJSON *body, struct api_error *err)
{
  const char *effort = canon_json_str(req, "reasoning_effort");
  int budget;
  cJSON *o;

  if(!effort)
    return 0;
  budget = prov_cohere_thinking_budget(effort);
  if(budget < 0)
    return invalid("reasoning_effort", "invalid_value",
                   "Invalid 'reasoning_effort': expected one of 'none', "
                   "'minimal', 'low', 'medium', 'high', 'xhigh', 'max'.",
                   err);
  o = cJSON_AddObjectToObject(body, "thinking");
  if(!budget) {
    cJSON_AddStringToObject(o, "type", "disabled");
  } else {
    cJSON_AddStringToObject(o, "type", "enabled");
    cJSON_AddNumberToObject(o, "token_budget", budget);
  }
  return 0;
}

/* The credential, configured headers and forwarded client headers. */
static void auth_headers(const struct prov *p, const struct prov_client *client,
                         struct prov_http *out)
{
  static const struct prov_cred cred = {"Authorization", 1, "Authorization"};

  prov_http_add_common(out, p, client, &cred);
}

static int build_chat(const struct prov *p, const cJSON *req, const char *model,
                      const struct prov_client *client, struct prov_http *out,
                      struct api_error *err)
{
  int stream = cJSON_IsTrue(canon_json_get(req, "stream"));
  cJSON *body = cJSON_CreateObject();
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  cJSON_AddStringToObject(body, "model", model);
  rc = check_fields(p, req, out, err);
  if(!rc)
    rc = messages(p, req, body, out, err);
  if(!rc)
    rc = tools(p, req, body, err);
  if(!rc)
    rc = sampling(req, body, err);
  if(!rc) {
    response_format(req, body);
    rc = thinking(req, body, err);
  }
  if(rc) {
    cJSON_Delete(body);
    prov_http_free(out);
    return rc;
  }
  cJSON_AddBoolToObject(body, "stream", stream);
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s/v2/chat", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: %s",
                       stream ? "text/event-stream" : "application/json");
  prov_http_add_header(out, "Expect:");
  auth_headers(p, client, out);
  return 0;
}

/* ---- response --------------------------------------------------------- */

/* Cohere's finish_reason in OpenAI's words; NULL for ERROR and TIMEOUT,
 * which are failures. */
static const char *finish_reason(const char *f, int saw_tools)
{
  if(f && (!strcmp(f, "ERROR") || !strcmp(f, "TIMEOUT")))
    return NULL;
  if(f && !strcmp(f, "MAX_TOKENS"))
    return "length";
  if(saw_tools || (f && !strcmp(f, "TOOL_CALL")))
    return "tool_calls";
  return "stop";
}

static void upstream_failed(const char *finish, const char *msg,
                            struct api_error *err)
{
  int timeout = finish && !strcmp(finish, "TIMEOUT");

  api_error_set(err, 502, "upstream_error",
                timeout ? "upstream_timeout" : "upstream_error", NULL, "%s",
                msg ? msg
                : timeout
                    ? "The upstream provider timed out generating the answer."
                    : "The upstream provider failed generating the answer.");
}

static int64_t count(const cJSON *o, const char *k)
{
  return canon_json_count(canon_json_get(o, k), -1);
}

/* usage.tokens.*, falling back to usage.billed_units.*. */
static void read_usage(const cJSON *usage, struct canon_usage *u)
{
  const cJSON *tok = canon_json_get(usage, "tokens");
  const cJSON *billed = canon_json_get(usage, "billed_units");

  u->prompt_tokens = count(tok, "input_tokens");
  if(u->prompt_tokens < 0)
    u->prompt_tokens = count(billed, "input_tokens");
  u->completion_tokens = count(tok, "output_tokens");
  if(u->completion_tokens < 0)
    u->completion_tokens = count(billed, "output_tokens");
  u->cached_tokens = count(usage, "cached_tokens");
}

/* Append s to b unless it is missing or empty (an answer without text
 * has none, not an empty one). */
static void append(struct buf *b, const char *s)
{
  if(s && *s)
    buf_appendz(b, s);
}

static int parse_chat(const struct prov *p, const char *body, size_t len,
                      const char *model, const char *id, int64_t created,
                      cJSON **out, struct canon_usage *usage,
                      struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *msg = canon_json_get(root, "message");
  const char *finish = canon_json_str(root, "finish_reason");
  const cJSON *it, *calls = canon_json_get(msg, "tool_calls");
  struct buf text, reasoning; /* bounded by the body, already bounded */
  cJSON *res, *arr;

  (void)p;
  buf_init(&text, SIZE_MAX);
  buf_init(&reasoning, SIZE_MAX);
  *out = NULL;
  canon_usage_init(usage);
  if(!cJSON_IsObject(root) || !cJSON_IsObject(msg)) {
    cJSON_Delete(root);
    canon_bad_response(err, "a response that is not a Cohere chat answer");
    return SB_EPROTO;
  }
  read_usage(canon_json_get(root, "usage"), usage);
  if(!finish_reason(finish, 0)) {
    upstream_failed(finish, canon_json_str(root, "error"), err);
    cJSON_Delete(root);
    return SB_EIO;
  }
  /* tool_plan is the model's reasoning before its tool calls. */
  append(&reasoning, canon_json_str(msg, "tool_plan"));
  if(cJSON_IsString(canon_json_get(msg, "content")))
    append(&text, canon_json_str(msg, "content"));
  cJSON_ArrayForEach(it, canon_json_get(msg, "content"))
  {
    const char *type = canon_json_str(it, "type");
    if(type && !strcmp(type, "text"))
      append(&text, canon_json_str(it, "text"));
    else if(type && !strcmp(type, "thinking"))
      append(&reasoning, canon_json_str(it, "thinking"));
  }

  arr = cJSON_CreateArray();
  cJSON_ArrayForEach(it, calls)
  {
    const cJSON *fn = canon_json_get(it, "function");
    const cJSON *args = canon_json_get(fn, "arguments");
    char *s = cJSON_IsString(args) ? sb_strdup(args->valuestring)
              : given(args)        ? cJSON_PrintUnformatted(args)
                                   : sb_strdup("{}");

    if(!s)
      abort();
    cJSON_AddItemToArray(arr, canon_tool_call(canon_json_str(it, "id"),
                                              canon_json_str(fn, "name"), s));
    free(s);
  }
  res = canon_chat_completion(
      id, created, model,
      canon_chat_choice(0, text.data, reasoning.data, arr,
                        finish_reason(finish, cJSON_GetArraySize(calls) > 0)),
      usage);
  buf_free(&text);
  buf_free(&reasoning);
  cJSON_Delete(root);
  *out = res;
  return 0;
}

/* ---- stream ----------------------------------------------------------- */

struct tool_slot {
  int upstream; /* Cohere's index */
  int id;       /* ours: 0, 1, ... in order of tool-call-start */
};

struct prov_stream {
  int done;   /* message-end seen with a proper finish */
  int failed; /* an error was emitted; the rest is ignored */
  struct tool_slot *tools;
  int ntools;
  struct api_error err; /* the one CANON_EV_ERROR refers to */
};

static struct prov_stream *stream_new(const struct prov *p, const char *model)
{
  (void)p;
  (void)model;
  return sb_calloc(1, sizeof(struct prov_stream));
}

static void stream_free(struct prov_stream *s)
{
  if(!s)
    return;
  free(s->tools);
  free(s);
}

static int stream_complete(const struct prov_stream *s)
{
  return s->done;
}

static int fail(struct prov_stream *s, const struct canon_sink *sink, int rc)
{
  struct canon_ev ev = {.type = CANON_EV_ERROR, .err = &s->err};
  int e;

  s->failed = 1;
  e = canon_emit(sink, &ev);
  return e ? e : rc;
}

static int tool_slot(const struct prov_stream *s, int upstream)
{
  for(int i = 0; i < s->ntools; i++)
    if(s->tools[i].upstream == upstream)
      return s->tools[i].id;
  return -1;
}

/* delta.message.tool_calls: one object (an array of one is accepted). */
static const cJSON *stream_tool(const cJSON *msg)
{
  const cJSON *tc = canon_json_get(msg, "tool_calls");
  return cJSON_IsArray(tc) ? cJSON_GetArrayItem(tc, 0) : tc;
}

static int on_tool_start(struct prov_stream *s, const cJSON *root,
                         const cJSON *msg, const struct canon_sink *sink)
{
  const cJSON *idx = canon_json_get(root, "index");
  const cJSON *tc = stream_tool(msg);
  const cJSON *fn = canon_json_get(tc, "function");
  int up = cJSON_IsNumber(idx) ? idx->valueint : s->ntools;
  struct canon_ev ev = {.type = CANON_EV_TOOL_START};

  if(!canon_json_str(fn, "name") || tool_slot(s, up) >= 0 ||
     s->ntools >= COHERE_MAX_STREAM_TOOLS) {
    canon_bad_response(&s->err, "a tool-call-start event it cannot read");
    return fail(s, sink, SB_EPROTO);
  }
  s->tools = sb_realloc(s->tools, sizeof(*s->tools) * (size_t)(s->ntools + 1));
  s->tools[s->ntools].upstream = up;
  s->tools[s->ntools].id = s->ntools;
  ev.index = s->ntools++;
  ev.id = canon_json_str(tc, "id");
  ev.name = canon_json_str(fn, "name");
  ev.text =
      canon_json_str(fn, "arguments") ? canon_json_str(fn, "arguments") : "";
  ev.len = strlen(ev.text);
  return canon_emit(sink, &ev);
}

static int on_tool_delta(struct prov_stream *s, const cJSON *root,
                         const cJSON *msg, const struct canon_sink *sink)
{
  const cJSON *idx = canon_json_get(root, "index");
  const char *args =
      canon_json_str(canon_json_get(stream_tool(msg), "function"), "arguments");
  struct canon_ev ev = {.type = CANON_EV_TOOL_ARGS};

  ev.index = cJSON_IsNumber(idx) ? tool_slot(s, idx->valueint) : s->ntools - 1;
  if(ev.index < 0) {
    canon_bad_response(&s->err,
                       "a tool-call-delta for a tool call never started");
    return fail(s, sink, SB_EPROTO);
  }
  if(!args || !*args)
    return 0;
  ev.text = args;
  ev.len = strlen(args);
  return canon_emit(sink, &ev);
}

static int on_message_end(struct prov_stream *s, const cJSON *delta,
                          const struct canon_sink *sink)
{
  const char *finish = canon_json_str(delta, "finish_reason");
  const char *reason = finish_reason(finish, s->ntools > 0);
  struct canon_ev ev = {.type = CANON_EV_FINISH};
  int rc;

  if(!reason) {
    upstream_failed(finish, canon_json_str(delta, "error"), &s->err);
    return fail(s, sink, SB_EIO);
  }
  s->done = 1;
  ev.finish_reason = reason;
  rc = canon_emit(sink, &ev);
  if(!rc && cJSON_IsObject(canon_json_get(delta, "usage"))) {
    struct canon_ev u = {.type = CANON_EV_USAGE};
    canon_usage_init(&u.usage);
    read_usage(canon_json_get(delta, "usage"), &u.usage);
    rc = canon_emit(sink, &u);
  }
  return rc;
}

static int dispatch(struct prov_stream *s, const char *type, const cJSON *root,
                    const struct canon_sink *sink)
{
  const cJSON *delta = canon_json_get(root, "delta");
  const cJSON *msg = canon_json_get(delta, "message");

  if(!strcmp(type, "message-start")) {
    struct canon_ev ev = {.type = CANON_EV_START,
                          .id = canon_json_str(root, "id")};
    return canon_emit(sink, &ev);
  }
  if(!strcmp(type, "content-start") || !strcmp(type, "content-delta")) {
    const cJSON *c = canon_json_get(msg, "content");
    int rc = canon_emit_text(sink, CANON_EV_REASONING, 0,
                             canon_json_str(c, "thinking"));
    return rc ? rc
              : canon_emit_text(sink, CANON_EV_TEXT, 0,
                                canon_json_str(c, "text"));
  }
  if(!strcmp(type, "tool-plan-delta"))
    return canon_emit_text(sink, CANON_EV_REASONING, 0,
                           canon_json_str(msg, "tool_plan"));
  if(!strcmp(type, "tool-call-start"))
    return on_tool_start(s, root, msg, sink);
  if(!strcmp(type, "tool-call-delta"))
    return on_tool_delta(s, root, msg, sink);
  if(!strcmp(type, "message-end"))
    return on_message_end(s, delta, sink);
  /* content-end, tool-call-end, citation-*, debug, and anything new. */
  return 0;
}

static int stream_feed(struct prov_stream *s, const struct prov_payload *pl,
                       const struct canon_sink *sink)
{
  cJSON *root;
  const char *type;
  char *event = NULL;
  int rc;

  if(s->failed || s->done)
    return 0;
  if(pl->len == 6 && !memcmp(pl->data, "[DONE]", 6))
    return 0;
  root = cJSON_ParseWithLength(pl->data, pl->len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    canon_bad_response(&s->err, "a malformed stream event");
    return fail(s, sink, SB_EPROTO);
  }
  type = canon_json_str(root, "type");
  if(!type && pl->event) {
    event = sb_strndup(pl->event, pl->event_len);
    type = event;
  }
  if(!type && canon_json_str(root, "message")) {
    /* An error body ({"id","message"}) in place of an event. */
    api_error_set(&s->err, 502, "upstream_error", "upstream_error", NULL, "%s",
                  canon_json_str(root, "message"));
    rc = fail(s, sink, SB_EIO);
  } else {
    rc = type ? dispatch(s, type, root, sink) : 0;
  }
  free(event);
  cJSON_Delete(root);
  return rc;
}

/* ---- embeddings ----------------------------------- */

/* output_dimension values Cohere takes (embed-v4.0 and later). */
static const int OUTPUT_DIMENSIONS[] = {256, 512, 1024, 1536};

/* Models of the v2 and v3 families have one fixed size. */
static int fixed_size_model(const char *model)
{
  return !strncmp(model, "embed-", 6) &&
         (strstr(model, "-v2.") || strstr(model, "-v3."));
}

/* input as Cohere's texts (*out), or a 400 for token ids, which Cohere
 * cannot take. */
static int embed_texts(const struct prov *p, const cJSON *input, cJSON **out,
                       struct api_error *err)
{
  const cJSON *it;

  *out = NULL;
  if(cJSON_IsString(input)) {
    *out = cJSON_CreateArray();
    cJSON_AddItemToArray(*out, cJSON_CreateString(input->valuestring));
    return 0;
  }
  cJSON_ArrayForEach(it, input)
  {
    if(!cJSON_IsString(it)) {
      api_error_set(err, 400, "invalid_request_error", "unsupported_value",
                    "input",
                    "Provider '%s' takes text only: 'input' as token ids is "
                    "not supported.",
                    p->name);
      return SB_EINVAL;
    }
  }
  *out = cJSON_Duplicate(input, 1);
  return 0;
}

static int embed_dimensions(const struct prov *p, const cJSON *req,
                            const char *model, cJSON *body,
                            struct api_error *err)
{
  const cJSON *d = canon_json_get(req, "dimensions");

  if(!cJSON_IsNumber(d))
    return 0;
  if(fixed_size_model(model)) {
    api_error_set(err, 400, "invalid_request_error", "unsupported_parameter",
                  "dimensions",
                  "Model '%s' of provider '%s' has a fixed size; "
                  "'dimensions' needs embed-v4.0 or later.",
                  model, p->name);
    return SB_EINVAL;
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(OUTPUT_DIMENSIONS); i++)
    if(d->valuedouble == OUTPUT_DIMENSIONS[i]) {
      cJSON_AddNumberToObject(body, "output_dimension", OUTPUT_DIMENSIONS[i]);
      return 0;
    }
  api_error_set(err, 400, "invalid_request_error", "unsupported_value",
                "dimensions",
                "Provider '%s' takes 'dimensions' 256, 512, 1024 or 1536 "
                "only.",
                p->name);
  return SB_EINVAL;
}

static int build_embeddings(const struct prov *p, const cJSON *req,
                            const char *model, const struct prov_client *client,
                            struct prov_http *out, struct api_error *err)
{
  const struct cohere_opts *o = opts_of(p);
  cJSON *body = cJSON_CreateObject(), *texts, *types;
  const cJSON *f;
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  cJSON_AddStringToObject(body, "model", model);
  rc = embed_texts(p, canon_json_get(req, "input"), &texts, err);
  if(!rc) {
    cJSON_AddItemToObject(body, "texts", texts);
    cJSON_AddStringToObject(body, "input_type", o->embed_input_type);
    types = cJSON_AddArrayToObject(body, "embedding_types");
    /* base64 is made by the gateway from the floats. */
    cJSON_AddItemToArray(types, cJSON_CreateString("float"));
    rc = embed_dimensions(p, req, model, body, err);
  }
  if(rc) {
    cJSON_Delete(body);
    return rc;
  }
  cJSON_AddStringToObject(body, "truncate", o->embed_truncate);
  cJSON_ArrayForEach(f, req)
  {
    static const char *const handled[] = {"model", "input", "encoding_format",
                                          "dimensions"};
    int known = cJSON_IsNull(f);

    for(size_t i = 0; !known && i < SB_ARRAY_LEN(handled); i++)
      known = !strcmp(handled[i], f->string);
    if(!known) /* user, and anything unknown */
      prov_http_note_dropped(out, f->string);
  }
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s/v2/embed", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: application/json");
  prov_http_add_header(out, "Expect:");
  auth_headers(p, client, out);
  return 0;
}

/* The number of inputs of a validated request. */
static int embed_count(const cJSON *req)
{
  const cJSON *input = canon_json_get(req, "input");
  return cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
}

static int parse_embeddings(const struct prov *p, const char *body, size_t len,
                            const cJSON *req, const char *model, cJSON **out,
                            struct canon_usage *usage, struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *emb = canon_json_get(root, "embeddings");
  const cJSON *vecs = cJSON_IsArray(emb) ? emb : canon_json_get(emb, "float");
  const cJSON *v, *x;
  cJSON *res, *data, *us;
  int64_t tokens;
  int i = 0;

  (void)p;
  *out = NULL;
  canon_usage_init(usage);
  if(!cJSON_IsArray(vecs) || cJSON_GetArraySize(vecs) != embed_count(req)) {
    cJSON_Delete(root);
    canon_bad_response(err, "a response that is not a Cohere float embeddings "
                            "answer for every input");
    return SB_EPROTO;
  }
  cJSON_ArrayForEach(v, vecs)
  {
    int ok = cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;

    cJSON_ArrayForEach(x, v)
    {
      ok = ok && cJSON_IsNumber(x);
    }
    if(!ok) {
      cJSON_Delete(root);
      canon_bad_response(err, "an embedding that is not an array of numbers");
      return SB_EPROTO;
    }
  }
  tokens = count(canon_json_get(canon_json_get(root, "meta"), "billed_units"),
                 "input_tokens");
  usage->prompt_tokens = tokens;
  usage->completion_tokens = 0;

  res = cJSON_CreateObject();
  cJSON_AddStringToObject(res, "object", "list");
  data = cJSON_AddArrayToObject(res, "data");
  cJSON_ArrayForEach(v, vecs)
  {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "object", "embedding");
    cJSON_AddNumberToObject(e, "index", i++);
    cJSON_AddItemToObject(e, "embedding", cJSON_Duplicate(v, 1));
    cJSON_AddItemToArray(data, e);
  }
  cJSON_AddStringToObject(res, "model", model);
  us = cJSON_AddObjectToObject(res, "usage");
  cJSON_AddNumberToObject(us, "prompt_tokens",
                          (double)(tokens > 0 ? tokens : 0));
  cJSON_AddNumberToObject(us, "total_tokens",
                          (double)(tokens > 0 ? tokens : 0));
  cJSON_Delete(root);
  *out = res;
  return 0;
}

/* ---- errors and models ------------------------------------------------ */

static void map_error(const struct prov *p, int status, const char *body,
                      size_t len, const char *retry_after,
                      const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const char *msg = canon_json_str(root, "message");
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if(!msg)
    msg = canon_json_str(root, "error");
  if((status == 401 || status == 403 || status == 498) && own_credential) {
    /* The client can do nothing about it, and the upstream's message
     * may quote the key. */
    canon_err_auth_failed(err, p->name, status);
  } else if(status == 401 || status == 498) {
    api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "Provider '%s' rejected the credentials.", p->name);
  } else if(status == 503 || status == 529) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status >= 500 || status < 400 || status == 499) {
    canon_err_failed(err, p->name, status, msg);
  } else if(status == 402) {
    api_error_set(err, 429, "insufficient_quota", "insufficient_quota", NULL,
                  "%s", msg ? msg : "The upstream account is out of credit.");
  } else if(status == 429) {
    api_error_set(err, 429, "rate_limit_exceeded", "rate_limit_exceeded", NULL,
                  "%s", msg ? msg : "The upstream provider's rate limit.");
  } else {
    const char *code = NULL;
    int st = status == 422 ? 400 : status;

    if(status == 404)
      code = "model_not_found";
    else if(status == 413)
      code = "request_too_large";
    else if(status == 403)
      code = "permission_denied";
    else if(msg && (strstr(msg, "too many tokens") || strstr(msg, "too long")))
      code = "context_length_exceeded";
    api_error_set(err, st, "invalid_request_error", code, NULL, "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(status == 429 || status == 503 || status == 529)
    canon_retry_after(err, retry_after, retry_after_ms);
  cJSON_Delete(root);
}

static void build_models(const struct prov *p, struct prov_http *out)
{
  memset(out, 0, sizeof(*out));
  /* Chat and embed models both (Cohere's filter takes one endpoint);
   * 1000 is the largest page Cohere serves. */
  out->url = sb_asprintf("%s/v1/models?page_size=1000", p->base_url);
  prov_http_add_header(out, "Accept: application/json");
  auth_headers(p, NULL, out);
}

/* Models that serve chat or embed; a model that does not list its
 * endpoints is kept. */
static const char *model_name(const cJSON *m)
{
  const char *name = canon_json_str(m, "name");
  const cJSON *eps = canon_json_get(m, "endpoints"), *e;
  int serves = !cJSON_IsArray(eps); /* not said: kept */

  cJSON_ArrayForEach(e, eps)
  {
    const char *ep = cJSON_IsString(e) ? e->valuestring : "";
    serves |= !strcmp(ep, "chat") || !strcmp(ep, "embed");
  }
  return serves ? name : NULL;
}

static int parse_models(const char *body, size_t len, char ***models,
                        int *nmodels)
{
  return canon_models_parse(body, len, "models", model_name, models, nmodels);
}

const struct prov_adapter prov_cohere_adapter = {
    .kind = "cohere",
    .caps = PROV_COHERE_CAPS,
    .framing = PROV_FRAMING_SSE,
    .default_base_url = "https://api.cohere.com",
    .configure = configure,
    .unconfigure = unconfigure,
    .build_chat = build_chat,
    .parse_chat = parse_chat,
    .stream_new = stream_new,
    .stream_feed = stream_feed,
    .stream_complete = stream_complete,
    .stream_free = stream_free,
    .map_error = map_error,
    .build_embeddings = build_embeddings,
    .parse_embeddings = parse_embeddings,
    .build_models = build_models,
    .parse_models = parse_models,
};
