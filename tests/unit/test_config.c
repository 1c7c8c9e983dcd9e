/* Config file: defaults, merging, and errors that name the key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "base/sb.h"

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
      "\"base_url\":\"http://127.0.0.1:8000/"
      "v1\",\"api_key_env\":\"SWITCHBOARD_CRED_K\","
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
  config_finish(&cfg);
  assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
  config_free(&cfg);
}

static void expect_fail(const char *json, const char *needle);

/* Numbers no integer holds are refused, not cast (found by fuzz_config). */
static void test_huge_numbers(void **state)
{
  (void)state;
  expect_fail("{\"workers\":1e300}", "workers: expected an integer");
  expect_fail("{\"workers\":-1e999}", "workers: expected an integer");
  expect_fail("{\"limits\":{\"idle_timeout_s\":9.3e18}}",
              "limits.idle_timeout_s");
}

/* "providers" twice: the second list replaces the first (whose entries
 * are freed: the sanitizer build would report them), as for every key. */
static void test_repeated_providers(void **state)
{
  static const char json[] =
      "{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\","
      "\"base_url\":\"http://127.0.0.1:1/v1\"},{\"name\":\"b\","
      "\"kind\":\"ollama\"}],"
      "\"providers\":[{\"name\":\"c\",\"kind\":\"ollama\"}],"
      "\"cache\":{\"enabled\":true,\"ttl_s\":60,\"memory_bytes\":0}}";
  struct config cfg;
  char err[256];

  (void)state;
  assert_int_equal(load(&cfg, json, err, sizeof(err)), 0);
  assert_int_equal(cfg.nproviders, 1);
  assert_string_equal(cfg.providers[0].name, "c");
  assert_int_equal(cfg.cache.enabled, 1);
  assert_int_equal(cfg.cache.ttl_s, 60);
  assert_int_equal(cfg.cache.memory_bytes, 0);
  assert_int_equal(cfg.cache.max_entry_bytes, 1024 * 1024);
  config_free(&cfg);
  expect_fail("{\"cache\":{\"ttl_s\":0}}", "cache.ttl_s");
  expect_fail("{\"cache\":{\"coalesce\":1}}", "cache.coalesce");
  expect_fail("{\"cache\":{\"size\":1}}", "cache.size");
}

/* A key given twice replaces the first (found by fuzz_config: a repeated
 * "allowed_hosts" freed a list it then read). */
static void test_repeated_lists(void **state)
{
  static const char json[] =
      "{\"security\":{\"allowed_hosts\":[\"a\",\"b\"],"
      "\"allowed_hosts\":[\"C\"],\"credential_env\":[\"X\"],"
      "\"credential_env\":[\"Y\",\"Z\"]}}";
  struct config cfg;
  char err[256];

  (void)state;
  assert_int_equal(load(&cfg, json, err, sizeof(err)), 0);
  assert_int_equal(cfg.security.nallowed_hosts, 1);
  assert_string_equal(cfg.security.allowed_hosts[0], "c");
  assert_int_equal(cfg.security.ncredential_env, 2);
  config_free(&cfg);
}

static void expect_fail(const char *json, const char *needle)
{
  struct config cfg;
  char err[256] = "";
  int rc = load(&cfg, json, err, sizeof(err));

  if(!rc) {
    config_finish(&cfg);
    rc = config_validate(&cfg, err, sizeof(err));
  }
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

/* What a provider definition may name and reach: the allow-list of
 * credential variables and the link-local rule. */
static void test_provider_allowed(void **state)
{
  static const char file[] =
      "{\"security\":{\"credential_env\":[\"MY_*\",\"EXACT\"]}}";
  static const char *const cases[][2] = {
      /* definition, "ok" or a word the error must hold */
      {"{\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
       "\"api_key_env\":\"MY_KEY\"}",
       "ok"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
       "\"api_key_env\":\"EXACT\"}",
       "ok"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
       "\"api_key_env\":\"EXACTLY\"}",
       "EXACTLY"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
       "\"api_key_env\":\"HOME\"}",
       "allow-list"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://h/v1\","
       "\"headers\":{\"X-A\":\"a ${MY_A} b ${PATH}\"}}",
       "PATH"},
      {"{\"kind\":\"bedrock\",\"options\":{\"region\":\"us-east-1\","
       "\"access_key_env\":\"MY_AK\",\"secret_key_env\":\"MY_SK\","
       "\"session_token_env\":\"MY_ST\"}}",
       "ok"},
      /* Its AWS defaults are not on this list. */
      {"{\"kind\":\"bedrock\",\"options\":{\"region\":\"us-east-1\"}}",
       "AWS_ACCESS_KEY_ID"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://169.254.169.254/v1\"}",
       "link-local"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://[fe80::1%25eth0]/v1\"}",
       "ok"}, /* not an address inet_pton reads: checked at connect */
      {"{\"kind\":\"openai\",\"base_url\":\"http://[::ffff:169.254.1.1]:8/"
       "v1\"}",
       "link-local"},
      {"{\"kind\":\"openai\",\"base_url\":\"https://100.100.100.200\"}",
       "link-local"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://METADATA.google.internal/"
       "v1\"}",
       "link-local"},
      {"{\"kind\":\"openai\",\"base_url\":\"http://169.255.0.1/v1\"}", "ok"},
  };
  struct config cfg;
  char err[512];

  (void)state;
  assert_int_equal(load(&cfg, file, err, sizeof(err)), 0);
  config_finish(&cfg);
  assert_false(config_env_allowed(&cfg.security, "SWITCHBOARD_ADMIN_KEY"));
  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    struct config_provider p;
    cJSON *o = cJSON_Parse(cases[i][0]);
    int rc;

    assert_non_null(o);
    assert_int_equal(config_provider_parse(&p, o, "p", "p", err, sizeof(err)),
                     0);
    err[0] = '\0';
    rc = config_provider_allowed(&cfg.security, &p, err, sizeof(err));
    if(!strcmp(cases[i][1], "ok"))
      assert_int_equal(rc, 0);
    else {
      assert_int_equal(rc, SB_ECONFIG);
      assert_non_null(strstr(err, cases[i][1]));
    }
    config_provider_free(&p);
    cJSON_Delete(o);
  }
  cfg.security.allow_link_local = 1;
  {
    struct config_provider p;
    cJSON *o = cJSON_Parse("{\"kind\":\"openai\",\"base_url\":"
                           "\"http://169.254.169.254/v1\"}");
    assert_int_equal(config_provider_parse(&p, o, "p", "p", err, sizeof(err)),
                     0);
    assert_int_equal(
        config_provider_allowed(&cfg.security, &p, err, sizeof(err)), 0);
    config_provider_free(&p);
    cJSON_Delete(o);
  }
  config_free(&cfg);

  /* The defaults when the file names none. */
  config_defaults(&cfg);
  unsetenv("SWITCHBOARD_CREDENTIAL_ENV");
  config_finish(&cfg);
  assert_true(config_env_allowed(&cfg.security, "SWITCHBOARD_CRED_X"));
  assert_true(config_env_allowed(&cfg.security, "OPENAI_API_KEY"));
  assert_false(config_env_allowed(&cfg.security, "HOME"));
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_errors_name_the_key),
      cmocka_unit_test(test_env_overrides),
      cmocka_unit_test(test_env_references),
      cmocka_unit_test(test_provider_allowed),
      cmocka_unit_test(test_huge_numbers),
      cmocka_unit_test(test_repeated_lists),
      cmocka_unit_test(test_repeated_providers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
