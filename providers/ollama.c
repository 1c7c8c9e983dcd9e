#include "providers/ollama.h"
#include "codec/canon_doc.h"
#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_ERR "invalid_request_error"

/* Parsed provider options (p->priv). */
struct ollama_conf {
  cJSON *keep_alive; /* string or number, or NULL */
  int num_ctx;       /* 0: not set */
  int think_levels;  /* reasoning_effort as "low"/"medium"/"high" */
};

/* ---- configuration ---------------------------------------------------- */

static int conf_fail(char *err, size_t errlen, const char *path,
                     const char *key, const char *what)
{
  snprintf(err, errlen, "%s.%s: %s", path, key, what);
  return SB_ECONFIG;
}

static void ollama_unconfigure(struct prov *p)
{
  struct ollama_conf *c = p->priv;

  if(!c)
    return;
  cJSON_Delete(c->keep_alive);
  free(c);
  p->priv = NULL;
}

static int ollama_configure(struct prov *p, const cJSON *options,
                            const char *path, char *err, size_t errlen)
{
  struct ollama_conf *c = sb_calloc(1, sizeof(*c));
  const cJSON *it;
  int rc = 0;

  p->priv = c;
  if(options && !cJSON_IsObject(options)) {
    snprintf(err, errlen, "%s: expected an object", path);
    rc = SB_ECONFIG;
  }
  for(it = options ? options->child : NULL; !rc && it; it = it->next) {
    if(!strcmp(it->string, "keep_alive")) {
      if(!cJSON_IsString(it) && !cJSON_IsNumber(it))
        rc = conf_fail(err, errlen, path, it->string,
                       "expected a string (e.g. \"5m\") or a number");
      else
        c->keep_alive = cJSON_Duplicate(it, 1);
    } else if(!strcmp(it->string, "num_ctx")) {
      if(!cJSON_IsNumber(it) || it->valuedouble < 1 ||
         it->valuedouble > 16777216 ||
         it->valuedouble != (double)(int)it->valuedouble)
        rc = conf_fail(err, errlen, path, it->string,
                       "expected a positive integer");
      else
        c->num_ctx = (int)it->valuedouble;
    } else if(!strcmp(it->string, "think_levels")) {
      if(!cJSON_IsBool(it))
        rc = conf_fail(err, errlen, path, it->string, "expected a boolean");
      else
        c->think_levels = cJSON_IsTrue(it);
    } else {
      rc = conf_fail(err, errlen, path, it->string,
                     "unknown option (known: keep_alive, num_ctx, "
                     "think_levels)");
    }
  }
  if(rc)
    ollama_unconfigure(p);
  return rc;
}

/* ---- request ---------------------------------------------------------- */

/* The credential, configured headers and forwarded client headers. */
static void add_auth_headers(const struct prov *p,
                             const struct prov_client *client,
                             struct prov_http *out)
{
  static const struct prov_cred cred = {"Authorization", 1, "Authorization"};

  prov_http_add_common(out, p, client, &cred);
}

static int unsupported_value(struct api_error *err, const struct prov *p,
                             const char *param, const char *what)
{
  api_error_set(err, 400, T_ERR, "unsupported_value", param,
                "Provider '%s' (Ollama) does not support %s.", p->name, what);
  return SB_EINVAL;
}

static int unsupported_param(struct api_error *err, const struct prov *p,
                             const char *param)
{
  api_error_set(err, 400, T_ERR, "unsupported_parameter", param,
                "Provider '%s' (Ollama) does not support '%s'.", p->name,
                param);
  return SB_EINVAL;
}

/* Append the text of content (a string or an array of parts) to b; text
 * and refusal parts are joined with "\n". Other parts are skipped. */
static void content_text(const cJSON *content, struct buf *b)
{
  const cJSON *part;
  int first = 1;

  if(cJSON_IsString(content)) {
    buf_appendz(b, content->valuestring);
    return;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *type = canon_json_str(part, "type");
    const char *t = NULL;

    if(type && !strcmp(type, "text"))
      t = canon_json_str(part, "text");
    else if(type && !strcmp(type, "refusal"))
      t = canon_json_str(part, "refusal");
    if(!t)
      continue;
    if(!first)
      buf_appendz(b, "\n");
    buf_appendz(b, t);
    first = 0;
  }
}

