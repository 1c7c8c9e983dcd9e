/* router/cache_policy.c: the response cache's policy per key and route,
 * and how the levels combine; routes carry one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/cache_policy.h"
#include "router/routes.h"

#include <stdlib.h>
#include <string.h>

static struct cache_policy parse_ok(const char *json, int allow_shared)
{
  cJSON *o = cJSON_Parse(json);
  struct cache_policy p;
  char err[160];

  assert_non_null(o);
  if(cache_policy_parse(o, allow_shared, &p, err, sizeof(err)))
    fail_msg("cache_policy_parse: %s", err);
  cJSON_Delete(o);
  return p;
}

static void parse_err(const char *json, int allow_shared, const char *want)
{
  cJSON *o = cJSON_Parse(json);
  struct cache_policy p;
  char err[160] = "";

  assert_int_equal(cache_policy_parse(o, allow_shared, &p, err, sizeof(err)),
                   -2);
  if(!strstr(err, want))
    fail_msg("'%s' does not say '%s'", err, want);
  cJSON_Delete(o);
}

static void test_parse(void **state)
{
  struct cache_policy p = parse_ok("{\"enabled\":true,\"ttl_s\":60,"
                                   "\"max_entry_bytes\":4096,"
                                   "\"scope\":\"shared\"}",
                                   1);
  (void)state;
  assert_int_equal(p.enabled, 1);
  assert_int_equal(p.ttl_s, 60);
  assert_int_equal(p.max_entry_bytes, 4096);
  assert_int_equal(p.shared, 1);
  p = parse_ok("{}", 0);
  assert_true(cache_policy_empty(&p));
  p = parse_ok("{\"enabled\":false,\"scope\":\"key\"}", 0);
  assert_int_equal(p.enabled, 0);
  assert_int_equal(p.shared, 0);
  assert_false(cache_policy_empty(&p));
}

static void test_parse_errors(void **state)
{
  (void)state;
  parse_err("[]", 1, "cache: expected an object");
  parse_err("{\"enabled\":1}", 1, "cache.enabled");
  parse_err("{\"ttl_s\":0}", 1, "cache.ttl_s");
  parse_err("{\"ttl_s\":1.5}", 1, "cache.ttl_s");
  parse_err("{\"ttl_s\":31536001}", 1, "cache.ttl_s");
  parse_err("{\"max_entry_bytes\":-1}", 1, "cache.max_entry_bytes");
  parse_err("{\"scope\":\"shared\"}", 0, "only a route");
  parse_err("{\"scope\":\"everyone\"}", 1, "cache.scope");
  parse_err("{\"ttl\":5}", 1, "cache.ttl: unknown field");
}

static void test_json_round_trip(void **state)
{
  struct cache_policy p = parse_ok("{\"ttl_s\":600,\"scope\":\"shared\"}", 1);
  cJSON *o = cache_policy_json(&p);
  char *s = cJSON_PrintUnformatted(o);

  (void)state;
  assert_string_equal(s, "{\"ttl_s\":600,\"scope\":\"shared\"}");
  free(s);
  cJSON_Delete(o);
}

static struct cache_policy pol(int enabled, int ttl, int64_t max, int shared)
{
  struct cache_policy p = {enabled, ttl, max, shared};
  return p;
}

static void test_resolve(void **state)
{
  struct cache_policy off = pol(0, 3600, 1 << 20, 0);
  struct cache_policy on = pol(1, 3600, 1 << 20, 0);
  struct cache_policy unset, out, r, k;

  (void)state;
  cache_policy_unset(&unset);
  /* The default alone decides when no level says anything. */
  cache_policy_resolve(&off, NULL, NULL, &out);
  assert_int_equal(out.enabled, 0);
  cache_policy_resolve(&on, &unset, &unset, &out);
  assert_int_equal(out.enabled, 1);
  assert_int_equal(out.ttl_s, 3600);
  assert_int_equal(out.max_entry_bytes, 1 << 20);
  assert_int_equal(out.shared, 0);
  /* A route or a key may turn it on over a default that is off... */
  r = unset;
  r.enabled = 1;
  cache_policy_resolve(&off, &r, NULL, &out);
  assert_int_equal(out.enabled, 1);
  cache_policy_resolve(&off, NULL, &r, &out);
  assert_int_equal(out.enabled, 1);
  /* ...and off anywhere wins. */
  k = unset;
  k.enabled = 0;
  cache_policy_resolve(&on, &r, &k, &out);
  assert_int_equal(out.enabled, 0);
  cache_policy_resolve(&on, &k, &r, &out);
  assert_int_equal(out.enabled, 0);
  /* The shortest TTL and the smallest entry set by route or key win; the
   * default only fills what neither set. */
  r = pol(-1, 86400, 0, -1);
  k = pol(-1, 60, 512, -1);
  cache_policy_resolve(&on, &r, &k, &out);
  assert_int_equal(out.ttl_s, 60);
  assert_int_equal(out.max_entry_bytes, 512);
  cache_policy_resolve(&on, &r, NULL, &out);
  assert_int_equal(out.ttl_s, 86400);
  assert_int_equal(out.max_entry_bytes, 1 << 20);
  /* Only a route shares, and a key may keep its own entries. */
  r = pol(-1, 0, 0, 1);
  cache_policy_resolve(&on, &r, &unset, &out);
  assert_int_equal(out.shared, 1);
  k = pol(-1, 0, 0, 0);
  cache_policy_resolve(&on, &r, &k, &out);
  assert_int_equal(out.shared, 0);
  cache_policy_resolve(&on, NULL, &r, &out);
  assert_int_equal(out.shared, 0);
}

static void test_route_cache(void **state)
{
  cJSON *o = cJSON_Parse("{\"targets\":[\"a/m\"],\"cache\":{\"enabled\":true,"
                         "\"scope\":\"shared\"}}");
  struct route r, c;
  char err[256];
  cJSON *j;

  (void)state;
  assert_int_equal(route_parse(o, "faq", &r, err, sizeof(err)), 0);
  assert_int_equal(r.cache.enabled, 1);
  assert_int_equal(r.cache.shared, 1);
  route_copy(&c, &r);
  assert_int_equal(c.cache.shared, 1);
  j = route_json(&r);
  assert_true(cJSON_IsTrue(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "cache"), "enabled")));
  cJSON_Delete(j);
  route_clear(&r);
  route_clear(&c);
  cJSON_Delete(o);
  /* No "cache": every field unset, and none in its JSON form. */
  o = cJSON_Parse("{\"targets\":[\"a/m\"]}");
  assert_int_equal(route_parse(o, "plain", &r, err, sizeof(err)), 0);
  assert_true(cache_policy_empty(&r.cache));
  j = route_json(&r);
  assert_null(cJSON_GetObjectItem(j, "cache"));
  cJSON_Delete(j);
  route_clear(&r);
  cJSON_Delete(o);
  o = cJSON_Parse("{\"targets\":[\"a/m\"],\"cache\":{\"ttl_s\":-5}}");
  assert_int_equal(route_parse(o, "bad", &r, err, sizeof(err)), -2);
  assert_non_null(strstr(err, "cache.ttl_s"));
  cJSON_Delete(o);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_route_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
