/*
 * bedrock.c - OpenAI Chat Completions <-> AWS Bedrock Converse
 * (docs/providers/bedrock.md).
 */
#include "providers/bedrock.h"
#include "codec/canon_doc.h"
#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "providers/sigv4.h"
#include "base/buf.h"

#include <stdint.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Content block indexes above this in a stream are refused as malformed. */
#define BR_MAX_BLOCKS 4096

struct br_opts {
  char *region;
  char *access_key; /* NULL with bearer auth (api_key_env) */
  char *secret_key;
  char *session_token; /* or NULL */
  time_t (*clock)(void);
};

static time_t wall_clock(void)
{
  return time(NULL);
}

/* ---- configuration --------------------------------------------------- */

static void secret_free(char *s)
{
  if(s) {
    memset(s, 0, strlen(s));
    free(s);
  }
}

static void opts_free(struct br_opts *o)
{
  if(!o)
    return;
  free(o->region);
  secret_free(o->access_key);
  secret_free(o->secret_key);
  secret_free(o->session_token);
  free(o);
}

static int valid_region(const char *r)
{
  if(!r[0])
    return 0;
  for(; *r; r++)
    if(!islower((unsigned char)*r) && !isdigit((unsigned char)*r) && *r != '-')
      return 0;
  return 1;
}

static int env_name_opt(const cJSON *it, const char *path, const char **dst,
                        char *err, size_t errlen)
{
  if(!cJSON_IsString(it) || !it->valuestring[0]) {
    snprintf(err, errlen, "%s.%s: expected a non-empty string", path,
             it->string);
    return SB_ECONFIG;
  }
  *dst = it->valuestring;
  return 0;
}

static int configure(struct prov *p, const cJSON *options, const char *path,
                     char *err, size_t errlen)
{
  struct br_opts *o = sb_calloc(1, sizeof(*o));
  const char *ak_env = "AWS_ACCESS_KEY_ID", *sk_env = "AWS_SECRET_ACCESS_KEY";
  const char *st_env = "AWS_SESSION_TOKEN";
  int st_explicit = 0;
  int bearer = p->cfg && p->cfg->api_key_env;
  const cJSON *it;
  const char *v;

  o->clock = wall_clock;
  if(options && !cJSON_IsObject(options)) {
    snprintf(err, errlen, "%s: expected an object", path);
    goto bad;
  }
  cJSON_ArrayForEach(it, options)
  {
    const char *k = it->string;

    if(!strcmp(k, "region")) {
      if(!cJSON_IsString(it) || !valid_region(it->valuestring)) {
        snprintf(err, errlen,
                 "%s.region: expected an AWS region name such as "
                 "\"us-east-1\"",
                 path);
        goto bad;
      }
      free(o->region);
      o->region = sb_strdup(it->valuestring);
    } else if(!strcmp(k, "access_key_env")) {
      if(env_name_opt(it, path, &ak_env, err, errlen))
        goto bad;
    } else if(!strcmp(k, "secret_key_env")) {
      if(env_name_opt(it, path, &sk_env, err, errlen))
        goto bad;
    } else if(!strcmp(k, "session_token_env")) {
      if(env_name_opt(it, path, &st_env, err, errlen))
        goto bad;
      st_explicit = 1;
    } else {
      snprintf(err, errlen, "%s.%s: unknown option for provider kind 'bedrock'",
               path, k);
      goto bad;
    }
  }
  if(!o->region) {
    snprintf(err, errlen,
             "%s.region: required for provider kind 'bedrock' (e.g. "
             "\"us-east-1\")",
             path);
    goto bad;
  }
  if(!bearer) {
    v = getenv(ak_env);
    if(!v || !*v) {
      snprintf(err, errlen,
               "provider %s: environment variable %s (access_key_env) is not "
               "set",
               p->name, ak_env);
      goto bad;
    }
    o->access_key = sb_strdup(v);
    v = getenv(sk_env);
    if(!v || !*v) {
      snprintf(err, errlen,
               "provider %s: environment variable %s (secret_key_env) is not "
               "set",
               p->name, sk_env);
      goto bad;
    }
    o->secret_key = sb_strdup(v);
    v = getenv(st_env);
    if(v && *v) {
      o->session_token = sb_strdup(v);
    } else if(st_explicit) {
      snprintf(err, errlen,
               "provider %s: environment variable %s (session_token_env) is "
               "not set",
               p->name, st_env);
      goto bad;
    }
  }
  /* No base_url in the config: the regional endpoint. */
  if(!p->base_url || !p->base_url[0] || strstr(p->base_url, "{region}")) {
    free(p->base_url);
    p->base_url =
        sb_asprintf("https://bedrock-runtime.%s.amazonaws.com", o->region);
  }
  p->priv = o;
  return 0;
bad:
  opts_free(o);
  return SB_ECONFIG;
}

static void unconfigure(struct prov *p)
{
  opts_free(p->priv);
  p->priv = NULL;
}

void prov_bedrock_set_clock(struct prov *p, time_t (*clock)(void))
{
  struct br_opts *o = p->priv;
  if(o)
    o->clock = clock ? clock : wall_clock;
}

/* ---- request: messages ----------------------------------------------- */

static cJSON *text_block(const char *text)
{
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "text", text);
  return b;
}

/* Append the non-empty text of content (a string or text parts). */
static void add_text_blocks(cJSON *blocks, const cJSON *content)
{
  const cJSON *part;

  if(cJSON_IsString(content)) {
    if(content->valuestring[0])
      cJSON_AddItemToArray(blocks, text_block(content->valuestring));
    return;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *type = canon_json_str(part, "type");
    const char *text = canon_json_str(part, "text");

    if(type && !strcmp(type, "refusal"))
      text = canon_json_str(part, "refusal");
    else if(!type || strcmp(type, "text"))
      continue;
    if(text && text[0])
      cJSON_AddItemToArray(blocks, text_block(text));
  }
}

static cJSON *bytes_source(const char *data)
{
  cJSON *src = cJSON_CreateObject();
  cJSON_AddStringToObject(src, "bytes", data);
  return src;
}

static int image_block(const cJSON *part, const char *param, cJSON **out,
                       struct api_error *err)
{
  static const char *const TYPES[] = {"image/png", "image/jpeg", "image/gif",
                                      "image/webp"};
  const char *url = canon_json_str(canon_json_get(part, "image_url"), "url");
  char media[64];
  const char *data, *format = NULL;
  cJSON *b, *img;

  if(!url)
    return canon_reject(err, 400, "missing_required_parameter", param,
                        "Missing required parameter: '%s.image_url.url'.",
                        param);
  if(strncasecmp(url, "data:", 5))
    return canon_reject(
        err, 400, "unsupported_value", param,
        "Bedrock cannot fetch image URLs: send the image in '%s' as "
        "a base64 data URL (data:image/png;base64,...).",
        param);
  if(canon_data_url(url, media, sizeof(media), &data))
    return canon_reject(err, 400, "invalid_value", param,
                        "Invalid image data URL in '%s': expected "
                        "data:<media type>;base64,<data>.",
                        param);
  for(size_t i = 0; i < SB_ARRAY_LEN(TYPES); i++)
    if(!strcmp(media, TYPES[i]))
      format = TYPES[i] + 6;
  if(!format)
    return canon_reject(
        err, 400, "unsupported_value", param,
        "Image media type '%s' in '%s' is not supported by Bedrock "
        "(supported: image/png, image/jpeg, image/gif, image/webp).",
        media, param);
  b = cJSON_CreateObject();
  img = cJSON_AddObjectToObject(b, "image");
  cJSON_AddStringToObject(img, "format", format);
  cJSON_AddItemToObject(img, "source", bytes_source(data));
  *out = b;
  return 0;
}

static int file_block(const cJSON *part, const char *param, int n, cJSON **out,
                      struct api_error *err)
{
  const char *fd = canon_json_str(canon_json_get(part, "file"), "file_data");
  char media[64], name[32];
  const char *data = fd;
  cJSON *b, *doc;

