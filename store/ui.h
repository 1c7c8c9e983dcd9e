/*
 * ui.h - the web dashboard's sign-in sessions in SQLite (table
 * `ui_sessions`, migrations/0018_ui_sessions.sql).
 *
 * A session is found by the SHA-256 of its cookie; the cookie itself is
 * never stored. Like store/keys.h, every function opens its own
 * connection and does its work in one transaction: BLOCKING, for a
 * thread pool (req_offload) or the CLI, never an event loop.
 */
#ifndef SB_STORE_UI_H
#define SB_STORE_UI_H

#include <stddef.h>
#include <stdint.h>

#define STORE_UI_HASH_LEN 32
/* Longest key id and CSRF token kept, with the NUL. */
#define STORE_UI_KEY_ID_MAX 40
#define STORE_UI_CSRF_MAX   80
#define STORE_UI_TAG_MAX    80

/** A live session as read back. */
struct store_ui_session {
  char key_id[STORE_UI_KEY_ID_MAX]; /* "" for SWITCHBOARD_ADMIN_KEY */
  char csrf[STORE_UI_CSRF_MAX];
  char admin_tag[STORE_UI_TAG_MAX]; /* for key_id "": adm_admin_env_tag() */
  int64_t created_at, expires_at;   /* unix seconds */
};

/**
 * Store a session of key_id (see above; admin_tag, "" for a key) with
 * csrf, expiring ttl_s after
 * now_s, and drop the sessions that have expired by now_s. 0, or SB_EDB
 * (SB_EINVAL for a key id or token too long) with err.
 */
int store_ui_session_create(const char *path,
                            const unsigned char hash[STORE_UI_HASH_LEN],
                            const char *key_id, const char *admin_tag,
                            const char *csrf, int64_t now_s, int64_t ttl_s,
                            char *err, size_t errlen);

/**
 * The session whose cookie hashes to hash, if it has not expired by
 * now_s, into *out; its last use is noted (at most once a minute). 0,
 * SB_ENOTFOUND (none, or expired), or SB_EDB with err.
 */
int store_ui_session_get(const char *path,
                         const unsigned char hash[STORE_UI_HASH_LEN],
                         int64_t now_s, struct store_ui_session *out, char *err,
                         size_t errlen);

/** Delete the session whose cookie hashes to hash. 0 (also when there
 * was none), or SB_EDB with err. */
int store_ui_session_delete(const char *path,
                            const unsigned char hash[STORE_UI_HASH_LEN],
                            char *err, size_t errlen);

#endif
