/*
 * openai.h - adapter for OpenAI-compatible upstreams (OpenAI, vLLM,
 * llama.cpp, Ollama's /v1, Together, Groq, ...).
 *
 * OpenAI in, OpenAI out stays close to pass-through: the body keeps every
 * field the gateway does not know; only "model" (and, for streams,
 * stream_options.include_usage) are rewritten. Pure functions, no I/O.
 */
#ifndef SB_PROVIDERS_OPENAI_H
#define SB_PROVIDERS_OPENAI_H

#include "gateway/apierr.h"
#include "gateway/buf.h"
#include "gateway/config.h"
#include "providers/provider.h"

#include <cjson/cJSON.h>

/** What the client sent that may travel upstream. */
struct prov_client {
  const char *authorization;   /* client's Authorization value, or NULL */
  const struct config_kv *fwd; /* client headers listed in forward_headers */
  int nfwd;
};

/**
 * Build the upstream request for a validated Chat Completions body.
 * body is modified in place (model, stream_options). *client_usage
 * receives whether the client itself asked for the usage chunk.
 */
int prov_openai_build_chat(const struct prov *p, cJSON *body,
                           const char *upstream_model,
                           const struct prov_client *client,
                           struct prov_http *out, int *client_usage);

/** The upstream request for a validated /v1/embeddings body (model is
 * rewritten in place; everything else passes through). */
void prov_openai_build_embeddings(const struct prov *p, cJSON *body,
                                  const char *upstream_model,
                                  const struct prov_client *client,
                                  struct prov_http *out);

/** The request that lists the upstream's models (GET {base}/models). */
void prov_openai_build_models(const struct prov *p, struct prov_http *out);

/** Model ids from a /models answer. SB_EPROTO if it is not one. */
int prov_openai_parse_models(const char *body, size_t len, char ***models,
                             int *nmodels);

/**
 * Map an upstream error response (status >= 300) to the error the client
 * gets, per docs/reference.md. retry_after / retry_after_ms are the
 * upstream's headers (NULL if absent). Never copies credentials.
 */
void prov_openai_map_error(const struct prov *p, int status, const char *body,
                           size_t len, const char *retry_after,
                           const char *retry_after_ms, struct api_error *err);

/**
 * Check a non-streamed 2xx body and read its usage. SB_EPROTO (err
 * filled, 502) if it is not a JSON object.
 */
int prov_openai_parse_response(const char *body, size_t len,
                               struct prov_usage *u, struct api_error *err);

struct prov_openai_stream {
  int client_usage; /* the client asked for the usage chunk */
  int done;         /* data: [DONE] seen */
  struct prov_usage usage;
};

void prov_openai_stream_init(struct prov_openai_stream *s, int client_usage);

/**
 * Translate one upstream SSE data payload into what the client gets,
 * appended to out as complete SSE events. Returns 0, or SB_EIO when the
 * upstream sent an error event, SB_EPROTO for a malformed chunk (err
 * filled either way: the stream must end with that error), or
 * SB_ETOOBIG when out is full.
 */
int prov_openai_stream_event(struct prov_openai_stream *s, const char *data,
                             size_t len, struct buf *out,
                             struct api_error *err);

#endif
