/* codec/trim: the token estimate and fitting a history into a context
 * window without separating tool calls from their results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "codec/trim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every message weighs 10 tokens, or the number in its "w" member. */
static int64_t weigh(const cJSON *msg, void *ud)
{
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(msg, "w");

  if(ud)
    ++*(int *)ud;
  if(!cJSON_IsNumber(w))
    return 10;
  return w->valuedouble > 1e18 ? INT64_MAX : (int64_t)w->valuedouble;
}

/* The "c" labels of msgs joined by spaces, into buf. */
static const char *labels(const cJSON *msgs, char *buf, size_t len)
{
  const cJSON *m;
  size_t used = 0;

  buf[0] = 0;
  cJSON_ArrayForEach(m, msgs)
  {
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(m, "c"));
    used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "",
                             c ? c : "?");
    assert_true(used < len);
  }
  return buf;
}

static cJSON *parse(const char *json)
{
  cJSON *v = cJSON_Parse(json);

  assert_non_null(v);
  return v;
}

static struct trim_params params(int64_t context, int64_t max_output)
{
  struct trim_params p = {
      .context_tokens = context, .max_output = max_output, .estimate = weigh};
  return p;
}

static void test_estimate_text(void **state)
{
  (void)state;
  assert_int_equal(trim_estimate_text(NULL, 0), 0);
  assert_int_equal(trim_estimate_text("", 0), 0);
  assert_int_equal(trim_estimate_text("a", 1), 1);
  assert_int_equal(trim_estimate_text("abcd", 4), 1);
  assert_int_equal(trim_estimate_text("abcde", 5), 2);
  /* two CJK characters, three bytes each */
  assert_int_equal(trim_estimate_text("\xe6\x97\xa5\xe6\x9c\xac", 6), 2);
  assert_int_equal(trim_estimate_text("ab\xe6\x97\xa5", 5), 2);
  /* a 4-byte sequence (an emoji) is one code point */
  assert_int_equal(trim_estimate_text("\xf0\x9f\x98\x80", 4), 1);
  /* invalid or truncated sequences: one per byte */
  assert_int_equal(trim_estimate_text("\xff\xfe", 2), 2);
  assert_int_equal(trim_estimate_text("\xe6\x97", 2), 2);
  assert_int_equal(trim_estimate_text("\xe6\x97x", 3), 3);
  /* n bounds the read: the NUL inside counts as ASCII */
  assert_int_equal(trim_estimate_text("abcd\0efgh", 9), 3);
}

static void test_estimate_message(void **state)
{
  cJSON *m;

  (void)state;
  m = parse("{\"role\":\"user\",\"content\":\"abcdefgh\"}");
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS + 2);
  cJSON_Delete(m);

  m = parse("{\"role\":\"user\",\"name\":\"abcd\",\"content\":["
            "{\"type\":\"text\",\"text\":\"abcd\"},"
            "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}},"
            "{\"type\":\"input_audio\",\"input_audio\":{}},"
            "{\"type\":\"file\",\"file\":{\"file_data\":\"AAAA\"}}]}");
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS + 1 + 1 +
                                                 TRIM_IMAGE_TOKENS +
                                                 2 * TRIM_ATTACHMENT_TOKENS);
  cJSON_Delete(m);

  m = parse("{\"role\":\"assistant\",\"content\":null,"
            "\"reasoning_content\":\"abcd\",\"tool_calls\":["
            "{\"id\":\"call\",\"type\":\"function\",\"function\":"
            "{\"name\":\"get\",\"arguments\":\"{\\\"a\\\":1}\"}},"
            "{\"id\":\"c2\",\"type\":\"function\",\"function\":"
            "{\"name\":\"x\",\"arguments\":\"\"}}]}");
  /* reasoning 1; call 1 + 8 + name 1 + args ("{"a":1}" 7 bytes) 2;
   * c2 1 + 8 + 1 + 0 */
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS + 1 + 12 + 10);
  cJSON_Delete(m);

  m = parse("{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\","
            "\"refusal\":\"no\"}],\"function_call\":{\"name\":\"f\","
            "\"arguments\":\"{}\"}}");
  assert_int_equal(trim_estimate_message(m),
                   TRIM_MESSAGE_TOKENS + 1 + TRIM_TOOL_CALL_TOKENS + 2);
  cJSON_Delete(m);

  m = parse("{\"role\":\"tool\",\"tool_call_id\":\"call_1234\","
            "\"content\":\"ok\"}");
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS + 3 + 1);
  cJSON_Delete(m);

  /* an unknown part costs its JSON text */
  m = parse("{\"role\":\"user\",\"content\":[{\"type\":\"odd\"}]}");
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS + 4);
  cJSON_Delete(m);

  m = parse("[1,\"x\"]");
  assert_int_equal(trim_estimate_message(m), TRIM_MESSAGE_TOKENS);
  assert_int_equal(trim_estimate_message(NULL), TRIM_MESSAGE_TOKENS);
  assert_int_equal(trim_estimate_messages(m), 2 * TRIM_MESSAGE_TOKENS);
  assert_int_equal(trim_estimate_messages(NULL), 0);
  cJSON_Delete(m);
}