  if(!fd)
    return canon_reject(
        err, 400, "unsupported_value", param,
        "File parts in '%s' need file_data: Bedrock cannot read "
        "OpenAI file ids.",
        param);
  if(!strncasecmp(fd, "data:", 5) &&
     (canon_data_url(fd, media, sizeof(media), &data) ||
      strcmp(media, "application/pdf")))
    return canon_reject(
        err, 400, "unsupported_value", param,
        "File data in '%s' must be a base64 application/pdf data URL.", param);
  /* Document names allow only letters, digits, spaces, hyphens,
   * parentheses and brackets, and must be unique in a request. */
  snprintf(name, sizeof(name), "document-%d", n);
  b = cJSON_CreateObject();
  doc = cJSON_AddObjectToObject(b, "document");
  cJSON_AddStringToObject(doc, "format", "pdf");
  cJSON_AddStringToObject(doc, "name", name);
  cJSON_AddItemToObject(doc, "source", bytes_source(data));
  *out = b;
  return 0;
}

static int user_blocks(const cJSON *content, int mi, cJSON *blocks, int *ndocs,
                       struct api_error *err)
{
  const cJSON *part;
  int j = 0;

  if(!cJSON_IsArray(content)) {
    add_text_blocks(blocks, content);
    return 0;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *type = canon_json_str(part, "type");
    char param[96];
    cJSON *b = NULL;
    int rc = 0;

    snprintf(param, sizeof(param), "messages[%d].content[%d]", mi, j++);
    if(!type)
      continue;
    if(!strcmp(type, "text")) {
      const char *t = canon_json_str(part, "text");
      if(t && t[0])
        b = text_block(t);
    } else if(!strcmp(type, "image_url")) {
      rc = image_block(part, param, &b, err);
    } else if(!strcmp(type, "file")) {
      rc = file_block(part, param, ++*ndocs, &b, err);
    } else {
      rc = canon_reject(
          err, 400, "unsupported_parameter", param,
          "Content parts of type '%s' are not supported by Bedrock.", type);
    }
    if(rc)
      return rc;
    if(b)
      cJSON_AddItemToArray(blocks, b);
  }
  return 0;
}

/* toolUseId: [a-zA-Z0-9_.:-]+, at most 64 characters. */
static int valid_tool_id(const char *id)
{
  size_t n = strlen(id);
  if(n == 0 || n > 64)
    return 0;
  for(; *id; id++)
    if(!isalnum((unsigned char)*id) && !strchr("_.:-", *id))
      return 0;
  return 1;
}

/* Bedrock's own signed reasoning (format bedrock-converse-v1) back into
 * the assistant turn it came in, first, as Claude on Bedrock requires;
 * any other provider's reasoning is not Bedrock's to verify and stays out.
 * Returns how many blocks were added. */
static int reasoning_blocks(const cJSON *details, cJSON *blocks)
{
  const cJSON *d;
  int n = 0;

  cJSON_ArrayForEach(d, details)
  {
    cJSON *b, *rc_;

    if(!canon_reasoning_is(d, CANON_FMT_BEDROCK))
      continue;
    b = cJSON_CreateObject();
    rc_ = cJSON_AddObjectToObject(b, "reasoningContent");
    if(!strcmp(canon_json_str(d, "type"), "reasoning.encrypted")) {
      cJSON_AddStringToObject(rc_, "redactedContent",
                              canon_json_str(d, "data"));
    } else if(canon_json_str(d, "signature")) {
      cJSON *rt = cJSON_AddObjectToObject(rc_, "reasoningText");
      cJSON_AddStringToObject(rt, "text", canon_json_str(d, "text"));
      cJSON_AddStringToObject(rt, "signature", canon_json_str(d, "signature"));
    } else {
      cJSON_Delete(b);
      continue;
    }
    cJSON_AddItemToArray(blocks, b);
    n++;
  }
  return n;
}

static int assistant_blocks(const cJSON *m, int mi, cJSON *blocks,
                            struct api_error *err)
{
  const cJSON *tc;
  int j = 0;

  reasoning_blocks(canon_json_get(m, "reasoning_details"), blocks);
  add_text_blocks(blocks, canon_json_get(m, "content"));
  cJSON_ArrayForEach(tc, canon_json_get(m, "tool_calls"))
  {
    const cJSON *fn = canon_json_get(tc, "function");
    const char *id = canon_json_str(tc, "id");
    const char *name = canon_json_str(fn, "name");
    const char *args = canon_json_str(fn, "arguments");
    const char *type = canon_json_str(tc, "type");
    char param[96];
    cJSON *input, *b, *tu;

    if(type && strcmp(type, "function")) {
      snprintf(param, sizeof(param), "messages[%d].tool_calls[%d].type", mi, j);
      return canon_reject(
          err, 400, "unsupported_value", param,
          "Tool calls of type '%s' are not supported by Bedrock.", type);
    }
    snprintf(param, sizeof(param), "messages[%d].tool_calls[%d]", mi, j);
    if(!id || !name)
      return canon_reject(err, 400, "missing_required_parameter", param,
                          "Tool call '%s' needs an id and a function name.",
                          param);
    if(!valid_tool_id(id)) {
      snprintf(param, sizeof(param), "messages[%d].tool_calls[%d].id", mi, j);
      return canon_reject(
          err, 400, "invalid_value", param,
          "Bedrock tool call ids must match [a-zA-Z0-9_.:-]+ and "
          "have at most 64 characters ('%s').",
          param);
    }
    snprintf(param, sizeof(param),
             "messages[%d].tool_calls[%d].function.arguments", mi, j);
    if(!args || canon_blank(args)) {
      input = cJSON_CreateObject();
    } else {
      input = cJSON_Parse(args);
      if(!cJSON_IsObject(input)) {
        cJSON_Delete(input);
        return canon_reject(
            err, 400, "invalid_value", param,
            "'%s' must be a JSON object for Bedrock, which takes "
            "tool arguments as objects.",
            param);
      }
    }
    b = cJSON_CreateObject();
    tu = cJSON_AddObjectToObject(b, "toolUse");
    cJSON_AddStringToObject(tu, "toolUseId", id);
    cJSON_AddStringToObject(tu, "name", name);
    cJSON_AddItemToObject(tu, "input", input);
    cJSON_AddItemToArray(blocks, b);
    j++;
  }
  return 0;
}

static int tool_result_block(const cJSON *m, int mi, cJSON *blocks,
                             struct api_error *err)
{
  const char *id = canon_json_str(m, "tool_call_id");
  cJSON *b, *tr, *content;

  if(!id || !valid_tool_id(id)) {
    char param[64];
    snprintf(param, sizeof(param), "messages[%d].tool_call_id", mi);
    return canon_reject(
        err, 400, "invalid_value", param,
        "Bedrock tool call ids must match [a-zA-Z0-9_.:-]+ and have "
        "at most 64 characters ('%s').",
        param);
  }
  b = cJSON_CreateObject();
  tr = cJSON_AddObjectToObject(b, "toolResult");
  cJSON_AddStringToObject(tr, "toolUseId", id);
  content = cJSON_AddArrayToObject(tr, "content");
  /* Empty text is refused by Bedrock; an empty list is accepted. */
  add_text_blocks(content, canon_json_get(m, "content"));
  cJSON_AddItemToArray(blocks, b);
  return 0;
}

/* Every toolUse and toolResult block of msgs (Converse messages) as a text
 * block saying what it was. */
