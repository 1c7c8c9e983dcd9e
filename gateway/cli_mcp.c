/*
 * cli_mcp.c - `switchboard mcp add|list|get|remove` (the mcp_servers
 * table, as /admin/v1/mcp/servers edits it) and `switchboard usage
 * --calls` (the mcp_calls table).
 *
 * Like the other commands they work on the database only; a running
 * gateway learns of a change through the mcp_servers version counter,
 * and `add` and `remove` wait until it has (cli_settle_gateways).
 */
#include "gateway/cli_int.h"
#include "gateway/mcp.h"
#include "config/config.h"
#include "config/mcp_server.h"
#include "base/sb.h"
#include "store/keys.h"
#include "store/mcp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* `mcp add`'s options that may be given again and again. */
struct repeated {
  const char *header[64], *arg[256], *env[64];
  int nheader, narg, nenv;
};

/* Take --header, --arg and --env (each "--x V" or "--x=V") out of argv
 * into r; the rest goes to out (argc slots). Returns the count left, or
 * -1 after a usage error (printed). */
static int take_repeated(int argc, char **argv, struct repeated *r, char **out)
{
  static const char *const names[] = {"--header", "--arg", "--env"};
  int n = 0;

  for(int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    size_t k;

    if(!strcmp(a, "--")) {
      while(i < argc)
        out[n++] = argv[i++];
      break;
    }
    for(k = 0; k < SB_ARRAY_LEN(names); k++) {
      size_t len = strlen(names[k]);
      if(!strncmp(a, names[k], len) && (a[len] == '=' || !a[len]))
        break;
    }
    if(k == SB_ARRAY_LEN(names)) {
      out[n++] = argv[i];
      continue;
    }
    v = strchr(a, '=');
    if(v)
      v++;
    else if(i + 1 < argc)
      v = argv[++i];
    if(!v) {
      cli_usage_error("mcp add: option '%s' needs a value", names[k]);
      return -1;
    }
    if((k == 0 && r->nheader == (int)SB_ARRAY_LEN(r->header)) ||
       (k == 1 && r->narg == (int)SB_ARRAY_LEN(r->arg)) ||
       (k == 2 && r->nenv == (int)SB_ARRAY_LEN(r->env))) {
      cli_usage_error("mcp add: too many %s options", names[k]);
      return -1;
    }
    if(k == 0)
      r->header[r->nheader++] = v;
    else if(k == 1)
      r->arg[r->narg++] = v;
    else
      r->env[r->nenv++] = v;
  }
  return n;
}

/* Set key of o to v, replacing what --json said. */
static void put(cJSON *o, const char *key, cJSON *v)
{
  cJSON_DeleteItemFromObjectCaseSensitive(o, key);
  cJSON_AddItemToObject(o, key, v);
}

/* A whole number of seconds for --timeout / --call-timeout. */
static int seconds(const char *opt, const char *s, int min, double *out)
{
  char *end;
  long v = strtol(s, &end, 10);

  if(!isdigit((unsigned char)*s) || *end || v < min || v > 86400)
    return cli_usage_error("mcp add: %s '%s': expected whole seconds, %d to "
                           "86400",
                           opt, s, min);
  *out = (double)v;
  return 0;
}

/* "K: V" into o (trimmed around the colon). */
static int add_header(cJSON *o, const char *h)
{
  const char *colon = strchr(h, ':'), *v;
  char *name;

  if(!colon || colon == h)
    return cli_usage_error("mcp add: --header '%s': expected 'Name: value'", h);
  name = sb_strndup(h, (size_t)(colon - h));
  for(size_t n = strlen(name); n && isspace((unsigned char)name[n - 1]); n--)
    name[n - 1] = '\0';
  for(v = colon + 1; isspace((unsigned char)*v); v++)
    ;
  put(o, name, cJSON_CreateString(v));
  free(name);
  return 0;
}

/* `mcp add`'s definition: --json's object with the flags on top; NULL
 * after a usage error (*rc set). */
