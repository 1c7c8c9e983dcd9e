#include "codec/oai_err.h"
#include "base/sb.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define T_ERR "invalid_request_error"

/* Room for the formatted part of a message; api_error.message holds 511
 * bytes and the fixed text around the detail takes some of them. */
#define DETAIL_LEN 384

const char *oai_err_type_name(const cJSON *v)
{
  if(cJSON_IsNull(v))
    return "null";
  if(cJSON_IsBool(v))
    return "a boolean";
  if(cJSON_IsNumber(v))
    return "a number";
  if(cJSON_IsString(v))
    return "a string";
  if(cJSON_IsArray(v))
    return "an array";
  if(cJSON_IsObject(v))
    return "an object";
  return "an invalid value";
}

const char *oai_err_quote(char out[OAI_ERR_QUOTE_MAX + 4], const char *s)
{
  size_t n = strlen(s);

  if(n <= OAI_ERR_QUOTE_MAX) {
    memcpy(out, s, n + 1);
    return out;
  }
  n = OAI_ERR_QUOTE_MAX;
  while(n && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  memcpy(out, s, n);
  memcpy(out + n, "...", 4);
  return out;
}

int oai_err_type(struct api_error *err, const char *path, const char *expected,
                 const cJSON *got)
{
  api_error_set(err, 400, T_ERR, "invalid_type", path,
                "Invalid type for '%s': expected %s, got %s.", path, expected,
                oai_err_type_name(got));
  return SB_EINVAL;
}

int oai_err_missing(struct api_error *err, const char *path)
{
  api_error_set(err, 400, T_ERR, "missing_required_parameter", path,
                "Missing required parameter: '%s'.", path);
  return SB_EINVAL;
}

int oai_err_value(struct api_error *err, const char *path, const char *fmt, ...)
{
  char detail[DETAIL_LEN];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  api_error_set(err, 400, T_ERR, "invalid_value", path,
                "Invalid value for '%s': %s", path, detail);
  return SB_EINVAL;
}

int oai_err_unsupported(struct api_error *err, const char *code,
                        const char *path, const char *fmt, ...)
{
  char detail[DETAIL_LEN];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  api_error_set(err, 400, T_ERR, code, path, "%s", detail);
  return SB_EINVAL;
}

void oai_err_list_add(char *list, size_t cap, const char *name)
{
  size_t l = strlen(list);

  snprintf(list + l, cap - l, "%s'%s'", l ? ", " : "", name);
}

int oai_err_one_of(struct api_error *err, const char *path, const char *list,
                   const char *got)
{
  char q[OAI_ERR_QUOTE_MAX + 4];

  return oai_err_value(err, path, "expected one of %s, got '%s'.", list,
                       oai_err_quote(q, got));
}

int oai_err_enum(struct api_error *err, const char *path,
                 const char *const *allowed, const char *got,
                 const char **match)
{
  char list[256] = "";
  size_t i;

  for(i = 0; allowed[i]; i++) {
    if(!strcmp(got, allowed[i])) {
      if(match)
        *match = allowed[i];
      return 0;
    }
  }
  for(i = 0; allowed[i]; i++)
    oai_err_list_add(list, sizeof(list), allowed[i]);
  return oai_err_one_of(err, path, list, got);
}

/* Append s to the path of length n in out, as far as OAI_ERR_PATH_LEN
 * allows; returns the new length. */
static size_t cat(char *out, size_t n, const char *s)
{
  size_t k = strnlen(s, OAI_ERR_PATH_LEN - 1 - n);

  memcpy(out + n, s, k);
  out[n + k] = '\0';
  return n + k;
}

void oai_err_join(char *out, const char *path, const char *key)
{
  size_t n = cat(out, 0, path);

  if(n)
    n = cat(out, n, ".");
  cat(out, n, key);
}

void oai_err_join_index(char *out, const char *path, int i)
{
  char idx[16];

  snprintf(idx, sizeof(idx), "[%d]", i);
  cat(out, cat(out, 0, path), idx);
}

int oai_err_need_string(const cJSON *obj, const char *key, const char *path,
                        const char **out, struct api_error *err)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char p[OAI_ERR_PATH_LEN];

  oai_err_join(p, path, key);
  if(!v)
    return oai_err_missing(err, p);
  if(!cJSON_IsString(v))
    return oai_err_type(err, p, "a string", v);
  if(out)
    *out = v->valuestring;
  return 0;
}

int oai_err_opt_member(const cJSON *obj, const char *key, const char *path,
                       cJSON_bool (*check)(const cJSON *), const char *what,
                       int nullable, struct api_error *err)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char p[OAI_ERR_PATH_LEN];

  if(!v || check(v) || (nullable && cJSON_IsNull(v)))
    return 0;
  oai_err_join(p, path, key);
  return oai_err_type(err, p, what, v);
}

int oai_err_valid_name(const char *s)
{
  size_t n = strlen(s);

  if(n < 1 || n > 64)
    return 0;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

int oai_err_need_name(const cJSON *obj, const char *key, const char *path,
                      const char **out, struct api_error *err)
{
  char p[OAI_ERR_PATH_LEN];
  char q[OAI_ERR_QUOTE_MAX + 4];
  const char *s;
  int rc = oai_err_need_string(obj, key, path, &s, err);

  if(rc)
    return rc;
  if(out)
    *out = s;
  if(oai_err_valid_name(s))
    return 0;
  oai_err_join(p, path, key);
  return oai_err_value(err, p,
                       "expected 1 to 64 characters of a-z, A-Z, 0-9, '_' or "
                       "'-', got '%s'.",
                       oai_err_quote(q, s));
}

/* Bounds of an integer cJSON can hold exactly enough to forward: an
 * int64 (2^63 as a double). */
#define INT64_LIMIT 9223372036854775808.0

int oai_err_scalar(const cJSON *body, const struct oai_scalar_rule *r,
                   struct api_error *err)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, r->name);
  const char *what = r->kind == OAI_INT ? "an integer" : "a number";
  double d;

  if(!v || (r->nullable && cJSON_IsNull(v)))
    return 0;
  switch(r->kind) {
  case OAI_BOOL:
    return cJSON_IsBool(v) ? 0 : oai_err_type(err, r->name, "a boolean", v);
  case OAI_STR:
    return cJSON_IsString(v) ? 0 : oai_err_type(err, r->name, "a string", v);
  case OAI_OBJ:
    return cJSON_IsObject(v) ? 0 : oai_err_type(err, r->name, "an object", v);
  case OAI_ARR:
    return cJSON_IsArray(v) ? 0 : oai_err_type(err, r->name, "an array", v);
  case OAI_INT:
    d = v->valuedouble;
    if(!cJSON_IsNumber(v) || !isfinite(d) || floor(d) != d)
      return oai_err_type(err, r->name, "an integer", v);
    if(d < -INT64_LIMIT || d >= INT64_LIMIT)
      return oai_err_value(err, r->name, "expected a 64-bit integer, got %g.",
                           d);
    break;
  case OAI_NUM:
    if(!cJSON_IsNumber(v))
      return oai_err_type(err, r->name, "a number", v);
    if(!isfinite(v->valuedouble))
      return oai_err_value(err, r->name, "expected a finite number.");
    break;
  }
  d = v->valuedouble;
  if(r->has_min && r->has_max && (d < r->min || d > r->max))
    return oai_err_value(err, r->name, "expected %s between %g and %g, got %g.",
                         what, r->min, r->max, d);
  if(r->has_min && !r->has_max && d < r->min)
    return oai_err_value(err, r->name, "expected %s >= %g, got %g.", what,
                         r->min, d);
  return 0;
}
