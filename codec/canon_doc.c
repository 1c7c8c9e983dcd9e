/*
 * canon_doc.c - reading and building the canonical documents
 * (canon_doc.h).
 */
#include "codec/canon_doc.h"
#include "base/json.h"
#include "base/sb.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const cJSON *canon_json_get(const cJSON *o, const char *k)
{
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

const char *canon_json_str(const cJSON *o, const char *k)
{
  const cJSON *v = canon_json_get(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int canon_json_present(const cJSON *o, const char *k)
{
  const cJSON *v = canon_json_get(o, k);
  return v && !cJSON_IsNull(v);
}

int64_t canon_json_count(const cJSON *v, int64_t dflt)
{
  if(!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
     v->valuedouble > CANON_COUNT_MAX)
    return dflt;
  return (int64_t)v->valuedouble;
}

void canon_json_count_into(const cJSON *o, const char *k, int64_t *dst)
{
  *dst = canon_json_count(canon_json_get(o, k), *dst);
}

int canon_blank(const char *s)
{
  for(; *s; s++)
    if(!isspace((unsigned char)*s))
      return 0;
  return 1;
}

void canon_add_turn(cJSON *msgs, const char *role, cJSON *blocks)
{
  cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
  cJSON *m;

  if(!cJSON_GetArraySize(blocks)) {
    cJSON_Delete(blocks);
    return;
  }
  if(last && !strcmp(canon_json_str(last, "role"), role)) {
    cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
    while(blocks->child)
      cJSON_AddItemToArray(content,
                           cJSON_DetachItemViaPointer(blocks, blocks->child));
    cJSON_Delete(blocks);
    return;
  }
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddItemToObject(m, "content", blocks);
  cJSON_AddItemToArray(msgs, m);
}

int canon_reject(struct api_error *err, int status, const char *code,
                 const char *param, const char *fmt, ...)
{
  char msg[sizeof(err->message)];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  api_error_set(err, status, "invalid_request_error", code, param, "%s", msg);
  return SB_EINVAL;
}

int canon_data_url(const char *url, char *mbuf, size_t mcap, const char **data)
{
  const char *semi, *comma;
  size_t n;

  if(strncasecmp(url, "data:", 5))
    return -1;
  url += 5;
  comma = strchr(url, ',');
  if(!comma)
    return -1;
  semi = memchr(url, ';', (size_t)(comma - url));
  if(!semi || (size_t)(comma - semi) != 7 || strncasecmp(semi, ";base64", 7))
    return -1;
  n = (size_t)(semi - url);
  if(n == 0 || n >= mcap)
    return -1;
  for(size_t i = 0; i < n; i++)
    mbuf[i] = (char)tolower((unsigned char)url[i]);
  mbuf[n] = '\0';
  *data = comma + 1;
  return 0;
}

void canon_bad_response(struct api_error *err, const char *what)
{
  api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                "The upstream provider sent %s.", what);
}

void canon_err_auth_failed(struct api_error *err, const char *provider,
                           int status)
{
  api_error_set(err, 502, "upstream_error", "upstream_auth_failed", NULL,
                "Provider '%s' rejected the gateway's credentials "
                "(upstream status %d).",
                provider, status);
}

void canon_err_unavailable(struct api_error *err, const char *provider,
                           const char *msg)
{
  api_error_set(err, 503, "upstream_error", "upstream_unavailable", NULL,
                "Provider '%s' is overloaded or unavailable%s%s", provider,
                msg ? ": " : ".", msg ? msg : "");
}

void canon_err_timeout(struct api_error *err, const char *provider,
                       const char *msg)
{
  api_error_set(err, 504, "upstream_error", "upstream_timeout", NULL,
                "Provider '%s' timed out%s%s", provider, msg ? ": " : ".",
                msg ? msg : "");
}

void canon_err_failed(struct api_error *err, const char *provider, int status,
                      const char *msg)
{
  api_error_set(err, 502, "upstream_error", "upstream_error", NULL,
                "Provider '%s' failed with status %d%s%s", provider, status,
                msg ? ": " : ".", msg ? msg : "");
}

void canon_retry_after(struct api_error *err, const char *retry_after,
                       const char *retry_after_ms)
{
  if(retry_after)
    err->retry_after_s = atoi(retry_after);
  if(retry_after_ms)
    err->retry_after_ms = atoi(retry_after_ms);
}

int canon_models_parse(const char *body, size_t len, const char *list_key,
                       const char *(*name_of)(const cJSON *m), char ***models,
                       int *nmodels)
{
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *list = canon_json_get(root, list_key);
  const cJSON *m;
  char **v;
  int n = 0;

  if(!cJSON_IsArray(list)) {
    cJSON_Delete(root);
    return SB_EPROTO;
  }
  v = sb_calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(char *));
  cJSON_ArrayForEach(m, list)
  {
    const char *name = name_of(m);
    if(name && name[0])
      v[n++] = sb_strdup(name);
  }
  cJSON_Delete(root);
  *models = v;
  *nmodels = n;
  return 0;
}

const char *canon_model_id(const cJSON *m)
{
  return canon_json_str(m, "id");
}

int canon_emit(const struct canon_sink *sink, const struct canon_ev *ev)
{
  return sink->emit(sink->ud, ev);
}

int canon_emit_text(const struct canon_sink *sink, enum canon_ev_type type,
                    int index, const char *text)
{
  struct canon_ev ev = {.type = type, .index = index};

  if(!text || !text[0])
    return 0;
  ev.text = text;
  ev.len = strlen(text);
  return canon_emit(sink, &ev);
}

void canon_usage_read(const cJSON *us, struct canon_usage *u)
{
  canon_json_count_into(us, "prompt_tokens", &u->prompt_tokens);
  canon_json_count_into(us, "completion_tokens", &u->completion_tokens);
  canon_json_count_into(canon_json_get(us, "prompt_tokens_details"),
                        "cached_tokens", &u->cached_tokens);
  canon_json_count_into(canon_json_get(us, "completion_tokens_details"),
                        "reasoning_tokens", &u->reasoning_tokens);
}

/* canon_json_count() of a value's raw text. */
static int64_t count_of(struct json_span v, int64_t dflt)
{
  char num[JSON_NUMBER_MAX + 1];
  double d;

  if(!v.p || v.n >= sizeof(num) ||
     !(*v.p == '-' || (*v.p >= '0' && *v.p <= '9')))
    return dflt; /* not a number */
  memcpy(num, v.p, v.n);
  num[v.n] = '\0';
  d = strtod(num, NULL);
  if(!(d >= 0) || d > CANON_COUNT_MAX)
    return dflt;
  return (int64_t)d;
}

void canon_usage_scan(const char *s, size_t n, struct canon_usage *u)
{
  static const char *const keys[] = {"prompt_tokens", "completion_tokens",
                                     "prompt_tokens_details",
                                     "completion_tokens_details"};
  static const char *const cached[] = {"cached_tokens"};
  static const char *const reasoning[] = {"reasoning_tokens"};
  struct json_span v[4], d;

  json_members(s, n, keys, 4, v);
  u->prompt_tokens = count_of(v[0], u->prompt_tokens);
  u->completion_tokens = count_of(v[1], u->completion_tokens);
  if(v[2].p && json_members(v[2].p, v[2].n, cached, 1, &d))
    u->cached_tokens = count_of(d, u->cached_tokens);
  if(v[3].p && json_members(v[3].p, v[3].n, reasoning, 1, &d))
    u->reasoning_tokens = count_of(d, u->reasoning_tokens);
}

cJSON *canon_usage_json(const struct canon_usage *u)
{
  cJSON *us = cJSON_CreateObject();
  int64_t p = u->prompt_tokens > 0 ? u->prompt_tokens : 0;
  int64_t c = u->completion_tokens > 0 ? u->completion_tokens : 0;

  cJSON_AddNumberToObject(us, "prompt_tokens", (double)p);
  cJSON_AddNumberToObject(us, "completion_tokens", (double)c);
  cJSON_AddNumberToObject(us, "total_tokens", (double)(p + c));
  if(u->cached_tokens >= 0)
    cJSON_AddNumberToObject(
        cJSON_AddObjectToObject(us, "prompt_tokens_details"), "cached_tokens",
        (double)u->cached_tokens);
  if(u->reasoning_tokens >= 0)
    cJSON_AddNumberToObject(
        cJSON_AddObjectToObject(us, "completion_tokens_details"),
        "reasoning_tokens", (double)u->reasoning_tokens);
  return us;
}

cJSON *canon_chat_choice(int index, const char *text, const char *reasoning,
                         cJSON *calls, const char *finish_reason)
{
  cJSON *choice = cJSON_CreateObject(), *msg;
  int ncalls = calls ? cJSON_GetArraySize(calls) : 0;

  cJSON_AddNumberToObject(choice, "index", index);
  msg = cJSON_AddObjectToObject(choice, "message");
  cJSON_AddStringToObject(msg, "role", "assistant");
  if((text && *text) || !ncalls)
    cJSON_AddStringToObject(msg, "content", text ? text : "");
  else
    cJSON_AddNullToObject(msg, "content");
  if(reasoning && *reasoning)
    cJSON_AddStringToObject(msg, "reasoning_content", reasoning);
  if(ncalls)
    cJSON_AddItemToObject(msg, "tool_calls", calls);
  else
    cJSON_Delete(calls);
  cJSON_AddNullToObject(msg, "refusal");
  cJSON_AddNullToObject(choice, "logprobs");
  cJSON_AddStringToObject(choice, "finish_reason", finish_reason);
  return choice;
}

cJSON *canon_chat_completion(const char *id, int64_t created, const char *model,
                             cJSON *choice, const struct canon_usage *u)
{
  cJSON *res = cJSON_CreateObject(), *choices;

  cJSON_AddStringToObject(res, "id", id);
  cJSON_AddStringToObject(res, "object", "chat.completion");
  cJSON_AddNumberToObject(res, "created", (double)created);
  cJSON_AddStringToObject(res, "model", model);
  choices = cJSON_AddArrayToObject(res, "choices");
  if(choice)
    cJSON_AddItemToArray(choices, choice);
  if(u && (u->prompt_tokens >= 0 || u->completion_tokens >= 0))
    cJSON_AddItemToObject(res, "usage", canon_usage_json(u));
  return res;
}

cJSON *canon_tool_call(const char *id, const char *name, const char *arguments)
{
  cJSON *tc = cJSON_CreateObject(), *fn;

  cJSON_AddStringToObject(tc, "id", id ? id : "");
  cJSON_AddStringToObject(tc, "type", "function");
  fn = cJSON_AddObjectToObject(tc, "function");
  cJSON_AddStringToObject(fn, "name", name ? name : "");
  cJSON_AddStringToObject(fn, "arguments", arguments ? arguments : "{}");
  return tc;
}

cJSON *canon_reasoning_text(const char *text, const char *signature,
                            const char *format)
{
  cJSON *d = cJSON_CreateObject();

  cJSON_AddStringToObject(d, "type", "reasoning.text");
  cJSON_AddStringToObject(d, "text", text ? text : "");
  if(signature)
    cJSON_AddStringToObject(d, "signature", signature);
  cJSON_AddStringToObject(d, "format", format);
  return d;
}

cJSON *canon_reasoning_encrypted(const char *data, const char *format)
{
  cJSON *d = cJSON_CreateObject();

  cJSON_AddStringToObject(d, "type", "reasoning.encrypted");
  cJSON_AddStringToObject(d, "data", data);
  cJSON_AddStringToObject(d, "format", format);
  return d;
}

int canon_reasoning_is(const cJSON *d, const char *fmt)
{
  const char *type = canon_json_str(d, "type");
  const char *f = canon_json_str(d, "format");

  if(!type || !f || strcmp(f, fmt))
    return 0;
  if(!strcmp(type, "reasoning.text"))
    return canon_json_str(d, "text") != NULL;
  if(!strcmp(type, "reasoning.encrypted"))
    return canon_json_str(d, "data") != NULL;
  return 0;
}