static cJSON *server_def(const struct cli_cmd *c, const struct repeated *r,
                         int *rc)
{
  const char *json = cli_opt_value(c, "--json"), *v;
  cJSON *def = json ? cJSON_Parse(json) : cJSON_CreateObject();
  double d;

  if(!cJSON_IsObject(def)) {
    cJSON_Delete(def);
    *rc = cli_usage_error("mcp add: --json: expected a JSON object");
    return NULL;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(def, "name");
  if((v = cli_opt_value(c, "--url")) && cli_opt_value(c, "--command")) {
    cJSON_Delete(def);
    *rc = cli_usage_error("mcp add: --url (http) or --command (stdio), not "
                          "both");
    return NULL;
  }
  if(v) {
    put(def, "transport", cJSON_CreateString("http"));
    put(def, "url", cJSON_CreateString(v));
  }
  if((v = cli_opt_value(c, "--command"))) {
    put(def, "transport", cJSON_CreateString("stdio"));
    put(def, "command", cJSON_CreateString(v));
  }
  if(r->nheader) {
    cJSON *h = cJSON_GetObjectItemCaseSensitive(def, "headers");
    if(!cJSON_IsObject(h))
      put(def, "headers", h = cJSON_CreateObject());
    for(int i = 0; i < r->nheader; i++)
      if((*rc = add_header(h, r->header[i]))) {
        cJSON_Delete(def);
        return NULL;
      }
  }
  if(r->narg) {
    cJSON *a = cJSON_CreateArray();
    for(int i = 0; i < r->narg; i++)
      cJSON_AddItemToArray(a, cJSON_CreateString(r->arg[i]));
    put(def, "args", a);
  }
  if(r->nenv) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(def, "env");
    if(!cJSON_IsObject(e))
      put(def, "env", e = cJSON_CreateObject());
    for(int i = 0; i < r->nenv; i++) {
      const char *eq = strchr(r->env[i], '=');
      char *k;
      if(!eq || eq == r->env[i]) {
        cJSON_Delete(def);
        *rc = cli_usage_error("mcp add: --env '%s': expected NAME=VALUE",
                              r->env[i]);
        return NULL;
      }
      k = sb_strndup(r->env[i], (size_t)(eq - r->env[i]));
      put(e, k, cJSON_CreateString(eq + 1));
      free(k);
    }
  }
  if((v = cli_opt_value(c, "--cwd")))
    put(def, "cwd", cJSON_CreateString(v));
  if((v = cli_opt_value(c, "--timeout"))) {
    if((*rc = seconds("--timeout", v, 1, &d))) {
      cJSON_Delete(def);
      return NULL;
    }
    put(def, "timeout_s", cJSON_CreateNumber(d));
  }
  if((v = cli_opt_value(c, "--call-timeout"))) {
    if((*rc = seconds("--call-timeout", v, 0, &d))) {
      cJSON_Delete(def);
      return NULL;
    }
    put(def, "call_timeout_s", cJSON_CreateNumber(d));
  }
  if(cli_opt_value(c, "--disabled"))
    put(def, "enabled", cJSON_CreateFalse());
  return def;
}

/* Notes, not refusals: the gateway's own configuration and environment
 * decide, and this shell's may differ. */
static void notes(const struct cli_cmd *c, const struct config_mcp_server *s)
{
  const struct config_kv *kv[2] = {s->headers, s->env};
  const int n[2] = {s->nheaders, s->nenv};
  struct config cfg;
  char why[512];

  if(!cli_load_config(c, &cfg)) {
    if(config_mcp_server_allowed(&cfg.security, s, why, sizeof(why)))
      fprintf(stderr,
              "switchboard: note: %s; a gateway with this configuration "
              "refuses the server\n",
              why);
    config_free(&cfg);
  }
  for(int t = 0; t < 2; t++)
    for(int i = 0; i < n[t]; i++) {
      char var[128];
      char *v = config_expand_env(kv[t][i].value, var, sizeof(var));

      if(!v)
        fprintf(stderr,
                "switchboard: note: %s (%s.%s) is not set here; the gateway "
                "needs it in its own environment\n",
                var, t ? "env" : "headers", kv[t][i].name);
      else
        memset(v, 0, strlen(v));
      free(v);
    }
}

