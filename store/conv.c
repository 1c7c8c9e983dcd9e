/*
 * conv.c - conversations and their items (store/conv.h).
 *
 * Writes are items of the writer's queue (store.c): this file builds
 * them, and writes and frees them when the writer asks (store_conv_write,
 * store_conv_qfree, on the writer thread inside its batch). Reads first
 * pass the writer's barrier (store_sync), so that they see every write
 * submitted before them, then read on a connection of their own.
 *
 * A write must never fail the writer's batch (other records ride in it):
 * an append to a conversation that is gone is skipped, and so is an item
 * whose id is already stored (the client sent an item it had before).
 */
#include "store/conv.h"
#include "store/db.h"
#include "store/store.h"
#include "base/sb.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* STORE_ITEM_CONV_APPEND's record, and STORE_ITEM_CONV_ITEM_DELETE's
 * (item_id set, no items). */
struct store_conv_append {
  char *conv_id;
  char *item_id;
  struct store_conv_item *items;
  int n;
  int64_t now;
};

static void conv_members_free(struct store_conv *c)
{
  free(c->id);
  free(c->key_id);
  free(c->metadata);
}

void store_conv_free(struct store_conv *c)
{
  if(!c)
    return;
  conv_members_free(c);
  free(c);
}

void store_convs_free(struct store_conv *c, int n)
{
  for(int i = 0; c && i < n; i++)
    conv_members_free(&c[i]);
  free(c);
}

static void item_members_free(struct store_conv_item *it)
{
  free(it->id);
  free(it->conv_id);
  free(it->item);
  free(it->provider);
  free(it->model);
}

void store_conv_item_free(struct store_conv_item *it)
{
  if(!it)
    return;
  item_members_free(it);
  free(it);
}

void store_conv_items_free(struct store_conv_item *it, int n)
{
  for(int i = 0; it && i < n; i++)
    item_members_free(&it[i]);
  free(it);
}

static void append_free(struct store_conv_append *a)
{
  if(!a)
    return;
  free(a->conv_id);
  free(a->item_id);
  store_conv_items_free(a->items, a->n);
  free(a);
}

void store_conv_summary_free(struct store_conv_summary *s)
{
  if(!s)
    return;
  free(s->conv_id);
  free(s->cut_item);
  free(s->summary);
  free(s->model);
  free(s);
}

void store_conv_qfree(enum store_item_kind kind, void *rec)
{
  switch(kind) {
  case STORE_ITEM_CONV_SUMMARY_PUT: store_conv_summary_free(rec); break;
  case STORE_ITEM_CONV_PUT: store_conv_free(rec); break;
  case STORE_ITEM_CONV_APPEND:
  case STORE_ITEM_CONV_ITEM_DELETE: append_free(rec); break;
  default: free(rec); break;
  }
}

/* ---- queued writes ---- */

int store_conv_put(struct store *st, struct store_conv *c)
{
  if(!st || !c || !c->id) {
    store_conv_free(c);
    return SB_EINVAL;
  }
  if(!c->metadata)
    c->metadata = sb_strdup("{}");
  if(!c->created_at)
    c->created_at = (int64_t)time(NULL);
  if(!c->updated_at)
    c->updated_at = c->created_at;
  return store_queue_submit(st, STORE_ITEM_CONV_PUT, c);
}

int store_conv_summary_put(struct store *st, struct store_conv_summary *s)
{
  if(!st || !s || !s->conv_id || !s->cut_item || !s->summary) {
    store_conv_summary_free(s);
    return SB_EINVAL;
  }
  if(!s->created_at)
    s->created_at = (int64_t)time(NULL);
  return store_queue_submit(st, STORE_ITEM_CONV_SUMMARY_PUT, s);
}

int store_conv_delete(struct store *st, const char *id)
{
  if(!st || !id)
    return SB_EINVAL;
  return store_queue_submit(st, STORE_ITEM_CONV_DELETE, sb_strdup(id));
}

int store_conv_append(struct store *st, const char *conv_id,
                      struct store_conv_item *items, int n)
{
  struct store_conv_append *a;
  int64_t now = (int64_t)time(NULL);

  if(!st || !conv_id || n < 0 || (n && !items)) {
    store_conv_items_free(items, n);
    return SB_EINVAL;
  }
  /* id and item are NOT NULL columns: one such item would fail the
   * whole batch it lands in, so it is refused here, at the caller. */
  for(int i = 0; i < n; i++)
    if(!items[i].id || !items[i].item) {
      store_conv_items_free(items, n);
      return SB_EINVAL;
    }
  for(int i = 0; i < n; i++) {
    free(items[i].conv_id);
    items[i].conv_id = sb_strdup(conv_id);
    if(!items[i].created_at)
      items[i].created_at = now;
  }
  a = sb_calloc(1, sizeof(*a));
  a->conv_id = sb_strdup(conv_id);
  a->items = items;
  a->n = n;
  a->now = now;
  return store_queue_submit(st, STORE_ITEM_CONV_APPEND, a);
}

