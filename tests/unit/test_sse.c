/* Unit tests for base/sse.c: the parser fed in every possible split,
 * and the writer round-tripping through the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/sb.h"
#include "base/sse.h"

#define MAX_EVENTS 32

struct rec {
  char *event; /* NULL when absent */
  char *data;
  size_t data_len;
  char *id; /* NULL when absent */
};

struct collector {
  struct rec ev[MAX_EVENTS];
  int n;
  int stop_after; /* >0: return 7 from the callback for event number N */
};

static char *dup_or_null(const char *s, size_t n)
{
  return s ? sb_strndup(s, n) : NULL;
}

static int collect(void *ud, const struct sse_event *ev)
{
  struct collector *c = ud;
  struct rec *r;

  assert_true(c->n < MAX_EVENTS);
  assert_non_null(ev->data);
  assert_int_equal(ev->data[ev->data_len], '\0');
  if(ev->event) {
    assert_true(ev->event_len > 0);
    assert_int_equal(ev->event[ev->event_len], '\0');
  } else {
    assert_int_equal(ev->event_len, 0);
  }
  if(!ev->id)
    assert_int_equal(ev->id_len, 0);
  r = &c->ev[c->n++];
  r->event = dup_or_null(ev->event, ev->event_len);
  r->data = sb_strndup(ev->data, ev->data_len);
  r->data_len = ev->data_len;
  r->id = dup_or_null(ev->id, ev->id_len);
  if(c->stop_after && c->n == c->stop_after)
    return 7;
  return 0;
}

static void collector_clear(struct collector *c)
{
  int i;

  for(i = 0; i < c->n; i++) {
    free(c->ev[i].event);
    free(c->ev[i].data);
    free(c->ev[i].id);
  }
  memset(c, 0, sizeof(*c));
}

/* Expected event: event/id NULL when absent. */
struct want {
  const char *event;
  const char *data;
  const char *id;
};

static void check_events(const struct collector *c, const struct want *w, int n)
{
  int i;

  assert_int_equal(c->n, n);
  for(i = 0; i < n; i++) {
    if(w[i].event)
      assert_string_equal(c->ev[i].event, w[i].event);
    else
      assert_null(c->ev[i].event);
    assert_string_equal(c->ev[i].data, w[i].data);
    assert_int_equal(c->ev[i].data_len, strlen(w[i].data));
    if(w[i].id)
      assert_string_equal(c->ev[i].id, w[i].id);
    else
      assert_null(c->ev[i].id);
  }
}

/* Parse s in one piece; returns the feed result, finish result in *fin. */
static int parse_all(const char *s, size_t len, size_t max, struct collector *c,
                     int *fin)
{
  struct sse_parser p;
  int rc;

  sse_parser_init(&p, max, collect, c);
  rc = sse_parser_feed(&p, s, len);
  *fin = sse_parser_finish(&p);
  sse_parser_free(&p);
  return rc;
}

static void expect_stream(const char *s, const struct want *w, int n)
{
  struct collector c = {0};
  int fin;

  assert_int_equal(parse_all(s, strlen(s), 4096, &c, &fin), 0);
  assert_int_equal(fin, 0);
  check_events(&c, w, n);
  collector_clear(&c);
}

static void test_lf(void **state)
{
  static const struct want w[] = {{NULL, "a", NULL}, {NULL, "b", NULL}};

  (void)state;
  expect_stream("data: a\n\ndata: b\n\n", w, 2);
}

static void test_crlf(void **state)
{
  static const struct want w[] = {{NULL, "a", NULL}, {"x", "b", NULL}};

  (void)state;
  expect_stream("data: a\r\n\r\nevent: x\r\ndata: b\r\n\r\n", w, 2);
}

static void test_cr_only(void **state)
{
  static const struct want w[] = {{NULL, "a\nb", NULL}, {NULL, "c", NULL}};

  (void)state;
  expect_stream("data: a\rdata: b\r\rdata: c\r\r", w, 2);
}