static void tools_as_text(cJSON *msgs)
{
  cJSON *m, *b;

  cJSON_ArrayForEach(m, msgs)
  {
    cJSON_ArrayForEach(b, canon_json_get(m, "content"))
    {
      const cJSON *tu = canon_json_get(b, "toolUse");
      const cJSON *tr = canon_json_get(b, "toolResult");
      char *text = NULL;

      if(cJSON_IsObject(tu)) {
        char *in = cJSON_PrintUnformatted(canon_json_get(tu, "input"));
        text = sb_asprintf("[tool call %s %s: %s]",
                           canon_json_str(tu, "toolUseId"),
                           canon_json_str(tu, "name"), in ? in : "{}");
        free(in);
      } else if(cJSON_IsObject(tr)) {
        struct buf t;
        const cJSON *c;
        buf_init(&t, SIZE_MAX);
        buf_printf(&t, "[tool result %s: ", canon_json_str(tr, "toolUseId"));
        cJSON_ArrayForEach(c, canon_json_get(tr, "content"))
        {
          const char *x = canon_json_str(c, "text");
          char *j =
              x ? NULL : cJSON_PrintUnformatted(canon_json_get(c, "json"));
          buf_appendz(&t, x ? x : j ? j : "");
          free(j);
        }
        buf_appendz(&t, "]");
        text = buf_take(&t, NULL);
      }
      if(text) {
        cJSON_DeleteItemFromObjectCaseSensitive(b, "toolUse");
        cJSON_DeleteItemFromObjectCaseSensitive(b, "toolResult");
        cJSON_AddStringToObject(b, "text", text);
        free(text);
      }
    }
  }
}

/* 1 when msgs (Converse messages) continue a tool loop, the last user
 * turn answering toolUse blocks, whose assistant turn does not start with
 * reasoning: with thinking on, Claude on Bedrock refuses such a request. */
static int loop_lacks_reasoning(const cJSON *msgs)
{
  const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
  const cJSON *b;
  int results = 0;

  if(!last || !last->prev || last == msgs->child)
    return 0;
  cJSON_ArrayForEach(b, canon_json_get(last, "content")) results |=
      cJSON_IsObject(canon_json_get(b, "toolResult"));
  if(!results)
    return 0;
  b = cJSON_GetArrayItem(canon_json_get(last->prev, "content"), 0);
  return !cJSON_IsObject(canon_json_get(b, "reasoningContent"));
}

static int translate_messages(const cJSON *req, cJSON *system, cJSON *msgs,
                              int *tool_history, struct prov_http *out,
                              struct api_error *err)
{
  const cJSON *m;
  int i = 0, named = 0, ndocs = 0;

  cJSON_ArrayForEach(m, canon_json_get(req, "messages"))
  {
    const char *role = canon_json_str(m, "role");
    cJSON *blocks = cJSON_CreateArray();
    int rc = 0;

    if(!role)
      role = "";
    if(canon_json_present(m, "name") && !named) {
      prov_http_note_dropped(out, "messages.name");
      named = 1;
    }
    if(!strcmp(role, "system") || !strcmp(role, "developer")) {
      add_text_blocks(system, canon_json_get(m, "content"));
      cJSON_Delete(blocks);
      i++;
      continue;
    }
    if(!strcmp(role, "user")) {
      rc = user_blocks(canon_json_get(m, "content"), i, blocks, &ndocs, err);
    } else if(!strcmp(role, "assistant")) {
      rc = assistant_blocks(m, i, blocks, err);
      if(cJSON_GetArraySize(canon_json_get(m, "tool_calls")))
        *tool_history = 1;
    } else if(!strcmp(role, "tool")) {
      rc = tool_result_block(m, i, blocks, err);
      role = "user";
      *tool_history = 1;
    } else {
      char param[64];
      snprintf(param, sizeof(param), "messages[%d].role", i);
      rc = canon_reject(
          err, 400, "unsupported_value", param,
          "Messages with role '%s' are not supported by Bedrock; use "
          "tools and tool messages.",
          role);
    }
    if(rc) {
      cJSON_Delete(blocks);
      return rc;
    }
    canon_add_turn(msgs, role, blocks);
    i++;
  }
  if(!cJSON_GetArraySize(msgs))
    return canon_reject(
        err, 400, "invalid_value", "messages",
        "Bedrock needs at least one user or assistant message with "
        "non-empty content.");
  return 0;
}

/* ---- request: everything else ---------------------------------------- */

static int translate_tools(const cJSON *req, cJSON *tc_out,
                           struct prov_http *out, struct api_error *err)
{
  const cJSON *t;
  cJSON *arr = cJSON_AddArrayToObject(tc_out, "tools");
  int i = 0, strict_noted = 0;

  cJSON_ArrayForEach(t, canon_json_get(req, "tools"))
  {
    const char *type = canon_json_str(t, "type");
    const cJSON *fn = canon_json_get(t, "function");
    const cJSON *params = canon_json_get(fn, "parameters");
    const char *desc = canon_json_str(fn, "description");
    cJSON *a, *spec, *schema;

    if(!type || strcmp(type, "function")) {
      char param[48];
      snprintf(param, sizeof(param), "tools[%d].type", i);
      return canon_reject(err, 400, "unsupported_value", param,
                          "Tools of type '%s' are not supported by Bedrock.",
                          type ? type : "");
    }
    a = cJSON_CreateObject();
    spec = cJSON_AddObjectToObject(a, "toolSpec");
    cJSON_AddStringToObject(spec, "name", canon_json_str(fn, "name"));
    if(desc && desc[0])
      cJSON_AddStringToObject(spec, "description", desc);
    schema = cJSON_AddObjectToObject(spec, "inputSchema");
    if(cJSON_IsObject(params)) {
      cJSON_AddItemToObject(schema, "json", cJSON_Duplicate(params, 1));
    } else {
      cJSON *s = cJSON_AddObjectToObject(schema, "json");
      cJSON_AddStringToObject(s, "type", "object");
      cJSON_AddObjectToObject(s, "properties");
    }
    cJSON_AddItemToArray(arr, a);
    if(canon_json_present(fn, "strict") && !strict_noted) {
      prov_http_note_dropped(out, "tools.function.strict");
      strict_noted = 1;
    }
    i++;
  }
  return 0;
}

/* toolConfig (docs/providers/bedrock.md). */
static int translate_tool_config(const cJSON *req, int tool_history,
                                 cJSON *body, struct prov_http *out,
                                 struct api_error *err)
{
  const cJSON *tc = canon_json_get(req, "tool_choice");
  cJSON *cfg, *choice = NULL;
  int rc;

  if(canon_json_present(req, "functions"))
    return canon_reject(
        err, 400, "unsupported_parameter", "functions",
        "'functions' is not supported by the Bedrock provider; use "
        "'tools'.");
  if(cJSON_IsFalse(canon_json_get(req, "parallel_tool_calls")))
    return canon_reject(err, 400, "unsupported_parameter",
                        "parallel_tool_calls",
                        "Bedrock cannot turn off parallel tool calls "
                        "('parallel_tool_calls': false).");
  if(!cJSON_GetArraySize(canon_json_get(req, "tools")))
    return 0;
  if(cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    if(!strcmp(s, "none")) {
      /* Bedrock has no "none": leave the tools out, which it accepts only
       * when the conversation holds no tool blocks. */
      if(tool_history)
        return canon_reject(err, 400, "unsupported_value", "tool_choice",
                            "Bedrock cannot express tool_choice 'none' in a "
                            "conversation that contains tool calls.");
      return 0;
    }
    choice = cJSON_CreateObject();
    if(!strcmp(s, "auto")) {
      cJSON_AddObjectToObject(choice, "auto");
    } else if(!strcmp(s, "required")) {
      cJSON_AddObjectToObject(choice, "any");
    } else {
      cJSON_Delete(choice);
      return canon_reject(err, 400, "invalid_value", "tool_choice",
                          "Invalid value for 'tool_choice': '%s'.", s);
    }
  } else if(cJSON_IsObject(tc)) {
    const char *type = canon_json_str(tc, "type");
    const char *name = canon_json_str(canon_json_get(tc, "function"), "name");
    cJSON *t;
    if(!type || strcmp(type, "function") || !name)
      return canon_reject(
          err, 400, "unsupported_value", "tool_choice",
          "tool_choice of type '%s' is not supported by Bedrock.",
          type ? type : "");
    choice = cJSON_CreateObject();
    t = cJSON_AddObjectToObject(choice, "tool");
    cJSON_AddStringToObject(t, "name", name);
  }
  cfg = cJSON_AddObjectToObject(body, "toolConfig");
  rc = translate_tools(req, cfg, out, err);
  if(rc) {
    cJSON_Delete(choice);
    return rc;
  }
  if(choice)
    cJSON_AddItemToObject(cfg, "toolChoice", choice);
  return 0;
}