/* A data URL's base64 payload into images; anything else is refused. */
static int add_image(const struct prov *p, const cJSON *part, int i, int j,
                     cJSON *images, struct api_error *err)
{
  const char *url = canon_json_str(canon_json_get(part, "image_url"), "url");
  const char *comma;
  char param[96];

  snprintf(param, sizeof(param), "messages[%d].content[%d].image_url.url", i,
           j);
  if(!url)
    url = "";
  if(!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
    return unsupported_value(err, p, param,
                             "image URLs (send the image as a base64 data URL "
                             "instead)");
  comma = strchr(url, ',');
  if(strncmp(url, "data:", 5) || !comma || comma - url < 12 ||
     strncmp(comma - 7, ";base64", 7) || !comma[1]) {
    api_error_set(err, 400, T_ERR, "invalid_value", param,
                  "Invalid image URL: expected a base64 data URL "
                  "(data:image/png;base64,...).");
    return SB_EINVAL;
  }
  cJSON_AddItemToArray(images, cJSON_CreateString(comma + 1));
  return 0;
}

/* Parse one OpenAI arguments string into the object Ollama wants. */
static int parse_arguments(const char *args, const char *param, cJSON **out,
                           struct api_error *err)
{
  const char *s = args ? args : "";
  cJSON *o;

  while(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if(!*s) {
    *out = cJSON_CreateObject();
    return 0;
  }
  o = cJSON_Parse(s);
  if(!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    api_error_set(err, 400, T_ERR, "invalid_value", param,
                  "Invalid value for '%s': tool call arguments must be a "
                  "JSON object for this provider.",
                  param);
    return SB_EINVAL;
  }
  *out = o;
  return 0;
}

/* The name of the function whose call has id, from the nearest earlier
 * assistant message that made it; NULL if none did. */
static const char *tool_name_for(const cJSON *msgs, int before, const char *id)
{
  for(int i = before - 1; id && i >= 0; i--) {
    const cJSON *m = cJSON_GetArrayItem(msgs, i);
    const char *role = canon_json_str(m, "role");
    const cJSON *tc;

    if(!role || strcmp(role, "assistant"))
      continue;
    cJSON_ArrayForEach(tc, canon_json_get(m, "tool_calls"))
    {
      const char *tid = canon_json_str(tc, "id");
      if(tid && !strcmp(tid, id))
        return canon_json_str(canon_json_get(tc, "function"), "name");
    }
  }
  return NULL;
}

static int assistant_tool_calls(const struct prov *p, const cJSON *m, int i,
                                cJSON *om, struct api_error *err)
{
  const cJSON *tcs = canon_json_get(m, "tool_calls");
  const cJSON *fc = canon_json_get(m, "function_call");
  cJSON *arr = NULL;
  char param[96];
  int k = 0;
  const cJSON *tc;

  cJSON_ArrayForEach(tc, tcs)
  {
    const cJSON *fn = canon_json_get(tc, "function");
    const char *type = canon_json_str(tc, "type");
    const char *id = canon_json_str(tc, "id");
    cJSON *o, *f, *args;

    if(type && strcmp(type, "function")) {
      cJSON_Delete(arr);
      snprintf(param, sizeof(param), "messages[%d].tool_calls[%d].type", i, k);
      return unsupported_value(err, p, param, "custom tool calls");
    }
    snprintf(param, sizeof(param),
             "messages[%d].tool_calls[%d].function.arguments", i, k);
    if(parse_arguments(canon_json_str(fn, "arguments"), param, &args, err)) {
      cJSON_Delete(arr);
      return SB_EINVAL;
    }
    if(!arr)
      arr = cJSON_CreateArray();
    o = cJSON_CreateObject();
    if(id)
      cJSON_AddStringToObject(o, "id", id);
    f = cJSON_AddObjectToObject(o, "function");
    cJSON_AddNumberToObject(f, "index", k);
    cJSON_AddStringToObject(f, "name", canon_json_str(fn, "name"));
    cJSON_AddItemToObject(f, "arguments", args);
    cJSON_AddItemToArray(arr, o);
    k++;
  }
  if(!arr && cJSON_IsObject(fc)) {
    cJSON *o, *f, *args;

    snprintf(param, sizeof(param), "messages[%d].function_call.arguments", i);
    if(parse_arguments(canon_json_str(fc, "arguments"), param, &args, err))
      return SB_EINVAL;
    arr = cJSON_CreateArray();
    o = cJSON_CreateObject();
    f = cJSON_AddObjectToObject(o, "function");
    cJSON_AddNumberToObject(f, "index", 0);
    cJSON_AddStringToObject(f, "name", canon_json_str(fc, "name"));
    cJSON_AddItemToObject(f, "arguments", args);
    cJSON_AddItemToArray(arr, o);
  }
  if(arr)
    cJSON_AddItemToObject(om, "tool_calls", arr);
  return 0;
}

static int translate_messages(const struct prov *p, const cJSON *msgs,
                              cJSON *out, struct prov_http *http,
                              struct api_error *err)
{
  const cJSON *m;
  int i = 0, named = 0, rc = 0;
  struct buf b;

  /* The text comes from the request body, already bounded by
   * limits.max_body_bytes: joining its parts cannot grow beyond it. */
  buf_init(&b, (size_t)-1 / 2);
  cJSON_ArrayForEach(m, msgs)
  {
    const char *role = canon_json_str(m, "role");
    const cJSON *content = canon_json_get(m, "content");
    cJSON *om = cJSON_CreateObject();
    cJSON *images = NULL;

    cJSON_AddItemToArray(out, om);
    buf_reset(&b);
    if(!role)
      role = "user";
    if(canon_json_get(m, "name") && strcmp(role, "function") && !named) {
      prov_http_note_dropped(http, "messages[].name");
      named = 1;
    }
    if(!strcmp(role, "system") || !strcmp(role, "developer")) {
      cJSON_AddStringToObject(om, "role", "system");
    } else if(!strcmp(role, "user")) {
      const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
      const cJSON *part;
      int j = 0;

      cJSON_AddStringToObject(om, "role", "user");
      cJSON_ArrayForEach(part, parts)
      {
        const char *type = canon_json_str(part, "type");
        char param[96];

        if(type && !strcmp(type, "image_url")) {
          if(!images)
            images = cJSON_CreateArray();
          rc = add_image(p, part, i, j, images, err);
        } else if(type && strcmp(type, "text")) {
          snprintf(param, sizeof(param), "messages[%d].content[%d].type", i, j);
          rc = unsupported_value(err, p, param, "this content part type");
        }
        if(rc)
          break;
        j++;
      }
    } else if(!strcmp(role, "assistant")) {
      const char *thinking = canon_json_str(m, "reasoning_content");

      cJSON_AddStringToObject(om, "role", "assistant");
      if(thinking && *thinking)
        cJSON_AddStringToObject(om, "thinking", thinking);
      rc = assistant_tool_calls(p, m, i, om, err);
    } else if(!strcmp(role, "tool")) {
      const char *id = canon_json_str(m, "tool_call_id");
      const char *name = tool_name_for(msgs, i, id);

      cJSON_AddStringToObject(om, "role", "tool");
      if(name)
        cJSON_AddStringToObject(om, "tool_name", name);
      if(id)
        cJSON_AddStringToObject(om, "tool_call_id", id);
    } else { /* function (deprecated): a tool result named by name */
      const char *name = canon_json_str(m, "name");

      cJSON_AddStringToObject(om, "role", "tool");
      if(name)
        cJSON_AddStringToObject(om, "tool_name", name);
    }
    if(rc) {
      cJSON_Delete(images);
      break;
    }
    content_text(content, &b);
    cJSON_AddStringToObject(om, "content", b.data ? b.data : "");
    if(images)
      cJSON_AddItemToObject(om, "images", images);
    i++;
  }
  buf_free(&b);
  return rc;
}

static void add_tool(const cJSON *fn, cJSON *tools, struct prov_http *http,
                     int *strict_noted)
{
  cJSON *t = cJSON_CreateObject();
  cJSON *f;
  const cJSON *v;

  cJSON_AddStringToObject(t, "type", "function");
  f = cJSON_AddObjectToObject(t, "function");
  cJSON_AddStringToObject(f, "name", canon_json_str(fn, "name"));
  v = canon_json_get(fn, "description");
  if(cJSON_IsString(v))
    cJSON_AddStringToObject(f, "description", v->valuestring);
  v = canon_json_get(fn, "parameters");
  if(cJSON_IsObject(v))
    cJSON_AddItemToObject(f, "parameters", cJSON_Duplicate(v, 1));
  else
    cJSON_AddItemToObject(
        f, "parameters",
        cJSON_Parse("{\"type\":\"object\",\"properties\":{}}"));
  if(cJSON_IsTrue(canon_json_get(fn, "strict")) && !*strict_noted) {
    prov_http_note_dropped(http, "tools[].function.strict");
    *strict_noted = 1;
  }
  cJSON_AddItemToArray(tools, t);
}

/* tools / functions, honouring tool_choice / function_call. */
static int translate_tools(const struct prov *p, const cJSON *req, cJSON *body,
                           struct prov_http *http, struct api_error *err)
{
  const cJSON *tools = canon_json_get(req, "tools");
  const cJSON *functions = canon_json_get(req, "functions");
  const cJSON *choice = canon_json_get(req, "tool_choice");
  const char *choice_param = "tool_choice";
  const cJSON *t;
  cJSON *out;
  int i = 0, strict_noted = 0;
  char param[64];

  if(!cJSON_IsArray(tools) || !cJSON_GetArraySize(tools))
    tools = NULL;
  if(!cJSON_IsArray(functions) || !cJSON_GetArraySize(functions))
    functions = NULL;
  if(!choice || cJSON_IsNull(choice)) {
    choice = canon_json_get(req, "function_call");
    choice_param = "function_call";
  }
  if(choice && !cJSON_IsNull(choice)) {
    if(cJSON_IsString(choice) && !strcmp(choice->valuestring, "none"))
      return 0;
    if(!cJSON_IsString(choice) || strcmp(choice->valuestring, "auto")) {
      /* The field is named in the text too: the Anthropic error shape,
       * for one, has no param. */
      char what[96];
      snprintf(what, sizeof(what),
               "forcing tool calls (%s: only 'auto' and 'none')", choice_param);
      return unsupported_value(err, p, choice_param, what);
    }
  }
  if(!tools && !functions)
    return 0;
  if(cJSON_IsFalse(canon_json_get(req, "parallel_tool_calls")))
    return unsupported_value(err, p, "parallel_tool_calls",
                             "disabling parallel tool calls");
  out = cJSON_AddArrayToObject(body, "tools");
  cJSON_ArrayForEach(t, tools)
  {
    const char *type = canon_json_str(t, "type");

    snprintf(param, sizeof(param), "tools[%d].type", i);
    if(!type || strcmp(type, "function"))
      return unsupported_value(err, p, param, "custom tools");
    add_tool(canon_json_get(t, "function"), out, http, &strict_noted);
    i++;
  }
  cJSON_ArrayForEach(t, functions) add_tool(t, out, http, &strict_noted);
  return 0;
}

/* Ollama option names a client may send as top-level vendor fields. */
static const struct {
  const char *name;
  int integer;
} VENDOR_OPTIONS[] = {
    {"top_k", 1},          {"min_p", 0},         {"typical_p", 0},
    {"repeat_penalty", 0}, {"repeat_last_n", 1}, {"num_ctx", 1},
    {"num_keep", 1},       {"tfs_z", 0},         {"mirostat", 1},
    {"mirostat_tau", 0},   {"mirostat_eta", 0},  {"penalize_newline", -1},
    {"num_gpu", 1},        {"num_thread", 1},    {"num_batch", 1},
};

static int is_int(const cJSON *v)
{
  return cJSON_IsNumber(v) &&
         v->valuedouble == (double)(long long)v->valuedouble;
}

static int translate_options(const struct prov *p, const cJSON *req,
                             cJSON *body, struct api_error *err)
{
  const struct ollama_conf *c = p->priv;
  static const char *const copied[] = {"temperature", "top_p", "seed",
                                       "presence_penalty", "frequency_penalty"};
  cJSON *opt = cJSON_CreateObject();
  const cJSON *v;

  for(size_t i = 0; i < SB_ARRAY_LEN(copied); i++) {
    v = canon_json_get(req, copied[i]);
    if(cJSON_IsNumber(v))
      cJSON_AddNumberToObject(opt, copied[i], v->valuedouble);
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(VENDOR_OPTIONS); i++) {
    const char *name = VENDOR_OPTIONS[i].name;

    v = canon_json_get(req, name);
    if(!v || cJSON_IsNull(v))
      continue;
    if(VENDOR_OPTIONS[i].integer < 0 ? !cJSON_IsBool(v)
       : VENDOR_OPTIONS[i].integer   ? !is_int(v)
                                     : !cJSON_IsNumber(v)) {
      cJSON_Delete(opt);
      api_error_set(err, 400, T_ERR, "invalid_type", name,
                    "Invalid type for '%s': expected %s.", name,
                    VENDOR_OPTIONS[i].integer < 0 ? "a boolean"
                    : VENDOR_OPTIONS[i].integer   ? "an integer"
                                                  : "a number");
      return SB_EINVAL;
    }
    cJSON_AddItemToObject(opt, name, cJSON_Duplicate(v, 0));
  }
  v = canon_json_get(req, "max_completion_tokens");
  if(!cJSON_IsNumber(v))
    v = canon_json_get(req, "max_tokens");
  if(cJSON_IsNumber(v))
    cJSON_AddNumberToObject(opt, "num_predict", v->valuedouble);
  v = canon_json_get(req, "stop");
  if(cJSON_IsString(v)) {
    cJSON *a = cJSON_AddArrayToObject(opt, "stop");
    cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
  } else if(cJSON_IsArray(v) && cJSON_GetArraySize(v)) {
    cJSON_AddItemToObject(opt, "stop", cJSON_Duplicate(v, 1));
  }
  if(c && c->num_ctx && !canon_json_get(opt, "num_ctx"))
    cJSON_AddNumberToObject(opt, "num_ctx", c->num_ctx);
  if(opt->child)
    cJSON_AddItemToObject(body, "options", opt);
  else
    cJSON_Delete(opt);
  return 0;
}

static int translate_think(const struct prov *p, const cJSON *req, cJSON *body,
                           struct api_error *err)
{
  static const struct {
    const char *effort;
    const char *level;
  } map[] = {
      {"minimal", "low"}, {"low", "low"},    {"medium", "medium"},
      {"high", "high"},   {"xhigh", "high"}, {"max", "high"},
  };
  const struct ollama_conf *c = p->priv;
  const cJSON *v = canon_json_get(req, "reasoning_effort");
  const char *e;

  if(!cJSON_IsString(v)) {
    /* Vendor field: think as Ollama spells it. */
    v = canon_json_get(req, "think");
    if(cJSON_IsBool(v) || cJSON_IsString(v))
      cJSON_AddItemToObject(body, "think", cJSON_Duplicate(v, 0));
    else if(v && !cJSON_IsNull(v)) {
      api_error_set(err, 400, T_ERR, "invalid_type", "think",
                    "Invalid type for 'think': expected a boolean or a "
                    "string.");
      return SB_EINVAL;
    }
    return 0;
  }
  e = v->valuestring;
  if(!strcmp(e, "none")) {
    cJSON_AddFalseToObject(body, "think");
    return 0;
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(map); i++) {
    if(strcmp(e, map[i].effort))
      continue;
    if(c && c->think_levels)
      cJSON_AddStringToObject(body, "think", map[i].level);
    else
      cJSON_AddTrueToObject(body, "think");
    return 0;
  }
  api_error_set(err, 400, T_ERR, "invalid_value", "reasoning_effort",
                "Invalid value: '%.64s'. Supported values are: 'none', "
                "'minimal', 'low', 'medium', 'high', 'xhigh' and 'max'.",
                e);
  return SB_EINVAL;
}

static void translate_format(const cJSON *req, cJSON *body)
{
  const cJSON *rf = canon_json_get(req, "response_format");
  const char *type = canon_json_str(rf, "type");
  const cJSON *schema;

  if(!type || !strcmp(type, "text"))
    return;
  schema = canon_json_get(canon_json_get(rf, "json_schema"), "schema");
  if(!strcmp(type, "json_schema") && cJSON_IsObject(schema))
    cJSON_AddItemToObject(body, "format", cJSON_Duplicate(schema, 1));
  else
    cJSON_AddStringToObject(body, "format", "json");
}

/* Request fields handled above or by the gateway. */
static const char *const KNOWN[] = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "think",
    "keep_alive",
    "n",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "audio",
    "modalities",
};

/* Advisory fields: dropped and reported (docs/adapters.md). */
static const char *const ADVISORY[] = {
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "verbosity",
};

/* Fields that change the answer and that Ollama cannot honour. */
static const char *const REFUSED[] = {"prediction", "web_search_options"};

static int in_list(const char *k, const char *const *list, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!strcmp(k, list[i]))
      return 1;
  return 0;
}

