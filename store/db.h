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

#endif
