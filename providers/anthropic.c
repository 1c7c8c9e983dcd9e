/*
 * anthropic.c - OpenAI Chat Completions <-> Anthropic Messages
 * (docs/providers/anthropic.md).
 */
#include "providers/anthropic.h"
#include "codec/anth_msgs.h"
#include "codec/canon_doc.h"
#include "config/config.h"
#include "codec/oai_chat.h"
#include "base/sb.h"
#include "base/buf.h"

#include <stdint.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Content block indexes above this in a stream are refused as malformed:
 * the map from block index to tool call index is an array. */
#define ANTH_MAX_BLOCKS 4096

struct anth_opts {
  char *version;              /* anthropic-version */
  char *betas;                /* anthropic-beta value, or NULL */
  int64_t default_max_tokens; /* when the request gives no limit */
};

static const struct anth_opts DEFAULT_OPTS = {
    (char *)PROV_ANTHROPIC_VERSION, NULL, PROV_ANTHROPIC_DEFAULT_MAX_TOKENS};

static const struct anth_opts *opts_of(const struct prov *p)
{
  return p->priv ? p->priv : &DEFAULT_OPTS;
}

static int has_ctl(const char *s)
{
  for(; *s; s++)
    if((unsigned char)*s < 0x20)
      return 1;
  return 0;
}

/* ---- configuration --------------------------------------------------- */

static void opts_free(struct anth_opts *o)
{
  if(!o)
    return;
  free(o->version);
  free(o->betas);
  free(o);
}

static int configure(struct prov *p, const cJSON *options, const char *path,
                     char *err, size_t errlen)
{
  struct anth_opts *o = sb_calloc(1, sizeof(*o));
  const cJSON *it;

  o->default_max_tokens = PROV_ANTHROPIC_DEFAULT_MAX_TOKENS;
  if(options && !cJSON_IsObject(options)) {
    snprintf(err, errlen, "%s: expected an object", path);
    goto bad;
  }
  cJSON_ArrayForEach(it, options)
  {
    const char *k = it->string;

    if(!strcmp(k, "anthropic_version")) {
      if(!cJSON_IsString(it) || !it->valuestring[0] ||
         has_ctl(it->valuestring)) {
        snprintf(err, errlen, "%s.%s: expected a non-empty string", path, k);
        goto bad;
      }
      free(o->version);
      o->version = sb_strdup(it->valuestring);
    } else if(!strcmp(k, "betas")) {
      const cJSON *b;
      size_t n = 0;
      char *s;

      if(!cJSON_IsArray(it)) {
        snprintf(err, errlen, "%s.%s: expected an array of strings", path, k);
        goto bad;
      }
      cJSON_ArrayForEach(b, it)
      {
        if(!cJSON_IsString(b) || !b->valuestring[0] ||
           strchr(b->valuestring, ',') || has_ctl(b->valuestring)) {
          snprintf(err, errlen,
                   "%s.%s: expected an array of non-empty strings without "
                   "commas",
                   path, k);
          goto bad;
        }
        n += strlen(b->valuestring) + 1;
      }
      free(o->betas);
      o->betas = NULL;
      if(!n)
        continue;
      s = sb_calloc(n, 1);
      cJSON_ArrayForEach(b, it)
      {
        if(*s)
          strcat(s, ",");
        strcat(s, b->valuestring);
      }
      o->betas = s;
    } else if(!strcmp(k, "default_max_tokens")) {
      if(!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1e9 ||
         it->valuedouble != floor(it->valuedouble)) {
        snprintf(err, errlen, "%s.%s: expected a positive integer", path, k);
        goto bad;
      }
      o->default_max_tokens = (int64_t)it->valuedouble;
    } else {
      snprintf(err, errlen,
               "%s.%s: unknown option (known: anthropic_version, betas, "
               "default_max_tokens)",
               path, k);
      goto bad;
    }
  }
  if(!o->version)
    o->version = sb_strdup(PROV_ANTHROPIC_VERSION);
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

/* ---- request: messages ----------------------------------------------- */

/* Append the non-empty text of content (a string or text parts) to
 * blocks as text blocks. Parts of other types are left to the caller. */
static void add_text_blocks(cJSON *blocks, const cJSON *content)
{
  const cJSON *part;

  if(cJSON_IsString(content)) {
    if(content->valuestring[0])
      cJSON_AddItemToArray(blocks, anth_text_block(content->valuestring, NULL));
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
      cJSON_AddItemToArray(blocks, anth_text_block(text, part));
  }
}

static const char *const IMAGE_TYPES[] = {"image/jpeg", "image/png",
                                          "image/gif", "image/webp"};

static cJSON *base64_source(const char *media, const char *data)
{
  cJSON *src = cJSON_CreateObject();
  cJSON_AddStringToObject(src, "type", "base64");
  cJSON_AddStringToObject(src, "media_type", media);
  cJSON_AddStringToObject(src, "data", data);
  return src;
}

static int image_block(const cJSON *part, const char *param, cJSON **out,
                       struct api_error *err)
{
  const char *url = canon_json_str(canon_json_get(part, "image_url"), "url");
  char media[64];
  const char *data;
  cJSON *b, *src = NULL;

  if(!url)
    return canon_reject(err, 400, "missing_required_parameter", param,
                        "Missing required parameter: '%s.image_url.url'.",
                        param);
  if(!strncasecmp(url, "data:", 5)) {
    if(canon_data_url(url, media, sizeof(media), &data))
      return canon_reject(err, 400, "invalid_value", param,
                          "Invalid image data URL in '%s': expected "
                          "data:<media type>;base64,<data>.",
                          param);
    for(size_t i = 0; i < SB_ARRAY_LEN(IMAGE_TYPES); i++)
      if(!strcmp(media, IMAGE_TYPES[i]))
        src = base64_source(media, data);
    if(!src && !strcmp(media, "application/pdf")) {
      b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "type", "document");
      cJSON_AddItemToObject(b, "source", base64_source(media, data));
      anth_copy_cache_control(part, b);
      *out = b;
      return 0;
    }
    if(!src)
      return canon_reject(
          err, 400, "unsupported_value", param,
          "Image media type '%s' in '%s' is not supported by "
          "Anthropic (supported: image/jpeg, image/png, image/gif, "
          "image/webp).",
          media, param);
  } else if(!strncasecmp(url, "https://", 8) ||
            !strncasecmp(url, "http://", 7)) {
    src = cJSON_CreateObject();
    cJSON_AddStringToObject(src, "type", "url");
    cJSON_AddStringToObject(src, "url", url);
  } else {
    return canon_reject(
        err, 400, "invalid_value", param,
        "Image URL in '%s' must be an http(s) URL or a base64 data "
        "URL.",
        param);
  }
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "type", "image");
  cJSON_AddItemToObject(b, "source", src);
  anth_copy_cache_control(part, b);
  *out = b;
  return 0;
}

