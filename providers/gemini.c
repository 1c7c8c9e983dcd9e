#include "providers/gemini.h"
#include "codec/canon_doc.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "base/buf.h"

#include <stdint.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GEMINI_CAPS                                                            \
  (OAI_CAP_TOOLS | OAI_CAP_N | OAI_CAP_RESPONSE_FORMAT | OAI_CAP_IMAGES)

/* ---- small helpers ------------------------------------------------------ */

static int bad(struct api_error *err, const char *code, const char *param,
               const char *msg)
{
  api_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
  return SB_EINVAL;
}

static int unsupported(struct api_error *err, const char *param,
                       const char *what)
{
  api_error_set(err, 400, "invalid_request_error", "unsupported_parameter",
                param, "Provider kind 'gemini' does not support %s.", what);
  return SB_EINVAL;
}

/* A generated id ("call_<digits>") is never sent upstream. */
static int generated_id(const char *id, size_t n)
{
  if(n <= 5 || strncmp(id, "call_", 5))
    return 0;
  for(size_t i = 5; i < n; i++)
    if(!isdigit((unsigned char)id[i]))
      return 0;
  return 1;
}

/* base64 (standard) <-> base64url without padding, for signatures in ids. */
static char *b64_to_url(const char *s)
{
  size_t n = strlen(s);
  char *o = sb_malloc(n + 1);
  size_t j = 0;

  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    if(c == '=')
      continue;
    o[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  o[j] = '\0';
  return o;
}

static char *url_to_b64(const char *s)
{
  size_t n = strlen(s);
  char *o = sb_malloc(n + 4);
  size_t j = 0;

  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    o[j++] = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  while(j % 4)
    o[j++] = '=';
  o[j] = '\0';
  return o;
}

/** The OpenAI id for a function call: upstream id or call_<k>, plus the
 * signature if any. */
static char *make_call_id(const char *upstream_id, int k, const char *sig)
{
  char base[32];
  const char *b = upstream_id;
  char *u, *id;

  if(!b || !*b) {
    snprintf(base, sizeof(base), "call_%d", k);
    b = base;
  }
  if(!sig || !*sig)
    return sb_strdup(b);
  u = b64_to_url(sig);
  id = sb_asprintf("%s%s%s", b, PROV_GEMINI_SIG_SEP, u);
  free(u);
  return id;
}

/** Split an OpenAI id into the upstream id (NULL when generated) and the
 * signature it carries (NULL if none). Both malloc'd. */
static void split_call_id(const char *id, char **upstream_id, char **sig)
{
  const char *sep = strstr(id, PROV_GEMINI_SIG_SEP);
  size_t n = sep ? (size_t)(sep - id) : strlen(id);

  *upstream_id = generated_id(id, n) || !n ? NULL : sb_strndup(id, n);
  *sig = sep && sep[strlen(PROV_GEMINI_SIG_SEP)]
             ? url_to_b64(sep + strlen(PROV_GEMINI_SIG_SEP))
             : NULL;
}

/* ---- request: content ------------------------------------------------- */

/** Append the text of an OpenAI content (string or text parts) to parts.
 * Empty texts are skipped (Gemini rejects empty text parts). */
static void text_parts(cJSON *parts, const cJSON *content)
{
  const cJSON *part;

  if(cJSON_IsString(content)) {
    if(*content->valuestring) {
      cJSON *p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "text", content->valuestring);
      cJSON_AddItemToArray(parts, p);
    }
    return;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *t = canon_json_str(part, "text");
    if(!t)
      t = canon_json_str(part, "refusal");
    if(t && *t) {
      cJSON *p = cJSON_CreateObject();
      cJSON_AddStringToObject(p, "text", t);
      cJSON_AddItemToArray(parts, p);
    }
  }
}

/** The text of a content (string, or text parts joined without a
 * separator), malloc'd. */
static char *content_text(const cJSON *content)
{
  const cJSON *part;
  size_t n = 0;
  char *s;

  if(cJSON_IsString(content))
    return sb_strdup(content->valuestring);
  cJSON_ArrayForEach(part, content)
  {
    const char *t = canon_json_str(part, "text");
    if(t)
      n += strlen(t);
  }
  s = sb_malloc(n + 1);
  n = 0;
  cJSON_ArrayForEach(part, content)
  {
    const char *t = canon_json_str(part, "text");
    if(t) {
      memcpy(s + n, t, strlen(t));
      n += strlen(t);
    }
  }
  s[n] = '\0';
  return s;
}

/** data:<mime>;base64,<data> -> inlineData part. */
static int data_url_part(cJSON *parts, const char *url, const char *param,
                         struct api_error *err)
{
  const char *semi, *comma;
  cJSON *p, *d;
  char *mime;

  if(strncmp(url, "data:", 5)) {
    api_error_set(err, 400, "invalid_request_error", "unsupported_value", param,
                  "Provider kind 'gemini' takes images only as data URLs "
                  "(data:<mime>;base64,...); Gemini does not fetch http(s) "
                  "URLs.");
    return SB_EINVAL;
  }
  comma = strchr(url, ',');
  semi = strchr(url, ';');
  if(!comma || !semi || semi > comma || strncmp(semi, ";base64,", 8) ||
     semi == url + 5)
    return bad(err, "invalid_value", param,
               "Expected a base64 data URL: data:<mime>;base64,<data>.");
  mime = sb_strndup(url + 5, (size_t)(semi - url - 5));
  p = cJSON_CreateObject();
  d = cJSON_AddObjectToObject(p, "inlineData");
  cJSON_AddStringToObject(d, "mimeType", mime);
  cJSON_AddStringToObject(d, "data", comma + 1);
  cJSON_AddItemToArray(parts, p);
  free(mime);
  return 0;
}

static int user_parts(cJSON *parts, const cJSON *content, const char *mpath,
                      struct api_error *err)
{
  const cJSON *part;
  char param[96];
  int j = 0;

