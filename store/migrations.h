/*
 * migrations.h - the schema migrations compiled into the binary.
 *
 * Generated at build time from migrations/NNNN_name.sql (see
 * cmake/embed_migrations.cmake), sorted by version.
 */
#ifndef SB_STORE_MIGRATIONS_H
#define SB_STORE_MIGRATIONS_H

struct store_migration {
  int version;      /* NNNN from the file name */
  const char *name; /* file name without .sql */
  const char *sql;  /* the whole file */
};

extern const struct store_migration store_migrations[];
extern const int store_migrations_count;

#endif