static int file_block(const cJSON *part, const char *param, cJSON **out,
                      struct api_error *err)
{
  const cJSON *f = canon_json_get(part, "file");
  const char *fd = canon_json_str(f, "file_data");
  char media[64];
  const char *data = fd;
  cJSON *b;

  if(!fd)
    return canon_reject(
        err, 400, "unsupported_value", param,
        "File parts in '%s' need file_data: Anthropic cannot read "
        "OpenAI file ids.",
        param);
  if(!strncasecmp(fd, "data:", 5)) {
    if(canon_data_url(fd, media, sizeof(media), &data) ||
       strcmp(media, "application/pdf"))
      return canon_reject(
          err, 400, "unsupported_value", param,
          "File data in '%s' must be a base64 application/pdf data "
          "URL.",
          param);
  }
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "type", "document");
  cJSON_AddItemToObject(b, "source", base64_source("application/pdf", data));
  anth_copy_cache_control(part, b);
  *out = b;
  return 0;
}

static int user_blocks(const cJSON *content, int mi, cJSON *blocks,
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
        b = anth_text_block(t, part);
    } else if(!strcmp(type, "image_url")) {
      rc = image_block(part, param, &b, err);
    } else if(!strcmp(type, "file")) {
      rc = file_block(part, param, &b, err);
    } else {
      rc = canon_reject(
          err, 400, "unsupported_parameter", param,
          "Content parts of type '%s' are not supported by Anthropic.", type);
    }
    if(rc)
      return rc;
    if(b)
      cJSON_AddItemToArray(blocks, b);
  }
  return 0;
}

static int assistant_blocks(const cJSON *m, int mi, cJSON *blocks,
                            struct api_error *err)
{
  char path[64];

  /* Its own thinking (of format anthropic-claude-v1; any other provider's
   * is not Anthropic's to verify) first, before text and tool_use. */
  anth_thinking_blocks(canon_json_get(m, "reasoning_details"), blocks, 0);
  add_text_blocks(blocks, canon_json_get(m, "content"));
  snprintf(path, sizeof(path), "messages[%d].tool_calls", mi);
  return anth_tool_use_blocks(canon_json_get(m, "tool_calls"), 1, path, blocks,
                              err);
}

static void tool_result_block(const cJSON *m, cJSON *blocks)
{
  const cJSON *content = canon_json_get(m, "content");
  cJSON *b = cJSON_CreateObject();

  cJSON_AddStringToObject(b, "type", "tool_result");
  cJSON_AddStringToObject(b, "tool_use_id", canon_json_str(m, "tool_call_id"));
  if(cJSON_IsString(content)) {
    if(content->valuestring[0])
      cJSON_AddStringToObject(b, "content", content->valuestring);
  } else if(cJSON_IsArray(content)) {
    cJSON *parts = cJSON_CreateArray();
    add_text_blocks(parts, content);
    if(cJSON_GetArraySize(parts))
      cJSON_AddItemToObject(b, "content", parts);
    else
      cJSON_Delete(parts);
  }
  cJSON_AddItemToArray(blocks, b);
}

/* Gemini's thought signatures stay out of the tool ids Anthropic gets
 * (docs/conversations.md "Provider state across switches"). */
static void short_ids(cJSON *blocks)
{
  cJSON *b;

  cJSON_ArrayForEach(b, blocks)
  {
    prov_short_gemini_id(b, "id");
    prov_short_gemini_id(b, "tool_use_id");
  }
}

static int translate_messages(const cJSON *req, cJSON *system, cJSON *msgs,
                              struct prov_http *out, struct api_error *err)
{
  const cJSON *m;
  int i = 0, named = 0;

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
      /* Hoisted into the top-level system, in order. */
      add_text_blocks(system, canon_json_get(m, "content"));
      cJSON_Delete(blocks);
      i++;
      continue;
    }
    if(!strcmp(role, "user")) {
      rc = user_blocks(canon_json_get(m, "content"), i, blocks, err);
      role = "user";
    } else if(!strcmp(role, "assistant")) {
      rc = assistant_blocks(m, i, blocks, err);
    } else if(!strcmp(role, "tool")) {
      tool_result_block(m, blocks);
      role = "user";
    } else {
      char param[64];
      snprintf(param, sizeof(param), "messages[%d].role", i);
      rc = canon_reject(
          err, 400, "unsupported_value", param,
          "Messages with role '%s' are not supported by Anthropic; use "
          "tools and tool messages.",
          role);
    }
    if(rc) {
      cJSON_Delete(blocks);
      return rc;
    }
    short_ids(blocks);
    canon_add_turn(msgs, role, blocks);
    i++;
  }
  if(!cJSON_GetArraySize(msgs))
    return canon_reject(
        err, 400, "invalid_value", "messages",
        "Anthropic needs at least one user or assistant message with "
        "non-empty content.");
  return 0;
}

