/* AWS event-stream framing: AWS's published vectors, every-byte
 * splits, several messages per feed, CRC failures and the size bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/eventstream.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char V1[] = "0000001e00000000baf2f68a7b22666f6f223a2022626172227d"
                         "ae7258e4";
static const char V2[] =
    "0000003e00000020405df9460c636f6e74656e742d747970650700106170706c69636174"
    "696f6e2f6a736f6e7b22666f6f223a2022626172227d6fa2bf3b";
static const char V3[] =
    "0000009400000057b4ab9aee0b3a6576656e742d74797065070011636f6e74656e74426c"
    "6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e"
    "2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74"
    "426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869227d7d"
    "1f944657";
static const char V4[] =
    "000000b2000000613590d5d30f3a657863657074696f6e2d74797065070013746872"
    "6f74746c696e67457863657074696f6e0d3a636f6e74656e742d7479706507001061"
    "70706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700096578"
    "63657074696f6e7b226d657373616765223a22546f6f206d616e7920726571756573"
    "74732c20706c656173652077616974206265666f726520747279696e672061676169"
    "6e2e227de8ffb26a";

static size_t unhex(const char *h, unsigned char *out)
{
  size_t n = strlen(h) / 2;
  for(size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(h + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  return n;
}

struct seen {
  char log[4096];
  int n;
  int stop_at; /* return 7 from this message on (1-based), 0: never */
};

static void put(char *log, const char *label, const char *s, size_t n)
{
  strcat(log, label);
  strcat(log, "=");
  if(s)
    strncat(log, s, n);
  else
    strcat(log, "-");
  strcat(log, " ");
}

static int on_msg(void *ud, const struct eventstream_msg *m)
{
  struct seen *s = ud;

  s->n++;
  put(s->log, "ev", m->event_type, m->event_type_len);
  put(s->log, "mt", m->message_type, m->message_type_len);
  put(s->log, "ex", m->exception_type, m->exception_type_len);
  put(s->log, "pl", m->payload, m->payload_len);
  strcat(s->log, "|");
  if(s->stop_at && s->n >= s->stop_at)
    return 7;
  return 0;
}

static void test_crc32(void **state)
{
  (void)state;
  assert_int_equal(eventstream_crc32(0, "123456789", 9), 0xcbf43926u);
  assert_int_equal(eventstream_crc32(0, "", 0), 0);
  /* Continuation equals one pass. */
  assert_int_equal(
      eventstream_crc32(eventstream_crc32(0, "1234", 4), "56789", 5),
      0xcbf43926u);
}

static void check_one(const char *hexmsg, const char *want)
{
  unsigned char b[512];
  size_t n = unhex(hexmsg, b);

  /* Every split point, and every byte on its own. */
  for(size_t cut = 0; cut <= n; cut++) {
    struct eventstream es;
    struct seen s;
    memset(&s, 0, sizeof(s));
    eventstream_init(&es, 1024, on_msg, &s);
    assert_int_equal(eventstream_feed(&es, b, cut), 0);
    assert_int_equal(s.n, cut == n ? 1 : 0);
    assert_int_equal(eventstream_feed(&es, b + cut, n - cut), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.log, want);
    assert_int_equal(eventstream_pending(&es), 0);
    eventstream_free(&es);
  }
  {
    struct eventstream es;
    struct seen s;
    memset(&s, 0, sizeof(s));
    eventstream_init(&es, 1024, on_msg, &s);
    for(size_t i = 0; i < n; i++)
      assert_int_equal(eventstream_feed(&es, b + i, 1), 0);
    assert_string_equal(s.log, want);
    eventstream_free(&es);
  }
}

static void test_vectors(void **state)
{
  (void)state;
  check_one(V1, "ev=- mt=- ex=- pl={\"foo\": \"bar\"} |");
  check_one(V2, "ev=- mt=- ex=- pl={\"foo\": \"bar\"} |");
  check_one(V3, "ev=contentBlockDelta mt=event ex=- "
                "pl={\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}} |");
  check_one(V4, "ev=- mt=exception ex=throttlingException "
                "pl={\"message\":\"Too many requests, please wait before "
                "trying again.\"} |");
}

/* All four vectors back to back, split at every pair of points. */
static void test_many_every_split(void **state)
{
  unsigned char b[1024];
  size_t n = 0;
  char want[2048] = "";
  (void)state;

  n += unhex(V1, b + n);
  n += unhex(V2, b + n);
  n += unhex(V3, b + n);
  n += unhex(V4, b + n);
  {
    struct eventstream es;
    struct seen s;
    memset(&s, 0, sizeof(s));
    eventstream_init(&es, 1024, on_msg, &s);
    assert_int_equal(eventstream_feed(&es, b, n), 0);
    assert_int_equal(s.n, 4);
    strcpy(want, s.log);
    eventstream_free(&es);
  }
  for(size_t c1 = 0; c1 <= n; c1 += 3)
    for(size_t c2 = c1; c2 <= n; c2 += 7) {
      struct eventstream es;
      struct seen s;
      memset(&s, 0, sizeof(s));
      eventstream_init(&es, 1024, on_msg, &s);
      assert_int_equal(eventstream_feed(&es, b, c1), 0);
      assert_int_equal(eventstream_feed(&es, b + c1, c2 - c1), 0);
      assert_int_equal(eventstream_feed(&es, b + c2, n - c2), 0);
      assert_int_equal(s.n, 4);
      assert_string_equal(s.log, want);
      eventstream_free(&es);
    }
}

