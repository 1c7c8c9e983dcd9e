/*
 * testdb.h - a migrated SQLite database in a directory of its own, made
 * for one cmocka test and removed after it: the fixture of every unit
 * test that needs a database.
 */
#ifndef SB_TESTS_TESTDB_H
#define SB_TESTS_TESTDB_H

struct testdb {
  char dir[256]; /* the directory, removed with everything in it */
  char db[300];  /* dir/test.db, migrated */
};

/** cmocka setup: *state becomes a struct testdb. */
int testdb_setup(void **state);

/** The same without creating the database: db names a file that does not
 * exist yet, for a test that makes its own (the cache's, the store's
 * first open). */
int testdir_setup(void **state);

/** cmocka teardown: the directory goes, and the struct. */
int testdb_teardown(void **state);

#endif