  if(cJSON_IsString(content) || cJSON_IsNull(content) || !content) {
    if(content)
      text_parts(parts, content);
    return 0;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *type = canon_json_str(part, "type");
    int rc = 0;

    if(!type || !strcmp(type, "text")) {
      const char *t = canon_json_str(part, "text");
      if(t && *t) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", t);
        cJSON_AddItemToArray(parts, p);
      }
    } else if(!strcmp(type, "image_url")) {
      const char *url =
          canon_json_str(canon_json_get(part, "image_url"), "url");
      snprintf(param, sizeof(param), "%s.content[%d].image_url.url", mpath, j);
      rc = data_url_part(parts, url ? url : "", param, err);
    } else if(!strcmp(type, "file") &&
              canon_json_str(canon_json_get(part, "file"), "file_data")) {
      snprintf(param, sizeof(param), "%s.content[%d].file.file_data", mpath, j);
      rc = data_url_part(
          parts, canon_json_str(canon_json_get(part, "file"), "file_data"),
          param, err);
    } else {
      snprintf(param, sizeof(param), "%s.content[%d]", mpath, j);
      api_error_set(err, 400, "invalid_request_error", "unsupported_value",
                    param,
                    "Provider kind 'gemini' does not support '%s' content "
                    "parts here.",
                    type);
      rc = SB_EINVAL;
    }
    if(rc)
      return rc;
    j++;
  }
  return 0;
}

/* Append a turn, merging it into the previous one when the role is the
 * same (Gemini wants alternating turns). Takes parts. Empty turns are
 * dropped. */
static void add_turn(cJSON *contents, const char *role, cJSON *parts)
{
  int n = cJSON_GetArraySize(contents);
  cJSON *last = n ? cJSON_GetArrayItem(contents, n - 1) : NULL;
  cJSON *c;

  if(!cJSON_GetArraySize(parts)) {
    cJSON_Delete(parts);
    return;
  }
  if(last && !strcmp(canon_json_str(last, "role"), role)) {
    cJSON *lp = cJSON_GetObjectItemCaseSensitive(last, "parts");
    while(parts->child) {
      cJSON *p = cJSON_DetachItemViaPointer(parts, parts->child);
      cJSON_AddItemToArray(lp, p);
    }
    cJSON_Delete(parts);
    return;
  }
  c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "role", role);
  cJSON_AddItemToObject(c, "parts", parts);
  cJSON_AddItemToArray(contents, c);
}

/* arguments string -> object, or 400 naming param. */
static int parse_args(const char *args, const char *param, cJSON **out,
                      struct api_error *err)
{
  cJSON *o;
  const char *s = args;

  while(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if(!*s) {
    *out = cJSON_CreateObject();
    return 0;
  }
  o = cJSON_Parse(args);
  if(!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return bad(err, "invalid_value", param,
               "Tool call arguments must be a JSON object for provider kind "
               "'gemini'.");
  }
  *out = o;
  return 0;
}

static const cJSON *find_ext_signature(const cJSON *tc)
{
  const cJSON *s = canon_json_get(
      canon_json_get(canon_json_get(tc, "extra_content"), "google"),
      "thought_signature");
  return cJSON_IsString(s) && *s->valuestring ? s : NULL;
}

static int assistant_parts(cJSON *parts, const cJSON *msg, const char *mpath,
                           struct api_error *err)
{
  const cJSON *tcs = canon_json_get(msg, "tool_calls");
  const cJSON *tc;
  const cJSON *fc = canon_json_get(msg, "function_call");
  char param[96];
  int j = 0;

  if(canon_json_present(msg, "content"))
    text_parts(parts, canon_json_get(msg, "content"));
  cJSON_ArrayForEach(tc, tcs)
  {
    const cJSON *fn = canon_json_get(tc, "function");
    const cJSON *ext = find_ext_signature(tc);
    cJSON *p, *call, *args;
    char *uid, *sig;
    int rc;

    if(!fn) {
      snprintf(param, sizeof(param), "%s.tool_calls[%d]", mpath, j);
      return bad(err, "unsupported_value", param,
                 "Provider kind 'gemini' supports only function tool calls.");
    }
    snprintf(param, sizeof(param), "%s.tool_calls[%d].function.arguments",
             mpath, j);
    rc = parse_args(canon_json_str(fn, "arguments"), param, &args, err);
    if(rc)
      return rc;
    split_call_id(canon_json_str(tc, "id"), &uid, &sig);
    p = cJSON_CreateObject();
    call = cJSON_AddObjectToObject(p, "functionCall");
    cJSON_AddStringToObject(call, "name", canon_json_str(fn, "name"));
    cJSON_AddItemToObject(call, "args", args);
    if(uid)
      cJSON_AddStringToObject(call, "id", uid);
    if(ext)
      cJSON_AddStringToObject(p, "thoughtSignature", ext->valuestring);
    else if(sig)
      cJSON_AddStringToObject(p, "thoughtSignature", sig);
    cJSON_AddItemToArray(parts, p);
    free(uid);
    free(sig);
    j++;
  }
  if(fc && cJSON_IsObject(fc)) {
    cJSON *p, *call, *args;
    int rc;

    snprintf(param, sizeof(param), "%s.function_call.arguments", mpath);
    rc = parse_args(canon_json_str(fc, "arguments"), param, &args, err);
    if(rc)
      return rc;
    p = cJSON_CreateObject();
    call = cJSON_AddObjectToObject(p, "functionCall");
    cJSON_AddStringToObject(call, "name", canon_json_str(fc, "name"));
    cJSON_AddItemToObject(call, "args", args);
    cJSON_AddItemToArray(parts, p);
  }
  return 0;
}

/* The function name of tool call id in the assistant messages before
 * message index upto, or NULL. */
static const char *tool_name_for(const cJSON *msgs, int upto, const char *id)
{
  const char *name = NULL;
  int i = 0;
  const cJSON *m;

  cJSON_ArrayForEach(m, msgs)
  {
    const cJSON *tc;
    if(i++ >= upto)
      break;
    if(strcmp(canon_json_str(m, "role"), "assistant"))
      continue;
    cJSON_ArrayForEach(tc, canon_json_get(m, "tool_calls"))
    {
      const char *tid = canon_json_str(tc, "id");
      if(tid && !strcmp(tid, id))
        name = canon_json_str(canon_json_get(tc, "function"), "name");
    }
  }
  return name;
}

static cJSON *function_response(const char *name, const char *id,
                                const cJSON *content)
{
  cJSON *p = cJSON_CreateObject();
  cJSON *fr = cJSON_AddObjectToObject(p, "functionResponse");
  char *text = content_text(content);
  cJSON *obj = cJSON_Parse(text);
  char *uid = NULL, *sig = NULL;

  cJSON_AddStringToObject(fr, "name", name);
  if(id) {
    split_call_id(id, &uid, &sig);
    if(uid)
      cJSON_AddStringToObject(fr, "id", uid);
  }
  if(cJSON_IsObject(obj)) {
    cJSON_AddItemToObject(fr, "response", obj);
  } else {
    cJSON_Delete(obj);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(fr, "response"), "content",
                            text);
  }
  free(text);
  free(uid);
  free(sig);
  return p;
}