static void test_estimate_json(void **state)
{
  cJSON *v = parse("{\"a\": 1}");

  (void)state;
  assert_int_equal(trim_estimate_json(v), 2); /* {"a":1} */
  assert_int_equal(trim_estimate_json(NULL), 0);
  cJSON_Delete(v);
}

#define HIST5                                                                  \
  "[{\"role\":\"system\",\"c\":\"s\"},"                                        \
  "{\"role\":\"user\",\"c\":\"u1\"},"                                          \
  "{\"role\":\"assistant\",\"c\":\"a1\"},"                                     \
  "{\"role\":\"user\",\"c\":\"u2\"},"                                          \
  "{\"role\":\"assistant\",\"c\":\"a2\"},"                                     \
  "{\"role\":\"user\",\"c\":\"u3\"}]"

static void test_fits_untouched(void **state)
{
  cJSON *m = parse(HIST5);
  struct trim_params p = params(60, 0);
  struct trim_result r;
  char buf[256];
  int calls = 0;

  (void)state;
  p.estimate_ud = &calls;
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(calls, 6); /* once per message */
  assert_int_equal(r.dropped, 0);
  assert_int_equal(r.exchanges, 0);
  assert_int_equal(r.dropped_tokens, 0);
  assert_int_equal(r.prompt_tokens, 60);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u1 a1 u2 a2 u3");

  /* an unknown window drops nothing and fits */
  p = params(0, 1000);
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 0);
  assert_true(r.fits);
  p = params(-5, 0);
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 0);
  assert_true(r.fits);
  cJSON_Delete(m);
}

static void test_drops_oldest_exchange(void **state)
{
  cJSON *m = parse(HIST5);
  struct trim_params p = params(50, 5);
  struct trim_result r;
  char buf[256];

  (void)state;
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.exchanges, 1);
  assert_int_equal(r.dropped_tokens, 20);
  assert_int_equal(r.prompt_tokens, 40);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u2 a2 u3");
  cJSON_Delete(m);

  /* one token short of keeping the second exchange: both go */
  m = parse(HIST5);
  p = params(39, 0);
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 4);
  assert_int_equal(r.exchanges, 2);
  assert_int_equal(r.prompt_tokens, 20);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u3");
  cJSON_Delete(m);
}

static void test_fixed_tokens_and_max_output(void **state)
{
  cJSON *m = parse(HIST5);
  struct trim_params p = params(100, 30);
  struct trim_result r;
  char buf[256];

  (void)state;
  p.fixed_tokens = 15; /* 60 + 15 + 30 > 100: one exchange goes */
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.prompt_tokens, 55);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u2 a2 u3");
  cJSON_Delete(m);

  /* room for the answer larger than the window: all history goes, and
   * still it does not fit */
  m = parse(HIST5);
  p = params(100, 200);
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 4);
  assert_false(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u3");
  cJSON_Delete(m);

  /* negative room and fixed cost read as 0 */
  m = parse(HIST5);
  p = params(60, -7);
  p.fixed_tokens = -9;
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 0);
  assert_int_equal(r.prompt_tokens, 60);
  assert_true(r.fits);
  cJSON_Delete(m);
}

