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

/** cmocka teardown: the directory goes, and the struct. */
int testdb_teardown(void **state);

#endif