static int build_contents(const cJSON *req, cJSON *body, struct api_error *err)
{
  const cJSON *msgs = canon_json_get(req, "messages");
  const cJSON *m;
  cJSON *contents = cJSON_CreateArray();
  cJSON *sys = cJSON_CreateArray();
  char mpath[48];
  int i = 0;
  int rc = 0;

  cJSON_ArrayForEach(m, msgs)
  {
    const char *role = canon_json_str(m, "role");
    const cJSON *content = canon_json_get(m, "content");
    cJSON *parts;

    snprintf(mpath, sizeof(mpath), "messages[%d]", i);
    if(!strcmp(role, "system") || !strcmp(role, "developer")) {
      text_parts(sys, content);
      i++;
      continue;
    }
    parts = cJSON_CreateArray();
    if(!strcmp(role, "user")) {
      rc = user_parts(parts, content, mpath, err);
      if(!rc)
        add_turn(contents, "user", parts);
    } else if(!strcmp(role, "assistant")) {
      rc = assistant_parts(parts, m, mpath, err);
      if(!rc)
        add_turn(contents, "model", parts);
    } else { /* tool, function */
      const char *id = canon_json_str(m, "tool_call_id");
      const char *name =
          id ? tool_name_for(msgs, i, id) : canon_json_str(m, "name");
      if(!name) {
        char param[64];
        snprintf(param, sizeof(param), "%s.tool_call_id", mpath);
        rc = bad(err, "invalid_value", param,
                 "No earlier assistant tool call has this id; Gemini needs "
                 "the function name of every tool result.");
      } else {
        cJSON_AddItemToArray(parts, function_response(name, id, content));
        add_turn(contents, "user", parts);
      }
    }
    if(rc) {
      cJSON_Delete(parts);
      break;
    }
    i++;
  }
  if(rc) {
    cJSON_Delete(contents);
    cJSON_Delete(sys);
    return rc;
  }
  if(!cJSON_GetArraySize(contents)) {
    cJSON_Delete(contents);
    cJSON_Delete(sys);
    return bad(err, "invalid_value", "messages",
               "Gemini needs at least one user or assistant message with "
               "content.");
  }
  cJSON_AddItemToObject(body, "contents", contents);
  if(cJSON_GetArraySize(sys)) {
    cJSON *si = cJSON_AddObjectToObject(body, "systemInstruction");
    cJSON_AddItemToObject(si, "parts", sys);
  } else {
    cJSON_Delete(sys);
  }
  return 0;
}

/* ---- request: tools, generation config ---------------------------------- */

static int build_tools(const cJSON *req, cJSON *body, struct api_error *err)
{
  const cJSON *tools = canon_json_get(req, "tools");
  const cJSON *tc = canon_json_get(req, "tool_choice");
  const cJSON *t;
  cJSON *decls, *fcc;
  char param[48];
  int i = 0;

  if(canon_json_present(req, "functions"))
    return unsupported(err, "functions",
                       "the deprecated 'functions' field (use 'tools')");
  if(canon_json_present(req, "function_call"))
    return unsupported(err, "function_call",
                       "the deprecated 'function_call' field (use "
                       "'tool_choice')");
  if(cJSON_IsFalse(canon_json_get(req, "parallel_tool_calls")))
    return unsupported(err, "parallel_tool_calls",
                       "'parallel_tool_calls': false (Gemini cannot limit "
                       "the number of calls)");
  if(!cJSON_GetArraySize(tools)) {
    if(canon_json_present(req, "tool_choice") &&
       !(cJSON_IsString(tc) && !strcmp(tc->valuestring, "none")))
      return bad(err, "invalid_value", "tool_choice",
                 "'tool_choice' is only allowed when 'tools' are given.");
    return 0;
  }
  decls = cJSON_CreateArray();
  cJSON_ArrayForEach(t, tools)
  {
    const cJSON *fn = canon_json_get(t, "function");
    cJSON *d;

    if(!fn) {
      cJSON_Delete(decls);
      snprintf(param, sizeof(param), "tools[%d]", i);
      return bad(err, "unsupported_value", param,
                 "Provider kind 'gemini' supports only function tools.");
    }
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", canon_json_str(fn, "name"));
    if(canon_json_str(fn, "description"))
      cJSON_AddStringToObject(d, "description",
                              canon_json_str(fn, "description"));
    if(cJSON_IsObject(canon_json_get(fn, "parameters")))
      cJSON_AddItemToObject(
          d, "parametersJsonSchema",
          cJSON_Duplicate(canon_json_get(fn, "parameters"), 1));
    cJSON_AddItemToArray(decls, d);
    i++;
  }
  {
    cJSON *tool = cJSON_CreateObject();
    cJSON_AddItemToObject(tool, "functionDeclarations", decls);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "tools"), tool);
  }
  if(!canon_json_present(req, "tool_choice"))
    return 0;
  fcc = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "toolConfig"),
                                "functionCallingConfig");
  if(cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    cJSON_AddStringToObject(fcc, "mode",
                            !strcmp(s, "none")       ? "NONE"
                            : !strcmp(s, "required") ? "ANY"
                                                     : "AUTO");
    return 0;
  }
  if(canon_json_str(tc, "type") &&
     !strcmp(canon_json_str(tc, "type"), "function")) {
    cJSON_AddStringToObject(fcc, "mode", "ANY");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(fcc, "allowedFunctionNames"),
                         cJSON_CreateString(canon_json_str(
                             canon_json_get(tc, "function"), "name")));
    return 0;
  }
  if(canon_json_str(tc, "type") &&
     !strcmp(canon_json_str(tc, "type"), "allowed_tools")) {
    const cJSON *at = canon_json_get(tc, "allowed_tools");
    const char *mode = canon_json_str(at, "mode");
    cJSON *names;

    if(!mode || strcmp(mode, "required"))
      return bad(err, "unsupported_value", "tool_choice",
                 "Provider kind 'gemini' supports 'allowed_tools' only with "
                 "mode 'required'.");
    cJSON_AddStringToObject(fcc, "mode", "ANY");
    names = cJSON_AddArrayToObject(fcc, "allowedFunctionNames");
    cJSON_ArrayForEach(t, canon_json_get(at, "tools"))
    {
      const char *n = canon_json_str(canon_json_get(t, "function"), "name");
      if(n)
        cJSON_AddItemToArray(names, cJSON_CreateString(n));
    }
    return 0;
  }
  return bad(err, "unsupported_value", "tool_choice",
             "Provider kind 'gemini' supports tool_choice none, auto, "
             "required, a named function or allowed_tools.");
}

