/*
 * cli.h - the key-management commands of the switchboard binary:
 * `switchboard keys create|list|revoke` and `switchboard admin-key create`
 * (docs/reference.md, "API keys").
 *
 * They run in the foreground, against the database only (store/keys.h),
 * and may run beside a serving gateway: it picks up their changes through
 * the keys' version counter.
 */
#ifndef SB_GATEWAY_CLI_H
#define SB_GATEWAY_CLI_H

#include <stdint.h>

/** Exit code of a command-line usage error. */
#define CLI_EXIT_USAGE 2

/**
 * Run the command in argv[1] when it is one of this module's ("keys",
 * "admin-key", "usage", "routes", "providers", "mcp", "cache"): returns the
 * process exit code (0 done, 1 failed, 2 usage error), having written the
 * result to stdout and messages to stderr. Returns -1, touching nothing, for
 * any other command.
 */
int cli_main(int argc, char **argv);

/**
 * Parse a --expires value into unix seconds: "YYYY-MM-DD" (midnight UTC),
 * an ISO 8601 UTC timestamp "YYYY-MM-DDTHH:MM[:SS[.frac]]" with an
 * optional "Z" or "+00:00" (fractions are dropped), or unix seconds.
 * Returns 0, or SB_EINVAL for anything else, an impossible date, or a
 * time not after the epoch.
 */
int cli_parse_time(const char *s, int64_t *out);

#endif