int store_conv_item_delete(struct store *st, const char *conv_id,
                           const char *item_id)
{
  struct store_conv_append *a;

  if(!st || !conv_id || !item_id)
    return SB_EINVAL;
  a = sb_calloc(1, sizeof(*a));
  a->conv_id = sb_strdup(conv_id);
  a->item_id = sb_strdup(item_id);
  return store_queue_submit(st, STORE_ITEM_CONV_ITEM_DELETE, a);
}

/* ---- the writer's side (writer thread, inside its transaction) ---- */

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
  if(s)
    sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(stmt, i);
}

static int step_done(sqlite3_stmt *stmt)
{
  int rc = sqlite3_step(stmt);

  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int write_put(sqlite3 *db, const struct store_conv *c)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(
      db,
      "INSERT INTO conversations(id, key_id, metadata, created_at,"
      " updated_at) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE"
      " SET metadata = excluded.metadata, updated_at = excluded.updated_at",
      -1, &stmt, NULL);

  if(rc != SQLITE_OK)
    return rc;
  bind_text(stmt, 1, c->id);
  bind_text(stmt, 2, c->key_id);
  bind_text(stmt, 3, c->metadata);
  sqlite3_bind_int64(stmt, 4, c->created_at);
  sqlite3_bind_int64(stmt, 5, c->updated_at);
  rc = step_done(stmt);
  sqlite3_finalize(stmt);
  return rc;
}

static int write_delete(sqlite3 *db, const char *id)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(
      db, "DELETE FROM conversation_items WHERE conv_id = ?1", -1, &stmt, NULL);

  if(rc != SQLITE_OK)
    return rc;
  bind_text(stmt, 1, id);
  rc = step_done(stmt);
  sqlite3_finalize(stmt);
  if(rc != SQLITE_OK)
    return rc;
  rc = sqlite3_prepare_v2(db, "DELETE FROM conversations WHERE id = ?1", -1,
                          &stmt, NULL);
  if(rc != SQLITE_OK)
    return rc;
  bind_text(stmt, 1, id);
  rc = step_done(stmt);
  sqlite3_finalize(stmt);
  return rc;
}

/* Each item after the conversation's last, in order; the seq is computed
 * per row, so one statement serves them all. */
static int write_append(sqlite3 *db, const struct store_conv_append *a)
{
  sqlite3_stmt *ins, *upd;
  int rc = sqlite3_prepare_v2(
      db,
      "INSERT OR IGNORE INTO conversation_items(id, conv_id, seq, item,"
      " provider, model, created_at)"
      " SELECT ?1, ?2, (SELECT coalesce(max(seq), 0) + 1"
      " FROM conversation_items WHERE conv_id = ?2), ?3, ?4, ?5, ?6"
      " WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?2)",
      -1, &ins, NULL);

  if(rc != SQLITE_OK)
    return rc;
  for(int i = 0; rc == SQLITE_OK && i < a->n; i++) {
    const struct store_conv_item *it = &a->items[i];
    bind_text(ins, 1, it->id);
    bind_text(ins, 2, a->conv_id);
    bind_text(ins, 3, it->item);
    bind_text(ins, 4, it->provider);
    bind_text(ins, 5, it->model);
    sqlite3_bind_int64(ins, 6, it->created_at);
    rc = step_done(ins);
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
  }
  sqlite3_finalize(ins);
  if(rc != SQLITE_OK)
    return rc;
  rc = sqlite3_prepare_v2(
      db, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1", -1, &upd,
      NULL);
  if(rc != SQLITE_OK)
    return rc;
  bind_text(upd, 1, a->conv_id);
  sqlite3_bind_int64(upd, 2, a->now);
  rc = step_done(upd);
  sqlite3_finalize(upd);
  return rc;
}

static int write_item_delete(sqlite3 *db, const struct store_conv_append *a)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(
      db, "DELETE FROM conversation_items WHERE conv_id = ?1 AND id = ?2", -1,
      &stmt, NULL);

  if(rc != SQLITE_OK)
    return rc;
  bind_text(stmt, 1, a->conv_id);
  bind_text(stmt, 2, a->item_id);
  rc = step_done(stmt);
  sqlite3_finalize(stmt);
  return rc;
}

