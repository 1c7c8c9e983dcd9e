/*
 * test_caps.c - store/caps.c (the model capabilities table) against a real
 * SQLite file, and admission's in-memory lookup of it (adm_model_caps).
 */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "admission/admission.h"
#include "base/sb.h"
#include "providers/provider.h"
#include "store/caps.h"
#include "store/keys.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct store_model_caps *find(const struct store_model_caps *c,
                                           int n, const char *model)
{
  for(int i = 0; i < n; i++)
    if(!strcmp(c[i].model, model))
      return &c[i];
  return NULL;
}

static void test_modality_names(void **state)
{
  (void)state;
  assert_int_equal(store_modality_bit("text"), STORE_MOD_TEXT);
  assert_int_equal(store_modality_bit("image"), STORE_MOD_IMAGE);
  assert_int_equal(store_modality_bit("audio"), STORE_MOD_AUDIO);
  assert_int_equal(store_modality_bit("file"), STORE_MOD_FILE);
  assert_int_equal(store_modality_bit("video"), 0);
  assert_int_equal(store_modality_bit("Text"), 0);
  assert_int_equal(store_modality_bit(NULL), 0);
  assert_string_equal(store_modality_name(STORE_MOD_FILE), "file");
  assert_null(store_modality_name(STORE_MOD_TEXT | STORE_MOD_FILE));
  assert_null(store_modality_name(0));
}

static void test_validate(void **state)
{
  struct store_model_caps c = {.model = "m",
                               .context_tokens = 100,
                               .max_output_tokens = 100,
                               .tools = -1};
  char err[256], longname[STORE_CAPS_MODEL_MAX + 2];

  (void)state;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), 0);
  c.max_output_tokens = 101;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  assert_non_null(strstr(err, "max_output_tokens"));
  c.max_output_tokens = -1;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  c.max_output_tokens = 0;
  c.context_tokens = 0;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  assert_non_null(strstr(err, "context_tokens"));
  c.context_tokens = 1;
  c.modalities = 1u << 7;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  assert_non_null(strstr(err, "modalities"));
  c.modalities = STORE_MOD_TEXT;
  c.tools = 2;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  c.tools = 1;
  c.model = "";
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  c.model = NULL;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  c.model = "a\nb";
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  memset(longname, 'x', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = 0;
  c.model = longname;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), SB_EINVAL);
  longname[STORE_CAPS_MODEL_MAX] = 0;
  assert_int_equal(store_caps_validate(&c, err, sizeof(err)), 0);
}

static void test_seeded_and_edited(void **state)
{
  struct testdb *f = *state;
  struct store_model_caps *c = NULL, mine = {.model = "local/m",
                                             .context_tokens = 8192,
                                             .max_output_tokens = 1024,
                                             .modalities = STORE_MOD_TEXT |
                                                           STORE_MOD_IMAGE,
                                             .tools = 0};
  const struct store_model_caps *g;
  char err[256], *text;
  int n = 0;
  cJSON *j;

  assert_int_equal(store_caps_list(f->db, &c, &n, err, sizeof(err)), 0);
  assert_true(n > 20);
  for(int i = 1; i < n; i++) /* sorted as adm_model_caps searches */
    assert_true(strcmp(c[i - 1].model, c[i].model) < 0);
  g = find(c, n, "gpt-4o");
  assert_non_null(g);
  assert_int_equal(g->context_tokens, 128000);
  assert_int_equal(g->max_output_tokens, 16384);
  assert_int_equal(g->modalities,
                   STORE_MOD_TEXT | STORE_MOD_IMAGE | STORE_MOD_FILE);
  assert_int_equal(g->tools, 1);
  g = find(c, n, "mistral-large-latest");
  assert_non_null(g);
  assert_int_equal(g->max_output_tokens, 0);
  assert_int_equal(g->modalities, 0);
  g = find(c, n, "deepseek-reasoner");
  assert_int_equal(g->tools, -1);
  /* every seeded row passes the checks the API applies */
  for(int i = 0; i < n; i++)
    assert_int_equal(store_caps_validate(&c[i], err, sizeof(err)), 0);
  store_caps_free(c, n);

  assert_int_equal(store_caps_set(f->db, &mine, err, sizeof(err)), 0);
  mine.context_tokens = 0;
  assert_int_equal(store_caps_set(f->db, &mine, err, sizeof(err)), SB_EINVAL);
  assert_int_equal(store_caps_list(f->db, &c, &n, err, sizeof(err)), 0);
  g = find(c, n, "local/m");
  assert_non_null(g);
  assert_int_equal(g->context_tokens, 8192);
  assert_int_equal(g->max_output_tokens, 1024);
  assert_int_equal(g->modalities, STORE_MOD_TEXT | STORE_MOD_IMAGE);
  assert_int_equal(g->tools, 0);
  assert_true(g->updated_at > 1700000000);
  j = store_caps_json(g);
  text = cJSON_PrintUnformatted(j);
  assert_non_null(strstr(text,
                         "\"object\":\"model.caps\",\"model\":\"local/m\","
                         "\"context_tokens\":8192,\"max_output_tokens\":"
                         "1024,\"modalities\":[\"text\",\"image\"],"
                         "\"tools\":false"));
  free(text);
  cJSON_Delete(j);
  g = find(c, n, "mistral-large-latest");
  j = store_caps_json(g);
  text = cJSON_PrintUnformatted(j);
  assert_non_null(strstr(text, "\"max_output_tokens\":null,\"modalities\":null,"
                               "\"tools\":true"));
  free(text);
  cJSON_Delete(j);
  store_caps_free(c, n);

  assert_int_equal(store_caps_delete(f->db, "local/m", err, sizeof(err)), 0);
  assert_int_equal(store_caps_delete(f->db, "local/m", err, sizeof(err)),
                   SB_ENOTFOUND);
}

