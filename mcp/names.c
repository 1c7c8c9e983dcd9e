#include "mcp/names.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int name_byte(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int mcp_name_valid(const char *s)
{
  size_t n = 0;

  for(; s[n]; n++)
    if(n >= MCP_NAME_MAX || !name_byte((unsigned char)s[n]))
      return 0;
  return n > 0;
}

/* FNV-1a, 32 bits: stable across builds and machines, which is all a
 * name needs (the table resolves it; it guards nothing). */
static uint32_t fnv1a(uint32_t h, const char *s, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  return h;
}

int mcp_name_public(const char *server, const char *name,
                    char out[MCP_NAME_MAX + 1])
{
  size_t ns = strlen(server), nn = strlen(name), n = 0;
  uint32_t h;

  if(ns + 2 + nn <= MCP_NAME_MAX) {
    memcpy(out, server, ns);
    memcpy(out + ns, "__", 2);
    memcpy(out + ns + 2, name, nn + 1);
    if(mcp_name_valid(out))
      return 1;
  }
  for(size_t i = 0; i < ns && n < 55; i++)
    out[n++] = name_byte((unsigned char)server[i]) ? server[i] : '_';
  for(size_t i = 0; i < 2 && n < 55; i++)
    out[n++] = '_';
  for(size_t i = 0; i < nn && n < 55; i++)
    out[n++] = name_byte((unsigned char)name[i]) ? name[i] : '_';
  h = fnv1a(2166136261u, server, ns + 1); /* the NUL parts the pair */
  h = fnv1a(h, name, nn);
  snprintf(out + n, MCP_NAME_MAX + 1 - n, "_%08x", (unsigned)h);
  return 0;
}
