/* admission's MCP side: tool globs in grants, adm_authenticate (takes
 * nothing), adm_take (one request of the key's limits), and the hook told
 * of mcp_servers changes; and what each key role is admitted to. */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "admission/admission.h"
#include "providers/provider.h"
#include "store/keys.h"
#include "store/store.h"
#include "base/sb.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void grant_with(struct adm_grant *g, const char *const *globs, int n)
{
  memset(g, 0, sizeof(*g));
  g->tools_set = 1;
  g->ntools = n;
  g->tools = n ? sb_calloc((size_t)n, sizeof(char *)) : NULL;
  for(int i = 0; i < n; i++)
    g->tools[i] = sb_strdup(globs[i]);
}

static void test_globs(void **state)
{
  static const char *const some[] = {"files__read*", "chat", "web__*"};
  static const char *const star[] = {"*"};
  static const char *const s_star[] = {"f*"};
  static const char *const one[] = {"files__read"};
  struct adm_grant g;

  (void)state;
  /* No list: anything. */
  memset(&g, 0, sizeof(g));
  assert_true(adm_tool_allowed(&g, "files__write"));
  assert_true(adm_server_allowed(&g, "files"));

  grant_with(&g, some, 3);
  assert_true(adm_tool_allowed(&g, "files__read"));
  assert_true(adm_tool_allowed(&g, "files__read_many"));
  assert_false(adm_tool_allowed(&g, "files__write"));
  assert_true(adm_tool_allowed(&g, "chat"));
  assert_false(adm_tool_allowed(&g, "models_list"));
  assert_true(adm_tool_allowed(&g, "web__fetch"));
  assert_false(adm_tool_allowed(&g, NULL));
  /* The whole server only where a glob admits "<server>__*" as text. */
  assert_true(adm_server_allowed(&g, "web"));
  assert_false(adm_server_allowed(&g, "files"));
  assert_false(adm_server_allowed(&g, "webx"));
  assert_false(adm_server_allowed(&g, "chat"));
  adm_grant_clear(&g);
  assert_null(g.tools);
  assert_int_equal(g.ntools, 0);
  /* Cleared, the list still holds: no tool. */
  assert_false(adm_tool_allowed(&g, "chat"));

  grant_with(&g, star, 1);
  assert_true(adm_server_allowed(&g, "anything"));
  assert_true(adm_tool_allowed(&g, "x__y"));
  adm_grant_clear(&g);
  grant_with(&g, s_star, 1);
  assert_true(adm_server_allowed(&g, "files"));
  assert_false(adm_server_allowed(&g, "web"));
  adm_grant_clear(&g);
  grant_with(&g, one, 1);
  assert_false(adm_server_allowed(&g, "files"));
  adm_grant_clear(&g);
  /* [] : nothing at all. */
  grant_with(&g, NULL, 0);
  assert_false(adm_tool_allowed(&g, "chat"));
  assert_false(adm_server_allowed(&g, "files"));
  adm_grant_clear(&g);
}

/* ---- with a database ---- */

static int load_empty(void *ud, struct prov_registry *prev, int strict,
                      struct prov_registry **out, char *err, size_t errlen)
{
  (void)ud;
  (void)prev;
  (void)strict;
  return prov_registry_build(NULL, 0, out, err, errlen);
}

static struct admission *open_adm(const char *db)
{
  const struct adm_registry_source src = {load_empty, NULL};
  struct admission *a = NULL;
  char err[256];

  if(adm_open(db, "admin-secret", &src, &a, err, sizeof(err)))
    fail_msg("adm_open: %s", err);
  return a;
}

