/*
 * registry.h - the provider registry as the database defines it.
 *
 * Providers and routes live in SQLite (store/keys.h, "named
 * definitions"). At start the config file's entries are written there
 * (registry_seed); the registry the workers use is then built from the
 * providers table (registry_load), again whenever that table changes,
 * by admission.c's reload. Building fetches the model list of each provider
 * configured without one, so it blocks: start-up, the thread pool or
 * the watcher thread, never a worker's loop.
 */
#ifndef SB_GATEWAY_REGISTRY_H
#define SB_GATEWAY_REGISTRY_H

#include "config/config.h"
#include "providers/provider.h"

#include <stddef.h>

/** How long a model-list fetch may take before the provider is served
 * with an unknown list (any model name passes). */
#define REGISTRY_FETCH_TIMEOUT_MS 5000

/**
 * Check every provider of cfg as the registry would build it (kind,
 * options, credentials in the environment), then make the database's
 * config-owned providers, routes and MCP servers what the file says. Rows
 * edited through the admin API or the CLI win over the file; each is logged. 0,
 * or SB_ECONFIG / SB_EDB with err.
 */
int registry_seed(const struct config *cfg, char *err, size_t errlen);

/**
 * Build the registry from the providers table of the database at path.
 * prev (may be NULL): the registry in use. When the table still says
 * what prev was built from, *out is prev with a new reference and
 * nothing is built. Otherwise model lists are taken over from prev for
 * unchanged providers and fetched for the others.
 *
 * sec: what a definition may name and reach (config_provider_allowed);
 * a definition it refuses counts as one that cannot be built.
 * strict: a stored provider that cannot be built (its credential's
 * variable unset, say) fails the whole load, as at start. Otherwise it
 * is left out with a log line and the others are served.
 * 0, or SB_EDB / SB_ECONFIG with err.
 */
int registry_load(const char *path, const struct config_security *sec,
                  struct prov_registry *prev, int strict,
                  struct prov_registry **out, char *err, size_t errlen);

#endif
