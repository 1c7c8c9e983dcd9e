/* Unit tests for gateway/metrics.c: values by label set, cumulative
 * histograms, escaping, the gauge, the label-set cap, thread safety, and
 * a line-by-line check of the exposition format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/metrics.h"
#include "base/sb.h"

/* The value of the sample whose name-with-labels is exactly series, or
 * NAN when there is no such line. */
static double sample(const char *text, const char *series)
{
  size_t n = strlen(series);
  const char *line = text;

  while(*line) {
    const char *eol = strchr(line, '\n');
    if(!eol)
      eol = line + strlen(line);
    if((size_t)(eol - line) > n && !strncmp(line, series, n) && line[n] == ' ')
      return strtod(line + n + 1, NULL);
    line = *eol ? eol + 1 : eol;
  }
  return NAN;
}

static int count_lines_with(const char *text, const char *prefix)
{
  size_t n = strlen(prefix);
  const char *line = text;
  int count = 0;

  while(*line) {
    const char *eol = strchr(line, '\n');
    if(!strncmp(line, prefix, n))
      count++;
    if(!eol)
      break;
    line = eol + 1;
  }
  return count;
}

static int is_name_start(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':';
}

static int is_name_char(char c)
{
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Check one sample line: name{k="v",...} value. Returns 0 if well formed. */
static int check_sample_line(const char *s, size_t len)
{
  const char *end = s + len;
  char *num_end;
  char num[64];

  if(s == end || !is_name_start(*s))
    return -1;
  while(s < end && is_name_char(*s))
    s++;
  if(s < end && *s == '{') {
    s++;
    while(s < end && *s != '}') {
      if(!is_name_start(*s))
        return -2;
      while(s < end && is_name_char(*s))
        s++;
      if(s + 1 >= end || s[0] != '=' || s[1] != '"')
        return -3;
      s += 2;
      while(s < end && *s != '"') {
        if(*s == '\n')
          return -4;
        if(*s == '\\') {
          if(s + 1 >= end || !strchr("\\\"n", s[1]))
            return -5;
          s++;
        }
        s++;
      }
      if(s >= end)
        return -6;
      s++; /* closing quote */
      if(s < end && *s == ',')
        s++;
    }
    if(s >= end)
      return -7;
    s++; /* } */
  }
  if(s >= end || *s != ' ')
    return -8;
  s++;
  if((size_t)(end - s) >= sizeof(num) || s == end)
    return -9;
  memcpy(num, s, (size_t)(end - s));
  num[end - s] = '\0';
  if(!strcmp(num, "+Inf") || !strcmp(num, "-Inf") || !strcmp(num, "NaN"))
    return 0;
  strtod(num, &num_end);
  return *num_end ? -10 : 0;
}

/* Every line is a # HELP / # TYPE comment or a well-formed sample; every
 * sample's metric has a TYPE line before it. Returns the sample count. */
static int check_format(const char *text)
{
  const char *line = text;
  int samples = 0;

  assert_true(strlen(text) > 0);
  assert_int_equal(text[strlen(text) - 1], '\n');
  while(*line) {
    const char *eol = strchr(line, '\n');
    size_t len = (size_t)(eol - line);

    assert_non_null(eol);
    if(line[0] == '#') {
      if(strncmp(line, "# HELP ", 7) && strncmp(line, "# TYPE ", 7))
        fail_msg("bad comment line: %.*s", (int)len, line);
    } else {
      int rc = check_sample_line(line, len);
      if(rc)
        fail_msg("bad sample line (%d): %.*s", rc, (int)len, line);
      samples++;
    }
    line = eol + 1;
  }
  return samples;
}

static void test_empty_render(void **state)
{
  struct metrics *m = metrics_new();
  char *t;

  (void)state;
  t = metrics_render(m, 0);
  check_format(t);
  assert_non_null(strstr(t, "# TYPE switchboard_requests_total counter\n"));
  assert_non_null(
      strstr(t, "# TYPE switchboard_request_duration_seconds histogram\n"));
  assert_non_null(strstr(t, "# TYPE switchboard_ttfb_seconds histogram\n"));
  assert_non_null(
      strstr(t, "# TYPE switchboard_upstream_errors_total counter\n"));
  assert_non_null(strstr(t, "# TYPE switchboard_streams_in_flight gauge\n"));
  assert_non_null(
      strstr(t, "# TYPE switchboard_store_dropped_total counter\n"));
  assert_non_null(strstr(t, "# HELP switchboard_requests_total "));
  assert_true(sample(t, "switchboard_streams_in_flight") == 0);
  assert_true(sample(t, "switchboard_store_dropped_total") == 0);
  free(t);
  metrics_free(m);
}

static void test_counters_by_labels(void **state)
{
  struct metrics *m = metrics_new();
  char *t;

  (void)state;
  metrics_request(m, "chat", "echo", 200, 0.1, 0.05);
  metrics_request(m, "chat", "echo", 200, 0.2, 0.05);
  metrics_request(m, "chat", "echo", 400, 0.01, 0.01);
  metrics_request(m, "chat", "local", 200, 1.0, 0.5);
  metrics_request(m, "models", NULL, 200, 0.001, -1);
  metrics_upstream_error(m, "local", "timeout");
  metrics_upstream_error(m, "local", "timeout");
  metrics_upstream_error(m, "local", "connect");
  t = metrics_render(m, 17);
  check_format(t);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"echo\",status=\"200\"}") == 2);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"echo\",status=\"400\"}") == 1);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"local\",status=\"200\"}") == 1);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"models\","
                        "provider=\"\",status=\"200\"}") == 1);
  assert_true(sample(t, "switchboard_upstream_errors_total{provider="
                        "\"local\",reason=\"timeout\"}") == 2);
  assert_true(sample(t, "switchboard_upstream_errors_total{provider="
                        "\"local\",reason=\"connect\"}") == 1);
  assert_true(sample(t, "switchboard_store_dropped_total") == 17);
  /* durations per endpoint; no ttfb for the models request */
  assert_true(sample(t, "switchboard_request_duration_seconds_count{endpoint="
                        "\"chat\"}") == 4);
  assert_true(sample(t, "switchboard_request_duration_seconds_count{endpoint="
                        "\"models\"}") == 1);
  assert_true(sample(t, "switchboard_ttfb_seconds_count{endpoint=\"chat\"}") ==
              4);
  assert_true(
      isnan(sample(t, "switchboard_ttfb_seconds_count{endpoint=\"models\"}")));
  free(t);
  metrics_free(m);
}

