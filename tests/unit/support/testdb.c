#include "tests/unit/support/testdb.h"
#include "base/sb.h"
#include "store/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int testdir_setup(void **state)
{
  struct testdb *t = sb_calloc(1, sizeof(*t));
  const char *tmp = getenv("TMPDIR");

  snprintf(t->dir, sizeof(t->dir), "%s/sb-test-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if(!mkdtemp(t->dir)) {
    free(t);
    return -1;
  }
  snprintf(t->db, sizeof(t->db), "%s/test.db", t->dir);
  *state = t;
  return 0;
}

int testdb_setup(void **state)
{
  struct testdb *t;
  char err[256];

  if(testdir_setup(state))
    return -1;
  t = *state;
  if(store_migrate(t->db, NULL, err, sizeof(err))) {
    fprintf(stderr, "store_migrate: %s\n", err);
    *state = t;
    testdb_teardown(state);
    return -1;
  }
  *state = t;
  return 0;
}

int testdb_teardown(void **state)
{
  struct testdb *t = *state;
  struct dirent *de;
  char path[600];
  DIR *d = opendir(t->dir);

  while(d && (de = readdir(d))) {
    if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    snprintf(path, sizeof(path), "%s/%s", t->dir, de->d_name);
    unlink(path);
  }
  if(d)
    closedir(d);
  rmdir(t->dir);
  free(t);
  *state = NULL;
  return 0;
}