static void copy_num(const cJSON *req, const char *k, cJSON *gc, const char *gk)
{
  const cJSON *v = canon_json_get(req, k);
  if(cJSON_IsNumber(v))
    cJSON_AddNumberToObject(gc, gk, v->valuedouble);
}

static int build_generation(const cJSON *req, cJSON *gc, int stream,
                            struct api_error *err)
{
  const cJSON *stop = canon_json_get(req, "stop");
  const cJSON *n = canon_json_get(req, "n");
  const cJSON *rf = canon_json_get(req, "response_format");
  const char *effort = canon_json_str(req, "reasoning_effort");
  const cJSON *mt = canon_json_get(req, "max_completion_tokens");

  copy_num(req, "temperature", gc, "temperature");
  copy_num(req, "top_p", gc, "topP");
  copy_num(req, "top_k", gc, "topK");
  if(!cJSON_IsNumber(mt))
    mt = canon_json_get(req, "max_tokens");
  if(cJSON_IsNumber(mt))
    cJSON_AddNumberToObject(gc, "maxOutputTokens", mt->valuedouble);
  if(cJSON_IsString(stop)) {
    cJSON_AddItemToArray(cJSON_AddArrayToObject(gc, "stopSequences"),
                         cJSON_CreateString(stop->valuestring));
  } else if(cJSON_GetArraySize(stop)) {
    cJSON_AddItemToObject(gc, "stopSequences", cJSON_Duplicate(stop, 1));
  }
  if(cJSON_IsNumber(n) && n->valuedouble > 1) {
    if(stream)
      return unsupported(err, "n", "'n' > 1 with 'stream': true");
    cJSON_AddNumberToObject(gc, "candidateCount", n->valuedouble);
  }
  copy_num(req, "seed", gc, "seed");
  copy_num(req, "presence_penalty", gc, "presencePenalty");
  copy_num(req, "frequency_penalty", gc, "frequencyPenalty");
  if(cJSON_IsObject(rf)) {
    const char *type = canon_json_str(rf, "type");
    if(type && !strcmp(type, "json_object")) {
      cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
    } else if(type && !strcmp(type, "json_schema")) {
      const cJSON *schema =
          canon_json_get(canon_json_get(rf, "json_schema"), "schema");
      cJSON_AddStringToObject(gc, "responseMimeType", "application/json");
      if(cJSON_IsObject(schema))
        cJSON_AddItemToObject(gc, "responseJsonSchema",
                              cJSON_Duplicate(schema, 1));
    }
  }
  if(effort) {
    static const struct {
      const char *name;
      int budget;
    } levels[] = {
        {"none", 0},
        {"minimal", PROV_GEMINI_BUDGET_MINIMAL},
        {"low", PROV_GEMINI_BUDGET_LOW},
        {"medium", PROV_GEMINI_BUDGET_MEDIUM},
        {"high", PROV_GEMINI_BUDGET_HIGH},
        {"xhigh", PROV_GEMINI_BUDGET_HIGH},
    };
    cJSON *tc;
    size_t i;

    for(i = 0; i < SB_ARRAY_LEN(levels); i++)
      if(!strcmp(levels[i].name, effort))
        break;
    if(i == SB_ARRAY_LEN(levels))
      return bad(err, "unsupported_value", "reasoning_effort",
                 "Provider kind 'gemini' supports reasoning_effort none, "
                 "minimal, low, medium, high and xhigh.");
    tc = cJSON_AddObjectToObject(gc, "thinkingConfig");
    cJSON_AddNumberToObject(tc, "thinkingBudget", levels[i].budget);
    if(levels[i].budget)
      cJSON_AddTrueToObject(tc, "includeThoughts");
  }
  return 0;
}

/* Fields build_chat translates or that the caps check has already
 * refused; any other top-level field is dropped and reported. */
static const char *const KNOWN[] = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "reasoning_effort",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "modalities",
    "audio",
};

/* Shape-changing fields Gemini cannot honour (class A). */
static const char *const REFUSED[] = {"prediction", "web_search_options"};

static int check_top_level(const cJSON *req, struct prov_http *out,
                           struct api_error *err)
{
  const cJSON *f;

  cJSON_ArrayForEach(f, req)
  {
    size_t i;
    int known = 0;

    if(cJSON_IsNull(f))
      continue;
    for(i = 0; i < SB_ARRAY_LEN(REFUSED); i++)
      if(!strcmp(f->string, REFUSED[i]))
        return unsupported(err, f->string, "this parameter");
    for(i = 0; i < SB_ARRAY_LEN(KNOWN) && !known; i++)
      known = !strcmp(f->string, KNOWN[i]);
    if(!known)
      prov_http_note_dropped(out, f->string);
  }
  if(cJSON_IsTrue(canon_json_get(canon_json_get(req, "stream_options"),
                                 "include_obfuscation")))
    prov_http_note_dropped(out, "stream_options.include_obfuscation");
  return 0;
}

