/*
 * echo.h - the built-in offline provider.
 *
 * Deterministic, no network: "echo-1" answers with the text of the last
 * user message, "story-1" with a fixed story. A token is a
 * whitespace-separated word, both for max_tokens and for usage. Streams
 * emit one word per chunk; the gateway paces them.
 */
#ifndef SB_PROVIDERS_ECHO_H
#define SB_PROVIDERS_ECHO_H

#include "base/apierr.h"
#include "base/buf.h"
#include "codec/oai_chat.h"
#include "codec/canon.h"
#include "providers/provider.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* What echo cannot honour is refused with 400 rather than ignored. */
#define PROV_ECHO_CAPS                                                         \
  (OAI_CAP_ALL &                                                               \
   ~(OAI_CAP_TOOLS | OAI_CAP_N | OAI_CAP_LOGPROBS | OAI_CAP_AUDIO))

extern const char *const prov_echo_models[];
extern const int prov_echo_nmodels;

struct prov_echo;

/**
 * Prepare an answer to the (validated) Chat Completions body for model
 * ("echo-1" or "story-1"). id and created go into every object. Returns
 * SB_ENOTFOUND (err filled) for an unknown model.
 */
int prov_echo_start(const cJSON *body, const char *model, const char *id,
                    int64_t created, struct prov_echo **out,
                    struct api_error *err);

/** The whole answer as a chat.completion JSON string (caller frees). */
char *prov_echo_complete(struct prov_echo *e);

/**
 * Emit the next canonical stream event(s) to sink: START, one TEXT per
 * word, then FINISH and USAGE. Returns 0 while more follow, 1 after the
 * last, or the sink's nonzero value.
 */
int prov_echo_next(struct prov_echo *e, const struct canon_sink *sink);

void prov_echo_usage(const struct prov_echo *e, struct canon_usage *u);

void prov_echo_free(struct prov_echo *e);

/** 1 if model is echo's embeddings model ("embed-1"). */
int prov_echo_is_embedding_model(const char *model);

/**
 * Embeddings for a validated /v1/embeddings body: one deterministic unit
 * vector per input (a hash of its text; `dimensions` long, 16 by
 * default), as float arrays. Returns the OpenAI list object (caller
 * frees with cJSON_Delete).
 */
cJSON *prov_echo_embed(const cJSON *body, const char *model,
                       struct canon_usage *u);

#endif
