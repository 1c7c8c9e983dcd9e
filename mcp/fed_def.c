/*
 * fed_def.c - the federation's copies of server definitions, what makes
 * two of them the same server, and whether the security settings admit
 * one.
 *
 * config/mcp_server.c has config_mcp_server_copy() and _allowed() with
 * the same meaning; the federation keeps its own so that it does not
 * depend on where the parser lands, and applies them the same way.
 */
#include "mcp/fed_int.h"
#include "base/sb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_or_null(const char *s)
{
  return s ? sb_strdup(s) : NULL;
}

static struct config_kv *kv_copy(const struct config_kv *kv, int n)
{
  struct config_kv *out;

  if(n <= 0)
    return NULL;
  out = sb_calloc((size_t)n, sizeof(*out));
  for(int i = 0; i < n; i++) {
    out[i].name = dup_or_null(kv[i].name);
    out[i].value = dup_or_null(kv[i].value);
  }
  return out;
}

void mcp_fed_def_copy(struct config_mcp_server *out,
                      const struct config_mcp_server *s)
{
  *out = *s;
  out->name = dup_or_null(s->name);
  out->url = dup_or_null(s->url);
  out->headers = kv_copy(s->headers, s->nheaders);
  out->command = dup_or_null(s->command);
  out->args = s->nargs > 0 ? sb_calloc((size_t)s->nargs, sizeof(char *)) : NULL;
  for(int i = 0; i < s->nargs; i++)
    out->args[i] = dup_or_null(s->args[i]);
  out->env = kv_copy(s->env, s->nenv);
  out->cwd = dup_or_null(s->cwd);
  out->definition = dup_or_null(s->definition);
}

static void kv_free(struct config_kv *kv, int n)
{
  for(int i = 0; i < n; i++) {
    free(kv[i].name);
    free(kv[i].value);
  }
  free(kv);
}

void mcp_fed_def_free(struct config_mcp_server *s)
{
  if(!s)
    return;
  free(s->name);
  free(s->url);
  kv_free(s->headers, s->nheaders);
  free(s->command);
  for(int i = 0; i < s->nargs; i++)
    free(s->args[i]);
  free(s->args);
  kv_free(s->env, s->nenv);
  free(s->cwd);
  free(s->definition);
  memset(s, 0, sizeof(*s));
}

/* Length of NAME when s starts with "${NAME}", else 0. */
static size_t env_ref(const char *s)
{
  size_t k = 2;

  if(s[0] != '$' || s[1] != '{')
    return 0;
  while(isalnum((unsigned char)s[k]) || s[k] == '_')
    k++;
  return s[k] == '}' && k > 2 ? k - 2 : 0;
}

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

static int refs_allowed(const struct config_security *sec,
                        const struct config_mcp_server *s, const char *what,
                        const struct config_kv *kv, int n, char *err,
                        size_t errlen)
{
  for(int i = 0; i < n; i++) {
    const char *v = kv[i].value ? kv[i].value : "";
    for(const char *q = strstr(v, "${"); q; q = strstr(q + 2, "${")) {
      size_t k = env_ref(q);
      char var[128];
      if(!k || k >= sizeof(var))
        continue;
      memcpy(var, q + 2, k);
      var[k] = '\0';
      if(!config_env_allowed(sec, var)) {
        sb_errf(err, errlen,
                "environment variable %s (%s) is not on the credential "
                "allow-list (security.credential_env)",
                var, what);
        return SB_ECONFIG;
      }
    }
  }
  (void)s;
  return 0;
}

int mcp_fed_def_allowed(const struct config_security *sec,
                        const struct config_mcp_server *s, char *err,
                        size_t errlen)
{
  if(refs_allowed(sec, s, "headers", s->headers, s->nheaders, err, errlen) ||
     refs_allowed(sec, s, "env", s->env, s->nenv, err, errlen))
    return SB_ECONFIG;
  if(s->transport == CONFIG_MCP_STDIO) {
    if(!s->command || !*s->command) {
      sb_errf(err, errlen, "no command");
      return SB_ECONFIG;
    }
    return 0;
  }
  if(!s->url || (strncasecmp(s->url, "http://", 7) &&
                 strncasecmp(s->url, "https://", 8))) {
    sb_errf(err, errlen, "the url must be http:// or https://");
    return SB_ECONFIG;
  }
  if(!sec->allow_link_local) {
    /* A literal address here; names are checked again as they resolve
     * (net/upstream.c refuses the connection). */
    const char *h = strstr(s->url, "://") + 3;
    size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/?#");
    char host[300];
    snprintf(host, sizeof(host), "%.*s", (int)n, h);
    for(char *c = host; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    if(sb_host_link_local(host) || !strcmp(host, "metadata.google.internal") ||
       !strcmp(host, "metadata")) {
      sb_errf(err, errlen,
              "the url is a link-local or metadata address "
              "(security.allow_link_local_upstreams)");
      return SB_ECONFIG;
    }
  }
  return 0;
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