static int anthropic_model(const char *model)
{
  return strstr(model, "anthropic.") != NULL;
}

static int thinking_budget(const char *effort, int64_t *budget,
                           struct api_error *err)
{
  static const struct {
    const char *name;
    int64_t budget;
  } LEVELS[] = {
      {"none", 0},
      {"minimal", PROV_BEDROCK_BUDGET_LOW},
      {"low", PROV_BEDROCK_BUDGET_LOW},
      {"medium", PROV_BEDROCK_BUDGET_MEDIUM},
      {"high", PROV_BEDROCK_BUDGET_HIGH},
  };
  for(size_t i = 0; i < SB_ARRAY_LEN(LEVELS); i++)
    if(!strcmp(effort, LEVELS[i].name)) {
      *budget = LEVELS[i].budget;
      return 0;
    }
  return canon_reject(
      err, 400, "invalid_value", "reasoning_effort",
      "Invalid value for 'reasoning_effort': '%s'. Supported values "
      "are: 'none', 'minimal', 'low', 'medium', 'high'.",
      effort);
}

/* Advisory parameters (docs/adapters.md): dropped and reported. */
static const char *const DROPPED[] = {
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "service_tier",
    "verbosity",
    "web_search_options",
};

/* Class B parameters Bedrock's Converse lacks. */
static int refuse_unsupported(const struct prov *p, const cJSON *req,
                              struct api_error *err)
{
  const cJSON *v;

  if(canon_json_present(req, "seed"))
    return canon_reject(err, 400, "unsupported_parameter", "seed",
                        "Provider '%s' (bedrock) does not support 'seed'.",
                        p->name);
  if(cJSON_IsNumber(v = canon_json_get(req, "presence_penalty")) &&
     v->valuedouble != 0)
    return canon_reject(
        err, 400, "unsupported_parameter", "presence_penalty",
        "Provider '%s' (bedrock) does not support 'presence_penalty'.",
        p->name);
  if(cJSON_IsNumber(v = canon_json_get(req, "frequency_penalty")) &&
     v->valuedouble != 0)
    return canon_reject(err, 400, "unsupported_parameter", "frequency_penalty",
                        "Provider '%s' (bedrock) does not support "
                        "'frequency_penalty'.",
                        p->name);
  if(canon_json_present(req, "prediction"))
    return canon_reject(
        err, 400, "unsupported_parameter", "prediction",
        "Provider '%s' (bedrock) does not support 'prediction'.", p->name);
  if(cJSON_IsNumber(v = canon_json_get(req, "n")) && v->valuedouble > 1)
    return canon_reject(err, 400, "unsupported_parameter", "n",
                        "Provider '%s' (bedrock) does not support 'n'.",
                        p->name);
  if(cJSON_IsNumber(v = canon_json_get(req, "temperature")) &&
     v->valuedouble > 1)
    return canon_reject(
        err, 400, "unsupported_value", "temperature",
        "Bedrock accepts 'temperature' between 0 and 1, got %g.",
        v->valuedouble);
  return 0;
}

static int translate(const struct prov *p, const cJSON *req, const char *model,
                     cJSON *body, struct prov_http *out, struct api_error *err)
{
  const cJSON *v;
  cJSON *system = cJSON_CreateArray();
  cJSON *msgs = cJSON_CreateArray();
  cJSON *inf = cJSON_CreateObject();
  cJSON *extra = cJSON_CreateObject();
  int64_t max_tokens = -1, budget = 0;
  int tool_history = 0, rc;

  rc = translate_messages(req, system, msgs, &tool_history, out, err);
  if(!rc)
    rc = refuse_unsupported(p, req, err);
  if(!rc && cJSON_IsString(v = canon_json_get(req, "reasoning_effort"))) {
    rc = thinking_budget(v->valuestring, &budget, err);
    if(!rc && budget && !anthropic_model(model))
      rc = canon_reject(
          err, 400, "unsupported_parameter", "reasoning_effort",
          "Provider '%s' (bedrock) supports 'reasoning_effort' only for "
          "Anthropic models.",
          p->name);
  }
  if(!rc && budget && loop_lacks_reasoning(msgs)) {
    /* A tool loop another provider began (its reasoning is not Bedrock's
     * to send): Claude refuses thinking for it, so this step goes
     * without. */
    prov_http_note_dropped(out, "reasoning_effort");
    budget = 0;
  }
  v = canon_json_get(req, "top_k");
  if(!rc && v && !cJSON_IsNull(v)) {
    if(!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
       v->valuedouble < 0)
      rc = canon_reject(
          err, 400, "invalid_type", "top_k",
          "Invalid type for 'top_k': expected a non-negative integer.");
    else
      cJSON_AddNumberToObject(extra, "top_k", v->valuedouble);
  }
  if(rc)
    goto done;

  cJSON_AddItemToObject(body, "messages", msgs);
  msgs = NULL;
  if(cJSON_GetArraySize(system)) {
    cJSON_AddItemToObject(body, "system", system);
    system = NULL;
  }

  if(cJSON_IsNumber(v = canon_json_get(req, "max_completion_tokens")) ||
     cJSON_IsNumber(v = canon_json_get(req, "max_tokens")))
    max_tokens = (int64_t)v->valuedouble;
  if(budget) {
    cJSON *t = cJSON_AddObjectToObject(extra, "thinking");
    cJSON_AddStringToObject(t, "type", "enabled");
    cJSON_AddNumberToObject(t, "budget_tokens", (double)budget);
    /* maxTokens counts thinking too and must exceed the budget. */
    if(max_tokens >= 0 && max_tokens <= budget)
      max_tokens += budget;
  }
  if(max_tokens >= 0)
    cJSON_AddNumberToObject(inf, "maxTokens", (double)max_tokens);
  if(cJSON_IsNumber(v = canon_json_get(req, "temperature")))
    cJSON_AddNumberToObject(inf, "temperature", v->valuedouble);
  if(cJSON_IsNumber(v = canon_json_get(req, "top_p")))
    cJSON_AddNumberToObject(inf, "topP", v->valuedouble);
  v = canon_json_get(req, "stop");
  if(cJSON_IsString(v) && v->valuestring[0]) {
    cJSON *a = cJSON_AddArrayToObject(inf, "stopSequences");
    cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
  } else if(cJSON_GetArraySize(v)) {
    cJSON *a = cJSON_AddArrayToObject(inf, "stopSequences");
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
      if(cJSON_IsString(s) && s->valuestring[0])
        cJSON_AddItemToArray(a, cJSON_CreateString(s->valuestring));
    }
  }
  if(inf->child) {
    cJSON_AddItemToObject(body, "inferenceConfig", inf);
    inf = NULL;
  }

  rc = translate_tool_config(req, tool_history, body, out, err);
  if(rc)
    goto done;
  if(tool_history && !canon_json_get(body, "toolConfig")) {
    /* Bedrock refuses tool blocks in a request without toolConfig; a
     * turn without tools after a tool loop (a conversation moving on, or
     * moved here from another provider) keeps them as text, which the
     * model reads the same, rather than failing. */
    tools_as_text(cJSON_GetObjectItemCaseSensitive(body, "messages"));
    prov_http_note_dropped(out, "messages.tool_calls (sent as text)");
  }

  v = canon_json_get(req, "response_format");
  if(cJSON_IsObject(v)) {
    const char *type = canon_json_str(v, "type");
    if(type && !strcmp(type, "json_object")) {
      rc = canon_reject(
          err, 400, "unsupported_value", "response_format.type",
          "response_format 'json_object' is not supported by Bedrock; "
          "use 'json_schema' with a schema.");
      goto done;
    }
    if(type && !strcmp(type, "json_schema")) {
      const cJSON *js = canon_json_get(v, "json_schema");
      const cJSON *schema = canon_json_get(js, "schema");
      const char *name = canon_json_str(js, "name");
      const char *desc = canon_json_str(js, "description");
      cJSON *oc, *tf, *st, *jsch;
      char *s;
      if(!cJSON_IsObject(schema)) {
        rc =
            canon_reject(err, 400, "missing_required_parameter",
                         "response_format.json_schema.schema",
                         "Bedrock needs 'response_format.json_schema.schema'.");
        goto done;
      }
      s = cJSON_PrintUnformatted(schema);
      if(!s)
        abort();
      oc = cJSON_AddObjectToObject(body, "outputConfig");
      tf = cJSON_AddObjectToObject(oc, "textFormat");
      cJSON_AddStringToObject(tf, "type", "json_schema");
      st = cJSON_AddObjectToObject(tf, "structure");
      jsch = cJSON_AddObjectToObject(st, "jsonSchema");
      cJSON_AddStringToObject(jsch, "schema", s);
      free(s);
      if(name)
        cJSON_AddStringToObject(jsch, "name", name);
      if(desc)
        cJSON_AddStringToObject(jsch, "description", desc);
    }
  }
  if(extra->child) {
    cJSON_AddItemToObject(body, "additionalModelRequestFields", extra);
    extra = NULL;
  }

  for(size_t i = 0; i < SB_ARRAY_LEN(DROPPED); i++)
    if(canon_json_present(req, DROPPED[i]))
      prov_http_note_dropped(out, DROPPED[i]);
  if(canon_json_present(canon_json_get(req, "stream_options"),
                        "include_obfuscation"))
    prov_http_note_dropped(out, "stream_options.include_obfuscation");