static void add_auth_headers(const struct prov *p,
                             const struct prov_client *client,
                             struct prov_http *out)
{
  static const struct prov_cred cred = {"x-goog-api-key", 0, "x-goog-api-key"};

  prov_http_add_common(out, p, client, &cred);
}

/* The model is a path of the upstream's URL, and may be the client's
 * own string (a provider without a model list takes any name): only
 * resource-name bytes, and no "." or ".." segment that would walk to
 * another endpoint with the gateway's credential. */
static int model_checked(const char *model, struct api_error *err)
{
  size_t n = strlen(model);
  int ok = n && n <= 256 &&
           strspn(model, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-._/@") == n;

  for(const char *s = model; ok && *s; s += strcspn(s, "/"), s += !!*s) {
    size_t k = strcspn(s, "/");
    ok = k && !(k == 1 && s[0] == '.') && !(k == 2 && !strncmp(s, "..", 2));
  }
  return ok ? 0
            : bad(err, "invalid_value", "model",
                  "This model name cannot be sent to a Gemini upstream.");
}

static char *model_url(const struct prov *p, const char *model,
                       const char *method)
{
  /* "tunedModels/x" and other full resource names are used as given. */
  return sb_asprintf("%s/%s%s:%s", p->base_url,
                     strchr(model, '/') ? "" : "models/", model, method);
}

static int gemini_build_chat(const struct prov *p, const cJSON *req,
                             const char *model,
                             const struct prov_client *client,
                             struct prov_http *out, struct api_error *err)
{
  int stream = cJSON_IsTrue(canon_json_get(req, "stream"));
  cJSON *body = cJSON_CreateObject();
  cJSON *gc = cJSON_CreateObject();
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = model_checked(model, err);
  if(!rc)
    rc = check_top_level(req, out, err);
  if(!rc)
    rc = build_contents(req, body, err);
  if(!rc)
    rc = build_tools(req, body, err);
  if(!rc)
    rc = build_generation(req, gc, stream, err);
  if(rc) {
    cJSON_Delete(body);
    cJSON_Delete(gc);
    prov_http_free(out);
    return rc;
  }
  if(gc->child)
    cJSON_AddItemToObject(body, "generationConfig", gc);
  else
    cJSON_Delete(gc);
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = stream ? model_url(p, model, "streamGenerateContent?alt=sse")
                    : model_url(p, model, "generateContent");
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: %s",
                       stream ? "text/event-stream" : "application/json");
  prov_http_add_header(out, "Expect:");
  add_auth_headers(p, client, out);
  return 0;
}

/* countTokens takes the GenerateContentRequest it would answer, prompt
 * only: its model as a resource name, contents, systemInstruction, tools
 * and toolConfig. */
static int gemini_build_count(const struct prov *p, const cJSON *req,
                              const char *model,
                              const struct prov_client *client,
                              struct prov_http *out, struct api_error *err)
{
  cJSON *body = cJSON_CreateObject();
  cJSON *gcr = cJSON_AddObjectToObject(body, "generateContentRequest");
  int rc;

  memset(out, 0, sizeof(*out));
  rc = model_checked(model, err);
  if(!rc)
    rc = check_top_level(req, out, err);
  if(!rc) {
    char *name =
        sb_asprintf("%s%s", strchr(model, '/') ? "" : "models/", model);
    cJSON_AddStringToObject(gcr, "model", name);
    free(name);
    rc = build_contents(req, gcr, err);
  }
  if(!rc)
    rc = build_tools(req, gcr, err);
  if(rc) {
    cJSON_Delete(body);
    prov_http_free(out);
    return rc;
  }
  prov_http_count_body(out, body);
  out->url = model_url(p, model, "countTokens");
  add_auth_headers(p, client, out);
  return 0;
}

static int gemini_parse_count(const char *body, size_t len, int64_t *tokens)
{
  return prov_parse_count(body, len, "totalTokens", tokens);
}

/* ---- responses ---------------------------------------------------------- */

static const char *map_finish(const char *r, int saw_tool)
{
  static const char *const filter[] = {
      "SAFETY",   "BLOCKLIST",    "PROHIBITED_CONTENT",
      "SPII",     "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
      "LANGUAGE", "RECITATION",   "IMAGE_RECITATION",
  };

  if(!r)
    return saw_tool ? "tool_calls" : "stop";
  if(!strcmp(r, "MAX_TOKENS"))
    return "length";
  for(size_t i = 0; i < SB_ARRAY_LEN(filter); i++)
    if(!strcmp(r, filter[i]))
      return "content_filter";
  return saw_tool ? "tool_calls" : "stop";
}

static int64_t num(const cJSON *o, const char *k, int64_t dflt)
{
  return canon_json_count(canon_json_get(o, k), dflt);
}

/* usageMetadata -> canonical usage. */
static void read_usage(const cJSON *um, struct canon_usage *u)
{
  canon_usage_init(u);
  if(!cJSON_IsObject(um))
    return;
  u->prompt_tokens =
      num(um, "promptTokenCount", 0) + num(um, "toolUsePromptTokenCount", 0);
  u->reasoning_tokens = num(um, "thoughtsTokenCount", 0);
  u->completion_tokens =
      num(um, "candidatesTokenCount", 0) + u->reasoning_tokens;
  u->cached_tokens = num(um, "cachedContentTokenCount", 0);
}

static char *args_json(const cJSON *call)
{
  const cJSON *a = canon_json_get(call, "args");
  char *s;

  if(!cJSON_IsObject(a))
    return sb_strdup("{}");
  s = cJSON_PrintUnformatted(a);
  if(!s)
    abort();
  return s;
}

