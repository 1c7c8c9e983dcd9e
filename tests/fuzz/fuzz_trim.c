/*
 * fuzz_trim.c - fitting a history into a context window (codec/trim.c)
 * with the default estimate: whatever the messages, the rules trim.h
 * states hold.
 *
 * Input: bytes 0-1 the context window (big-endian, tokens), 2-3 the room
 * for the answer, 4 how many messages are history, 5 the fixed cost;
 * the rest is a JSON array of canonical messages (not validated: the
 * trim must take anything).
 */
#include "tests/fuzz/harness.h"

#include "base/sb.h"
#include "codec/trim.h"

#include <stdlib.h>
#include <string.h>

static const char *role_of(const cJSON *m)
{
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");

  return cJSON_IsString(r) ? r->valuestring : "";
}

static int pinned(const cJSON *m)
{
  return !strcmp(role_of(m), "system") || !strcmp(role_of(m), "developer");
}

/* Printed the same (cJSON_Compare reads duplicate keys as different). */
static int same(const cJSON *a, const cJSON *b)
{
  char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
  int eq = x && y && !strcmp(x, y);

  free(x);
  free(y);
  return eq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_in in = {data, size};
  struct trim_params p;
  struct trim_result r;
  cJSON *msgs, *orig, *m, *k, **items;
  int nh, n, i, rc, turn_start;
  int64_t total = 0;

  memset(&p, 0, sizeof(p));
  p.context_tokens = fuzz_u16(&in);
  p.max_output = fuzz_u16(&in);
  nh = fuzz_u8(&in);
  p.fixed_tokens = fuzz_u8(&in);
  msgs = fuzz_parse_body(in.p, in.n);
  if(!msgs)
    return 0;
  orig = cJSON_Duplicate(msgs, 1);
  FUZZ_CHECK(orig);
  n = cJSON_GetArraySize(msgs);
  items = calloc((size_t)n + 1, sizeof(*items));
  FUZZ_CHECK(items);
  i = 0;
  cJSON_ArrayForEach(m, msgs) items[i++] = m;
  rc = trim_history(msgs, nh, &p, &r);
  if(!cJSON_IsArray(msgs)) {
    FUZZ_CHECK(rc == SB_EINVAL && r.dropped == 0 && r.fits);
    free(items);
    goto done;
  }
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(r.dropped >= 0 && r.dropped_tokens >= 0);
  FUZZ_CHECK(cJSON_GetArraySize(msgs) + r.dropped == n);
  FUZZ_CHECK(r.exchanges <= r.dropped);
  FUZZ_CHECK(p.context_tokens || (r.dropped == 0 && r.fits));
  cJSON_ArrayForEach(m, msgs) total += trim_estimate_message(m);
  FUZZ_CHECK(total + p.fixed_tokens == r.prompt_tokens);
  FUZZ_CHECK(r.fits == (!p.context_tokens ||
                        r.prompt_tokens + p.max_output <= p.context_tokens));

  /* What is kept is the input minus some history that is neither system
   * nor developer, in order, unchanged; the turn is untouched. Kept
   * messages are the same objects: matched by address (orig by index). */
  turn_start = nh < n ? nh : n;
  k = msgs->child;
  i = 0;
  m = orig->child;
  for(; i < n; i++, m = m->next) {
    if(k == items[i]) {
      FUZZ_CHECK(same(m, k));
      k = k->next;
    } else {
      FUZZ_CHECK(i < turn_start && !pinned(m));
    }
  }
  FUZZ_CHECK(!k);
  free(items);

done:
  cJSON_Delete(orig);
  cJSON_Delete(msgs);
  return 0;
}