/* ---- request: everything else ---------------------------------------- */

static int translate_tools(const cJSON *req, cJSON *body, struct prov_http *out,
                           struct api_error *err)
{
  const cJSON *tools = canon_json_get(req, "tools");
  const cJSON *t;
  cJSON *arr;
  int i = 0, strict_noted = 0;

  if(canon_json_present(req, "functions"))
    return canon_reject(
        err, 400, "unsupported_parameter", "functions",
        "'functions' is not supported by the Anthropic provider; "
        "use 'tools'.");
  if(!cJSON_GetArraySize(tools))
    return 0;
  arr = cJSON_AddArrayToObject(body, "tools");
  cJSON_ArrayForEach(t, tools)
  {
    const char *type = canon_json_str(t, "type");
    const cJSON *fn = canon_json_get(t, "function");
    const cJSON *params = canon_json_get(fn, "parameters");
    const char *desc = canon_json_str(fn, "description");
    cJSON *a;

    if(!type || strcmp(type, "function")) {
      char param[48];
      snprintf(param, sizeof(param), "tools[%d].type", i);
      return canon_reject(err, 400, "unsupported_value", param,
                          "Tools of type '%s' are not supported by Anthropic.",
                          type ? type : "");
    }
    a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", canon_json_str(fn, "name"));
    if(desc)
      cJSON_AddStringToObject(a, "description", desc);
    if(cJSON_IsObject(params)) {
      cJSON_AddItemToObject(a, "input_schema", cJSON_Duplicate(params, 1));
    } else {
      cJSON *s = cJSON_AddObjectToObject(a, "input_schema");
      cJSON_AddStringToObject(s, "type", "object");
      cJSON_AddObjectToObject(s, "properties");
    }
    anth_copy_cache_control(t, a);
    cJSON_AddItemToArray(arr, a);
    if(canon_json_present(fn, "strict") && !strict_noted) {
      prov_http_note_dropped(out, "tools.function.strict");
      strict_noted = 1;
    }
    i++;
  }
  return 0;
}

static int translate_tool_choice(const cJSON *req, cJSON *body,
                                 struct api_error *err)
{
  const cJSON *tc = canon_json_get(req, "tool_choice");
  int no_parallel = cJSON_IsFalse(canon_json_get(req, "parallel_tool_calls"));
  cJSON *c = NULL;

  if(!cJSON_GetArraySize(canon_json_get(req, "tools")))
    return 0; /* nothing to choose from; Anthropic wants no tool_choice */
  if(cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    c = cJSON_CreateObject();
    if(!strcmp(s, "auto")) {
      cJSON_AddStringToObject(c, "type", "auto");
    } else if(!strcmp(s, "required")) {
      cJSON_AddStringToObject(c, "type", "any");
    } else if(!strcmp(s, "none")) {
      cJSON_AddStringToObject(c, "type", "none");
    } else {
      cJSON_Delete(c);
      return canon_reject(err, 400, "invalid_value", "tool_choice",
                          "Invalid value for 'tool_choice': '%s'.", s);
    }
  } else if(cJSON_IsObject(tc)) {
    const char *type = canon_json_str(tc, "type");
    const char *name = canon_json_str(canon_json_get(tc, "function"), "name");
    if(!type || strcmp(type, "function") || !name)
      return canon_reject(
          err, 400, "unsupported_value", "tool_choice",
          "tool_choice of type '%s' is not supported by Anthropic.",
          type ? type : "");
    c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "tool");
    cJSON_AddStringToObject(c, "name", name);
  } else if(no_parallel) {
    c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "auto");
  }
  if(!c)
    return 0;
  if(no_parallel && strcmp(canon_json_str(c, "type"), "none"))
    cJSON_AddTrueToObject(c, "disable_parallel_tool_use");
  cJSON_AddItemToObject(body, "tool_choice", c);
  return 0;
}

static int thinking_budget(const char *effort, int64_t *budget,
                           struct api_error *err)
{
  static const struct {
    const char *name;
    int64_t budget;
  } LEVELS[] = {
      {"none", 0},
      {"minimal", PROV_ANTHROPIC_BUDGET_LOW},
      {"low", PROV_ANTHROPIC_BUDGET_LOW},
      {"medium", PROV_ANTHROPIC_BUDGET_MEDIUM},
      {"high", PROV_ANTHROPIC_BUDGET_HIGH},
      {"xhigh", PROV_ANTHROPIC_BUDGET_XHIGH},
      {"max", PROV_ANTHROPIC_BUDGET_XHIGH},
  };
  for(size_t i = 0; i < SB_ARRAY_LEN(LEVELS); i++)
    if(!strcmp(effort, LEVELS[i].name)) {
      *budget = LEVELS[i].budget;
      return 0;
    }
  return canon_reject(
      err, 400, "invalid_value", "reasoning_effort",
      "Invalid value for 'reasoning_effort': '%s'. Supported values "
      "are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', "
      "'max'.",
      effort);
}

/* Advisory parameters (docs/adapters.md): dropped and reported. */
/* 1 when msgs (Anthropic messages) continue a tool loop, the last user
 * turn answering tool_use blocks, whose assistant turn does not start
 * with a thinking or redacted_thinking block: with thinking on,
 * Anthropic refuses such a request. */
