/* Unit tests for base/log.c: stderr is redirected to a temporary file,
 * and every line written must be exactly the expected JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sb.h"

static int saved_stderr = -1;
static int capture_fd = -1;

static void capture_begin(void)
{
  char path[] = "/tmp/sb_test_log_XXXXXX";

  capture_fd = mkstemp(path);
  assert_true(capture_fd >= 0);
  unlink(path);
  saved_stderr = dup(STDERR_FILENO);
  assert_true(saved_stderr >= 0);
  assert_true(dup2(capture_fd, STDERR_FILENO) >= 0);
}

/* Everything written since capture_begin(); the caller frees it. */
static char *capture_end(void)
{
  off_t size;
  char *s;

  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  size = lseek(capture_fd, 0, SEEK_END);
  assert_true(size >= 0);
  s = sb_malloc((size_t)size + 1);
  assert_int_equal(pread(capture_fd, s, (size_t)size, 0), size);
  s[size] = '\0';
  close(capture_fd);
  return s;
}

static int count_lines(const char *s)
{
  int n = 0;

  for(; *s; s++)
    if(*s == '\n')
      n++;
  return n;
}

/* Parse the one line in s (which must end with exactly one newline). */
static cJSON *parse_line(const char *s)
{
  size_t n = strlen(s);
  cJSON *j;

  assert_true(n > 0);
  assert_int_equal(s[n - 1], '\n');
  assert_null(memchr(s, '\n', n - 1));
  j = cJSON_ParseWithLength(s, n - 1);
  if(!j)
    fail_msg("not JSON: %s", s);
  assert_true(cJSON_IsObject(j));
  return j;
}

static const char *str_field(const cJSON *j, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

  assert_true(cJSON_IsString(v));
  return v->valuestring;
}

static void check_ts(const char *ts)
{
  /* 2026-11-22T04:20:00.123Z */
  static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  size_t i;

  assert_int_equal(strlen(ts), strlen(pattern));
  for(i = 0; pattern[i]; i++) {
    if(pattern[i] == 'd')
      assert_true(ts[i] >= '0' && ts[i] <= '9');
    else
      assert_int_equal(ts[i], pattern[i]);
  }
}

static void setup_level(void)
{
  log_set_level(LOG_DEBUG);
}

static void test_exact_line(void **state)
{
  char *out;
  const char *rest;
  cJSON *j;

  (void)state;
  setup_level();
  capture_begin();
  log_event(LOG_INFO, "request", LOG_S("request_id", "req_1"),
            LOG_I("status", 200), LOG_F("ms", 1.5), LOG_B("stream", 5),
            LOG_S("error_type", NULL), LOG_I("neg", -7), LOG_END);
  out = capture_end();
  j = parse_line(out);
  check_ts(str_field(j, "ts"));
  /* the exact bytes after the timestamp */
  assert_int_equal(strncmp(out, "{\"ts\":\"", 7), 0);
  rest = out + 7 + 24;
  assert_string_equal(rest, "\",\"level\":\"info\",\"msg\":\"request\","
                            "\"request_id\":\"req_1\",\"status\":200,"
                            "\"ms\":1.5,\"stream\":true,\"error_type\":null,"
                            "\"neg\":-7}\n");
  cJSON_Delete(j);
  free(out);
}

