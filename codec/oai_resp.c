#include "codec/oai_resp.h"
#include "codec/oai_chat.h"
#include "codec/oai_err.h"
#include "base/buf.h"
#include "base/sb.h"
#include "base/sse.h"
#include "codec/canon_doc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_ERR "invalid_request_error"

/* Item ids: a prefix and 24 hex digits. */
#define ID_LEN 40

/* ---- small JSON helpers ------------------------------------------------ */

static const cJSON *get(const cJSON *obj, const char *key)
{
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A member of an object being built. */
static cJSON *mget(cJSON *obj, const char *key)
{
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* The string member key of obj, or NULL. */
static const char *get_str(const cJSON *obj, const char *key)
{
  const cJSON *v = get(obj, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Present and not null. */
static int given(const cJSON *v)
{
  return v && !cJSON_IsNull(v);
}

static void add_strn(cJSON *o, const char *k, const char *p, size_t n)
{
  char *s = sb_strndup(p ? p : "", p ? n : 0);

  cJSON_AddStringToObject(o, k, s);
  free(s);
}

/* Texts gathered from several parts and the item texts of a stream: sized
 * by the client's body or the upstream's answer, which the caller bounds
 * already. */
#define TEXT_INIT                                                              \
  {                                                                            \
    NULL, 0, 0, SIZE_MAX                                                       \
  }

/* Join with sep: append p to b, after sep unless b is empty. */
static void str_join(struct buf *b, const char *sep, const char *p)
{
  if(b->len)
    buf_appendz(b, sep);
  buf_appendz(b, p);
}

static const char *str_get(const struct buf *b)
{
  return b->data ? b->data : "";
}

/* ---- typed members ---------------------------------------------------- */

/* An optional string member that must be one of allowed (NULL-terminated)
 * when given. */
static int opt_enum(const cJSON *obj, const char *key, const char *path,
                    const char *const *allowed, struct api_error *err)
{
  const cJSON *v = get(obj, key);
  char p[OAI_ERR_PATH_LEN];

  if(!given(v))
    return 0;
  oai_err_join(p, path, key);
  if(!cJSON_IsString(v))
    return oai_err_type(err, p, "a string", v);
  return oai_err_enum(err, p, allowed, v->valuestring, NULL);
}

/* ---- top-level scalar fields ------------------------------------------ */

/* max_output_tokens: OpenAI asks for at least 16; other providers take
 * less, and clients test truncation with small limits, so 1 is enough. */
static const struct oai_scalar_rule SCALARS[] = {
    {"model", OAI_STR, 0, 0, 0, 0, 0},
    {"instructions", OAI_STR, 1, 0, 0, 0, 0},
    {"previous_response_id", OAI_STR, 1, 0, 0, 0, 0},
    {"stream", OAI_BOOL, 1, 0, 0, 0, 0},
    {"stream_options", OAI_OBJ, 1, 0, 0, 0, 0},
    {"store", OAI_BOOL, 1, 0, 0, 0, 0},
    {"background", OAI_BOOL, 1, 0, 0, 0, 0},
    {"temperature", OAI_NUM, 1, 1, 1, 0, 2},
    {"top_p", OAI_NUM, 1, 1, 1, 0, 1},
    {"max_output_tokens", OAI_INT, 1, 1, 0, 1, 0},
    {"max_tool_calls", OAI_INT, 1, 1, 0, 0, 0},
    {"top_logprobs", OAI_INT, 1, 1, 1, 0, 20},
    {"parallel_tool_calls", OAI_BOOL, 1, 0, 0, 0, 0},
    {"user", OAI_STR, 0, 0, 0, 0, 0},
    {"safety_identifier", OAI_STR, 1, 0, 0, 0, 0},
    {"prompt_cache_key", OAI_STR, 1, 0, 0, 0, 0},
    {"service_tier", OAI_STR, 1, 0, 0, 0, 0},
    {"metadata", OAI_OBJ, 1, 0, 0, 0, 0},
    {"include", OAI_ARR, 1, 0, 0, 0, 0},
    {"reasoning", OAI_OBJ, 1, 0, 0, 0, 0},
    {"text", OAI_OBJ, 1, 0, 0, 0, 0},
};

static int check_top_level(const cJSON *req, struct api_error *err)
{
  static const char *const truncations[] = {"auto", "disabled", NULL};
  static const char *const efforts[] = {"none", "minimal", "low", "medium",
                                        "high", "xhigh",   "max", NULL};
  static const char *const summaries[] = {"auto", "concise", "detailed", NULL};
  static const char *const verbosities[] = {"low", "medium", "high", NULL};
  const cJSON *model = get(req, "model");
  const cJSON *v;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  if(!cJSON_IsObject(req)) {
    api_error_set(err, 400, T_ERR, "invalid_json", NULL,
                  "The request body must be a JSON object.");
    return SB_EINVAL;
  }
  if(!model)
    return oai_err_missing(err, "model");
  for(size_t k = 0; k < SB_ARRAY_LEN(SCALARS); k++) {
    rc = oai_err_scalar(req, &SCALARS[k], err);
    if(rc)
      return rc;
  }
  if(!model->valuestring[0])
    return oai_err_value(err, "model", "expected a non-empty string.");
  rc = opt_enum(req, "truncation", "", truncations, err);
  if(rc)
    return rc;
  cJSON_ArrayForEach(v, get(req, "metadata"))
  {
    oai_err_join(p, "metadata", v->string);
    if(!cJSON_IsString(v))
      return oai_err_type(err, p, "a string", v);
  }
  cJSON_ArrayForEach(v, get(req, "include"))
  {
    oai_err_join_index(p, "include", i++);
    if(!cJSON_IsString(v))
      return oai_err_type(err, p, "a string", v);
  }
  v = get(req, "reasoning");
  rc = opt_enum(v, "effort", "reasoning", efforts, err);
  if(!rc)
    rc = opt_enum(v, "summary", "reasoning", summaries, err);
  if(!rc)
    rc = opt_enum(v, "generate_summary", "reasoning", summaries, err);
  if(!rc)
    rc = opt_enum(get(req, "text"), "verbosity", "text", verbosities, err);
  if(rc)
    return rc;
  /* What needs server-side state or execution this gateway lacks
   * (conversation is the caller's: its items come in as history). */
  if(cJSON_IsTrue(get(req, "background")))
    return oai_err_unsupported(err, "unsupported_value", "background",
                               "background responses are not supported by this "
                               "gateway.");
  if(given(get(req, "prompt")))
    return oai_err_unsupported(err, "unsupported_parameter", "prompt",
                               "Prompt templates ('prompt') are not supported "
                               "by this gateway.");
  return 0;
}

/* ---- the dropped list -------------------------------------------------- */

/* entry already in the comma-separated list s */
static int listed(const char *s, const char *entry)
{
  size_t n = strlen(entry);

  while(s && *s) {
    const char *c = strchr(s, ',');
    size_t l = c ? (size_t)(c - s) : strlen(s);
    if(l == n && !memcmp(s, entry, n))
      return 1;
    s = c ? c + 1 : NULL;
  }
  return 0;
}

static void drop(char **list, const char *entry, int once)
{
  char *n;

  if(once && listed(*list, entry))
    return;
  if(!*list) {
    *list = sb_strdup(entry);
    return;
  }
  n = sb_asprintf("%s,%s", *list, entry);
  free(*list);
  *list = n;
}

/* Top-level fields this translation or the gateway reads; any other one
 * (a field of a newer API revision, a vendor's sampling knob such as
 * top_k) is dropped and named in the dropped list, so the client knows
 * it was not honoured instead of finding out from the answer. */
static const char *const TOP_LEVEL[] = {
    "input", "tools", "tool_choice", "truncation", "prompt", "conversation",
};

static void drop_unknown(const cJSON *req, char **dropped)
{
  const cJSON *f;

  cJSON_ArrayForEach(f, req)
  {
    int known = 0;
    for(size_t i = 0; !known && i < SB_ARRAY_LEN(SCALARS); i++)
      known = !strcmp(f->string, SCALARS[i].name);
    for(size_t i = 0; !known && i < SB_ARRAY_LEN(TOP_LEVEL); i++)
      known = !strcmp(f->string, TOP_LEVEL[i]);
    if(!known)
      drop(dropped, f->string, 1);
  }
}

/* ---- tools ------------------------------------------------------------- */

static const char CUSTOM_PARAMS[] =
    "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\"}},"
    "\"required\":[\"input\"]}";

/* The description of a custom tool's function stand-in: the client's own
 * text plus what the input must look like, since the model now writes it
 * into a JSON string. */
static char *custom_description(const char *desc, const cJSON *format)
{
  const char *ftype = get_str(format, "type");
  const char *pre = desc && *desc ? desc : "";
  const char *sep = *pre ? "\n\n" : "";

  if(ftype && !strcmp(ftype, "grammar"))
    return sb_asprintf("%s%sPut the tool's input, as plain text, in the "
                       "\"input\" string. The input must match this %s "
                       "grammar:\n%s",
                       pre, sep, get_str(format, "syntax"),
                       get_str(format, "definition"));
  return sb_asprintf("%s%sPut the tool's input, as free-form plain text, in "
                     "the \"input\" string.",
                     pre, sep);
}

static int check_custom_format(const cJSON *fmt, const char *path,
                               struct api_error *err)
{
  static const char *const types[] = {"text", "grammar", NULL};
  static const char *const syntaxes[] = {"lark", "regex", NULL};
  const char *type;
  int rc;

  if(!cJSON_IsObject(fmt))
    return oai_err_type(err, path, "an object", fmt);
  rc = oai_err_need_string(fmt, "type", path, &type, err);
  if(!rc)
    rc = opt_enum(fmt, "type", path, types, err);
  if(rc || strcmp(type, "grammar"))
    return rc;
  rc = oai_err_need_string(fmt, "syntax", path, NULL, err);
  if(!rc)
    rc = opt_enum(fmt, "syntax", path, syntaxes, err);
  if(!rc)
    rc = oai_err_need_string(fmt, "definition", path, NULL, err);
  return rc;
}

/* One function or custom tool as a chat tool (NULL on error). */
static cJSON *chat_tool(const cJSON *t, const char *path, int custom,
                        struct api_error *err)
{
  const cJSON *fmt = get(t, "format");
  const char *name;
  cJSON *tool, *fn;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  rc = oai_err_need_name(t, "name", path, &name, err);
  if(!rc)
    rc = oai_err_opt_member(t, "description", path, cJSON_IsString, "a string",
                            1, err);
  if(!rc && !custom)
    rc = oai_err_opt_member(t, "parameters", path, cJSON_IsObject, "an object",
                            1, err);
  if(!rc && !custom)
    rc = oai_err_opt_member(t, "strict", path, cJSON_IsBool, "a boolean", 1,
                            err);
  if(!rc && custom && given(fmt)) {
    oai_err_join(p, path, "format");
    rc = check_custom_format(fmt, p, err);
  }
  if(rc)
    return NULL;
  tool = cJSON_CreateObject();
  cJSON_AddStringToObject(tool, "type", "function");
  fn = cJSON_AddObjectToObject(tool, "function");
  cJSON_AddStringToObject(fn, "name", name);
  if(custom) {
    char *d = custom_description(get_str(t, "description"), fmt);
    cJSON_AddStringToObject(fn, "description", d);
    free(d);
    cJSON_AddItemToObject(fn, "parameters", cJSON_Parse(CUSTOM_PARAMS));
    return tool;
  }
  if(get_str(t, "description"))
    cJSON_AddStringToObject(fn, "description", get_str(t, "description"));
  if(cJSON_IsObject(get(t, "parameters")))
    cJSON_AddItemToObject(fn, "parameters",
                          cJSON_Duplicate(get(t, "parameters"), 1));
  /* strict only when asked: the Responses default (true) would make
   * OpenAI-compatible upstreams refuse any non-strict schema. */
  if(cJSON_IsBool(get(t, "strict")))
    cJSON_AddBoolToObject(fn, "strict", cJSON_IsTrue(get(t, "strict")));
  return tool;
}

/* The chat tools for req's function and custom tools (*out: an array,
 * possibly empty); every other tool is dropped. */
static int build_tools(const cJSON *req, cJSON **out, char **dropped,
                       struct api_error *err)
{
  const cJSON *tools = get(req, "tools");
  const cJSON *t;
  cJSON *arr = cJSON_CreateArray();
  char p[OAI_ERR_PATH_LEN];
  char e[OAI_ERR_PATH_LEN + 64];
  int i = 0;

  *out = arr;
  if(!given(tools))
    return 0;
  if(!cJSON_IsArray(tools))
    return oai_err_type(err, "tools", "an array", tools);
  cJSON_ArrayForEach(t, tools)
  {
    const char *type;
    cJSON *ct;
    int rc;

    oai_err_join_index(p, "tools", i++);
    if(!cJSON_IsObject(t))
      return oai_err_type(err, p, "an object", t);
    rc = oai_err_need_string(t, "type", p, &type, err);
    if(rc)
      return rc;
    if(strcmp(type, "function") && strcmp(type, "custom")) {
      snprintf(e, sizeof(e), "%s.type=%s", p, type);
      drop(dropped, e, 0);
      continue;
    }
    ct = chat_tool(t, p, !strcmp(type, "custom"), err);
    if(!ct)
      return SB_EINVAL;
    cJSON_AddItemToArray(arr, ct);
  }
  return 0;
}

/* The type of the tool named name in req's tools (function or custom), or
 * NULL. */
static const char *req_tool_type(const cJSON *req, const char *name)
{
  const cJSON *t;

  cJSON_ArrayForEach(t, get(req, "tools"))
  {
    const char *n = get_str(t, "name");
    const char *type = get_str(t, "type");
    if(n && type && !strcmp(n, name) &&
       (!strcmp(type, "function") || !strcmp(type, "custom")))
      return type;
  }
  return NULL;
}

static int is_custom_tool(const cJSON *req, const char *name)
{
  const char *type = name ? req_tool_type(req, name) : NULL;

  return type && !strcmp(type, "custom");
}

static int fail_dropped_choice(struct api_error *err, const char *path,
                               const char *type)
{
  char q[OAI_ERR_QUOTE_MAX + 4];

  return oai_err_unsupported(
      err, "unsupported_value", path,
      "tool_choice selects the tool type '%s', which this "
      "gateway does not support (hosted tools are "
      "dropped); use 'auto', 'required', 'none' or a "
      "function or custom tool.",
      oai_err_quote(q, type));
}

/* A {type: function|custom, name} selector at path naming a tool of that
 * type in req; *name receives the name. */
static int check_named_choice(const cJSON *req, const cJSON *o,
                              const char *path, const char **name,
                              struct api_error *err)
{
  const char *type, *rtype;
  char p[OAI_ERR_PATH_LEN];
  char q[OAI_ERR_QUOTE_MAX + 4];
  int rc;

  if(!cJSON_IsObject(o))
    return oai_err_type(err, path, "an object", o);
  rc = oai_err_need_string(o, "type", path, &type, err);
  if(rc)
    return rc;
  if(strcmp(type, "function") && strcmp(type, "custom")) {
    oai_err_join(p, path, "type");
    return fail_dropped_choice(err, p, type);
  }
  rc = oai_err_need_string(o, "name", path, name, err);
  if(rc)
    return rc;
  rtype = req_tool_type(req, *name);
  if(!rtype || strcmp(rtype, type)) {
    oai_err_join(p, path, "name");
    return oai_err_value(err, p, "no %s tool named '%s' is in 'tools'.", type,
                         oai_err_quote(q, *name));
  }
  return 0;
}

/* allowed_tools: keep only the listed tools and choose with mode. */
static int allowed_tools(const cJSON *req, const cJSON *tc, cJSON *tools,
                         const char **mode, struct api_error *err)
{
  static const char *const modes[] = {"auto", "required", NULL};
  const cJSON *list = get(tc, "tools");
  const cJSON *a;
  cJSON *t, *next;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  rc = oai_err_need_string(tc, "mode", "tool_choice", mode, err);
  if(!rc)
    rc = opt_enum(tc, "mode", "tool_choice", modes, err);
  if(rc)
    return rc;
  if(!list)
    return oai_err_missing(err, "tool_choice.tools");
  if(!cJSON_IsArray(list))
    return oai_err_type(err, "tool_choice.tools", "an array", list);
  if(!cJSON_GetArraySize(list))
    return oai_err_value(err, "tool_choice.tools",
                         "expected a non-empty array of tools.");
  cJSON_ArrayForEach(a, list)
  {
    const char *name;

    oai_err_join_index(p, "tool_choice.tools", i++);
    rc = check_named_choice(req, a, p, &name, err);
    if(rc)
      return rc;
  }
  for(t = tools->child; t; t = next) {
    const char *name = get_str(get(t, "function"), "name");
    int keep = 0;

    next = t->next;
    cJSON_ArrayForEach(a, list)
    {
      if(!strcmp(get_str(a, "name"), name))
        keep = 1;
    }
    if(!keep)
      cJSON_Delete(cJSON_DetachItemViaPointer(tools, t));
  }
  return 0;
}

/* Set chat's tools, tool_choice and parallel_tool_calls. */
static int add_tools(const cJSON *req, cJSON *chat, char **dropped,
                     struct api_error *err)
{
  const cJSON *tc = get(req, "tool_choice");
  const cJSON *ptc = get(req, "parallel_tool_calls");
  const char *choice = NULL;
  const char *name = NULL;
  cJSON *tools;
  char q[OAI_ERR_QUOTE_MAX + 4];
  int rc;

  rc = build_tools(req, &tools, dropped, err);
  if(rc)
    goto fail;
  if(cJSON_IsString(tc)) {
    choice = tc->valuestring;
    if(strcmp(choice, "none") && strcmp(choice, "auto") &&
       strcmp(choice, "required")) {
      rc = oai_err_value(err, "tool_choice",
                         "expected 'none', 'auto', 'required' or an object, "
                         "got '%s'.",
                         oai_err_quote(q, choice));
      goto fail;
    }
  } else if(cJSON_IsObject(tc)) {
    const char *type;

    rc = oai_err_need_string(tc, "type", "tool_choice", &type, err);
    if(rc)
      goto fail;
    if(!strcmp(type, "allowed_tools"))
      rc = allowed_tools(req, tc, tools, &choice, err);
    else
      rc = check_named_choice(req, tc, "tool_choice", &name, err);
    if(rc)
      goto fail;
  } else if(given(tc)) {
    rc = oai_err_type(err, "tool_choice", "a string or an object", tc);
    goto fail;
  }
  if(!cJSON_GetArraySize(tools)) {
    cJSON_Delete(tools);
    /* OpenAI refuses tool_choice and parallel_tool_calls without tools. */
    if(choice && !strcmp(choice, "required"))
      return oai_err_value(err, "tool_choice",
                           "'required' needs a function or custom tool in "
                           "'tools' (hosted tools are dropped).");
    return 0;
  }
  cJSON_AddItemToObject(chat, "tools", tools);
  if(name) {
    cJSON *o = cJSON_AddObjectToObject(chat, "tool_choice");
    cJSON_AddStringToObject(o, "type", "function");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "function"), "name",
                            name);
  } else if(choice) {
    cJSON_AddStringToObject(chat, "tool_choice", choice);
  }
  if(cJSON_IsBool(ptc))
    cJSON_AddBoolToObject(chat, "parallel_tool_calls", cJSON_IsTrue(ptc));
  return 0;
fail:
  cJSON_Delete(tools);
  return rc;
}

/* ---- text.format, reasoning and sampling ------------------------------- */

static int add_format(const cJSON *req, cJSON *chat, struct api_error *err)
{
  static const char *const types[] = {"text", "json_object", "json_schema",
                                      NULL};
  const cJSON *fmt = get(get(req, "text"), "format");
  const cJSON *schema;
  const char *type, *name;
  cJSON *rf, *js;
  int rc;

  if(!given(fmt))
    return 0;
  if(!cJSON_IsObject(fmt))
    return oai_err_type(err, "text.format", "an object", fmt);
  rc = oai_err_need_string(fmt, "type", "text.format", &type, err);
  if(!rc)
    rc = opt_enum(fmt, "type", "text.format", types, err);
  if(rc)
    return rc;
  if(!strcmp(type, "text"))
    return 0; /* the default everywhere; sending it only risks refusals */
  rf = cJSON_AddObjectToObject(chat, "response_format");
  cJSON_AddStringToObject(rf, "type", type);
  if(strcmp(type, "json_schema"))
    return 0;
  rc = oai_err_need_name(fmt, "name", "text.format", &name, err);
  if(!rc)
    rc = oai_err_opt_member(fmt, "description", "text.format", cJSON_IsString,
                            "a string", 1, err);
  if(!rc)
    rc = oai_err_opt_member(fmt, "strict", "text.format", cJSON_IsBool,
                            "a boolean", 1, err);
  if(rc)
    return rc;
  schema = get(fmt, "schema");
  if(!schema)
    return oai_err_missing(err, "text.format.schema");
  if(!cJSON_IsObject(schema))
    return oai_err_type(err, "text.format.schema", "an object", schema);
  js = cJSON_AddObjectToObject(rf, "json_schema");
  cJSON_AddStringToObject(js, "name", name);
  if(get_str(fmt, "description"))
    cJSON_AddStringToObject(js, "description", get_str(fmt, "description"));
  cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(schema, 1));
  if(cJSON_IsBool(get(fmt, "strict")))
    cJSON_AddBoolToObject(js, "strict", cJSON_IsTrue(get(fmt, "strict")));
  return 0;
}

static void copy_number(const cJSON *req, const char *from, cJSON *chat,
                        const char *to)
{
  const cJSON *v = get(req, from);

  if(cJSON_IsNumber(v))
    cJSON_AddNumberToObject(chat, to, v->valuedouble);
}

static void add_sampling(const cJSON *req, cJSON *chat)
{
  const cJSON *tl = get(req, "top_logprobs");
  const char *effort = get_str(get(req, "reasoning"), "effort");
  const char *user = get_str(req, "user");
  const cJSON *inc;
  int logprobs = 0;

  if(effort)
    cJSON_AddStringToObject(chat, "reasoning_effort", effort);
  copy_number(req, "max_output_tokens", chat, "max_completion_tokens");
  copy_number(req, "temperature", chat, "temperature");
  copy_number(req, "top_p", chat, "top_p");
  /* Responses returns logprobs when include asks for them; top_logprobs
   * alone implies them too. */
  cJSON_ArrayForEach(inc, get(req, "include"))
  {
    if(cJSON_IsString(inc) &&
       !strcmp(inc->valuestring, "message.output_text.logprobs"))
      logprobs = 1;
  }
  if(cJSON_IsNumber(tl) && tl->valuedouble > 0)
    logprobs = 1;
  if(logprobs) {
    cJSON_AddBoolToObject(chat, "logprobs", 1);
    if(cJSON_IsNumber(tl) && tl->valuedouble > 0)
      cJSON_AddNumberToObject(chat, "top_logprobs", tl->valuedouble);
  }
  if(!user)
    user = get_str(req, "safety_identifier");
  if(user)
    cJSON_AddStringToObject(chat, "user", user);
  if(cJSON_IsTrue(get(req, "stream"))) {
    cJSON_AddBoolToObject(chat, "stream", 1);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(chat, "stream_options"),
                          "include_usage", 1);
  }
}