static void test_bad_crcs(void **state)
{
  unsigned char b[512];
  size_t n = unhex(V3, b);
  (void)state;

  for(size_t i = 0; i < n; i++) {
    /* Flip one byte anywhere: prelude CRC, message CRC or length checks
     * catch it (a flipped length is caught by the prelude CRC). */
    for(size_t cut = 0; cut <= n; cut += (i % 5) + 1) {
      struct eventstream es;
      struct seen s;
      int rc;
      memset(&s, 0, sizeof(s));
      b[i] ^= 0x20;
      eventstream_init(&es, 1024, on_msg, &s);
      rc = eventstream_feed(&es, b, cut);
      if(!rc)
        rc = eventstream_feed(&es, b + cut, n - cut);
      if(rc == 0)
        rc = eventstream_pending(&es) ? SB_EPROTO : 0;
      assert_int_equal(rc, SB_EPROTO);
      assert_int_equal(s.n, 0);
      /* Sticky. */
      assert_int_equal(eventstream_feed(&es, "x", 1), SB_EPROTO);
      eventstream_free(&es);
      b[i] ^= 0x20;
    }
  }
}

static void test_too_big(void **state)
{
  unsigned char b[512];
  size_t n = unhex(V3, b);
  struct eventstream es;
  struct seen s;
  (void)state;

  memset(&s, 0, sizeof(s));
  eventstream_init(&es, n - 1, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, b, n), SB_ETOOBIG);
  assert_int_equal(s.n, 0);
  eventstream_free(&es);

  memset(&s, 0, sizeof(s));
  eventstream_init(&es, n, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, b, 5), 0);
  assert_int_equal(eventstream_feed(&es, b + 5, n - 5), 0);
  assert_int_equal(s.n, 1);
  eventstream_free(&es);

  /* Split prelude: the limit is checked once the prelude is complete. */
  memset(&s, 0, sizeof(s));
  eventstream_init(&es, 100, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, b, 11), 0);
  assert_int_equal(eventstream_feed(&es, b + 11, 2), SB_ETOOBIG);
  eventstream_free(&es);
}

static void test_callback_stops(void **state)
{
  unsigned char b[1024];
  size_t n = 0;
  struct eventstream es;
  struct seen s;
  (void)state;

  n += unhex(V1, b + n);
  n += unhex(V3, b + n);
  n += unhex(V4, b + n);
  memset(&s, 0, sizeof(s));
  s.stop_at = 2;
  eventstream_init(&es, 1024, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, b, n), 7);
  assert_int_equal(s.n, 2);
  assert_int_equal(eventstream_feed(&es, b, n), 7);
  assert_int_equal(s.n, 2);
  eventstream_free(&es);
}

static void test_bad_lengths(void **state)
{
  /* total 12 (< 16) with a correct prelude CRC. */
  unsigned char p[16] = {0, 0, 0, 12, 0, 0, 0, 0};
  uint32_t c = eventstream_crc32(0, p, 8);
  struct eventstream es;
  struct seen s;
  (void)state;

  p[8] = (unsigned char)(c >> 24);
  p[9] = (unsigned char)(c >> 16);
  p[10] = (unsigned char)(c >> 8);
  p[11] = (unsigned char)c;
  memset(&s, 0, sizeof(s));
  eventstream_init(&es, 1024, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, p, 16), SB_EPROTO);
  eventstream_free(&es);

  /* headers length larger than the message. */
  memset(p, 0, sizeof(p));
  p[3] = 16;
  p[7] = 1;
  c = eventstream_crc32(0, p, 8);
  p[8] = (unsigned char)(c >> 24);
  p[9] = (unsigned char)(c >> 16);
  p[10] = (unsigned char)(c >> 8);
  p[11] = (unsigned char)c;
  memset(&s, 0, sizeof(s));
  eventstream_init(&es, 1024, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, p, 16), SB_EPROTO);
  eventstream_free(&es);

  /* Empty message (no headers, no payload) is valid. */
  memset(p, 0, sizeof(p));
  p[3] = 16;
  c = eventstream_crc32(0, p, 8);
  p[8] = (unsigned char)(c >> 24);
  p[9] = (unsigned char)(c >> 16);
  p[10] = (unsigned char)(c >> 8);
  p[11] = (unsigned char)c;
  c = eventstream_crc32(0, p, 12);
  p[12] = (unsigned char)(c >> 24);
  p[13] = (unsigned char)(c >> 16);
  p[14] = (unsigned char)(c >> 8);
  p[15] = (unsigned char)c;
  memset(&s, 0, sizeof(s));
  eventstream_init(&es, 1024, on_msg, &s);
  assert_int_equal(eventstream_feed(&es, p, 16), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.log, "ev=- mt=- ex=- pl= |");
  eventstream_free(&es);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32),
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_many_every_split),
      cmocka_unit_test(test_bad_crcs),
      cmocka_unit_test(test_too_big),
      cmocka_unit_test(test_callback_stops),
      cmocka_unit_test(test_bad_lengths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