static void test_authenticate_take(void **state)
{
  struct testdb *f = *state;
  char *tools[] = {"files__*"};
  char secret[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec;
  struct adm_grant g, g2;
  struct api_error e;
  struct canon_usage u;
  struct admission *a;
  int64_t now = sb_now_ms();

  memset(&spec, 0, sizeof(spec));
  spec.name = "k";
  spec.budget_usd = -1;
  spec.rpm = 2;
  spec.max_parallel = 1;
  spec.mcp_tools = tools;
  spec.nmcp_tools = 1;
  spec.mcp_tools_set = 1;
  assert_int_equal(
      store_keys_create(f->db, &spec, secret, NULL, err, sizeof(err)), 0);
  a = open_adm(f->db);
  memset(&u, 0, sizeof(u));

  /* Authenticating takes nothing, however often. */
  for(int i = 0; i < 5; i++) {
    memset(&e, 0, sizeof(e));
    assert_int_equal(adm_authenticate(a, secret, now, &g, &e), 0);
    assert_int_equal(g.in_flight, 0);
    assert_int_equal(g.tools_set, 1);
    assert_int_equal(g.ntools, 1);
    assert_string_equal(g.tools[0], "files__*");
    assert_true(adm_server_allowed(&g, "files"));
    adm_grant_clear(&g);
  }
  assert_int_equal(adm_authenticate(a, "sk-sb-nope", now, &g, &e), SB_EINVAL);
  assert_int_equal(e.status, 401);
  assert_int_equal(adm_authenticate(a, NULL, now, &g, &e), SB_EINVAL);
  assert_int_equal(e.status, 401);
  /* The admin credential: no limits to take from. */
  assert_int_equal(adm_authenticate(a, "admin-secret", now, &g, &e), 0);
  assert_true(g.admin);
  assert_int_equal(adm_take(a, &g, now, &e), 0);
  assert_int_equal(g.in_flight, 0);
  adm_grant_clear(&g);

  /* Each take is one request: parallel 1, then rpm 2. */
  assert_int_equal(adm_authenticate(a, secret, now, &g, &e), 0);
  assert_int_equal(adm_take(a, &g, now, &e), 0);
  assert_int_equal(g.in_flight, 1);
  assert_int_equal(adm_authenticate(a, secret, now, &g2, &e), 0);
  assert_int_equal(adm_take(a, &g2, now, &e), SB_EAGAIN);
  assert_int_equal(e.status, 429);
  adm_release(a, &g, &u, -1);
  assert_null(g.tools); /* released grants are cleared */
  assert_int_equal(adm_take(a, &g2, now, &e), 0);
  adm_release(a, &g2, &u, -1);
  assert_int_equal(adm_authenticate(a, secret, now, &g, &e), 0);
  assert_int_equal(adm_take(a, &g, now, &e), SB_EAGAIN);
  assert_int_equal(e.status, 429);
  assert_true(e.retry_after_s >= 1);
  adm_grant_clear(&g);

  /* Revoked since: 401. */
  assert_int_equal(adm_authenticate(a, secret, now + 60000, &g, &e), 0);
  assert_int_equal(store_keys_revoke(f->db, "k", err, sizeof(err)), 0);
  assert_int_equal(adm_reload(a), 0);
  assert_int_equal(adm_take(a, &g, now + 60000, &e), SB_EINVAL);
  assert_int_equal(e.status, 401);
  adm_grant_clear(&g);
  assert_int_equal(adm_authenticate(a, secret, now, &g, &e), SB_EINVAL);
  adm_close(a);
}

struct hook {
  pthread_mutex_t mu;
  int calls;
};

static void changed(void *ud)
{
  struct hook *h = ud;

  pthread_mutex_lock(&h->mu);
  h->calls++;
  pthread_mutex_unlock(&h->mu);
}

static int calls(struct hook *h)
{
  int n;

  pthread_mutex_lock(&h->mu);
  n = h->calls;
  pthread_mutex_unlock(&h->mu);
  return n;
}

static void test_mcp_hook(void **state)
{
  struct testdb *f = *state;
  struct hook h = {PTHREAD_MUTEX_INITIALIZER, 0};
  struct adm_mcp_source src = {changed, &h};
  struct admission *a = open_adm(f->db);
  char err[256];
  int late = -1;

  adm_set_mcp_source(a, &src);
  /* Not called at start, nor for nothing. */
  assert_int_equal(adm_reload_mcp_servers(a), 0);
  assert_int_equal(calls(&h), 0);

  /* A write through the admin API: told at once. */
  assert_int_equal(store_defs_set(f->db, STORE_MCP_SERVERS, "a",
                                  "{\"command\":\"x\"}", err, sizeof(err)),
                   0);
  assert_int_equal(adm_reload_mcp_servers(a), 0);
  assert_int_equal(calls(&h), 1);
  assert_int_equal(adm_reload_mcp_servers(a), 0);
  assert_int_equal(calls(&h), 1);

  /* Another process's write: the watcher tells, once, and the gateway
   * reports it served so a waiting CLI returns. */
  assert_int_equal(
      store_defs_delete(f->db, STORE_MCP_SERVERS, "a", err, sizeof(err)), 0);
  assert_int_equal(store_gateways_wait(f->db, 1, 3000, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  assert_int_equal(calls(&h), 2);

  /* A provider change does not tell the MCP source. */
  assert_int_equal(
      store_defs_set(f->db, STORE_PROVIDERS, "p",
                     "{\"kind\":\"openai\",\"base_url\":\"http://127.0.0.1:9\","
                     "\"models\":[\"m\"]}",
                     err, sizeof(err)),
      0);
  assert_int_equal(store_gateways_wait(f->db, 1, 3000, &late, err, sizeof(err)),
                   0);
  assert_int_equal(late, 0);
  assert_int_equal(calls(&h), 2);

  adm_set_mcp_source(a, NULL);
  adm_close(a);
}

/* A viewer key passes the admin guard read-only and nothing else; an
 * admin key passes both; a gateway key only the API. */
static void test_roles(void **state)
{
  struct testdb *f = *state;
  char viewer[STORE_KEY_SECRET_MAX], admin[STORE_KEY_SECRET_MAX];
  char gateway[STORE_KEY_SECRET_MAX], err[256];
  struct store_key spec;
  struct adm_grant g;
  struct api_error e;
  struct canon_usage u;
  struct admission *a;
  int64_t now = sb_now_ms();

  memset(&spec, 0, sizeof(spec));
  spec.budget_usd = -1;
  spec.name = "v";
  spec.role = STORE_KEY_VIEWER;
  assert_int_equal(
      store_keys_create(f->db, &spec, viewer, NULL, err, sizeof(err)), 0);
  spec.name = "a";
  spec.role = STORE_KEY_ADMIN;
  assert_int_equal(
      store_keys_create(f->db, &spec, admin, NULL, err, sizeof(err)), 0);
  spec.name = "g";
  spec.role = STORE_KEY_GATEWAY;
  assert_int_equal(
      store_keys_create(f->db, &spec, gateway, NULL, err, sizeof(err)), 0);
  a = open_adm(f->db);
  memset(&u, 0, sizeof(u));

  /* The admin guard: the viewer is let in, marked read-only. */
  assert_int_equal(adm_admit(a, viewer, now, 1, &g, &e), 0);
  assert_true(g.admin);
  assert_true(g.read_only);
  assert_string_equal(g.name, "v");
  adm_release(a, &g, &u, -1);
  assert_int_equal(adm_admit(a, admin, now, 1, &g, &e), 0);
  assert_true(g.admin);
  assert_false(g.read_only);
  adm_release(a, &g, &u, -1);
  memset(&e, 0, sizeof(e));
  assert_int_equal(adm_admit(a, gateway, now, 1, &g, &e), SB_EINVAL);
  assert_int_equal(e.status, 403);
  assert_string_equal(e.code, "admin_key_required");

  /* /v1 and /mcp: the viewer is refused, the others let in. */
  memset(&e, 0, sizeof(e));
  assert_int_equal(adm_admit(a, viewer, now, 0, &g, &e), SB_EINVAL);
  assert_int_equal(e.status, 403);
  assert_string_equal(e.type, "permission_error");
  assert_string_equal(e.code, "read_only");
  memset(&e, 0, sizeof(e));
  assert_int_equal(adm_authenticate(a, viewer, now, &g, &e), SB_EINVAL);
  assert_int_equal(e.status, 403);
  assert_string_equal(e.code, "read_only");
  assert_int_equal(adm_admit(a, admin, now, 0, &g, &e), 0);
  adm_release(a, &g, &u, -1);
  assert_int_equal(adm_admit(a, gateway, now, 0, &g, &e), 0);
  assert_false(g.admin);
  assert_false(g.read_only);
  adm_release(a, &g, &u, -1);
  adm_close(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_globs),
      cmocka_unit_test_setup_teardown(test_authenticate_take, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_roles, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_mcp_hook, testdb_setup,
                                      testdb_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