static int check_fields(const struct prov *p, const cJSON *req,
                        struct prov_http *http, struct api_error *err)
{
  const cJSON *it;
  const cJSON *so = canon_json_get(req, "stream_options");

  for(it = req->child; it; it = it->next) {
    const char *k = it->string;

    if(!k || in_list(k, KNOWN, SB_ARRAY_LEN(KNOWN)))
      continue;
    if(in_list(k, REFUSED, SB_ARRAY_LEN(REFUSED))) {
      if(cJSON_IsNull(it))
        continue;
      return unsupported_param(err, p, k);
    }
    if(in_list(k, ADVISORY, SB_ARRAY_LEN(ADVISORY)) && cJSON_IsNull(it))
      continue;
    {
      int vendor = 0;
      for(size_t i = 0; i < SB_ARRAY_LEN(VENDOR_OPTIONS); i++)
        if(!strcmp(k, VENDOR_OPTIONS[i].name))
          vendor = 1;
      if(vendor)
        continue;
    }
    /* Advisory or unknown: Ollama would ignore it; say so. */
    prov_http_note_dropped(http, k);
  }
  if(canon_json_get(so, "include_obfuscation"))
    prov_http_note_dropped(http, "stream_options.include_obfuscation");
  return 0;
}

static int ollama_build_chat(const struct prov *p, const cJSON *req,
                             const char *model,
                             const struct prov_client *client,
                             struct prov_http *out, struct api_error *err)
{
  const struct ollama_conf *c = p->priv;
  cJSON *body = cJSON_CreateObject();
  int stream = cJSON_IsTrue(canon_json_get(req, "stream"));
  const cJSON *ka;
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  cJSON_AddStringToObject(body, "model", model);
  rc = translate_messages(p, canon_json_get(req, "messages"),
                          cJSON_AddArrayToObject(body, "messages"), out, err);
  if(!rc)
    rc = translate_tools(p, req, body, out, err);
  if(!rc)
    rc = translate_options(p, req, body, err);
  if(!rc)
    rc = translate_think(p, req, body, err);
  if(!rc)
    rc = check_fields(p, req, out, err);
  ka = canon_json_get(req, "keep_alive");
  if(!rc && ka && !cJSON_IsNull(ka) && !cJSON_IsString(ka) &&
     !cJSON_IsNumber(ka)) {
    api_error_set(err, 400, T_ERR, "invalid_type", "keep_alive",
                  "Invalid type for 'keep_alive': expected a string or a "
                  "number.");
    rc = SB_EINVAL;
  }
  if(rc) {
    cJSON_Delete(body);
    prov_http_free(out);
    return rc;
  }
  translate_format(req, body);
  cJSON_AddBoolToObject(body, "stream", stream);
  ka = canon_json_get(req, "keep_alive");
  if(!cJSON_IsString(ka) && !cJSON_IsNumber(ka))
    ka = c ? c->keep_alive : NULL;
  if(ka)
    cJSON_AddItemToObject(body, "keep_alive", cJSON_Duplicate(ka, 0));

  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s/api/chat", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: %s",
                       stream ? "application/x-ndjson" : "application/json");
  prov_http_add_header(out, "Expect:");
  add_auth_headers(p, client, out);
  return 0;
}