static void test_cr_split_across_feeds(void **state)
{
  struct collector c = {0};
  struct sse_parser p;
  static const struct want w[] = {{NULL, "a", NULL}};

  (void)state;
  /* "\r" | "\n" is one terminator; "\r" | "\r" is two (a blank line). */
  sse_parser_init(&p, 100, collect, &c);
  assert_int_equal(sse_parser_feed(&p, "data: a\r", 8), 0);
  assert_int_equal(sse_parser_feed(&p, "\n", 1), 0);
  assert_int_equal(c.n, 0);
  assert_int_equal(sse_parser_feed(&p, "\r", 1), 0);
  check_events(&c, w, 1);
  assert_int_equal(sse_parser_feed(&p, "\n", 1), 0);
  assert_int_equal(sse_parser_finish(&p), 0);
  check_events(&c, w, 1);
  sse_parser_free(&p);
  collector_clear(&c);
}

static void test_multiline_data(void **state)
{
  static const struct want w[] = {{NULL, "one\ntwo\n\nfour", NULL}};

  (void)state;
  expect_stream("data: one\ndata:two\ndata\ndata: four\n\n", w, 1);
}

static void test_space_handling(void **state)
{
  /* Only one leading space is removed; trailing spaces are kept. */
  static const struct want w[] = {{NULL, " x ", NULL}, {NULL, "", NULL}};

  (void)state;
  expect_stream("data:  x \n\ndata: \n\n", w, 2);
}

static void test_comments(void **state)
{
  static const struct want w[] = {{NULL, "a", NULL}};

  (void)state;
  expect_stream(": OPENROUTER PROCESSING\n\n:\n\ndata: a\n: inside\n\n:tail\n",
                w, 1);
}

static void test_event_names(void **state)
{
  static const struct want w[] = {
      {"message_start", "{}", NULL},
      {NULL, "plain", NULL},
      {"b", "last name wins", NULL},
      {NULL, "empty name is absent", NULL},
  };

  (void)state;
  expect_stream("event: message_start\ndata: {}\n\n"
                "data: plain\n\n"
                "event: a\nevent: b\ndata: last name wins\n\n"
                "event:\ndata: empty name is absent\n\n",
                w, 4);
}

static void test_id(void **state)
{
  static const struct want w[] = {
      {NULL, "a", "1"},
      {NULL, "b", "1"}, /* the last event ID persists */
      {NULL, "c", "2"},
      {NULL, "d", NULL}, /* an empty id clears it */
  };

  (void)state;
  expect_stream("id: 1\ndata: a\n\ndata: b\n\nid:2\ndata: c\n\n"
                "id\ndata: d\n\n",
                w, 4);
}

