/*
 * test_mcp_names.c - the public names of federated tools and prompts
 * (mcp/names.h): what a client sees and must be able to call back.
 */
#include "mcp/names.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void plain_names_stay_plain(void **state)
{
  char out[MCP_NAME_MAX + 1];

  (void)state;
  assert_int_equal(mcp_name_public("files", "read_file", out), 1);
  assert_string_equal(out, "files__read_file");
  assert_int_equal(mcp_name_public("a-b", "x-y_z", out), 1);
  assert_string_equal(out, "a-b__x-y_z");
}

static void dots_and_spaces_get_the_short_form(void **state)
{
  char a[MCP_NAME_MAX + 1], b[MCP_NAME_MAX + 1];

  (void)state;
  /* MCP allows '.', Claude and the model APIs do not. */
  assert_int_equal(mcp_name_public("git", "repo.status", a), 0);
  assert_true(mcp_name_valid(a));
  assert_memory_equal(a, "git__repo_status_", 17);
  /* Two names that sanitise alike still differ (the hash). */
  assert_int_equal(mcp_name_public("git", "repo_status x", b), 0);
  assert_true(mcp_name_valid(b));
  assert_string_not_equal(a, b);
  /* Stable: the same pair gives the same name every time. */
  mcp_name_public("git", "repo.status", b);
  assert_string_equal(a, b);
}

static void long_names_are_cut_to_64(void **state)
{
  char out[MCP_NAME_MAX + 1], other[MCP_NAME_MAX + 1];
  const char *longtool = "a_tool_whose_name_is_far_longer_than_what_clients_"
                         "accept_in_a_single_identifier";

  (void)state;
  assert_int_equal(mcp_name_public("server", longtool, out), 0);
  assert_int_equal(strlen(out), 64);
  assert_true(mcp_name_valid(out));
  /* Another tool sharing the first 55 characters gets another name. */
  assert_int_equal(
      mcp_name_public("server",
                      "a_tool_whose_name_is_far_longer_than_what_clients_"
                      "accept_in_another_identifier",
                      other),
      0);
  assert_string_not_equal(out, other);
}

static void pair_boundaries_matter(void **state)
{
  char a[MCP_NAME_MAX + 1], b[MCP_NAME_MAX + 1];

  (void)state;
  /* ("ab", "c.d") and ("a", "bc.d") must not meet in the short form. */
  mcp_name_public("ab", "c.d", a);
  mcp_name_public("a", "bc.d", b);
  assert_string_not_equal(a, b);
}

static void validity(void **state)
{
  char max[MCP_NAME_MAX + 2];

  (void)state;
  assert_false(mcp_name_valid(""));
  assert_false(mcp_name_valid("a.b"));
  assert_false(mcp_name_valid("a b"));
  assert_true(mcp_name_valid("A-z_09"));
  memset(max, 'x', MCP_NAME_MAX);
  max[MCP_NAME_MAX] = '\0';
  assert_true(mcp_name_valid(max));
  max[MCP_NAME_MAX] = 'x';
  max[MCP_NAME_MAX + 1] = '\0';
  assert_false(mcp_name_valid(max));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_names_stay_plain),
      cmocka_unit_test(dots_and_spaces_get_the_short_form),
      cmocka_unit_test(long_names_are_cut_to_64),
      cmocka_unit_test(pair_boundaries_matter),
      cmocka_unit_test(validity),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
