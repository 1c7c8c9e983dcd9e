/* MCP server definitions (config/mcp_server.h) and the config file's
 * "mcp" and "mcp_servers" keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/mcp_server.h"
#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

/* Parse json as server name; 0 or the error code, err filled. */
static int parse(struct config_mcp_server *s, const char *name,
                 const char *json, char *err, size_t errlen)
{
  cJSON *o = cJSON_Parse(json);
  int rc;

  assert_non_null(o);
  rc = config_mcp_server_parse(s, o, name, "mcp_servers.x", err, errlen);
  cJSON_Delete(o);
  return rc;
}

static void test_names(void **state)
{
  (void)state;
  assert_true(config_mcp_name_valid("files"));
  assert_true(config_mcp_name_valid("a-b-9"));
  assert_true(config_mcp_name_valid("abcdefghijabcdefghijabcdefghijab"));
  assert_false(config_mcp_name_valid("abcdefghijabcdefghijabcdefghijabc"));
  assert_false(config_mcp_name_valid(""));
  assert_false(config_mcp_name_valid(NULL));
  assert_false(config_mcp_name_valid("a_b"));
  assert_false(config_mcp_name_valid("a.b"));
  assert_false(config_mcp_name_valid("a/b"));
}

static void test_http_defaults(void **state)
{
  struct config_mcp_server s, c;
  char err[256];

  (void)state;
  assert_int_equal(parse(&s, "remote",
                         "{\"transport\":\"http\",\"url\":\"https://x/mcp\","
                         "\"headers\":{\"Authorization\":\"Bearer "
                         "${SWITCHBOARD_CRED_R}\",\"X-A\":\"1\"}}",
                         err, sizeof(err)),
                   0);
  assert_string_equal(s.name, "remote");
  assert_int_equal(s.transport, CONFIG_MCP_HTTP);
  assert_string_equal(s.url, "https://x/mcp");
  assert_int_equal(s.nheaders, 2);
  assert_string_equal(s.headers[1].name, "X-A");
  assert_int_equal(s.timeout_s, 60);
  assert_int_equal(s.call_timeout_s, 0);
  assert_int_equal(s.enabled, 1);
  assert_non_null(strstr(s.definition, "\"url\":\"https://x/mcp\""));
  assert_null(strstr(s.definition, "\"name\""));

  config_mcp_server_copy(&c, &s);
  config_mcp_server_free(&s);
  assert_string_equal(c.headers[0].value, "Bearer ${SWITCHBOARD_CRED_R}");
  config_mcp_server_free(&c);
}

static void test_stdio(void **state)
{
  struct config_mcp_server s, c;
  char err[256];

  (void)state;
  /* No "transport": the fields say it. */
  assert_int_equal(parse(&s, "files",
                         "{\"command\":\"npx\",\"args\":[\"-y\",\"\"],"
                         "\"env\":{\"TOKEN\":\"${SWITCHBOARD_CRED_F}\"},"
                         "\"cwd\":\"/tmp\",\"timeout_s\":120,"
                         "\"call_timeout_s\":600,\"enabled\":false}",
                         err, sizeof(err)),
                   0);
  assert_int_equal(s.transport, CONFIG_MCP_STDIO);
  assert_string_equal(s.command, "npx");
  assert_int_equal(s.nargs, 2);
  assert_string_equal(s.args[1], "");
  assert_int_equal(s.nenv, 1);
  assert_string_equal(s.cwd, "/tmp");
  assert_int_equal(s.timeout_s, 120);
  assert_int_equal(s.call_timeout_s, 600);
  assert_int_equal(s.enabled, 0);
  config_mcp_server_copy(&c, &s);
  config_mcp_server_free(&s);
  assert_string_equal(c.args[0], "-y");
  assert_string_equal(c.env[0].name, "TOKEN");
  config_mcp_server_free(&c);
  config_mcp_server_free(NULL);
}

