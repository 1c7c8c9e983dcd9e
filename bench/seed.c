/*
 * seed.c - fills a Switchboard database with request records for the
 * dashboard benchmark (bench/dashboard.sh): N records over the last D
 * days from 20 keys, 8 models on 3 providers, 2 routes, 2 % errors and
 * long-tailed latencies, written through the store's own writer so the
 * roll-ups are kept exactly as a running gateway keeps them.
 *
 *   sb_bench_seed DB [N=1000000] [DAYS=30]
 *
 * Prints the writer's throughput. The database is migrated first.
 */
#include "base/sb.h"
#include "store/keys.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 20

static const char *const models[][2] = {
    {"openai", "gpt-4o"},
    {"openai", "gpt-4o-mini"},
    {"anthropic", "claude-sonnet-4"},
    {"anthropic", "claude-haiku-4"},
    {"gemini", "gemini-2.5-pro"},
    {"gemini", "gemini-2.5-flash"},
    {"openai", "o3"},
    {"anthropic", "claude-opus-4"},
};

/* xorshift64*: a fixed sequence, so two runs seed the same rows. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double uniform(void)
{
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv)
{
  long n = argc > 2 ? atol(argv[2]) : 1000000;
  int days = argc > 3 ? atoi(argv[3]) : 30;
  char err[256], secret[STORE_KEY_SECRET_MAX], *ids[NKEYS];
  struct store_options opt;
  struct store *st;
  int64_t now = sb_now_ms(), span = (int64_t)days * 86400000, t0;
  int applied;

  if(argc < 2 || n < 1 || days < 1) {
    fprintf(stderr, "usage: %s DB [N] [DAYS]\n", argv[0]);
    return 2;
  }
  if(store_migrate(argv[1], &applied, err, sizeof(err))) {
    fprintf(stderr, "migrate: %s\n", err);
    return 1;
  }
  for(int i = 0; i < NKEYS; i++) {
    struct store_key spec, *k;
    char name[32];
    memset(&spec, 0, sizeof(spec));
    snprintf(name, sizeof(name), "bench-key-%02d", i);
    spec.name = name;
    spec.role = STORE_KEY_GATEWAY;
    spec.budget_usd = -1;
    if(store_keys_create(argv[1], &spec, secret, &k, err, sizeof(err))) {
      fprintf(stderr, "key: %s\n", err);
      return 1;
    }
    ids[i] = sb_strdup(k->id);
    store_keys_free(k, 1);
  }
  store_options_default(&opt);
  opt.batch_max = 2048;
  if(store_open(argv[1], &opt, &st, err, sizeof(err))) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  t0 = sb_mono_us();
  for(long i = 0; i < n; i++) {
    struct store_usage *r = sb_calloc(1, sizeof(*r));
    int m = (int)(uniform() * uniform() * 8); /* a few models dominate */
    int key = (int)(uniform() * uniform() * NKEYS);
    double lat = exp(5.5 + 1.0 * (uniform() + uniform() + uniform() - 1.5));
    char rid[40];

    snprintf(rid, sizeof(rid), "req_bench_%ld", i);
    r->ts_ms = now - span + (int64_t)((double)span * (double)i / (double)n);
    r->request_id = sb_strdup(rid);
    r->api = sb_strdup(i % 5 == 0 ? "messages" : "chat");
    r->provider = sb_strdup(models[m][0]);
    r->upstream_model = sb_strdup(models[m][1]);
    r->model = sb_asprintf("%s/%s", models[m][0], models[m][1]);
    r->route = i % 7 == 0 ? sb_strdup(i % 2 ? "smart" : "cheap") : NULL;
    r->stream = i % 3 == 0;
    r->status = uniform() < 0.02 ? (i % 2 ? 429 : 502) : 200;
    r->prompt_tokens = 200 + (int64_t)(uniform() * 2000);
    r->completion_tokens = 20 + (int64_t)(uniform() * 600);
    r->cached_tokens = i % 4 == 0 ? r->prompt_tokens / 2 : 0;
    r->reasoning_tokens = -1;
    r->ttfb_ms = (int64_t)(lat / 3);
    r->latency_ms = (int64_t)lat;
    r->latency_us = (int64_t)(lat * 1000);
    r->upstream_us = r->latency_us - 150 - (int64_t)(uniform() * 300);
    r->key_id = sb_strdup(ids[key]);
    r->cost_usd =
        (double)r->prompt_tokens * 2.5e-6 + (double)r->completion_tokens * 1e-5;
    r->attempts = 1;
    if(store_usage_submit(st, r) == SB_EAGAIN) {
      /* The queue is full: let the writer catch up, then go on (the
       * refused record is counted and skipped). */
      store_sync(st);
    }
    if(i % 50000 == 49999)
      store_sync(st);
  }
  store_sync(st);
  {
    double s = (double)(sb_mono_us() - t0) / 1e6;
    printf("seeded %ld records (%llu dropped) in %.1f s: %.0f records/s\n", n,
           (unsigned long long)store_dropped(st), s, (double)n / s);
  }
  store_close(st);
  for(int i = 0; i < NKEYS; i++)
    free(ids[i]);
  return 0;
}