done:
  cJSON_Delete(system);
  cJSON_Delete(msgs);
  cJSON_Delete(inf);
  cJSON_Delete(extra);
  return rc;
}

/* Authorization: SigV4 with the configured AWS keys, or a Bedrock API key
 * (api_key_env, or the client's own with passthrough_auth) as Bearer. */
static int add_auth(const struct prov *p, const struct prov_client *client,
                    struct prov_http *out, struct api_error *err)
{
  const struct br_opts *o = p->priv;
  const struct config_provider *c = p->cfg;
  struct sigv4_request sr;
  struct sigv4_result res;
  const char *signed_hdrs[2];

  if(c && c->passthrough_auth) {
    const char *a = client ? client->authorization : NULL;
    if(a)
      prov_http_add_header(out, "Authorization: %s", a);
    return 0;
  }
  if(p->api_key) {
    prov_http_add_header(out, "Authorization: Bearer %s", p->api_key);
    return 0;
  }
  if(!o || !o->access_key || !o->secret_key) {
    api_error_set(err, 500, "server_error", NULL, NULL,
                  "Provider '%s' has no AWS credentials.", p->name);
    return SB_ECONFIG;
  }
  memset(&sr, 0, sizeof(sr));
  signed_hdrs[0] = out->headers[0]; /* content-type */
  signed_hdrs[1] = out->headers[1]; /* accept */
  sr.method = "POST";
  sr.url = out->url;
  sr.headers = signed_hdrs;
  sr.nheaders = 2;
  sr.body = out->body;
  sr.body_len = out->body_len;
  sr.region = o->region;
  sr.service = "bedrock";
  sr.access_key = o->access_key;
  sr.secret_key = o->secret_key;
  sr.session_token = o->session_token;
  sr.now = o->clock();
  sr.flags = SIGV4_SIGN_CONTENT_SHA256;
  if(sigv4_sign(&sr, &res)) {
    api_error_set(err, 500, "server_error", NULL, NULL,
                  "Provider '%s': cannot sign a request for its base URL.",
                  p->name);
    return SB_ECONFIG;
  }
  prov_http_add_header(out, "x-amz-date: %s", res.amz_date);
  prov_http_add_header(out, "x-amz-content-sha256: %s", res.content_sha256);
  if(o->session_token)
    prov_http_add_header(out, "x-amz-security-token: %s", o->session_token);
  prov_http_add_header(out, "Authorization: %s", res.authorization);
  sigv4_result_free(&res);
  return 0;
}

/* URL, headers and authorization of a request to {base}/model/{model}/{op}
 * whose JSON body is already in out. Frees out on failure. */
static int finish_request(const struct prov *p, const char *model,
                          const char *op, const char *accept,
                          const struct prov_client *client,
                          struct prov_http *out, struct api_error *err)
{
  char *mid = sigv4_uri_encode(model);
  int rc;

  out->url = sb_asprintf("%s/model/%s/%s", p->base_url, mid, op);
  free(mid);
  /* The first two headers are signed (add_auth relies on the order). */
  prov_http_add_header(out, "content-type: application/json");
  prov_http_add_header(out, "accept: %s", accept);
  rc = add_auth(p, client, out, err);
  if(rc) {
    prov_http_free(out);
    return rc;
  }
  prov_http_add_header(out, "Expect:");
  /* The credential is add_auth()'s: a signature, or a bearer token. */
  prov_http_add_common(out, p, client, &(struct prov_cred){0});
  return 0;
}

static int build_chat(const struct prov *p, const cJSON *req, const char *model,
                      const struct prov_client *client, struct prov_http *out,
                      struct api_error *err)
{
  cJSON *body = cJSON_CreateObject();
  int stream = cJSON_IsTrue(canon_json_get(req, "stream"));
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = translate(p, req, model, body, out, err);
  if(rc) {
    cJSON_Delete(body);
    prov_http_free(out);
    return rc;
  }
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  return finish_request(p, model, stream ? "converse-stream" : "converse",
                        stream ? "application/vnd.amazon.eventstream"
                               : "application/json",
                        client, out, err);
}

/* ---- responses ------------------------------------------------------- */

static const char *finish_reason(const char *stop)
{
  if(!stop)
    return "stop";
  if(!strcmp(stop, "max_tokens") ||
     !strcmp(stop, "model_context_window_exceeded"))
    return "length";
  if(!strcmp(stop, "tool_use"))
    return "tool_calls";
  if(!strcmp(stop, "guardrail_intervened") || !strcmp(stop, "content_filtered"))
    return "content_filter";
  /* end_turn, stop_sequence, malformed_model_output, malformed_tool_use
   * and unknown values. */
  return "stop";
}

/* Usage (docs/adapters.md): prompt = inputTokens + cacheReadInputTokens +
 * cacheWriteInputTokens (Bedrock's inputTokens excludes the cache, as
 * Anthropic's does); cached = cacheReadInputTokens. */
static void usage_read(const cJSON *u, struct canon_usage *c)
{
  int64_t in = -1, out = -1, cr = -1, cw = -1;

  canon_usage_init(c);
  if(!cJSON_IsObject(u))
    return;
  canon_json_count_into(u, "inputTokens", &in);
  canon_json_count_into(u, "outputTokens", &out);
  canon_json_count_into(u, "cacheReadInputTokens", &cr);
  canon_json_count_into(u, "cacheWriteInputTokens", &cw);
  if(in >= 0)
    c->prompt_tokens = in + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0);
  c->completion_tokens = out;
  c->cached_tokens = cr >= 0 ? cr : in >= 0 ? 0 : -1;
}