static void test_turn_and_system_never_dropped(void **state)
{
  cJSON *m = parse("[{\"role\":\"user\",\"c\":\"u1\"},"
                   "{\"role\":\"developer\",\"c\":\"d\"},"
                   "{\"role\":\"assistant\",\"c\":\"a1\"},"
                   "{\"role\":\"system\",\"c\":\"s\"},"
                   "{\"role\":\"user\",\"c\":\"u2\",\"w\":500},"
                   "{\"role\":\"user\",\"c\":\"t1\",\"w\":50},"
                   "{\"role\":\"system\",\"c\":\"t2\"}]");
  struct trim_params p = params(100, 10);
  struct trim_result r;
  char buf[256];

  (void)state;
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 3);
  assert_int_equal(r.exchanges, 2);
  assert_int_equal(r.dropped_tokens, 520);
  assert_int_equal(r.prompt_tokens, 80);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "d s t1 t2");
  cJSON_Delete(m);

  /* a turn alone too big: history goes, the turn stays, fits 0 */
  m = parse("[{\"role\":\"user\",\"c\":\"u1\"},"
            "{\"role\":\"assistant\",\"c\":\"a1\"},"
            "{\"role\":\"user\",\"c\":\"t\",\"w\":1000}]");
  p = params(100, 0);
  assert_int_equal(trim_history(m, 2, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_false(r.fits);
  assert_int_equal(r.prompt_tokens, 1000);
  assert_string_equal(labels(m, buf, sizeof(buf)), "t");
  cJSON_Delete(m);
}

#define TOOLS                                                                  \
  "[{\"role\":\"user\",\"c\":\"u1\"},"                                         \
  "{\"role\":\"assistant\",\"c\":\"a1\",\"tool_calls\":[{\"id\":\"c1\"},"      \
  "{\"id\":\"c2\"}]},"                                                         \
  "{\"role\":\"tool\",\"c\":\"r1\",\"tool_call_id\":\"c1\"},"                  \
  "{\"role\":\"tool\",\"c\":\"r2\",\"tool_call_id\":\"c2\"},"                  \
  "{\"role\":\"assistant\",\"c\":\"a1b\"},"                                    \
  "{\"role\":\"user\",\"c\":\"u2\"},"                                          \
  "{\"role\":\"assistant\",\"c\":\"a2\",\"tool_calls\":[{\"id\":\"c3\"}]},"    \
  "{\"role\":\"tool\",\"c\":\"r3\",\"tool_call_id\":\"c3\"},"                  \
  "{\"role\":\"assistant\",\"c\":\"a2b\"},"                                    \
  "{\"role\":\"user\",\"c\":\"u3\"}]"

static void test_tool_calls_stay_with_results(void **state)
{
  cJSON *m = parse(TOOLS);
  struct trim_params p = params(95, 0);
  struct trim_result r;
  char buf[256];

  (void)state;
  /* 100 tokens; dropping u1 alone would do, but the exchange goes whole */
  assert_int_equal(trim_history(m, 9, &p, &r), 0);
  assert_int_equal(r.dropped, 5);
  assert_int_equal(r.exchanges, 1);
  assert_int_equal(r.prompt_tokens, 50);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "u2 a2 r3 a2b u3");
  cJSON_Delete(m);
}