/* ---- input items ------------------------------------------------------- */

/* Content part kinds, as bits of what a place allows. */
enum {
  P_INPUT_TEXT = 1u << 0,
  P_OUTPUT_TEXT = 1u << 1,
  P_REFUSAL = 1u << 2,
  P_IMAGE = 1u << 3,
  P_FILE = 1u << 4,
};

static const struct {
  const char *name;
  unsigned bit;
} PARTS[] = {
    {"input_text", P_INPUT_TEXT}, {"output_text", P_OUTPUT_TEXT},
    {"refusal", P_REFUSAL},       {"input_image", P_IMAGE},
    {"input_file", P_FILE},
};

/* Input item types of hosted tools: their calls ran (or would run) on
 * OpenAI's side, so they have no chat equivalent and are dropped. */
static const char *const HOSTED_ITEMS[] = {
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "web_search_call",
    "tool_search_call",
    "tool_search_output",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "compaction",
    "compaction_trigger",
};

struct tx {
  const cJSON *req;
  const cJSON *history; /* array or NULL */
  cJSON *turn;          /* the chat messages of this turn */
  cJSON *open_asst;     /* the last message of turn, if an assistant
                         * message later function calls may join */
  cJSON *user_parts;    /* image/file parts of tool outputs, pending */
  struct buf reasoning; /* reasoning text for the next assistant message */
  cJSON *details;       /* its reasoning_details, or NULL */
  char *dropped;
  struct api_error *err;
};

