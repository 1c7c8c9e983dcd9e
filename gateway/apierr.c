#include "gateway/apierr.h"
#include "gateway/sb.h"

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