static void test_histogram(void **state)
{
  static const double obs[] = {0.001, 0.007, 0.3, 1.0, 200, 0.005, 119};
  static const char *const les[] = {
      "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
      "2.5",   "5",    "10",    "20",   "30",  "60",   "120", "+Inf"};
  /* cumulative counts expected for each le above (bounds are inclusive) */
  static const double want[] = {2, 3, 3, 3, 3, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 7};
  struct metrics *m = metrics_new();
  char name[160];
  double prev = 0, sum = 0;
  char *t;
  size_t i;

  (void)state;
  for(i = 0; i < SB_ARRAY_LEN(obs); i++) {
    metrics_request(m, "chat", "echo", 200, obs[i], obs[i] / 2);
    sum += obs[i];
  }
  metrics_request(m, "chat", "echo", 200, NAN, -1); /* not observed */
  t = metrics_render(m, 0);
  check_format(t);
  assert_int_equal(
      count_lines_with(t, "switchboard_request_duration_seconds_bucket{"), 16);
  for(i = 0; i < SB_ARRAY_LEN(les); i++) {
    double v;
    snprintf(name, sizeof(name),
             "switchboard_request_duration_seconds_bucket{endpoint=\"chat\","
             "le=\"%s\"}",
             les[i]);
    v = sample(t, name);
    if(v != want[i])
      fail_msg("%s: want %g, got %g", name, want[i], v);
    assert_true(v >= prev);
    prev = v;
  }
  /* +Inf bucket == _count */
  assert_true(sample(t, "switchboard_request_duration_seconds_count{endpoint="
                        "\"chat\"}") == prev);
  assert_true(fabs(sample(t, "switchboard_request_duration_seconds_sum{"
                             "endpoint=\"chat\"}") -
                   sum) < 1e-9);
  assert_true(sample(t, "switchboard_ttfb_seconds_bucket{endpoint=\"chat\","
                        "le=\"+Inf\"}") == 7);
  assert_true(sample(t, "switchboard_ttfb_seconds_bucket{endpoint=\"chat\","
                        "le=\"0.005\"}") == 3);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\",provider="
                        "\"echo\",status=\"200\"}") == 8);
  free(t);
  metrics_free(m);
}