static void flush_user_parts(struct tx *tx)
{
  cJSON *m;

  if(!tx->user_parts)
    return;
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddItemToObject(m, "content", tx->user_parts);
  tx->user_parts = NULL;
  cJSON_AddItemToArray(tx->turn, m);
}

/* Append m to the turn. Parts held back from tool outputs go first unless
 * m is itself a tool message: providers want the results of one step's
 * calls together. */
static void push(struct tx *tx, cJSON *m)
{
  const char *role = get_str(m, "role");

  if(strcmp(role, "tool"))
    flush_user_parts(tx);
  cJSON_AddItemToArray(tx->turn, m);
  tx->open_asst = !strcmp(role, "assistant") ? m : NULL;
}

static void take_reasoning(struct tx *tx, cJSON *m)
{
  if(tx->details) {
    cJSON_AddItemToObject(m, "reasoning_details", tx->details);
    tx->details = NULL;
  }
  if(!tx->reasoning.len)
    return;
  cJSON_AddStringToObject(m, "reasoning_content", tx->reasoning.data);
  buf_reset(&tx->reasoning);
}

/* 1 when reasoning waits for the next assistant message. */
static int reasoning_pending(const struct tx *tx)
{
  return tx->reasoning.len || tx->details;
}

static cJSON *new_assistant(struct tx *tx)
{
  cJSON *m = cJSON_CreateObject();

  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON_AddNullToObject(m, "content");
  take_reasoning(tx, m);
  push(tx, m);
  return m;
}

static int fail_part_type(struct api_error *err, const char *path,
                          unsigned allowed, const char *got)
{
  char list[160] = "";

  for(size_t i = 0; i < SB_ARRAY_LEN(PARTS); i++)
    if(allowed & PARTS[i].bit)
      oai_err_list_add(list, sizeof(list), PARTS[i].name);
  return oai_err_one_of(err, path, list, got);
}

static int fail_by_id(struct api_error *err, const char *path,
                      const char *field, const char *hint)
{
  char p[OAI_ERR_PATH_LEN];

  oai_err_join(p, path, field);
  return oai_err_unsupported(err, "unsupported_value", p,
                             "'%s' is not supported by this gateway (it has no "
                             "file storage); %s",
                             field, hint);
}

/* One content part at path, of a kind allowed, as a chat part (*out) and
 * its kind (*bit). */
static int convert_part(const cJSON *part, const char *path, unsigned allowed,
                        cJSON **out, unsigned *bit, struct api_error *err)
{
  const char *type, *s;
  cJSON *o, *inner;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  *out = NULL;
  *bit = 0;
  if(!cJSON_IsObject(part))
    return oai_err_type(err, path, "an object", part);
  rc = oai_err_need_string(part, "type", path, &type, err);
  if(rc)
    return rc;
  for(size_t i = 0; i < SB_ARRAY_LEN(PARTS); i++)
    if(!strcmp(type, PARTS[i].name))
      *bit = PARTS[i].bit;
  if(!(*bit & allowed)) {
    oai_err_join(p, path, "type");
    return fail_part_type(err, p, allowed, type);
  }
  switch(*bit) {
  case P_INPUT_TEXT:
  case P_OUTPUT_TEXT:
    rc = oai_err_need_string(part, "text", path, &s, err);
    if(rc)
      return rc;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "text");
    cJSON_AddStringToObject(o, "text", s);
    break;
  case P_REFUSAL:
    rc = oai_err_need_string(part, "refusal", path, &s, err);
    if(rc)
      return rc;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "refusal");
    cJSON_AddStringToObject(o, "refusal", s);
    break;
  case P_IMAGE:
    rc = oai_err_opt_member(part, "detail", path, cJSON_IsString, "a string", 1,
                            err);
    if(rc)
      return rc;
    if(given(get(part, "file_id")))
      return fail_by_id(err, path, "file_id",
                        "send the image as image_url (a URL or a data URL).");
    if(!given(get(part, "image_url"))) {
      oai_err_join(p, path, "image_url");
      return oai_err_missing(err, p);
    }
    rc = oai_err_need_string(part, "image_url", path, &s, err);
    if(rc)
      return rc;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "image_url");
    inner = cJSON_AddObjectToObject(o, "image_url");
    cJSON_AddStringToObject(inner, "url", s);
    if(get_str(part, "detail"))
      cJSON_AddStringToObject(inner, "detail", get_str(part, "detail"));
    break;
  case P_FILE:
    rc = oai_err_opt_member(part, "filename", path, cJSON_IsString, "a string",
                            1, err);
    if(rc)
      return rc;
    if(given(get(part, "file_id")))
      return fail_by_id(err, path, "file_id",
                        "send the file inline as file_data.");
    if(given(get(part, "file_url")))
      return fail_by_id(err, path, "file_url",
                        "send the file inline as file_data.");
    if(!given(get(part, "file_data"))) {
      oai_err_join(p, path, "file_data");
      return oai_err_missing(err, p);
    }
    rc = oai_err_need_string(part, "file_data", path, &s, err);
    if(rc)
      return rc;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "file");
    inner = cJSON_AddObjectToObject(o, "file");
    if(get_str(part, "filename"))
      cJSON_AddStringToObject(inner, "filename", get_str(part, "filename"));
    cJSON_AddStringToObject(inner, "file_data", s);
    break;
  default: return SB_EINVAL; /* excluded by the allowed check */
  }
  *out = o;
  return 0;
}

/* The content (string or parts) of a user, system or developer message at
 * path, as chat content. */
static int message_content(const cJSON *c, const char *path, unsigned allowed,
                           cJSON **out, struct api_error *err)
{
  const cJSON *part;
  cJSON *arr;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;

  *out = NULL;
  if(cJSON_IsString(c)) {
    *out = cJSON_CreateString(c->valuestring);
    return 0;
  }
  if(!cJSON_IsArray(c))
    return oai_err_type(err, path, "a string or an array of content parts", c);
  if(!cJSON_GetArraySize(c))
    return oai_err_value(err, path,
                         "expected a non-empty array of content parts.");
  arr = cJSON_CreateArray();
  cJSON_ArrayForEach(part, c)
  {
    cJSON *o;
    unsigned bit;
    int rc;

    oai_err_join_index(p, path, i++);
    rc = convert_part(part, p, allowed, &o, &bit, err);
    if(rc) {
      cJSON_Delete(arr);
      return rc;
    }
    cJSON_AddItemToArray(arr, o);
  }
  *out = arr;
  return 0;
}

/* An assistant message's content: the text parts joined into one string
 * (the canonical assistant content), refusals into refusal. */
static int assistant_message(struct tx *tx, const cJSON *c, const char *path)
{
  struct buf text = TEXT_INIT, refusal = TEXT_INIT;
  const cJSON *part;
  cJSON *m;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;

  if(cJSON_IsString(c)) {
    buf_appendz(&text, c->valuestring);
  } else if(cJSON_IsArray(c)) {
    cJSON_ArrayForEach(part, c)
    {
      cJSON *o;
      unsigned bit;
      int rc;

      oai_err_join_index(p, path, i++);
      rc = convert_part(part, p, P_INPUT_TEXT | P_OUTPUT_TEXT | P_REFUSAL, &o,
                        &bit, tx->err);
      if(rc) {
        buf_free(&text);
        buf_free(&refusal);
        return rc;
      }
      if(bit == P_REFUSAL)
        buf_appendz(&refusal, get_str(o, "refusal"));
      else
        buf_appendz(&text, get_str(o, "text"));
      cJSON_Delete(o);
    }
  } else {
    return oai_err_type(tx->err, path, "a string or an array of content parts",
                        c);
  }
  m = new_assistant(tx);
  if(text.len || !refusal.len)
    cJSON_ReplaceItemInObjectCaseSensitive(m, "content",
                                           cJSON_CreateString(str_get(&text)));
  if(refusal.len)
    cJSON_AddStringToObject(m, "refusal", refusal.data);
  buf_free(&text);
  buf_free(&refusal);
  return 0;
}

