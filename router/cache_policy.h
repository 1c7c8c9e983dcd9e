/*
 * cache_policy.h - whether and how the response cache keeps a request's
 * answer: the "cache" object of a route's definition and of a gateway
 * key, over the configuration's default (docs/cache.md).
 *
 * {"enabled": bool, "ttl_s": 1..31536000, "max_entry_bytes": 1..2^30,
 *  "scope": "key" | "shared"}; every field is optional. "shared" (a
 * route's only) lets every key that may call the route read what
 * another stored through it; otherwise an entry is its key's alone.
 *
 * Pure: no I/O, no clock.
 */
#ifndef SB_ROUTER_CACHE_POLICY_H
#define SB_ROUTER_CACHE_POLICY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_POLICY_TTL_MAX (365 * 86400)

/** One level's policy; a field unset leaves the decision to the others. */
struct cache_policy {
  int enabled;             /* -1 unset, 0 off, 1 on */
  int ttl_s;               /* 0 unset */
  int64_t max_entry_bytes; /* 0 unset */
  int shared;              /* -1 unset, 0 the key's own, 1 shared */
};

/** Every field unset. */
void cache_policy_unset(struct cache_policy *p);

/** 1 when no field is set. */
int cache_policy_empty(const struct cache_policy *p);

/**
 * Read o (an object, see above) into out. allow_shared: "scope" may say
 * "shared" (a route's policy). 0, or SB_EINVAL with err naming the field
 * ("cache.ttl_s: ...").
 */
int cache_policy_parse(const cJSON *o, int allow_shared,
                       struct cache_policy *out, char *err, size_t errlen);

/** The JSON form of p (the fields set), for the admin API. */
cJSON *cache_policy_json(const struct cache_policy *p);

/**
 * The policy a request follows: dflt (the configuration's, every field
 * set) under the route's and the key's (either may be NULL). Off wins:
 * the request is cached when some level turns it on and none turns it
 * off. The shortest ttl and smallest entry size set by the route or the
 * key win over the default; only the route may share.
 */
void cache_policy_resolve(const struct cache_policy *dflt,
                          const struct cache_policy *route,
                          const struct cache_policy *key,
                          struct cache_policy *out);

#endif