static void test_turn_answers_tool_calls(void **state)
{
  /* The turn opens with the results of the history's last tool calls:
   * that exchange must stay. */
  cJSON *m = parse("[{\"role\":\"user\",\"c\":\"u1\"},"
                   "{\"role\":\"assistant\",\"c\":\"a1\"},"
                   "{\"role\":\"user\",\"c\":\"u2\"},"
                   "{\"role\":\"assistant\",\"c\":\"a2\","
                   "\"tool_calls\":[{\"id\":\"c9\"}]},"
                   "{\"role\":\"tool\",\"c\":\"r9\",\"tool_call_id\":\"c9\"}]");
  struct trim_params p = params(25, 0);
  struct trim_result r;
  char buf[256];

  (void)state;
  assert_int_equal(trim_history(m, 4, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_false(r.fits);
  assert_int_equal(r.prompt_tokens, 30);
  assert_string_equal(labels(m, buf, sizeof(buf)), "u2 a2 r9");
  cJSON_Delete(m);

  /* by id, when the results are not first in the turn: an exchange
   * further back and everything after it stays */
  m = parse("[{\"role\":\"user\",\"c\":\"u0\"},"
            "{\"role\":\"user\",\"c\":\"u1\"},"
            "{\"role\":\"assistant\",\"c\":\"a1\","
            "\"tool_calls\":[{\"id\":\"x\"},{\"id\":\"c1\"}]},"
            "{\"role\":\"user\",\"c\":\"u2\"},"
            "{\"role\":\"user\",\"c\":\"t\"},"
            "{\"role\":\"tool\",\"c\":\"r1\",\"tool_call_id\":\"c1\"}]");
  p = params(10, 0);
  assert_int_equal(trim_history(m, 4, &p, &r), 0);
  assert_int_equal(r.dropped, 1);
  assert_false(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "u1 a1 u2 t r1");
  cJSON_Delete(m);

  /* legacy function results open the turn the same way */
  m = parse("[{\"role\":\"user\",\"c\":\"u1\"},"
            "{\"role\":\"user\",\"c\":\"u2\"},"
            "{\"role\":\"assistant\",\"c\":\"a2\","
            "\"function_call\":{\"name\":\"f\"}},"
            "{\"role\":\"function\",\"c\":\"f\",\"name\":\"f\"}]");
  p = params(10, 0);
  assert_int_equal(trim_history(m, 3, &p, &r), 0);
  assert_string_equal(labels(m, buf, sizeof(buf)), "u2 a2 f");
  cJSON_Delete(m);
}

static void test_history_starting_mid_exchange(void **state)
{
  /* results whose call is gone, and an answer before the first user
   * message: exchange 0, dropped first */
  cJSON *m = parse("[{\"role\":\"system\",\"c\":\"s\"},"
                   "{\"role\":\"tool\",\"c\":\"r0\",\"tool_call_id\":\"z\"},"
                   "{\"role\":\"assistant\",\"c\":\"a0\"},"
                   "{\"role\":\"user\",\"c\":\"u1\"},"
                   "{\"role\":\"assistant\",\"c\":\"a1\"},"
                   "{\"role\":\"user\",\"c\":\"t\"}]");
  struct trim_params p = params(45, 0);
  struct trim_result r;
  char buf[256];

  (void)state;
  assert_int_equal(trim_history(m, 5, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.exchanges, 1);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u1 a1 t");
  cJSON_Delete(m);

  /* an exchange of only system messages drops nothing and is not counted */
  m = parse("[{\"role\":\"system\",\"c\":\"s\"},"
            "{\"role\":\"user\",\"c\":\"u1\"},"
            "{\"role\":\"user\",\"c\":\"t\"}]");
  p = params(10, 0);
  assert_int_equal(trim_history(m, 2, &p, &r), 0);
  assert_int_equal(r.dropped, 1);
  assert_int_equal(r.exchanges, 1);
  assert_false(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s t");
  cJSON_Delete(m);
}

static void test_bounds(void **state)
{
  cJSON *m = parse(HIST5);
  struct trim_params p = params(30, 0);
  struct trim_result r;
  char buf[256];

  (void)state;
  /* no history: nothing may go */
  assert_int_equal(trim_history(m, -3, &p, &r), 0);
  assert_int_equal(r.dropped, 0);
  assert_false(r.fits);
  assert_int_equal(cJSON_GetArraySize(m), 6);
  /* all history, no turn */
  assert_int_equal(trim_history(m, 99, &p, &r), 0);
  assert_int_equal(r.dropped, 4);
  assert_true(r.fits);
  assert_string_equal(labels(m, buf, sizeof(buf)), "s u3");
  cJSON_Delete(m);

  m = parse("[]");
  p = params(10, 5);
  p.fixed_tokens = 6;
  assert_int_equal(trim_history(m, 0, &p, &r), 0);
  assert_int_equal(r.prompt_tokens, 6);
  assert_false(r.fits);
  p.fixed_tokens = 5;
  assert_int_equal(trim_history(m, 0, &p, &r), 0);
  assert_true(r.fits);
  cJSON_Delete(m);

  m = parse("{}");
  r.dropped = 7;
  assert_int_equal(trim_history(m, 0, &p, &r), SB_EINVAL);
  assert_int_equal(r.dropped, 0);
  assert_true(r.fits);
  assert_int_equal(trim_history(NULL, 0, &p, &r), SB_EINVAL);
  cJSON_Delete(m);

  /* estimates below 0 count 0; absurd ones are capped, not overflowed */
  m = parse("[{\"role\":\"user\",\"w\":-50,\"c\":\"a\"},"
            "{\"role\":\"user\",\"w\":1e300,\"c\":\"b\"},"
            "{\"role\":\"user\",\"w\":9e18,\"c\":\"c\"},"
            "{\"role\":\"user\",\"c\":\"t\"}]");
  p = params(INT64_MAX, 0);
  assert_int_equal(trim_history(m, 3, &p, &r), 0);
  assert_true(r.fits);
  assert_int_equal(r.dropped, 0);
  assert_int_equal(r.prompt_tokens, 2 * (int64_t)INT32_MAX + 10);
  p = params(100, INT64_MAX);
  assert_int_equal(trim_history(m, 3, &p, &r), 0);
  assert_false(r.fits);
  assert_int_equal(r.dropped, 3);
  assert_int_equal(r.dropped_tokens, 2 * (int64_t)INT32_MAX);
  assert_string_equal(labels(m, buf, sizeof(buf)), "t");
  assert_int_equal(r.prompt_tokens, 10);
  cJSON_Delete(m);
}

static void test_default_estimator(void **state)
{
  cJSON *m = parse("[{\"role\":\"user\",\"content\":\"" /* 400 bytes */
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
                   "{\"role\":\"assistant\",\"content\":\"ok\"},"
                   "{\"role\":\"user\",\"content\":\"and now?\"}]");
  struct trim_params p = {.context_tokens = 64, .max_output = 32};
  struct trim_result r;

  (void)state;
  assert_int_equal(trim_history(m, 2, &p, &r), 0);
  assert_int_equal(r.dropped, 2);
  assert_int_equal(r.dropped_tokens, 104 + 5);
  assert_int_equal(r.prompt_tokens, 6);
  assert_true(r.fits);
  assert_int_equal(cJSON_GetArraySize(m), 1);
  cJSON_Delete(m);
}

/* ---- random histories: the rules hold whatever the shape ---- */

static uint32_t rng;
static uint32_t next(void)
{
  rng = rng * 1664525u + 1013904223u;
  return rng >> 8;
}

/* A random conversation of n messages: users, assistants (some with tool
 * calls followed by their results), system and developer messages. */
static cJSON *random_history(int n, int *ncalls)
{
  static const char *const roles[] = {"user", "assistant", "system",
                                      "developer"};
  cJSON *a = cJSON_CreateArray();
  char id[32];

  while(cJSON_GetArraySize(a) < n) {
    cJSON *m = cJSON_CreateObject();
    int kind = (int)(next() % 6);
    const char *role = roles[kind < 4 ? kind : 1];
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddNumberToObject(m, "w", (double)(next() % 40));
    cJSON_AddNumberToObject(m, "i", cJSON_GetArraySize(a));
    cJSON_AddItemToArray(a, m);
    if(kind >= 4) { /* tool calls, then their results */
      cJSON *calls = cJSON_AddArrayToObject(m, "tool_calls");
      int k = 1 + (int)(next() % 3);
      for(int j = 0; j < k; j++) {
        cJSON *c = cJSON_CreateObject(), *t;
        snprintf(id, sizeof(id), "c%d", (*ncalls)++);
        cJSON_AddStringToObject(c, "id", id);
        cJSON_AddItemToArray(calls, c);
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "role", "tool");
        cJSON_AddStringToObject(t, "tool_call_id", id);
        cJSON_AddNumberToObject(t, "w", (double)(next() % 40));
        cJSON_AddNumberToObject(t, "i", cJSON_GetArraySize(a));
        cJSON_AddItemToArray(a, t);
      }
    }
  }
  return a;
}

static const char *role_of(const cJSON *m)
{
  return cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
}

static int idx_of(const cJSON *m)
{
  return (int)cJSON_GetObjectItem(m, "i")->valuedouble;
}

/* The kept message that made tool call id, or NULL. */
static const cJSON *caller_of(const cJSON *msgs, const char *id)
{
  const cJSON *m, *c;

  cJSON_ArrayForEach(m, msgs)
  {
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "tool_calls"))
    {
      if(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "id")), id))
        return m;
    }
  }
  return NULL;
}

