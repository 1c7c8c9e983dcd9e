/*
 * ui.c - the dashboard's sessions (store/ui.h).
 */
#include "store/ui.h"
#include "store/db.h"
#include "base/sb.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* A session's last use is written at most this often: a page polling the
 * admin API should not turn every read into a write. */
#define TOUCH_EVERY_S 60

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, char *err,
                     size_t errlen)
{
  int rc = sqlite3_step(st) == SQLITE_DONE
               ? 0
               : store_db_fail(db, what, err, errlen);

  sqlite3_finalize(st);
  return rc;
}

int store_ui_session_create(const char *path,
                            const unsigned char hash[STORE_UI_HASH_LEN],
                            const char *key_id, const char *admin_tag,
                            const char *csrf, int64_t now_s, int64_t ttl_s,
                            char *err, size_t errlen)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  int rc;

  if(strlen(key_id) >= STORE_UI_KEY_ID_MAX ||
     strlen(csrf) >= STORE_UI_CSRF_MAX ||
     strlen(admin_tag) >= STORE_UI_TAG_MAX) {
    sb_errf(err, errlen, "session: key id or token too long");
    return SB_EINVAL;
  }
  if((rc = store_db_begin(path, 1, &db, err, errlen)))
    return rc;
  if(sqlite3_prepare_v2(db, "DELETE FROM ui_sessions WHERE expires_at <= ?", -1,
                        &st, NULL) != SQLITE_OK) {
    rc = store_db_fail(db, "prepare", err, errlen);
    return store_db_finish(db, rc, err, errlen);
  }
  sqlite3_bind_int64(st, 1, now_s);
  if((rc = step_done(db, st, "expire sessions", err, errlen)))
    return store_db_finish(db, rc, err, errlen);
  if(sqlite3_prepare_v2(db,
                        "INSERT INTO ui_sessions(id_hash, key_id, csrf_token, "
                        "created_at, expires_at, last_seen_at, admin_tag) "
                        "VALUES(?, ?, ?, ?, ?, ?, ?)",
                        -1, &st, NULL) != SQLITE_OK) {
    rc = store_db_fail(db, "prepare", err, errlen);
    return store_db_finish(db, rc, err, errlen);
  }
  sqlite3_bind_blob(st, 1, hash, STORE_UI_HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, now_s);
  sqlite3_bind_int64(st, 5, now_s + ttl_s);
  sqlite3_bind_int64(st, 6, now_s);
  sqlite3_bind_text(st, 7, admin_tag, -1, SQLITE_STATIC);
  rc = step_done(db, st, "insert session", err, errlen);
  return store_db_finish(db, rc, err, errlen);
}

int store_ui_session_get(const char *path,
                         const unsigned char hash[STORE_UI_HASH_LEN],
                         int64_t now_s, struct store_ui_session *out, char *err,
                         size_t errlen)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t seen = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  if((rc = store_db_begin(path, 0, &db, err, errlen)))
    return rc;
  if(sqlite3_prepare_v2(db,
                        "SELECT key_id, csrf_token, created_at, expires_at, "
                        "last_seen_at, admin_tag FROM ui_sessions "
                        "WHERE id_hash = ? AND expires_at > ?",
                        -1, &st, NULL) != SQLITE_OK) {
    rc = store_db_fail(db, "prepare", err, errlen);
    return store_db_finish(db, rc, err, errlen);
  }
  sqlite3_bind_blob(st, 1, hash, STORE_UI_HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now_s);
  switch(sqlite3_step(st)) {
  case SQLITE_ROW: {
    const char *k = (const char *)sqlite3_column_text(st, 0);
    const char *c = (const char *)sqlite3_column_text(st, 1);
    const char *t = (const char *)sqlite3_column_text(st, 5);
    snprintf(out->key_id, sizeof(out->key_id), "%s", k ? k : "");
    snprintf(out->csrf, sizeof(out->csrf), "%s", c ? c : "");
    snprintf(out->admin_tag, sizeof(out->admin_tag), "%s", t ? t : "");
    out->created_at = sqlite3_column_int64(st, 2);
    out->expires_at = sqlite3_column_int64(st, 3);
    seen = sqlite3_column_int64(st, 4);
    break;
  }
  case SQLITE_DONE: rc = SB_ENOTFOUND; break;
  default: rc = store_db_fail(db, "read session", err, errlen); break;
  }
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc || now_s - seen < TOUCH_EVERY_S)
    return rc;
  /* Noting the use is best effort: a busy database does not sign anyone
   * out. */
  if(!store_db_begin(path, 1, &db, err, errlen)) {
    int wrc = SB_EDB;
    if(sqlite3_prepare_v2(db,
                          "UPDATE ui_sessions SET last_seen_at = ? "
                          "WHERE id_hash = ?",
                          -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(st, 1, now_s);
      sqlite3_bind_blob(st, 2, hash, STORE_UI_HASH_LEN, SQLITE_STATIC);
      wrc = step_done(db, st, "touch session", err, errlen);
    }
    store_db_finish(db, wrc, err, errlen);
  }
  return 0;
}

int store_ui_session_delete(const char *path,
                            const unsigned char hash[STORE_UI_HASH_LEN],
                            char *err, size_t errlen)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  int rc;

  if((rc = store_db_begin(path, 1, &db, err, errlen)))
    return rc;
  if(sqlite3_prepare_v2(db, "DELETE FROM ui_sessions WHERE id_hash = ?", -1,
                        &st, NULL) != SQLITE_OK) {
    rc = store_db_fail(db, "prepare", err, errlen);
    return store_db_finish(db, rc, err, errlen);
  }
  sqlite3_bind_blob(st, 1, hash, STORE_UI_HASH_LEN, SQLITE_STATIC);
  rc = step_done(db, st, "delete session", err, errlen);
  return store_db_finish(db, rc, err, errlen);
}