static cJSON *candidate_choice(const cJSON *cand, int index)
{
  const cJSON *part;
  cJSON *choice, *tcs = cJSON_CreateArray();
  struct buf text, reasoning; /* bounded by the body, already bounded */
  int k = 0;

  /* An empty text, not a missing one, when no part has any. */
  buf_init(&text, SIZE_MAX);
  buf_init(&reasoning, SIZE_MAX);
  buf_append(&text, "", 0);
  buf_append(&reasoning, "", 0);
  cJSON_ArrayForEach(part,
                     canon_json_get(canon_json_get(cand, "content"), "parts"))
  {
    const char *t = canon_json_str(part, "text");
    const cJSON *call = canon_json_get(part, "functionCall");

    if(t) {
      buf_appendz(cJSON_IsTrue(canon_json_get(part, "thought")) ? &reasoning
                                                                : &text,
                  t);
    } else if(cJSON_IsObject(call)) {
      const char *sig = canon_json_str(part, "thoughtSignature");
      char *id = make_call_id(canon_json_str(call, "id"), k, sig);
      char *args = args_json(call);
      cJSON *tc = canon_tool_call(id, canon_json_str(call, "name"), args);

      if(sig)
        cJSON_AddStringToObject(
            cJSON_AddObjectToObject(
                cJSON_AddObjectToObject(tc, "extra_content"), "google"),
            "thought_signature", sig);
      cJSON_AddItemToArray(tcs, tc);
      free(id);
      free(args);
      k++;
    }
  }
  choice = canon_chat_choice(
      index, text.data, reasoning.data, tcs,
      map_finish(canon_json_str(cand, "finishReason"), k > 0));
  buf_free(&text);
  buf_free(&reasoning);
  return choice;
}

static int bad_response(struct api_error *err, const char *what)
{
  api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                "Provider kind 'gemini' sent %s.", what);
  return SB_EPROTO;
}

static int gemini_parse_chat(const struct prov *p, const char *body, size_t len,
                             const char *model, const char *id, int64_t created,
                             cJSON **out, struct canon_usage *usage,
                             struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *cands = canon_json_get(root, "candidates");
  const cJSON *cand;
  cJSON *o, *choices;
  int i = 0;

  if(!cJSON_IsObject(root) || (cands && !cJSON_IsArray(cands))) {
    cJSON_Delete(root);
    return bad_response(err,
                        "a response that is not a GenerateContentResponse");
  }
  read_usage(canon_json_get(root, "usageMetadata"), usage);
  o = canon_chat_completion(id, created, model, NULL, usage);
  choices = cJSON_GetObjectItemCaseSensitive(o, "choices");
  cJSON_ArrayForEach(cand, cands)
  {
    /* An index no int holds is no index: the candidate's position is. */
    int64_t ix = canon_json_count(canon_json_get(cand, "index"), i);
    cJSON_AddItemToArray(choices,
                         candidate_choice(cand, ix <= INT_MAX ? (int)ix : i));
    i++;
  }
  if(!i) {
    /* A blocked prompt: 200 with promptFeedback.blockReason and no
     * candidates. */
    cJSON_AddItemToArray(
        choices,
        canon_chat_choice(0, NULL, NULL, NULL,
                          canon_json_str(canon_json_get(root, "promptFeedback"),
                                         "blockReason")
                              ? "content_filter"
                              : "stop"));
  }
  cJSON_Delete(root);
  *out = o;
  return 0;
}

/* ---- errors ---------------------------------------------------------------
 */

/* "API_KEY_INVALID" anywhere in error.details[].reason, or the message
 * Google sends with it. */
static int api_key_invalid(const cJSON *e)
{
  const cJSON *d;
  const char *msg = canon_json_str(e, "message");

  cJSON_ArrayForEach(d, canon_json_get(e, "details"))
  {
    const char *r = canon_json_str(d, "reason");
    if(r && !strcmp(r, "API_KEY_INVALID"))
      return 1;
  }
  return msg && strstr(msg, "API key not valid");
}

/* google.rpc.RetryInfo retryDelay "7s" / "0.5s" -> seconds (rounded up). */
static int retry_delay_s(const cJSON *e)
{
  const cJSON *d;

  cJSON_ArrayForEach(d, canon_json_get(e, "details"))
  {
    const char *delay = canon_json_str(d, "retryDelay");
    if(delay) {
      double s = atof(delay);
      int whole = (int)s;
      return s > whole ? whole + 1 : whole;
    }
  }
  return 0;
}

static void lower_code(char *dst, size_t cap, const char *status)
{
  size_t i = 0;

  for(; status && status[i] && i + 1 < cap; i++)
    dst[i] = (char)tolower((unsigned char)status[i]);
  dst[i] = '\0';
}

static void gemini_map_error(const struct prov *p, int status, const char *body,
                             size_t len, const char *retry_after,
                             const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *e = canon_json_get(root, "error");
  const char *msg = canon_json_str(e, "message");
  const char *gstatus = canon_json_str(e, "status");
  int own = !p->cfg || !p->cfg->passthrough_auth;
  char code[48];

  lower_code(code, sizeof(code), gstatus);
  if(status == 401 || status == 403 || (status == 400 && api_key_invalid(e))) {
    if(own)
      canon_err_auth_failed(err, p->name, status);
    else if(status == 403)
      api_error_set(err, 403, "invalid_request_error", "permission_denied",
                    NULL, "The provider refused the API key's permissions.");
    else
      api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                    "The provider rejected the API key.");
  } else if(status == 404) {
    api_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                  "%s", msg ? msg : "The provider does not know this model.");
  } else if(status == 429) {
    api_error_set(err, 429, "rate_limit_exceeded", "rate_limit_exceeded", NULL,
                  "%s", msg ? msg : "The provider's rate limit was reached.");
  } else if(status == 503 || status == 529) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status == 504) {
    canon_err_timeout(err, p->name, msg);
  } else if(status >= 500 || status < 400) {
    canon_err_failed(err, p->name, status, msg);
  } else {
    api_error_set(err, status, "invalid_request_error",
                  status == 413 ? "request_too_large"
                  : code[0]     ? code
                                : NULL,
                  NULL, "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(status == 429 || status == 503 || status == 529) {
    canon_retry_after(err, retry_after, retry_after_ms);
    if(!retry_after)
      err->retry_after_s = retry_delay_s(e);
  }
  cJSON_Delete(root);
}

/* ---- streams ------------------------------------------------------------ */

struct prov_stream {
  int started;
  int finished;
  int ntools;
  int saw_tool;
};

static struct prov_stream *gemini_stream_new(const struct prov *p,
                                             const char *model)
{
  return sb_calloc(1, sizeof(struct prov_stream));
}

static void gemini_stream_free(struct prov_stream *s)
{
  free(s);
}

