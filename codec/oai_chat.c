#include "codec/oai_chat.h"
#include "codec/oai_err.h"
#include "base/sb.h"

#include <stdio.h>
#include <string.h>

#define T_ERR "invalid_request_error"

/* ---- small checks ------------------------------------------------------ */

static const cJSON *get(const cJSON *obj, const char *key)
{
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A required object member; *out receives it. */
static int need_object(const cJSON *obj, const char *key, const char *path,
                       const cJSON **out, struct api_error *err)
{
  const cJSON *v = get(obj, key);
  char p[OAI_ERR_PATH_LEN];

  oai_err_join(p, path, key);
  if(!v)
    return oai_err_missing(err, p);
  if(!cJSON_IsObject(v))
    return oai_err_type(err, p, "an object", v);
  *out = v;
  return 0;
}

/* Required string member that must be one of the NULL-terminated list. */
static int need_enum(const cJSON *obj, const char *key, const char *path,
                     const char *const *allowed, const char **out,
                     struct api_error *err)
{
  char p[OAI_ERR_PATH_LEN];
  const char *s;
  int rc = oai_err_need_string(obj, key, path, &s, err);

  if(rc)
    return rc;
  oai_err_join(p, path, key);
  return oai_err_enum(err, p, allowed, s, out);
}

/* ---- top-level scalar fields ------------------------------------------ */

static const struct oai_scalar_rule SCALARS[] = {
    {"stream", OAI_BOOL, 1, 0, 0, 0, 0},
    {"temperature", OAI_NUM, 1, 1, 1, 0, 2},
    {"top_p", OAI_NUM, 1, 1, 1, 0, 1},
    {"n", OAI_INT, 1, 1, 1, 1, 128},
    {"max_tokens", OAI_INT, 1, 1, 0, 1, 0},
    {"max_completion_tokens", OAI_INT, 1, 1, 0, 1, 0},
    {"presence_penalty", OAI_NUM, 1, 1, 1, -2, 2},
    {"frequency_penalty", OAI_NUM, 1, 1, 1, -2, 2},
    {"seed", OAI_INT, 1, 0, 0, 0, 0},
    {"user", OAI_STR, 0, 0, 0, 0, 0},
    {"logprobs", OAI_BOOL, 1, 0, 0, 0, 0},
    {"top_logprobs", OAI_INT, 1, 1, 1, 0, 20},
    {"parallel_tool_calls", OAI_BOOL, 0, 0, 0, 0, 0},
    {"reasoning_effort", OAI_STR, 1, 0, 0, 0, 0},
    {"service_tier", OAI_STR, 1, 0, 0, 0, 0},
    {"audio", OAI_OBJ, 1, 0, 0, 0, 0},
};

/* ---- messages --------------------------------------------------------- */

enum part_type {
  PART_TEXT = 1u << 0,
  PART_IMAGE = 1u << 1,
  PART_AUDIO = 1u << 2,
  PART_FILE = 1u << 3,
  PART_REFUSAL = 1u << 4,
};

static const struct {
  const char *name;
  unsigned bit;
} PART_TYPES[] = {
    {"text", PART_TEXT}, {"image_url", PART_IMAGE}, {"input_audio", PART_AUDIO},
    {"file", PART_FILE}, {"refusal", PART_REFUSAL},
};

struct role_rule {
  const char *name;
  unsigned parts;    /* part types allowed in array content; 0: none */
  int content_null;  /* content may be null */
  const char *shape; /* what content may be, for messages */
};

static const struct role_rule ROLES[] = {
    {"system", PART_TEXT, 0, "a string or an array of content parts"},
    {"developer", PART_TEXT, 0, "a string or an array of content parts"},
    {"user", PART_TEXT | PART_IMAGE | PART_AUDIO | PART_FILE, 0,
     "a string or an array of content parts"},
    {"assistant", PART_TEXT | PART_REFUSAL, 1,
     "a string, an array of content parts or null"},
    {"tool", PART_TEXT, 0, "a string or an array of content parts"},
    {"function", 0, 1, "a string or null"},
};

static int check_part(const cJSON *part, const char *path,
                      const struct role_rule *role, struct api_error *err)
{
  const cJSON *type, *o;
  char p[OAI_ERR_PATH_LEN];
  char list[160] = "";
  unsigned bit = 0;
  size_t i;
  int rc;

  if(!cJSON_IsObject(part))
    return oai_err_type(err, path, "an object", part);
  rc = oai_err_need_string(part, "type", path, NULL, err);
  if(rc)
    return rc;
  type = get(part, "type");
  for(i = 0; i < SB_ARRAY_LEN(PART_TYPES); i++)
    if(!strcmp(type->valuestring, PART_TYPES[i].name))
      bit = PART_TYPES[i].bit;
  oai_err_join(p, path, "type");
  if(bit && !(role->parts & bit))
    return oai_err_value(err, p,
                         "content parts of type '%s' are not allowed in '%s' "
                         "messages.",
                         type->valuestring, role->name);
  if(!bit) {
    for(i = 0; i < SB_ARRAY_LEN(PART_TYPES); i++)
      if(role->parts & PART_TYPES[i].bit)
        oai_err_list_add(list, sizeof(list), PART_TYPES[i].name);
    return oai_err_one_of(err, p, list, type->valuestring);
  }
  switch(bit) {
  case PART_TEXT: return oai_err_need_string(part, "text", path, NULL, err);
  case PART_REFUSAL:
    return oai_err_need_string(part, "refusal", path, NULL, err);
  case PART_IMAGE:
    oai_err_join(p, path, "image_url");
    rc = need_object(part, "image_url", path, &o, err);
    if(!rc)
      rc = oai_err_need_string(o, "url", p, NULL, err);
    if(!rc)
      rc = oai_err_opt_member(o, "detail", p, cJSON_IsString, "a string", 0,
                              err);
    return rc;
  case PART_AUDIO:
    oai_err_join(p, path, "input_audio");
    rc = need_object(part, "input_audio", path, &o, err);
    if(!rc)
      rc = oai_err_need_string(o, "data", p, NULL, err);
    if(!rc)
      rc = oai_err_need_string(o, "format", p, NULL, err);
    return rc;
  case PART_FILE:
    oai_err_join(p, path, "file");
    rc = need_object(part, "file", path, &o, err);
    if(!rc)
      rc = oai_err_opt_member(o, "file_id", p, cJSON_IsString, "a string", 0,
                              err);
    if(!rc)
      rc = oai_err_opt_member(o, "file_data", p, cJSON_IsString, "a string", 0,
                              err);
    if(!rc)
      rc = oai_err_opt_member(o, "filename", p, cJSON_IsString, "a string", 0,
                              err);
    if(!rc && !get(o, "file_id") && !get(o, "file_data")) {
      api_error_set(err, 400, T_ERR, "missing_required_parameter", p,
                    "Missing required parameter: '%s.file_id' or "
                    "'%s.file_data'.",
                    p, p);
      rc = SB_EINVAL;
    }
    return rc;
  }
  return 0;
}

static int check_content(const cJSON *msg, const char *path,
                         const struct role_rule *role, struct api_error *err)
{
  const cJSON *c = get(msg, "content");
  const cJSON *part;
  char p[OAI_ERR_PATH_LEN];
  char pp[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  oai_err_join(p, path, "content");
  if(cJSON_IsString(c) || (role->content_null && cJSON_IsNull(c)))
    return 0;
  if(!cJSON_IsArray(c) || !role->parts)
    return oai_err_type(err, p, role->shape, c);
  if(!cJSON_GetArraySize(c))
    return oai_err_value(err, p,
                         "expected a non-empty array of content parts.");
  cJSON_ArrayForEach(part, c)
  {
    oai_err_join_index(pp, p, i++);
    rc = check_part(part, pp, role, err);
    if(rc)
      return rc;
  }
  return 0;
}

static int check_tool_call(const cJSON *tc, const char *path,
                           struct api_error *err)
{
  static const char *const types[] = {"function", "custom", NULL};
  const char *type;
  const cJSON *o;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  if(!cJSON_IsObject(tc))
    return oai_err_type(err, path, "an object", tc);
  rc = oai_err_need_string(tc, "id", path, NULL, err);
  if(!rc)
    rc = need_enum(tc, "type", path, types, &type, err);
  if(rc)
    return rc;
  if(!strcmp(type, "function")) {
    oai_err_join(p, path, "function");
    rc = need_object(tc, "function", path, &o, err);
    if(!rc)
      rc = oai_err_need_string(o, "name", p, NULL, err);
    if(!rc)
      rc = oai_err_need_string(o, "arguments", p, NULL, err);
  } else {
    oai_err_join(p, path, "custom");
    rc = need_object(tc, "custom", path, &o, err);
    if(!rc)
      rc = oai_err_need_string(o, "name", p, NULL, err);
    if(!rc)
      rc = oai_err_need_string(o, "input", p, NULL, err);
  }
  return rc;
}

static int check_assistant_extras(const cJSON *msg, const char *path,
                                  struct api_error *err)
{
  const cJSON *tcs = get(msg, "tool_calls");
  const cJSON *fc = get(msg, "function_call");
  const cJSON *tc;
  char p[OAI_ERR_PATH_LEN];
  char pp[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  oai_err_join(p, path, "tool_calls");
  if(tcs && !cJSON_IsNull(tcs)) {
    if(!cJSON_IsArray(tcs))
      return oai_err_type(err, p, "an array", tcs);
    cJSON_ArrayForEach(tc, tcs)
    {
      oai_err_join_index(pp, p, i++);
      rc = check_tool_call(tc, pp, err);
      if(rc)
        return rc;
    }
  }
  if(fc && !cJSON_IsNull(fc)) {
    oai_err_join(p, path, "function_call");
    if(!cJSON_IsObject(fc))
      return oai_err_type(err, p, "an object", fc);
    rc = oai_err_need_string(fc, "name", p, NULL, err);
    if(!rc)
      rc = oai_err_need_string(fc, "arguments", p, NULL, err);
    if(rc)
      return rc;
  }
  rc = oai_err_opt_member(msg, "refusal", path, cJSON_IsString, "a string", 1,
                          err);
  if(!rc)
    rc = oai_err_opt_member(msg, "audio", path, cJSON_IsObject, "an object", 1,
                            err);
  if(rc)
    return rc;
  /* content may only be left out when something else carries the turn. */
  if(!get(msg, "content") && cJSON_GetArraySize(tcs) == 0 &&
     (!fc || cJSON_IsNull(fc)) &&
     (!get(msg, "audio") || cJSON_IsNull(get(msg, "audio")))) {
    oai_err_join(p, path, "content");
    return oai_err_missing(err, p);
  }
  return 0;
}

static int check_message(const cJSON *msg, const char *path,
                         struct api_error *err)
{
  const struct role_rule *role = NULL;
  const cJSON *r;
  char p[OAI_ERR_PATH_LEN];
  char q[OAI_ERR_QUOTE_MAX + 4];
  size_t i;
  int rc;

  if(!cJSON_IsObject(msg))
    return oai_err_type(err, path, "an object", msg);
  rc = oai_err_need_string(msg, "role", path, NULL, err);
  if(rc)
    return rc;
  r = get(msg, "role");
  for(i = 0; i < SB_ARRAY_LEN(ROLES); i++)
    if(!strcmp(r->valuestring, ROLES[i].name))
      role = &ROLES[i];
  if(!role) {
    oai_err_join(p, path, "role");
    return oai_err_value(err, p,
                         "expected one of 'system', 'developer', 'user', "
                         "'assistant', 'tool', 'function', got '%s'.",
                         oai_err_quote(q, r->valuestring));
  }
  if(!strcmp(role->name, "function"))
    rc = oai_err_need_string(msg, "name", path, NULL, err);
  else
    rc = oai_err_opt_member(msg, "name", path, cJSON_IsString, "a string", 1,
                            err);
  if(rc)
    return rc;
  if(!strcmp(role->name, "tool")) {
    rc = oai_err_need_string(msg, "tool_call_id", path, NULL, err);
    if(rc)
      return rc;
  }
  if(!strcmp(role->name, "assistant")) {
    rc = check_assistant_extras(msg, path, err);
    if(rc)
      return rc;
    if(!get(msg, "content"))
      return 0;
  } else if(!get(msg, "content")) {
    oai_err_join(p, path, "content");
    return oai_err_missing(err, p);
  }
  return check_content(msg, path, role, err);
}

static int check_messages(const cJSON *body, struct api_error *err)
{
  const cJSON *msgs = get(body, "messages");
  const cJSON *m;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  if(!msgs)
    return oai_err_missing(err, "messages");
  if(!cJSON_IsArray(msgs))
    return oai_err_type(err, "messages", "an array", msgs);
  if(!cJSON_GetArraySize(msgs))
    return oai_err_value(err, "messages",
                         "expected a non-empty array of messages.");
  cJSON_ArrayForEach(m, msgs)
  {
    oai_err_join_index(p, "messages", i++);
    rc = check_message(m, p, err);
    if(rc)
      return rc;
  }
  return 0;
}

/* ---- structured fields ------------------------------------------------ */

static int check_stream_options(const cJSON *body, struct api_error *err)
{
  const cJSON *so = get(body, "stream_options");
  int rc;

  if(!so || cJSON_IsNull(so))
    return 0;
  if(!cJSON_IsObject(so))
    return oai_err_type(err, "stream_options", "an object", so);
  if(!cJSON_IsTrue(get(body, "stream"))) {
    api_error_set(err, 400, T_ERR, "invalid_value", "stream_options",
                  "stream_options is only allowed when stream is true.");
    return SB_EINVAL;
  }
  rc = oai_err_opt_member(so, "include_usage", "stream_options", cJSON_IsBool,
                          "a boolean", 0, err);
  if(!rc)
    rc = oai_err_opt_member(so, "include_obfuscation", "stream_options",
                            cJSON_IsBool, "a boolean", 0, err);
  return rc;
}

static int check_stop(const cJSON *body, struct api_error *err)
{
  const cJSON *stop = get(body, "stop");
  const cJSON *s;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;

  if(!stop || cJSON_IsNull(stop) || cJSON_IsString(stop))
    return 0;
  if(!cJSON_IsArray(stop))
    return oai_err_type(err, "stop", "a string or an array of strings", stop);
  if(cJSON_GetArraySize(stop) > 4)
    return oai_err_value(err, "stop",
                         "expected at most 4 stop sequences, got %d.",
                         cJSON_GetArraySize(stop));
  cJSON_ArrayForEach(s, stop)
  {
    oai_err_join_index(p, "stop", i++);
    if(!cJSON_IsString(s))
      return oai_err_type(err, p, "a string", s);
  }
  return 0;
}

static int check_logit_bias(const cJSON *body, struct api_error *err)
{
  const cJSON *lb = get(body, "logit_bias");
  const cJSON *v;
  char p[OAI_ERR_PATH_LEN];

  if(!lb || cJSON_IsNull(lb))
    return 0;
  if(!cJSON_IsObject(lb))
    return oai_err_type(err, "logit_bias", "an object", lb);
  cJSON_ArrayForEach(v, lb)
  {
    oai_err_join(p, "logit_bias", v->string);
    if(!cJSON_IsNumber(v))
      return oai_err_type(err, p, "a number", v);
    if(!(v->valuedouble >= -100 && v->valuedouble <= 100))
      return oai_err_value(err, p,
                           "expected a number between -100 and 100, "
                           "got %g.",
                           v->valuedouble);
  }
  return 0;
}

static int check_metadata(const cJSON *body, struct api_error *err)
{
  const cJSON *md = get(body, "metadata");
  const cJSON *v;
  char p[OAI_ERR_PATH_LEN];

  if(!md || cJSON_IsNull(md))
    return 0;
  if(!cJSON_IsObject(md))
    return oai_err_type(err, "metadata", "an object", md);
  cJSON_ArrayForEach(v, md)
  {
    oai_err_join(p, "metadata", v->string);
    if(!cJSON_IsString(v))
      return oai_err_type(err, p, "a string", v);
  }
  return 0;
}

static int check_modalities(const cJSON *body, struct api_error *err)
{
  const cJSON *mods = get(body, "modalities");
  const cJSON *m;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;

  if(!mods || cJSON_IsNull(mods))
    return 0;
  if(!cJSON_IsArray(mods))
    return oai_err_type(err, "modalities", "an array of strings", mods);
  cJSON_ArrayForEach(m, mods)
  {
    oai_err_join_index(p, "modalities", i++);
    if(!cJSON_IsString(m))
      return oai_err_type(err, p, "a string", m);
  }
  return 0;
}

static int check_tool(const cJSON *tool, const char *path,
                      struct api_error *err)
{
  static const char *const types[] = {"function", "custom", NULL};
  const char *type;
  const cJSON *o, *fmt;
  char p[OAI_ERR_PATH_LEN];
  char pf[OAI_ERR_PATH_LEN];
  int rc;

  if(!cJSON_IsObject(tool))
    return oai_err_type(err, path, "an object", tool);
  rc = need_enum(tool, "type", path, types, &type, err);
  if(rc)
    return rc;
  oai_err_join(p, path, type);
  rc = need_object(tool, type, path, &o, err);
  if(!rc)
    rc = oai_err_need_name(o, "name", p, NULL, err);
  if(!rc)
    rc = oai_err_opt_member(o, "description", p, cJSON_IsString, "a string", 1,
                            err);
  if(rc)
    return rc;
  if(!strcmp(type, "function")) {
    rc = oai_err_opt_member(o, "parameters", p, cJSON_IsObject, "an object", 1,
                            err);
    if(!rc)
      rc =
          oai_err_opt_member(o, "strict", p, cJSON_IsBool, "a boolean", 1, err);
    return rc;
  }
  fmt = get(o, "format");
  if(!fmt || cJSON_IsNull(fmt))
    return 0;
  oai_err_join(pf, p, "format");
  if(!cJSON_IsObject(fmt))
    return oai_err_type(err, pf, "an object", fmt);
  {
    static const char *const ftypes[] = {"text", "grammar", NULL};
    static const char *const syntaxes[] = {"lark", "regex", NULL};
    const char *ftype;
    const cJSON *g;
    char pg[OAI_ERR_PATH_LEN];

    rc = need_enum(fmt, "type", pf, ftypes, &ftype, err);
    if(rc || strcmp(ftype, "grammar"))
      return rc;
    oai_err_join(pg, pf, "grammar");
    rc = need_object(fmt, "grammar", pf, &g, err);
    if(!rc)
      rc = oai_err_need_string(g, "definition", pg, NULL, err);
    if(!rc)
      rc = need_enum(g, "syntax", pg, syntaxes, NULL, err);
    return rc;
  }
}

static int check_tools(const cJSON *body, struct api_error *err)
{
  const cJSON *tools = get(body, "tools");
  const cJSON *t;
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  if(!tools)
    return 0;
  if(!cJSON_IsArray(tools))
    return oai_err_type(err, "tools", "an array", tools);
  cJSON_ArrayForEach(t, tools)
  {
    oai_err_join_index(p, "tools", i++);
    rc = check_tool(t, p, err);
    if(rc)
      return rc;
  }
  return 0;
}

/* {"type":"function","function":{"name":...}} or the custom equivalent,
 * at path. */
static int check_named_choice(const cJSON *o, const char *path,
                              const char *type, struct api_error *err)
{
  const cJSON *inner;
  char p[OAI_ERR_PATH_LEN];
  int rc;

  oai_err_join(p, path, type);
  rc = need_object(o, type, path, &inner, err);
  if(!rc)
    rc = oai_err_need_string(inner, "name", p, NULL, err);
  return rc;
}

static int check_tool_choice(const cJSON *body, struct api_error *err)
{
  static const char *const types[] = {"function", "custom", "allowed_tools",
                                      NULL};
  static const char *const modes[] = {"auto", "required", NULL};
  const cJSON *tc = get(body, "tool_choice");
  const cJSON *at, *tools, *t;
  const char *type;
  char q[OAI_ERR_QUOTE_MAX + 4];
  char p[OAI_ERR_PATH_LEN];
  int i = 0;
  int rc;

  if(!tc)
    return 0;
  if(cJSON_IsString(tc)) {
    if(!strcmp(tc->valuestring, "none") || !strcmp(tc->valuestring, "auto") ||
       !strcmp(tc->valuestring, "required"))
      return 0;
    return oai_err_value(err, "tool_choice",
                         "expected 'none', 'auto', 'required' or an object, "
                         "got '%s'.",
                         oai_err_quote(q, tc->valuestring));
  }
  if(!cJSON_IsObject(tc))
    return oai_err_type(err, "tool_choice", "a string or an object", tc);
  rc = need_enum(tc, "type", "tool_choice", types, &type, err);
  if(rc)
    return rc;
  if(strcmp(type, "allowed_tools"))
    return check_named_choice(tc, "tool_choice", type, err);
  rc = need_object(tc, "allowed_tools", "tool_choice", &at, err);
  if(!rc)
    rc = need_enum(at, "mode", "tool_choice.allowed_tools", modes, NULL, err);
  if(rc)
    return rc;
  tools = get(at, "tools");
  if(!tools)
    return oai_err_missing(err, "tool_choice.allowed_tools.tools");
  if(!cJSON_IsArray(tools))
    return oai_err_type(err, "tool_choice.allowed_tools.tools", "an array",
                        tools);
  cJSON_ArrayForEach(t, tools)
  {
    oai_err_join_index(p, "tool_choice.allowed_tools.tools", i++);
    if(!cJSON_IsObject(t))
      return oai_err_type(err, p, "an object", t);
    rc = need_enum(t, "type", p, types, &type, err);
    if(!rc && !strcmp(type, "allowed_tools"))
      rc = oai_err_value(err, p, "expected a function or custom tool.");
    if(!rc)
      rc = check_named_choice(t, p, type, err);
    if(rc)
      return rc;
  }
  return 0;
}

static int check_response_format(const cJSON *body, struct api_error *err)
{
  static const char *const types[] = {"text", "json_object", "json_schema",
                                      NULL};
  const cJSON *rf = get(body, "response_format");
  const cJSON *js;
  const char *type;
  int rc;

  if(!rf)
    return 0;
  if(!cJSON_IsObject(rf))
    return oai_err_type(err, "response_format", "an object", rf);
  rc = need_enum(rf, "type", "response_format", types, &type, err);
  if(rc || strcmp(type, "json_schema"))
    return rc;
  rc = need_object(rf, "json_schema", "response_format", &js, err);
  if(!rc)
    rc =
        oai_err_need_name(js, "name", "response_format.json_schema", NULL, err);
  if(!rc)
    rc = oai_err_opt_member(js, "description", "response_format.json_schema",
                            cJSON_IsString, "a string", 0, err);
  if(!rc)
    rc = oai_err_opt_member(js, "schema", "response_format.json_schema",
                            cJSON_IsObject, "an object", 1, err);
  if(!rc)
    rc = oai_err_opt_member(js, "strict", "response_format.json_schema",
                            cJSON_IsBool, "a boolean", 1, err);
  return rc;
}

/* Top-level keys validated outside the SCALARS table. */
static const char *const OTHER_KEYS[] = {
    "model",       "messages",        "stream_options", "stop",
    "logit_bias",  "metadata",        "modalities",     "tools",
    "tool_choice", "response_format", "functions",
};

/* A key this module checks that appears twice: cJSON would see the first
 * and an upstream probably the last, so what was validated would not be
 * what runs. Linear in the number of members (a hostile body may have
 * hundreds of thousands), unknown keys are not compared. */
static int check_duplicates(const cJSON *body, struct api_error *err)
{
  unsigned char seen[SB_ARRAY_LEN(SCALARS) + SB_ARRAY_LEN(OTHER_KEYS)] = {0};
  const cJSON *a;
  size_t i;

  for(a = body->child; a; a = a->next) {
    if(!a->string)
      continue;
    for(i = 0; i < SB_ARRAY_LEN(seen); i++) {
      const char *k = i < SB_ARRAY_LEN(SCALARS)
                          ? SCALARS[i].name
                          : OTHER_KEYS[i - SB_ARRAY_LEN(SCALARS)];
      if(strcmp(a->string, k))
        continue;
      if(seen[i]++)
        return oai_err_value(err, k,
                             "the key appears more than once in the request "
                             "body.");
      break;
    }
  }
  return 0;
}

int oai_chat_validate(const cJSON *body, struct api_error *err)
{
  const cJSON *model;
  size_t i;
  int rc;

  if(!cJSON_IsObject(body)) {
    api_error_set(err, 400, T_ERR, "invalid_json", NULL,
                  "The request body must be a JSON object.");
    return SB_EINVAL;
  }
  rc = check_duplicates(body, err);
  if(rc)
    return rc;
  model = get(body, "model");
  if(!model)
    return oai_err_missing(err, "model");
  if(!cJSON_IsString(model))
    return oai_err_type(err, "model", "a string", model);
  if(!model->valuestring[0])
    return oai_err_value(err, "model", "expected a non-empty string.");
  rc = check_messages(body, err);
  if(rc)
    return rc;
  for(i = 0; i < SB_ARRAY_LEN(SCALARS); i++) {
    rc = oai_err_scalar(body, &SCALARS[i], err);
    if(rc)
      return rc;
  }
  rc = check_stream_options(body, err);
  if(!rc)
    rc = check_stop(body, err);
  if(!rc)
    rc = check_logit_bias(body, err);
  if(!rc)
    rc = check_metadata(body, err);
  if(!rc)
    rc = check_modalities(body, err);
  if(!rc)
    rc = check_tools(body, err);
  if(!rc)
    rc = check_tool_choice(body, err);
  if(!rc)
    rc = check_response_format(body, err);
  return rc;
}

/* ---- capabilities ----------------------------------------------------- */

static int unsupported(struct api_error *err, const char *provider,
                       const char *param, const char *what)
{
  api_error_set(err, 400, T_ERR, "unsupported_parameter", param,
                "Provider '%s' does not support %s.", provider ? provider : "?",
                what);
  return SB_EINVAL;
}

static int unsupported_field(struct api_error *err, const char *provider,
                             const char *param)
{
  api_error_set(err, 400, T_ERR, "unsupported_parameter", param,
                "Provider '%s' does not support '%s'.",
                provider ? provider : "?", param);
  return SB_EINVAL;
}

/* Present and not null, false, empty string, empty array or object. */
static int used(const cJSON *v)
{
  if(!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
    return 0;
  if(cJSON_IsString(v))
    return v->valuestring[0] != '\0';
  if(cJSON_IsArray(v) || cJSON_IsObject(v))
    return v->child != NULL;
  return 1;
}

static int num_above(const cJSON *v, double min)
{
  return cJSON_IsNumber(v) && v->valuedouble > min;
}

/* The first content part of type name in any message; its path in out. */
static int find_part(const cJSON *body, const char *name, char *out)
{
  const cJSON *m, *c, *part;
  int i = 0;

  cJSON_ArrayForEach(m, get(body, "messages"))
  {
    int j = 0;

    c = get(m, "content");
    if(cJSON_IsArray(c)) {
      cJSON_ArrayForEach(part, c)
      {
        const cJSON *t = get(part, "type");
        if(cJSON_IsString(t) && !strcmp(t->valuestring, name)) {
          snprintf(out, OAI_ERR_PATH_LEN, "messages[%d].content[%d]", i, j);
          return 1;
        }
        j++;
      }
    }
    i++;
  }
  return 0;
}

static int has_audio_modality(const cJSON *body)
{
  const cJSON *m;

  cJSON_ArrayForEach(m, get(body, "modalities"))
  {
    if(cJSON_IsString(m) && !strcmp(m->valuestring, "audio"))
      return 1;
  }
  return 0;
}

int oai_chat_check_caps(const cJSON *body, unsigned caps, const char *provider,
                        struct api_error *err)
{
  const cJSON *rf;
  char p[OAI_ERR_PATH_LEN];

  if(!cJSON_IsObject(body))
    return 0;
  if(!(caps & OAI_CAP_TOOLS)) {
    if(used(get(body, "tools")))
      return unsupported_field(err, provider, "tools");
    if(used(get(body, "functions")))
      return unsupported_field(err, provider, "functions");
  }
  if(!(caps & OAI_CAP_N) && num_above(get(body, "n"), 1))
    return unsupported_field(err, provider, "n");
  if(!(caps & OAI_CAP_LOGPROBS)) {
    if(used(get(body, "logprobs")))
      return unsupported_field(err, provider, "logprobs");
    if(num_above(get(body, "top_logprobs"), 0))
      return unsupported_field(err, provider, "top_logprobs");
  }
  if(!(caps & OAI_CAP_AUDIO)) {
    if(used(get(body, "audio")))
      return unsupported_field(err, provider, "audio");
    if(has_audio_modality(body))
      return unsupported(err, provider, "modalities", "audio output");
    if(find_part(body, "input_audio", p))
      return unsupported(err, provider, p, "'input_audio' content parts");
  }
  if(!(caps & OAI_CAP_RESPONSE_FORMAT)) {
    rf = get(body, "response_format");
    if(used(rf) && !(cJSON_IsString(get(rf, "type")) &&
                     !strcmp(get(rf, "type")->valuestring, "text")))
      return unsupported_field(err, provider, "response_format");
  }
  if(!(caps & OAI_CAP_IMAGES) && find_part(body, "image_url", p))
    return unsupported(err, provider, p, "'image_url' content parts");
  if(!(caps & OAI_CAP_LOGIT_BIAS) && used(get(body, "logit_bias")))
    return unsupported_field(err, provider, "logit_bias");
  return 0;
}

/* ---- helpers for providers -------------------------------------------- */

int oai_chat_last_user_text(const cJSON *body, struct buf *out)
{
  const cJSON *msgs = get(body, "messages");
  const cJSON *m, *last = NULL, *c, *parts, *part;
  size_t orig = out->len;
  int first = 1;
  int rc = 0;

  cJSON_ArrayForEach(m, msgs)
  {
    const cJSON *r = get(m, "role");
    if(cJSON_IsString(r) && !strcmp(r->valuestring, "user"))
      last = m;
  }
  if(!last)
    return SB_ENOTFOUND;
  c = get(last, "content");
  if(cJSON_IsString(c))
    return buf_appendz(out, c->valuestring);
  parts = cJSON_IsArray(c) ? c : NULL;
  cJSON_ArrayForEach(part, parts)
  {
    const cJSON *t = get(part, "type");
    const cJSON *text = get(part, "text");

    if(!cJSON_IsString(t) || strcmp(t->valuestring, "text") ||
       !cJSON_IsString(text))
      continue;
    if(!first)
      rc = buf_append(out, "\n", 1);
    if(!rc)
      rc = buf_appendz(out, text->valuestring);
    if(rc) {
      out->len = orig;
      if(out->data)
        out->data[orig] = '\0';
      return rc;
    }
    first = 0;
  }
  if(!out->data)
    rc = buf_append(out, "", 0);
  return rc;
}
