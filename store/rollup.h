/*
 * rollup.h - the usage roll-ups (tables usage_hourly and usage_daily) and
 * the latency histograms they carry. Internal to store/.
 *
 * The writer sums each batch of request records in memory, one group per
 * (hour, key, provider, upstream model, model, route), and adds each
 * group to its hourly row and its daily row in the batch's transaction,
 * so the roll-ups agree with the log to the last committed record.
 *
 * A histogram counts durations in microseconds in STORE_HIST_BUCKETS
 * buckets whose bounds follow 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 in each
 * decade from 10 us to 1000 s (so a bucket is at most 25 % wide); its
 * stored form is a sparse blob of (bucket, count) varints, so an hour
 * with one latency costs 3 bytes. Histograms add, so percentiles over
 * any set of rows (a day, a model, a key) come out of the roll-ups
 * without reading a record.
 */
#ifndef SB_STORE_ROLLUP_H
#define SB_STORE_ROLLUP_H

#include "store/store.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HIST_BUCKETS 82

struct store_hist {
  uint64_t n[STORE_HIST_BUCKETS];
  uint64_t total;
};

/** The bucket a duration of us microseconds falls in. */
int store_hist_bucket(int64_t us);

/** Count one duration. */
void store_hist_add(struct store_hist *h, int64_t us);

/** Add every count of the stored form blob (len bytes) to h. SB_EINVAL
 * when the blob is malformed (h may then hold part of it). */
int store_hist_merge_blob(struct store_hist *h, const void *blob, size_t len);

/** h's stored form into out (at most STORE_HIST_BLOB_MAX bytes); its
 * length. 0 when h is empty. */
#define STORE_HIST_BLOB_MAX (STORE_HIST_BUCKETS * 11)
size_t store_hist_blob(const struct store_hist *h, unsigned char *out);

/** The q-quantile (0 < q < 1) in microseconds, interpolated within its
 * bucket; < 0 when h is empty. */
double store_hist_quantile(const struct store_hist *h, double q);

struct store_rollup;

/** An empty aggregate for one batch. Caller frees (store_rollup_free). */
struct store_rollup *store_rollup_new(void);
void store_rollup_free(struct store_rollup *ru);

/** Forget every group (a batch that failed). */
void store_rollup_clear(struct store_rollup *ru);

/** Count rec into its group. */
void store_rollup_add(struct store_rollup *ru, const struct store_usage *rec);

/**
 * Add every group to its rows of usage_hourly and usage_daily on db (the
 * writer's connection, inside the batch's transaction), then empty ru.
 * An SQLITE_* code. Registers the SQL function the upsert needs on db
 * the first time (store_rollup_register()).
 */
int store_rollup_flush(struct store_rollup *ru, sqlite3 *db);

#endif