static int gemini_stream_complete(const struct prov_stream *s)
{
  return s->finished;
}

static int stream_error(const cJSON *e, const struct canon_sink *sink)
{
  struct api_error err;
  struct canon_ev ev = {.type = CANON_EV_ERROR, .err = &err};
  const char *msg = canon_json_str(e, "message");
  char code[48];
  int rc;

  lower_code(code, sizeof(code), canon_json_str(e, "status"));
  api_error_set(&err, 502, "upstream_error", code[0] ? code : "upstream_error",
                NULL, "%s",
                msg ? msg : "The upstream provider failed mid-stream.");
  rc = canon_emit(sink, &ev);
  return rc ? rc : SB_EIO;
}

static int stream_parts(struct prov_stream *s, const cJSON *parts,
                        const struct canon_sink *sink)
{
  const cJSON *part;
  int rc = 0;

  cJSON_ArrayForEach(part, parts)
  {
    const char *t = canon_json_str(part, "text");
    const cJSON *call = canon_json_get(part, "functionCall");
    const char *sig = canon_json_str(part, "thoughtSignature");

    if(t && cJSON_IsTrue(canon_json_get(part, "thought"))) {
      struct canon_ev ev = {.type = CANON_EV_REASONING,
                            .text = t,
                            .len = strlen(t),
                            .signature = sig};
      rc = canon_emit(sink, &ev);
    } else if(t) {
      struct canon_ev ev = {.type = CANON_EV_TEXT, .text = t, .len = strlen(t)};
      rc = canon_emit(sink, &ev);
    } else if(cJSON_IsObject(call)) {
      char *id = make_call_id(canon_json_str(call, "id"), s->ntools, sig);
      char *args = args_json(call);
      struct canon_ev ev = {.type = CANON_EV_TOOL_START,
                            .id = id,
                            .index = s->ntools,
                            .name = canon_json_str(call, "name")
                                        ? canon_json_str(call, "name")
                                        : "",
                            .signature = sig};

      rc = canon_emit(sink, &ev);
      if(!rc) {
        struct canon_ev a = {.type = CANON_EV_TOOL_ARGS,
                             .index = s->ntools,
                             .text = args,
                             .len = strlen(args)};
        rc = canon_emit(sink, &a);
      }
      free(id);
      free(args);
      s->ntools++;
      s->saw_tool = 1;
    }
    if(rc)
      return rc;
  }
  return 0;
}

static int gemini_stream_feed(struct prov_stream *s,
                              const struct prov_payload *pl,
                              const struct canon_sink *sink)
{
  cJSON *root = cJSON_ParseWithLength(pl->data, pl->len);
  const cJSON *cand, *um;
  const char *reason = NULL;
  int rc = 0;

  if(!cJSON_IsObject(root)) {
    struct api_error err;
    struct canon_ev ev = {.type = CANON_EV_ERROR, .err = &err};

    cJSON_Delete(root);
    bad_response(&err, "a malformed stream chunk");
    rc = canon_emit(sink, &ev);
    return rc ? rc : SB_EPROTO;
  }
  if(cJSON_IsObject(canon_json_get(root, "error"))) {
    rc = stream_error(canon_json_get(root, "error"), sink);
    cJSON_Delete(root);
    return rc;
  }
  if(!s->started) {
    struct canon_ev ev = {.type = CANON_EV_START,
                          .id = canon_json_str(root, "responseId"),
                          .model = canon_json_str(root, "modelVersion")};
    s->started = 1;
    rc = canon_emit(sink, &ev);
  }
  cand = cJSON_GetArrayItem(canon_json_get(root, "candidates"), 0);
  if(!rc && cand) {
    rc = stream_parts(
        s, canon_json_get(canon_json_get(cand, "content"), "parts"), sink);
    reason = canon_json_str(cand, "finishReason");
  }
  um = canon_json_get(root, "usageMetadata");
  if(!rc && cJSON_IsObject(um)) {
    struct canon_ev ev = {.type = CANON_EV_USAGE};
    read_usage(um, &ev.usage);
    rc = canon_emit(sink, &ev);
  }
  if(!rc && !cand &&
     canon_json_str(canon_json_get(root, "promptFeedback"), "blockReason"))
    reason = "SAFETY";
  if(!rc && reason && !s->finished) {
    struct canon_ev ev = {.type = CANON_EV_FINISH,
                          .finish_reason = map_finish(reason, s->saw_tool)};
    s->finished = 1;
    rc = canon_emit(sink, &ev);
  }
  cJSON_Delete(root);
  return rc;
}

/* ---- embeddings -------------------------------------- */

/* batchEmbedContents takes at most this many requests. */
#define GEMINI_EMBED_MAX_INPUTS 100

/* Fields build_embeddings translates or the gateway handles; any other
 * top-level field is dropped and reported. */
static const char *const EMBED_KNOWN[] = {"model", "input", "encoding_format",
                                          "dimensions"};

/* Check a validated input for Gemini: text only (token ids are refused),
 * at most GEMINI_EMBED_MAX_INPUTS items. */
static int embed_check(const cJSON *input, struct api_error *err)
{
  const cJSON *it;
  int n = 0;

  if(cJSON_IsString(input))
    return 0;
  cJSON_ArrayForEach(it, input)
  {
    if(!cJSON_IsString(it)) {
      api_error_set(err, 400, "invalid_request_error", "unsupported_value",
                    "input",
                    "Provider kind 'gemini' embeds text only; token-id "
                    "inputs (arrays of integers) are not supported.");
      return SB_EINVAL;
    }
    n++;
  }
  if(n > GEMINI_EMBED_MAX_INPUTS) {
    api_error_set(err, 400, "invalid_request_error", "unsupported_value",
                  "input",
                  "Provider kind 'gemini' embeds at most %d inputs per "
                  "request (batchEmbedContents); got %d.",
                  GEMINI_EMBED_MAX_INPUTS, n);
    return SB_EINVAL;
  }
  return 0;
}

