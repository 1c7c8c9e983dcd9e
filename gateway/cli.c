/*
 * cli.c - `switchboard keys ...` and `switchboard admin-key ...`.
 *
 * stdout carries only the result (a new secret, the key list), so that
 * scripts can capture it; everything meant for a person goes to stderr.
 */
#include "gateway/cli.h"
#include "gateway/cli_int.h"
#include "router/cache_policy.h"
#include "router/routes.h"
#include "providers/provider.h"
#include "store/usage.h"
#include "config/config.h"
#include "base/sb.h"
#include "store/keys.h"
#include "store/mcp.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char keys_usage[] =
    "usage: switchboard keys create --name NAME [--models GLOB,...] [--rpm N]"
    " [--tpm N]\n"
    "                               [--parallel N] [--budget USD"
    " [--period daily|weekly|monthly|total]]\n"
    "                               [--expires DATE] [--tags TAG,...]"
    " [--mcp-tools GLOB,...]\n"
    "                               [--context-summary-model MODEL]"
    " [--cache POLICY]\n"
    "       switchboard keys list [--json]\n"
    "       switchboard keys revoke ID_OR_NAME\n"
    "       switchboard admin-key create [--name NAME] [--viewer]\n"
    "       switchboard usage [--key K] [--model M] [--provider P]"
    " [--since DATE]\n"
    "                         [--until DATE] [--by "
    "day|key|model|provider|route]"
    " [--format table|json|csv]\n"
    "       switchboard usage --calls [--key K] [--server S] [--tool T]"
    " [--since DATE]\n"
    "                         [--until DATE] [--limit N]"
    " [--format table|json|csv]\n"
    "       switchboard routes list\n"
    "       switchboard routes set NAME --targets PROVIDER/MODEL,..."
    " [--strategy S] [--retries N]\n"
    "                                      [--cache POLICY]\n"
    "       switchboard routes get|delete NAME\n"
    "       switchboard providers list\n"
    "       switchboard providers set NAME [--kind K] [--base-url URL]"
    " [--api-key-env VAR]\n"
    "                                      [--models M,...] [--json"
    " DEFINITION]\n"
    "       switchboard providers get|delete NAME\n"
    "       switchboard mcp add NAME (--url URL [--header 'K: V']... |"
    " --command CMD\n"
    "                                [--arg A]... [--env K=V]... [--cwd DIR])"
    " [--timeout S]\n"
    "                                [--call-timeout S] [--disabled]"
    " [--json DEFINITION]\n"
    "       switchboard mcp list [--json]\n"
    "       switchboard mcp get|remove NAME\n"
    "       switchboard mcp tools NAME [--json] [--wait S]\n"
    "       switchboard cache stats [--json]\n"
    "       switchboard cache purge [--key KEY_ID]\n"
    "\n"
    "Every command also takes --db FILE and --config FILE (database:"
    " --db, then\n"
    "SWITCHBOARD_DB, then the config file's \"database\", then"
    " switchboard.db).\n"
    "DATE: YYYY-MM-DD (midnight UTC), YYYY-MM-DDTHH:MM:SSZ or unix"
    " seconds.\n"
    "create prints only the new secret on stdout; it is not stored and"
    " cannot be\n"
    "shown again.\n";

int cli_usage_error(const char *fmt, ...)
{
  va_list ap;

  fputs("switchboard: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n(switchboard keys --help shows the usage)\n", stderr);
  return CLI_EXIT_USAGE;
}

void cli_cmd_init(struct cli_cmd *c, const char *what, int max_args)
{
  memset(c, 0, sizeof(*c));
  c->what = what;
  c->max_args = max_args;
}

void cli_cmd_opt(struct cli_cmd *c, const char *name, int flag)
{
  assert(c->nopts < CLI_MAX_OPTS);
  c->opts[c->nopts].name = name;
  c->opts[c->nopts].flag = flag;
  c->nopts++;
}

const char *cli_opt_value(const struct cli_cmd *c, const char *name)
{
  for(int i = 0; i < c->nopts; i++)
    if(!strcmp(c->opts[i].name, name))
      return c->opts[i].value;
  return NULL;
}

/* "--opt VALUE", "--opt=VALUE" and flags; the last of a repeated option
 * wins. Returns 0, 1 for --help (usage printed), or CLI_EXIT_USAGE. */