static void test_no_fields_and_levels(void **state)
{
  static const enum log_level lv[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
  static const char *const names[] = {"debug", "info", "warn", "error"};
  char *out;
  size_t i;

  (void)state;
  setup_level();
  for(i = 0; i < SB_ARRAY_LEN(lv); i++) {
    cJSON *j;

    capture_begin();
    log_event(lv[i], "m", LOG_END);
    out = capture_end();
    j = parse_line(out);
    assert_string_equal(str_field(j, "level"), names[i]);
    assert_non_null(strstr(out, "\",\"msg\":\"m\"}\n"));
    cJSON_Delete(j);
    free(out);
  }
}

static void test_escaping(void **state)
{
  static const char nul_str[] = "a\0b";
  char *out;
  cJSON *j;

  (void)state;
  setup_level();
  capture_begin();
  log_event(LOG_WARN, "say \"hi\"\n\\ok",
            LOG_S("ctl", "tab\there\r\x01\x1f\x7f\b\f"),
            LOG_S("utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            LOG_S("bad", "x\xff\xc3y\xed\xa0\x80z"), LOG_SN("nul", nul_str, 3),
            LOG_S("key\"q", "v"), LOG_END);
  out = capture_end();
  j = parse_line(out);
  assert_string_equal(str_field(j, "msg"), "say \"hi\"\n\\ok");
  assert_string_equal(str_field(j, "ctl"), "tab\there\r\x01\x1f\x7f\b\f");
  assert_string_equal(str_field(j, "utf8"),
                      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  /* invalid bytes (stray, truncated, surrogate) become U+FFFD each */
  assert_string_equal(str_field(j, "bad"),
                      "x\xEF\xBF\xBD\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD"
                      "\xEF\xBF\xBDz");
  assert_string_equal(str_field(j, "key\"q"), "v");
  /* exact escapes on the wire */
  assert_non_null(strstr(out, "\"msg\":\"say \\\"hi\\\"\\n\\\\ok\""));
  assert_non_null(
      strstr(out, "\"ctl\":\"tab\\there\\r\\u0001\\u001f\x7f\\b\\f\""));
  assert_non_null(strstr(out, "\"nul\":\"a\\u0000b\""));
  cJSON_Delete(j);
  free(out);
}

static void test_numbers(void **state)
{
  char *out;
  cJSON *j;

  (void)state;
  setup_level();
  capture_begin();
  log_event(LOG_INFO, "n", LOG_I("max", INT64_MAX), LOG_I("min", INT64_MIN),
            LOG_I("zero", 0), LOG_I("neg", -42), LOG_F("nan", NAN),
            LOG_F("inf", INFINITY), LOG_F("tenth", 0.1), LOG_F("big", 1e300),
            LOG_B("f", 0), LOG_END);
  out = capture_end();
  j = parse_line(out);
  assert_non_null(strstr(out, "\"max\":9223372036854775807,"
                              "\"min\":-9223372036854775808,"
                              "\"zero\":0,\"neg\":-42,"
                              "\"nan\":null,\"inf\":null,\"tenth\":0.1,"
                              "\"big\":1e+300,\"f\":false}\n"));
  cJSON_Delete(j);
  free(out);
}

static void test_level_filtering(void **state)
{
  enum log_level l = LOG_ERROR;
  char *out;

  (void)state;
  log_set_level(LOG_WARN);
  assert_false(log_enabled(LOG_DEBUG));
  assert_false(log_enabled(LOG_INFO));
  assert_true(log_enabled(LOG_WARN));
  assert_true(log_enabled(LOG_ERROR));
  capture_begin();
  log_event(LOG_DEBUG, "no", LOG_END);
  log_event(LOG_INFO, "no", LOG_S("k", "v"), LOG_END);
  log_event(LOG_WARN, "yes1", LOG_END);
  log_event(LOG_ERROR, "yes2", LOG_END);
  out = capture_end();
  assert_int_equal(count_lines(out), 2);
  assert_null(strstr(out, "\"no\""));
  assert_non_null(strstr(out, "\"msg\":\"yes1\""));
  assert_non_null(strstr(out, "\"msg\":\"yes2\""));
  free(out);

  log_set_level(LOG_INFO);
  assert_false(log_enabled(LOG_DEBUG));
  assert_true(log_enabled(LOG_INFO));

  assert_int_equal(log_level_parse("debug", &l), 0);
  assert_int_equal(l, LOG_DEBUG);
  assert_int_equal(log_level_parse("INFO", &l), 0);
  assert_int_equal(l, LOG_INFO);
  assert_int_equal(log_level_parse("Warn", &l), 0);
  assert_int_equal(l, LOG_WARN);
  assert_int_equal(log_level_parse("WARNING", &l), 0);
  assert_int_equal(l, LOG_WARN);
  assert_int_equal(log_level_parse("error", &l), 0);
  assert_int_equal(l, LOG_ERROR);
  assert_int_equal(log_level_parse("verbose", &l), SB_EINVAL);
  assert_int_equal(log_level_parse("", &l), SB_EINVAL);
  assert_int_equal(log_level_parse(NULL, &l), SB_EINVAL);
  assert_int_equal(l, LOG_ERROR);
  assert_string_equal(log_level_name(LOG_WARN), "warn");
}

/* Log a value of n copies of unit as field "v" and check the line. */
static void check_long(const char *unit, size_t n, int msg_too)
{
  size_t ulen = strlen(unit);
  char *val = sb_malloc(ulen * n + 1);
  const cJSON *v, *tr;
  char *out;
  cJSON *j;
  size_t i;

  for(i = 0; i < n; i++)
    memcpy(val + i * ulen, unit, ulen);
  val[ulen * n] = '\0';
  capture_begin();
  log_event(LOG_INFO, msg_too ? val : "long", LOG_I("before", 1),
            LOG_S("v", val), LOG_I("after", 2), LOG_END);
  out = capture_end();
  assert_true(strlen(out) <= LOG_LINE_MAX);
  j = parse_line(out);
  tr = cJSON_GetObjectItemCaseSensitive(j, "truncated");
  v = cJSON_GetObjectItemCaseSensitive(j, "v");
  if(tr) {
    assert_true(cJSON_IsTrue(tr));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "after"));
    if(v) {
      /* a cut value is a prefix made of whole units */
      assert_true(cJSON_IsString(v));
      assert_int_equal(strlen(v->valuestring) % ulen, 0);
      assert_int_equal(strncmp(v->valuestring, val, strlen(v->valuestring)), 0);
    }
  } else {
    assert_string_equal(v->valuestring, val);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "after")));
  }
  cJSON_Delete(j);
  free(out);
  free(val);
}

