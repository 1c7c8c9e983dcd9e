/*
 * names.h - the names a federated item goes by on the aggregate endpoint
 * (/mcp): "<server>__<name>", in the set every client and model API
 * accepts (^[a-zA-Z0-9_-]{1,64}$).
 *
 * A name that fits is used as it is. One that does not (a character
 * outside the set, or longer than 64 in all) gets a stable short form:
 * each character outside the set becomes '_', the result is cut to 55
 * characters and "_" and 8 hex digits of a hash of "<server>\0<name>"
 * are appended. The form depends on the pair only, never on what else
 * is listed, so a client's cached name keeps working; the catalog maps
 * it back (mcp/catalog.h).
 *
 * Pure: no I/O, no state.
 */
#ifndef SB_MCP_NAMES_H
#define SB_MCP_NAMES_H

#include <stddef.h>

#define MCP_NAME_MAX 64

/** The public name of server's item name into out (MCP_NAME_MAX + 1
 * bytes). Returns 1 when it is the plain "<server>__<name>", 0 when it
 * is the short form. */
int mcp_name_public(const char *server, const char *name,
                    char out[MCP_NAME_MAX + 1]);

/** 1 when s is a name clients accept: ^[a-zA-Z0-9_-]{1,64}$. */
int mcp_name_valid(const char *s);

#endif