int cli_cmd_parse(struct cli_cmd *c, int argc, char **argv)
{
  int only_args = 0;

  cli_cmd_opt(c, "--db", 0);
  cli_cmd_opt(c, "--config", 0);
  for(int i = 0; i < argc; i++) {
    const char *a = argv[i], *eq;
    struct cli_opt *o = NULL;
    size_t len;

    if(only_args || a[0] != '-' || !a[1]) {
      if(c->nargs >= c->max_args)
        return cli_usage_error("%s: unexpected argument '%s'", c->what, a);
      c->args[c->nargs++] = a;
      continue;
    }
    if(!strcmp(a, "--")) {
      only_args = 1;
      continue;
    }
    if(!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(keys_usage, stdout);
      return 1;
    }
    eq = strchr(a, '=');
    len = eq ? (size_t)(eq - a) : strlen(a);
    for(int j = 0; j < c->nopts; j++)
      if(strlen(c->opts[j].name) == len && !strncmp(c->opts[j].name, a, len))
        o = &c->opts[j];
    if(!o)
      return cli_usage_error("%s: unknown option '%.*s'", c->what, (int)len, a);
    if(o->flag) {
      if(eq)
        return cli_usage_error("%s: option '%s' takes no value", c->what,
                               o->name);
      o->value = "1";
    } else if(eq) {
      o->value = eq + 1;
    } else if(i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
      /* "--name --db x" is a forgotten value, not a name; --name=--x
       * still works. */
      o->value = argv[++i];
    }
    if(!o->value || !*o->value)
      return cli_usage_error("%s: option '%s' needs a value", c->what, o->name);
  }
  return 0;
}

/* The database path: --db, then SWITCHBOARD_DB, then the config file's
 * "database", then the default; config.c owns the last three so that
 * this agrees with `switchboard serve`. */
int cli_load_config(const struct cli_cmd *c, struct config *cfg)
{
  const char *file = cli_opt_value(c, "--config");
  char err[512];

  config_defaults(cfg);
  if((file && config_load_file(cfg, file, err, sizeof(err))) ||
     config_apply_env(cfg, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    config_free(cfg);
    return -1;
  }
  config_finish(cfg);
  return 0;
}

static char *resolve_db(const struct cli_cmd *c)
{
  const char *db = cli_opt_value(c, "--db");
  struct config cfg;
  char *path;

  if(cli_load_config(c, &cfg))
    return NULL;
  path = sb_strdup(db ? db : cfg.database);
  config_free(&cfg);
  return path;
}

/* Resolve and migrate the database; NULL (message printed) on failure. */
char *cli_open_db(const struct cli_cmd *c)
{
  char err[512];
  char *path = resolve_db(c);

  if(path && store_migrate(path, NULL, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    free(path);
    return NULL;
  }
  return path;
}

/* ---- value parsing ---- */

static int parse_count(const char *opt, const char *s, int64_t *out)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll(s, &end, 10);
  if(!isdigit((unsigned char)*s) || *end || errno)
    return cli_usage_error("%s '%s': expected a whole number, 0 or more", opt,
                           s);
  *out = v;
  return 0;
}

static int parse_usd(const char *s, double *out)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if(!*s || isspace((unsigned char)*s) || *end || errno || !isfinite(v) ||
     v < 0)
    return cli_usage_error(
        "--budget '%s': expected an amount in USD, 0 or more", s);
  *out = v;
  return 0;
}

/* Split "a, b,c" into trimmed, non-empty items. */
int cli_parse_list(const char *opt, const char *s, char ***out, int *n)
{
  char **v = NULL;
  int count = 0;
  const char *p = s;

  for(;;) {
    const char *end = strchr(p, ','), *a = p, *b;

    if(!end)
      end = p + strlen(p);
    b = end;
    while(a < b && isspace((unsigned char)*a))
      a++;
    while(b > a && isspace((unsigned char)b[-1]))
      b--;
    if(a == b) {
      for(int i = 0; i < count; i++)
        free(v[i]);
      free(v);
      return cli_usage_error("%s '%s': empty item in the list", opt, s);
    }
    v = sb_realloc(v, (size_t)(count + 1) * sizeof(*v));
    v[count++] = sb_strndup(a, (size_t)(b - a));
    if(!*end)
      break;
    p = end + 1;
  }
  *out = v;
  *n = count;
  return 0;
}