/* ---- response --------------------------------------------------------- */

static int64_t count(const cJSON *o, const char *k)
{
  return canon_json_count(canon_json_get(o, k), -1);
}

static const char *finish_reason(const cJSON *root, int tool_calls)
{
  const char *r = canon_json_str(root, "done_reason");

  if(tool_calls)
    return "tool_calls";
  if(r && !strcmp(r, "length"))
    return "length";
  return "stop";
}

/* Serialised arguments of an Ollama tool call (an object, normally). */
static char *arguments_text(const cJSON *fn)
{
  const cJSON *a = canon_json_get(fn, "arguments");
  char *s;

  if(cJSON_IsString(a))
    return sb_strdup(a->valuestring);
  if(!a || cJSON_IsNull(a))
    return sb_strdup("{}");
  s = cJSON_PrintUnformatted(a);
  if(!s)
    abort();
  return s;
}

static int bad_response(struct api_error *err, const char *what)
{
  canon_bad_response(err, what);
  return SB_EPROTO;
}

static int ollama_parse_chat(const struct prov *p, const char *body, size_t len,
                             const char *model, const char *id, int64_t created,
                             cJSON **out, struct canon_usage *usage,
                             struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *msg = canon_json_get(root, "message");
  const cJSON *tcs = canon_json_get(msg, "tool_calls");
  const char *content = canon_json_str(msg, "content");
  const char *thinking = canon_json_str(msg, "thinking");
  const cJSON *tc;
  cJSON *res, *arr;

  (void)p;
  canon_usage_init(usage);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bad_response(err, "a response that is not JSON");
  }
  if(cJSON_IsString(canon_json_get(root, "error"))) {
    api_error_set(err, 502, "upstream_error", "upstream_error", NULL, "%s",
                  canon_json_get(root, "error")->valuestring);
    cJSON_Delete(root);
    return SB_EPROTO;
  }
  if(!cJSON_IsObject(msg)) {
    cJSON_Delete(root);
    return bad_response(err, "a response without a message");
  }
  usage->prompt_tokens = count(root, "prompt_eval_count");
  usage->completion_tokens = count(root, "eval_count");

  arr = cJSON_CreateArray();
  if(!cJSON_IsArray(tcs))
    tcs = NULL; /* an object's members are not calls */
  cJSON_ArrayForEach(tc, tcs)
  {
    const cJSON *fn = canon_json_get(tc, "function");
    const char *tid = canon_json_str(tc, "id");
    char *args = arguments_text(fn);
    char gen[32];

    /* Ollama names its calls only sometimes. */
    snprintf(gen, sizeof(gen), "call_%d", cJSON_GetArraySize(arr));
    cJSON_AddItemToArray(arr,
                         canon_tool_call(tid && *tid ? tid : gen,
                                         canon_json_str(fn, "name"), args));
    free(args);
  }
  res = canon_chat_completion(
      id, created, model,
      canon_chat_choice(0, content, thinking, arr,
                        finish_reason(root, cJSON_GetArraySize(arr) > 0)),
      usage);
  cJSON_Delete(root);
  *out = res;
  return 0;
}