static void test_random_histories(void **state)
{
  (void)state;
  rng = 12345;
  for(int round = 0; round < 3000; round++) {
    int ncalls = 0, n = 1 + (int)(next() % 30), nh, size;
    cJSON *msgs = random_history(n, &ncalls), *orig, *m;
    struct trim_params p = params(0, (int64_t)(next() % 50));
    struct trim_result r;
    int64_t total = 0, before;
    int first_kept = -1;

    size = cJSON_GetArraySize(msgs);
    nh = (int)(next() % (unsigned)(size + 1));
    /* the boundary is random: it may fall inside a tool group */
    orig = cJSON_Duplicate(msgs, 1);
    before = 0;
    cJSON_ArrayForEach(m, msgs) before += weigh(m, NULL);
    p.context_tokens = 1 + (int64_t)(next() % (uint32_t)(before + 60));
    assert_int_equal(trim_history(msgs, nh, &p, &r), 0);

    assert_int_equal(cJSON_GetArraySize(msgs) + r.dropped, size);
    /* order kept, and the kept history is a suffix of exchanges */
    {
      int prev = -1;
      cJSON_ArrayForEach(m, msgs)
      {
        int i = idx_of(m);
        assert_true(i > prev);
        prev = i;
        total += weigh(m, NULL);
        if(i < nh && first_kept < 0 && strcmp(role_of(m), "system") &&
           strcmp(role_of(m), "developer"))
          first_kept = i;
      }
    }
    assert_int_equal(total, r.prompt_tokens);
    assert_int_equal(before - total, r.dropped_tokens);
    assert_int_equal(r.fits, total + p.max_output <= p.context_tokens);
    /* the turn, system and developer messages, and every history message
     * after the first kept one, are all there */
    cJSON_ArrayForEach(m, orig)
    {
      int i = idx_of(m), found = 0;
      const cJSON *k;
      cJSON_ArrayForEach(k, msgs) found |= idx_of(k) == i;
      if(i >= nh || !strcmp(role_of(m), "system") ||
         !strcmp(role_of(m), "developer") ||
         (first_kept >= 0 && i > first_kept))
        assert_true(found);
    }
    /* the kept history starts an exchange: a user message, or the very
     * first messages */
    if(r.dropped && first_kept > 0) {
      const cJSON *fm = cJSON_GetArrayItem(orig, first_kept);
      assert_string_equal(role_of(fm), "user");
    }
    /* every kept tool result has its call, and every kept call in the
     * history its results */
    cJSON_ArrayForEach(m, msgs)
    {
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItem(m, "tool_call_id"));
      if(id && idx_of(m) < nh)
        assert_non_null(caller_of(msgs, id));
      if(id && idx_of(m) >= nh && caller_of(orig, id) &&
         idx_of(caller_of(orig, id)) < nh)
        assert_non_null(caller_of(msgs, id)); /* the turn answers it */
    }
    {
      const cJSON *c;
      cJSON_ArrayForEach(m, msgs)
      {
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "tool_calls"))
        {
          const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "id"));
          const cJSON *t;
          int answered = 0, was = 0;
          cJSON_ArrayForEach(t, msgs)
          {
            const char *a =
                cJSON_GetStringValue(cJSON_GetObjectItem(t, "tool_call_id"));
            answered |= a && !strcmp(a, id);
          }
          cJSON_ArrayForEach(t, orig)
          {
            const char *a =
                cJSON_GetStringValue(cJSON_GetObjectItem(t, "tool_call_id"));
            was |= a && !strcmp(a, id);
          }
          assert_int_equal(answered, was);
        }
      }
    }
    /* no more than needed: when it fits, putting back the last exchange
     * dropped would not */
    if(r.fits && r.dropped && first_kept > 0) {
      int64_t back = 0;
      int start = first_kept - 1;
      while(start > 0 &&
            strcmp(role_of(cJSON_GetArrayItem(orig, start)), "user"))
        start--;
      for(int i = start; i < first_kept; i++) {
        const cJSON *o = cJSON_GetArrayItem(orig, i);
        if(strcmp(role_of(o), "system") && strcmp(role_of(o), "developer"))
          back += weigh(o, NULL);
      }
      assert_true(total + back + p.max_output > p.context_tokens);
    }
    cJSON_Delete(orig);
    cJSON_Delete(msgs);
  }
}

