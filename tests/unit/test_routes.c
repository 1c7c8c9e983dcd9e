/* router/routes.c: route definitions, and the order each strategy tries
 * targets in, with the cool-down. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/routes.h"

#include <string.h>

static struct route parse_ok(const char *json)
{
  cJSON *o = cJSON_Parse(json);
  struct route r;
  char err[256];

  assert_non_null(o);
  if(route_parse(o, "r", &r, err, sizeof(err)))
    fail_msg("route_parse: %s", err);
  cJSON_Delete(o);
  return r;
}

static void parse_err(const char *json, const char *want)
{
  cJSON *o = cJSON_Parse(json);
  struct route r;
  char err[256] = "";

  assert_int_equal(route_parse(o, "r", &r, err, sizeof(err)), -2);
  assert_non_null(strstr(err, want));
  cJSON_Delete(o);
}

static void test_parse(void **state)
{
  struct route r = parse_ok("{\"strategy\":\"weighted\",\"retries\":2,"
                            "\"targets\":[\"a/m1\",{\"provider\":\"b\","
                            "\"model\":\"x/y\",\"weight\":3}]}");
  cJSON *j;

  assert_int_equal(r.strategy, ROUTE_WEIGHTED);
  assert_int_equal(r.retries, 2);
  assert_int_equal(r.ntargets, 2);
  assert_string_equal(r.targets[0].provider, "a");
  assert_string_equal(r.targets[0].model, "m1");
  assert_int_equal(r.targets[0].weight, 1);
  assert_string_equal(r.targets[1].model, "x/y");
  assert_int_equal(r.targets[1].weight, 3);
  j = route_json(&r);
  assert_string_equal(cJSON_GetObjectItem(j, "strategy")->valuestring,
                      "weighted");
  cJSON_Delete(j);
  route_clear(&r);

  /* A route that summarises what a conversation turn leaves out. */
  r = parse_ok("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":"
               "\"summarize\",\"summary_model\":\"a/small\"}}");
  assert_string_equal(r.summary_model, "a/small");
  j = route_json(&r);
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "context"), "summary_model")
          ->valuestring,
      "a/small");
  cJSON_Delete(j);
  route_clear(&r);
  r = parse_ok("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":"
               "\"trim\"}}");
  assert_null(r.summary_model);
  route_clear(&r);
  parse_err("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":"
            "\"summarize\"}}",
            "context.summary_model");
  parse_err("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":\"x\"}}",
            "context.strategy");
  parse_err("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":\"trim\","
            "\"summary_model\":\"a/b\"}}",
            "context.summary_model");
  parse_err("{\"targets\":[\"a/b\"],\"context\":{\"strategy\":\"trim\","
            "\"n\":1}}",
            "context.n");
  parse_err("{\"targets\":[]}", "targets");
  parse_err("{\"targets\":[\"nomodel\"]}", "targets[0]");
  parse_err("{\"strategy\":\"random\",\"targets\":[\"a/b\"]}", "strategy");
  parse_err("{\"retries\":9,\"targets\":[\"a/b\"]}", "retries");
  parse_err("{\"targets\":[\"a/b\"],\"extra\":1}", "extra");
  parse_err("{\"targets\":[{\"provider\":\"a\",\"model\":\"b\","
            "\"weight\":0}]}",
            "weight");
}

static void test_fallback_and_cooldown(void **state)
{
  struct route r = parse_ok("{\"targets\":[\"a/1\",\"b/2\",\"c/3\"]}");
  struct route_stats *s = route_stats_new();
  int order[ROUTE_MAX_TARGETS];

  assert_int_equal(route_plan(&r, s, 1000, NULL, NULL, 0.5, order), 3);
  assert_int_equal(order[0], 0);
  assert_int_equal(order[1], 1);
  assert_int_equal(order[2], 2);
  /* Two failures do not cool; the third does, for ROUTE_COOLDOWN_MS. */
  route_stats_report(s, &r.targets[0], 0, 0, 1000);
  route_stats_report(s, &r.targets[0], 0, 0, 1000);
  route_plan(&r, s, 1000, NULL, NULL, 0.5, order);
  assert_int_equal(order[0], 0);
  route_stats_report(s, &r.targets[0], 0, 0, 1000);
  route_plan(&r, s, 1001, NULL, NULL, 0.5, order);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[2], 0); /* still a last resort */
  /* After the cool-down: a half-open probe goes first again; its failure
   * cools the target at once, its success heals it. */
  route_plan(&r, s, 1000 + ROUTE_COOLDOWN_MS + 1, NULL, NULL, 0.5, order);
  assert_int_equal(order[0], 0);
  route_stats_report(s, &r.targets[0], 0, 0, 1000 + ROUTE_COOLDOWN_MS + 1);
  route_plan(&r, s, 1000 + ROUTE_COOLDOWN_MS + 2, NULL, NULL, 0.5, order);
  assert_int_equal(order[0], 1);
  route_stats_report(s, &r.targets[0], 1, 10, 1000 + 2 * ROUTE_COOLDOWN_MS);
  route_plan(&r, s, 1000 + 2 * ROUTE_COOLDOWN_MS + 5, NULL, NULL, 0.5, order);
  assert_int_equal(order[0], 0);
  route_stats_free(s);
  route_clear(&r);
}

