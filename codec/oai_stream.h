/*
 * oai_stream.h - render canonical stream events as OpenAI Chat
 * Completions chunks: a role chunk, content /
 * reasoning_content / tool_calls deltas, a finish chunk, the usage chunk
 * when the client asked for it, then data: [DONE].
 */
#ifndef SB_CODEC_OAI_STREAM_H
#define SB_CODEC_OAI_STREAM_H

#include "base/buf.h"
#include "codec/canon.h"

#include <stdint.h>

struct oai_stream {
  char id[64];
  int64_t created;
  char *model;
  int include_usage;
  int started;  /* role chunk sent */
  int finished; /* finish chunk sent */
  int saw_tool;
  struct canon_usage usage;
};

/** id, created and model go into every chunk; model is copied. */
void oai_stream_init(struct oai_stream *s, const char *id, int64_t created,
                     const char *model, int include_usage);

/**
 * Append the chunk(s) for one event to out. CANON_EV_ERROR appends the
 * OpenAI in-stream error event. Returns 0 or SB_ETOOBIG.
 */
int oai_stream_render(struct oai_stream *s, const struct canon_ev *ev,
                      struct buf *out);

/**
 * The clean end: the finish chunk if none came (finish_reason "stop", or
 * "tool_calls" when tool calls were streamed), the usage chunk if asked
 * for, and data: [DONE].
 */
int oai_stream_end(struct oai_stream *s, struct buf *out);

void oai_stream_free(struct oai_stream *s);

#endif