/* Dropped messages can be kept for a summary; resume says where they
 * were, past a pinned system message among them. */
static void test_dropped_and_resume(void **state)
{
  cJSON *msgs = parse("[{\"role\":\"system\",\"c\":\"S\"},"
                      "{\"role\":\"user\",\"c\":\"u1\"},"
                      "{\"role\":\"assistant\",\"c\":\"a1\"},"
                      "{\"role\":\"system\",\"c\":\"S2\"},"
                      "{\"role\":\"user\",\"c\":\"u2\"},"
                      "{\"role\":\"assistant\",\"c\":\"a2\"},"
                      "{\"role\":\"user\",\"c\":\"u3\"}]");
  struct trim_params p = params(50, 0);
  struct trim_result res;
  char buf[128];

  (void)state;
  p.dropped = cJSON_CreateArray();
  assert_int_equal(trim_history(msgs, 6, &p, &res), 0);
  assert_int_equal(res.dropped, 2);
  assert_string_equal(labels(msgs, buf, sizeof(buf)), "S S2 u2 a2 u3");
  assert_string_equal(labels(p.dropped, buf, sizeof(buf)), "u1 a1");
  assert_int_equal(res.resume, 1);
  cJSON_Delete(p.dropped);

  /* Nothing dropped: resume is 0. */
  p = params(0, 0);
  assert_int_equal(trim_history(msgs, 4, &p, &res), 0);
  assert_int_equal(res.dropped, 0);
  assert_int_equal(res.resume, 0);
  cJSON_Delete(msgs);
}