/* ---- stream ----------------------------------------------------------- */

struct prov_stream {
  int started;
  int done;
  int ntools;
  int failed;
};

static struct prov_stream *ollama_stream_new(const struct prov *p,
                                             const char *model)
{
  (void)p;
  (void)model;
  return sb_calloc(1, sizeof(struct prov_stream));
}

static void ollama_stream_free(struct prov_stream *s)
{
  free(s);
}

static int ollama_stream_complete(const struct prov_stream *s)
{
  return s->done;
}

static int emit_error(struct prov_stream *s, const struct canon_sink *sink,
                      const struct api_error *e)
{
  struct canon_ev ev = {.type = CANON_EV_ERROR, .err = e};

  s->failed = 1;
  return canon_emit(sink, &ev);
}

static int ollama_stream_feed(struct prov_stream *s,
                              const struct prov_payload *pl,
                              const struct canon_sink *sink)
{
  struct api_error e;
  struct canon_ev ev;
  cJSON *root;
  const cJSON *msg, *tc;
  const char *txt;
  size_t i;
  int rc = 0;

  if(s->done || s->failed)
    return 0;
  for(i = 0; i < pl->len; i++)
    if(pl->data[i] != ' ' && pl->data[i] != '\t' && pl->data[i] != '\r' &&
       pl->data[i] != '\n')
      break;
  if(i == pl->len)
    return 0; /* blank line */
  root = cJSON_ParseWithLength(pl->data, pl->len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    bad_response(&e, "a malformed stream line");
    rc = emit_error(s, sink, &e);
    return rc ? rc : SB_EPROTO;
  }
  if(canon_json_get(root, "error")) {
    const char *m = canon_json_str(root, "error");
    api_error_set(&e, 502, "upstream_error", "upstream_error", NULL, "%s",
                  m ? m : "The upstream provider failed mid-stream.");
    cJSON_Delete(root);
    rc = emit_error(s, sink, &e);
    return rc ? rc : SB_EIO;
  }
  if(!s->started) {
    memset(&ev, 0, sizeof(ev));
    ev.type = CANON_EV_START;
    ev.model = canon_json_str(root, "model");
    s->started = 1;
    rc = canon_emit(sink, &ev);
  }
  msg = canon_json_get(root, "message");
  txt = canon_json_str(msg, "thinking");
  if(!rc && txt && *txt) {
    memset(&ev, 0, sizeof(ev));
    ev.type = CANON_EV_REASONING;
    ev.text = txt;
    ev.len = strlen(txt);
    rc = canon_emit(sink, &ev);
  }
  txt = canon_json_str(msg, "content");
  if(!rc && txt && *txt) {
    memset(&ev, 0, sizeof(ev));
    ev.type = CANON_EV_TEXT;
    ev.text = txt;
    ev.len = strlen(txt);
    rc = canon_emit(sink, &ev);
  }
  for(tc = rc ? NULL
              : (cJSON_IsArray(canon_json_get(msg, "tool_calls"))
                     ? canon_json_get(msg, "tool_calls")->child
                     : NULL);
      tc && !rc; tc = tc->next) {
    const cJSON *fn = canon_json_get(tc, "function");
    const char *tid = canon_json_str(tc, "id");
    char gen[32];
    char *args = arguments_text(fn);

    snprintf(gen, sizeof(gen), "call_%d", s->ntools);
    memset(&ev, 0, sizeof(ev));
    ev.type = CANON_EV_TOOL_START;
    ev.index = s->ntools;
    ev.id = tid && *tid ? tid : gen;
    ev.name = canon_json_str(fn, "name") ? canon_json_str(fn, "name") : "";
    rc = canon_emit(sink, &ev);
    if(!rc) {
      memset(&ev, 0, sizeof(ev));
      ev.type = CANON_EV_TOOL_ARGS;
      ev.index = s->ntools;
      ev.text = args;
      ev.len = strlen(args);
      rc = canon_emit(sink, &ev);
    }
    free(args);
    s->ntools++;
  }
  if(!rc && cJSON_IsTrue(canon_json_get(root, "done"))) {
    s->done = 1;
    memset(&ev, 0, sizeof(ev));
    ev.type = CANON_EV_FINISH;
    ev.finish_reason = finish_reason(root, s->ntools > 0);
    rc = canon_emit(sink, &ev);
    if(!rc) {
      memset(&ev, 0, sizeof(ev));
      ev.type = CANON_EV_USAGE;
      canon_usage_init(&ev.usage);
      ev.usage.prompt_tokens = count(root, "prompt_eval_count");
      ev.usage.completion_tokens = count(root, "eval_count");
      rc = canon_emit(sink, &ev);
    }
  }
  cJSON_Delete(root);
  return rc;
}

