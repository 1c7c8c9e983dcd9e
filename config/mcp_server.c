/*
 * mcp_server.c - one federated MCP server's definition: parsed strictly
 * (unknown keys and wrong types name the key, as config_provider_parse()
 * does), checked against the security settings with the same rules as a
 * provider's (config_env_refs_allowed, config_url_allowed).
 */
#include "config/mcp_server.h"
#include "base/sb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_mcp_name_valid(const char *name)
{
  size_t n = name ? strlen(name) : 0;

  if(!n || n > MCP_SERVER_NAME_MAX)
    return 0;
  for(; *name; name++)
    if(!isalnum((unsigned char)*name) && *name != '-')
      return 0;
  return 1;
}

static void free_kv(struct config_kv *kv, int n)
{
  for(int i = 0; i < n; i++) {
    free(kv[i].name);
    free(kv[i].value);
  }
  free(kv);
}

void config_mcp_server_free(struct config_mcp_server *s)
{
  if(!s)
    return;
  free(s->name);
  free(s->url);
  free_kv(s->headers, s->nheaders);
  free(s->command);
  for(int i = 0; i < s->nargs; i++)
    free(s->args[i]);
  free(s->args);
  free_kv(s->env, s->nenv);
  free(s->cwd);
  free(s->definition);
  memset(s, 0, sizeof(*s));
}

static struct config_kv *dup_kv(const struct config_kv *kv, int n)
{
  struct config_kv *d = n ? sb_calloc((size_t)n, sizeof(*d)) : NULL;

  for(int i = 0; i < n; i++) {
    d[i].name = sb_strdup(kv[i].name);
    d[i].value = sb_strdup(kv[i].value);
  }
  return d;
}

static char *dup_or_null(const char *s)
{
  return s ? sb_strdup(s) : NULL;
}

void config_mcp_server_copy(struct config_mcp_server *out,
                            const struct config_mcp_server *s)
{
  memset(out, 0, sizeof(*out));
  out->name = dup_or_null(s->name);
  out->transport = s->transport;
  out->url = dup_or_null(s->url);
  out->headers = dup_kv(s->headers, s->nheaders);
  out->nheaders = s->nheaders;
  out->command = dup_or_null(s->command);
  out->args = s->nargs ? sb_calloc((size_t)s->nargs, sizeof(char *)) : NULL;
  for(int i = 0; i < s->nargs; i++)
    out->args[i] = sb_strdup(s->args[i]);
  out->nargs = s->nargs;
  out->env = dup_kv(s->env, s->nenv);
  out->nenv = s->nenv;
  out->cwd = dup_or_null(s->cwd);
  out->timeout_s = s->timeout_s;
  out->call_timeout_s = s->call_timeout_s;
  out->enabled = s->enabled;
  out->definition = dup_or_null(s->definition);
}

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
  snprintf(err, errlen, "%s: %s", path, what);
  return SB_ECONFIG;
}

static int get_str(const cJSON *v, const char *path, char **out, char *err,
                   size_t errlen)
{
  if(!cJSON_IsString(v) || !v->valuestring[0])
    return fail(err, errlen, path, "expected a non-empty string");
  free(*out);
  *out = sb_strdup(v->valuestring);
  return 0;
}

static int get_int(const cJSON *v, const char *path, int min, int max, int *out,
                   char *err, size_t errlen)
{
  double d;
  char msg[96];

  if(!cJSON_IsNumber(v))
    return fail(err, errlen, path, "expected an integer");
  d = v->valuedouble;
  if(!(d >= (double)min && d <= (double)max)) {
    snprintf(msg, sizeof(msg), "must be an integer between %d and %d", min,
             max);
    return fail(err, errlen, path, msg);
  }
  if(d != (double)(int)d)
    return fail(err, errlen, path, "expected an integer");
  *out = (int)d;
  return 0;
}

/* An environment variable's name as a shell writes it. */
static int env_name_valid(const char *s)
{
  if(!*s || isdigit((unsigned char)*s))
    return 0;
  for(; *s; s++)
    if(!isalnum((unsigned char)*s) && *s != '_')
      return 0;
  return 1;
}

