/*
 * cli_cache.c - `switchboard cache stats|purge` (docs/cache.md).
 *
 * They work on the cache's own file, beside a running gateway: a purge
 * bumps the file's generation, which the gateway notices within
 * cache.sweep_ms and reloads its index from (store/cache.h).
 */
#include "base/sb.h"
#include "gateway/cli_int.h"
#include "store/cache.h"
#include "store/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The range of `cache stats`' recorded figures: the last 24 hours. */
#define CACHE_STATS_RANGE_MS (24LL * 3600 * 1000)

/* Open the cache file of c's configuration and database. */
static int open_cache(const struct cli_cmd *c, char **db,
                      struct store_cache **out)
{
  struct store_cache_options opt;
  struct config cfg;
  char err[512];
  char *path;
  int rc;

  *db = cli_open_db(c);
  if(!*db)
    return -1;
  if(cli_load_config(c, &cfg)) {
    free(*db);
    return -1;
  }
  path =
      cfg.cache.path ? sb_strdup(cfg.cache.path) : sb_asprintf("%s.cache", *db);
  opt.max_bytes = (int64_t)cfg.cache.max_bytes;
  opt.sweep_ms = cfg.cache.sweep_ms;
  opt.queue_max = 16;
  opt.mem_bytes = 0; /* a command reads nothing twice */
  config_free(&cfg);
  rc = store_cache_open(path, &opt, out, err, sizeof(err));
  if(rc)
    fprintf(stderr, "switchboard: %s: %s\n", path, err);
  free(path);
  if(rc) {
    free(*db);
    return -1;
  }
  return 0;
}

static int stats_cmd(int argc, char **argv)
{
  struct store_cache_usage u;
  struct store_cache_stats s;
  struct store_cache *sc;
  struct cli_cmd c;
  int64_t now = sb_now_ms();
  char err[512];
  char *db;
  int rc;

  cli_cmd_init(&c, "cache stats", 0);
  cli_cmd_opt(&c, "--json", 1);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(open_cache(&c, &db, &sc))
    return EXIT_FAILURE;
  store_cache_stats(sc, &s);
  store_cache_close(sc);
  rc = store_cache_usage(db, now - CACHE_STATS_RANGE_MS, now, &u, err,
                         sizeof(err));
  free(db);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  if(cli_opt_value(&c, "--json")) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "entries", (double)s.entries);
    cJSON_AddNumberToObject(o, "bytes", (double)s.bytes);
    cJSON_AddNumberToObject(o, "hits_24h", (double)u.hits);
    cJSON_AddNumberToObject(o, "coalesced_24h", (double)u.coalesced);
    cJSON_AddNumberToObject(o, "misses_24h", (double)u.misses);
    cJSON_AddNumberToObject(o, "bypassed_24h", (double)u.bypassed);
    cJSON_AddNumberToObject(o, "saved_usd_24h", u.saved_usd);
    rc = cli_print_cjson(o);
    cJSON_Delete(o);
    fflush(stdout);
    return rc || ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
  }
  printf("entries         %lld\n"
         "bytes           %lld\n"
         "last 24 hours   %lld hits, %lld coalesced, %lld misses, %lld "
         "bypassed\n"
         "saved           $%.6f\n",
         (long long)s.entries, (long long)s.bytes, (long long)u.hits,
         (long long)u.coalesced, (long long)u.misses, (long long)u.bypassed,
         u.saved_usd);
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int purge_cmd(int argc, char **argv)
{
  char scope[STORE_CACHE_SCOPE_MAX + 1];
  struct store_cache *sc;
  const char *key;
  struct cli_cmd c;
  int64_t n;
  char *db;
  int rc;

  cli_cmd_init(&c, "cache purge", 0);
  cli_cmd_opt(&c, "--key", 0);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  key = cli_opt_value(&c, "--key");
  if(key && (!key[0] || strlen(key) + 4 > STORE_CACHE_SCOPE_MAX))
    return cli_usage_error("cache purge: --key expects a key id");
  if(open_cache(&c, &db, &sc))
    return EXIT_FAILURE;
  free(db);
  if(key)
    snprintf(scope, sizeof(scope), "key:%s", key);
  n = store_cache_purge(sc, key ? scope : NULL);
  store_cache_close(sc);
  if(n < 0) {
    fprintf(stderr, "switchboard: cache purge failed\n");
    return EXIT_FAILURE;
  }
  printf("purged %lld entr%s\n", (long long)n, n == 1 ? "y" : "ies");
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int cli_cache_main(int argc, char **argv)
{
  if(!argc)
    return -1;
  if(!strcmp(argv[0], "stats"))
    return stats_cmd(argc - 1, argv + 1);
  if(!strcmp(argv[0], "purge"))
    return purge_cmd(argc - 1, argv + 1);
  return -1;
}
