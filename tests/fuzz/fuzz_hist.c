/*
 * fuzz_hist.c - the latency histograms' stored form (store/rollup.c), as
 * read back from usage_hourly and usage_daily rows. A blob either fails to
 * merge or holds counts that, written out again, read back to the same
 * histogram; quantiles never decrease with q and stay within the buckets'
 * range. The input is the blob itself.
 */
#include "tests/fuzz/harness.h"

#include "store/rollup.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct store_hist h, again;
  unsigned char out[STORE_HIST_BLOB_MAX];
  double prev = -1;
  size_t len;

  memset(&h, 0, sizeof(h));
  if(store_hist_merge_blob(&h, data, size))
    return 0;
  /* Counts that overflowed while adding are not a stored form any writer
   * makes; the round trip is checked on sane totals only. */
  if(h.total > UINT64_C(1) << 62)
    return 0;
  len = store_hist_blob(&h, out);
  FUZZ_CHECK(len <= sizeof(out));
  memset(&again, 0, sizeof(again));
  FUZZ_CHECK(store_hist_merge_blob(&again, out, len) == 0);
  FUZZ_CHECK(!memcmp(&h, &again, sizeof(h)));
  for(int i = 1; i < 100; i++) {
    double q = store_hist_quantile(&h, i / 100.0);
    FUZZ_CHECK(h.total ? q >= 0 : q < 0);
    FUZZ_CHECK(q >= prev);
    prev = q;
  }
  return 0;
}