static int mcp_add(int argc, char **argv)
{
  struct repeated r;
  struct config_mcp_server s;
  struct cli_cmd c;
  char **rest = sb_calloc((size_t)argc + 1, sizeof(char *));
  char why[512], *path = NULL;
  cJSON *def = NULL;
  int n, rc;

  memset(&r, 0, sizeof(r));
  memset(&s, 0, sizeof(s));
  cli_cmd_init(&c, "mcp add", 1);
  cli_cmd_opt(&c, "--url", 0);
  cli_cmd_opt(&c, "--command", 0);
  cli_cmd_opt(&c, "--cwd", 0);
  cli_cmd_opt(&c, "--timeout", 0);
  cli_cmd_opt(&c, "--call-timeout", 0);
  cli_cmd_opt(&c, "--disabled", 1);
  cli_cmd_opt(&c, "--json", 0);
  n = take_repeated(argc, argv, &r, rest);
  rc = n < 0 ? CLI_EXIT_USAGE : cli_cmd_parse(&c, n, rest);
  if(rc) {
    rc = rc == 1 ? EXIT_SUCCESS : rc;
    goto out;
  }
  if(c.nargs != 1) {
    rc = cli_usage_error("mcp add: which server? (switchboard mcp add NAME "
                         "--url URL | --command CMD)");
    goto out;
  }
  if(!(def = server_def(&c, &r, &rc)))
    goto out;
  if(config_mcp_server_parse(&s, def, c.args[0], "mcp server", why,
                             sizeof(why))) {
    rc = cli_usage_error("mcp add: %s", why);
    goto out;
  }
  notes(&c, &s);
  if(!(path = cli_open_db(&c))) {
    rc = EXIT_FAILURE;
    goto out;
  }
  /* As written: what parse kept of def. */
  rc = store_defs_set(path, STORE_MCP_SERVERS, s.name, s.definition, why,
                      sizeof(why));
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", why);
    rc = EXIT_FAILURE;
    goto out;
  }
  cli_settle_gateways(path, 1);
  fprintf(stderr, "switchboard: MCP server '%s' saved (%s)\n", s.name,
          s.transport == CONFIG_MCP_HTTP ? s.url : s.command);
  rc = EXIT_SUCCESS;
out:
  free(path);
  free(rest);
  cJSON_Delete(def);
  config_mcp_server_free(&s);
  return rc;
}

/* A row as `mcp list --json` and `mcp get` show it: the admin API's
 * entry without the live status. */
static cJSON *entry(const struct store_def *d)
{
  cJSON *o = cJSON_CreateObject(), *def = cJSON_Parse(d->definition);

  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "object", "mcp.server");
  cJSON_AddStringToObject(o, "source",
                          d->source == STORE_SRC_CONFIG ? "config" : "api");
  cJSON_AddItemToObject(o, "definition", def ? def : cJSON_CreateObject());
  cJSON_AddNumberToObject(o, "updated_at", (double)d->updated_at);
  return o;
}

static void print_table(const struct store_def *rows, int n)
{
  size_t w = 4;

  for(int i = 0; i < n; i++)
    if(strlen(rows[i].name) > w)
      w = strlen(rows[i].name);
  printf("%-*s  %-9s  %-7s  %-7s  %s\n", (int)w, "NAME", "TRANSPORT", "SOURCE",
         "ENABLED", "TARGET");
  for(int i = 0; i < n; i++) {
    struct config_mcp_server s;
    char why[256];
    cJSON *def = cJSON_Parse(rows[i].definition);
    int bad = config_mcp_server_parse(&s, def, rows[i].name, "definition", why,
                                      sizeof(why));

    printf("%-*s  %-9s  %-7s  %-7s  %s\n", (int)w, rows[i].name,
           bad                              ? "?"
           : s.transport == CONFIG_MCP_HTTP ? "http"
                                            : "stdio",
           rows[i].source == STORE_SRC_CONFIG ? "config" : "api",
           bad         ? "-"
           : s.enabled ? "yes"
                       : "no",
           bad                              ? why
           : s.transport == CONFIG_MCP_HTTP ? s.url
                                            : s.command);
    config_mcp_server_free(&s);
    cJSON_Delete(def);
  }
}