static int load_empty(void *ud, struct prov_registry *prev, int strict,
                      struct prov_registry **out, char *err, size_t errlen)
{
  (void)ud;
  (void)prev;
  (void)strict;
  return prov_registry_build(NULL, 0, out, err, errlen);
}

static void test_admission_lookup(void **state)
{
  struct testdb *f = *state;
  const struct adm_registry_source src = {load_empty, NULL};
  struct store_model_caps mine = {
      .model = "azure/gpt-4o", .context_tokens = 64000, .tools = -1};
  struct adm_model_caps c;
  struct admission *a = NULL;
  struct store_keys_watch *w = NULL;
  int64_t v0, v1;
  char err[256], huge[400];

  assert_int_equal(adm_open(f->db, NULL, &src, &a, err, sizeof(err)), 0);
  /* the bare upstream name */
  assert_int_equal(adm_model_caps(a, "openai", "gpt-4o", &c), 0);
  assert_int_equal(c.context_tokens, 128000);
  assert_int_equal(c.max_output_tokens, 16384);
  assert_int_equal(c.tools, 1);
  assert_int_equal(adm_model_caps(a, "azure", "gpt-4o", &c), 0);
  assert_int_equal(c.context_tokens, 128000);
  assert_int_equal(adm_model_caps(a, "openai", "no-such-model", &c),
                   SB_ENOTFOUND);

  /* a provider's own row wins once reloaded; the change moves the
   * version the watchers follow */
  assert_int_equal(store_keys_version(f->db, &w, &v0, NULL), 0);
  assert_int_equal(store_caps_set(f->db, &mine, err, sizeof(err)), 0);
  assert_int_equal(store_keys_version(f->db, &w, &v1, NULL), 0);
  assert_true(v1 > v0);
  store_keys_version_close(w);
  assert_int_equal(adm_reload(a), 0);
  assert_int_equal(adm_model_caps(a, "azure", "gpt-4o", &c), 0);
  assert_int_equal(c.context_tokens, 64000);
  assert_int_equal(c.max_output_tokens, 0);
  assert_int_equal(c.modalities, 0);
  assert_int_equal(c.tools, -1);
  assert_int_equal(adm_model_caps(a, "openai", "gpt-4o", &c), 0);
  assert_int_equal(c.context_tokens, 128000);

  /* a name too long to join with its provider still finds nothing, safely */
  memset(huge, 'g', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = 0;
  assert_int_equal(adm_model_caps(a, "p", huge, &c), SB_ENOTFOUND);
  adm_close(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modality_names),
      cmocka_unit_test(test_validate),
      cmocka_unit_test_setup_teardown(test_seeded_and_edited, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_admission_lookup, testdb_setup,
                                      testdb_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
