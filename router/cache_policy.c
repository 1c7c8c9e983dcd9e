/*
 * cache_policy.c - the response cache's policy per route and key
 * (cache_policy.h).
 */
#include "router/cache_policy.h"
#include "base/sb.h"

#include <string.h>

void cache_policy_unset(struct cache_policy *p)
{
  p->enabled = -1;
  p->ttl_s = 0;
  p->max_entry_bytes = 0;
  p->shared = -1;
}

int cache_policy_empty(const struct cache_policy *p)
{
  return p->enabled < 0 && !p->ttl_s && !p->max_entry_bytes && p->shared < 0;
}

/* An integer member from 1 to max, or SB_EINVAL. */
static int get_count(const cJSON *v, double max, int64_t *out)
{
  if(!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > max ||
     v->valuedouble != (double)(int64_t)v->valuedouble)
    return SB_EINVAL;
  *out = (int64_t)v->valuedouble;
  return 0;
}

int cache_policy_parse(const cJSON *o, int allow_shared,
                       struct cache_policy *out, char *err, size_t errlen)
{
  const cJSON *v;
  int64_t n;

  cache_policy_unset(out);
  if(!cJSON_IsObject(o)) {
    sb_errf(err, errlen, "%s: expected an object", "cache");
    return SB_EINVAL;
  }
  cJSON_ArrayForEach(v, o)
  {
    if(!strcmp(v->string, "enabled")) {
      if(!cJSON_IsBool(v)) {
        sb_errf(err, errlen, "%s: expected true or false", "cache.enabled");
        return SB_EINVAL;
      }
      out->enabled = cJSON_IsTrue(v);
    } else if(!strcmp(v->string, "ttl_s")) {
      if(get_count(v, CACHE_POLICY_TTL_MAX, &n)) {
        sb_errf(err, errlen, "%s: expected whole seconds from 1 to 31536000",
                "cache.ttl_s");
        return SB_EINVAL;
      }
      out->ttl_s = (int)n;
    } else if(!strcmp(v->string, "max_entry_bytes")) {
      if(get_count(v, 1073741824.0, &out->max_entry_bytes)) {
        sb_errf(err, errlen, "%s: expected bytes from 1 to 1073741824",
                "cache.max_entry_bytes");
        return SB_EINVAL;
      }
    } else if(!strcmp(v->string, "scope")) {
      if(cJSON_IsString(v) && !strcmp(v->valuestring, "key"))
        out->shared = 0;
      else if(allow_shared && cJSON_IsString(v) &&
              !strcmp(v->valuestring, "shared"))
        out->shared = 1;
      else {
        sb_errf(err, errlen, "%s",
                allow_shared ? "cache.scope: expected \"key\" or \"shared\""
                             : "cache.scope: expected \"key\" (only a route "
                               "may share its entries)");
        return SB_EINVAL;
      }
    } else {
      sb_errf(err, errlen, "cache.%s: unknown field", v->string);
      return SB_EINVAL;
    }
  }
  return 0;
}

cJSON *cache_policy_json(const struct cache_policy *p)
{
  cJSON *o = cJSON_CreateObject();

  if(p->enabled >= 0)
    cJSON_AddBoolToObject(o, "enabled", p->enabled);
  if(p->ttl_s)
    cJSON_AddNumberToObject(o, "ttl_s", p->ttl_s);
  if(p->max_entry_bytes)
    cJSON_AddNumberToObject(o, "max_entry_bytes", (double)p->max_entry_bytes);
  if(p->shared >= 0)
    cJSON_AddStringToObject(o, "scope", p->shared ? "shared" : "key");
  return o;
}

/* The smaller of the values set (0: unset), else dflt. */
static int64_t least(int64_t a, int64_t b, int64_t dflt)
{
  if(a && b)
    return a < b ? a : b;
  return a ? a : b ? b : dflt;
}

void cache_policy_resolve(const struct cache_policy *dflt,
                          const struct cache_policy *route,
                          const struct cache_policy *key,
                          struct cache_policy *out)
{
  struct cache_policy none;
  int on;

  cache_policy_unset(&none);
  if(!route)
    route = &none;
  if(!key)
    key = &none;
  on = route->enabled == 1 || key->enabled == 1 || dflt->enabled == 1;
  out->enabled = route->enabled && key->enabled && on;
  out->ttl_s = (int)least(route->ttl_s, key->ttl_s, dflt->ttl_s);
  out->max_entry_bytes = least(route->max_entry_bytes, key->max_entry_bytes,
                               dflt->max_entry_bytes);
  out->shared = route->shared == 1 && key->shared != 0;
}
