/* Model routing: provider/model, bare names, ambiguity, unknown models. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "providers/provider.h"
#include "router/router.h"
#include "router/run.h"

#include <stdlib.h>
#include <string.h>

static const char cfg_json[] =
    "{\"providers\":["
    "{\"name\":\"local\",\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
    " \"models\":[\"llama3\",\"shared\",\"meta-llama/Llama-3-8B\"]},"
    "{\"name\":\"other\",\"kind\":\"openai\",\"base_url\":\"http://o/v1/\","
    " \"models\":[\"shared\",\"qwen\"]},"
    "{\"name\":\"open\",\"kind\":\"openai\",\"base_url\":\"http://x/v1\"}]}";

struct fixture {
  struct config cfg;
  struct prov_registry *reg;
};

static int setup(void **state)
{
  struct fixture *f = calloc(1, sizeof(*f));
  char err[256];

  config_defaults(&f->cfg);
  assert_int_equal(
      config_load_json(&f->cfg, cfg_json, strlen(cfg_json), err, sizeof(err)),
      0);
  /* The registry takes the providers over, as it does from the table. */
  assert_int_equal(prov_registry_build(f->cfg.providers, f->cfg.nproviders,
                                       &f->reg, err, sizeof(err)),
                   0);
  f->cfg.providers = NULL;
  f->cfg.nproviders = 0;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;

  prov_registry_unref(f->reg);
  config_free(&f->cfg);
  free(f);
  return 0;
}

static void expect_target(struct fixture *f, const char *model,
                          const char *prov, const char *upstream)
{
  struct router_target t;
  struct api_error err;

  assert_int_equal(router_resolve(f->reg, model, &t, &err), 0);
  assert_string_equal(t.prov->name, prov);
  assert_string_equal(t.upstream_model, upstream);
  router_target_free(&t);
}

static void expect_error(struct fixture *f, const char *model, int status,
                         const char *code)
{
  struct router_target t;
  struct api_error err;

  assert_int_not_equal(router_resolve(f->reg, model, &t, &err), 0);
  assert_int_equal(err.status, status);
  assert_string_equal(err.code, code);
  assert_string_equal(err.param, "model");
  assert_null(t.prov);
}

static void test_prefixed(void **state)
{
  expect_target(*state, "local/llama3", "local", "llama3");
  expect_target(*state, "echo/echo-1", "echo", "echo-1");
  expect_target(*state, "other/shared", "other", "shared");
}

static void test_slash_inside_upstream_id(void **state)
{
  expect_target(*state, "local/meta-llama/Llama-3-8B", "local",
                "meta-llama/Llama-3-8B");
  /* The whole name is also a bare id served by exactly one provider. */
  expect_target(*state, "meta-llama/Llama-3-8B", "local",
                "meta-llama/Llama-3-8B");
}

static void test_bare_unique(void **state)
{
  expect_target(*state, "llama3", "local", "llama3");
  expect_target(*state, "story-1", "echo", "story-1");
}

static void test_bare_ambiguous(void **state)
{
  expect_error(*state, "shared", 400, "ambiguous_model");
}

static void test_unknown(void **state)
{
  expect_error(*state, "gpt-5", 404, "model_not_found");
  expect_error(*state, "local/gpt-5", 404, "model_not_found");
  expect_error(*state, "nope/llama3", 404, "model_not_found");
  expect_error(*state, "local/", 404, "model_not_found");
}

static void test_unknown_list_passes_any_model(void **state)
{
  /* "open" has no configured list and none was fetched. */
  expect_target(*state, "open/anything-goes", "open", "anything-goes");
}

static void test_base_url_normalised(void **state)
{
  struct fixture *f = *state;

  assert_string_equal(f->reg->cfgs[1].base_url, "http://o/v1");
  assert_string_equal(f->reg->provs[2].base_url, "http://o/v1");
}

/* A route's run: retries on one target honour retry-after up to the
 * longest wait, then the next target the gateway serves, then none. */
static void test_run_retries_then_falls_back(void **state)
{
  struct fixture *f = *state;
  static const char def[] =
      "{\"strategy\":\"fallback\",\"retries\":1,\"targets\":["
      "\"gone/x\",\"local/llama3\",\"other/qwen\"]}";
  cJSON *o = cJSON_Parse(def);
  struct route_stats *stats = route_stats_new();
  struct router_run run;
  struct router_target t;
  struct api_error err;
  struct route rt;
  char why[256];

  assert_int_equal(route_parse(o, "r", &rt, why, sizeof(why)), 0);
  cJSON_Delete(o);
  /* "gone" is not served here: the run starts on the second target. */
  assert_int_equal(
      router_run_start(&run, &rt, f->reg, stats, NULL, NULL, &t, &err), 0);
  assert_string_equal(t.prov->name, "local");
  assert_string_equal(router_run_target(&run)->model, "llama3");
  router_target_free(&t);

  router_run_begin(&run);
  api_error_set(&err, 429, "rate_limit_error", NULL, NULL, "slow down");
  err.retry_after_s = 2;
  /* One retry of the same target, after its retry-after. */
  assert_int_equal(
      router_run_failed(&run, f->reg, stats, "local", "llama3", &err, &t),
      2000);
  assert_null(t.prov);
  router_run_begin(&run);
  /* Retries spent: the next target, at once. */
  assert_int_equal(
      router_run_failed(&run, f->reg, stats, "local", "llama3", &err, &t), 0);
  assert_string_equal(t.prov->name, "other");
  router_target_free(&t);
  router_run_begin(&run);
  /* A retry-after past the longest wait moves on: nothing is left. */
  err.retry_after_s = 0;
  err.retry_after_ms = ROUTER_RETRY_MAX_WAIT_MS + 1;
  assert_int_equal(
      router_run_failed(&run, f->reg, stats, "other", "qwen", &err, &t), -1);
  assert_int_equal(run.nattempts, 3);
  assert_int_equal(cJSON_GetArraySize(run.log), 3);
  router_run_clear(&run);
  route_stats_free(stats);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_prefixed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slash_inside_upstream_id, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bare_unique, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bare_ambiguous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_list_passes_any_model, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_base_url_normalised, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_run_retries_then_falls_back, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
