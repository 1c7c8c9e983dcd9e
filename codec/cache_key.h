/*
 * cache_key.h - the response cache's key (issue 16, work in progress):
 * a SHA-256 over what can change an answer. The inbound API, the resolved
 * target (provider/model, or a route), the scope (a key id, or a route's
 * shared scope) and the canonical Chat body with the fields that cannot
 * change the answer removed (CACHE_KEY_IGNORED), its objects' members in
 * sorted order at every depth, so two clients that send the same request
 * with their fields in another order share an entry.
 */
#ifndef SB_CODEC_CACHE_KEY_H
#define SB_CODEC_CACHE_KEY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define CACHE_KEY_LEN 32

/** Top-level fields of a canonical body that never reach the key, NULL
 * terminated: who asked (user, safety_identifier, metadata), how the
 * answer travels (stream, stream_options) and what the gateway keeps
 * (store, prompt_cache_key, service_tier). */
extern const char *const CACHE_KEY_IGNORED[];

/** The key of body (not modified) for api, target and scope into out.
 * 0, or SB_EIO when hashing failed. */
int cache_key(const cJSON *body, const char *api, const char *target,
              const char *scope, unsigned char out[CACHE_KEY_LEN]);

#endif