static int loop_lacks_thinking(const cJSON *msgs)
{
  const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
  const cJSON *b, *first;
  const char *type;
  int results = 0;

  if(!last || !last->prev || last == msgs->child)
    return 0;
  cJSON_ArrayForEach(b, canon_json_get(last, "content"))
  {
    type = canon_json_str(b, "type");
    results |= type && !strcmp(type, "tool_result");
  }
  if(!results)
    return 0;
  first = cJSON_GetArrayItem(canon_json_get(last->prev, "content"), 0);
  type = canon_json_str(first, "type");
  return !type ||
         (strcmp(type, "thinking") && strcmp(type, "redacted_thinking"));
}

static const char *const DROPPED[] = {
    "metadata",
    "store",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "service_tier",
    "verbosity",
    "web_search_options",
};

static int translate(const struct prov *p, const cJSON *req, const char *model,
                     cJSON *body, struct prov_http *out, struct api_error *err)
{
  const struct anth_opts *o = opts_of(p);
  const cJSON *v;
  cJSON *system = cJSON_CreateArray();
  cJSON *msgs = cJSON_CreateArray();
  int64_t max_tokens = o->default_max_tokens, budget = 0;
  int rc;

  cJSON_AddStringToObject(body, "model", model);
  rc = translate_messages(req, system, msgs, out, err);
  if(rc) {
    cJSON_Delete(system);
    cJSON_Delete(msgs);
    return rc;
  }

  /* Behaviour parameters Anthropic lacks (class B): refused. A penalty
   * of 0 is OpenAI's default and changes nothing, so it passes. */
  if(canon_json_present(req, "seed"))
    rc = canon_reject(err, 400, "unsupported_parameter", "seed",
                      "Provider '%s' (anthropic) does not support 'seed'.",
                      p->name);
  else if(cJSON_IsNumber(v = canon_json_get(req, "presence_penalty")) &&
          v->valuedouble != 0)
    rc = canon_reject(
        err, 400, "unsupported_parameter", "presence_penalty",
        "Provider '%s' (anthropic) does not support 'presence_penalty'.",
        p->name);
  else if(cJSON_IsNumber(v = canon_json_get(req, "frequency_penalty")) &&
          v->valuedouble != 0)
    rc = canon_reject(err, 400, "unsupported_parameter", "frequency_penalty",
                      "Provider '%s' (anthropic) does not support "
                      "'frequency_penalty'.",
                      p->name);
  else if(canon_json_present(req, "prediction"))
    rc = canon_reject(
        err, 400, "unsupported_parameter", "prediction",
        "Provider '%s' (anthropic) does not support 'prediction'.", p->name);
  else if(cJSON_IsNumber(v = canon_json_get(req, "n")) && v->valuedouble > 1)
    rc = canon_reject(err, 400, "unsupported_parameter", "n",
                      "Provider '%s' (anthropic) does not support 'n'.",
                      p->name);
  else if(cJSON_IsNumber(v = canon_json_get(req, "temperature")) &&
          v->valuedouble > 1)
    rc =
        canon_reject(err, 400, "unsupported_value", "temperature",
                     "Anthropic accepts 'temperature' between 0 and 1, got %g.",
                     v->valuedouble);
  if(rc) {
    cJSON_Delete(system);
    cJSON_Delete(msgs);
    return rc;
  }

  if(cJSON_IsNumber(v = canon_json_get(req, "max_completion_tokens")) ||
     cJSON_IsNumber(v = canon_json_get(req, "max_tokens")))
    max_tokens = (int64_t)v->valuedouble;
  if(cJSON_IsString(v = canon_json_get(req, "reasoning_effort"))) {
    rc = thinking_budget(v->valuestring, &budget, err);
    if(rc) {
      cJSON_Delete(system);
      cJSON_Delete(msgs);
      return rc;
    }
  }
  if(budget && loop_lacks_thinking(msgs)) {
    /* A tool loop another provider began (its reasoning is not ours to
     * send): Anthropic refuses thinking for it, so this step goes
     * without. */
    prov_http_note_dropped(out, "reasoning_effort");
    budget = 0;
  }
  /* Anthropic's max_tokens counts thinking too and must exceed the
   * budget: the client's limit is kept for the visible answer. */
  if(budget && max_tokens <= budget)
    max_tokens += budget;
  cJSON_AddNumberToObject(body, "max_tokens", (double)max_tokens);

  if(cJSON_GetArraySize(system) == 1 &&
     !canon_json_get(system->child, "cache_control")) {
    cJSON_AddStringToObject(body, "system",
                            canon_json_str(system->child, "text"));
    cJSON_Delete(system);
  } else if(cJSON_GetArraySize(system)) {
    cJSON_AddItemToObject(body, "system", system);
  } else {
    cJSON_Delete(system);
  }
  cJSON_AddItemToObject(body, "messages", msgs);

  if(budget) {
    cJSON *t = cJSON_AddObjectToObject(body, "thinking");
    cJSON_AddStringToObject(t, "type", "enabled");
    cJSON_AddNumberToObject(t, "budget_tokens", (double)budget);
  }

  v = canon_json_get(req, "stop");
  if(cJSON_IsString(v) && v->valuestring[0]) {
    cJSON *a = cJSON_AddArrayToObject(body, "stop_sequences");
    cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
  } else if(cJSON_GetArraySize(v)) {
    cJSON *a = cJSON_AddArrayToObject(body, "stop_sequences");
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
      if(cJSON_IsString(s) && s->valuestring[0])
        cJSON_AddItemToArray(a, cJSON_CreateString(s->valuestring));
    }
  }
  if(cJSON_IsTrue(canon_json_get(req, "stream")))
    cJSON_AddTrueToObject(body, "stream");
  if(cJSON_IsNumber(v = canon_json_get(req, "temperature")))
    cJSON_AddNumberToObject(body, "temperature", v->valuedouble);
  if(cJSON_IsNumber(v = canon_json_get(req, "top_p")))
    cJSON_AddNumberToObject(body, "top_p", v->valuedouble);
  v = canon_json_get(req, "top_k");
  if(v && !cJSON_IsNull(v)) {
    if(!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
       v->valuedouble < 0)
      return canon_reject(err, 400, "invalid_type", "top_k",
                          "Invalid type for 'top_k': expected a non-negative "
                          "integer.");
    cJSON_AddNumberToObject(body, "top_k", v->valuedouble);
  }

  rc = translate_tools(req, body, out, err);
  if(!rc)
    rc = translate_tool_choice(req, body, err);
  if(rc)
    return rc;

  v = canon_json_get(req, "response_format");
  if(cJSON_IsObject(v)) {
    const char *type = canon_json_str(v, "type");
    if(type && !strcmp(type, "json_object"))
      /* Anthropic can only be held to a schema, not to "some JSON". */
      return canon_reject(err, 400, "unsupported_value", "response_format.type",
                          "response_format 'json_object' is not supported by "
                          "Anthropic; use 'json_schema' with a schema.");
    if(type && !strcmp(type, "json_schema")) {
      const cJSON *schema =
          canon_json_get(canon_json_get(v, "json_schema"), "schema");
      cJSON *oc, *f;
      if(!cJSON_IsObject(schema))
        return canon_reject(
            err, 400, "missing_required_parameter",
            "response_format.json_schema.schema",
            "Anthropic needs 'response_format.json_schema.schema'.");
      oc = cJSON_AddObjectToObject(body, "output_config");
      f = cJSON_AddObjectToObject(oc, "format");
      cJSON_AddStringToObject(f, "type", "json_schema");
      cJSON_AddItemToObject(f, "schema", cJSON_Duplicate(schema, 1));
    }
  }

  {
    const char *user = canon_json_str(req, "user");
    const char *sid = canon_json_str(req, "safety_identifier");
    if(user || sid) {
      cJSON *md = cJSON_AddObjectToObject(body, "metadata");
      cJSON_AddStringToObject(md, "user_id", user ? user : sid);
      if(user && sid)
        prov_http_note_dropped(out, "safety_identifier");
    }
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(DROPPED); i++)
    if(canon_json_present(req, DROPPED[i]))
      prov_http_note_dropped(out, DROPPED[i]);
  if(canon_json_present(canon_json_get(req, "stream_options"),
                        "include_obfuscation"))
    prov_http_note_dropped(out, "stream_options.include_obfuscation");
  return 0;
}