/* One EmbedContentRequest. */
static cJSON *embed_request(const char *name, const char *text,
                            const cJSON *dims)
{
  cJSON *r = cJSON_CreateObject();
  cJSON *part = cJSON_CreateObject();

  cJSON_AddStringToObject(r, "model", name);
  cJSON_AddStringToObject(part, "text", text);
  cJSON_AddItemToArray(
      cJSON_AddArrayToObject(cJSON_AddObjectToObject(r, "content"), "parts"),
      part);
  if(cJSON_IsNumber(dims))
    cJSON_AddNumberToObject(r, "outputDimensionality", dims->valuedouble);
  return r;
}

static int gemini_build_embeddings(const struct prov *p, const cJSON *req,
                                   const char *model,
                                   const struct prov_client *client,
                                   struct prov_http *out, struct api_error *err)
{
  const cJSON *input = canon_json_get(req, "input");
  const cJSON *dims = canon_json_get(req, "dimensions");
  const cJSON *f;
  cJSON *body, *reqs;
  char *name, *json;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = model_checked(model, err);
  if(!rc)
    rc = embed_check(input, err);
  if(rc)
    return rc;
  cJSON_ArrayForEach(f, req)
  {
    int known = 0;

    if(cJSON_IsNull(f))
      continue;
    for(size_t i = 0; i < SB_ARRAY_LEN(EMBED_KNOWN) && !known; i++)
      known = !strcmp(f->string, EMBED_KNOWN[i]);
    if(!known)
      prov_http_note_dropped(out, f->string);
  }
  /* The resource name the path uses, repeated in every request. */
  name = sb_asprintf("%s%s", strchr(model, '/') ? "" : "models/", model);
  body = cJSON_CreateObject();
  reqs = cJSON_AddArrayToObject(body, "requests");
  if(cJSON_IsString(input)) {
    cJSON_AddItemToArray(reqs, embed_request(name, input->valuestring, dims));
  } else {
    const cJSON *it;
    cJSON_ArrayForEach(it, input)
    {
      cJSON_AddItemToArray(reqs, embed_request(name, it->valuestring, dims));
    }
  }
  free(name);
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = model_url(p, model, "batchEmbedContents");
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: application/json");
  prov_http_add_header(out, "Expect:");
  add_auth_headers(p, client, out);
  return 0;
}

/* The number of inputs of a validated request (1 for a string). */
static int embed_count(const cJSON *req)
{
  const cJSON *input = canon_json_get(req, "input");
  return cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
}

static int gemini_parse_embeddings(const struct prov *p, const char *body,
                                   size_t len, const cJSON *req,
                                   const char *model, cJSON **out,
                                   struct canon_usage *usage,
                                   struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *embs = canon_json_get(root, "embeddings");
  const cJSON *e;
  cJSON *o, *data, *us;
  int i = 0;

  /* Gemini reports no token counts for embeddings: unknown (-1). */
  canon_usage_init(usage);
  if(!cJSON_IsArray(embs) || cJSON_GetArraySize(embs) != embed_count(req)) {
    cJSON_Delete(root);
    return bad_response(err, "a response that is not a "
                             "BatchEmbedContentsResponse with one embedding "
                             "per input");
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  cJSON_ArrayForEach(e, embs)
  {
    const cJSON *values = canon_json_get(e, "values");
    const cJSON *v;
    cJSON *d, *vec;

    if(!cJSON_IsArray(values) || !cJSON_GetArraySize(values)) {
      cJSON_Delete(o);
      cJSON_Delete(root);
      return bad_response(err, "an embedding without values");
    }
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "object", "embedding");
    cJSON_AddNumberToObject(d, "index", i++);
    vec = cJSON_AddArrayToObject(d, "embedding");
    cJSON_AddItemToArray(data, d);
    cJSON_ArrayForEach(v, values)
    {
      if(!cJSON_IsNumber(v)) {
        cJSON_Delete(o);
        cJSON_Delete(root);
        return bad_response(err, "an embedding value that is not a number");
      }
      cJSON_AddItemToArray(vec, cJSON_CreateNumber(v->valuedouble));
    }
  }
  cJSON_AddStringToObject(o, "model", model);
  /* OpenAI's list always has usage; the counts are not known. */
  us = cJSON_AddObjectToObject(o, "usage");
  cJSON_AddNumberToObject(us, "prompt_tokens", 0);
  cJSON_AddNumberToObject(us, "total_tokens", 0);
  cJSON_Delete(root);
  *out = o;
  return 0;
}

/* ---- models ------------------------------------------------------------- */

static void gemini_build_models(const struct prov *p, struct prov_http *out)
{
  memset(out, 0, sizeof(*out));
  out->url = sb_asprintf("%s/models?pageSize=1000", p->base_url);
  prov_http_add_header(out, "Accept: application/json");
  if(p->api_key && !(p->cfg && p->cfg->passthrough_auth))
    prov_http_add_header(out, "x-goog-api-key: %s", p->api_key);
  if(p->cfg)
    for(int i = 0; i < p->cfg->nheaders; i++)
      prov_http_add_header(out, "%s: %s", p->cfg->headers[i].name,
                           p->cfg->headers[i].value);
}

/* "models/gemini-2.0-flash" -> "gemini-2.0-flash". */
static const char *model_name(const cJSON *m)
{
  const char *name = canon_json_str(m, "name");

  if(name && !strncmp(name, "models/", 7))
    name += 7;
  return name;
}

static int gemini_parse_models(const char *body, size_t len, char ***models,
                               int *nmodels)
{
  return canon_models_parse(body, len, "models", model_name, models, nmodels);
}

const struct prov_adapter prov_gemini_adapter = {
    .kind = "gemini",
    .caps = GEMINI_CAPS,
    .framing = PROV_FRAMING_SSE,
    .default_base_url = "https://generativelanguage.googleapis.com/v1beta",
    .build_chat = gemini_build_chat,
    .build_count = gemini_build_count,
    .parse_count = gemini_parse_count,
    .parse_chat = gemini_parse_chat,
    .stream_new = gemini_stream_new,
    .stream_feed = gemini_stream_feed,
    .stream_complete = gemini_stream_complete,
    .stream_free = gemini_stream_free,
    .map_error = gemini_map_error,
    .build_embeddings = gemini_build_embeddings,
    .parse_embeddings = gemini_parse_embeddings,
    .build_models = gemini_build_models,
    .parse_models = gemini_parse_models,
};