/* A summary of a conversation that is gone (deleted while it was being
 * written) is not kept. */
static int write_summary(sqlite3 *db, const struct store_conv_summary *s)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(
      db,
      "INSERT OR REPLACE INTO conversation_summaries(conversation_id,"
      " cut_item, summary, model, created_at)"
      " SELECT ?1, ?2, ?3, ?4, ?5"
      " WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?1)",
      -1, &stmt, NULL);

  if(rc != SQLITE_OK)
    return rc;
  bind_text(stmt, 1, s->conv_id);
  bind_text(stmt, 2, s->cut_item);
  bind_text(stmt, 3, s->summary);
  bind_text(stmt, 4, s->model);
  sqlite3_bind_int64(stmt, 5, s->created_at);
  rc = step_done(stmt);
  sqlite3_finalize(stmt);
  return rc;
}

int store_conv_write(sqlite3 *db, enum store_item_kind kind, const void *rec)
{
  switch(kind) {
  case STORE_ITEM_CONV_PUT: return write_put(db, rec);
  case STORE_ITEM_CONV_DELETE: return write_delete(db, rec);
  case STORE_ITEM_CONV_APPEND: return write_append(db, rec);
  case STORE_ITEM_CONV_ITEM_DELETE: return write_item_delete(db, rec);
  case STORE_ITEM_CONV_SUMMARY_PUT: return write_summary(db, rec);
  default: return SQLITE_MISUSE;
  }
}

/* ---- reads (blocking) ---- */

/* Pass the writer's barrier, then take the store's reader connection
 * in a read transaction (one snapshot for the statements of a read). */
static int reader(struct store *st, sqlite3 **db)
{
  int rc = store_sync(st);

  *db = NULL;
  if(rc)
    return rc == SB_EAGAIN ? SB_EDB : rc;
  *db = store_read_begin(st);
  if(sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    store_read_end(st);
    *db = NULL;
    return SB_EDB;
  }
  return SB_OK;
}

static char *column_dup(sqlite3_stmt *stmt, int i)
{
  const unsigned char *t = sqlite3_column_text(stmt, i);

  return t ? sb_strdup((const char *)t) : NULL;
}

/* End a read begun by reader(); rc passes through. */
static int done(struct store *st, sqlite3 *db, int rc)
{
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  store_read_end(st);
  return rc;
}

#define CONV_COLUMNS "id, key_id, metadata, created_at, updated_at"

static void conv_row(sqlite3_stmt *stmt, struct store_conv *c)
{
  c->id = column_dup(stmt, 0);
  c->key_id = column_dup(stmt, 1);
  c->metadata = column_dup(stmt, 2);
  c->created_at = sqlite3_column_int64(stmt, 3);
  c->updated_at = sqlite3_column_int64(stmt, 4);
}

#define ITEM_COLUMNS "id, conv_id, seq, item, provider, model, created_at"

static void item_row(sqlite3_stmt *stmt, struct store_conv_item *it)
{
  it->id = column_dup(stmt, 0);
  it->conv_id = column_dup(stmt, 1);
  it->seq = sqlite3_column_int64(stmt, 2);
  it->item = column_dup(stmt, 3);
  it->provider = column_dup(stmt, 4);
  it->model = column_dup(stmt, 5);
  it->created_at = sqlite3_column_int64(stmt, 6);
}

/* One row of sql (bindings: text args, NULL ones as NULL) into row();
 * 0, SB_ENOTFOUND, SB_EDB. */
static int one_row(sqlite3 *db, const char *sql, const char *a, const char *b,
                   void (*row)(sqlite3_stmt *, void *), void *out)
{
  sqlite3_stmt *stmt;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

  if(rc != SQLITE_OK)
    return SB_EDB;
  bind_text(stmt, 1, a);
  if(b)
    bind_text(stmt, 2, b);
  rc = sqlite3_step(stmt);
  if(rc == SQLITE_ROW)
    row(stmt, out);
  sqlite3_finalize(stmt);
  if(rc == SQLITE_ROW)
    return SB_OK;
  return rc == SQLITE_DONE ? SB_ENOTFOUND : SB_EDB;
}

static void conv_row_cb(sqlite3_stmt *stmt, void *out)
{
  conv_row(stmt, out);
}

static void item_row_cb(sqlite3_stmt *stmt, void *out)
{
  item_row(stmt, out);
}

static void int_row_cb(sqlite3_stmt *stmt, void *out)
{
  *(int64_t *)out = sqlite3_column_int64(stmt, 0);
}

