/*
 * cli_int.h - what the command modules of the switchboard binary share
 * (gateway/cli.c, gateway/cli_mcp.c): option parsing, the database a
 * command works on, and waiting for running gateways. Internal to
 * gateway/; stdout carries only results, stderr everything for a person.
 */
#ifndef SB_GATEWAY_CLI_INT_H
#define SB_GATEWAY_CLI_INT_H

#include "config/config.h"
#include "gateway/cli.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define CLI_MAX_OPTS 16
#define CLI_MAX_ARGS 4

/* One option a command accepts: "--name" with a value, or a flag. */
struct cli_opt {
  const char *name;
  int flag;
  const char *value; /* the value, or "1" for a flag that was given */
};

struct cli_cmd {
  const char *what; /* "keys create", for messages */
  struct cli_opt opts[CLI_MAX_OPTS];
  int nopts;
  const char *args[CLI_MAX_ARGS]; /* positional arguments */
  int nargs;
  int max_args;
};

/** "switchboard: <message>" and a pointer to --help on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Start a command: what names it in messages, max_args positional
 * arguments. */
void cli_cmd_init(struct cli_cmd *c, const char *what, int max_args);

/** Accept option name ("--x"): a flag, or one that takes a value. */
void cli_cmd_opt(struct cli_cmd *c, const char *name, int flag);

/** The value of option name, "1" for a flag given, or NULL. */
const char *cli_opt_value(const struct cli_cmd *c, const char *name);

/** Parse argv ("--opt VALUE", "--opt=VALUE", flags; --db and --config are
 * always accepted; the last of a repeated option wins). 0, 1 for --help
 * (usage printed), or CLI_EXIT_USAGE (message printed). */
int cli_cmd_parse(struct cli_cmd *c, int argc, char **argv);

/** The configuration as `switchboard serve` would see it with c's
 * --config; 0, or -1 (message printed, cfg freed). */
int cli_load_config(const struct cli_cmd *c, struct config *cfg);

/** The database path (--db, SWITCHBOARD_DB, the config's, the default),
 * migrated; caller frees. NULL (message printed) on failure. */
char *cli_open_db(const struct cli_cmd *c);

/** Return once every running gateway on this host serves the change just
 * written (providers != 0: to the providers or MCP servers, else to
 * keys, prices and routes), or after a bounded wait with a note. */
void cli_settle_gateways(const char *path, int providers);

/** Split "a, b,c" into trimmed, non-empty items (caller frees each and
 * the array). 0 or CLI_EXIT_USAGE (message printed). */
int cli_parse_list(const char *opt, const char *s, char ***out, int *n);

/** o as one line of JSON on stdout. */
int cli_print_cjson(cJSON *o);

/* ---- cli_cache.c ---- */

/** `switchboard cache stats|purge ...` (argv[0] is the subcommand): an
 * exit code, or -1 for a subcommand it does not know. */
int cli_cache_main(int argc, char **argv);

/* ---- cli_mcp.c ---- */

/** `switchboard mcp add|list|get|remove ...` (argv[0] is the
 * subcommand): an exit code, or -1 for a subcommand it does not know. */
int cli_mcp_main(int argc, char **argv);

struct store_mcp_call_filter;

/** `switchboard usage --calls`: the tool-call records of f from the
 * database at path in format fmt ("table" (NULL), "json" or "csv"). An
 * exit code. */
int cli_mcp_calls(const char *path, const struct store_mcp_call_filter *f,
                  const char *fmt);

#endif
