/*
 * usage_sql.h - the SQL the usage queries share (usage.c, stats.c): the
 * filter of a struct store_usage_filter over the records and over each
 * roll-up table, and its binding. Internal to store/.
 */
#ifndef SB_STORE_USAGE_SQL_H
#define SB_STORE_USAGE_SQL_H

#include "store/usage.h"

#include <sqlite3.h>

/* The WHERE clause for f; its parameters are bound by store_usage_bind in the
 * same order. A key may be named by id or by name. */
#define KEY_MODEL_PROVIDER_SQL                                                 \
  " WHERE (?1 IS NULL OR r.key_id = ?1 OR r.key_id ="                          \
  " (SELECT id FROM api_keys WHERE name = ?1))"                                \
  " AND (?2 IS NULL OR r.model = ?2 OR r.provider || '/' ||"                   \
  " r.upstream_model = ?2)"                                                    \
  " AND (?3 IS NULL OR r.provider = ?3)"                                       \
  " AND (?6 IS NULL OR r.route = ?6)"

#define FILTER_SQL                                                             \
  KEY_MODEL_PROVIDER_SQL " AND r.ts_ms >= ?4 AND r.ts_ms < ?5"                 \
                         " AND (?7 IS NULL OR r.api = ?7)"                     \
                         " AND (?9 = 0 OR r.status BETWEEN ?8 AND ?9)"

/* The same filter over the daily roll-ups ('' for none, days as text). */
#define DAILY_FILTER_SQL                                                       \
  KEY_MODEL_PROVIDER_SQL                                                       \
  " AND r.day >= strftime('%Y-%m-%d', ?4 / 1000, 'unixepoch')"                 \
  " AND (?5 = 9223372036854775807 OR"                                          \
  " r.day < strftime('%Y-%m-%d', ?5 / 1000, 'unixepoch'))"

/* And over the hourly ones (hours as unix seconds). */
#define HOURLY_FILTER_SQL                                                      \
  KEY_MODEL_PROVIDER_SQL " AND r.hour >= ?4 / 1000 AND r.hour < ?5 / 1000"

#define ROLLUP_MODEL_SQL                                                       \
  "CASE WHEN r.provider <> '' AND r.upstream_model <> ''"                      \
  " THEN r.provider || '/' || r.upstream_model ELSE r.model END"

/** Bind f's values to the parameters the filters above name (?1..?9). */
void store_usage_bind(sqlite3_stmt *st, const struct store_usage_filter *f);

#endif