/* ---- embeddings (POST /api/embed) ------------------------------------- */

/* Fields of a /v1/embeddings body used here; encoding_format is the
 * gateway's (it encodes base64 itself). truncate and keep_alive are
 * vendor fields spelt as Ollama spells them. */
static const char *const EMBED_KNOWN[] = {
    "model", "input", "encoding_format", "dimensions", "truncate", "keep_alive",
};

static int invalid_type(struct api_error *err, const char *param,
                        const char *want)
{
  api_error_set(err, 400, T_ERR, "invalid_type", param,
                "Invalid type for '%s': expected %s.", param, want);
  return SB_EINVAL;
}

static int ollama_build_embeddings(const struct prov *p, const cJSON *req,
                                   const char *model,
                                   const struct prov_client *client,
                                   struct prov_http *out, struct api_error *err)
{
  const struct ollama_conf *c = p->priv;
  const cJSON *input = canon_json_get(req, "input");
  const cJSON *dims = canon_json_get(req, "dimensions");
  const cJSON *trunc = canon_json_get(req, "truncate");
  const cJSON *ka = canon_json_get(req, "keep_alive");
  const cJSON *it;
  cJSON *body;
  char *json;

  memset(out, 0, sizeof(*out));
  /* Token ids (int[] or an int[] item): /api/embed takes only text. */
  for(it = cJSON_IsArray(input) ? input->child : NULL; it; it = it->next)
    if(!cJSON_IsString(it))
      return unsupported_value(err, p, "input",
                               "token-id inputs (send the text instead)");
  if(trunc && !cJSON_IsNull(trunc) && !cJSON_IsBool(trunc))
    return invalid_type(err, "truncate", "a boolean");
  if(ka && !cJSON_IsNull(ka) && !cJSON_IsString(ka) && !cJSON_IsNumber(ka))
    return invalid_type(err, "keep_alive", "a string or a number");
  for(it = req->child; it; it = it->next)
    if(it->string &&
       !in_list(it->string, EMBED_KNOWN, SB_ARRAY_LEN(EMBED_KNOWN)) &&
       !(cJSON_IsNull(it) &&
         in_list(it->string, ADVISORY, SB_ARRAY_LEN(ADVISORY))))
      prov_http_note_dropped(out, it->string); /* user, or unknown */

