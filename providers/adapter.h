/*
 * adapter.h - what every provider adapter implements.
 *
 * An adapter is pure translation (no I/O, no clock): canonical request ->
 * upstream HTTP request; upstream body -> canonical response; upstream
 * stream payloads -> canonical events; upstream error -> client error.
 * The gateway does the I/O and splits the byte stream into payloads by
 * the adapter's framing (SSE events, NDJSON lines or AWS event-stream
 * messages) before calling stream_feed.
 *
 * docs/adapters.md says how an adapter is written, tested (unit tests,
 * a strict emulator, integration tests, the fidelity matrix) and
 * documented: read it before writing one.
 *
 * The openai kind keeps its pass-through path (providers/openai.h) and
 * does not go through this table.
 */
#ifndef SB_PROVIDERS_ADAPTER_H
#define SB_PROVIDERS_ADAPTER_H

#include "base/apierr.h"
#include "codec/canon.h"
#include "providers/openai.h" /* struct prov_client */
#include "providers/provider.h"

#include <cjson/cJSON.h>

enum prov_framing {
  PROV_FRAMING_SSE,         /* text/event-stream; payload = one event */
  PROV_FRAMING_NDJSON,      /* one JSON object per line */
  PROV_FRAMING_EVENTSTREAM, /* AWS binary event-stream messages */
};

/** One framed payload of an upstream stream. */
struct prov_payload {
  const char *event; /* SSE event name / event-stream :event-type, or NULL */
  size_t event_len;
  const char *data; /* SSE data, NDJSON line, event-stream payload */
  size_t len;
  int exception; /* event-stream :message-type exception (event = its
                  * :exception-type) or error (event = :error-code, data =
                  * :error-message) */
};

struct prov_stream; /* adapter-private stream state */

struct prov_adapter {
  const char *kind; /* config "kind" */
  unsigned caps;    /* OAI_CAP_* honoured */
  enum prov_framing framing;
  const char *default_base_url; /* used when the config gives none, or NULL */
  /* A response header of the embeddings answer that carries the input's
   * token count, read when parse_embeddings found none (Bedrock's
   * x-amzn-bedrock-input-token-count), or NULL. */
  const char *embed_tokens_header;

  /**
   * Start-up: check the provider's "options" object (may be NULL) and
   * keep what the adapter needs in p->priv. Unknown or mistyped options
   * fail with SB_ECONFIG and err naming them under path (e.g.
   * "providers[2].options.api_version: expected a string"). May read
   * the environment (credentials named in options). Optional.
   */
  int (*configure)(struct prov *p, const cJSON *options, const char *path,
                   char *err, size_t errlen);
  /** Free p->priv. Optional. */
  void (*unconfigure)(struct prov *p);

  /**
   * Build the upstream request for a validated OpenAI Chat Completions
   * body (not modified) and the upstream model. Returns 0, or a negative
   * SB_E* code with err filled (400 for input the upstream cannot take,
   * e.g. tool arguments that are not JSON).
   */
  int (*build_chat)(const struct prov *p, const cJSON *req, const char *model,
                    const struct prov_client *client, struct prov_http *out,
                    struct api_error *err);

  /**
   * Turn a 2xx non-streamed body into an OpenAI chat.completion object
   * (*out, caller frees with cJSON_Delete) and its usage. id and created
   * are the gateway's. SB_EPROTO with err (502) for a body it cannot
   * read.
   */
  int (*parse_chat)(const struct prov *p, const char *body, size_t len,
                    const char *model, const char *id, int64_t created,
                    cJSON **out, struct canon_usage *usage,
                    struct api_error *err);

  /** Stream state for one response (never NULL). */
  struct prov_stream *(*stream_new)(const struct prov *p, const char *model);

  /**
   * Feed one payload; emits zero or more events to sink. Returns 0, the
   * sink's nonzero value, or SB_EPROTO after emitting CANON_EV_ERROR for
   * a payload it cannot read. An upstream error payload is emitted as
   * CANON_EV_ERROR too (then returns SB_EIO).
   */
  int (*stream_feed)(struct prov_stream *s, const struct prov_payload *pl,
                     const struct canon_sink *sink);

  /**
   * 1 when the upstream's stream reached its proper end (message_stop,
   * finish reason and usage seen, done:true, ...): a transport end
   * before that is a failure.
   */
  int (*stream_complete)(const struct prov_stream *s);

  void (*stream_free)(struct prov_stream *s);

  /** Map an upstream error response (status >= 300) as docs/adapters.md
   * says. retry_after / retry_after_ms: the upstream's headers or NULL. */
  void (*map_error)(const struct prov *p, int status, const char *body,
                    size_t len, const char *retry_after,
                    const char *retry_after_ms, struct api_error *err);

  /**
   * Optional (NULL: the kind serves no embeddings): the upstream request
   * for a validated /v1/embeddings body (codec/oai_embed.h), and the
   * parser of its 2xx answer into an OpenAI embeddings list object with
   * float arrays (*out, caller frees; the gateway encodes base64 itself
   * when the client asked for it). Same error conventions as chat.
   */
  int (*build_embeddings)(const struct prov *p, const cJSON *req,
                          const char *model, const struct prov_client *client,
                          struct prov_http *out, struct api_error *err);
  int (*parse_embeddings)(const struct prov *p, const char *body, size_t len,
                          const cJSON *req, const char *model, cJSON **out,
                          struct canon_usage *usage, struct api_error *err);

  /**
   * Optional (NULL: the kind has no token counter): the upstream request
   * that counts the input tokens of a validated Chat Completions body
   * (not modified) as build_chat would send it to model (its prompt
   * only: messages, system, tools), and the parser of its 2xx answer
   * (*tokens >= 0). build_count has build_chat's error conventions;
   * parse_count returns SB_EPROTO for a body that holds no count.
   */
  int (*build_count)(const struct prov *p, const cJSON *req, const char *model,
                     const struct prov_client *client, struct prov_http *out,
                     struct api_error *err);
  int (*parse_count)(const char *body, size_t len, int64_t *tokens);

  /** Optional: the request that lists the upstream's models, and its
   * parser. NULL when models must be configured. */
  void (*build_models)(const struct prov *p, struct prov_http *out);
  int (*parse_models)(const char *body, size_t len, char ***models,
                      int *nmodels);
};

/** The adapter for a config kind, or NULL ("openai" has none: it is
 * served by pass-through). */
const struct prov_adapter *prov_adapter_find(const char *kind);

/**
 * The openai kind (and azure) seen as an adapter over the same request
 * builder and error mapper, for clients that do not speak Chat
 * Completions and so need canonical documents and events.
 */
extern const struct prov_adapter prov_openai_adapter;

/** The adapter that serves p through the canonical model: its kind's,
 * or prov_openai_adapter for PROV_OPENAI; NULL for echo. */
const struct prov_adapter *prov_adapter_of(const struct prov *p);

#endif
