/*
 * fuzz_answer.c - the response cache's answers (codec/canon_answer.h): the
 * log of event records that waiters read, and the stored chat.completion a
 * hit replays. Mode byte 0: the input is a log; whatever decodes, encoded
 * again, decodes to the same records. Mode byte 1: the input is a
 * completion; its replay, accumulated, is a completion whose replay
 * accumulates to the same one. Either way the events also reach every
 * stream renderer.
 */
#include "tests/fuzz/harness.h"

#include "base/buf.h"
#include "base/sb.h"
#include "codec/canon_answer.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

struct relog {
  struct buf out;
  int failed;
};

static int encode_again(void *ud, const struct canon_ev *ev)
{
  struct relog *l = ud;

  if(canon_ev_encode(ev, &l->out))
    l->failed = 1;
  return 0;
}

static int feed(void *ud, const struct canon_ev *ev)
{
  canon_answer_feed(ud, ev);
  return 0;
}

/* The completion the replay of doc accumulates to (caller frees). */
static cJSON *through(const cJSON *doc)
{
  struct canon_answer *a = canon_answer_new(1 << 20);
  cJSON *out = NULL;

  if(!canon_answer_replay(doc, &(struct canon_sink){feed, a}))
    out = canon_answer_doc(a, "chatcmpl-fuzz", 0, "m");
  canon_answer_free(a);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(!size)
    return 0;
  if(data[0] == 0) {
    struct relog a, b;

    buf_init(&a.out, 1 << 22);
    buf_init(&b.out, 1 << 22);
    a.failed = b.failed = 0;
    canon_ev_decode((const char *)data + 1, size - 1,
                    &(struct canon_sink){encode_again, &a});
    if(!a.failed) {
      FUZZ_CHECK(canon_ev_decode(a.out.data, a.out.len,
                                 &(struct canon_sink){encode_again, &b}) == 0);
      FUZZ_CHECK(!b.failed && a.out.len == b.out.len);
      FUZZ_CHECK(!a.out.len || !memcmp(a.out.data, b.out.data, a.out.len));
    }
    {
      struct fuzz_render *r = fuzz_render_new();
      canon_ev_decode(a.out.data, a.out.len,
                      &(struct canon_sink){fuzz_render_emit, r});
      fuzz_render_end(r, 1);
    }
    buf_free(&a.out);
    buf_free(&b.out);
  } else {
    cJSON *doc = cJSON_ParseWithLength((const char *)data + 1, size - 1);
    cJSON *once = doc ? through(doc) : NULL;
    cJSON *twice = once ? through(once) : NULL;

    if(once) {
      FUZZ_CHECK(twice != NULL);
      FUZZ_CHECK(cJSON_Compare(once, twice, 1));
      fuzz_render_completion(once);
    }
    cJSON_Delete(doc);
    cJSON_Delete(once);
    cJSON_Delete(twice);
  }
  return 0;
}
