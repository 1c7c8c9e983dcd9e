/* store/conv.h (conversations and their items through the writer queue,
 * read back at once) and store_sync(), the writer barrier under it. */
#include "tests/unit/support/testdb.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/conv.h"
#include "store/store.h"
#include "base/sb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct store *open_store(const char *path)
{
  struct store_options opt;
  struct store *st = NULL;
  char err[256];

  /* Small batches: a read has to wait for several commits. */
  store_options_default(&opt);
  opt.batch_max = 3;
  if(store_open(path, &opt, &st, err, sizeof(err)))
    fail_msg("store_open: %s", err);
  return st;
}

static struct store_conv *conv(const char *id, const char *key,
                               const char *metadata, int64_t created)
{
  struct store_conv *c = sb_calloc(1, sizeof(*c));

  c->id = sb_strdup(id);
  c->key_id = key ? sb_strdup(key) : NULL;
  c->metadata = metadata ? sb_strdup(metadata) : NULL;
  c->created_at = created;
  return c;
}

/* n message items "<prefix>1".."<prefix>n" in a fresh array. */
static struct store_conv_item *items(const char *prefix, int n)
{
  struct store_conv_item *a = sb_calloc((size_t)n, sizeof(*a));

  for(int i = 0; i < n; i++) {
    a[i].id = sb_asprintf("%s%d", prefix, i + 1);
    a[i].item =
        sb_asprintf("{\"id\":\"%s\",\"type\":\"message\",\"role\":\"user\","
                    "\"content\":[{\"type\":\"input_text\",\"text\":\"%d\"}]}",
                    a[i].id, i + 1);
    if(i % 2) {
      a[i].provider = sb_strdup("openai");
      a[i].model = sb_strdup("gpt-4o");
    }
  }
  return a;
}

static void test_put_get(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_conv *c = NULL;

  /* Read at once after the put: the read waits for the writer. */
  assert_int_equal(store_conv_put(st, conv("conv_a", "key_1", NULL, 100)), 0);
  assert_int_equal(store_conv_get(st, "conv_a", &c), 0);
  assert_string_equal(c->id, "conv_a");
  assert_string_equal(c->key_id, "key_1");
  assert_string_equal(c->metadata, "{}");
  assert_int_equal(c->created_at, 100);
  assert_int_equal(c->updated_at, 100);
  store_conv_free(c);

  /* A second put replaces metadata and updated_at only. */
  c = conv("conv_a", "key_other", "{\"k\":\"v\"}", 999);
  c->updated_at = 200;
  assert_int_equal(store_conv_put(st, c), 0);
  assert_int_equal(store_conv_get(st, "conv_a", &c), 0);
  assert_string_equal(c->key_id, "key_1");
  assert_string_equal(c->metadata, "{\"k\":\"v\"}");
  assert_int_equal(c->created_at, 100);
  assert_int_equal(c->updated_at, 200);
  store_conv_free(c);

  assert_int_equal(store_conv_get(st, "conv_none", &c), SB_ENOTFOUND);
  assert_null(c);
  assert_int_equal(store_conv_put(st, conv("conv_b", NULL, NULL, 0)), 0);
  assert_int_equal(store_conv_get(st, "conv_b", &c), 0);
  assert_null(c->key_id);
  assert_true(c->created_at > 1700000000);
  store_conv_free(c);

  assert_int_equal(store_conv_delete(st, "conv_a"), 0);
  assert_int_equal(store_conv_get(st, "conv_a", &c), SB_ENOTFOUND);
  store_close(st);

  /* Survives a restart. */
  st = open_store(f->db);
  assert_int_equal(store_conv_get(st, "conv_b", &c), 0);
  store_conv_free(c);
  store_close(st);
}