static void test_id_with_nul_ignored(void **state)
{
  static const char s[] = "id: 5\ndata: a\n\nid: x\0y\ndata: b\n\n";
  static const struct want w[] = {{NULL, "a", "5"}, {NULL, "b", "5"}};
  struct collector c = {0};
  int fin;

  (void)state;
  assert_int_equal(parse_all(s, sizeof(s) - 1, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  check_events(&c, w, 2);
  collector_clear(&c);
}

static void test_no_data_dropped(void **state)
{
  static const struct want w[] = {{NULL, "kept", NULL}};

  (void)state;
  /* An event without data is dropped, and its name does not leak into
   * the next event. */
  expect_stream("event: ping\n\nid: \nretry: 10\n\ndata: kept\n\n", w, 1);
}

static void test_unknown_fields_ignored(void **state)
{
  static const struct want w[] = {{NULL, "x", NULL}};

  (void)state;
  expect_stream("foo: bar\nretry: 100\ndata: x\nDATA: no\nevent : no\n\n", w,
                1);
}

static void feed_ok(struct sse_parser *p, const char *s, size_t n);

/* Feed s in one piece to p (initialised with collect and c), then finish. */
static int feed_finish(struct sse_parser *p, struct collector *c, const char *s)
{
  sse_parser_init(p, 100, collect, c);
  assert_int_equal(sse_parser_feed(p, s, strlen(s)), 0);
  return sse_parser_finish(p);
}

static void expect_last_id(const char *s, const char *want)
{
  struct collector c = {0};
  struct sse_parser p;
  const char *id;
  size_t len;

  (void)feed_finish(&p, &c, s);
  id = sse_parser_last_id(&p, &len);
  if(want) {
    assert_non_null(id);
    assert_int_equal(len, strlen(want));
    assert_string_equal(id, want);
  } else {
    assert_null(id);
    assert_int_equal(len, 0);
  }
  sse_parser_free(&p);
  collector_clear(&c);
}

static void test_last_id(void **state)
{
  (void)state;
  expect_last_id("", NULL);
  expect_last_id("data: a\n\n", NULL);
  expect_last_id("id: 1\ndata: a\n\ndata: b\n\n", "1");
  /* A priming event: an id and an empty data line. */
  expect_last_id("id: s::1\nretry: 500\ndata:\n\n", "s::1");
  /* An event without data still sets it, as in the spec. */
  expect_last_id("id: 1\ndata: a\n\nid: 2\n\n", "2");
  /* The id of an event the stream cut off does not count: that event
   * must come again after resuming. */
  expect_last_id("id: 1\ndata: a\n\nid: 2\ndata: b\n", "1");
  expect_last_id("id: 1\ndata: a\n\nid: 2", "1");
  /* An empty id clears it; one with a NUL is ignored. */
  expect_last_id("id: 1\ndata: a\n\nid\ndata: b\n\n", NULL);
}

static void test_last_id_across_feeds(void **state)
{
  struct collector c = {0};
  struct sse_parser p;
  size_t len;

  (void)state;
  sse_parser_init(&p, 100, collect, &c);
  feed_ok(&p, "id: 4", 5);
  assert_null(sse_parser_last_id(&p, &len));
  feed_ok(&p, "2\ndata: x\n", 10);
  assert_null(sse_parser_last_id(&p, &len));
  feed_ok(&p, "\n", 1);
  assert_string_equal(sse_parser_last_id(&p, &len), "42");
  assert_int_equal(len, 2);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.ev[0].id, "42");
  sse_parser_free(&p);
  collector_clear(&c);
}

static void expect_retry(const char *s, long want)
{
  struct collector c = {0};
  struct sse_parser p;

  (void)feed_finish(&p, &c, s);
  assert_int_equal(sse_parser_retry(&p), want);
  sse_parser_free(&p);
  collector_clear(&c);
}

static void test_retry(void **state)
{
  struct sse_parser p;

  (void)state;
  sse_parser_init(&p, 100, collect, NULL);
  assert_int_equal(sse_parser_retry(&p), -1);
  sse_parser_free(&p);
  expect_retry("data: a\n\n", -1);
  expect_retry("retry: 5000\ndata:\n\n", 5000);
  expect_retry("retry:0\n\n", 0);
  /* It takes effect as the line is read, without a blank line. */
  expect_retry("retry: 250\n", 250);
  /* The last valid one wins; anything but digits is ignored. */
  expect_retry("retry: 100\n\nretry: 200\n\n", 200);
  expect_retry("retry: 100\nretry: 2s\nretry: -1\nretry: 1.5\n"
               "retry:  3\nretry\nretry:\n\n",
               100);
  expect_retry("retry: 99999999999999999999\n\n", SSE_RETRY_MAX);
  expect_retry("retry: 2147483647\n\n", SSE_RETRY_MAX);
  expect_retry("retry: 2147483646\n\n", 2147483646L);
}

static void test_done_payload(void **state)
{
  static const struct want w[] = {
      {NULL, "{\"choices\":[]}", NULL},
      {NULL, "[DONE]", NULL},
  };

  (void)state;
  expect_stream("data: {\"choices\":[]}\n\ndata: [DONE]\n\n", w, 2);
}

static void test_bom(void **state)
{
  static const struct want w[] = {{NULL, "a", NULL}};
  static const struct want w2[] = {{"\xEF\xBB\xBF", "b", NULL}};

  (void)state;
  expect_stream("\xEF\xBB\xBF"
                "data: a\n\n",
                w, 1);
  /* Only at stream start: later a BOM is ordinary text. */
  expect_stream("\n"
                "event: \xEF\xBB\xBF\ndata: b\n\n",
                w2, 1);
}

static void test_partial_bom_is_data(void **state)
{
  /* "\xEF\xBB" followed by something else: the bytes are a field name. */
  static const char s[] = "\xEF\xBB:x\ndata: a\n\n";
  struct collector c = {0};
  int fin;

  (void)state;
  assert_int_equal(parse_all(s, sizeof(s) - 1, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  assert_int_equal(c.n, 1);
  assert_string_equal(c.ev[0].data, "a");
  collector_clear(&c);
}

static void test_limit(void **state)
{
  struct collector c = {0};
  struct sse_parser p;
  int fin;

  (void)state;
  /* an event of exactly the limit is fine: 16 bytes of field lines */
  assert_int_equal(parse_all("data: 0123456789\n\n", 18, 16, &c, &fin), 0);
  assert_int_equal(c.n, 1);
  collector_clear(&c);
  assert_int_equal(parse_all("event: e\ndata: 1\n\n", 18, 15, &c, &fin), 0);
  assert_int_equal(c.n, 1);
  collector_clear(&c);

  /* one line too long, in one piece */
  assert_int_equal(parse_all("data: 0123456789A\n\n", 19, 16, &c, &fin),
                   SB_ETOOBIG);
  assert_int_equal(fin, SB_ETOOBIG);
  assert_int_equal(c.n, 0);
  collector_clear(&c);

  /* several lines of one event too long together */
  assert_int_equal(parse_all("data: 012345\ndata: 6789\n\n", 26, 16, &c, &fin),
                   SB_ETOOBIG);
  assert_int_equal(c.n, 0);
  collector_clear(&c);
  assert_int_equal(parse_all("event: e\ndata: 12\n\n", 19, 15, &c, &fin),
                   SB_ETOOBIG);
  collector_clear(&c);

  /* the count starts again with every event; comments do not count */
  assert_int_equal(parse_all(": 0123456789ABCD\n: 0123456789ABCD\n"
                             "data: 0123456789\n\n"
                             "data: 0123456789\n\n",
                             70, 16, &c, &fin),
                   0);
  assert_int_equal(fin, 0);
  assert_int_equal(c.n, 2);
  collector_clear(&c);

  /* a partial line growing over several feeds; the error is sticky */
  sse_parser_init(&p, 16, collect, &c);
  assert_int_equal(sse_parser_feed(&p, "data: 0123", 10), 0);
  assert_int_equal(sse_parser_feed(&p, "456789", 6), 0);
  assert_int_equal(sse_parser_feed(&p, "A", 1), SB_ETOOBIG);
  assert_int_equal(sse_parser_feed(&p, "\n\ndata: x\n\n", 11), SB_ETOOBIG);
  assert_int_equal(sse_parser_finish(&p), SB_ETOOBIG);
  assert_int_equal(c.n, 0);
  sse_parser_free(&p);
  collector_clear(&c);

  /* an over-long comment line is refused too */
  assert_int_equal(parse_all(": 0123456789ABCDEF\n", 19, 16, &c, &fin),
                   SB_ETOOBIG);
  collector_clear(&c);
}

static void test_callback_stops(void **state)
{
  struct collector c = {0};
  struct sse_parser p;

  (void)state;
  c.stop_after = 2;
  sse_parser_init(&p, 100, collect, &c);
  assert_int_equal(sse_parser_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27),
                   7);
  assert_int_equal(c.n, 2);
  assert_int_equal(sse_parser_feed(&p, "data: 4\n\n", 9), 7);
  assert_int_equal(sse_parser_finish(&p), 7);
  assert_int_equal(c.n, 2);
  sse_parser_free(&p);
  collector_clear(&c);
}

static void test_finish(void **state)
{
  struct collector c = {0};
  int fin;

  (void)state;
  assert_int_equal(parse_all("data: a\n\n", 9, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  collector_clear(&c);

  /* unterminated line */
  assert_int_equal(parse_all("data: a\n\ndata: b", 16, 100, &c, &fin), 0);
  assert_int_equal(fin, SB_EPROTO);
  assert_int_equal(c.n, 1);
  collector_clear(&c);

  /* terminated line but no blank line: not dispatched */
  assert_int_equal(parse_all("data: b\n", 8, 100, &c, &fin), 0);
  assert_int_equal(fin, SB_EPROTO);
  assert_int_equal(c.n, 0);
  collector_clear(&c);

  /* "\r" at the very end is a complete terminator */
  assert_int_equal(parse_all("data: b\r\r", 9, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  assert_int_equal(c.n, 1);
  collector_clear(&c);

  /* a trailing comment, partial or not, is not an event */
  assert_int_equal(parse_all("data: a\n\n: ping", 15, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  collector_clear(&c);
  assert_int_equal(parse_all(": ping\n", 7, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  collector_clear(&c);

  /* empty input, and a lone BOM prefix */
  assert_int_equal(parse_all("", 0, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  assert_int_equal(parse_all("\xEF\xBB\xBF", 3, 100, &c, &fin), 0);
  assert_int_equal(fin, 0);
  assert_int_equal(parse_all("\xEF\xBB", 2, 100, &c, &fin), 0);
  assert_int_equal(fin, SB_EPROTO);
  collector_clear(&c);
}

/* A realistic stream: BOM, keep-alive comments, CRLF, CR and LF line ends,
 * named events, ids, multi-line data, an event without data, [DONE]. */
static const char REAL[] =
    "\xEF\xBB\xBF"
    ": OPENROUTER PROCESSING\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
    "event: message_start\r\n"
    "id: 7\r\n"
    "data: {\"type\":\"message_start\"}\r\n"
    "\r\n"
    "data: line one\n"
    "data:line two\r\n"
    "data:  indented\r"
    ": a comment in the middle\r\n"
    "data\r"
    "\r"
    "event: ping\n"
    "\n"
    "retry: 3000\n"
    "x-unknown: y\n"
    "data: {\"choices\":[],\"usage\":{\"total_tokens\":11}}\n"
    "\n"
    ":keepalive\r\r"
    "data: [DONE]\r\n"
    "\r\n";

static const struct want REAL_EVENTS[] = {
    {NULL,
     "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,"
     "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
     NULL},
    {"message_start", "{\"type\":\"message_start\"}", "7"},
    {NULL, "line one\nline two\n indented\n", "7"},
    {NULL, "{\"choices\":[],\"usage\":{\"total_tokens\":11}}", "7"},
    {NULL, "[DONE]", "7"},
};

static void feed_ok(struct sse_parser *p, const char *s, size_t n)
{
  assert_int_equal(sse_parser_feed(p, s, n), 0);
}

static void test_real_stream_whole(void **state)
{
  (void)state;
  expect_stream(REAL, REAL_EVENTS, SB_ARRAY_LEN(REAL_EVENTS));
  expect_last_id(REAL, "7");
  expect_retry(REAL, 3000);
}

static void test_real_stream_every_split(void **state)
{
  size_t len = sizeof(REAL) - 1;
  size_t k;

  (void)state;
  for(k = 0; k <= len; k++) {
    struct collector c = {0};
    struct sse_parser p;

    sse_parser_init(&p, 4096, collect, &c);
    feed_ok(&p, REAL, k);
    feed_ok(&p, REAL + k, len - k);
    assert_int_equal(sse_parser_finish(&p), 0);
    check_events(&c, REAL_EVENTS, SB_ARRAY_LEN(REAL_EVENTS));
    sse_parser_free(&p);
    collector_clear(&c);
  }
}

static void test_real_stream_every_double_split(void **state)
{
  size_t len = sizeof(REAL) - 1;
  size_t i, j;

  (void)state;
  for(i = 0; i <= len; i++) {
    for(j = i; j <= len; j++) {
      struct collector c = {0};
      struct sse_parser p;

      sse_parser_init(&p, 4096, collect, &c);
      feed_ok(&p, REAL, i);
      feed_ok(&p, REAL + i, j - i);
      feed_ok(&p, REAL + j, len - j);
      assert_int_equal(sse_parser_finish(&p), 0);
      check_events(&c, REAL_EVENTS, SB_ARRAY_LEN(REAL_EVENTS));
      sse_parser_free(&p);
      collector_clear(&c);
    }
  }
}

static void test_real_stream_byte_at_a_time(void **state)
{
  size_t len = sizeof(REAL) - 1;
  struct collector c = {0};
  struct sse_parser p;
  size_t k;

  (void)state;
  sse_parser_init(&p, 4096, collect, &c);
  for(k = 0; k < len; k++)
    feed_ok(&p, REAL + k, 1);
  assert_int_equal(sse_parser_finish(&p), 0);
  check_events(&c, REAL_EVENTS, SB_ARRAY_LEN(REAL_EVENTS));
  sse_parser_free(&p);
  collector_clear(&c);
}

static void test_writer_format(void **state)
{
  struct buf out;

  (void)state;
  buf_init(&out, 1024);
  assert_int_equal(sse_write_event(&out, NULL, "{\"a\":1}", 7), 0);
  assert_string_equal(out.data, "data: {\"a\":1}\n\n");
  buf_reset(&out);
  assert_int_equal(sse_write_event(&out, "delta", "x\ny", 3), 0);
  assert_string_equal(out.data, "event: delta\ndata: x\ndata: y\n\n");
  buf_reset(&out);
  assert_int_equal(sse_write_event(&out, NULL, NULL, 0), 0);
  assert_string_equal(out.data, "data: \n\n");
  buf_reset(&out);
  assert_int_equal(sse_write_comment(&out, "ping"), 0);
  assert_string_equal(out.data, ": ping\n\n");
  buf_reset(&out);
  assert_int_equal(sse_write_comment(&out, ""), 0);
  assert_string_equal(out.data, ":\n\n");
  buf_reset(&out);
  assert_int_equal(sse_write_comment(&out, "a\nb"), 0);
  assert_string_equal(out.data, ": a\n: b\n\n");
  buf_free(&out);
}

static void test_writer_errors_leave_out_unchanged(void **state)
{
  struct buf out;

  (void)state;
  buf_init(&out, 20);
  assert_int_equal(sse_write_event(&out, NULL, "1", 1), 0);
  assert_string_equal(out.data, "data: 1\n\n");
  assert_int_equal(sse_write_event(&out, "bad\nname", "x", 1), SB_EINVAL);
  assert_int_equal(sse_write_event(&out, NULL, "0123456789", 10), SB_ETOOBIG);
  assert_string_equal(out.data, "data: 1\n\n");
  assert_int_equal(out.len, 9);
  assert_int_equal(sse_write_comment(&out, "0123456789ABC"), SB_ETOOBIG);
  assert_string_equal(out.data, "data: 1\n\n");
  buf_free(&out);
}

static void test_writer_round_trip(void **state)
{
  static const struct {
    const char *event;
    const char *data;
    const char *parsed; /* what the parser must return */
  } cases[] = {
      {NULL, "{\"choices\":[]}", "{\"choices\":[]}"},
      {"message_delta", "a\nb\nc", "a\nb\nc"},
      {NULL, "", ""},
      {NULL, "\n", "\n"},
      {NULL, "\n\n", "\n\n"},
      {NULL, "trailing\n", "trailing\n"},
      {NULL, " leading space", " leading space"},
      {NULL, "  two", "  two"},
      {NULL, ": not a comment", ": not a comment"},
      {"e", "crlf\r\nand\rcr", "crlf\nand\ncr"},
      {NULL, "[DONE]", "[DONE]"},
  };
  struct buf out;
  struct collector c = {0};
  size_t i;
  int fin;

  (void)state;
  buf_init(&out, 4096);
  for(i = 0; i < SB_ARRAY_LEN(cases); i++) {
    assert_int_equal(sse_write_event(&out, cases[i].event, cases[i].data,
                                     strlen(cases[i].data)),
                     0);
    assert_int_equal(sse_write_comment(&out, "keep-alive"), 0);
  }
  assert_int_equal(parse_all(out.data, out.len, 4096, &c, &fin), 0);
  assert_int_equal(fin, 0);
  assert_int_equal(c.n, (int)SB_ARRAY_LEN(cases));
  for(i = 0; i < SB_ARRAY_LEN(cases); i++) {
    if(cases[i].event)
      assert_string_equal(c.ev[i].event, cases[i].event);
    else
      assert_null(c.ev[i].event);
    assert_string_equal(c.ev[i].data, cases[i].parsed);
  }
  collector_clear(&c);
  buf_free(&out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lf),
      cmocka_unit_test(test_crlf),
      cmocka_unit_test(test_cr_only),
      cmocka_unit_test(test_cr_split_across_feeds),
      cmocka_unit_test(test_multiline_data),
      cmocka_unit_test(test_space_handling),
      cmocka_unit_test(test_comments),
      cmocka_unit_test(test_event_names),
      cmocka_unit_test(test_id),
      cmocka_unit_test(test_id_with_nul_ignored),
      cmocka_unit_test(test_no_data_dropped),
      cmocka_unit_test(test_unknown_fields_ignored),
      cmocka_unit_test(test_last_id),
      cmocka_unit_test(test_last_id_across_feeds),
      cmocka_unit_test(test_retry),
      cmocka_unit_test(test_done_payload),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_partial_bom_is_data),
      cmocka_unit_test(test_limit),
      cmocka_unit_test(test_callback_stops),
      cmocka_unit_test(test_finish),
      cmocka_unit_test(test_real_stream_whole),
      cmocka_unit_test(test_real_stream_every_split),
      cmocka_unit_test(test_real_stream_every_double_split),
      cmocka_unit_test(test_real_stream_byte_at_a_time),
      cmocka_unit_test(test_writer_format),
      cmocka_unit_test(test_writer_errors_leave_out_unchanged),
      cmocka_unit_test(test_writer_round_trip),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
