/*
 * main.c - the switchboard command line: serve, migrate, --version; the
 * key commands live in cli.c.
 */
#include "admission/admission.h"
#include "admission/lockout.h"
#include "router/routes.h"
#include "store/keys.h"
#include "gateway/subreq.h"
#include "gateway/cli.h"
#include "gateway/mcp.h"
#include "config/config.h"
#include "base/log.h"
#include "gateway/cache.h"
#include "gateway/metrics.h"
#include "base/sb.h"
#include "gateway/registry.h"
#include "gateway/server.h"
#include "net/upstream.h"
#include "providers/adapter.h"
#include "providers/openai.h"
#include "providers/provider.h"
#include "store/retention.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

static const char usage[] =
    "usage: switchboard serve [--host H] [--port P] [--db FILE] "
    "[--config FILE] [--workers N] [--allow-open]\n"
    "       switchboard migrate [--db FILE] [--config FILE]\n"
    "       switchboard keys create|list|revoke ... [--db FILE]"
    " [--config FILE]\n"
    "       switchboard admin-key create [--name NAME] [--viewer] [--db FILE]"
    " [--config FILE]\n"
    "       switchboard usage [--key K] [--since DATE] [--by day|key|model|"
    "provider] ...\n"
    "       switchboard routes list|set|delete ...\n"
    "       switchboard cache stats|purge [--key KEY_ID]\n"
    "       switchboard --version\n"
    "\n"
    "Environment: HOST, PORT, SWITCHBOARD_DB, SWITCHBOARD_WORKERS, "
    "LOG_LEVEL,\nSWITCHBOARD_ADMIN_KEY, SWITCHBOARD_ALLOW_OPEN=1.\n"
    "Run 'switchboard keys --help' for the key commands; see\n"
    "docs/reference.md for the configuration file.\n";

struct cli {
  const char *cmd;
  const char *host, *port, *db, *config, *workers;
  int allow_open; /* serve with no credential beyond loopback */
};

static int parse_args(int argc, char **argv, struct cli *cli)
{
  memset(cli, 0, sizeof(*cli));
  if(argc < 2)
    return -1;
  cli->cmd = argv[1];
  for(int i = 2; i < argc; i++) {
    const char **slot = NULL;
    if(!strcmp(argv[i], "--allow-open") && !strcmp(cli->cmd, "serve")) {
      cli->allow_open = 1;
      continue;
    }
    if(!strcmp(argv[i], "--host"))
      slot = &cli->host;
    else if(!strcmp(argv[i], "--port"))
      slot = &cli->port;
    else if(!strcmp(argv[i], "--db"))
      slot = &cli->db;
    else if(!strcmp(argv[i], "--config"))
      slot = &cli->config;
    else if(!strcmp(argv[i], "--workers") && !strcmp(cli->cmd, "serve"))
      slot = &cli->workers;
    if(!slot || i + 1 >= argc) {
      fprintf(stderr, "switchboard: unknown or incomplete option '%s'\n",
              argv[i]);
      return -1;
    }
    *slot = argv[++i];
  }
  return 0;
}

