#include "base/apierr.h"
#include "base/sb.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

void api_error_set(struct api_error *err, int status, const char *type,
                   const char *code, const char *param, const char *fmt, ...)
{
  va_list ap;

  memset(err, 0, sizeof(*err));
  err->status = status;
  copy(err->type, sizeof(err->type), type);
  copy(err->code, sizeof(err->code), code);
  copy(err->param, sizeof(err->param), param);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
  if(v[0])
    cJSON_AddStringToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

char *api_error_openai_json(const struct api_error *err)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(root, "error");
  char *s;

  cJSON_AddStringToObject(e, "message", err->message);
  cJSON_AddStringToObject(e, "type", err->type[0] ? err->type : "api_error");
  add_str_or_null(e, "param", err->param);
  add_str_or_null(e, "code", err->code);
  s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if(!s)
    abort();
  return s;
}

static const char *anthropic_type(int status)
{
  switch(status) {
  case 400: return "invalid_request_error";
  case 401: return "authentication_error";
  case 402: return "billing_error";
  case 403: return "permission_error";
  case 404: return "not_found_error";
  case 413: return "request_too_large";
  case 429: return "rate_limit_error";
  case 503:
  case 529: return "overloaded_error";
  case 504: return "timeout_error";
  default: break;
  }
  return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

char *api_error_anthropic_json(const struct api_error *err)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *e;
  char *s;

  cJSON_AddStringToObject(root, "type", "error");
  e = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(e, "type", anthropic_type(err->status));
  cJSON_AddStringToObject(e, "message", err->message);
  s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if(!s)
    abort();
  return s;
}