static int message_item(struct tx *tx, const cJSON *item, const char *path)
{
  static const char *const roles[] = {"user", "assistant", "system",
                                      "developer", NULL};
  const cJSON *c = get(item, "content");
  const char *role;
  cJSON *content, *m;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  rc = oai_err_need_string(item, "role", path, &role, tx->err);
  if(!rc)
    rc = opt_enum(item, "role", path, roles, tx->err);
  if(rc)
    return rc;
  oai_err_join(p, path, "content");
  if(!c)
    return oai_err_missing(tx->err, p);
  if(!strcmp(role, "assistant"))
    return assistant_message(tx, c, p);
  rc = message_content(c, p,
                       strcmp(role, "user") ? P_INPUT_TEXT
                                            : P_INPUT_TEXT | P_IMAGE | P_FILE,
                       &content, tx->err);
  if(rc)
    return rc;
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddItemToObject(m, "content", content);
  push(tx, m);
  return 0;
}

/* Add a call to the assistant message function calls join: the one just
 * before, unless a reasoning item came between it and this call and it
 * already has reasoning of its own. */
static void add_call(struct tx *tx, const char *call_id, const char *name,
                     const char *arguments)
{
  cJSON *m = tx->open_asst;
  cJSON *tcs, *tc, *fn;

  if(!m || (reasoning_pending(tx) &&
            (get(m, "reasoning_content") || get(m, "reasoning_details"))))
    m = new_assistant(tx);
  else
    take_reasoning(tx, m);
  tcs = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
  if(!tcs)
    tcs = cJSON_AddArrayToObject(m, "tool_calls");
  tc = cJSON_CreateObject();
  cJSON_AddStringToObject(tc, "id", call_id);
  cJSON_AddStringToObject(tc, "type", "function");
  fn = cJSON_AddObjectToObject(tc, "function");
  cJSON_AddStringToObject(fn, "name", name);
  cJSON_AddStringToObject(fn, "arguments", arguments);
  cJSON_AddItemToArray(tcs, tc);
}

static char *custom_arguments(const char *input)
{
  cJSON *o = cJSON_CreateObject();
  char *s;

  cJSON_AddStringToObject(o, "input", input);
  s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if(!s)
    abort();
  return s;
}

static int call_item(struct tx *tx, const cJSON *item, const char *path,
                     int custom)
{
  const char *call_id, *name, *args;
  char *a;
  int rc;

  rc = oai_err_need_string(item, "call_id", path, &call_id, tx->err);
  if(!rc)
    rc = oai_err_need_string(item, "name", path, &name, tx->err);
  if(!rc)
    rc = oai_err_need_string(item, custom ? "input" : "arguments", path, &args,
                             tx->err);
  if(rc)
    return rc;
  if(!custom) {
    add_call(tx, call_id, name, args);
    return 0;
  }
  a = custom_arguments(args);
  add_call(tx, call_id, name, a);
  free(a);
  return 0;
}

/* A tool call with this id in any assistant message of msgs. */
static int has_call(const cJSON *msgs, const char *id)
{
  const cJSON *m, *tc;

  cJSON_ArrayForEach(m, msgs)
  {
    cJSON_ArrayForEach(tc, get(m, "tool_calls"))
    {
      const char *tid = get_str(tc, "id");
      if(tid && !strcmp(tid, id))
        return 1;
    }
  }
  return 0;
}

static int output_item(struct tx *tx, const cJSON *item, const char *path)
{
  const cJSON *out = get(item, "output");
  const cJSON *part;
  const char *call_id;
  cJSON *m, *content;
  char p[OAI_ERR_PATH_LEN];
  char q[OAI_ERR_QUOTE_MAX + 4];
  int i = 0;
  int rc;

  rc = oai_err_need_string(item, "call_id", path, &call_id, tx->err);
  if(rc)
    return rc;
  if(!has_call(tx->turn, call_id) && !has_call(tx->history, call_id)) {
    oai_err_join(p, path, "call_id");
    return oai_err_value(tx->err, p,
                         "no tool call with call_id '%s' precedes this output.",
                         oai_err_quote(q, call_id));
  }
  oai_err_join(p, path, "output");
  if(!out)
    return oai_err_missing(tx->err, p);
  if(cJSON_IsString(out)) {
    content = cJSON_CreateString(out->valuestring);
  } else if(cJSON_IsArray(out)) {
    content = cJSON_CreateArray();
    cJSON_ArrayForEach(part, out)
    {
      char pp[OAI_ERR_PATH_LEN];
      unsigned bit;
      cJSON *o;

      oai_err_join_index(pp, p, i++);
      rc = convert_part(part, pp, P_INPUT_TEXT | P_IMAGE | P_FILE, &o, &bit,
                        tx->err);
      if(rc) {
        cJSON_Delete(content);
        return rc;
      }
      if(bit == P_INPUT_TEXT) {
        cJSON_AddItemToArray(content, o);
        continue;
      }
      if(!tx->user_parts)
        tx->user_parts = cJSON_CreateArray();
      cJSON_AddItemToArray(tx->user_parts, o);
    }
    if(!cJSON_GetArraySize(content)) {
      cJSON_Delete(content);
      content = cJSON_CreateString("");
    }
  } else {
    return oai_err_type(tx->err, p, "a string or an array of content parts",
                        out);
  }
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON_AddStringToObject(m, "tool_call_id", call_id);
  cJSON_AddItemToObject(m, "content", content);
  push(tx, m);
  return 0;
}

/* The texts of parts (objects with a "text" string) at path joined with
 * blank lines into out. */
static int join_texts(const cJSON *parts, const char *path, struct buf *out,
                      struct api_error *err)
{
  const cJSON *part;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;

  if(!given(parts))
    return 0;
  if(!cJSON_IsArray(parts))
    return oai_err_type(err, path, "an array", parts);
  cJSON_ArrayForEach(part, parts)
  {
    const char *t;
    int rc;

    oai_err_join_index(p, path, i++);
    if(!cJSON_IsObject(part))
      return oai_err_type(err, p, "an object", part);
    rc = oai_err_need_string(part, "text", p, &t, err);
    if(rc)
      return rc;
    if(*t)
      str_join(out, "\n\n", t);
  }
  return 0;
}

/* The reasoning_details entry a reasoning item with encrypted_content and
 * our "format" member stands for (text: its summary text): one with a
 * summary part is a signed text block, one without a redacted block.
 * NULL for an item without a format (OpenAI's own encrypted reasoning,
 * which no provider behind the gateway can read). */
static cJSON *detail_of_item(const cJSON *item, const char *text)
{
  const char *fmt = get_str(item, "format");
  const char *enc = get_str(item, "encrypted_content");

  if(!fmt || !*fmt || !enc)
    return NULL;
  if(cJSON_GetArraySize(get(item, "summary")) ||
     cJSON_GetArraySize(get(item, "content")))
    return canon_reasoning_text(text, enc, fmt);
  return canon_reasoning_encrypted(enc, fmt);
}

static int reasoning_item(struct tx *tx, const cJSON *item, const char *path)
{
  struct buf text = TEXT_INIT;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  oai_err_join(p, path, "summary");
  rc = join_texts(get(item, "summary"), p, &text, tx->err);
  if(!rc && !text.len) {
    /* Raw reasoning (open-weight models) when there is no summary. */
    oai_err_join(p, path, "content");
    rc = join_texts(get(item, "content"), p, &text, tx->err);
  }
  if(!rc)
    rc = oai_err_opt_member(item, "encrypted_content", path, cJSON_IsString,
                            "a string", 1, tx->err);
  if(!rc && text.len)
    str_join(&tx->reasoning, "\n\n", text.data);
  if(!rc && get_str(item, "encrypted_content")) {
    cJSON *d = detail_of_item(item, text.data ? text.data : "");
    if(d) {
      if(!tx->details)
        tx->details = cJSON_CreateArray();
      cJSON_AddItemToArray(tx->details, d);
    } else {
      drop(&tx->dropped, "input.encrypted_content", 1);
    }
  }
  buf_free(&text);
  return rc;
}

static int input_item(struct tx *tx, const cJSON *item, const char *path)
{
  const cJSON *t = get(item, "type");
  const char *type;
  char e[96];
  char p[OAI_ERR_PATH_LEN];
  char q[OAI_ERR_QUOTE_MAX + 4];

  if(!cJSON_IsObject(item))
    return oai_err_type(tx->err, path, "an object", item);
  oai_err_join(p, path, "type");
  if(given(t) && !cJSON_IsString(t))
    return oai_err_type(tx->err, p, "a string", t);
  type = given(t) ? t->valuestring : NULL;
  /* Without a type: an easy message if it has a role, else a reference. */
  if(!type && get(item, "role"))
    type = "message";
  if(!type && get(item, "id"))
    type = "item_reference";
  if(!type)
    return oai_err_missing(tx->err, p);
  if(!strcmp(type, "message"))
    return message_item(tx, item, path);
  if(!strcmp(type, "function_call"))
    return call_item(tx, item, path, 0);
  if(!strcmp(type, "custom_tool_call"))
    return call_item(tx, item, path, 1);
  if(!strcmp(type, "function_call_output") ||
     !strcmp(type, "custom_tool_call_output"))
    return output_item(tx, item, path);
  if(!strcmp(type, "reasoning"))
    return reasoning_item(tx, item, path);
  if(!strcmp(type, "item_reference"))
    return oai_err_unsupported(tx->err, "unsupported_value", p,
                               "Item references are not supported by this "
                               "gateway; send the item itself.");
  for(size_t i = 0; i < SB_ARRAY_LEN(HOSTED_ITEMS); i++) {
    if(!strcmp(type, HOSTED_ITEMS[i])) {
      snprintf(e, sizeof(e), "input.type=%s", type);
      drop(&tx->dropped, e, 1);
      return 0;
    }
  }
  return oai_err_value(tx->err, p,
                       "expected 'message', 'function_call', "
                       "'function_call_output', 'reasoning', "
                       "'custom_tool_call' or 'custom_tool_call_output', got "
                       "'%s'.",
                       oai_err_quote(q, type));
}

static int convert_input(struct tx *tx)
{
  const cJSON *in = get(tx->req, "input");
  const cJSON *item;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  if(!in)
    return oai_err_missing(tx->err, "input");
  if(cJSON_IsString(in)) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", in->valuestring);
    push(tx, m);
    return 0;
  }
  if(!cJSON_IsArray(in))
    return oai_err_type(tx->err, "input", "a string or an array of input items",
                        in);
  cJSON_ArrayForEach(item, in)
  {
    oai_err_join_index(p, "input", i++);
    rc = input_item(tx, item, p);
    if(rc)
      return rc;
  }
  flush_user_parts(tx);
  if(!cJSON_GetArraySize(tx->turn) && !cJSON_GetArraySize(tx->history))
    return oai_err_value(tx->err, "input",
                         "expected at least one message or tool output.");
  return 0;
}