static const struct prov_cred anth_cred = {"x-api-key", 0, "x-api-key"};

static void add_common_headers(const struct prov *p,
                               const struct prov_client *client,
                               struct prov_http *out)
{
  const struct anth_opts *o = opts_of(p);

  prov_http_add_header(out, "anthropic-version: %s", o->version);
  if(o->betas)
    prov_http_add_header(out, "anthropic-beta: %s", o->betas);
  prov_http_add_common(out, p, client, &anth_cred);
}

/* The Messages body for req in *body (caller frees), out cleared and
 * holding what was dropped; on an error out is freed and *body NULL. */
static int translated(const struct prov *p, const cJSON *req, const char *model,
                      struct prov_http *out, cJSON **body,
                      struct api_error *err)
{
  int rc;

  memset(out, 0, sizeof(*out));
  *body = cJSON_CreateObject();
  rc = translate(p, req, model, *body, out, err);
  if(rc) {
    cJSON_Delete(*body);
    *body = NULL;
    prov_http_free(out);
  }
  return rc;
}

static int build_chat(const struct prov *p, const cJSON *req, const char *model,
                      const struct prov_client *client, struct prov_http *out,
                      struct api_error *err)
{
  int stream = cJSON_IsTrue(canon_json_get(req, "stream"));
  cJSON *body;
  char *json;
  int rc = translated(p, req, model, out, &body, err);

  if(rc)
    return rc;
  json = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s/v1/messages", p->base_url);
  prov_http_add_header(out, "content-type: application/json");
  prov_http_add_header(out, "accept: %s",
                       stream ? "text/event-stream" : "application/json");
  prov_http_add_header(out, "Expect:");
  add_common_headers(p, client, out);
  return 0;
}

/* What POST /v1/messages/count_tokens takes of a Messages body: its
 * prompt half (no max_tokens, stream, sampling or stop fields). */
static const char *const COUNT_FIELDS[] = {
    "model",       "messages", "system",        "tools",
    "tool_choice", "thinking", "output_config",
};

static int build_count(const struct prov *p, const cJSON *req,
                       const char *model, const struct prov_client *client,
                       struct prov_http *out, struct api_error *err)
{
  cJSON *body, *f, *next;
  int rc = translated(p, req, model, out, &body, err);

  if(rc)
    return rc;
  for(f = body->child; f; f = next) {
    size_t i = 0;
    next = f->next;
    while(i < SB_ARRAY_LEN(COUNT_FIELDS) && strcmp(f->string, COUNT_FIELDS[i]))
      i++;
    if(i == SB_ARRAY_LEN(COUNT_FIELDS))
      cJSON_Delete(cJSON_DetachItemViaPointer(body, f));
  }
  prov_http_count_body(out, body);
  out->url = sb_asprintf("%s/v1/messages/count_tokens", p->base_url);
  add_common_headers(p, client, out);
  return 0;
}

static int parse_count(const char *body, size_t len, int64_t *tokens)
{
  return prov_parse_count(body, len, "input_tokens", tokens);
}

void prov_anthropic_build_passthrough(const struct prov *p, cJSON *body,
                                      const char *model, const char *api_path,
                                      const char *query, const char *version,
                                      const char *betas,
                                      const struct prov_client *client,
                                      struct prov_http *out)
{
  const struct anth_opts *o = opts_of(p);
  int stream = cJSON_IsTrue(canon_json_get(body, "stream"));
  char *json;