static void test_items(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_conv_item *all = NULL, *it = NULL, *bad;
  struct store_conv *c = NULL;
  int n = -1;

  assert_int_equal(store_conv_put(st, conv("conv_a", NULL, NULL, 100)), 0);
  assert_int_equal(store_conv_append(st, "conv_a", items("msg_", 5), 5), 0);
  assert_int_equal(store_conv_append(st, "conv_a", items("fc_", 2), 2), 0);
  /* A conversation that is not there takes nothing, and an id already
   * stored is skipped; neither fails the batch around them. */
  assert_int_equal(store_conv_append(st, "conv_none", items("x_", 2), 2), 0);
  assert_int_equal(store_conv_append(st, "conv_a", items("msg_", 1), 1), 0);
  assert_int_equal(store_conv_items_all(st, "conv_a", &all, &n), 0);
  assert_int_equal(n, 7);
  for(int i = 0; i < n; i++)
    assert_int_equal(all[i].seq, i + 1);
  assert_string_equal(all[0].id, "msg_1");
  assert_string_equal(all[4].id, "msg_5");
  assert_string_equal(all[5].id, "fc_1");
  assert_string_equal(all[6].id, "fc_2");
  assert_string_equal(all[6].conv_id, "conv_a");
  assert_null(all[0].provider);
  assert_string_equal(all[1].provider, "openai");
  assert_string_equal(all[1].model, "gpt-4o");
  assert_non_null(strstr(all[2].item, "\"text\":\"3\""));
  assert_true(all[0].created_at > 1700000000);
  store_conv_items_free(all, n);
  assert_int_equal(store_conv_items_all(st, "conv_none", &all, &n),
                   SB_ENOTFOUND);
  assert_int_equal(n, 0);

  /* The append moved updated_at. */
  assert_int_equal(store_conv_get(st, "conv_a", &c), 0);
  assert_true(c->updated_at > 100);
  store_conv_free(c);

  assert_int_equal(store_conv_item_get(st, "conv_a", "fc_2", &it), 0);
  assert_string_equal(it->id, "fc_2");
  assert_int_equal(it->seq, 7);
  store_conv_item_free(it);
  assert_int_equal(store_conv_item_get(st, "conv_b", "fc_2", &it),
                   SB_ENOTFOUND);
  assert_int_equal(store_conv_item_delete(st, "conv_a", "msg_3"), 0);
  assert_int_equal(store_conv_item_get(st, "conv_a", "msg_3", &it),
                   SB_ENOTFOUND);
  /* After a delete, new items still go after the last. */
  assert_int_equal(store_conv_append(st, "conv_a", items("rs_", 1), 1), 0);
  assert_int_equal(store_conv_item_get(st, "conv_a", "rs_1", &it), 0);
  assert_int_equal(it->seq, 8);
  store_conv_item_free(it);

  /* Items with no id or no JSON are refused at the call. */
  bad = items("z_", 2);
  free(bad[1].item);
  bad[1].item = NULL;
  assert_int_equal(store_conv_append(st, "conv_a", bad, 2), SB_EINVAL);

  /* Deleting the conversation deletes its items: their ids are free. */
  assert_int_equal(store_conv_delete(st, "conv_a"), 0);
  assert_int_equal(store_conv_put(st, conv("conv_c", NULL, NULL, 100)), 0);
  assert_int_equal(store_conv_append(st, "conv_c", items("msg_", 1), 1), 0);
  assert_int_equal(store_conv_items_all(st, "conv_c", &all, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(all[0].seq, 1);
  store_conv_items_free(all, n);
  assert_int_equal(store_dropped(st), 0);
  store_close(st);
}

static void test_pages(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_page pg = {NULL, 2, 0};
  struct store_conv_item *page = NULL;
  int n = -1, more = -1;

  assert_int_equal(store_conv_put(st, conv("conv_a", NULL, NULL, 100)), 0);
  assert_int_equal(store_conv_append(st, "conv_a", items("msg_", 5), 5), 0);

  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more), 0);
  assert_int_equal(n, 2);
  assert_true(more);
  assert_string_equal(page[0].id, "msg_1");
  assert_string_equal(page[1].id, "msg_2");
  store_conv_items_free(page, n);
  pg.after = "msg_4";
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more), 0);
  assert_int_equal(n, 1);
  assert_false(more);
  assert_string_equal(page[0].id, "msg_5");
  store_conv_items_free(page, n);

  /* Newest first. */
  pg.desc = 1;
  pg.after = NULL;
  pg.limit = 3;
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more), 0);
  assert_int_equal(n, 3);
  assert_true(more);
  assert_string_equal(page[0].id, "msg_5");
  assert_string_equal(page[2].id, "msg_3");
  store_conv_items_free(page, n);
  pg.after = "msg_3";
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more), 0);
  assert_int_equal(n, 2);
  assert_false(more);
  assert_string_equal(page[0].id, "msg_2");
  assert_string_equal(page[1].id, "msg_1");
  store_conv_items_free(page, n);
  pg.after = "msg_1";
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more), 0);
  assert_int_equal(n, 0);
  assert_false(more);
  store_conv_items_free(page, n);

  pg.after = "msg_nope";
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more),
                   SB_ENOTFOUND);
  pg.after = NULL;
  assert_int_equal(store_conv_items(st, "conv_b", &pg, &page, &n, &more),
                   SB_ENOTFOUND);
  pg.limit = 0;
  assert_int_equal(store_conv_items(st, "conv_a", &pg, &page, &n, &more),
                   SB_EINVAL);
  store_close(st);
}