/* headers (http) or env (stdio): an object of strings into kv. */
static int get_kv(const cJSON *obj, const char *path, int headers,
                  struct config_kv **kv, int *n, char *err, size_t errlen)
{
  const cJSON *it;
  char p[256];

  if(!cJSON_IsObject(obj))
    return fail(err, errlen, path, "expected an object of strings");
  free_kv(*kv, *n);
  *kv = NULL;
  *n = 0;
  cJSON_ArrayForEach(it, obj)
  {
    snprintf(p, sizeof(p), "%s.%s", path, it->string);
    if(!cJSON_IsString(it))
      return fail(err, errlen, p, "expected a string");
    if(headers) {
      if(!it->string[0] || strpbrk(it->string, ": \r\n") ||
         strpbrk(it->valuestring, "\r\n"))
        return fail(err, errlen, p, "not a valid header");
      /* Definitions are stored and shown: a credential may only be
       * named. */
      if(config_credential_header(it->string) &&
         !config_has_env_ref(it->valuestring))
        return fail(err, errlen, p,
                    "a credential is never stored: name it as \"${VAR}\" "
                    "(e.g. \"Bearer ${VAR}\") and set VAR in the gateway's "
                    "environment");
    } else if(!env_name_valid(it->string)) {
      return fail(err, errlen, p,
                  "not a valid environment variable name ([A-Za-z_]"
                  "[A-Za-z0-9_]*)");
    }
    *kv = sb_realloc(*kv, sizeof(**kv) * (size_t)(*n + 1));
    (*kv)[*n].name = sb_strdup(it->string);
    (*kv)[*n].value = sb_strdup(it->valuestring);
    (*n)++;
  }
  return 0;
}

static int get_args(const cJSON *v, const char *path, char ***out, int *n,
                    char *err, size_t errlen)
{
  const cJSON *it;
  int i = 0;

  if(!cJSON_IsArray(v))
    return fail(err, errlen, path, "expected an array of strings");
  for(int k = 0; k < *n; k++)
    free((*out)[k]);
  free(*out);
  *out = sb_calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
  *n = 0;
  cJSON_ArrayForEach(it, v)
  {
    if(!cJSON_IsString(it)) {
      char p[300];
      snprintf(p, sizeof(p), "%.256s[%d]", path, i);
      return fail(err, errlen, p, "expected a string");
    }
    (*out)[i++] = sb_strdup(it->valuestring);
    *n = i;
  }
  return 0;
}