static void test_errors(void **state)
{
  static const struct {
    const char *name, *json, *want;
  } cases[] = {
      {"a_b", "{\"url\":\"http://x\"}", "server name"},
      {"x", "[]", "mcp_servers.x: expected an object"},
      {"x", "{\"url\":\"http://x\",\"bogus\":1}",
       "mcp_servers.x.bogus: unknown key"},
      {"x", "{\"name\":\"x\",\"url\":\"http://x\"}",
       "mcp_servers.x.name: unknown key"},
      {"x", "{\"url\":\"ftp://x\"}", "mcp_servers.x.url: must start with"},
      {"x", "{\"url\":5}", "mcp_servers.x.url: expected a non-empty string"},
      {"x", "{\"transport\":\"ws\",\"url\":\"http://x\"}",
       "transport: expected \"http\" or \"stdio\""},
      {"x", "{\"transport\":\"http\"}", "missing required key \"url\""},
      {"x", "{\"transport\":\"stdio\"}", "missing required key \"command\""},
      {"x", "{}", "missing \"url\""},
      {"x", "{\"url\":\"http://x\",\"command\":\"c\"}", "both http"},
      {"x", "{\"transport\":\"http\",\"url\":\"http://x\",\"args\":[]}",
       "belong to transport \"stdio\""},
      {"x", "{\"transport\":\"stdio\",\"command\":\"c\",\"headers\":{}}",
       "belong to transport \"http\""},
      {"x", "{\"url\":\"http://x\",\"headers\":{\"A\":1}}",
       "headers.A: expected a string"},
      {"x", "{\"url\":\"http://x\",\"headers\":[]}", "expected an object"},
      {"x", "{\"url\":\"http://x\",\"headers\":{\"Authorization\":\"sk\"}}",
       "a credential is never stored"},
      {"x", "{\"command\":\"c\",\"env\":{\"1A\":\"v\"}}",
       "not a valid environment variable name"},
      {"x", "{\"command\":\"c\",\"args\":[\"a\",1]}",
       "args[1]: expected a string"},
      {"x", "{\"command\":\"c\",\"args\":\"a\"}", "expected an array"},
      {"x", "{\"url\":\"http://x\",\"timeout_s\":0}", "between 1 and 86400"},
      {"x", "{\"url\":\"http://x\",\"timeout_s\":1.5}", "expected an integer"},
      {"x", "{\"url\":\"http://x\",\"call_timeout_s\":-1}", "between 0"},
      {"x", "{\"url\":\"http://x\",\"enabled\":1}", "expected true or false"},
  };
  struct config_mcp_server s;
  char err[256];

  (void)state;
  for(size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
    err[0] = '\0';
    assert_int_equal(parse(&s, cases[i].name, cases[i].json, err, sizeof(err)),
                     SB_ECONFIG);
    if(!strstr(err, cases[i].want))
      fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].want);
    config_mcp_server_free(&s);
  }
}

static void test_allowed(void **state)
{
  struct config cfg;
  struct config_mcp_server s;
  char err[256];

  (void)state;
  config_defaults(&cfg);
  unsetenv("SWITCHBOARD_CREDENTIAL_ENV");
  config_finish(&cfg);

  assert_int_equal(
      parse(&s, "r",
            "{\"url\":\"http://example.com/mcp\",\"headers\":"
            "{\"Authorization\":\"Bearer ${SWITCHBOARD_CRED_A}\"}}",
            err, sizeof(err)),
      0);
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)), 0);
  config_mcp_server_free(&s);

  assert_int_equal(
      parse(&s, "r", "{\"url\":\"http://x\",\"headers\":{\"X-T\":\"${HOME}\"}}",
            err, sizeof(err)),
      0);
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "HOME (headers.X-T)"));
  config_mcp_server_free(&s);

  assert_int_equal(parse(&s, "f",
                         "{\"command\":\"c\",\"env\":{\"A\":\"x\",\"K\":"
                         "\"${SWITCHBOARD_ADMIN_KEY}\"}}",
                         err, sizeof(err)),
                   0);
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "SWITCHBOARD_ADMIN_KEY (env.K)"));
  config_mcp_server_free(&s);

  assert_int_equal(parse(&s, "m", "{\"url\":\"http://169.254.169.254/mcp\"}",
                         err, sizeof(err)),
                   0);
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)),
      SB_ECONFIG);
  assert_non_null(strstr(err, "link-local"));
  cfg.security.allow_link_local = 1;
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)), 0);
  config_mcp_server_free(&s);

  assert_int_equal(parse(&s, "m",
                         "{\"url\":\"https://metadata.google.internal/x\"}",
                         err, sizeof(err)),
                   0);
  cfg.security.allow_link_local = 0;
  assert_int_equal(
      config_mcp_server_allowed(&cfg.security, &s, err, sizeof(err)),
      SB_ECONFIG);
  config_mcp_server_free(&s);
  config_free(&cfg);
}

