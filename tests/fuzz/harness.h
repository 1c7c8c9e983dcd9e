/*
 * harness.h - what the libFuzzer harnesses in tests/fuzz share.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput() for one parser;
 * harness.c holds the pieces several of them use: a byte reader that
 * turns the head of an input into fuzz-chosen parameters, a provider
 * fixture, the gateway's framer-to-adapter bridge and a canonical event
 * sink that feeds every stream renderer. docs/fuzzing.md explains how
 * they are built and run.
 */
#ifndef SB_TESTS_FUZZ_HARNESS_H
#define SB_TESTS_FUZZ_HARNESS_H

#include "providers/adapter.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop the run when an invariant a parser documents does not hold:
 * libFuzzer saves the input like for a crash. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if(!(cond))                                                                \
      fuzz_fail(__FILE__, __LINE__, #cond);                                    \
  } while(0)

void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/** Reads parameters off the front of an input; 0 once it is used up. */
struct fuzz_in {
  const uint8_t *p;
  size_t n;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);

/**
 * Chunk sizes for feeding n bytes in pieces: from the fuzz-chosen seed,
 * a small deterministic generator yields sizes from 1 to about 64 (and
 * now and then the whole rest), so that the same input always splits the
 * same way.
 */
struct fuzz_chunker {
  uint32_t state;
};
void fuzz_chunker_init(struct fuzz_chunker *c, uint16_t seed);
size_t fuzz_chunk(struct fuzz_chunker *c, size_t left);

/**
 * Patch both CRCs of every whole AWS event-stream message in buf (as far
 * as the lengths in the preludes describe whole messages), so that the
 * fuzzer reaches the header and payload code instead of stopping at the
 * checksums.
 */
void fuzz_fix_eventstream(uint8_t *buf, size_t n);

/** A configured provider of one adapter, as the registry builds it. */
struct fuzz_prov {
  struct config_provider cfg;
  struct prov p;
};

/** Configure f for adapter A with options (JSON text, or NULL); aborts if
 * the adapter refuses them. Sets fake AWS credentials for bedrock. */
void fuzz_prov_init(struct fuzz_prov *f, const struct prov_adapter *A,
                    const char *kind, const char *options);

/**
 * Run one input against the adapter. Byte 0 modulo 8 chooses: 0-1
 * parse_chat (a parsed answer then goes through the completion
 * renderers), 2-4 the stream parser behind its real framer (fed in
 * chunks, every event rendered by every inbound stream renderer), 5
 * map_error, 6 parse_embeddings, 7 parse_models. Bytes 1-2 are the
 * chunking seed (also the status and retry headers of map_error, the
 * embeddings request of parse_embeddings); the rest is the upstream's
 * bytes. Returns byte 0.
 */
int fuzz_adapter(const struct fuzz_prov *f, const uint8_t *data, size_t size);

/**
 * Feed payloads to the adapter's stream parser as the gateway does and
 * render the events; the payloads come from an SSE text, each event one
 * payload, an event name starting with '!' marking an exception payload.
 * For adapters whose real framing is not SSE (bedrock), this reaches
 * the parser without a binary framing to get right first.
 */
void fuzz_adapter_stream_sse(const struct fuzz_prov *f, const uint8_t *data,
                             size_t size, uint16_t seed);

/**
 * A canonical event sink that renders into all three inbound stream
 * renderers (OpenAI chunks, Responses events, Anthropic events); a
 * renderer that failed (SB_ETOOBIG) is not fed again, as the gateway
 * fails the stream.
 */
struct fuzz_render;
struct fuzz_render *fuzz_render_new(void);
int fuzz_render_emit(void *ud, const struct canon_ev *ev);
/** The clean end of every renderer still running; then frees r. */
void fuzz_render_end(struct fuzz_render *r, int clean);

/** Render a chat.completion through every inbound codec's renderer. */
void fuzz_render_completion(const cJSON *completion);

/**
 * What the gateway does with a validated canonical request: for every
 * provider kind whose capabilities allow it, build the upstream request
 * (and the openai kind's pass-through rewrite). Checks that each either
 * builds a request or refuses with a 4xx.
 */
void fuzz_build_all(const cJSON *chat);

/** The same for a validated embeddings request. */
void fuzz_build_embeddings_all(const cJSON *req);

/**
 * Parse a request body as the gateway does (gateway/chat.c): refused
 * when it nests deeper than the default limits.max_json_depth, NULL when
 * it is not JSON.
 */
cJSON *fuzz_parse_body(const uint8_t *data, size_t size);

#endif