int config_mcp_server_parse(struct config_mcp_server *s, const cJSON *obj,
                            const char *name, const char *spath, char *err,
                            size_t errlen)
{
  const char *transport = NULL;
  char path[256];
  const cJSON *it;
  cJSON *def;
  int rc = 0, http_field = 0, stdio_field = 0;

  memset(s, 0, sizeof(*s));
  s->timeout_s = 60;
  s->enabled = 1;
  if(!name || !config_mcp_name_valid(name)) {
    snprintf(err, errlen,
             "%s: the server name must be 1 to %d of [A-Za-z0-9-] (no '_': "
             "tools are named <server>__<tool>)",
             spath, MCP_SERVER_NAME_MAX);
    return SB_ECONFIG;
  }
  s->name = sb_strdup(name);
  if(!cJSON_IsObject(obj))
    return fail(err, errlen, spath, "expected an object");
  cJSON_ArrayForEach(it, obj)
  {
    const char *k = it->string;

    snprintf(path, sizeof(path), "%s.%s", spath, k);
    if(!strcmp(k, "transport")) {
      if(!cJSON_IsString(it) ||
         (strcmp(it->valuestring, "http") && strcmp(it->valuestring, "stdio")))
        rc = fail(err, errlen, path, "expected \"http\" or \"stdio\"");
      else
        transport = it->valuestring;
    } else if(!strcmp(k, "url")) {
      rc = get_str(it, path, &s->url, err, errlen);
      http_field = 1;
    } else if(!strcmp(k, "headers")) {
      rc = get_kv(it, path, 1, &s->headers, &s->nheaders, err, errlen);
      http_field = 1;
    } else if(!strcmp(k, "command")) {
      rc = get_str(it, path, &s->command, err, errlen);
      stdio_field = 1;
    } else if(!strcmp(k, "args")) {
      rc = get_args(it, path, &s->args, &s->nargs, err, errlen);
      stdio_field = 1;
    } else if(!strcmp(k, "env")) {
      rc = get_kv(it, path, 0, &s->env, &s->nenv, err, errlen);
      stdio_field = 1;
    } else if(!strcmp(k, "cwd")) {
      rc = get_str(it, path, &s->cwd, err, errlen);
      stdio_field = 1;
    } else if(!strcmp(k, "timeout_s"))
      rc = get_int(it, path, 1, 86400, &s->timeout_s, err, errlen);
    else if(!strcmp(k, "call_timeout_s"))
      rc = get_int(it, path, 0, 86400, &s->call_timeout_s, err, errlen);
    else if(!strcmp(k, "enabled")) {
      if(!cJSON_IsBool(it))
        rc = fail(err, errlen, path, "expected true or false");
      else
        s->enabled = cJSON_IsTrue(it);
    } else
      rc = fail(err, errlen, path, "unknown key");
    if(rc)
      return rc;
  }
  /* Without "transport" the fields say which one is meant. */
  if(!transport) {
    if(http_field && stdio_field)
      return fail(err, errlen, spath,
                  "both http (url, headers) and stdio (command, args, env, "
                  "cwd) fields; say which with \"transport\"");
    if(!http_field && !stdio_field)
      return fail(err, errlen, spath,
                  "missing \"url\" (transport http) or \"command\" "
                  "(transport stdio)");
    transport = http_field ? "http" : "stdio";
  }
  if(!strcmp(transport, "http")) {
    s->transport = CONFIG_MCP_HTTP;
    if(stdio_field)
      return fail(err, errlen, spath,
                  "command, args, env and cwd belong to transport \"stdio\"");
    if(!s->url)
      return fail(err, errlen, spath, "missing required key \"url\"");
    if(strncmp(s->url, "http://", 7) && strncmp(s->url, "https://", 8)) {
      snprintf(path, sizeof(path), "%s.url", spath);
      return fail(err, errlen, path, "must start with http:// or https://");
    }
  } else {
    s->transport = CONFIG_MCP_STDIO;
    if(http_field)
      return fail(err, errlen, spath,
                  "url and headers belong to transport \"http\"");
    if(!s->command)
      return fail(err, errlen, spath, "missing required key \"command\"");
  }
  /* The definition as stored: the object as written, without its name. */
  def = cJSON_Duplicate(obj, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(def, "name");
  s->definition = cJSON_PrintUnformatted(def);
  cJSON_Delete(def);
  if(!s->definition)
    abort();
  return 0;
}

static int refused(const struct config_mcp_server *s, const char *var,
                   const char *where, char *err, size_t errlen)
{
  snprintf(err, errlen,
           "mcp server %s: environment variable %s (%s) is not on the "
           "credential allow-list (security.credential_env, or "
           "SWITCHBOARD_CREDENTIAL_ENV; by default SWITCHBOARD_CRED_*)",
           s->name, var, where);
  return SB_ECONFIG;
}

int config_mcp_server_allowed(const struct config_security *sec,
                              const struct config_mcp_server *s, char *err,
                              size_t errlen)
{
  char var[128], where[160], host[300];

  for(int i = 0; i < s->nheaders; i++)
    if(config_env_refs_allowed(sec, s->headers[i].value, var, sizeof(var))) {
      snprintf(where, sizeof(where), "headers.%s", s->headers[i].name);
      return refused(s, var, where, err, errlen);
    }
  for(int i = 0; i < s->nenv; i++)
    if(config_env_refs_allowed(sec, s->env[i].value, var, sizeof(var))) {
      snprintf(where, sizeof(where), "env.%s", s->env[i].name);
      return refused(s, var, where, err, errlen);
    }
  if(s->url && config_url_allowed(sec, s->url, host, sizeof(host))) {
    snprintf(err, errlen,
             "mcp server %s: url points at a link-local or cloud metadata "
             "address (%s); set security.allow_link_local_upstreams to "
             "allow it",
             s->name, host);
    return SB_ECONFIG;
  }
  return 0;
}