static int load(struct config *cfg, const char *json, char *err, size_t n)
{
  config_defaults(cfg);
  return config_load_json(cfg, json, strlen(json), err, n);
}

static void test_config_keys(void **state)
{
  struct config cfg;
  char err[256];

  (void)state;
  config_defaults(&cfg);
  assert_int_equal(cfg.mcp.session_ttl_s, 86400);
  assert_int_equal(cfg.mcp.keepalive_s, 15);
  assert_int_equal(cfg.mcp.page_size, 100);
  assert_int_equal(cfg.mcp.max_sessions, 10000);
  assert_int_equal(cfg.nmcp_servers, 0);
  config_free(&cfg);

  assert_int_equal(
      load(&cfg,
           "{\"mcp\":{\"session_ttl_s\":600,\"keepalive_s\":5,"
           "\"page_size\":2,\"max_sessions\":7},"
           "\"mcp_servers\":{\"b\":{\"url\":\"http://127.0.0.1:1/mcp\"},"
           "\"a\":{\"command\":\"node\",\"args\":[\"s.mjs\"]}}}",
           err, sizeof(err)),
      0);
  assert_int_equal(cfg.mcp.session_ttl_s, 600);
  assert_int_equal(cfg.mcp.keepalive_s, 5);
  assert_int_equal(cfg.mcp.page_size, 2);
  assert_int_equal(cfg.mcp.max_sessions, 7);
  assert_int_equal(cfg.nmcp_servers, 2);
  assert_string_equal(cfg.mcp_servers[0].name, "b");
  assert_string_equal(cfg.mcp_servers[1].definition,
                      "{\"command\":\"node\",\"args\":[\"s.mjs\"]}");
  config_finish(&cfg);
  assert_int_equal(config_validate(&cfg, err, sizeof(err)), 0);
  config_free(&cfg);

  assert_int_equal(load(&cfg, "{\"mcp\":{\"page_size\":0}}", err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "mcp.page_size: must be between 1 and 10000"));
  config_free(&cfg);
  assert_int_equal(load(&cfg, "{\"mcp\":{\"x\":1}}", err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "mcp.x: unknown key"));
  config_free(&cfg);
  assert_int_equal(load(&cfg, "{\"mcp\":[]}", err, sizeof(err)), SB_ECONFIG);
  config_free(&cfg);
  assert_int_equal(load(&cfg, "{\"mcp_servers\":[]}", err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "mcp_servers: expected an object"));
  config_free(&cfg);
  assert_int_equal(load(&cfg,
                        "{\"mcp_servers\":{\"a\":{\"url\":\"http://x\"},"
                        "\"b\":{\"url\":\"http://x\",\"z\":1}}}",
                        err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "config: mcp_servers.b.z: unknown key"));
  config_free(&cfg);
  assert_int_equal(load(&cfg,
                        "{\"mcp_servers\":{\"a\":{\"url\":\"http://x\"},"
                        "\"a\":{\"url\":\"http://y\"}}}",
                        err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "duplicate server name"));
  config_free(&cfg);

  /* config_validate applies the allow-list. */
  assert_int_equal(load(&cfg,
                        "{\"mcp_servers\":{\"a\":{\"url\":\"http://x\","
                        "\"headers\":{\"X\":\"${HOME}\"}}}}",
                        err, sizeof(err)),
                   0);
  unsetenv("SWITCHBOARD_CREDENTIAL_ENV");
  config_finish(&cfg);
  assert_int_equal(config_validate(&cfg, err, sizeof(err)), SB_ECONFIG);
  assert_non_null(strstr(err, "mcp server a: environment variable HOME"));
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),   cmocka_unit_test(test_http_defaults),
      cmocka_unit_test(test_stdio),   cmocka_unit_test(test_errors),
      cmocka_unit_test(test_allowed), cmocka_unit_test(test_config_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