/* The health the admin API shows: one provider's targets only (not a
 * provider whose name it prefixes), unmeasured, measured, cooling. */
static void test_health(void **state)
{
  struct route r = parse_ok("{\"targets\":[\"a/1\",\"a/2\",\"ab/3\",\"b/4\"]}");
  struct route_stats *s = route_stats_new();
  struct route_health *h;
  int order[ROUTE_MAX_TARGETS], n;

  (void)state;
  assert_int_equal(route_stats_health(s, "a", 1000, &h), 0);
  assert_null(h);
  route_plan(&r, s, 1000, NULL, NULL, 0.5, order);
  route_stats_report(s, &r.targets[0], 1, 40, 1000);
  route_stats_report(s, &r.targets[0], 1, 90, 1000);
  for(int i = 0; i < ROUTE_COOLDOWN_FAILS; i++)
    route_stats_report(s, &r.targets[1], 0, 0, 1000);
  n = route_stats_health(s, "a", 1500, &h);
  assert_int_equal(n, 2);
  for(int i = 0; i < n; i++) {
    if(!strcmp(h[i].model, "1")) {
      assert_true(h[i].ewma_ttfb_ms > 49.9 && h[i].ewma_ttfb_ms < 50.1);
      assert_int_equal(h[i].fails, 0);
      assert_int_equal(h[i].cool_ms, 0);
    } else {
      assert_string_equal(h[i].model, "2");
      assert_true(h[i].ewma_ttfb_ms < 0);
      assert_int_equal(h[i].fails, ROUTE_COOLDOWN_FAILS);
      assert_int_equal(h[i].cool_ms, ROUTE_COOLDOWN_MS - 500);
    }
  }
  route_health_free(h, n);
  n = route_stats_health(s, "ab", 1500, &h);
  assert_int_equal(n, 1);
  assert_string_equal(h[0].model, "3");
  assert_true(h[0].ewma_ttfb_ms < 0);
  route_health_free(h, n);
  assert_int_equal(route_stats_health(s, "c", 1500, &h), 0);
  route_stats_free(s);
  route_clear(&r);
}

static void test_least_latency(void **state)
{
  struct route r = parse_ok("{\"strategy\":\"least-latency\","
                            "\"targets\":[\"a/1\",\"b/2\",\"c/3\"]}");
  struct route_stats *s = route_stats_new();
  int order[ROUTE_MAX_TARGETS];

  route_stats_report(s, &r.targets[0], 1, 300, 0);
  route_stats_report(s, &r.targets[1], 1, 50, 0);
  /* c is unmeasured: first, to be measured. */
  route_plan(&r, s, 0, NULL, NULL, 0, order);
  assert_int_equal(order[0], 2);
  assert_int_equal(order[1], 1);
  assert_int_equal(order[2], 0);
  route_stats_report(s, &r.targets[2], 1, 100, 0);
  /* b slows down: the moving average follows within a few samples. */
  for(int i = 0; i < 10; i++)
    route_stats_report(s, &r.targets[1], 1, 500, 0);
  route_plan(&r, s, 0, NULL, NULL, 0, order);
  assert_int_equal(order[0], 2);
  assert_int_equal(order[1], 0);
  route_stats_free(s);
  route_clear(&r);
}

static double fake_cost(void *ud, const struct route_target *t)
{
  return !strcmp(t->provider, "a") ? 10 : !strcmp(t->provider, "b") ? 1 : -1;
}

static void test_lowest_cost_and_weighted(void **state)
{
  struct route r = parse_ok("{\"strategy\":\"lowest-cost\","
                            "\"targets\":[\"u/0\",\"a/1\",\"b/2\"]}");
  struct route w =
      parse_ok("{\"strategy\":\"weighted\",\"targets\":[{\"provider\":\"a\","
               "\"model\":\"1\",\"weight\":1},{\"provider\":\"b\","
               "\"model\":\"2\",\"weight\":3}]}");
  struct route_stats *s = route_stats_new();
  int order[ROUTE_MAX_TARGETS];

  route_plan(&r, s, 0, fake_cost, NULL, 0, order);
  assert_int_equal(order[0], 2); /* b: cheapest */
  assert_int_equal(order[1], 1);
  assert_int_equal(order[2], 0); /* unpriced last */
  /* rnd in [0, 0.25) picks a (weight 1 of 4), [0.25, 1) picks b. */
  route_plan(&w, s, 0, NULL, NULL, 0.1, order);
  assert_int_equal(order[0], 0);
  route_plan(&w, s, 0, NULL, NULL, 0.3, order);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 0);
  route_stats_free(s);
  route_clear(&r);
  route_clear(&w);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_fallback_and_cooldown),
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_least_latency),
      cmocka_unit_test(test_lowest_cost_and_weighted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