int oai_resp_to_chat(const cJSON *req, const cJSON *history, cJSON **chat,
                     cJSON **turn, char **dropped, struct api_error *err)
{
  struct tx tx = {0};
  const char *instr;
  const cJSON *m;
  cJSON *c = NULL, *msgs;
  int rc;

  buf_init(&tx.reasoning, SIZE_MAX);
  *chat = *turn = NULL;
  *dropped = NULL;
  tx.req = req;
  tx.history = cJSON_IsArray(history) ? history : NULL;
  tx.turn = cJSON_CreateArray();
  tx.err = err;
  rc = check_top_level(req, err);
  if(!rc) {
    drop_unknown(req, &tx.dropped);
    rc = convert_input(&tx);
  }
  if(rc)
    goto fail;
  c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "model", get_str(req, "model"));
  msgs = cJSON_AddArrayToObject(c, "messages");
  instr = get_str(req, "instructions");
  if(instr && *instr) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "role", "system");
    cJSON_AddStringToObject(s, "content", instr);
    cJSON_AddItemToArray(msgs, s);
  }
  cJSON_ArrayForEach(m, tx.history)
  {
    cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
  }
  cJSON_ArrayForEach(m, tx.turn)
  {
    cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
  }
  rc = add_tools(req, c, &tx.dropped, err);
  if(!rc)
    rc = add_format(req, c, err);
  if(rc)
    goto fail;
  add_sampling(req, c);
  /* The checks above mirror the chat rules; this catches any gap before a
   * provider sees the body. */
  rc = oai_chat_validate(c, err);
  if(rc)
    goto fail;
  buf_free(&tx.reasoning);
  cJSON_Delete(tx.details);
  *chat = c;
  *turn = tx.turn;
  *dropped = tx.dropped;
  return 0;
fail:
  cJSON_Delete(c);
  cJSON_Delete(tx.turn);
  cJSON_Delete(tx.user_parts);
  buf_free(&tx.reasoning);
  cJSON_Delete(tx.details);
  free(tx.dropped);
  return rc;
}

int oai_resp_items_to_chat(const cJSON *items, cJSON **messages,
                           struct api_error *err)
{
  struct tx tx = {0};
  cJSON *req, *m;
  int rc = 0;

  *messages = NULL;
  if(!cJSON_IsArray(items))
    return oai_err_type(err, "items", "an array of items", items);
  buf_init(&tx.reasoning, SIZE_MAX);
  tx.turn = cJSON_CreateArray();
  tx.err = err;
  if(cJSON_GetArraySize(items)) {
    /* The input of a request that holds only items: the same reading as
     * a client's turn, so stored and sent items mean the same. */
    req = cJSON_CreateObject();
    cJSON_AddItemToObject(req, "input",
                          cJSON_CreateArrayReference(items->child));
    tx.req = req;
    rc = convert_input(&tx);
    cJSON_Delete(req);
  }
  buf_free(&tx.reasoning);
  cJSON_Delete(tx.details);
  cJSON_Delete(tx.user_parts);
  free(tx.dropped);
  if(rc) {
    cJSON_Delete(tx.turn);
    return rc;
  }
  cJSON_ArrayForEach(m, tx.turn)
  {
    /* Stored items always hold parts; a message of one text part was a
     * string when the client sent it (the usual case), and is one again
     * for the provider. */
    cJSON *c = mget(m, "content");
    const char *role = get_str(m, "role");

    if(strcmp(role, "assistant") && strcmp(role, "tool") &&
       cJSON_GetArraySize(c) == 1 && get_str(c->child, "text") &&
       !strcmp(get_str(c->child, "type"), "text"))
      cJSON_ReplaceItemInObjectCaseSensitive(
          m, "content", cJSON_CreateString(get_str(c->child, "text")));
  }
  *messages = tx.turn;
  return 0;
}

/* ---- the response object ----------------------------------------------- */

/* req's key, copied, or dflt (taken) when absent or null. */
static void echo(cJSON *o, const cJSON *req, const char *key, cJSON *dflt)
{
  const cJSON *v = get(req, key);

  if(given(v)) {
    cJSON_Delete(dflt);
    cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, 1));
  } else {
    cJSON_AddItemToObject(o, key, dflt);
  }
}

/* The function and custom tools of req: what the model was given. */
static cJSON *echo_tools(const cJSON *req)
{
  cJSON *arr = cJSON_CreateArray();
  const cJSON *t;

  cJSON_ArrayForEach(t, get(req, "tools"))
  {
    const char *type = get_str(t, "type");
    if(type && (!strcmp(type, "function") || !strcmp(type, "custom")))
      cJSON_AddItemToArray(arr, cJSON_Duplicate(t, 1));
  }
  return arr;
}

/* The response object with every echoed request field, output [] and
 * usage null. */
static cJSON *skeleton(const cJSON *req, const char *id, int64_t created_at,
                       const char *model, const char *status)
{
  const cJSON *rs = get(req, "reasoning");
  const cJSON *text = get(req, "text");
  cJSON *o = cJSON_CreateObject();
  cJSON *r, *t;

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "object", "response");
  cJSON_AddNumberToObject(o, "created_at", (double)created_at);
  cJSON_AddStringToObject(o, "status", status);
  cJSON_AddBoolToObject(o, "background", 0);
  cJSON_AddNullToObject(o, "error");
  cJSON_AddNullToObject(o, "incomplete_details");
  echo(o, req, "instructions", cJSON_CreateNull());
  echo(o, req, "max_output_tokens", cJSON_CreateNull());
  echo(o, req, "max_tool_calls", cJSON_CreateNull());
  cJSON_AddStringToObject(o, "model", model);
  cJSON_AddArrayToObject(o, "output");
  echo(o, req, "parallel_tool_calls", cJSON_CreateTrue());
  echo(o, req, "previous_response_id", cJSON_CreateNull());
  {
    /* The conversation as OpenAI returns it: {"id": ...}, whichever form
     * the request used; absent without one. */
    const cJSON *conv = get(req, "conversation");
    const char *cid = cJSON_IsObject(conv)   ? get_str(conv, "id")
                      : cJSON_IsString(conv) ? conv->valuestring
                                             : NULL;
    if(cid)
      cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "conversation"), "id",
                              cid);
  }
  echo(o, req, "prompt_cache_key", cJSON_CreateNull());
  r = cJSON_AddObjectToObject(o, "reasoning");
  echo(r, rs, "effort", cJSON_CreateNull());
  echo(r, rs, "summary", cJSON_CreateNull());
  echo(o, req, "safety_identifier", cJSON_CreateNull());
  echo(o, req, "service_tier", cJSON_CreateString("default"));
  echo(o, req, "store", cJSON_CreateTrue());
  echo(o, req, "temperature", cJSON_CreateNumber(1.0));
  t = cJSON_AddObjectToObject(o, "text");
  if(given(get(text, "format"))) {
    echo(t, text, "format", NULL);
  } else {
    cJSON *f = cJSON_AddObjectToObject(t, "format");
    cJSON_AddStringToObject(f, "type", "text");
  }
  echo(t, text, "verbosity", cJSON_CreateString("medium"));
  echo(o, req, "tool_choice", cJSON_CreateString("auto"));
  cJSON_AddItemToObject(o, "tools", echo_tools(req));
  echo(o, req, "top_logprobs", cJSON_CreateNumber(0));
  echo(o, req, "top_p", cJSON_CreateNumber(1.0));
  echo(o, req, "truncation", cJSON_CreateString("disabled"));
  cJSON_AddNullToObject(o, "usage");
  echo(o, req, "user", cJSON_CreateNull());
  echo(o, req, "metadata", cJSON_CreateObject());
  return o;
}

static void set(cJSON *o, const char *key, cJSON *v)
{
  cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
}

/* Status and incomplete_details from a finish_reason. */
static void set_outcome(cJSON *resp, const char *finish)
{
  const char *reason = NULL;

  if(finish && !strcmp(finish, "length"))
    reason = "max_output_tokens";
  else if(finish && !strcmp(finish, "content_filter"))
    reason = "content_filter";
  if(!reason) {
    set(resp, "status", cJSON_CreateString("completed"));
    return;
  }
  set(resp, "status", cJSON_CreateString("incomplete"));
  {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "reason", reason);
    set(resp, "incomplete_details", d);
  }
}

static cJSON *usage_json(int64_t in, int64_t cached, int64_t out,
                         int64_t reasoning, int64_t total)
{
  cJSON *u = cJSON_CreateObject();

  cJSON_AddNumberToObject(u, "input_tokens", (double)in);
  cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "input_tokens_details"),
                          "cached_tokens", (double)cached);
  cJSON_AddNumberToObject(u, "output_tokens", (double)out);
  cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "output_tokens_details"),
                          "reasoning_tokens", (double)reasoning);
  cJSON_AddNumberToObject(u, "total_tokens", (double)total);
  return u;
}

static int64_t num_or0(const cJSON *v)
{
  return canon_json_count(v, 0);
}

static cJSON *usage_from_chat(const cJSON *u)
{
  int64_t p = num_or0(get(u, "prompt_tokens"));
  int64_t c = num_or0(get(u, "completion_tokens"));
  const cJSON *total = get(u, "total_tokens");

  return usage_json(
      p, num_or0(get(get(u, "prompt_tokens_details"), "cached_tokens")), c,
      num_or0(get(get(u, "completion_tokens_details"), "reasoning_tokens")),
      cJSON_IsNumber(total) ? num_or0(total) : p + c);
}

static int64_t pos(int64_t v)
{
  return v > 0 ? v : 0;
}

static cJSON *usage_from_canon(const struct canon_usage *u)
{
  return usage_json(pos(u->prompt_tokens), pos(u->cached_tokens),
                    pos(u->completion_tokens), pos(u->reasoning_tokens),
                    pos(u->prompt_tokens) + pos(u->completion_tokens));
}

/* ---- output items ------------------------------------------------------ */

static cJSON *text_part(const char *text, const cJSON *logprobs)
{
  cJSON *p = cJSON_CreateObject();

  cJSON_AddStringToObject(p, "type", "output_text");
  cJSON_AddArrayToObject(p, "annotations");
  if(logprobs)
    cJSON_AddItemToObject(p, "logprobs", cJSON_Duplicate(logprobs, 1));
  else
    cJSON_AddArrayToObject(p, "logprobs");
  cJSON_AddStringToObject(p, "text", text);
  return p;
}

static cJSON *summary_part(const char *text)
{
  cJSON *p = cJSON_CreateObject();

  cJSON_AddStringToObject(p, "type", "summary_text");
  cJSON_AddStringToObject(p, "text", text);
  return p;
}

/* A message item; content is filled by the caller. */
static cJSON *message_item_json(const char *id, const char *status)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "type", "message");
  cJSON_AddStringToObject(o, "status", status);
  cJSON_AddStringToObject(o, "role", "assistant");
  cJSON_AddArrayToObject(o, "content");
  return o;
}