  memset(out, 0, sizeof(*out));
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model",
                                         cJSON_CreateString(model));
  json = cJSON_PrintUnformatted(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = sb_asprintf("%s%s%s%s", p->base_url, api_path, query ? "?" : "",
                         query ? query : "");
  prov_http_add_header(out, "content-type: application/json");
  prov_http_add_header(out, "accept: %s",
                       stream ? "text/event-stream" : "application/json");
  prov_http_add_header(out, "Expect:");
  /* The client knows which API version and betas it speaks; configured
   * betas are added to its own. */
  prov_http_add_header(out, "anthropic-version: %s",
                       version ? version : o->version);
  if(betas && o->betas)
    prov_http_add_header(out, "anthropic-beta: %s,%s", betas, o->betas);
  else if(betas || o->betas)
    prov_http_add_header(out, "anthropic-beta: %s", betas ? betas : o->betas);
  prov_http_add_common(out, p, client, &anth_cred);
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
  if(!strcmp(stop, "refusal"))
    return "content_filter";
  return "stop"; /* end_turn, stop_sequence, pause_turn, unknown */
}

struct anth_usage {
  int64_t input, cache_creation, cache_read, output, thinking;
};

static void usage_init(struct anth_usage *u)
{
  u->input = u->cache_creation = u->cache_read = u->output = -1;
  u->thinking = -1;
}

static void usage_read(const cJSON *usage, struct anth_usage *u)
{
  if(!cJSON_IsObject(usage))
    return;
  canon_json_count_into(usage, "input_tokens", &u->input);
  canon_json_count_into(usage, "cache_creation_input_tokens",
                        &u->cache_creation);
  canon_json_count_into(usage, "cache_read_input_tokens", &u->cache_read);
  canon_json_count_into(usage, "output_tokens", &u->output);
  canon_json_count_into(canon_json_get(usage, "output_tokens_details"),
                        "thinking_tokens", &u->thinking);
}

/* Usage (docs/adapters.md): prompt = input + cache creation + cache read;
 * cached = cache read. */
static void usage_canon(const struct anth_usage *a, struct canon_usage *c)
{
  canon_usage_init(c);
  if(a->input >= 0)
    c->prompt_tokens = a->input +
                       (a->cache_creation > 0 ? a->cache_creation : 0) +
                       (a->cache_read > 0 ? a->cache_read : 0);
  c->completion_tokens = a->output;
  c->cached_tokens = a->cache_read >= 0 ? a->cache_read
                     : a->input >= 0    ? 0
                                        : -1;
  c->reasoning_tokens = a->thinking;
}