static void test_label_escaping(void **state)
{
  struct metrics *m = metrics_new();
  char *t;

  (void)state;
  metrics_request(m, "chat", "a\"b\\c\nd", 502, 0.1, -1);
  metrics_upstream_error(m, "bad\xff\xfeutf8", "r\xc3\xa9sum\xc3\xa9");
  t = metrics_render(m, 0);
  check_format(t);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"a\\\"b\\\\c\\nd\",status=\"502\"}") == 1);
  assert_true(sample(t, "switchboard_upstream_errors_total{provider=\"bad"
                        "\xEF\xBF\xBD\xEF\xBF\xBDutf8\",reason=\"r\xc3\xa9sum"
                        "\xc3\xa9\"}") == 1);
  free(t);
  metrics_free(m);
}

static void test_gauge(void **state)
{
  struct metrics *m = metrics_new();
  char *t;

  (void)state;
  metrics_stream_begin(m);
  metrics_stream_begin(m);
  metrics_stream_begin(m);
  metrics_stream_end(m);
  t = metrics_render(m, 0);
  assert_true(sample(t, "switchboard_streams_in_flight") == 2);
  free(t);
  metrics_stream_end(m);
  metrics_stream_end(m);
  t = metrics_render(m, 0);
  assert_true(sample(t, "switchboard_streams_in_flight") == 0);
  free(t);
  metrics_free(m);
}

static void test_label_cap(void **state)
{
  struct metrics *m = metrics_new();
  int extra = 1000;
  int total = METRICS_MAX_SERIES + extra;
  char prov[32];
  char big[400];
  char *t;
  int i, lines;

  (void)state;
  for(i = 0; i < total; i++) {
    snprintf(prov, sizeof(prov), "p%d", i);
    metrics_request(m, "chat", prov, 200, 0.1, -1);
    metrics_upstream_error(m, prov, "timeout");
  }
  t = metrics_render(m, 0);
  check_format(t);
  lines = count_lines_with(t, "switchboard_requests_total{");
  assert_int_equal(lines, METRICS_MAX_SERIES + 1);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"other\",status=\"200\"}") == extra);
  assert_true(sample(t, "switchboard_upstream_errors_total{provider="
                        "\"other\",reason=\"timeout\"}") == extra);
  /* known label sets keep counting */
  metrics_request(m, "chat", "p0", 200, 0.1, -1);
  free(t);
  t = metrics_render(m, 0);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"p0\",status=\"200\"}") == 2);
  free(t);

  /* folded sets are bounded too: odd endpoints end in all-"other" */
  for(i = 0; i < 2000; i++) {
    snprintf(prov, sizeof(prov), "e%d", i);
    metrics_request(m, prov, prov, i, 0.1, -1);
  }
  /* long label values are cut */
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  metrics_upstream_error(m, "p1", big);
  t = metrics_render(m, 0);
  check_format(t);
  lines = count_lines_with(t, "switchboard_requests_total{");
  assert_true(lines <= METRICS_MAX_SERIES + 256 + 1);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"other\","
                        "provider=\"other\",status=\"other\"}") > 0);
  assert_null(strstr(t, big));
  big[128] = '\0';
  assert_non_null(strstr(t, big));
  free(t);
  metrics_free(m);
}

#define NTHREADS   4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
  struct metrics *m = arg;
  int i;

  for(i = 0; i < PER_THREAD; i++) {
    metrics_stream_begin(m);
    metrics_request(m, "chat", i % 2 ? "a" : "b", 200, 0.01 * (i % 100), 0.001);
    metrics_upstream_error(m, "a", "timeout");
    metrics_stream_end(m);
    if(i % 5000 == 0)
      free(metrics_render(m, 0));
  }
  return NULL;
}

static void test_threads(void **state)
{
  struct metrics *m = metrics_new();
  pthread_t th[NTHREADS];
  char *t;
  int i;

  (void)state;
  for(i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
  for(i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  t = metrics_render(m, 0);
  check_format(t);
  assert_true(sample(t, "switchboard_requests_total{endpoint=\"chat\","
                        "provider=\"a\",status=\"200\"}") ==
              NTHREADS * PER_THREAD / 2);
  assert_true(sample(t, "switchboard_request_duration_seconds_count{"
                        "endpoint=\"chat\"}") == NTHREADS * PER_THREAD);
  assert_true(sample(t, "switchboard_upstream_errors_total{provider=\"a\","
                        "reason=\"timeout\"}") == NTHREADS * PER_THREAD);
  assert_true(sample(t, "switchboard_streams_in_flight") == 0);
  free(t);
  metrics_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_render),
      cmocka_unit_test(test_counters_by_labels),
      cmocka_unit_test(test_histogram),
      cmocka_unit_test(test_label_escaping),
      cmocka_unit_test(test_gauge),
      cmocka_unit_test(test_label_cap),
      cmocka_unit_test(test_threads),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