/* A reasoning item; text NULL gives an empty summary. */
static cJSON *reasoning_item_json(const char *id, const char *text)
{
  cJSON *o = cJSON_CreateObject();
  cJSON *s;

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "type", "reasoning");
  s = cJSON_AddArrayToObject(o, "summary");
  if(text)
    cJSON_AddItemToArray(s, summary_part(text));
  return o;
}

/* The reasoning item of a reasoning_details entry d (canon.h): the text
 * as its summary (a redacted block has none), the signature or the
 * redacted data as encrypted_content, and d's format in our "format"
 * member (OpenAI clients ignore it and send the item back as it is).
 * NULL for an entry of another shape. */
static cJSON *detail_item_json(const char *id, const cJSON *d)
{
  const char *type = get_str(d, "type");
  const char *fmt = get_str(d, "format");
  const char *enc;
  cJSON *o;

  if(!type || !fmt)
    return NULL;
  if(!strcmp(type, "reasoning.text") && get_str(d, "text")) {
    o = reasoning_item_json(id, get_str(d, "text"));
    enc = get_str(d, "signature");
  } else if(!strcmp(type, "reasoning.encrypted") && get_str(d, "data")) {
    o = reasoning_item_json(id, NULL);
    enc = get_str(d, "data");
  } else {
    return NULL;
  }
  if(enc)
    cJSON_AddStringToObject(o, "encrypted_content", enc);
  cJSON_AddStringToObject(o, "format", fmt);
  return o;
}

/* The reasoning items of an assistant chat message m: one per
 * reasoning_details entry when it has any, else one for its
 * reasoning_content. */
static void reasoning_items(const cJSON *m, cJSON *items)
{
  const char *reasoning = get_str(m, "reasoning_content");
  const cJSON *d;
  char id[ID_LEN];
  int n = 0;

  cJSON_ArrayForEach(d, get(m, "reasoning_details"))
  {
    cJSON *it;
    sb_random_id(id, sizeof(id), "rs_");
    it = detail_item_json(id, d);
    if(it) {
      cJSON_AddItemToArray(items, it);
      n++;
    }
  }
  if(!n && reasoning && *reasoning) {
    sb_random_id(id, sizeof(id), "rs_");
    cJSON_AddItemToArray(items, reasoning_item_json(id, reasoning));
  }
}

static cJSON *function_item_json(const char *id, const char *call_id,
                                 const char *name, const char *args,
                                 const char *status)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "type", "function_call");
  cJSON_AddStringToObject(o, "status", status);
  cJSON_AddStringToObject(o, "arguments", args);
  cJSON_AddStringToObject(o, "call_id", call_id);
  cJSON_AddStringToObject(o, "name", name);
  return o;
}

static cJSON *custom_item_json(const char *id, const char *call_id,
                               const char *name, const char *input)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "type", "custom_tool_call");
  cJSON_AddStringToObject(o, "call_id", call_id);
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "input", input);
  return o;
}

/* The input of a custom tool call from the arguments of its function
 * stand-in: the "input" string, or the raw arguments when the model did
 * not write that object. */
static char *custom_input(const char *args)
{
  cJSON *o = cJSON_Parse(args);
  const char *in = get_str(o, "input");
  char *s = sb_strdup(in ? in : args);

  cJSON_Delete(o);
  return s;
}

/* The tool call tc of a chat message as an output item. */
static cJSON *call_item_json(const cJSON *req, const cJSON *tc)
{
  const cJSON *fn = get(tc, "function");
  const cJSON *cu = get(tc, "custom");
  const char *call_id = get_str(tc, "id");
  char id[ID_LEN];
  cJSON *item;

  if(!call_id)
    call_id = "";
  if(cJSON_IsObject(cu)) {
    const char *in = get_str(cu, "input");
    sb_random_id(id, sizeof(id), "ctc_");
    return custom_item_json(id, call_id,
                            get_str(cu, "name") ? get_str(cu, "name") : "",
                            in ? in : "");
  }
  {
    const char *name = get_str(fn, "name");
    const char *args = get_str(fn, "arguments");

    if(!name)
      name = "";
    if(!args)
      args = "";
    if(is_custom_tool(req, name)) {
      char *in = custom_input(args);
      sb_random_id(id, sizeof(id), "ctc_");
      item = custom_item_json(id, call_id, name, in);
      free(in);
      return item;
    }
    sb_random_id(id, sizeof(id), "fc_");
    return function_item_json(id, call_id, name, args, "completed");
  }
}

/* A chat message's content as text: the string, or its text parts. */
static void content_text(const cJSON *c, struct buf *out)
{
  const cJSON *part;

  if(cJSON_IsString(c)) {
    buf_appendz(out, c->valuestring);
    return;
  }
  cJSON_ArrayForEach(part, c)
  {
    const char *t = get_str(part, "text");
    if(t)
      buf_appendz(out, t);
  }
}

cJSON *oai_resp_from_completion(const cJSON *req, const cJSON *completion,
                                const char *id, int64_t created_at,
                                const char *model)
{
  const cJSON *choice = cJSON_GetArrayItem(get(completion, "choices"), 0);
  const cJSON *msg = get(choice, "message");
  const cJSON *lp = get(get(choice, "logprobs"), "content");
  const char *refusal = get_str(msg, "refusal");
  const cJSON *tc;
  cJSON *resp = skeleton(req, id, created_at, model, "completed");
  cJSON *output = mget(resp, "output");
  struct buf text = TEXT_INIT;
  char iid[ID_LEN];

  reasoning_items(msg, output);
  content_text(get(msg, "content"), &text);
  if(text.len || (refusal && *refusal)) {
    cJSON *m;
    sb_random_id(iid, sizeof(iid), "msg_");
    m = message_item_json(iid, "completed");
    if(text.len)
      cJSON_AddItemToArray(mget(m, "content"),
                           text_part(text.data, cJSON_IsArray(lp) ? lp : NULL));
    if(refusal && *refusal) {
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "type", "refusal");
      cJSON_AddStringToObject(r, "refusal", refusal);
      cJSON_AddItemToArray(mget(m, "content"), r);
    }
    cJSON_AddItemToArray(output, m);
  }
  buf_free(&text);
  cJSON_ArrayForEach(tc, get(msg, "tool_calls"))
  {
    cJSON_AddItemToArray(output, call_item_json(req, tc));
  }
  set_outcome(resp, get_str(choice, "finish_reason"));
  if(cJSON_IsObject(get(completion, "usage")))
    set(resp, "usage", usage_from_chat(get(completion, "usage")));
  return resp;
}

/* The content of a chat message (string or parts) as Responses content
 * parts of kind text_kind ("input_text" or "output_text"); images and
 * files become input_image and input_file; parts without a Responses
 * equivalent (input_audio) are left out. */
static cJSON *parts_from_chat(const cJSON *c, const char *text_kind)
{
  int out = !strcmp(text_kind, "output_text");
  cJSON *arr = cJSON_CreateArray();
  const cJSON *part;

  if(cJSON_IsString(c)) {
    cJSON *p = out ? text_part(c->valuestring, NULL) : cJSON_CreateObject();
    if(!out) {
      cJSON_AddStringToObject(p, "type", "input_text");
      cJSON_AddStringToObject(p, "text", c->valuestring);
    }
    cJSON_AddItemToArray(arr, p);
    return arr;
  }
  cJSON_ArrayForEach(part, c)
  {
    const char *type = get_str(part, "type");
    cJSON *p;

    if(!type)
      continue;
    if(!strcmp(type, "text") && get_str(part, "text")) {
      if(out) {
        p = text_part(get_str(part, "text"), NULL);
      } else {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", "input_text");
        cJSON_AddStringToObject(p, "text", get_str(part, "text"));
      }
    } else if(!strcmp(type, "refusal") && get_str(part, "refusal")) {
      p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "type", "refusal");
      cJSON_AddStringToObject(p, "refusal", get_str(part, "refusal"));
    } else if(!strcmp(type, "image_url") &&
              get_str(get(part, "image_url"), "url")) {
      const cJSON *iu = get(part, "image_url");
      p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "type", "input_image");
      cJSON_AddStringToObject(p, "image_url", get_str(iu, "url"));
      cJSON_AddStringToObject(
          p, "detail", get_str(iu, "detail") ? get_str(iu, "detail") : "auto");
    } else if(!strcmp(type, "file") &&
              get_str(get(part, "file"), "file_data")) {
      const cJSON *f = get(part, "file");
      p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "type", "input_file");
      if(get_str(f, "filename"))
        cJSON_AddStringToObject(p, "filename", get_str(f, "filename"));
      cJSON_AddStringToObject(p, "file_data", get_str(f, "file_data"));
    } else {
      continue;
    }
    cJSON_AddItemToArray(arr, p);
  }
  return arr;
}

/* A tool message's content as a function_call_output's output: the
 * string, or its text parts as input_text. */
static cJSON *tool_output_from_chat(const cJSON *c)
{
  if(cJSON_IsString(c))
    return cJSON_CreateString(c->valuestring);
  return parts_from_chat(c, "input_text");
}

/* The items of one assistant chat message: reasoning, message, calls. */
static void assistant_items(const cJSON *m, cJSON *items)
{
  const char *refusal = get_str(m, "refusal");
  const cJSON *c = get(m, "content");
  const cJSON *tc;
  char id[ID_LEN];

  reasoning_items(m, items);
  if((cJSON_IsString(c) && (c->valuestring[0] || !get(m, "tool_calls"))) ||
     (cJSON_IsArray(c) && cJSON_GetArraySize(c)) || (refusal && *refusal)) {
    cJSON *msg, *parts;
    sb_random_id(id, sizeof(id), "msg_");
    msg = message_item_json(id, "completed");
    parts = given(c) ? parts_from_chat(c, "output_text") : cJSON_CreateArray();
    if(refusal && *refusal) {
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "type", "refusal");
      cJSON_AddStringToObject(r, "refusal", refusal);
      cJSON_AddItemToArray(parts, r);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(msg, "content", parts);
    cJSON_AddItemToArray(items, msg);
  }
  cJSON_ArrayForEach(tc, get(m, "tool_calls"))
  {
    cJSON_AddItemToArray(items, call_item_json(NULL, tc));
  }
}

