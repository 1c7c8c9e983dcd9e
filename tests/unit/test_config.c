/* Config file: defaults, merging, and errors that name the key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/config.h"
#include "gateway/sb.h"

#include <stdlib.h>
#include <string.h>

static int load(struct config *cfg, const char *json, char *err, size_t n)
{
  config_defaults(cfg);
  return config_load_json(cfg, json, strlen(json), err, n);
}

static void test_defaults(void **state)
{
  struct config cfg;

  config_defaults(&cfg);
  assert_string_equal(cfg.host, "127.0.0.1");
  assert_int_equal(cfg.port, 8080);
  assert_string_equal(cfg.database, "switchboard.db");
  assert_true(cfg.workers >= 1);
  assert_int_equal(cfg.limits.max_body_bytes, 32 * 1024 * 1024);
  config_free(&cfg);
}

static void test_full_example(void **state)
{
  static const char json[] =
      "{\"listen\":{\"host\":\"0.0.0.0\",\"port\":9000},"
      "\"database\":\"x.db\",\"workers\":3,\"log_level\":\"debug\","
      "\"limits\":{\"max_body_bytes\":2048,\"stream_idle_timeout_s\":5},"
      "\"cors\":{\"origins\":[\"http://a\"]},"
      "\"providers\":[{\"name\":\"local\",\"kind\":\"openai\","
      "\"base_url\":\"http://127.0.0.1:8000/v1\",\"api_key_env\":\"K\","
      "\"models\":[\"llama3\"],\"passthrough_auth\":true,"
      "\"headers\":{\"X-A\":\"1\"},\"forward_headers\":[\"OpenAI-"
      "Organization\"],"
      "\"stream_usage\":false}]}";
  struct config cfg;
  char err[256];

  assert_int_equal(load(&cfg, json, err, sizeof(err)), 0);
  assert_string_equal(cfg.host, "0.0.0.0");
  assert_int_equal(cfg.port, 9000);
  assert_int_equal(cfg.workers, 3);
  assert_int_equal(cfg.limits.max_body_bytes, 2048);
  assert_int_equal(cfg.limits.stream_idle_timeout_s, 5);
  assert_int_equal(cfg.ncors_origins, 1);
  assert_int_equal(cfg.nproviders, 1);
  assert_string_equal(cfg.providers[0].models[0], "llama3");
  assert_true(cfg.providers[0].passthrough_auth);
  assert_false(cfg.providers[0].stream_usage);
  assert_string_equal(cfg.providers[0].headers[0].name, "X-A");
  /* Forwarded header names are matched lowercase. */
  assert_string_equal(cfg.providers[0].forward_headers[0],
                      "openai-organization");
  assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
  config_free(&cfg);
}

static void expect_fail(const char *json, const char *needle)
{
  struct config cfg;
  char err[256] = "";
  int rc = load(&cfg, json, err, sizeof(err));

  if(!rc)
    rc = config_validate(&cfg, err, sizeof(err));
  assert_int_equal(rc, SB_ECONFIG);
  if(!strstr(err, needle))
    fail_msg("error '%s' does not name '%s'", err, needle);
  config_free(&cfg);
}

static void test_errors_name_the_key(void **state)
{
  expect_fail("{\"bogus\":1}", "bogus");
  expect_fail("{\"listen\":{\"port\":\"80\"}}", "listen.port");
  expect_fail("{\"listen\":{\"port\":70000}}", "listen.port");
  expect_fail("{\"limits\":{\"max_body\":1}}", "limits.max_body");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"http://x\",\"modelz\":[]}]}",
              "providers[0].modelz");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":7}]}",
              "providers[0].kind");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"martian\","
              "\"base_url\":\"http://x\"}]}",
              "providers[0].kind");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"http://x\",\"models\":[\"\"]}]}",
              "providers[0].models[0]");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"ftp://x\"}]}",
              "providers[0].base_url");
  expect_fail("{\"providers\":[{\"name\":\"echo\",\"kind\":\"openai\","
              "\"base_url\":\"http://x\"}]}",
              "providers[0].name");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"http://x\"},{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"http://y\"}]}",
              "providers[1].name");
  expect_fail("{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
              "\"base_url\":\"http://x\",\"headers\":{\"Bad Name\":\"v\"}}]}",
              "providers[0].headers.Bad Name");
  expect_fail("[1,2]", "top level");
  expect_fail("{\"listen\":", "not valid JSON");
}

static void test_env_overrides(void **state)
{
  struct config cfg;
  char err[256];

  config_defaults(&cfg);
  setenv("PORT", "9191", 1);
  setenv("HOST", "::1", 1);
  assert_int_equal(config_apply_env(&cfg, err, sizeof(err)), 0);
  assert_int_equal(cfg.port, 9191);
  assert_string_equal(cfg.host, "::1");
  setenv("PORT", "nope", 1);
  assert_int_equal(config_apply_env(&cfg, err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "PORT"));
  unsetenv("PORT");
  unsetenv("HOST");
  config_free(&cfg);
}

/* "${VAR}" in header values: expanded from the environment; a credential
 * header must name one; an unset variable is named. */
static void test_env_references(void **state)
{
  static const char literal[] =
      "{\"providers\":[{\"name\":\"p\",\"kind\":\"openai\","
      "\"base_url\":\"http://h/v1\",\"headers\":{\"Authorization\":"
      "\"Bearer sk-live\"}}]}";
  static const char named[] =
      "{\"providers\":[{\"name\":\"p\",\"kind\":\"openai\","
      "\"base_url\":\"http://h/v1\",\"headers\":{\"authorization\":"
      "\"Bearer ${SB_T_KEY}\"}}]}";
  struct config cfg;
  char err[256], missing[64];
  char *v;

  (void)state;
  config_defaults(&cfg);
  assert_int_equal(
      config_load_json(&cfg, literal, strlen(literal), err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "providers[0].headers.Authorization"));
  config_free(&cfg);
  config_defaults(&cfg);
  assert_int_equal(
      config_load_json(&cfg, named, strlen(named), err, sizeof(err)), 0);
  config_free(&cfg);

  setenv("SB_T_KEY", "s3cret", 1);
  v = config_expand_env("Bearer ${SB_T_KEY}, ${not a ref} $x ${", missing,
                        sizeof(missing));
  assert_string_equal(v, "Bearer s3cret, ${not a ref} $x ${");
  free(v);
  unsetenv("SB_T_KEY");
  assert_null(config_expand_env("a ${SB_T_KEY} b", missing, sizeof(missing)));
  assert_string_equal(missing, "SB_T_KEY");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_errors_name_the_key),
      cmocka_unit_test(test_env_overrides),
      cmocka_unit_test(test_env_references),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
