/*
 * oai_embed.h - validation of an OpenAI embeddings request
 * (POST /v1/embeddings).
 */
#ifndef SB_CODEC_OAI_EMBED_H
#define SB_CODEC_OAI_EMBED_H

#include "base/apierr.h"

#include <cjson/cJSON.h>

/** The most inputs one request may carry (OpenAI's limit). */
#define OAI_EMBED_MAX_INPUTS 2048

/**
 * Check model, input (string, string[], token ids int[] or int[][]; no
 * empty string or array), encoding_format (float|base64), dimensions
 * (integer >= 1) and user. Unknown fields are not errors. Returns 0 or
 * SB_EINVAL with err filled (400, param named).
 */
int oai_embed_validate(const cJSON *body, struct api_error *err);

/** 1 when the client asked for base64-encoded vectors. */
int oai_embed_base64(const cJSON *body);

/**
 * Replace every data[].embedding float array of an OpenAI embeddings
 * list with its base64 form (little-endian float32).
 */
void oai_embed_to_base64(cJSON *list);

#endif