static int parse_chat(const struct prov *p, const char *body, size_t len,
                      const char *model, const char *id, int64_t created,
                      cJSON **out, struct canon_usage *usage,
                      struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *content = canon_json_get(
      canon_json_get(canon_json_get(root, "output"), "message"), "content");
  const cJSON *b;
  /* Sized by the upstream's body, which the caller bounds already. */
  struct buf text, reasoning;
  cJSON *res, *calls, *details;
  struct canon_usage cu;

  (void)p;
  buf_init(&text, SIZE_MAX);
  buf_init(&reasoning, SIZE_MAX);
  if(!cJSON_IsObject(root) || !cJSON_IsArray(content)) {
    cJSON_Delete(root);
    canon_bad_response(err, "a response that is not a Bedrock Converse answer");
    return SB_EPROTO;
  }
  calls = cJSON_CreateArray();
  details = cJSON_CreateArray();
  cJSON_ArrayForEach(b, content)
  {
    const cJSON *tu = canon_json_get(b, "toolUse");
    const cJSON *rc_ = canon_json_get(b, "reasoningContent");
    const cJSON *rt = canon_json_get(rc_, "reasoningText");
    const char *s;

    if((s = canon_json_str(b, "text"))) {
      buf_appendz(&text, s);
    } else if((s = canon_json_str(rt, "text"))) {
      buf_appendz(&reasoning, s);
      cJSON_AddItemToArray(
          details, canon_reasoning_text(s, canon_json_str(rt, "signature"),
                                        CANON_FMT_BEDROCK));
    } else if((s = canon_json_str(rc_, "redactedContent"))) {
      cJSON_AddItemToArray(details,
                           canon_reasoning_encrypted(s, CANON_FMT_BEDROCK));
    } else if(cJSON_IsObject(tu)) {
      const cJSON *input = canon_json_get(tu, "input");
      char *args = input ? cJSON_PrintUnformatted(input) : sb_strdup("{}");
      if(!args)
        abort();
      cJSON_AddItemToArray(calls,
                           canon_tool_call(canon_json_str(tu, "toolUseId"),
                                           canon_json_str(tu, "name"), args));
      free(args);
    }
  }

  usage_read(canon_json_get(root, "usage"), &cu);
  res = canon_chat_completion(
      id, created, model,
      canon_chat_choice(0, text.data, reasoning.data, calls,
                        finish_reason(canon_json_str(root, "stopReason"))),
      &cu);
  if(cJSON_GetArraySize(details)) {
    /* Besides reasoning_content: what Bedrock must get back verbatim. */
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "choices"), 0),
        "message");
    cJSON_AddItemToObject(msg, "reasoning_details", details);
    details = NULL;
  }
  cJSON_Delete(details);
  *usage = cu;
  *out = res;
  buf_free(&text);
  buf_free(&reasoning);
  cJSON_Delete(root);
  return 0;
}

/* ---- streams --------------------------------------------------------- */

struct prov_stream {
  int started;  /* CANON_EV_START emitted */
  int stopped;  /* messageStop seen */
  int complete; /* metadata seen after messageStop */
  int failed;   /* an error was emitted: nothing more */
  int *tool_of; /* block index -> tool call index, or -1 */
  int nblocks;
  int next_tool;
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
  free(s->tool_of);
  free(s);
}

static int stream_complete(const struct prov_stream *s)
{
  return s->complete;
}

static int emit_error(struct prov_stream *s, const struct canon_sink *sink,
                      const struct api_error *err, int rc)
{
  struct canon_ev ev = {.type = CANON_EV_ERROR, .err = err};
  int r;

  s->failed = 1;
  r = canon_emit(sink, &ev);
  return r ? r : rc;
}

static int ensure_started(struct prov_stream *s, const struct canon_sink *sink)
{
  struct canon_ev ev = {.type = CANON_EV_START};

  if(s->started)
    return 0;
  s->started = 1;
  return canon_emit(sink, &ev);
}

/* The slot for block index (created as -1 when new); NULL if out of range. */
static int *block_at(struct prov_stream *s, const cJSON *index)
{
  int i;

  if(!cJSON_IsNumber(index) || index->valuedouble < 0 ||
     index->valuedouble >= BR_MAX_BLOCKS)
    return NULL;
  i = (int)index->valuedouble;
  if(i >= s->nblocks) {
    s->tool_of = sb_realloc(s->tool_of, sizeof(int) * (size_t)(i + 1));
    for(int k = s->nblocks; k <= i; k++)
      s->tool_of[k] = -1;
    s->nblocks = i + 1;
  }
  return &s->tool_of[i];
}

static int on_block_start(struct prov_stream *s, const cJSON *root,
                          const struct canon_sink *sink)
{
  const cJSON *tu = canon_json_get(canon_json_get(root, "start"), "toolUse");
  int *slot = block_at(s, canon_json_get(root, "contentBlockIndex"));
  struct canon_ev ev = {.type = CANON_EV_TOOL_START};

  if(!slot)
    return SB_EPROTO;
  if(!cJSON_IsObject(tu))
    return 0; /* other block kinds start silently */
  ev.id = canon_json_str(tu, "toolUseId");
  ev.name = canon_json_str(tu, "name");
  if(!ev.id || !ev.name || *slot >= 0)
    return SB_EPROTO;
  *slot = s->next_tool++;
  ev.index = *slot;
  return canon_emit(sink, &ev);
}

static int on_block_delta(struct prov_stream *s, const cJSON *root,
                          const struct canon_sink *sink)
{
  const cJSON *d = canon_json_get(root, "delta");
  const cJSON *rc_ = canon_json_get(d, "reasoningContent");
  int *slot = block_at(s, canon_json_get(root, "contentBlockIndex"));
  const char *t;

  if(!slot || !cJSON_IsObject(d))
    return SB_EPROTO;
  if((t = canon_json_str(d, "text")))
    return canon_emit_text(sink, CANON_EV_TEXT, 0, t);
  if(cJSON_IsObject(canon_json_get(d, "toolUse"))) {
    if(*slot < 0)
      return SB_EPROTO; /* input for a block that never started a tool */
    return canon_emit_text(
        sink, CANON_EV_TOOL_ARGS, *slot,
        canon_json_str(canon_json_get(d, "toolUse"), "input"));
  }
  if(cJSON_IsObject(rc_)) {
    struct canon_ev ev = {.type = CANON_EV_REASONING, .text = "", .len = 0};
    ev.format = CANON_FMT_BEDROCK;
    if((ev.signature = canon_json_str(rc_, "signature")))
      return canon_emit(sink, &ev);
    if((ev.data = canon_json_str(rc_, "redactedContent")))
      return canon_emit(sink, &ev);
    return canon_emit_text(sink, CANON_EV_REASONING, 0,
                           canon_json_str(rc_, "text"));
  }
  return 0; /* citations and future delta kinds */
}

/* Exception messages in the stream: an in-band error
 * of type upstream_error with the exception's name as its code. */
static void exception_error(const char *name, size_t nlen, const cJSON *root,
                            struct api_error *err)
{
  static const struct {
    const char *name;
    int status;
  } MAP[] = {
      {"throttlingException", 429},     {"serviceUnavailableException", 503},
      {"modelTimeoutException", 504},   {"validationException", 400},
      {"internalServerException", 502}, {"modelStreamErrorException", 502},
  };
  const char *msg = canon_json_str(root, "message");
  char code[48];
  int status = 502;

  if(nlen >= sizeof(code))
    nlen = sizeof(code) - 1;
  memcpy(code, name, nlen);
  code[nlen] = '\0';
  for(size_t i = 0; i < SB_ARRAY_LEN(MAP); i++)
    if(!strcasecmp(code, MAP[i].name))
      status = MAP[i].status;
  api_error_set(err, status, "upstream_error", code, NULL, "%s",
                msg ? msg : "The upstream provider failed mid-stream.");
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
  size_t k = strlen(suffix);
  return n >= k && !strncasecmp(s + n - k, suffix, k);
}

static int is_event(const struct prov_payload *pl, const char *name)
{
  return pl->event && pl->event_len == strlen(name) &&
         !memcmp(pl->event, name, pl->event_len);
}