cJSON *oai_resp_items_from_chat(const cJSON *messages)
{
  cJSON *items = cJSON_CreateArray();
  const cJSON *m;
  char id[ID_LEN];

  cJSON_ArrayForEach(m, messages)
  {
    const char *role = get_str(m, "role");
    cJSON *it;

    if(!role)
      continue;
    if(!strcmp(role, "assistant")) {
      assistant_items(m, items);
      continue;
    }
    if(!strcmp(role, "tool")) {
      sb_random_id(id, sizeof(id), "fco_");
      it = cJSON_CreateObject();
      cJSON_AddStringToObject(it, "id", id);
      cJSON_AddStringToObject(it, "type", "function_call_output");
      cJSON_AddStringToObject(
          it, "call_id",
          get_str(m, "tool_call_id") ? get_str(m, "tool_call_id") : "");
      cJSON_AddItemToObject(it, "output",
                            tool_output_from_chat(get(m, "content")));
      cJSON_AddStringToObject(it, "status", "completed");
      cJSON_AddItemToArray(items, it);
      continue;
    }
    if(strcmp(role, "user") && strcmp(role, "system") &&
       strcmp(role, "developer"))
      continue; /* "function": the deprecated form, not kept */
    sb_random_id(id, sizeof(id), "msg_");
    it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "id", id);
    cJSON_AddStringToObject(it, "type", "message");
    cJSON_AddStringToObject(it, "status", "completed");
    cJSON_AddStringToObject(it, "role", role);
    cJSON_AddItemToObject(it, "content",
                          parts_from_chat(get(m, "content"), "input_text"));
    cJSON_AddItemToArray(items, it);
  }
  return items;
}

void oai_resp_output_to_messages(const cJSON *response, cJSON *messages)
{
  struct buf text = TEXT_INIT, reasoning = TEXT_INIT, refusal = TEXT_INIT;
  const cJSON *item;
  cJSON *calls = cJSON_CreateArray(), *details = cJSON_CreateArray();
  int has_text = 0;
  cJSON *m;

  cJSON_ArrayForEach(item, get(response, "output"))
  {
    const char *type = get_str(item, "type");
    const cJSON *part;

    if(!type)
      continue;
    if(!strcmp(type, "reasoning")) {
      struct buf one = TEXT_INIT;
      cJSON *d;
      cJSON_ArrayForEach(part, get(item, "summary"))
      {
        const char *t = get_str(part, "text");
        if(t && *t)
          str_join(&one, "\n\n", t);
      }
      if(one.len)
        str_join(&reasoning, "\n\n", one.data);
      d = detail_of_item(item, one.data ? one.data : "");
      if(d)
        cJSON_AddItemToArray(details, d);
      buf_free(&one);
    } else if(!strcmp(type, "message")) {
      cJSON_ArrayForEach(part, get(item, "content"))
      {
        const char *pt = get_str(part, "type");
        if(pt && !strcmp(pt, "refusal") && get_str(part, "refusal"))
          buf_appendz(&refusal, get_str(part, "refusal"));
        else if(get_str(part, "text")) {
          buf_appendz(&text, get_str(part, "text"));
          has_text = 1;
        }
      }
    } else if(!strcmp(type, "function_call") ||
              !strcmp(type, "custom_tool_call")) {
      int custom = !strcmp(type, "custom_tool_call");
      const char *call_id = get_str(item, "call_id");
      const char *name = get_str(item, "name");
      const char *a = get_str(item, custom ? "input" : "arguments");
      char *args =
          custom ? custom_arguments(a ? a : "") : sb_strdup(a ? a : "");
      cJSON *tc = cJSON_CreateObject();
      cJSON *fn;

      cJSON_AddStringToObject(tc, "id", call_id ? call_id : "");
      cJSON_AddStringToObject(tc, "type", "function");
      fn = cJSON_AddObjectToObject(tc, "function");
      cJSON_AddStringToObject(fn, "name", name ? name : "");
      cJSON_AddStringToObject(fn, "arguments", args);
      free(args);
      cJSON_AddItemToArray(calls, tc);
    }
  }
  if(has_text || refusal.len || reasoning.len || cJSON_GetArraySize(calls) ||
     cJSON_GetArraySize(details)) {
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "assistant");
    if(has_text)
      cJSON_AddStringToObject(m, "content", str_get(&text));
    else
      cJSON_AddNullToObject(m, "content");
    if(refusal.len)
      cJSON_AddStringToObject(m, "refusal", refusal.data);
    if(reasoning.len)
      cJSON_AddStringToObject(m, "reasoning_content", reasoning.data);
    if(cJSON_GetArraySize(details)) {
      cJSON_AddItemToObject(m, "reasoning_details", details);
      details = NULL;
    }
    if(cJSON_GetArraySize(calls)) {
      cJSON_AddItemToObject(m, "tool_calls", calls);
      calls = NULL;
    }
    cJSON_AddItemToArray(messages, m);
  }
  cJSON_Delete(calls);
  cJSON_Delete(details);
  buf_free(&text);
  buf_free(&reasoning);
  buf_free(&refusal);
}

/* ---- the stream renderer ----------------------------------------------- */

enum item_kind { I_REASONING, I_MESSAGE, I_FUNCTION, I_CUSTOM };

struct item {
  enum item_kind kind;
  int open;
  int index; /* canonical tool call index */
  char id[ID_LEN];
  char *call_id;
  char *name;
  char *enc;       /* I_REASONING: signature, or redacted data */
  char *format;    /* I_REASONING: whose enc it is, or NULL */
  int redacted;    /* I_REASONING: enc is a redacted block (no text) */
  struct buf text; /* summary, text, or arguments so far */
};

struct oai_resp_stream {
  cJSON *skel;   /* the response object without output: in_progress */
  cJSON *custom; /* names of req's custom tools */
  cJSON *resp;   /* last rendered, or NULL */
  struct item *items;
  size_t n, cap;
  int64_t seq; /* sequence_number of the next event */
  int started; /* response.created sent */
  int done;    /* the last event (completed/incomplete/failed) sent */
  char finish[32];
  struct canon_usage usage;
  int have_usage;
};

struct oai_resp_stream *oai_resp_stream_new(const cJSON *req, const char *id,
                                            int64_t created_at,
                                            const char *model)
{
  struct oai_resp_stream *s = sb_calloc(1, sizeof(*s));
  const cJSON *t;

  s->skel = skeleton(req, id, created_at, model, "in_progress");
  s->custom = cJSON_CreateArray();
  cJSON_ArrayForEach(t, get(req, "tools"))
  {
    const char *type = get_str(t, "type");
    const char *name = get_str(t, "name");
    if(type && name && !strcmp(type, "custom"))
      cJSON_AddItemToArray(s->custom, cJSON_CreateString(name));
  }
  canon_usage_init(&s->usage);
  return s;
}

void oai_resp_stream_free(struct oai_resp_stream *s)
{
  if(!s)
    return;
  for(size_t i = 0; i < s->n; i++) {
    free(s->items[i].call_id);
    free(s->items[i].name);
    free(s->items[i].enc);
    free(s->items[i].format);
    buf_free(&s->items[i].text);
  }
  free(s->items);
  cJSON_Delete(s->skel);
  cJSON_Delete(s->custom);
  cJSON_Delete(s->resp);
  free(s);
}

const cJSON *oai_resp_stream_response(const struct oai_resp_stream *s)
{
  return s->resp;
}

static int stream_is_custom(const struct oai_resp_stream *s, const char *name)
{
  const cJSON *n;

  cJSON_ArrayForEach(n, s->custom)
  {
    if(!strcmp(n->valuestring, name))
      return 1;
  }
  return 0;
}

/* A new event object: type and sequence_number first. */
static cJSON *ev_new(const struct oai_resp_stream *s, const char *type)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "type", type);
  cJSON_AddNumberToObject(o, "sequence_number", (double)s->seq);
  return o;
}

/* Write o (taken) as an SSE event; the sequence advances only when it was
 * written. */
static int ev_send(struct oai_resp_stream *s, cJSON *o, struct buf *out)
{
  char *json = cJSON_PrintUnformatted(o);
  int rc;

  if(!json)
    abort();
  rc = sse_write_event(out, get_str(o, "type"), json, strlen(json));
  cJSON_Delete(o);
  free(json);
  if(!rc)
    s->seq++;
  return rc;
}

static int output_index(const struct oai_resp_stream *s, const struct item *it)
{
  return (int)(it - s->items);
}

/* An event about item it: item_id and output_index set. */
static cJSON *ev_item(const struct oai_resp_stream *s, const char *type,
                      const struct item *it)
{
  cJSON *o = ev_new(s, type);

  cJSON_AddStringToObject(o, "item_id", it->id);
  cJSON_AddNumberToObject(o, "output_index", output_index(s, it));
  return o;
}

/* Item it as JSON: as announced (added: empty) or with what it has. */
static cJSON *item_json(const struct item *it, int added, const char *status)
{
  const char *text = str_get(&it->text);
  cJSON *o;
  char *in;

  switch(it->kind) {
  case I_REASONING:
    o = reasoning_item_json(it->id, added || it->redacted ? NULL : text);
    if(!added && it->enc && it->format) {
      cJSON_AddStringToObject(o, "encrypted_content", it->enc);
      cJSON_AddStringToObject(o, "format", it->format);
    }
    return o;
  case I_MESSAGE:
    o = message_item_json(it->id, added ? "in_progress" : status);
    if(!added)
      cJSON_AddItemToArray(mget(o, "content"), text_part(text, NULL));
    return o;
  case I_FUNCTION:
    return function_item_json(it->id, it->call_id, it->name, added ? "" : text,
                              added ? "in_progress" : status);
  case I_CUSTOM:
    in = added ? sb_strdup("") : custom_input(text);
    o = custom_item_json(it->id, it->call_id, it->name, in);
    free(in);
    return o;
  }
  return NULL;
}

static int item_event(struct oai_resp_stream *s, const char *type,
                      const struct item *it, int added, struct buf *out)
{
  cJSON *o = ev_new(s, type);

  cJSON_AddNumberToObject(o, "output_index", output_index(s, it));
  cJSON_AddItemToObject(o, "item", item_json(it, added, "completed"));
  return ev_send(s, o, out);
}

static int start(struct oai_resp_stream *s, struct buf *out)
{
  cJSON *o;
  int rc;

  if(s->started)
    return 0;
  s->started = 1;
  s->resp = cJSON_Duplicate(s->skel, 1);
  o = ev_new(s, "response.created");
  cJSON_AddItemToObject(o, "response", cJSON_Duplicate(s->resp, 1));
  rc = ev_send(s, o, out);
  if(rc)
    return rc;
  o = ev_new(s, "response.in_progress");
  cJSON_AddItemToObject(o, "response", cJSON_Duplicate(s->resp, 1));
  return ev_send(s, o, out);
}

static struct item *add_item(struct oai_resp_stream *s, enum item_kind kind)
{
  static const char *const prefix[] = {"rs_", "msg_", "fc_", "ctc_"};
  struct item *it;

  if(s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->items = sb_realloc(s->items, s->cap * sizeof(*s->items));
  }
  it = &s->items[s->n++];
  memset(it, 0, sizeof(*it));
  buf_init(&it->text, SIZE_MAX);
  it->kind = kind;
  it->open = 1;
  it->index = -1;
  sb_random_id(it->id, sizeof(it->id), prefix[kind]);
  return it;
}

/* Open an item and write its opening events. */
static int open_item(struct oai_resp_stream *s, struct item *it,
                     struct buf *out)
{
  cJSON *o, *part;
  int rc = item_event(s, "response.output_item.added", it, 1, out);

