/*
 * fed_def.c - what the federation adds to a server definition: what makes
 * two of them the same server, and the "${VAR}" expansion done when one
 * starts. Copying, freeing and the security check are the config layer's
 * (config/mcp_server.h), so that the federation admits exactly what the
 * config file, the admin API and the CLI admit.
 */
#include "mcp/fed_int.h"
#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

static void add_kv(cJSON *o, const char *key, const struct config_kv *kv, int n)
{
  cJSON *m = cJSON_AddObjectToObject(o, key);

  for(int i = 0; i < n; i++)
    cJSON_AddStringToObject(m, kv[i].name ? kv[i].name : "",
                            kv[i].value ? kv[i].value : "");
}

/* FNV-1a, 64 bits: credentials are compared without being kept. */
static uint64_t fnv(uint64_t h, const char *s)
{
  for(; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  h ^= 0xff; /* a separator, so that "ab","c" differs from "a","bc" */
  return h * 1099511628211ull;
}

static uint64_t cred_hash(uint64_t h, const struct config_kv *kv, int n)
{
  for(int i = 0; i < n; i++) {
    char *v;
    if(!kv[i].value || !strstr(kv[i].value, "${"))
      continue;
    v = config_expand_env(kv[i].value, NULL, 0);
    h = fnv(h, v ? v : "\x01missing");
    free(v);
  }
  return h;
}

char *mcp_fed_def_key(const struct config_mcp_server *s)
{
  cJSON *o = cJSON_CreateObject(), *a;
  uint64_t h = 14695981039346656037ull;
  char *txt, *key;

  cJSON_AddNumberToObject(o, "transport", s->transport);
  if(s->url)
    cJSON_AddStringToObject(o, "url", s->url);
  add_kv(o, "headers", s->headers, s->nheaders);
  if(s->command)
    cJSON_AddStringToObject(o, "command", s->command);
  a = cJSON_AddArrayToObject(o, "args");
  for(int i = 0; i < s->nargs; i++)
    cJSON_AddItemToArray(a, cJSON_CreateString(s->args[i] ? s->args[i] : ""));
  add_kv(o, "env", s->env, s->nenv);
  if(s->cwd)
    cJSON_AddStringToObject(o, "cwd", s->cwd);
  cJSON_AddNumberToObject(o, "timeout_s", s->timeout_s);
  cJSON_AddNumberToObject(o, "call_timeout_s", s->call_timeout_s);
  cJSON_AddNumberToObject(o, "enabled", s->enabled);
  if(s->definition)
    cJSON_AddStringToObject(o, "definition", s->definition);
  h = cred_hash(h, s->headers, s->nheaders);
  h = cred_hash(h, s->env, s->nenv);
  txt = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  key = sb_asprintf("%s#%016llx", txt, (unsigned long long)h);
  free(txt);
  return key;
}

char *mcp_fed_def_expand(const struct config_mcp_server *s, const char *what,
                         const char *value, char *err, size_t errlen)
{
  char missing[128];
  char *v = config_expand_env(value ? value : "", missing, sizeof(missing));

  if(!v)
    sb_errf(err, errlen, "environment variable %s (%s) is not set", missing,
            what);
  (void)s;
  return v;
}