  body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "model", model);
  cJSON_AddItemToObject(body, "input", cJSON_Duplicate(input, 1));
  if(cJSON_IsNumber(dims))
    cJSON_AddNumberToObject(body, "dimensions", dims->valuedouble);
  /* Ollama truncates over-long inputs unless told not to; OpenAI refuses
   * them, so the gateway asks for the refusal unless the client opts in. */
  cJSON_AddBoolToObject(body, "truncate", cJSON_IsTrue(trunc));
  if(c && c->num_ctx) {
    /* The same num_ctx as chat: a different one would reload the model. */
    cJSON *opt = cJSON_AddObjectToObject(body, "options");
    cJSON_AddNumberToObject(opt, "num_ctx", c->num_ctx);
  }
  if(!cJSON_IsString(ka) && !cJSON_IsNumber(ka))
    ka = c ? c->keep_alive : NULL;
  if(ka)
    cJSON_AddItemToObject(body, "keep_alive", cJSON_Duplicate(ka, 0));

  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s/api/embed", p->base_url);
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: application/json");
  prov_http_add_header(out, "Expect:");
  add_auth_headers(p, client, out);
  return 0;
}

/* 1 when v is a non-empty array of numbers. */
static int is_vector(const cJSON *v)
{
  const cJSON *x;

  if(!cJSON_IsArray(v) || !v->child)
    return 0;
  cJSON_ArrayForEach(x, v) if(!cJSON_IsNumber(x)) return 0;
  return 1;
}

/* Keep the first dims components of v and scale them to unit length, as
 * Ollama does for dimensions (for an Ollama too old to know the field). */
static void cut_vector(cJSON *v, int dims)
{
  double norm = 0;
  cJSON *x = v->child;

  for(int k = 0; x && k < dims; k++)
    x = x->next;
  while(x) { /* drop the tail, O(1) per item */
    cJSON *next = x->next;
    cJSON_Delete(cJSON_DetachItemViaPointer(v, x));
    x = next;
  }
  cJSON_ArrayForEach(x, v) norm += x->valuedouble * x->valuedouble;
  norm = sqrt(norm);
  if(norm < 1e-12)
    norm = 1e-12;
  cJSON_ArrayForEach(x, v) cJSON_SetNumberValue(x, x->valuedouble / norm);
}

static int ollama_parse_embeddings(const struct prov *p, const char *body,
                                   size_t len, const cJSON *req,
                                   const char *model, cJSON **out,
                                   struct canon_usage *usage,
                                   struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  cJSON *embs = cJSON_GetObjectItemCaseSensitive(root, "embeddings");
  const cJSON *input = canon_json_get(req, "input");
  const cJSON *dims = canon_json_get(req, "dimensions");
  int want = cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
  int d = cJSON_IsNumber(dims) && dims->valuedouble < INT_MAX
              ? (int)dims->valuedouble
              : 0;
  int64_t tokens;
  cJSON *res, *data, *us, *v;
  int i = 0;

  (void)p;
  canon_usage_init(usage);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return bad_response(err, "a response that is not JSON");
  }
  if(cJSON_IsString(canon_json_get(root, "error"))) {
    api_error_set(err, 502, "upstream_error", "upstream_error", NULL, "%s",
                  canon_json_get(root, "error")->valuestring);
    cJSON_Delete(root);
    return SB_EPROTO;
  }
  if(!cJSON_IsArray(embs) || cJSON_GetArraySize(embs) != want) {
    cJSON_Delete(root);
    return bad_response(err, "a response without one embedding per input");
  }
  cJSON_ArrayForEach(v, embs) if(!is_vector(v))
  {
    cJSON_Delete(root);
    return bad_response(err, "an embedding that is not an array of numbers");
  }
  /* prompt_eval_count is left out when 0 (omitempty). */
  tokens = count(root, "prompt_eval_count");
  if(tokens < 0)
    tokens = 0;
  usage->prompt_tokens = tokens;
  usage->completion_tokens = 0;

  res = cJSON_CreateObject();
  cJSON_AddStringToObject(res, "object", "list");
  data = cJSON_AddArrayToObject(res, "data");
  /* The vectors move to the answer rather than being copied. */
  while((v = cJSON_DetachItemFromArray(embs, 0)) != NULL) {
    cJSON *e = cJSON_CreateObject();

    if(d > 0 && cJSON_GetArraySize(v) > d)
      cut_vector(v, d);
    cJSON_AddStringToObject(e, "object", "embedding");
    cJSON_AddNumberToObject(e, "index", i++);
    cJSON_AddItemToObject(e, "embedding", v);
    cJSON_AddItemToArray(data, e);
  }
  cJSON_AddStringToObject(res, "model", model);
  us = cJSON_AddObjectToObject(res, "usage");
  cJSON_AddNumberToObject(us, "prompt_tokens", (double)tokens);
  cJSON_AddNumberToObject(us, "total_tokens", (double)tokens);
  cJSON_Delete(root);
  *out = res;
  return 0;
}