  if(rc)
    return rc;
  if(it->kind == I_REASONING && !it->redacted) {
    o = ev_item(s, "response.reasoning_summary_part.added", it);
    cJSON_AddNumberToObject(o, "summary_index", 0);
    cJSON_AddItemToObject(o, "part", summary_part(""));
    return ev_send(s, o, out);
  }
  if(it->kind == I_MESSAGE) {
    o = ev_item(s, "response.content_part.added", it);
    cJSON_AddNumberToObject(o, "content_index", 0);
    part = text_part("", NULL);
    cJSON_AddItemToObject(o, "part", part);
    return ev_send(s, o, out);
  }
  return 0;
}

/* Close an item: its ...done events, then response.output_item.done. */
static int close_item(struct oai_resp_stream *s, struct item *it,
                      struct buf *out)
{
  const char *text = str_get(&it->text);
  cJSON *o;
  char *in;
  int rc = 0;

  it->open = 0;
  switch(it->kind) {
  case I_REASONING:
    if(it->redacted)
      break;
    o = ev_item(s, "response.reasoning_summary_text.done", it);
    cJSON_AddNumberToObject(o, "summary_index", 0);
    cJSON_AddStringToObject(o, "text", text);
    rc = ev_send(s, o, out);
    if(rc)
      return rc;
    o = ev_item(s, "response.reasoning_summary_part.done", it);
    cJSON_AddNumberToObject(o, "summary_index", 0);
    cJSON_AddItemToObject(o, "part", summary_part(text));
    rc = ev_send(s, o, out);
    break;
  case I_MESSAGE:
    o = ev_item(s, "response.output_text.done", it);
    cJSON_AddNumberToObject(o, "content_index", 0);
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddArrayToObject(o, "logprobs");
    rc = ev_send(s, o, out);
    if(rc)
      return rc;
    o = ev_item(s, "response.content_part.done", it);
    cJSON_AddNumberToObject(o, "content_index", 0);
    cJSON_AddItemToObject(o, "part", text_part(text, NULL));
    rc = ev_send(s, o, out);
    break;
  case I_FUNCTION:
    o = ev_item(s, "response.function_call_arguments.done", it);
    cJSON_AddStringToObject(o, "name", it->name);
    cJSON_AddStringToObject(o, "arguments", text);
    rc = ev_send(s, o, out);
    break;
  case I_CUSTOM:
    in = custom_input(text);
    if(*in) {
      o = ev_item(s, "response.custom_tool_call_input.delta", it);
      cJSON_AddStringToObject(o, "delta", in);
      rc = ev_send(s, o, out);
    }
    if(!rc) {
      o = ev_item(s, "response.custom_tool_call_input.done", it);
      cJSON_AddStringToObject(o, "input", in);
      rc = ev_send(s, o, out);
    }
    free(in);
    break;
  }
  if(rc)
    return rc;
  return item_event(s, "response.output_item.done", it, 0, out);
}

/* Close every open item whose kind is not in keep (a bit set of kinds). */
static int close_others(struct oai_resp_stream *s, unsigned keep,
                        struct buf *out)
{
  for(size_t i = 0; i < s->n; i++) {
    struct item *it = &s->items[i];
    int rc;

    if(!it->open || (keep & (1u << it->kind)))
      continue;
    rc = close_item(s, it, out);
    if(rc)
      return rc;
  }
  return 0;
}

/* The open item of kind, or NULL. */
static struct item *open_of(struct oai_resp_stream *s, enum item_kind kind)
{
  for(size_t i = s->n; i-- > 0;)
    if(s->items[i].open && s->items[i].kind == kind)
      return &s->items[i];
  return NULL;
}

/* Text or reasoning: the open item of that kind, opened if needed, grows
 * by the fragment. */
static int render_text(struct oai_resp_stream *s, const struct canon_ev *ev,
                       enum item_kind kind, struct buf *out)
{
  struct item *it;
  cJSON *o;
  int rc;

  if(!ev->len)
    return 0; /* a bare signature, or nothing */
  rc = close_others(s, 1u << kind, out);
  if(rc)
    return rc;
  it = open_of(s, kind);
  if(!it) {
    it = add_item(s, kind);
    rc = open_item(s, it, out);
    if(rc)
      return rc;
  }
  buf_append(&it->text, ev->text, ev->len);
  if(kind == I_REASONING) {
    o = ev_item(s, "response.reasoning_summary_text.delta", it);
    cJSON_AddNumberToObject(o, "summary_index", 0);
  } else {
    o = ev_item(s, "response.output_text.delta", it);
    cJSON_AddNumberToObject(o, "content_index", 0);
  }
  add_strn(o, "delta", ev->text, ev->len);
  if(kind == I_MESSAGE)
    cJSON_AddArrayToObject(o, "logprobs");
  return ev_send(s, o, out);
}

/* Reasoning: its text as render_text() does; a signature then closes the
 * reasoning item (the next reasoning opens another, as each signed block
 * must go back on its own), and a redacted block is an item of its own. */
static int render_reasoning(struct oai_resp_stream *s,
                            const struct canon_ev *ev, struct buf *out)
{
  struct item *it;
  int rc = render_text(s, ev, I_REASONING, out);

  if(rc || (!ev->signature && !ev->data) || !ev->format)
    return rc;
  rc = close_others(s, ev->data ? 0 : 1u << I_REASONING, out);
  if(rc)
    return rc;
  it = ev->data ? NULL : open_of(s, I_REASONING);
  if(!it) {
    /* A redacted block, or a signed block with no text (thinking that
     * was not shown). */
    it = add_item(s, I_REASONING);
    it->redacted = ev->data != NULL;
    rc = open_item(s, it, out);
    if(rc)
      return rc;
  }
  it->enc = sb_strdup(ev->data ? ev->data : ev->signature);
  it->format = sb_strdup(ev->format);
  return close_item(s, it, out);
}

/* The tool item of a canonical index: the open one, else the latest. */
static struct item *tool_of(struct oai_resp_stream *s, int index, int open)
{
  for(size_t i = s->n; i-- > 0;) {
    struct item *it = &s->items[i];
    if((it->kind == I_FUNCTION || it->kind == I_CUSTOM) && it->index == index &&
       (it->open || !open))
      return it;
  }
  return NULL;
}

static int render_tool(struct oai_resp_stream *s, const struct canon_ev *ev,
                       struct buf *out)
{
  const unsigned tools = 1u << I_FUNCTION | 1u << I_CUSTOM;
  struct item *it = tool_of(s, ev->index, ev->type == CANON_EV_TOOL_START);
  cJSON *o;
  int rc;

  rc = close_others(s, tools, out);
  if(rc)
    return rc;
  if(!it) {
    /* A start, or arguments whose start never came. */
    const char *name =
        ev->type == CANON_EV_TOOL_START && ev->name ? ev->name : "";
    char call_id[ID_LEN];

    it = add_item(s, stream_is_custom(s, name) ? I_CUSTOM : I_FUNCTION);
    it->index = ev->index;
    it->name = sb_strdup(name);
    if(ev->type == CANON_EV_TOOL_START && ev->id && *ev->id) {
      it->call_id = sb_strdup(ev->id);
    } else {
      sb_random_id(call_id, sizeof(call_id), "call_");
      it->call_id = sb_strdup(call_id);
    }
    rc = open_item(s, it, out);
    if(rc)
      return rc;
  }
  if(!ev->len)
    return 0;
  buf_append(&it->text, ev->text, ev->len);
  /* Custom input is JSON-escaped inside the arguments: sent on close. A
   * closed item's late arguments still count for the final object. */
  if(it->kind == I_CUSTOM || !it->open)
    return 0;
  o = ev_item(s, "response.function_call_arguments.delta", it);
  add_strn(o, "delta", ev->text, ev->len);
  return ev_send(s, o, out);
}

/* The response object with the items so far. */
static cJSON *current_response(const struct oai_resp_stream *s,
                               const char *item_status)
{
  cJSON *r = cJSON_Duplicate(s->skel, 1);
  cJSON *output = mget(r, "output");

  for(size_t i = 0; i < s->n; i++) {
    const struct item *it = &s->items[i];
    cJSON_AddItemToArray(
        output, item_json(it, 0, it->open ? item_status : "completed"));
  }
  if(s->have_usage)
    set(r, "usage", usage_from_canon(&s->usage));
  return r;
}

static int render_error(struct oai_resp_stream *s, const struct api_error *e,
                        struct buf *out)
{
  cJSON *r = current_response(s, "incomplete");
  cJSON *err = cJSON_CreateObject();
  cJSON *o;
  int rc;

  set(r, "status", cJSON_CreateString("failed"));
  cJSON_AddStringToObject(err, "code",
                          e && e->code[0] ? e->code : "server_error");
  cJSON_AddStringToObject(err, "message",
                          e && e->message[0] ? e->message
                                             : "The upstream stream failed.");
  set(r, "error", err);
  cJSON_Delete(s->resp);
  s->resp = r;
  s->done = 1;
  o = ev_new(s, "response.failed");
  cJSON_AddItemToObject(o, "response", cJSON_Duplicate(r, 1));
  rc = ev_send(s, o, out);
  return rc;
}

int oai_resp_stream_render(struct oai_resp_stream *s, const struct canon_ev *ev,
                           struct buf *out)
{
  int rc;

  if(s->done)
    return 0;
  rc = start(s, out);
  if(rc && ev->type != CANON_EV_ERROR)
    return rc;
  switch(ev->type) {
  case CANON_EV_START: return 0;
  case CANON_EV_TEXT: return render_text(s, ev, I_MESSAGE, out);
  case CANON_EV_REASONING: return render_reasoning(s, ev, out);
  case CANON_EV_TOOL_START:
  case CANON_EV_TOOL_ARGS: return render_tool(s, ev, out);
  case CANON_EV_FINISH:
    snprintf(s->finish, sizeof(s->finish), "%s",
             ev->finish_reason ? ev->finish_reason : "");
    return 0;
  case CANON_EV_USAGE:
    s->usage = ev->usage;
    s->have_usage = 1;
    return 0;
  case CANON_EV_ERROR: return render_error(s, ev->err, out);
  }
  return 0;
}

int oai_resp_stream_end(struct oai_resp_stream *s, struct buf *out)
{
  const char *type;
  cJSON *r, *o;
  int rc;

  if(s->done)
    return 0;
  rc = start(s, out);
  if(!rc)
    rc = close_others(s, 0, out);
  if(rc)
    return rc;
  r = current_response(s, "completed");
  set_outcome(r, s->finish);
  cJSON_Delete(s->resp);
  s->resp = r;
  s->done = 1;
  type = strcmp(get_str(r, "status"), "completed") ? "response.incomplete"
                                                   : "response.completed";
  o = ev_new(s, type);
  cJSON_AddItemToObject(o, "response", cJSON_Duplicate(r, 1));
  return ev_send(s, o, out);
}