int store_conv_get(struct store *st, const char *id, struct store_conv **out)
{
  struct store_conv *c;
  sqlite3 *db;
  int rc;

  *out = NULL;
  if(!st || !id)
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  c = sb_calloc(1, sizeof(*c));
  rc = one_row(db, "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1",
               id, NULL, conv_row_cb, c);
  if(rc)
    store_conv_free(c);
  else
    *out = c;
  return done(st, db, rc);
}

int store_conv_item_get(struct store *st, const char *conv_id,
                        const char *item_id, struct store_conv_item **out)
{
  struct store_conv_item *it;
  sqlite3 *db;
  int rc;

  *out = NULL;
  if(!st || !conv_id || !item_id)
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  it = sb_calloc(1, sizeof(*it));
  rc = one_row(db,
               "SELECT " ITEM_COLUMNS " FROM conversation_items"
               " WHERE conv_id = ?1 AND id = ?2",
               conv_id, item_id, item_row_cb, it);
  if(rc)
    store_conv_item_free(it);
  else
    *out = it;
  return done(st, db, rc);
}

/* Rows of a prepared statement into a growing array of elements of size
 * sz, at most max of them (max < 0: all); *more when a row was left. */
static int all_rows(sqlite3_stmt *stmt, size_t sz,
                    void (*row)(sqlite3_stmt *, void *), int max, void **out,
                    int *n, int *more)
{
  char *arr = NULL;
  int cap = 0, rc;

  *n = 0;
  if(more)
    *more = 0;
  while((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if(max >= 0 && *n == max) {
      if(more)
        *more = 1;
      rc = SQLITE_DONE;
      break;
    }
    if(*n == cap) {
      cap = cap ? cap * 2 : 16;
      arr = sb_realloc(arr, (size_t)cap * sz);
    }
    memset(arr + (size_t)*n * sz, 0, sz);
    row(stmt, arr + (size_t)(*n)++ * sz);
  }
  *out = arr;
  return rc == SQLITE_DONE ? SB_OK : SB_EDB;
}

static int check_page(const struct store_page *pg)
{
  return pg && pg->limit >= 1 && pg->limit <= 1000 ? SB_OK : SB_EINVAL;
}

int store_conv_items(struct store *st, const char *conv_id,
                     const struct store_page *pg, struct store_conv_item **out,
                     int *n, int *has_more)
{
  struct store_conv c = {0};
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db;
  int64_t after = pg && pg->desc ? INT64_MAX : 0;
  void *arr = NULL;
  int rc;

  *out = NULL;
  *n = 0;
  *has_more = 0;
  if(!st || !conv_id || check_page(pg))
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  rc = one_row(db, "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1",
               conv_id, NULL, conv_row_cb, &c);
  conv_members_free(&c);
  if(!rc && pg->after)
    rc = one_row(db,
                 "SELECT seq FROM conversation_items"
                 " WHERE conv_id = ?1 AND id = ?2",
                 conv_id, pg->after, int_row_cb, &after);
  if(rc)
    return done(st, db, rc);
  if(sqlite3_prepare_v2(db,
                        pg->desc ? "SELECT " ITEM_COLUMNS
                                   " FROM conversation_items WHERE conv_id = ?1"
                                   " AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
                                 : "SELECT " ITEM_COLUMNS
                                   " FROM conversation_items WHERE conv_id = ?1"
                                   " AND seq > ?2 ORDER BY seq LIMIT ?3",
                        -1, &stmt, NULL) != SQLITE_OK)
    return done(st, db, SB_EDB);
  bind_text(stmt, 1, conv_id);
  sqlite3_bind_int64(stmt, 2, after);
  sqlite3_bind_int(stmt, 3, pg->limit + 1); /* one more tells has_more */
  rc = all_rows(stmt, sizeof(struct store_conv_item), item_row_cb, pg->limit,
                &arr, n, has_more);
  sqlite3_finalize(stmt);
  if(rc) {
    store_conv_items_free(arr, *n);
    *n = 0;
    *has_more = 0;
    return done(st, db, rc);
  }
  *out = arr;
  return done(st, db, SB_OK);
}

int store_conv_items_all(struct store *st, const char *conv_id,
                         struct store_conv_item **out, int *n)
{
  struct store_conv c = {0};
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db;
  void *arr = NULL;
  int rc;

  *out = NULL;
  *n = 0;
  if(!st || !conv_id)
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  rc = one_row(db, "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1",
               conv_id, NULL, conv_row_cb, &c);
  conv_members_free(&c);
  if(rc)
    return done(st, db, rc);
  if(sqlite3_prepare_v2(db,
                        "SELECT " ITEM_COLUMNS " FROM conversation_items"
                        " WHERE conv_id = ?1 ORDER BY seq",
                        -1, &stmt, NULL) != SQLITE_OK)
    return done(st, db, SB_EDB);
  bind_text(stmt, 1, conv_id);
  rc = all_rows(stmt, sizeof(struct store_conv_item), item_row_cb, -1, &arr, n,
                NULL);
  sqlite3_finalize(stmt);
  if(rc) {
    store_conv_items_free(arr, *n);
    *n = 0;
    return done(st, db, rc);
  }
  *out = arr;
  return done(st, db, SB_OK);
}

/* The listing's cursor: created_at and rowid of conversation id, which
 * must be key_id's when key_id is set. */
struct cursor {
  int64_t created_at, rowid;
  char *key_id;
};

static void cursor_row_cb(sqlite3_stmt *stmt, void *out)
{
  struct cursor *c = out;

  c->created_at = sqlite3_column_int64(stmt, 0);
  c->rowid = sqlite3_column_int64(stmt, 1);
  c->key_id = column_dup(stmt, 2);
}

int store_convs_list(struct store *st, const char *key_id,
                     const struct store_page *pg, struct store_conv **out,
                     int *n, int *has_more)
{
  struct cursor cur = {0, 0, NULL};
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db;
  void *arr = NULL;
  int rc;

  *out = NULL;
  *n = 0;
  *has_more = 0;
  if(!st || check_page(pg))
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  /* The order is (created_at, rowid): creation order, also within one
   * second; an update keeps the rowid. */
  if(pg->after) {
    rc = one_row(db,
                 "SELECT created_at, rowid, key_id FROM conversations"
                 " WHERE id = ?1",
                 pg->after, NULL, cursor_row_cb, &cur);
    if(!rc && key_id && (!cur.key_id || strcmp(cur.key_id, key_id)))
      rc = SB_ENOTFOUND;
    free(cur.key_id);
    if(rc)
      return done(st, db, rc);
  }
  if(sqlite3_prepare_v2(
         db,
         pg->desc ? "SELECT " CONV_COLUMNS " FROM conversations"
                    " WHERE (?1 IS NULL OR key_id = ?1) AND (?2 = 0 OR"
                    " (created_at, rowid) < (?3, ?4))"
                    " ORDER BY created_at DESC, rowid DESC LIMIT ?5"
                  : "SELECT " CONV_COLUMNS " FROM conversations"
                    " WHERE (?1 IS NULL OR key_id = ?1) AND (?2 = 0 OR"
                    " (created_at, rowid) > (?3, ?4))"
                    " ORDER BY created_at, rowid LIMIT ?5",
         -1, &stmt, NULL) != SQLITE_OK)
    return done(st, db, SB_EDB);
  bind_text(stmt, 1, key_id);
  sqlite3_bind_int(stmt, 2, pg->after != NULL);
  sqlite3_bind_int64(stmt, 3, cur.created_at);
  sqlite3_bind_int64(stmt, 4, cur.rowid);
  sqlite3_bind_int(stmt, 5, pg->limit + 1);
  rc = all_rows(stmt, sizeof(struct store_conv), conv_row_cb, pg->limit, &arr,
                n, has_more);
  sqlite3_finalize(stmt);
  if(rc) {
    store_convs_free(arr, *n);
    *n = 0;
    *has_more = 0;
    return done(st, db, rc);
  }
  *out = arr;
  return done(st, db, SB_OK);
}

static void summary_row_cb(sqlite3_stmt *stmt, void *out)
{
  struct store_conv_summary *s = out;

  s->conv_id = column_dup(stmt, 0);
  s->cut_item = column_dup(stmt, 1);
  s->summary = column_dup(stmt, 2);
  s->model = column_dup(stmt, 3);
  s->created_at = sqlite3_column_int64(stmt, 4);
}

int store_conv_summary_get(struct store *st, const char *conv_id,
                           const char *cut_item,
                           struct store_conv_summary **out)
{
  struct store_conv_summary *s;
  sqlite3 *db;
  int rc;

  *out = NULL;
  if(!st || !conv_id || !cut_item)
    return SB_EINVAL;
  rc = reader(st, &db);
  if(rc)
    return rc;
  s = sb_calloc(1, sizeof(*s));
  rc = one_row(db,
               "SELECT conversation_id, cut_item, summary, model, created_at"
               " FROM conversation_summaries"
               " WHERE conversation_id = ?1 AND cut_item = ?2",
               conv_id, cut_item, summary_row_cb, s);
  if(rc || !s->summary) {
    store_conv_summary_free(s);
    rc = rc ? rc : SB_EDB;
  } else {
    *out = s;
  }
  return done(st, db, rc);
}
