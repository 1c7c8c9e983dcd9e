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

#include "base/apierr.h"
#include "base/buf.h"
#include "config/config.h"
#include "codec/canon.h"
#include "providers/provider.h"

#include <cjson/cJSON.h>

/**
 * Deviations of OpenAI-compatible servers, switched on
 * per provider in its "options". Kept in prov->priv.
 */
struct prov_openai_quirks {
  int alnum9_tool_ids;      /* "tool_call_ids": "alnum9" (Mistral) */
  char *seed_param;         /* "seed_param": e.g. "random_seed" (Mistral) */
  char *reasoning_field;    /* "reasoning_field": the upstream's name for
                             * reasoning_content (e.g. "reasoning") */
  int drop_input_reasoning; /* "drop_input_reasoning": true (DeepSeek) */
  int strip_message_names;  /* "strip_message_names": true (Groq) */
};

/**
 * Start-up: read the options of an openai or azure provider (azure:
 * "api_version"; both: the quirks above). Unknown or mistyped options
 * fail with SB_ECONFIG naming them under path.
 */
int prov_openai_configure(struct prov *p, const cJSON *options,
                          const char *path, char *err, size_t errlen);
void prov_openai_unconfigure(struct prov *p);

/**
 * Build the upstream request for a validated Chat Completions body.
 * body is modified in place (model, stream_options). *client_usage
 * receives whether the client itself asked for the usage chunk.
 */
int prov_openai_build_chat(const struct prov *p, cJSON *body,
                           const char *upstream_model,
                           const struct prov_client *client,
                           struct prov_http *out, int *client_usage);

/**
 * The same request from the client's own text: raw (n bytes) is a
 * validated Chat Completions body that json_check() accepted without
 * JSON_ESCAPED_ASCII. When nothing but the model (and a stream's
 * stream_options asking for usage) would change, the upstream gets the
 * client's bytes with those edits, neither parsed nor printed again.
 * 0 with *out built as prov_openai_build_chat() would, or SB_EAGAIN:
 * the body needs prov_openai_build_chat() (a quirk, provider state or
 * stream_options to rewrite).
 */
int prov_openai_build_chat_raw(const struct prov *p, const char *raw, size_t n,
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
 * filled, 502) if it is not a JSON object. When the upstream deviates
 * from OpenAI's shape (a finish_reason such as "eos", reasoning under
 * another name, usage under x_groq) *rewritten receives the corrected
 * body (caller frees); otherwise NULL and the body passes unchanged.
 */
int prov_openai_parse_response(const struct prov *p, const char *body,
                               size_t len, struct canon_usage *u,
                               char **rewritten, struct api_error *err);

struct prov_openai_stream {
  const struct prov *prov;
  int client_usage; /* the client asked for the usage chunk */
  int done;         /* data: [DONE] seen */
  struct canon_usage usage;
  int64_t text_bytes; /* content, reasoning and tool arguments relayed */
};

void prov_openai_stream_init(struct prov_openai_stream *s, const struct prov *p,
                             int client_usage);

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