static int stream_feed(struct prov_stream *s, const struct prov_payload *pl,
                       const struct canon_sink *sink)
{
  cJSON *root;
  struct api_error err;
  int rc = 0;

  if(s->failed)
    return SB_EPROTO;
  root = cJSON_ParseWithLength(pl->data ? pl->data : "", pl->len);
  if(pl->exception ||
     (pl->event && ends_with(pl->event, pl->event_len, "Exception"))) {
    /* An exception message (event = :exception-type, data = JSON), or an
     * unmodelled error message (event = :error-code, data =
     * :error-message). */
    if(cJSON_IsObject(root)) {
      exception_error(pl->event ? pl->event : "", pl->event ? pl->event_len : 0,
                      root, &err);
    } else {
      char code[48];
      size_t n =
          pl->event_len < sizeof(code) - 1 ? pl->event_len : sizeof(code) - 1;
      memcpy(code, pl->event ? pl->event : "", n);
      code[n] = '\0';
      api_error_set(
          &err, 502, "upstream_error", code[0] ? code : "upstream_error", NULL,
          "The upstream provider failed mid-stream: %.*s",
          (int)(pl->len > 400 ? 400 : pl->len), pl->data ? pl->data : "");
    }
    cJSON_Delete(root);
    return emit_error(s, sink, &err, SB_EIO);
  }
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    canon_bad_response(&err, "a malformed stream event");
    return emit_error(s, sink, &err, SB_EPROTO);
  }
  if(!pl->event || !pl->event_len) {
    rc = SB_EPROTO;
  } else if(is_event(pl, "messageStart")) {
    rc = ensure_started(s, sink);
  } else if(is_event(pl, "contentBlockStart")) {
    rc = ensure_started(s, sink);
    if(!rc)
      rc = on_block_start(s, root, sink);
  } else if(is_event(pl, "contentBlockDelta")) {
    rc = ensure_started(s, sink);
    if(!rc)
      rc = on_block_delta(s, root, sink);
  } else if(is_event(pl, "messageStop")) {
    struct canon_ev ev = {.type = CANON_EV_FINISH};
    rc = ensure_started(s, sink);
    ev.finish_reason = finish_reason(canon_json_str(root, "stopReason"));
    s->stopped = 1;
    if(!rc)
      rc = canon_emit(sink, &ev);
  } else if(is_event(pl, "metadata")) {
    struct canon_ev ev = {.type = CANON_EV_USAGE};
    usage_read(canon_json_get(root, "usage"), &ev.usage);
    if(s->stopped)
      s->complete = 1;
    rc = canon_emit(sink, &ev);
  }
  /* contentBlockStop and unknown event types: nothing. */
  cJSON_Delete(root);
  if(rc == SB_EPROTO) {
    canon_bad_response(&err, "a malformed stream event");
    return emit_error(s, sink, &err, SB_EPROTO);
  }
  return rc;
}

/* ---- embeddings (InvokeModel) ---------------------------------------- */

/* Cohere on Bedrock embeds at most this many texts per call. */
#define BR_COHERE_MAX_TEXTS 96

enum br_embed_family {
  BR_EMBED_NONE,
  BR_EMBED_TITAN_V1, /* amazon.titan-embed-text-v1: inputText only */
  BR_EMBED_TITAN,    /* amazon.titan-embed-text-v2 and later */
  BR_EMBED_COHERE,   /* cohere.embed-* */
};

/* Fields build_embeddings translates or the gateway handles; any other
 * top-level field is dropped and reported. */
static const char *const EMBED_KNOWN[] = {"model", "input", "encoding_format",
                                          "dimensions"};

static enum br_embed_family embed_family(const char *model)
{
  static const char titan[] = "amazon.titan-embed-text";

  if(!strncmp(model, titan, sizeof(titan) - 1))
    return !strncmp(model + sizeof(titan) - 1, "-v1", 3) ? BR_EMBED_TITAN_V1
                                                         : BR_EMBED_TITAN;
  if(!strncmp(model, "cohere.embed", 12))
    return BR_EMBED_COHERE;
  return BR_EMBED_NONE;
}

/* The number of inputs of a validated request (1 for a string). */
static int embed_count(const cJSON *req)
{
  const cJSON *input = canon_json_get(req, "input");
  return cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
}

/* Check a validated request against the model family's InvokeModel body. */
static int embed_check(const struct prov *p, const cJSON *req,
                       const char *model, enum br_embed_family fam,
                       struct api_error *err)
{
  const cJSON *input = canon_json_get(req, "input");
  const cJSON *items = cJSON_IsArray(input) ? input : NULL;
  const cJSON *dims = canon_json_get(req, "dimensions");
  const cJSON *it;
  int n = embed_count(req);

  if(fam == BR_EMBED_NONE)
    return canon_reject(
        err, 400, "unsupported_value", "model",
        "Provider '%s' (bedrock) serves embeddings from Amazon Titan "
        "text embedding models (amazon.titan-embed-text-*) and Cohere "
        "embedding models (cohere.embed-*) only, not '%s'.",
        p->name, model);
  cJSON_ArrayForEach(it, items)
  {
    if(!cJSON_IsString(it))
      return canon_reject(
          err, 400, "unsupported_value", "input",
          "Provider kind 'bedrock' embeds text only; token-id inputs "
          "(arrays of integers) are not supported.");
  }
  if(fam != BR_EMBED_COHERE && n > 1)
    return canon_reject(
        err, 400, "unsupported_value", "input",
        "Amazon Titan embedding models take one input per request; "
        "got %d.",
        n);
  if(fam == BR_EMBED_COHERE && n > BR_COHERE_MAX_TEXTS)
    return canon_reject(
        err, 400, "unsupported_value", "input",
        "Cohere embedding models on Bedrock take at most %d inputs "
        "per request; got %d.",
        BR_COHERE_MAX_TEXTS, n);
  if(!cJSON_IsNumber(dims))
    return 0;
  if(fam != BR_EMBED_TITAN)
    return canon_reject(err, 400, "unsupported_parameter", "dimensions",
                        "Model '%s' on Bedrock does not support 'dimensions'.",
                        model);
  if(dims->valuedouble != 256 && dims->valuedouble != 512 &&
     dims->valuedouble != 1024)
    return canon_reject(
        err, 400, "unsupported_value", "dimensions",
        "Amazon Titan text embeddings take 'dimensions' 256, 512 or "
        "1024, got %g.",
        dims->valuedouble);
  return 0;
}

static int build_embeddings(const struct prov *p, const cJSON *req,
                            const char *model, const struct prov_client *client,
                            struct prov_http *out, struct api_error *err)
{
  enum br_embed_family fam = embed_family(model);
  const cJSON *input = canon_json_get(req, "input");
  const cJSON *dims = canon_json_get(req, "dimensions");
  const cJSON *f;
  cJSON *body;
  char *json;
  int rc;

  memset(out, 0, sizeof(*out));
  rc = embed_check(p, req, model, fam, err);
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
  body = cJSON_CreateObject();
  if(fam == BR_EMBED_COHERE) {
    cJSON *texts = cJSON_AddArrayToObject(body, "texts");
    const cJSON *items = cJSON_IsArray(input) ? input : NULL;
    const cJSON *it;

    if(cJSON_IsString(input))
      cJSON_AddItemToArray(texts, cJSON_CreateString(input->valuestring));
    cJSON_ArrayForEach(it, items)
    {
      cJSON_AddItemToArray(texts, cJSON_CreateString(it->valuestring));
    }
    cJSON_AddStringToObject(body, "input_type", "search_document");
    cJSON_AddStringToObject(body, "truncate", "NONE");
  } else {
    const cJSON *text =
        cJSON_IsArray(input) ? cJSON_GetArrayItem(input, 0) : input;

    cJSON_AddStringToObject(body, "inputText", text->valuestring);
    /* v1 takes inputText only; v2 normalizes as OpenAI's vectors are. */
    if(fam == BR_EMBED_TITAN) {
      if(cJSON_IsNumber(dims))
        cJSON_AddNumberToObject(body, "dimensions", dims->valuedouble);
      cJSON_AddBoolToObject(body, "normalize", 1);
    }
  }
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  return finish_request(p, model, "invoke", "application/json", client, out,
                        err);
}