static void test_list(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_page pg = {NULL, 2, 0};
  struct store_conv *cs = NULL;
  int n = -1, more = -1;

  /* conv_c and conv_b share a second: the order they came in orders
   * them. */
  assert_int_equal(store_conv_put(st, conv("conv_a", "k1", NULL, 10)), 0);
  assert_int_equal(store_conv_put(st, conv("conv_c", "k1", NULL, 20)), 0);
  assert_int_equal(store_conv_put(st, conv("conv_b", "k1", NULL, 20)), 0);
  assert_int_equal(store_conv_put(st, conv("conv_d", "k2", NULL, 30)), 0);
  assert_int_equal(store_conv_put(st, conv("conv_e", NULL, NULL, 40)), 0);

  assert_int_equal(store_convs_list(st, "k1", &pg, &cs, &n, &more), 0);
  assert_int_equal(n, 2);
  assert_true(more);
  assert_string_equal(cs[0].id, "conv_a");
  assert_string_equal(cs[1].id, "conv_c");
  store_convs_free(cs, n);
  pg.after = "conv_c";
  assert_int_equal(store_convs_list(st, "k1", &pg, &cs, &n, &more), 0);
  assert_int_equal(n, 1);
  assert_false(more);
  assert_string_equal(cs[0].id, "conv_b");
  store_convs_free(cs, n);
  /* Another key's conversation is no cursor for k1. */
  pg.after = "conv_d";
  assert_int_equal(store_convs_list(st, "k1", &pg, &cs, &n, &more),
                   SB_ENOTFOUND);

  /* Every one, newest first. */
  pg.after = NULL;
  pg.desc = 1;
  pg.limit = 10;
  assert_int_equal(store_convs_list(st, NULL, &pg, &cs, &n, &more), 0);
  assert_int_equal(n, 5);
  assert_false(more);
  assert_string_equal(cs[0].id, "conv_e");
  assert_null(cs[0].key_id);
  assert_string_equal(cs[1].id, "conv_d");
  assert_string_equal(cs[2].id, "conv_b");
  assert_string_equal(cs[3].id, "conv_c");
  assert_string_equal(cs[4].id, "conv_a");
  store_convs_free(cs, n);
  pg.after = "conv_b";
  assert_int_equal(store_convs_list(st, NULL, &pg, &cs, &n, &more), 0);
  assert_int_equal(n, 2);
  assert_string_equal(cs[0].id, "conv_c");
  store_convs_free(cs, n);
  store_close(st);
}

