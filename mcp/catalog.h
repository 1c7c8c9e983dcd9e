/*
 * catalog.h - what the aggregate endpoint (/mcp) offers, built from one
 * federation snapshot: every up server's tools and prompts under their
 * public names (mcp/names.h), its resources and templates, in a
 * deterministic order (servers by name, each server's items in its own
 * order), with the table that maps a public name back to its server and
 * the server's own name.
 *
 * A catalog is immutable and reference-counted: a request resolves a
 * name through the catalog it listed with or started with, whatever the
 * federation publishes meanwhile. struct mcp_catalogs keeps the one for
 * the current snapshot, rebuilt when the snapshot's version moves.
 *
 * Thread safety: mcp_catalogs_get() from any thread; a catalog is
 * read-only.
 */
#ifndef SB_MCP_CATALOG_H
#define SB_MCP_CATALOG_H

#include "mcp/fed.h"
#include "mcp/names.h"

#include <cjson/cJSON.h>

/** One item. Every pointer is owned by the catalog (or its snapshot). */
struct mcp_entry {
  char public_name[MCP_NAME_MAX + 1]; /* tools and prompts */
  char *full;                         /* "<server>__<name>": what a key's
                                       * tool globs are matched against */
  const char *server;
  const char *name;  /* the server's own name; a resource's uri; a
                      * template's uriTemplate */
  const cJSON *item; /* the server's object, as listed */
};

struct mcp_catalog {
  const struct mcp_fed_snap *snap; /* held */
  struct mcp_entry *tools, *prompts, *resources, *templates;
  int ntools, nprompts, nresources, ntemplates;
  /* Sorted by public name, without the entries whose name an earlier
   * one took (those have public_name ""). */
  struct mcp_entry **tools_by_name, **prompts_by_name;
  int ntools_by_name, nprompts_by_name;
  int refs;
};

/** Build the catalog of snap (a reference is taken). A name two items
 * would share goes to the first (servers by name) and the other is left
 * out with a log line. */
struct mcp_catalog *mcp_catalog_build(const struct mcp_fed_snap *snap);

void mcp_catalog_ref(struct mcp_catalog *c);
void mcp_catalog_release(struct mcp_catalog *c);

/** The tool or prompt called public_name, or NULL. */
const struct mcp_entry *mcp_catalog_tool(const struct mcp_catalog *c,
                                         const char *public_name);
const struct mcp_entry *mcp_catalog_prompt(const struct mcp_catalog *c,
                                           const char *public_name);

/** The server that serves uri: the one that listed it, else the one
 * with the longest template prefix (the text before its first '{')
 * that uri starts with; NULL when none. */
const char *mcp_catalog_resource_server(const struct mcp_catalog *c,
                                        const char *uri);

struct mcp_catalogs;

struct mcp_catalogs *mcp_catalogs_new(struct mcp_fed *fed);
void mcp_catalogs_free(struct mcp_catalogs *cs);

/** The catalog of the federation's current snapshot, with a reference
 * for the caller. */
struct mcp_catalog *mcp_catalogs_get(struct mcp_catalogs *cs);

#endif