/* A float vector from an upstream array into d.embedding; 0 or -1. */
static int embed_vector(const cJSON *values, cJSON *d)
{
  cJSON *vec;
  const cJSON *v;

  if(!cJSON_IsArray(values) || !cJSON_GetArraySize(values))
    return -1;
  vec = cJSON_AddArrayToObject(d, "embedding");
  cJSON_ArrayForEach(v, values)
  {
    if(!cJSON_IsNumber(v))
      return -1;
    cJSON_AddItemToArray(vec, cJSON_CreateNumber(v->valuedouble));
  }
  return 0;
}

static int parse_embeddings(const struct prov *p, const char *body, size_t len,
                            const cJSON *req, const char *model, cJSON **out,
                            struct canon_usage *usage, struct api_error *err)
{
  enum br_embed_family fam = embed_family(model);
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *vectors, *v;
  cJSON *o, *data, *us;
  int64_t tokens = -1;
  int i = 0;

  (void)p;
  canon_usage_init(usage);
  if(fam == BR_EMBED_COHERE) {
    const char *rt = canon_json_str(root, "response_type");
    vectors = canon_json_get(root, "embeddings");
    if((rt && strcmp(rt, "embeddings_floats")) || !cJSON_IsArray(vectors) ||
       cJSON_GetArraySize(vectors) != embed_count(req)) {
      cJSON_Delete(root);
      canon_bad_response(err,
                         "a response that is not a Cohere embeddings_floats "
                         "answer with one embedding per input");
      return SB_EPROTO;
    }
  } else {
    vectors = canon_json_get(root, "embedding");
    canon_json_count_into(root, "inputTextTokenCount", &tokens);
    if(!cJSON_IsArray(vectors)) {
      cJSON_Delete(root);
      canon_bad_response(err,
                         "a response that is not a Titan embeddings answer");
      return SB_EPROTO;
    }
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "object", "list");
  data = cJSON_AddArrayToObject(o, "data");
  if(fam == BR_EMBED_COHERE) {
    cJSON_ArrayForEach(v, vectors)
    {
      cJSON *d = cJSON_CreateObject();

      cJSON_AddItemToArray(data, d);
      cJSON_AddStringToObject(d, "object", "embedding");
      cJSON_AddNumberToObject(d, "index", i++);
      if(embed_vector(v, d))
        goto bad;
    }
  } else {
    cJSON *d = cJSON_CreateObject();

    cJSON_AddItemToArray(data, d);
    cJSON_AddStringToObject(d, "object", "embedding");
    cJSON_AddNumberToObject(d, "index", 0);
    if(embed_vector(vectors, d))
      goto bad;
  }
  cJSON_AddStringToObject(o, "model", model);
  /* OpenAI's list always has usage; Cohere's counts are not in the body
   * (the gateway reads them from embed_tokens_header). */
  us = cJSON_AddObjectToObject(o, "usage");
  cJSON_AddNumberToObject(us, "prompt_tokens",
                          (double)(tokens > 0 ? tokens : 0));
  cJSON_AddNumberToObject(us, "total_tokens",
                          (double)(tokens > 0 ? tokens : 0));
  if(tokens >= 0) {
    usage->prompt_tokens = tokens;
    usage->completion_tokens = 0;
  }
  cJSON_Delete(root);
  *out = o;
  return 0;
bad:
  cJSON_Delete(o);
  cJSON_Delete(root);
  canon_bad_response(err,
                     "an embedding that is not a non-empty array of numbers");
  return SB_EPROTO;
}

/* ---- errors ---------------------------------------------------------- */

static int says_too_long(const char *msg)
{
  return msg && (strcasestr(msg, "too long") ||
                 strcasestr(msg, "too many "
                                 "input "
                                 "tokens") ||
                 strcasestr(msg, "context window") ||
                 strcasestr(msg, "context length"));
}

/* The error type from a __type / code field: "ns#Name" or "Name:uri". */
static void error_type(const cJSON *root, char *out, size_t cap)
{
  const char *t = canon_json_str(root, "__type");
  const char *h;
  size_t n;

  out[0] = '\0';
  if(!t)
    t = canon_json_str(root, "code");
  if(!t)
    return;
  if((h = strrchr(t, '#')))
    t = h + 1;
  n = strcspn(t, ":");
  if(n >= cap)
    n = cap - 1;
  memcpy(out, t, n);
  out[n] = '\0';
}

static int auth_failure(int status, const char *type, const char *msg)
{
  if(status == 401)
    return 1;
  if(status != 403)
    return 0;
  if(!strcmp(type, "UnrecognizedClientException") ||
     !strcmp(type, "InvalidSignatureException") ||
     !strcmp(type, "IncompleteSignatureException") ||
     !strcmp(type, "MissingAuthenticationTokenException") ||
     !strcmp(type, "ExpiredTokenException"))
    return 1;
  if(!strcmp(type, "AccessDeniedException"))
    return 0;
  return msg &&
         (strcasestr(msg, "signature") || strcasestr(msg, "security token") ||
          strcasestr(msg, "Authorization header") ||
          strcasestr(msg, "Authentication Token"));
}

static void map_error(const struct prov *p, int status, const char *body,
                      size_t len, const char *retry_after,
                      const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const char *msg = canon_json_str(root, "message");
  char type[64];
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if(!msg)
    msg = canon_json_str(root, "Message");
  error_type(root, type, sizeof(type));
  if(auth_failure(status, type, msg) && own_credential) {
    /* The upstream refused the gateway's credentials: not the client's
     * fault, and the upstream text is not echoed. */
    canon_err_auth_failed(err, p->name, status);
  } else if(auth_failure(status, type, msg)) {
    api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "The upstream provider rejected the credentials.");
  } else if(status == 403) {
    api_error_set(err, 403, "invalid_request_error", "permission_denied", NULL,
                  "%s",
                  msg ? msg : "The upstream provider refused the request.");
  } else if(!strcmp(type, "ServiceQuotaExceededException")) {
    api_error_set(err, 429, "insufficient_quota", "quota_exceeded", NULL, "%s",
                  msg ? msg : "The upstream account's quota is exhausted.");
  } else if(status == 503 || status == 529) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status == 408 || status == 504) {
    canon_err_timeout(err, p->name, msg);
  } else if(status >= 500 || status < 400 || status == 424) {
    canon_err_failed(err, p->name, status, msg);
  } else if(status == 429) {
    api_error_set(err, 429, "rate_limit_exceeded", "rate_limit_exceeded", NULL,
                  "%s",
                  msg ? msg : "The upstream provider's rate limit was hit.");
  } else if(status == 404) {
    api_error_set(err, 404, "invalid_request_error", "model_not_found", NULL,
                  "%s", msg ? msg : "The upstream model was not found.");
  } else if(status == 413) {
    api_error_set(err, 413, "invalid_request_error", "request_too_large", NULL,
                  "%s",
                  msg ? msg : "The request is too large for the provider.");
  } else {
    api_error_set(err, status, "invalid_request_error",
                  says_too_long(msg) ? "context_length_exceeded" : NULL, NULL,
                  "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(err->status == 429 || err->status == 503)
    canon_retry_after(err, retry_after, retry_after_ms);
  cJSON_Delete(root);
}

const struct prov_adapter prov_bedrock_adapter = {
    .kind = "bedrock",
    .caps = OAI_CAP_TOOLS | OAI_CAP_RESPONSE_FORMAT | OAI_CAP_IMAGES,
    .framing = PROV_FRAMING_EVENTSTREAM,
    .default_base_url = PROV_BEDROCK_BASE_URL,
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
    .embed_tokens_header = "x-amzn-bedrock-input-token-count",
};