/* The barrier holds for every kind of write, not only conversations:
 * after many queued writes, store_sync returns once all are through. */
static void test_sync(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_conv_item *all = NULL;
  int n = -1;

  assert_int_equal(store_sync(st), 0); /* nothing queued */
  assert_int_equal(store_conv_put(st, conv("conv_a", NULL, NULL, 1)), 0);
  for(int i = 0; i < 200; i++) {
    char *id = sb_asprintf("m%d", i);
    struct store_conv_item *it = sb_calloc(1, sizeof(*it));
    it->id = id;
    it->item = sb_asprintf("{\"id\":\"%s\"}", id);
    assert_int_equal(store_conv_append(st, "conv_a", it, 1), 0);
  }
  assert_int_equal(store_sync(st), 0);
  assert_int_equal(store_conv_items_all(st, "conv_a", &all, &n), 0);
  assert_int_equal(n, 200);
  assert_string_equal(all[199].id, "m199");
  assert_int_equal(all[199].seq, 200);
  store_conv_items_free(all, n);
  assert_int_equal(store_sync(NULL), SB_EINVAL);
  store_close(st);
}

static struct store_conv_summary *summary(const char *conv_id, const char *cut,
                                          const char *text)
{
  struct store_conv_summary *s = sb_calloc(1, sizeof(*s));

  s->conv_id = sb_strdup(conv_id);
  s->cut_item = sb_strdup(cut);
  s->summary = text ? sb_strdup(text) : NULL;
  s->model = sb_strdup("openai/gpt-4o-mini");
  return s;
}

/* Summaries by conversation and cut: replaced by a second put, never kept
 * for a conversation that does not exist, gone with their conversation. */
static void test_summaries(void **state)
{
  struct testdb *f = *state;
  struct store *st = open_store(f->db);
  struct store_conv_summary *s = NULL;

  assert_int_equal(store_conv_put(st, conv("conv_s", "key_1", NULL, 0)), 0);
  assert_int_equal(store_conv_summary_put(st, summary("conv_s", "msg_2", "a")),
                   0);
  assert_int_equal(store_conv_summary_put(st, summary("conv_s", "msg_4", "b")),
                   0);
  assert_int_equal(store_conv_summary_get(st, "conv_s", "msg_2", &s), 0);
  assert_string_equal(s->summary, "a");
  assert_string_equal(s->model, "openai/gpt-4o-mini");
  assert_true(s->created_at > 1700000000);
  store_conv_summary_free(s);
  assert_int_equal(store_conv_summary_put(st, summary("conv_s", "msg_2", "c")),
                   0);
  assert_int_equal(store_conv_summary_get(st, "conv_s", "msg_2", &s), 0);
  assert_string_equal(s->summary, "c");
  store_conv_summary_free(s);
  assert_int_equal(store_conv_summary_get(st, "conv_s", "msg_3", &s),
                   SB_ENOTFOUND);
  assert_null(s);

  assert_int_equal(
      store_conv_summary_put(st, summary("conv_none", "msg_1", "x")), 0);
  assert_int_equal(store_conv_summary_get(st, "conv_none", "msg_1", &s),
                   SB_ENOTFOUND);
  assert_int_equal(store_conv_summary_put(st, summary("conv_s", "m", NULL)),
                   SB_EINVAL);

  assert_int_equal(store_conv_delete(st, "conv_s"), 0);
  assert_int_equal(store_conv_summary_get(st, "conv_s", "msg_4", &s),
                   SB_ENOTFOUND);
  store_close(st);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_items, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_pages, testdb_setup,
                                      testdb_teardown),
      cmocka_unit_test_setup_teardown(test_list, testdb_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_sync, testdb_setup, testdb_teardown),
      cmocka_unit_test_setup_teardown(test_summaries, testdb_setup,
                                      testdb_teardown),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