static int flag_int(const char *name, const char *s, long min, long max,
                    int *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(s, &end, 10);
  if(errno || *end || !*s || v < min || v > max) {
    fprintf(stderr, "switchboard: %s %s: expected an integer in %ld..%ld\n",
            name, s, min, max);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* The config file's routes, by the router's own rules. 0, or SB_ECONFIG
 * with err naming the route. */
static int check_routes(const struct config *cfg, char *err, size_t errlen)
{
  cJSON *routes = cfg->routes ? cJSON_Parse(cfg->routes) : NULL;
  const cJSON *it;
  int rc = 0;

  cJSON_ArrayForEach(it, routes)
  {
    struct route rt;
    char why[256];

    if(route_parse(it, it->string, &rt, why, sizeof(why))) {
      snprintf(err, errlen, "config: routes.%s: %s", it->string, why);
      rc = SB_ECONFIG;
      break;
    }
    route_clear(&rt);
  }
  cJSON_Delete(routes);
  return rc;
}

/* Defaults, then the file, then the environment, then flags. */
static int load_config(const struct cli *cli, struct config *cfg)
{
  char err[512];
  enum log_level lvl;

  config_defaults(cfg);
  if(cli->config && config_load_file(cfg, cli->config, err, sizeof(err)))
    goto fail;
  if(config_apply_env(cfg, err, sizeof(err)))
    goto fail;
  if(cli->host)
    config_set_str(&cfg->host, cli->host);
  if(cli->db)
    config_set_str(&cfg->database, cli->db);
  if(cli->port && flag_int("--port", cli->port, 0, 65535, &cfg->port))
    return -1;
  if(cli->workers && flag_int("--workers", cli->workers, 1, 256, &cfg->workers))
    return -1;
  config_finish(cfg);
  if(config_validate(cfg, err, sizeof(err)) ||
     check_routes(cfg, err, sizeof(err)))
    goto fail;
  if(log_level_parse(cfg->log_level, &lvl)) {
    snprintf(err, sizeof(err),
             "log level '%s': expected debug, info, warn or error",
             cfg->log_level);
    goto fail;
  }
  log_set_level(lvl);
  return 0;
fail:
  fprintf(stderr, "switchboard: %s\n", err);
  return -1;
}

static int cmd_migrate(const struct config *cfg)
{
  char err[512];
  int applied = 0;

  if(store_migrate(cfg->database, &applied, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  printf("%s: %d migration(s) applied, schema version %d\n", cfg->database,
         applied, store_schema_version());
  return EXIT_SUCCESS;
}

static int loopback(const char *host)
{
  return !strcmp(host, "127.0.0.1") || !strcmp(host, "::1") ||
         !strcmp(host, "localhost") || !strncmp(host, "127.", 4);
}

/* Secure by default: keys or an admin credential close every /v1 call;
 * with neither, the gateway runs open and says so, and only on loopback
 * unless told otherwise. */
static int load_registry(void *ud, struct prov_registry *prev, int strict,
                         struct prov_registry **out, char *err, size_t errlen)
{
  const struct config *cfg = ud;

  return registry_load(cfg->database, &cfg->security, prev, strict, out, err,
                       errlen);
}

static int open_auth(const struct config *cfg, int allow_open,
                     struct admission **out)
{
  const struct adm_registry_source src = {load_registry, (void *)cfg};
  const char *admin = getenv("SWITCHBOARD_ADMIN_KEY");
  char err[512];

  if(adm_open(cfg->database, admin, &src, out, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    return -1;
  }
  if(adm_required(*out))
    return 0;
  if(!loopback(cfg->host) && !allow_open) {
    fprintf(stderr,
            "switchboard: no gateway key and no admin credential exist, so "
            "every request would be accepted; refusing to listen on %s.\n"
            "Create a key (switchboard keys create --name NAME), set "
            "SWITCHBOARD_ADMIN_KEY, or pass --allow-open "
            "(SWITCHBOARD_ALLOW_OPEN=1) to run open anyway.\n",
            cfg->host);
    adm_close(*out);
    *out = NULL;
    return -1;
  }
  log_event(LOG_WARN,
            "running open: no gateway key and no admin credential exist, so "
            "every request is accepted (create a key to close it)",
            LOG_S("host", cfg->host), LOG_END);
  return 0;
}

static int cmd_serve(const struct config *cfg, int allow_open)
{
  struct store_options sopt;
  struct store_retention *retention = NULL;
  struct gw gw;
  char err[512];
  sigset_t set;
  int rc = EXIT_FAILURE;

  /* Block the shutdown signals before any thread exists, so that only
   * server_run's sigwait() sees them. */
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  if(curl_global_init(CURL_GLOBAL_DEFAULT)) {
    fprintf(stderr, "switchboard: curl_global_init failed\n");
    return EXIT_FAILURE;
  }
  memset(&gw, 0, sizeof(gw));
  /* The credential of the gateway's requests to itself, before any
   * worker can read it. */
  if(subreq_init(&gw)) {
    fprintf(stderr, "switchboard: no random bytes for the internal"
                    " credential\n");
    goto out;
  }
  gw.cfg = cfg;
  store_options_default(&sopt);
  sopt.gather_us = cfg->limits.store_batch_ms * 1000;
  if(store_open(cfg->database, &sopt, &gw.store, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    goto out;
  }
  if(registry_seed(cfg, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    store_close(gw.store);
    goto out;
  }
  if(open_auth(cfg, allow_open, &gw.adm)) {
    store_close(gw.store);
    goto out;
  }
  gw.metrics = metrics_new();
  gw.route_stats = route_stats_new();
  gw.signin_lockout = lockout_new(cfg->ui.signin_max_failures,
                                  (int64_t)cfg->ui.signin_window_s * 1000,
                                  cfg->ui.signin_max_addresses);
  if(gw_cache_open(cfg, &gw.cache, err, sizeof(err))) {
    fprintf(stderr, "switchboard: cache: %s\n", err);
    gw.cache = NULL;
  }
  if(mcp_gw_open(&gw, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    gw_cache_close(gw.cache);
    adm_close(gw.adm);
    route_stats_free(gw.route_stats);
    lockout_free(gw.signin_lockout);
    store_close(gw.store);
    metrics_free(gw.metrics);
    goto out;
  }
  {
    /* Old data goes on a thread of its own, never on a request's path. */
    const struct store_retention_policy keep = {
        cfg->retention.conversations_days, cfg->retention.responses_days,
        cfg->retention.requests_days};
    if(store_retention_start(cfg->database, &keep, &retention))
      log_event(LOG_WARN, "retention job not started", LOG_END);
  }
  /* From here on a line per request: written by a thread of its own (not
   * one write(2) per request on the loop). The start-up lines above went
   * out at once. After the signal mask, so that thread never takes one. */
  if(log_async_start())
    log_event(LOG_WARN, "no log writer thread: logging directly", LOG_END);
  if(server_run(&gw, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    log_event(LOG_ERROR, "cannot start", LOG_S("reason", err), LOG_END);
  } else {
    rc = EXIT_SUCCESS;
  }
  store_retention_stop(retention);
  mcp_gw_close(&gw);
  gw_cache_close(gw.cache);
  adm_close(gw.adm);
  route_stats_free(gw.route_stats);
  lockout_free(gw.signin_lockout);
  store_close(gw.store);
  metrics_free(gw.metrics);
  OPENSSL_cleanse(gw.internal_secret, sizeof(gw.internal_secret));
  log_event(LOG_INFO, "stopped", LOG_END);
out:
  curl_global_cleanup();
  /* Every line logged so far reaches stderr before the process exits. */
  log_async_stop();
  return rc;
}

int main(int argc, char **argv)
{
  struct config cfg;
  struct cli cli;
  int rc;

  if(argc == 2 &&
     (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
    printf("switchboard %s (schema %d)\n", SB_VERSION, store_schema_version());
    return EXIT_SUCCESS;
  }
  if(argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(usage, stdout);
    return EXIT_SUCCESS;
  }
  rc = cli_main(argc, argv);
  if(rc >= 0)
    return rc;
  if(parse_args(argc, argv, &cli) ||
     (strcmp(cli.cmd, "serve") && strcmp(cli.cmd, "migrate"))) {
    fputs(usage, stderr);
    return EXIT_USAGE;
  }
  if(load_config(&cli, &cfg)) {
    config_free(&cfg);
    return EXIT_FAILURE;
  }
  if(getenv("SWITCHBOARD_ALLOW_OPEN") &&
     !strcmp(getenv("SWITCHBOARD_ALLOW_OPEN"), "1"))
    cli.allow_open = 1;
  rc = !strcmp(cli.cmd, "serve") ? cmd_serve(&cfg, cli.allow_open)
                                 : cmd_migrate(&cfg);
  config_free(&cfg);
  return rc;
}