/* The prompt: instructions, then previous summary and a transcript of the
 * messages from the given one, tool calls and results included. */
static void test_summary_prompt(void **state)
{
  cJSON *msgs = parse(
      "[{\"role\":\"user\",\"content\":\"old\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
      "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
      "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get\","
      "\"arguments\":\"{\\\"q\\\":1}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"}]");
  cJSON *p = trim_summary_prompt("before", msgs, 1);
  const char *text;

  (void)state;
  assert_int_equal(cJSON_GetArraySize(p), 2);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetArrayItem(p, 0), "role")->valuestring,
      "system");
  text = cJSON_GetObjectItem(cJSON_GetArrayItem(p, 1), "content")->valuestring;
  assert_string_equal(text, "Summary of what came before:\nbefore\n\n"
                            "Conversation to summarise:\n"
                            "user: hi[image]\n"
                            "assistant: \n"
                            "assistant called tool get (call_1) with "
                            "{\"q\":1}\n"
                            "tool result (call_1): 42\n");
  cJSON_Delete(p);
  p = trim_summary_prompt(NULL, msgs, 0);
  text = cJSON_GetObjectItem(cJSON_GetArrayItem(p, 1), "content")->valuestring;
  assert_true(!strncmp(text, "Conversation to summarise:\nuser: old\n", 37));
  cJSON_Delete(p);
  assert_int_equal(trim_user_index(msgs, 0), 0);
  assert_int_equal(trim_user_index(msgs, 1), 1);
  assert_int_equal(trim_user_index(msgs, 2), 4);
  cJSON_Delete(msgs);
}

/* The summary merges into the first kept user message (string or parts),
 * past instructions; elsewhere it is a user message of its own. */
static void test_put_summary(void **state)
{
  cJSON *msgs = parse("[{\"role\":\"system\",\"content\":\"S\"},"
                      "{\"role\":\"user\",\"content\":\"u2\"}]");
  char *out;

  (void)state;
  assert_int_equal(trim_put_summary(msgs, 0, "sum"), 0);
  out = cJSON_PrintUnformatted(msgs);
  assert_string_equal(out, "[{\"role\":\"system\",\"content\":\"S\"},"
                           "{\"role\":\"user\",\"content\":\"Summary of the "
                           "earlier conversation:\\nsum\\n\\nu2\"}]");
  free(out);
  cJSON_Delete(msgs);

  msgs = parse("[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
               "\"text\":\"u2\"}]}]");
  assert_int_equal(trim_put_summary(msgs, 0, "sum"), 0);
  out = cJSON_PrintUnformatted(msgs);
  assert_string_equal(out,
                      "[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                      "\"text\":\"Summary of the earlier conversation:"
                      "\\nsum\\n\\n\"},{\"type\":\"text\",\"text\":"
                      "\"u2\"}]}]");
  free(out);
  cJSON_Delete(msgs);

  msgs = parse("[{\"role\":\"user\",\"content\":\"u1\"},"
               "{\"role\":\"assistant\",\"content\":\"a\"}]");
  assert_int_equal(trim_put_summary(msgs, 1, "sum"), 0);
  out = cJSON_PrintUnformatted(msgs);
  assert_string_equal(out, "[{\"role\":\"user\",\"content\":\"u1\"},"
                           "{\"role\":\"user\",\"content\":\"Summary of the "
                           "earlier conversation:\\nsum\"},"
                           "{\"role\":\"assistant\",\"content\":\"a\"}]");
  free(out);
  assert_int_equal(trim_put_summary(msgs, 9, "x"), 0);
  assert_int_equal(cJSON_GetArraySize(msgs), 4);
  assert_int_equal(trim_put_summary(msgs, 0, NULL), SB_EINVAL);
  assert_int_equal(trim_put_summary(NULL, 0, "x"), SB_EINVAL);
  cJSON_Delete(msgs);
}

