/*
 * db.h - short-lived connections for the blocking store functions (keys,
 * prices, routes, usage queries). Internal to store/.
 */
#ifndef SB_STORE_DB_H
#define SB_STORE_DB_H

#include <sqlite3.h>
#include <stddef.h>

/**
 * Open the existing database at path and begin a transaction: IMMEDIATE
 * when write (so that checks made in it hold until COMMIT), else a read.
 * 0, or SB_EDB with err.
 */
int store_db_begin(const char *path, int write, sqlite3 **out, char *err,
                   size_t errlen);

/** Commit when rc is 0, else roll back; close either way. Returns rc, or
 * SB_EDB when the commit failed. */
int store_db_finish(sqlite3 *db, int rc, char *err, size_t errlen);

/** SB_EDB with "what: <sqlite message>" in err. */
int store_db_fail(sqlite3 *db, const char *what, char *err, size_t errlen);

/** In its own transaction, run sql (a DELETE with one parameter, ?1 =
 * key) on path. 0, SB_ENOTFOUND when it deleted nothing, or SB_EDB with
 * err. */
int store_db_delete_one(const char *path, const char *sql, const char *key,
                        char *err, size_t errlen);

/* ---- the writer queue (store.c), for the modules that queue records ---- */

struct store;

/* What a queued item holds; the writer writes each in submission order. */
enum store_item_kind {
  STORE_ITEM_USAGE,              /* rec: struct store_usage */
  STORE_ITEM_RESPONSE_PUT,       /* rec: struct store_response */
  STORE_ITEM_RESPONSE_DELETE,    /* rec: the id (char *) */
  STORE_ITEM_MCP_SESSION_PUT,    /* rec: struct store_mcp_session */
  STORE_ITEM_MCP_SESSION_TOUCH,  /* rec: struct store_mcp_touch */
  STORE_ITEM_MCP_SESSION_DELETE, /* rec: the id (char *) */
  STORE_ITEM_MCP_CALL,           /* rec: struct store_mcp_call */
  STORE_ITEM_CONV_PUT,           /* rec: struct store_conv */
  STORE_ITEM_CONV_DELETE,        /* rec: the id (char *) */
  STORE_ITEM_CONV_APPEND,        /* rec: struct store_conv_append (conv.c) */
  STORE_ITEM_CONV_ITEM_DELETE,   /* rec: struct store_conv_append, no items */
  STORE_ITEM_CONV_SUMMARY_PUT,   /* rec: struct store_conv_summary */
};

/**
 * Queue rec (taken) for the writer. Never blocks on the disk. SB_EAGAIN
 * when the queue is full or closing: rec is then freed and counted in
 * store_dropped().
 */
int store_queue_submit(struct store *st, enum store_item_kind kind, void *rec);

/* store/mcp.c: the MCP kinds' write (on the writer's connection, inside
 * its batch transaction; an SQLITE_* code) and free. */
int store_mcp_write(sqlite3 *db, enum store_item_kind kind, const void *rec);
void store_mcp_item_free(enum store_item_kind kind, void *rec);

/* The store's reader connection (read-only use, any thread), taken
 * under its mutex: store_read_begin() locks and returns it,
 * store_read_end() releases it. Pair them; keep the section short. */
sqlite3 *store_read_begin(struct store *st);
void store_read_end(struct store *st);

/* store/conv.c: the same for the conversation kinds. */
int store_conv_write(sqlite3 *db, enum store_item_kind kind, const void *rec);
void store_conv_qfree(enum store_item_kind kind, void *rec);

#endif