/* list, get and remove. */
static int mcp_table(const char *sub, int argc, char **argv)
{
  struct store_def *rows = NULL;
  struct cli_cmd c;
  char err[512], *path;
  int n = 0, rc, list = !strcmp(sub, "list"), found = 0;

  cli_cmd_init(&c,
               !strcmp(sub, "list")  ? "mcp list"
               : !strcmp(sub, "get") ? "mcp get"
                                     : "mcp remove",
               list ? 0 : 1);
  if(list)
    cli_cmd_opt(&c, "--json", 1);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(!list && c.nargs != 1)
    return cli_usage_error("mcp %s: which server?", sub);
  if(!(path = cli_open_db(&c)))
    return EXIT_FAILURE;
  if(!strcmp(sub, "remove")) {
    rc =
        store_defs_delete(path, STORE_MCP_SERVERS, c.args[0], err, sizeof(err));
    if(!rc) {
      cli_settle_gateways(path, 1);
      fprintf(stderr, "switchboard: MCP server '%s' removed\n", c.args[0]);
    }
  } else {
    rc = store_defs_list(path, STORE_MCP_SERVERS, &rows, &n, err, sizeof(err));
    if(!rc && list && !cli_opt_value(&c, "--json")) {
      print_table(rows, n);
    } else if(!rc && list) {
      cJSON *a = cJSON_CreateArray();
      for(int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, entry(&rows[i]));
      cli_print_cjson(a);
      cJSON_Delete(a);
    } else if(!rc) {
      for(int i = 0; i < n && !found; i++)
        if(!strcmp(rows[i].name, c.args[0])) {
          cJSON *o = entry(&rows[i]);
          cli_print_cjson(o);
          cJSON_Delete(o);
          found = 1;
        }
      if(!found)
        rc = SB_ENOTFOUND;
    }
    store_defs_free(rows, n);
  }
  if(rc == SB_ENOTFOUND)
    snprintf(err, sizeof(err), "no MCP server '%s'", c.args[0]);
  free(path);
  if(rc) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* tools NAME: what the server offers, asked the way the gateway asks. */
static int mcp_tools(int argc, char **argv)
{
  struct config_mcp_server def;
  struct store_def *rows = NULL;
  struct config cfg;
  struct cli_cmd c;
  char err[512], *path;
  const char *wait;
  double wait_s = 30;
  int n = 0, rc = EXIT_FAILURE, found = 0;

  cli_cmd_init(&c, "mcp tools", 1);
  cli_cmd_opt(&c, "--json", 1);
  cli_cmd_opt(&c, "--wait", 0);
  rc = cli_cmd_parse(&c, argc, argv);
  if(rc)
    return rc == 1 ? EXIT_SUCCESS : rc;
  if(c.nargs != 1)
    return cli_usage_error("mcp tools: which server?");
  if((wait = cli_opt_value(&c, "--wait")) &&
     seconds("--wait", wait, 1, &wait_s))
    return CLI_EXIT_USAGE;
  if(!(path = cli_open_db(&c)))
    return EXIT_FAILURE;
  if(cli_load_config(&c, &cfg)) {
    free(path);
    return EXIT_FAILURE;
  }
  memset(&def, 0, sizeof(def));
  rc = store_defs_list(path, STORE_MCP_SERVERS, &rows, &n, err, sizeof(err));
  for(int i = 0; !rc && i < n && !found; i++) {
    cJSON *obj;
    if(strcmp(rows[i].name, c.args[0]))
      continue;
    found = 1;
    obj = cJSON_Parse(rows[i].definition);
    rc = !obj ||
         config_mcp_server_parse(&def, obj, rows[i].name, rows[i].name, err,
                                 sizeof(err)) ||
         config_mcp_server_allowed(&cfg.security, &def, err, sizeof(err));
    cJSON_Delete(obj);
  }
  if(!rc && !found)
    snprintf(err, sizeof(err), "no MCP server '%s'", c.args[0]);
  if(rc || !found) {
    fprintf(stderr, "switchboard: %s\n", err);
    rc = EXIT_FAILURE;
  } else {
    def.enabled = 1; /* asked for by name: shown even when disabled */
    rc = mcp_cli_tools(&cfg, &def, cli_opt_value(&c, "--json") != NULL,
                       (int)wait_s);
  }
  config_mcp_server_free(&def);
  store_defs_free(rows, n);
  config_free(&cfg);
  free(path);
  return rc;
}

int cli_mcp_main(int argc, char **argv)
{
  const char *sub = argv[0];

  if(!strcmp(sub, "tools"))
    return mcp_tools(argc - 1, argv + 1);

  if(!strcmp(sub, "add"))
    return mcp_add(argc - 1, argv + 1);
  if(!strcmp(sub, "list") || !strcmp(sub, "get") || !strcmp(sub, "remove"))
    return mcp_table(sub, argc - 1, argv + 1);
  return -1;
}

/* ---- usage --calls ---- */

static void format_ms(int64_t ms, char *out, size_t cap)
{
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  if(!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, cap, "%lld", (long long)ms);
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(const char *s, int last)
{
  if(!s)
    s = "";
  if(strpbrk(s, ",\"\r\n")) {
    putchar('"');
    for(; *s; s++) {
      if(*s == '"')
        putchar('"');
      putchar(*s);
    }
    putchar('"');
  } else {
    fputs(s, stdout);
  }
  putchar(last ? '\n' : ',');
}

int cli_mcp_calls(const char *path, const struct store_mcp_call_filter *f,
                  const char *fmt)
{
  struct store_mcp_call *rows = NULL;
  char err[512], when[32];
  int n = 0;

  if(store_mcp_calls_list(path, f, &rows, &n, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    return EXIT_FAILURE;
  }
  if(fmt && !strcmp(fmt, "json")) {
    cJSON *o = cJSON_CreateObject(), *data;
    cJSON_AddStringToObject(o, "object", "list");
    data = cJSON_AddArrayToObject(o, "data");
    for(int i = 0; i < n; i++)
      cJSON_AddItemToArray(data, store_mcp_call_json(&rows[i]));
    cli_print_cjson(o);
    cJSON_Delete(o);
  } else if(fmt && !strcmp(fmt, "csv")) {
    fputs("ts_ms,request_id,session_id,key_id,server,tool,outcome,error,"
          "duration_ms,request_bytes,response_bytes\n",
          stdout);
    for(int i = 0; i < n; i++) {
      const struct store_mcp_call *c = &rows[i];
      printf("%lld,", (long long)c->ts_ms);
      csv_field(c->request_id, 0);
      csv_field(c->session_id, 0);
      csv_field(c->key_id, 0);
      csv_field(c->server, 0);
      csv_field(c->tool, 0);
      csv_field(c->outcome, 0);
      csv_field(c->error, 0);
      printf("%lld,%lld,%lld\n", (long long)c->duration_ms,
             (long long)c->request_bytes, (long long)c->response_bytes);
    }
  } else {
    printf("%-20s  %-16s  %-24s  %-12s  %-20s  %8s  %9s  %9s  %s\n", "TIME",
           "SERVER", "TOOL", "OUTCOME", "KEY", "MS", "REQ_BYTES", "RESP_BYTES",
           "ERROR");
    for(int i = 0; i < n; i++) {
      const struct store_mcp_call *c = &rows[i];
      format_ms(c->ts_ms, when, sizeof(when));
      printf("%-20s  %-16s  %-24s  %-12s  %-20s  %8lld  %9lld  %9lld  %s\n",
             when, c->server, c->tool, c->outcome, c->key_id ? c->key_id : "-",
             (long long)c->duration_ms, (long long)c->request_bytes,
             (long long)c->response_bytes, c->error ? c->error : "");
    }
  }
  store_mcp_calls_free(rows, n);
  fflush(stdout);
  return ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}
