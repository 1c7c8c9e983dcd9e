/*
 * mcp_server.h - the definition of one federated upstream MCP server, as
 * the config file's "mcp_servers" object, the admin API and the
 * mcp_servers table hold it.
 *
 *   "mcp_servers": {
 *     "files":  {"transport": "stdio", "command": "npx",
 *                "args": ["-y", "@modelcontextprotocol/server-memory"],
 *                "env": {"TOKEN": "${SWITCHBOARD_CRED_FILES}"}},
 *     "remote": {"transport": "http", "url": "https://mcp.example.com/mcp",
 *                "headers": {"Authorization": "Bearer ${SWITCHBOARD_CRED_R}"},
 *                "timeout_s": 120}
 *   }
 *
 * A name is 1..MCP_SERVER_NAME_MAX of [A-Za-z0-9-] (no '_', so that a
 * federated tool name "<server>__<tool>" splits at its first "__").
 * Every "${VAR}" in headers and env must name a variable on the
 * credential allow-list (config_env_allowed); the values are read from
 * the environment when the server is started, never stored.
 */
#ifndef SB_CONFIG_MCP_SERVER_H
#define SB_CONFIG_MCP_SERVER_H

#include "config/config.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define MCP_SERVER_NAME_MAX 32

enum config_mcp_transport {
  CONFIG_MCP_HTTP,  /* Streamable HTTP: url, headers */
  CONFIG_MCP_STDIO, /* a child process: command, args, env, cwd */
};

struct config_mcp_server {
  char *name;
  enum config_mcp_transport transport;
  char *url;                 /* http */
  struct config_kv *headers; /* http; values may hold "${VAR}" */
  int nheaders;
  char *command; /* stdio: the program (PATH is searched) */
  char **args;
  int nargs;
  struct config_kv *env; /* stdio: the child's environment besides PATH,
                          * HOME, LANG and TMPDIR; values may hold
                          * "${VAR}" */
  int nenv;
  char *cwd;          /* stdio; NULL: the gateway's */
  int timeout_s;      /* a request without any answer or progress this
                       * long fails (and is cancelled upstream); default
                       * 60 */
  int call_timeout_s; /* hard cap on one call even with progress; 0:
                       * none (default) */
  int enabled;        /* 0: defined but not started; default 1 */
  char *definition;   /* the object as written, without "name", as JSON
                       * text: what the mcp_servers table stores */
};

/** 1 when name is a valid server name. */
int config_mcp_name_valid(const char *name);

/**
 * Parse one server object into s, as config_provider_parse() does for a
 * provider: name is the server's name (the object's key, or the table
 * row's name), path names obj in errors ("mcp_servers.files"). Unknown
 * keys, wrong types, a missing url or command, a transport's fields on
 * the other transport fail with SB_ECONFIG and err. s is to be freed with
 * config_mcp_server_free() either way.
 */
int config_mcp_server_parse(struct config_mcp_server *s, const cJSON *obj,
                            const char *name, const char *path, char *err,
                            size_t errlen);

/**
 * Whether sec admits s: every "${VAR}" it names is on the credential
 * allow-list, and an http url is http(s) and not on a link-local or
 * metadata address unless sec allows it. 0, or SB_ECONFIG with err.
 */
int config_mcp_server_allowed(const struct config_security *sec,
                              const struct config_mcp_server *s, char *err,
                              size_t errlen);

/** A deep copy of s into out (out's previous contents are not freed). */
void config_mcp_server_copy(struct config_mcp_server *out,
                            const struct config_mcp_server *s);

void config_mcp_server_free(struct config_mcp_server *s);

#endif
