/* store/ui.h: the dashboard's sessions, found by the hash of their
 * cookie, until they expire or are deleted; and ui.session_ttl_s. */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "store/ui.h"
#include "base/sb.h"

#include <string.h>

static const char CSRF[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void hash_of(unsigned char h[STORE_UI_HASH_LEN], unsigned char seed)
{
  memset(h, seed, STORE_UI_HASH_LEN);
}

static void test_create_get_delete(void **state)
{
  struct testdb *t = *state;
  unsigned char a[STORE_UI_HASH_LEN], b[STORE_UI_HASH_LEN];
  struct store_ui_session s;
  char err[256];

  hash_of(a, 1);
  hash_of(b, 2);
  assert_int_equal(store_ui_session_get(t->db, a, 1000, &s, err, sizeof(err)),
                   SB_ENOTFOUND);
  assert_int_equal(store_ui_session_create(t->db, a, "key_0123456789abcdef", "",
                                           CSRF, 1000, 60, err, sizeof(err)),
                   0);
  assert_int_equal(store_ui_session_create(t->db, b, "", "tag0", CSRF, 1000,
                                           600, err, sizeof(err)),
                   0);
  assert_int_equal(store_ui_session_get(t->db, a, 1059, &s, err, sizeof(err)),
                   0);
  assert_string_equal(s.key_id, "key_0123456789abcdef");
  assert_string_equal(s.csrf, CSRF);
  assert_int_equal(s.created_at, 1000);
  assert_int_equal(s.expires_at, 1060);
  /* Expired at its time, and dropped by the next sign-in. */
  assert_int_equal(store_ui_session_get(t->db, a, 1060, &s, err, sizeof(err)),
                   SB_ENOTFOUND);
  assert_int_equal(store_ui_session_get(t->db, b, 1060, &s, err, sizeof(err)),
                   0);
  assert_string_equal(s.key_id, "");
  assert_string_equal(s.admin_tag, "tag0");
  assert_int_equal(store_ui_session_delete(t->db, b, err, sizeof(err)), 0);
  assert_int_equal(store_ui_session_get(t->db, b, 1060, &s, err, sizeof(err)),
                   SB_ENOTFOUND);
  assert_int_equal(store_ui_session_delete(t->db, b, err, sizeof(err)), 0);
  /* Too long to be a key id: refused, not cut. */
  assert_int_equal(
      store_ui_session_create(t->db, b,
                              "key_0123456789abcdef0123456789abcdef0123456789",
                              "", CSRF, 1000, 60, err, sizeof(err)),
      SB_EINVAL);
}

static void test_missing_database(void **state)
{
  unsigned char a[STORE_UI_HASH_LEN];
  struct store_ui_session s;
  char err[256];

  (void)state;
  hash_of(a, 1);
  assert_int_equal(store_ui_session_get("/nonexistent/dir/sb.db", a, 0, &s, err,
                                        sizeof(err)),
                   SB_EDB);
}

static void test_config_ttl(void **state)
{
  struct config cfg;
  char err[256];
  const char *ok = "{\"ui\": {\"session_ttl_s\": 600}}";
  const char *zero = "{\"ui\": {\"session_ttl_s\": 0}}";
  const char *unknown = "{\"ui\": {\"ttl\": 600}}";

  (void)state;
  config_defaults(&cfg);
  assert_int_equal(cfg.ui.session_ttl_s, 43200);
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)), 0);
  assert_int_equal(cfg.ui.session_ttl_s, 600);
  assert_int_not_equal(
      config_load_json(&cfg, zero, strlen(zero), err, sizeof(err)), 0);
  assert_non_null(strstr(err, "ui.session_ttl_s"));
  assert_int_not_equal(
      config_load_json(&cfg, unknown, strlen(unknown), err, sizeof(err)), 0);
  assert_non_null(strstr(err, "ui.ttl"));
  config_free(&cfg);
}

/* The sign-in lock-out's settings: defaults, bounds, named in errors. */
static void test_config_signin(void **state)
{
  struct config cfg;
  char err[256];
  const char *ok = "{\"ui\": {\"signin_max_failures\": 3, "
                   "\"signin_window_s\": 60, \"signin_max_addresses\": 50}}";
  const char *bad[] = {
      "{\"ui\": {\"signin_max_failures\": 0}}",
      "{\"ui\": {\"signin_max_failures\": 101}}",
      "{\"ui\": {\"signin_window_s\": 0}}",
      "{\"ui\": {\"signin_window_s\": 86401}}",
      "{\"ui\": {\"signin_max_addresses\": 0}}",
      "{\"ui\": {\"signin_max_failures\": \"5\"}}",
  };
  const char *names[] = {"ui.signin_max_failures",  "ui.signin_max_failures",
                         "ui.signin_window_s",      "ui.signin_window_s",
                         "ui.signin_max_addresses", "ui.signin_max_failures"};

  (void)state;
  config_defaults(&cfg);
  assert_int_equal(cfg.ui.signin_max_failures, 5);
  assert_int_equal(cfg.ui.signin_window_s, 900);
  assert_int_equal(cfg.ui.signin_max_addresses, 10000);
  assert_int_equal(config_load_json(&cfg, ok, strlen(ok), err, sizeof(err)), 0);
  assert_int_equal(cfg.ui.signin_max_failures, 3);
  assert_int_equal(cfg.ui.signin_window_s, 60);
  assert_int_equal(cfg.ui.signin_max_addresses, 50);
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_not_equal(
        config_load_json(&cfg, bad[i], strlen(bad[i]), err, sizeof(err)), 0);
    assert_non_null(strstr(err, names[i]));
  }
  config_free(&cfg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_get_delete, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test(test_missing_database),
      cmocka_unit_test(test_config_ttl),
      cmocka_unit_test(test_config_signin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