static void test_truncation(void **state)
{
  /* units whose encoded size differs: plain, 2-byte escape, 6-byte
   * escape, multi-byte UTF-8 */
  static const char *const units[] = {"a", "\"", "\x01", "\xc3\xa9",
                                      "\xf0\x9f\x98\x80"};
  size_t u, n;
  char *out;
  cJSON *j;

  (void)state;
  setup_level();
  for(u = 0; u < SB_ARRAY_LEN(units); u++) {
    size_t enc = u == 2 ? 6 : u == 1 ? 2 : strlen(units[u]);
    size_t ulen = strlen(units[u]);
    /* every length around the point where the line fills up */
    size_t lo = (LOG_LINE_MAX - 160) / enc;
    size_t hi = (LOG_LINE_MAX + 40) / enc;
    for(n = lo; n <= hi; n++)
      check_long(units[u], n, 0);
    check_long(units[u], 30000 / ulen, 0);
    check_long(units[u], 30000 / ulen, 1);
  }

  /* many small fields */
  capture_begin();
  for(n = 0; n < 2; n++) {
    log_event(LOG_INFO, "many", LOG_I("f0", 0), LOG_I("f1", 1),
              LOG_S("pad", NULL), LOG_END);
  }
  out = capture_end();
  assert_int_equal(count_lines(out), 2);
  free(out);

  {
    char big[LOG_LINE_MAX];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* a key too long for the line is left out entirely */
    capture_begin();
    log_event(LOG_INFO, "k", LOG_S(big, "v"), LOG_END);
    out = capture_end();
    j = parse_line(out);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
    assert_int_equal(cJSON_GetArraySize(j), 4); /* ts level msg truncated */
    cJSON_Delete(j);
    free(out);
  }
}

#define NTHREADS   4
#define PER_THREAD 500

static void *writer(void *arg)
{
  char pad[300];
  int i;

  memset(pad, 'a' + (int)(intptr_t)arg, sizeof(pad) - 1);
  pad[sizeof(pad) - 1] = '\0';
  for(i = 0; i < PER_THREAD; i++)
    log_event(LOG_INFO, "t", LOG_I("thread", (intptr_t)arg), LOG_I("i", i),
              LOG_S("pad", pad), LOG_END);
  return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
  pthread_t th[NTHREADS];
  char *out, *line, *save = NULL;
  int i, n = 0;

  (void)state;
  setup_level();
  capture_begin();
  for(i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i),
                     0);
  for(i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  out = capture_end();
  assert_int_equal(count_lines(out), NTHREADS * PER_THREAD);
  for(line = strtok_r(out, "\n", &save); line;
      line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    if(!j)
      fail_msg("interleaved or broken line: %s", line);
    assert_int_equal(strlen(str_field(j, "pad")), 299);
    cJSON_Delete(j);
    n++;
  }
  assert_int_equal(n, NTHREADS * PER_THREAD);
  free(out);
}

/* Through the writer thread: every line arrives whole, each thread's in
 * its order, more than the 1 MB buffer holds (a producer then waits), and
 * log_async_stop() writes the rest before it returns. */
#define ASYNC_PER_THREAD 2000

static void *async_writer(void *arg)
{
  char pad[300];
  int i;

  memset(pad, 'a' + (int)(intptr_t)arg, sizeof(pad) - 1);
  pad[sizeof(pad) - 1] = '\0';
  for(i = 0; i < ASYNC_PER_THREAD; i++)
    log_event(LOG_INFO, "t", LOG_I("thread", (intptr_t)arg), LOG_I("i", i),
              LOG_S("pad", pad), LOG_END);
  return NULL;
}

static void test_async_keeps_every_line(void **state)
{
  pthread_t th[NTHREADS];
  int next[NTHREADS] = {0};
  char *out, *line, *save = NULL;
  int i, n = 0;

  (void)state;
  setup_level();
  capture_begin();
  assert_int_equal(log_async_start(), 0);
  assert_int_equal(log_async_start(), 0); /* twice: no second thread */
  for(i = 0; i < NTHREADS; i++)
    assert_int_equal(
        pthread_create(&th[i], NULL, async_writer, (void *)(intptr_t)i), 0);
  for(i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  log_event(LOG_ERROR, "last", LOG_END);
  log_async_stop();
  log_async_stop(); /* a no-op once stopped */
  log_event(LOG_INFO, "direct", LOG_END);
  out = capture_end();
  assert_int_equal(count_lines(out), NTHREADS * ASYNC_PER_THREAD + 2);
  for(line = strtok_r(out, "\n", &save); line;
      line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *t;
    if(!j)
      fail_msg("interleaved or broken line: %s", line);
    t = cJSON_GetObjectItemCaseSensitive(j, "thread");
    if(cJSON_IsNumber(t)) {
      int k = (int)t->valuedouble;
      assert_int_equal(
          (int)cJSON_GetObjectItemCaseSensitive(j, "i")->valuedouble,
          next[k]++);
    } else {
      assert_string_equal(str_field(j, "msg"),
                          n == NTHREADS * ASYNC_PER_THREAD ? "last" : "direct");
    }
    cJSON_Delete(j);
    n++;
  }
  assert_int_equal(n, NTHREADS * ASYNC_PER_THREAD + 2);
  free(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_line),
      cmocka_unit_test(test_no_fields_and_levels),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_level_filtering),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_threads_do_not_interleave),
      cmocka_unit_test(test_async_keeps_every_line),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