static void test_count_near(void **state)
{
  (void)state;
  /* 75% and 125% of the window are near, both included */
  assert_true(trim_count_near(700, 50, 1000));
  assert_true(trim_count_near(1000, 250, 1000));
  assert_true(trim_count_near(1000, 0, 1000));
  assert_false(trim_count_near(700, 49, 1000));
  assert_false(trim_count_near(1000, 251, 1000));
  assert_false(trim_count_near(10, 0, 1000));
  assert_false(trim_count_near(5000, 0, 1000));
  /* a negative room counts as none; an unknown window is never near */
  assert_true(trim_count_near(800, -100, 1000));
  assert_false(trim_count_near(800, 0, 0));
  assert_false(trim_count_near(0, 0, -1));
}

static void test_scaled_estimate(void **state)
{
  struct trim_scale half = {50, 100}, twice = {300, 150}, none = {7, 0};
  cJSON *m = parse("{\"role\":\"user\",\"content\":\"abcdefghijklmnop\"}");
  int64_t e = trim_estimate_message(m);
  cJSON *msgs, *hist;
  struct trim_params p;
  struct trim_result r;

  (void)state;
  assert_int_equal(trim_scale_apply(&half, 9), 5); /* rounded up */
  assert_int_equal(trim_scale_apply(&twice, 9), 18);
  assert_int_equal(trim_scale_apply(&none, 9), 9);
  assert_int_equal(trim_scale_apply(NULL, 9), 9);
  assert_int_equal(trim_scale_apply(&half, 0), 0);
  assert_int_equal(trim_estimate_scaled(m, &twice), 2 * e);
  assert_int_equal(trim_estimate_scaled(m, &half), (e + 1) / 2);

  /* the scale decides what is dropped: 4 messages of e tokens each in a
   * window of 3e fit whole only when they count half */
  msgs = cJSON_CreateArray();
  for(int i = 0; i < 4; i++)
    cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
  hist = cJSON_Duplicate(msgs, 1);
  memset(&p, 0, sizeof(p));
  p.context_tokens = 3 * e;
  assert_int_equal(trim_history(msgs, 3, &p, &r), 0);
  assert_int_equal(r.dropped, 1);
  p.estimate = trim_estimate_scaled;
  p.estimate_ud = &half;
  assert_int_equal(trim_history(hist, 3, &p, &r), 0);
  assert_int_equal(r.dropped, 0);
  assert_int_equal(r.prompt_tokens, 4 * ((e + 1) / 2));
  cJSON_Delete(msgs);
  cJSON_Delete(hist);
  cJSON_Delete(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_estimate_text),
      cmocka_unit_test(test_estimate_message),
      cmocka_unit_test(test_estimate_json),
      cmocka_unit_test(test_fits_untouched),
      cmocka_unit_test(test_drops_oldest_exchange),
      cmocka_unit_test(test_fixed_tokens_and_max_output),
      cmocka_unit_test(test_turn_and_system_never_dropped),
      cmocka_unit_test(test_tool_calls_stay_with_results),
      cmocka_unit_test(test_turn_answers_tool_calls),
      cmocka_unit_test(test_history_starting_mid_exchange),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_default_estimator),
      cmocka_unit_test(test_random_histories),
      cmocka_unit_test(test_dropped_and_resume),
      cmocka_unit_test(test_summary_prompt),
      cmocka_unit_test(test_put_summary),
      cmocka_unit_test(test_count_near),
      cmocka_unit_test(test_scaled_estimate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