/* ---- errors ----------------------------------------------------------- */

static int contains(const char *hay, const char *needle)
{
  return hay && strstr(hay, needle);
}

static void ollama_map_error(const struct prov *p, int status, const char *body,
                             size_t len, const char *retry_after,
                             const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *e = canon_json_get(root, "error");
  const char *msg = cJSON_IsString(e) ? e->valuestring
                    : cJSON_IsString(canon_json_get(e, "message"))
                        ? canon_json_str(e, "message")
                        : NULL;
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if((status == 401 || status == 403) && own_credential) {
    canon_err_auth_failed(err, p->name, status);
  } else if(status == 401) {
    api_error_set(err, 401, T_ERR, "invalid_api_key", NULL, "%s",
                  msg ? msg : "The upstream provider rejected the API key.");
  } else if(status == 403) {
    api_error_set(err, 403, T_ERR, "permission_denied", NULL, "%s",
                  msg ? msg : "The upstream provider refused the request.");
  } else if(status == 404) {
    api_error_set(err, 404, T_ERR, "model_not_found", "model", "%s",
                  msg ? msg : "The model was not found upstream.");
  } else if(status == 413) {
    api_error_set(err, 413, T_ERR, "request_too_large", NULL, "%s",
                  msg ? msg : "The request is too large for the provider.");
  } else if(status == 429) {
    api_error_set(err, 429, "rate_limit_exceeded", "rate_limit_exceeded", NULL,
                  "%s", msg ? msg : "The upstream provider is rate limiting.");
  } else if(status == 503 || status == 529) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status >= 500 || status < 400) {
    canon_err_failed(err, p->name, status, msg);
  } else {
    const char *code = NULL;

    if(contains(msg, "context length") || contains(msg, "too long") ||
       contains(msg, "exceeds"))
      code = "context_length_exceeded";
    api_error_set(err, status, T_ERR, code, NULL, "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(status == 429 || status == 503 || status == 529)
    canon_retry_after(err, retry_after, retry_after_ms);
  cJSON_Delete(root);
}

/* ---- models ----------------------------------------------------------- */

static void ollama_build_models(const struct prov *p, struct prov_http *out)
{
  memset(out, 0, sizeof(*out));
  out->url = sb_asprintf("%s/api/tags", p->base_url);
  prov_http_add_header(out, "Accept: application/json");
  add_auth_headers(p, NULL, out);
}

/* An /api/tags entry's name ("model" in older servers). */
static const char *tag_name(const cJSON *m)
{
  const char *name = canon_json_str(m, "name");

  return name && *name ? name : canon_json_str(m, "model");
}

static int ollama_parse_models(const char *body, size_t len, char ***models,
                               int *nmodels)
{
  char **v, **out;
  int n, k = 0, rc = canon_models_parse(body, len, "models", tag_name, &v, &n);

  if(rc)
    return rc;
  /* "llama3.2:latest" also answers to "llama3.2", as in Ollama: listed
   * right after it. */
  out = sb_calloc(2 * (size_t)n + 1, sizeof(*out));
  for(int i = 0; i < n; i++) {
    size_t l = strlen(v[i]);
    out[k++] = v[i];
    if(l > 7 && !strcmp(v[i] + l - 7, ":latest"))
      out[k++] = sb_strndup(v[i], l - 7);
  }
  free(v);
  *models = out;
  *nmodels = k;
  return 0;
}

const struct prov_adapter prov_ollama_adapter = {
    .kind = "ollama",
    .caps = OAI_CAP_TOOLS | OAI_CAP_RESPONSE_FORMAT | OAI_CAP_IMAGES,
    .framing = PROV_FRAMING_NDJSON,
    .default_base_url = "http://127.0.0.1:11434",
    .configure = ollama_configure,
    .unconfigure = ollama_unconfigure,
    .build_chat = ollama_build_chat,
    .parse_chat = ollama_parse_chat,
    .stream_new = ollama_stream_new,
    .stream_feed = ollama_stream_feed,
    .stream_complete = ollama_stream_complete,
    .stream_free = ollama_stream_free,
    .map_error = ollama_map_error,
    .build_embeddings = ollama_build_embeddings,
    .parse_embeddings = ollama_parse_embeddings,
    .build_models = ollama_build_models,
    .parse_models = ollama_parse_models,
};