static int digits(const char **p, int n, int *out)
{
  int v = 0;

  for(int i = 0; i < n; i++) {
    if(!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int cli_parse_time(const char *s, int64_t *out)
{
  const char *p = s;
  struct tm tm, back;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  time_t t;

  if(*s && strspn(s, "0123456789") == strlen(s)) {
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if(errno || v <= 0)
      return SB_EINVAL;
    *out = v;
    return 0;
  }
  /* Each separator test stops at the terminating NUL before moving on. */
  if(digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
     digits(&p, 2, &d))
    return SB_EINVAL;
  if(*p == 'T' || *p == 't') {
    p++;
    if(digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
      return SB_EINVAL;
    if(*p == ':') {
      p++;
      if(digits(&p, 2, &sec))
        return SB_EINVAL;
      if(*p == '.') {
        if(!isdigit((unsigned char)*++p))
          return SB_EINVAL;
        while(isdigit((unsigned char)*p))
          p++;
      }
    }
    if(*p == 'Z' || *p == 'z')
      p++;
    else if(!strncmp(p, "+00:00", 6))
      p += 6;
  }
  if(*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
     sec > 59)
    return SB_EINVAL;
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  t = timegm(&tm);
  /* timegm normalises 2025-02-30 to March 2nd: refuse what moved. */
  if(t <= 0 || !gmtime_r(&t, &back) || back.tm_mday != d ||
     back.tm_mon != mo - 1)
    return SB_EINVAL;
  *out = (int64_t)t;
  return 0;
}

/* ---- output ---- */

static void format_time(int64_t t, char *out, size_t cap)
{
  time_t tt = (time_t)t;
  struct tm tm;

  if(!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, cap, "%lld", (long long)t);
}

static const char *role_str(enum store_key_role r)
{
  return store_key_role_name(r);
}

/* Stderr summary of a key that was just made. */
static void print_created(const struct store_key *k)
{
  char when[32];

  fprintf(stderr, "switchboard: created %s key %s '%s' (%s...)",
          role_str(k->role), k->id, k->name, k->prefix);
  if(k->expires_at) {
    format_time(k->expires_at, when, sizeof(when));
    fprintf(stderr, ", expires %s", when);
  }
  fputs(".\nThe secret is printed once and cannot be shown again.\n", stderr);
}

static int print_json(const struct store_key *keys, int n, int64_t now)
{
  cJSON *arr = cJSON_CreateArray();
  char *s;

  for(int i = 0; i < n; i++) {
    cJSON *o = store_key_json(&keys[i], now);
    cJSON_AddItemToArray(arr, o);
  }
  s = cJSON_PrintUnformatted(arr);
  cJSON_Delete(arr);
  if(!s)
    abort();
  puts(s);
  cJSON_free(s);
  return 0;
}

#define LIST_COLS 9

static char *join(char **v, int n, const char *none)
{
  size_t len = 1;
  char *s;

  if(!n)
    return sb_strdup(none);
  for(int i = 0; i < n; i++)
    len += strlen(v[i]) + 1;
  s = sb_calloc(1, len);
  for(int i = 0; i < n; i++) {
    if(i)
      strcat(s, ",");
    strcat(s, v[i]);
  }
  return s;
}

static char *limits_str(const struct store_key *k)
{
  char buf[128];
  size_t off = 0;

  buf[0] = '\0';
  if(k->rpm)
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, " rpm=%lld",
                            (long long)k->rpm);
  if(k->tpm)
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, " tpm=%lld",
                            (long long)k->tpm);
  if(k->max_parallel)
    snprintf(buf + off, sizeof(buf) - off, " parallel=%lld",
             (long long)k->max_parallel);
  return sb_strdup(buf[0] ? buf + 1 : "-");
}

static int print_table(const struct store_key *keys, int n, int64_t now)
{
  static const char *const head[LIST_COLS] = {"ID",     "NAME",    "PREFIX",
                                              "ROLE",   "MODELS",  "LIMITS",
                                              "BUDGET", "EXPIRES", "STATUS"};
  char ***cells = sb_calloc((size_t)n + 1, sizeof(*cells));
  size_t width[LIST_COLS];
  char when[32];

  for(int c = 0; c < LIST_COLS; c++)
    width[c] = strlen(head[c]);
  for(int i = 0; i < n; i++) {
    const struct store_key *k = &keys[i];
    char **row = sb_calloc(LIST_COLS, sizeof(*row));

    row[0] = sb_strdup(k->id);
    row[1] = sb_strdup(k->name);
    row[2] = sb_asprintf("%s...", k->prefix);
    row[3] = sb_strdup(role_str(k->role));
    row[4] = join(k->models, k->nmodels, "any");
    row[5] = limits_str(k);
    row[6] = k->budget_usd >= 0
                 ? sb_asprintf("$%.2f/%s", k->budget_usd,
                               store_key_period_name(k->budget_period))
                 : sb_strdup("-");
    if(k->expires_at)
      format_time(k->expires_at, when, sizeof(when));
    row[7] = sb_strdup(k->expires_at ? when : "never");
    row[8] = sb_strdup(store_key_status(k, now));
    for(int c = 0; c < LIST_COLS; c++)
      if(strlen(row[c]) > width[c])
        width[c] = strlen(row[c]);
    cells[i] = row;
  }
  for(int i = -1; i < n; i++) {
    for(int c = 0; c < LIST_COLS; c++) {
      const char *s = i < 0 ? head[c] : cells[i][c];
      if(c == LIST_COLS - 1)
        printf("%s\n", s);
      else
        printf("%-*s  ", (int)width[c], s);
    }
  }
  for(int i = 0; i < n; i++) {
    for(int c = 0; c < LIST_COLS; c++)
      free(cells[i][c]);
    free(cells[i]);
  }
  free(cells);
  return 0;
}

/* ---- commands ---- */

/* How long a command that changed the control plane waits for running
 * gateways to serve the change (they look every ADM_POLL_MS). */
#define CLI_SETTLE_MS 2000

/* Return only once every running gateway on this database serves the
 * change just written (to the providers table, or to keys, prices and
 * routes), so that a script's next request sees it. */
void cli_settle_gateways(const char *path, int providers)
{
  char err[256];
  int late = 0;

  if(store_gateways_wait(path, providers, CLI_SETTLE_MS, &late, err,
                         sizeof(err)))
    fprintf(stderr,
            "switchboard: note: cannot tell whether running gateways have "
            "the change yet: %s\n",
            err);
  else if(late)
    fprintf(stderr,
            "switchboard: note: %d running gateway(s) did not report the "
            "change within %d ms; it reaches them when they next look\n",
            late, CLI_SETTLE_MS);
}

/* Make a key from spec and print its secret. */
static int create_and_print(const char *path, const struct store_key *spec)
{
  char secret[STORE_KEY_SECRET_MAX], err[512];
  struct store_key *k = NULL;
  int rc;

  rc = store_keys_create(path, spec, secret, &k, err, sizeof(err));
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  cli_settle_gateways(path, 0);
  printf("%s\n", secret);
  fflush(stdout);
  print_created(k);
  store_key_free(k);
  memset(secret, 0, sizeof(secret));
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* store_key_validate() names fields; the user typed options. */
static int invalid_spec(const char *what, const char *msg)
{
  static const char *const map[][2] = {
      {"name:", "--name"},
      {"models:", "--models"},
      {"tags:", "--tags"},
      {"rpm:", "--rpm"},
      {"tpm:", "--tpm"},
      {"max_parallel:", "--parallel"},
      {"budget_usd:", "--budget"},
      {"budget_period:", "--period"},
      {"expires_at:", "--expires"},
      {"mcp_tools:", "--mcp-tools"},
      {"context_summary_model:", "--context-summary-model"},
  };

  for(size_t i = 0; i < SB_ARRAY_LEN(map); i++) {
    size_t n = strlen(map[i][0]);
    if(!strncmp(msg, map[i][0], n))
      return cli_usage_error("%s: %s:%s", what, map[i][1], msg + n);
  }
  return cli_usage_error("%s: %s", what, msg);
}

static int keys_create(int argc, char **argv)
{
  struct store_key spec;
  struct cli_cmd c;
  const char *v;
  char err[256];
  char *path = NULL;
  int rc, period;

  cli_cmd_init(&c, "keys create", 0);
  cli_cmd_opt(&c, "--name", 0);
  cli_cmd_opt(&c, "--models", 0);
  cli_cmd_opt(&c, "--rpm", 0);
  cli_cmd_opt(&c, "--tpm", 0);
  cli_cmd_opt(&c, "--parallel", 0);
  cli_cmd_opt(&c, "--budget", 0);
  cli_cmd_opt(&c, "--period", 0);
  cli_cmd_opt(&c, "--expires", 0);
  cli_cmd_opt(&c, "--tags", 0);
  cli_cmd_opt(&c, "--mcp-tools", 0);
  cli_cmd_opt(&c, "--context-summary-model", 0);
  cli_cmd_opt(&c, "--cache", 0);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;

  memset(&spec, 0, sizeof(spec));
  spec.role = STORE_KEY_GATEWAY;
  spec.budget_usd = -1;
  spec.name = (char *)cli_opt_value(&c, "--name");
  if(!spec.name)
    return cli_usage_error("keys create: --name is required");
  if((v = cli_opt_value(&c, "--rpm")) &&
     (rc = parse_count("--rpm", v, &spec.rpm)))
    goto out;
  if((v = cli_opt_value(&c, "--tpm")) &&
     (rc = parse_count("--tpm", v, &spec.tpm)))
    goto out;
  if((v = cli_opt_value(&c, "--parallel")) &&
     (rc = parse_count("--parallel", v, &spec.max_parallel)))
    goto out;
  if((v = cli_opt_value(&c, "--budget")) &&
     (rc = parse_usd(v, &spec.budget_usd)))
    goto out;
  if((v = cli_opt_value(&c, "--period"))) {
    period = store_key_period_parse(v);
    if(period <= STORE_PERIOD_NONE) {
      rc = cli_usage_error("keys create: --period '%s': expected daily, weekly,"
                           " monthly or total",
                           v);
      goto out;
    }
    if(spec.budget_usd < 0) {
      rc = cli_usage_error("keys create: --period needs --budget");
      goto out;
    }
    spec.budget_period = (enum store_key_period)period;
  } else if(spec.budget_usd >= 0) {
    spec.budget_period = STORE_PERIOD_MONTHLY;
  }
  if((v = cli_opt_value(&c, "--expires")) &&
     cli_parse_time(v, &spec.expires_at)) {
    rc = cli_usage_error("keys create: --expires '%s': expected YYYY-MM-DD,"
                         " YYYY-MM-DDTHH:MM:SSZ (UTC) or unix seconds",
                         v);
    goto out;
  }
  if((v = cli_opt_value(&c, "--models")) &&
     (rc = cli_parse_list("--models", v, &spec.models, &spec.nmodels)))
    goto out;
  if((v = cli_opt_value(&c, "--tags")) &&
     (rc = cli_parse_list("--tags", v, &spec.tags, &spec.ntags)))
    goto out;
  /* Globs on "<server>__<tool>" and the gateway's own tools; without the
   * option the key may call any tool. */
  if((v = cli_opt_value(&c, "--mcp-tools"))) {
    if((rc = cli_parse_list("--mcp-tools", v, &spec.mcp_tools,
                            &spec.nmcp_tools)))
      goto out;
    spec.mcp_tools_set = 1;
  }
  /* What summarises the history a conversation turn leaves out. */
  if((v = cli_opt_value(&c, "--context-summary-model")))
    spec.context_summary_model = sb_strdup(v);
  /* The key's response-cache policy, stored in its normal form. */
  if((v = cli_opt_value(&c, "--cache"))) {
    struct cache_policy cp;
    cJSON *o = cJSON_Parse(v), *n;

    if(cache_policy_parse(o, 0, &cp, err, sizeof(err))) {
      cJSON_Delete(o);
      rc = cli_usage_error("keys create: --cache: %s", err);
      goto out;
    }
    cJSON_Delete(o);
    n = cache_policy_json(&cp);
    spec.cache = cJSON_PrintUnformatted(n);
    cJSON_Delete(n);
  }
  if(store_key_validate(&spec, err, sizeof(err))) {
    rc = invalid_spec("keys create", err);
    goto out;
  }
  if(spec.expires_at && spec.expires_at <= sb_now_ms() / 1000)
    fprintf(stderr, "switchboard: warning: --expires is in the past; the key"
                    " is created expired\n");

  path = cli_open_db(&c);
  rc = path ? create_and_print(path, &spec) : EXIT_FAILURE;
out:
  free(path);
  for(int i = 0; i < spec.nmodels; i++)
    free(spec.models[i]);
  free(spec.models);
  for(int i = 0; i < spec.ntags; i++)
    free(spec.tags[i]);
  free(spec.tags);
  for(int i = 0; i < spec.nmcp_tools; i++)
    free(spec.mcp_tools[i]);
  free(spec.mcp_tools);
  free(spec.context_summary_model);
  free(spec.cache);
  return rc;
}

static int keys_list(int argc, char **argv)
{
  struct store_key *keys = NULL;
  struct cli_cmd c;
  char err[512];
  char *path;
  int n = 0, rc;

  cli_cmd_init(&c, "keys list", 0);
  cli_cmd_opt(&c, "--json", 1);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  path = cli_open_db(&c);
  if(!path)
    return EXIT_FAILURE;
  rc = store_keys_list(path, &keys, &n, err, sizeof(err));
  free(path);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  if(cli_opt_value(&c, "--json"))
    print_json(keys, n, sb_now_ms() / 1000);
  else
    print_table(keys, n, sb_now_ms() / 1000);
  store_keys_free(keys, n);
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int keys_revoke(int argc, char **argv)
{
  struct cli_cmd c;
  char err[512];
  char *path;
  int rc;

  cli_cmd_init(&c, "keys revoke", 1);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(c.nargs != 1 || !*c.args[0])
    return cli_usage_error("keys revoke: expected one key id or name");
  path = cli_open_db(&c);
  if(!path)
    return EXIT_FAILURE;
  rc = store_keys_revoke(path, c.args[0], err, sizeof(err));
  if(!rc)
    cli_settle_gateways(path, 0);
  free(path);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  fprintf(stderr, "switchboard: revoked '%s'\n", c.args[0]);
  return EXIT_SUCCESS;
}

static int admin_key_create(int argc, char **argv)
{
  struct store_key spec;
  struct cli_cmd c;
  char err[256];
  char *path;
  int rc;

  cli_cmd_init(&c, "admin-key create", 0);
  cli_cmd_opt(&c, "--name", 0);
  /* A read-only operator: the admin API's reads and the dashboard. */
  cli_cmd_opt(&c, "--viewer", 1);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  memset(&spec, 0, sizeof(spec));
  spec.role =
      cli_opt_value(&c, "--viewer") ? STORE_KEY_VIEWER : STORE_KEY_ADMIN;
  spec.budget_usd = -1;
  spec.name =
      (char *)(cli_opt_value(&c, "--name") ? cli_opt_value(&c, "--name")
                                           : store_key_role_name(spec.role));
  if(store_key_validate(&spec, err, sizeof(err)))
    return invalid_spec("admin-key create", err);
  path = cli_open_db(&c);
  if(!path)
    return EXIT_FAILURE;
  rc = create_and_print(path, &spec);
  free(path);
  return rc;
}

/* ---- usage and routes ---- */

int cli_print_cjson(cJSON *o)
{
  char *s = cJSON_PrintUnformatted(o);

  if(!s)
    abort();
  puts(s);
  cJSON_free(s);
  return 0;
}

/* `switchboard usage`: totals and a series, as a table, JSON or CSV. */
static int usage_cmd(int argc, char **argv)
{
  struct store_usage_filter f = {0};
  const char *since, *until, *fmt;
  struct cli_cmd c;
  cJSON *u = NULL;
  char err[512];
  char *path;
  int64_t t;
  int rc;

  cli_cmd_init(&c, "usage", 0);
  cli_cmd_opt(&c, "--key", 0);
  cli_cmd_opt(&c, "--model", 0);
  cli_cmd_opt(&c, "--provider", 0);
  cli_cmd_opt(&c, "--since", 0);
  cli_cmd_opt(&c, "--until", 0);
  cli_cmd_opt(&c, "--by", 0);
  cli_cmd_opt(&c, "--format", 0);
  cli_cmd_opt(&c, "--calls", 1);
  cli_cmd_opt(&c, "--server", 0);
  cli_cmd_opt(&c, "--tool", 0);
  cli_cmd_opt(&c, "--limit", 0);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(!cli_opt_value(&c, "--calls")) {
    static const char *const calls_only[] = {"--server", "--tool", "--limit"};
    for(size_t i = 0; i < SB_ARRAY_LEN(calls_only); i++)
      if(cli_opt_value(&c, calls_only[i]))
        return cli_usage_error("usage: %s needs --calls", calls_only[i]);
  } else {
    static const char *const requests_only[] = {"--model", "--provider",
                                                "--by"};
    for(size_t i = 0; i < SB_ARRAY_LEN(requests_only); i++)
      if(cli_opt_value(&c, requests_only[i]))
        return cli_usage_error("usage --calls: %s is for request usage",
                               requests_only[i]);
  }
  f.key = cli_opt_value(&c, "--key");
  f.model = cli_opt_value(&c, "--model");
  f.provider = cli_opt_value(&c, "--provider");
  if((since = cli_opt_value(&c, "--since"))) {
    if(cli_parse_time(since, &t))
      return cli_usage_error("usage: --since %s: expected a date", since);
    f.since_ms = t * 1000;
  }
  if((until = cli_opt_value(&c, "--until"))) {
    if(cli_parse_time(until, &t))
      return cli_usage_error("usage: --until %s: expected a date", until);
    f.until_ms = t * 1000;
  }
  fmt = cli_opt_value(&c, "--format");
  if(fmt && strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "csv"))
    return cli_usage_error("usage: --format %s: expected table, json or csv",
                           fmt);
  if(cli_opt_value(&c, "--calls")) {
    struct store_mcp_call_filter cf = {0};
    const char *lim = cli_opt_value(&c, "--limit");
    int64_t n = 100;

    if(lim && (parse_count("--limit", lim, &n) || n < 1 || n > 10000))
      return cli_usage_error("usage: --limit %s: expected 1 to 10000", lim);
    cf.key_id = f.key;
    cf.server = cli_opt_value(&c, "--server");
    cf.tool = cli_opt_value(&c, "--tool");
    cf.since_ms = f.since_ms;
    cf.until_ms = f.until_ms;
    cf.limit = (int)n;
    if(!(path = cli_open_db(&c)))
      return EXIT_FAILURE;
    rc = cli_mcp_calls(path, &cf, fmt);
    free(path);
    return rc;
  }
  path = cli_open_db(&c);
  if(!path)
    return EXIT_FAILURE;
  rc = store_usage_query(path, &f, cli_opt_value(&c, "--by"), &u, err,
                         sizeof(err));
  free(path);
  if(rc == SB_EINVAL)
    return cli_usage_error("usage: --by: %s", err);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  if(fmt && !strcmp(fmt, "json")) {
    cli_print_cjson(u);
  } else if(fmt && !strcmp(fmt, "csv")) {
    char *csv = store_usage_csv(u);
    fputs(csv, stdout);
    free(csv);
  } else {
    const char *g = cJSON_GetObjectItem(u, "group")->valuestring;
    const cJSON *row, *tot = cJSON_GetObjectItem(u, "totals");
    printf("%-40s %9s %12s %12s %10s %12s\n", g, "REQUESTS", "PROMPT",
           "COMPLETION", "CACHED", "COST_USD");
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(u, "series"))
    {
      printf("%-40s %9.0f %12.0f %12.0f %10.0f %12.6f%s\n",
             cJSON_GetObjectItem(row, g)->valuestring,
             cJSON_GetObjectItem(row, "requests")->valuedouble,
             cJSON_GetObjectItem(row, "prompt_tokens")->valuedouble,
             cJSON_GetObjectItem(row, "completion_tokens")->valuedouble,
             cJSON_GetObjectItem(row, "cached_tokens")->valuedouble,
             cJSON_GetObjectItem(row, "cost_usd")->valuedouble,
             cJSON_GetObjectItem(row, "unpriced_requests")->valuedouble > 0
                 ? "  (some unpriced)"
                 : "");
    }
    printf("%-40s %9.0f %12.0f %12.0f %10.0f %12.6f\n", "total",
           cJSON_GetObjectItem(tot, "requests")->valuedouble,
           cJSON_GetObjectItem(tot, "prompt_tokens")->valuedouble,
           cJSON_GetObjectItem(tot, "completion_tokens")->valuedouble,
           cJSON_GetObjectItem(tot, "cached_tokens")->valuedouble,
           cJSON_GetObjectItem(tot, "cost_usd")->valuedouble);
  }
  cJSON_Delete(u);
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int printed_any(const struct store_def *rows, int n, const char *name)
{
  for(int i = 0; i < n; i++)
    if(!strcmp(rows[i].name, name))
      return 1;
  return 0;
}

/* Split "a,b,c" into a JSON array of strings. */
static cJSON *csv_array(const char *list)
{
  cJSON *a = cJSON_CreateArray();

  for(const char *p = list; *p;) {
    size_t k = strcspn(p, ",");
    char *t = sb_strndup(p, k);
    cJSON_AddItemToArray(a, cJSON_CreateString(t));
    free(t);
    p += k + (p[k] == ',');
  }
  return a;
}

/* `routes set`'s definition from its flags; NULL after a usage error. */
static cJSON *route_def(const struct cli_cmd *c, int *rc)
{
  const char *targets = cli_opt_value(c, "--targets");
  const char *strategy = cli_opt_value(c, "--strategy");
  const char *retries = cli_opt_value(c, "--retries");
  const char *cache = cli_opt_value(c, "--cache");
  cJSON *def;
  struct route rt;
  char why[256];

  if(!targets) {
    *rc =
        cli_usage_error("routes set: --targets provider/model,... is required");
    return NULL;
  }
  def = cJSON_CreateObject();
  if(strategy)
    cJSON_AddStringToObject(def, "strategy", strategy);
  if(retries)
    cJSON_AddNumberToObject(def, "retries", atof(retries));
  cJSON_AddItemToObject(def, "targets", csv_array(targets));
  if(cache) {
    cJSON *p = cJSON_Parse(cache);
    if(!p) {
      cJSON_Delete(def);
      *rc = cli_usage_error("routes set: --cache expects a JSON object");
      return NULL;
    }
    cJSON_AddItemToObject(def, "cache", p);
  }
  if(route_parse(def, c->args[0], &rt, why, sizeof(why))) {
    cJSON_Delete(def);
    *rc = cli_usage_error("routes set: %s", why);
    return NULL;
  }
  route_clear(&rt);
  return def;
}

/* `providers set`'s definition: --json's object, with the flags on top. */
static cJSON *provider_def(const struct cli_cmd *c, int *rc)
{
  static const char *const flags[][2] = {{"--kind", "kind"},
                                         {"--base-url", "base_url"},
                                         {"--api-key-env", "api_key_env"}};
  const char *json = cli_opt_value(c, "--json");
  const char *models = cli_opt_value(c, "--models");
  struct config_provider p;
  struct config cfg;
  cJSON *def = json ? cJSON_Parse(json) : cJSON_CreateObject();
  char why[512];

  if(!cJSON_IsObject(def)) {
    cJSON_Delete(def);
    *rc = cli_usage_error("providers set: --json: expected a JSON object");
    return NULL;
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(flags); i++) {
    const char *v = cli_opt_value(c, flags[i][0]);
    if(v) {
      cJSON_DeleteItemFromObjectCaseSensitive(def, flags[i][1]);
      cJSON_AddStringToObject(def, flags[i][1], v);
    }
  }
  if(models) {
    cJSON_DeleteItemFromObjectCaseSensitive(def, "models");
    cJSON_AddItemToObject(def, "models", csv_array(models));
  }
  cJSON_DeleteItemFromObjectCaseSensitive(def, "name");
  /* The credential's variable is the gateway's to have, not this
   * shell's: checked by the gateway when it loads the provider. */
  if(config_provider_parse(&p, def, c->args[0], "provider", why, sizeof(why)) ||
     prov_check(&p, "provider", 0, why, sizeof(why))) {
    config_provider_free(&p);
    cJSON_Delete(def);
    *rc = cli_usage_error("providers set: %s", why);
    return NULL;
  }
  /* The gateway refuses what its allow-list does not name; this shell's
   * view of that list (the same --config) is only a hint. */
  if(!cli_load_config(c, &cfg)) {
    if(config_provider_allowed(&cfg.security, &p, why, sizeof(why)))
      fprintf(stderr,
              "switchboard: note: %s; a gateway with this configuration "
              "leaves the provider out\n",
              why);
    config_free(&cfg);
  }
  if(p.api_key_env && (!getenv(p.api_key_env) || !*getenv(p.api_key_env)))
    fprintf(stderr,
            "switchboard: note: %s is not set here; the gateway needs it in "
            "its own environment\n",
            p.api_key_env);
  for(int i = 0; i < p.nheaders; i++) {
    char var[128];
    char *v = config_expand_env(p.headers[i].value, var, sizeof(var));

    if(!v)
      fprintf(stderr,
              "switchboard: note: %s (headers.%s) is not set here; the "
              "gateway needs it in its own environment\n",
              var, p.headers[i].name);
    else
      memset(v, 0, strlen(v));
    free(v);
  }
  config_provider_free(&p);
  return def;
}

/* `switchboard routes|providers list|get|set|delete`: the two tables of
 * named definitions, one mechanism. */
static int defs_cmd(enum store_table table, const char *sub, int argc,
                    char **argv)
{
  const char *what = table == STORE_ROUTES ? "routes" : "providers";
  struct store_def *rows = NULL;
  struct cli_cmd c;
  char err[512];
  char *path;
  int n = 0, rc;

  cli_cmd_init(&c, what, !strcmp(sub, "list") ? 0 : 1);
  if(table == STORE_ROUTES) {
    cli_cmd_opt(&c, "--targets", 0);
    cli_cmd_opt(&c, "--strategy", 0);
    cli_cmd_opt(&c, "--retries", 0);
    cli_cmd_opt(&c, "--cache", 0);
  } else {
    cli_cmd_opt(&c, "--kind", 0);
    cli_cmd_opt(&c, "--base-url", 0);
    cli_cmd_opt(&c, "--api-key-env", 0);
    cli_cmd_opt(&c, "--models", 0);
    cli_cmd_opt(&c, "--json", 0);
  }
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(strcmp(sub, "list") && c.nargs != 1)
    return cli_usage_error("%s %s: which one?", what, sub);
  if(!strcmp(sub, "set")) {
    cJSON *def =
        table == STORE_ROUTES ? route_def(&c, &rc) : provider_def(&c, &rc);
    char *json;

    if(!def)
      return rc;
    if(!(path = cli_open_db(&c))) {
      cJSON_Delete(def);
      return EXIT_FAILURE;
    }
    json = cJSON_PrintUnformatted(def);
    cJSON_Delete(def);
    rc = store_defs_set(path, table, c.args[0], json, err, sizeof(err));
    free(json);
  } else {
    if(!(path = cli_open_db(&c)))
      return EXIT_FAILURE;
    if(!strcmp(sub, "delete")) {
      rc = store_defs_delete(path, table, c.args[0], err, sizeof(err));
    } else {
      rc = store_defs_list(path, table, &rows, &n, err, sizeof(err));
      for(int i = 0; !rc && i < n; i++)
        if(!strcmp(sub, "list") || !strcmp(rows[i].name, c.args[0]))
          printf("%s\t%s\t%s\n", rows[i].name, rows[i].definition,
                 rows[i].source == STORE_SRC_CONFIG ? "config" : "api");
      if(!rc && strcmp(sub, "list") && !printed_any(rows, n, c.args[0]))
        rc = SB_ENOTFOUND;
      store_defs_free(rows, n);
    }
    if(rc == SB_ENOTFOUND)
      snprintf(err, sizeof(err), "no %.*s '%s'", (int)strlen(what) - 1, what,
               c.args[0]);
  }
  if(!rc && strcmp(sub, "list") && strcmp(sub, "get"))
    cli_settle_gateways(path, table == STORE_PROVIDERS);
  free(path);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int cli_main(int argc, char **argv)
{
  const char *sub = argc > 2 ? argv[2] : NULL;
  int help;

  if(argc >= 2 && !strcmp(argv[1], "usage"))
    return usage_cmd(argc - 2, argv + 2);
  if(argc >= 2 && !strcmp(argv[1], "cache")) {
    if(!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") ||
       !strcmp(sub, "help")) {
      fputs(keys_usage, sub ? stdout : stderr);
      return sub ? EXIT_SUCCESS : CLI_EXIT_USAGE;
    }
    int rc = cli_cache_main(argc - 2, argv + 2);
    return rc >= 0 ? rc
                   : cli_usage_error("cache: unknown subcommand '%s'", sub);
  }
  if(argc >= 2 && !strcmp(argv[1], "mcp")) {
    if(!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") ||
       !strcmp(sub, "help")) {
      fputs(keys_usage, sub ? stdout : stderr);
      return sub ? EXIT_SUCCESS : CLI_EXIT_USAGE;
    }
    int rc = cli_mcp_main(argc - 2, argv + 2);
    return rc >= 0 ? rc : cli_usage_error("mcp: unknown subcommand '%s'", sub);
  }
  if(argc < 2 || (strcmp(argv[1], "keys") && strcmp(argv[1], "admin-key") &&
                  strcmp(argv[1], "routes") && strcmp(argv[1], "providers")))
    return -1;
  help = sub &&
         (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"));
  if(help) {
    fputs(keys_usage, stdout);
    return EXIT_SUCCESS;
  }
  if(!sub)
    return cli_usage_error("%s: missing subcommand", argv[1]);
  if(!strcmp(argv[1], "admin-key")) {
    if(!strcmp(sub, "create"))
      return admin_key_create(argc - 3, argv + 3);
  } else if(!strcmp(argv[1], "routes") || !strcmp(argv[1], "providers")) {
    if(!strcmp(sub, "list") || !strcmp(sub, "get") || !strcmp(sub, "set") ||
       !strcmp(sub, "delete"))
      return defs_cmd(!strcmp(argv[1], "routes") ? STORE_ROUTES
                                                 : STORE_PROVIDERS,
                      sub, argc - 3, argv + 3);
  } else if(!strcmp(sub, "create")) {
    return keys_create(argc - 3, argv + 3);
  } else if(!strcmp(sub, "list")) {
    return keys_list(argc - 3, argv + 3);
  } else if(!strcmp(sub, "revoke")) {
    return keys_revoke(argc - 3, argv + 3);
  }
  return cli_usage_error("%s: unknown subcommand '%s'", argv[1], sub);
}