static int parse_chat(const struct prov *p, const char *body, size_t len,
                      const char *model, const char *id, int64_t created,
                      cJSON **out, struct canon_usage *usage,
                      struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *content = canon_json_get(root, "content");
  const cJSON *b;
  struct anth_usage au;
  struct buf text, reasoning; /* bounded by the body, already bounded */
  cJSON *res, *calls = NULL, *details = NULL;
  struct canon_usage cu;

  if(!cJSON_IsObject(root) || !cJSON_IsArray(content)) {
    cJSON_Delete(root);
    canon_bad_response(err, "a response that is not an Anthropic message");
    return SB_EPROTO;
  }
  buf_init(&text, SIZE_MAX);
  buf_init(&reasoning, SIZE_MAX);
  calls = cJSON_CreateArray();
  details = cJSON_CreateArray();
  cJSON_ArrayForEach(b, content)
  {
    const char *type = canon_json_str(b, "type");
    const char *s = NULL;
    struct buf *acc = NULL;

    if(!type)
      continue;
    if(!strcmp(type, "text")) {
      s = canon_json_str(b, "text");
      acc = &text;
    } else if(!strcmp(type, "thinking")) {
      s = canon_json_str(b, "thinking");
      acc = &reasoning;
      cJSON_AddItemToArray(
          details, canon_reasoning_text(s, canon_json_str(b, "signature"),
                                        CANON_FMT_ANTHROPIC));
    } else if(!strcmp(type, "redacted_thinking")) {
      if(canon_json_str(b, "data"))
        cJSON_AddItemToArray(
            details, canon_reasoning_encrypted(canon_json_str(b, "data"),
                                               CANON_FMT_ANTHROPIC));
    } else if(!strcmp(type, "tool_use")) {
      const cJSON *input = canon_json_get(b, "input");
      char *args = input ? cJSON_PrintUnformatted(input) : sb_strdup("{}");
      if(!args)
        abort();
      cJSON_AddItemToArray(calls,
                           canon_tool_call(canon_json_str(b, "id"),
                                           canon_json_str(b, "name"), args));
      free(args);
    }
    if(s && acc)
      buf_appendz(acc, s);
  }

  usage_init(&au);
  usage_read(canon_json_get(root, "usage"), &au);
  usage_canon(&au, &cu);
  res = canon_chat_completion(
      id, created, model,
      canon_chat_choice(0, text.data, reasoning.data, calls,
                        finish_reason(canon_json_str(root, "stop_reason"))),
      &cu);
  if(cJSON_GetArraySize(details)) {
    /* Besides reasoning_content: what Anthropic must get back verbatim. */
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
  (void)p;
  return 0;
}

/* ---- streams --------------------------------------------------------- */

enum block_kind { BLOCK_OTHER, BLOCK_TEXT, BLOCK_TOOL, BLOCK_THINKING };

struct block {
  enum block_kind kind;
  int tool; /* tool call index for BLOCK_TOOL */
};

struct prov_stream {
  int started;  /* CANON_EV_START emitted */
  int complete; /* message_stop seen */
  int failed;   /* an error was emitted: nothing more */
  struct block *blocks;
  int nblocks;
  int next_tool;
  struct anth_usage usage;
};

static struct prov_stream *stream_new(const struct prov *p, const char *model)
{
  struct prov_stream *s = sb_calloc(1, sizeof(*s));
  usage_init(&s->usage);
  (void)p;
  (void)model;
  return s;
}

static void stream_free(struct prov_stream *s)
{
  if(!s)
    return;
  free(s->blocks);
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

static int ensure_started(struct prov_stream *s, const struct canon_sink *sink,
                          const char *id, const char *model)
{
  struct canon_ev ev = {.type = CANON_EV_START, .id = id, .model = model};

  if(s->started)
    return 0;
  s->started = 1;
  return canon_emit(sink, &ev);
}

/* The block at index, created (as BLOCK_OTHER) when new. NULL when the
 * index is out of range. */
static struct block *block_at(struct prov_stream *s, const cJSON *index)
{
  int i;

  if(!cJSON_IsNumber(index) || index->valuedouble < 0 ||
     index->valuedouble >= ANTH_MAX_BLOCKS)
    return NULL;
  i = (int)index->valuedouble;
  if(i >= s->nblocks) {
    s->blocks = sb_realloc(s->blocks, sizeof(*s->blocks) * (size_t)(i + 1));
    memset(s->blocks + s->nblocks, 0,
           sizeof(*s->blocks) * (size_t)(i + 1 - s->nblocks));
    s->nblocks = i + 1;
  }
  return &s->blocks[i];
}

/* The in-stream error: type upstream_error, code the upstream's error
 * type (reference.md "Mid-stream failure"). */
static void stream_error(const cJSON *e, struct api_error *err)
{
  const char *type = canon_json_str(e, "type");
  const char *msg = canon_json_str(e, "message");
  int status = 502;

  if(type && !strcmp(type, "overloaded_error"))
    status = 503;
  else if(type && !strcmp(type, "timeout_error"))
    status = 504;
  else if(type && !strcmp(type, "rate_limit_error"))
    status = 429;
  api_error_set(err, status, "upstream_error", type ? type : "upstream_error",
                NULL, "%s",
                msg ? msg : "The upstream provider failed mid-stream.");
}

static int on_block_start(struct prov_stream *s, const cJSON *root,
                          const struct canon_sink *sink)
{
  const cJSON *cb = canon_json_get(root, "content_block");
  const char *type = canon_json_str(cb, "type");
  struct block *b = block_at(s, canon_json_get(root, "index"));
  struct canon_ev ev = {.type = CANON_EV_TOOL_START};

  if(!b || !type)
    return SB_EPROTO;
  if(!strcmp(type, "text")) {
    b->kind = BLOCK_TEXT;
    return canon_emit_text(sink, CANON_EV_TEXT, 0, canon_json_str(cb, "text"));
  }
  if(!strcmp(type, "thinking")) {
    b->kind = BLOCK_THINKING;
    return canon_emit_text(sink, CANON_EV_REASONING, 0,
                           canon_json_str(cb, "thinking"));
  }
  if(!strcmp(type, "tool_use")) {
    b->kind = BLOCK_TOOL;
    b->tool = s->next_tool++;
    ev.index = b->tool;
    ev.id = canon_json_str(cb, "id");
    ev.name = canon_json_str(cb, "name");
    if(!ev.id || !ev.name)
      return SB_EPROTO;
    return canon_emit(sink, &ev);
  }
  if(!strcmp(type, "redacted_thinking")) {
    struct canon_ev r = {.type = CANON_EV_REASONING, .text = "", .len = 0};
    b->kind = BLOCK_OTHER;
    r.data = canon_json_str(cb, "data");
    r.format = CANON_FMT_ANTHROPIC;
    return r.data ? canon_emit(sink, &r) : 0;
  }
  b->kind = BLOCK_OTHER; /* server tools, ... */
  return 0;
}

static int on_block_delta(struct prov_stream *s, const cJSON *root,
                          const struct canon_sink *sink)
{
  const cJSON *d = canon_json_get(root, "delta");
  const char *type = canon_json_str(d, "type");
  struct block *b = block_at(s, canon_json_get(root, "index"));

  if(!b || !type)
    return SB_EPROTO;
  if(!strcmp(type, "text_delta"))
    return canon_emit_text(sink, CANON_EV_TEXT, 0, canon_json_str(d, "text"));
  if(!strcmp(type, "thinking_delta"))
    return canon_emit_text(sink, CANON_EV_REASONING, 0,
                           canon_json_str(d, "thinking"));
  if(!strcmp(type, "signature_delta")) {
    struct canon_ev ev = {.type = CANON_EV_REASONING, .text = "", .len = 0};
    ev.signature = canon_json_str(d, "signature");
    ev.format = CANON_FMT_ANTHROPIC;
    return ev.signature ? canon_emit(sink, &ev) : 0;
  }
  if(!strcmp(type, "input_json_delta")) {
    if(b->kind != BLOCK_TOOL)
      return 0; /* server tools stream their input too */
    return canon_emit_text(sink, CANON_EV_TOOL_ARGS, b->tool,
                           canon_json_str(d, "partial_json"));
  }
  return 0; /* citations_delta and future delta types */
}

static int on_message_delta(struct prov_stream *s, const cJSON *root,
                            const struct canon_sink *sink)
{
  const cJSON *stop =
      canon_json_get(canon_json_get(root, "delta"), "stop_reason");
  struct canon_ev ev = {.type = CANON_EV_FINISH};
  int rc = 0;

  usage_read(canon_json_get(root, "usage"), &s->usage);
  if(cJSON_IsString(stop)) {
    ev.finish_reason = finish_reason(stop->valuestring);
    rc = canon_emit(sink, &ev);
  }
  if(!rc) {
    struct canon_ev u = {.type = CANON_EV_USAGE};
    usage_canon(&s->usage, &u.usage);
    rc = canon_emit(sink, &u);
  }
  return rc;
}

static int stream_feed(struct prov_stream *s, const struct prov_payload *pl,
                       const struct canon_sink *sink)
{
  cJSON *root;
  const char *type;
  char ename[32];
  struct api_error err;
  int rc = 0;

  if(s->failed)
    return SB_EPROTO;
  root = cJSON_ParseWithLength(pl->data, pl->len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    canon_bad_response(&err, "a malformed stream event");
    return emit_error(s, sink, &err, SB_EPROTO);
  }
  type = canon_json_str(root, "type");
  if(!type && pl->event && pl->event_len && pl->event_len < sizeof(ename)) {
    /* The type is in the JSON of every event; the SSE name is the
     * fallback. */
    memcpy(ename, pl->event, pl->event_len);
    ename[pl->event_len] = '\0';
    type = ename;
  }
  if(!type) {
    rc = SB_EPROTO;
  } else if(!strcmp(type, "message_start")) {
    const cJSON *m = canon_json_get(root, "message");
    usage_read(canon_json_get(m, "usage"), &s->usage);
    rc = ensure_started(s, sink, canon_json_str(m, "id"),
                        canon_json_str(m, "model"));
  } else if(!strcmp(type, "content_block_start")) {
    rc = ensure_started(s, sink, NULL, NULL);
    if(!rc)
      rc = on_block_start(s, root, sink);
  } else if(!strcmp(type, "content_block_delta")) {
    rc = ensure_started(s, sink, NULL, NULL);
    if(!rc)
      rc = on_block_delta(s, root, sink);
  } else if(!strcmp(type, "message_delta")) {
    rc = ensure_started(s, sink, NULL, NULL);
    if(!rc)
      rc = on_message_delta(s, root, sink);
  } else if(!strcmp(type, "message_stop")) {
    s->complete = 1;
  } else if(!strcmp(type, "error")) {
    stream_error(canon_json_get(root, "error"), &err);
    cJSON_Delete(root);
    return emit_error(s, sink, &err, SB_EIO);
  }
  /* ping, content_block_stop and unknown types: nothing. */
  cJSON_Delete(root);
  if(rc == SB_EPROTO) {
    canon_bad_response(&err, "a malformed stream event");
    return emit_error(s, sink, &err, SB_EPROTO);
  }
  return rc;
}

/* ---- errors and models ----------------------------------------------- */

static int says_too_long(const char *msg)
{
  return msg &&
         (strstr(msg, "prompt is too long") || strstr(msg, "context window") ||
          strstr(msg, "context length"));
}

static void map_error(const struct prov *p, int status, const char *body,
                      size_t len, const char *retry_after,
                      const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const cJSON *e = canon_json_get(root, "error");
  const char *type = canon_json_str(e, "type");
  const char *msg = canon_json_str(e, "message");
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if(!msg)
    msg = canon_json_str(root, "message");
  if((status == 401 || status == 403) && own_credential) {
    /* The upstream refused the gateway's key: not the client's fault,
     * and the upstream text is not echoed. */
    canon_err_auth_failed(err, p->name, status);
  } else if(status == 401) {
    api_error_set(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                  "%s", msg ? msg : "Invalid API key.");
  } else if(status == 403) {
    api_error_set(err, 403, "invalid_request_error", "permission_denied", NULL,
                  "%s",
                  msg ? msg : "The upstream provider refused the request.");
  } else if(status == 529 || status == 503 ||
            (type && !strcmp(type, "overloaded_error"))) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status == 504) {
    canon_err_timeout(err, p->name, msg);
  } else if(status >= 500 || status < 400) {
    canon_err_failed(err, p->name, status, msg);
  } else if(status == 402 || (type && !strcmp(type, "billing_error"))) {
    api_error_set(err, 429, "insufficient_quota", "insufficient_quota", NULL,
                  "%s", msg ? msg : "The upstream account has no credit.");
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
                  msg ? msg
                      : "The upstream provider rejected the "
                        "request.");
  }
  if(status == 429 || status == 503 || status == 529)
    canon_retry_after(err, retry_after, retry_after_ms);
  cJSON_Delete(root);
}

static void build_models(const struct prov *p, struct prov_http *out)
{
  memset(out, 0, sizeof(*out));
  /* One page holds every model: the API's largest page is 1000. */
  out->url = sb_asprintf("%s/v1/models?limit=1000", p->base_url);
  prov_http_add_header(out, "accept: application/json");
  add_common_headers(p, NULL, out);
}

static int parse_models(const char *body, size_t len, char ***models,
                        int *nmodels)
{
  return canon_models_parse(body, len, "data", canon_model_id, models, nmodels);
}

const struct prov_adapter prov_anthropic_adapter = {
    .kind = "anthropic",
    .caps = OAI_CAP_TOOLS | OAI_CAP_RESPONSE_FORMAT | OAI_CAP_IMAGES,
    .framing = PROV_FRAMING_SSE,
    .default_base_url = "https://api.anthropic.com",
    .configure = configure,
    .unconfigure = unconfigure,
    .build_chat = build_chat,
    .parse_chat = parse_chat,
    .stream_new = stream_new,
    .stream_feed = stream_feed,
    .stream_complete = stream_complete,
    .stream_free = stream_free,
    .map_error = map_error,
    .build_models = build_models,
    .parse_models = parse_models,
    .build_count = build_count,
    .parse_count = parse_count,
};
