#include "mcp/catalog.h"
#include "base/log.h"
#include "base/sb.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mcp_catalogs {
  struct mcp_fed *fed;
  pthread_mutex_t mu;
  struct mcp_catalog *cur;
};

/* By public name, then by place in the listing: the first listed of two
 * equal names sorts first and keeps it. */
static int by_public(const void *a, const void *b)
{
  const struct mcp_entry *x = *(const struct mcp_entry *const *)a;
  const struct mcp_entry *y = *(const struct mcp_entry *const *)b;
  int c = strcmp(x->public_name, y->public_name);

  return c ? c : (x > y) - (x < y);
}

static const char *str_of(const cJSON *item, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

enum list_kind { L_TOOLS, L_PROMPTS, L_RESOURCES, L_TEMPLATES };

static const cJSON *list_of(const struct mcp_fed_server *s, enum list_kind k)
{
  switch(k) {
  case L_TOOLS: return s->tools;
  case L_PROMPTS: return s->prompts;
  case L_RESOURCES: return s->resources;
  default: return s->templates;
  }
}

/* The items of list k of every up server, in order; *n of them. */
static struct mcp_entry *collect(const struct mcp_fed_snap *snap,
                                 enum list_kind k, const char *key, int *n)
{
  struct mcp_entry *e = NULL;
  int cap = 0;

  *n = 0;
  for(int s = 0; s < snap->nservers; s++) {
    const struct mcp_fed_server *srv = &snap->servers[s];
    const cJSON *item;

    if(srv->state != MCP_FED_UP)
      continue;
    cJSON_ArrayForEach(item, list_of(srv, k))
    {
      const char *name = str_of(item, key);

      if(!name)
        continue;
      if(*n == cap) {
        cap = cap ? cap * 2 : 32;
        e = sb_realloc(e, sizeof(*e) * (size_t)cap);
      }
      memset(&e[*n], 0, sizeof(e[*n]));
      e[*n].server = srv->name;
      e[*n].name = name;
      e[*n].item = item;
      e[*n].full = sb_asprintf("%s__%s", srv->name, name);
      if(k == L_TOOLS || k == L_PROMPTS)
        mcp_name_public(srv->name, name, e[*n].public_name);
      (*n)++;
    }
  }
  return e;
}

/* The index of e by public name; a name taken already is cleared in its
 * later entries, which leaves them out of lists and lookups. */
static struct mcp_entry **name_index(struct mcp_entry *e, int n, int *nix)
{
  struct mcp_entry **ix = sb_calloc((size_t)n + 1, sizeof(*ix));
  int m = 0;

  for(int i = 0; i < n; i++)
    ix[i] = &e[i];
  qsort(ix, (size_t)n, sizeof(*ix), by_public);
  for(int i = 0; i < n; i++) {
    if(m && !strcmp(ix[m - 1]->public_name, ix[i]->public_name)) {
      log_event(LOG_WARN, "mcp name collision: item left out",
                LOG_S("name", ix[i]->public_name),
                LOG_S("server", ix[i]->server), LOG_END);
      ix[i]->public_name[0] = '\0';
      continue;
    }
    ix[m++] = ix[i];
  }
  *nix = m;
  return ix;
}

struct mcp_catalog *mcp_catalog_build(const struct mcp_fed_snap *snap)
{
  struct mcp_catalog *c = sb_calloc(1, sizeof(*c));

  c->snap = snap;
  c->refs = 1;
  c->tools = collect(snap, L_TOOLS, "name", &c->ntools);
  c->prompts = collect(snap, L_PROMPTS, "name", &c->nprompts);
  c->resources = collect(snap, L_RESOURCES, "uri", &c->nresources);
  c->templates = collect(snap, L_TEMPLATES, "uriTemplate", &c->ntemplates);
  c->tools_by_name = name_index(c->tools, c->ntools, &c->ntools_by_name);
  c->prompts_by_name =
      name_index(c->prompts, c->nprompts, &c->nprompts_by_name);
  return c;
}

void mcp_catalog_ref(struct mcp_catalog *c)
{
  __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void entries_free(struct mcp_entry *e, int n)
{
  for(int i = 0; i < n; i++)
    free(e[i].full);
  free(e);
}

void mcp_catalog_release(struct mcp_catalog *c)
{
  if(!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
    return;
  entries_free(c->tools, c->ntools);
  entries_free(c->prompts, c->nprompts);
  entries_free(c->resources, c->nresources);
  entries_free(c->templates, c->ntemplates);
  free(c->tools_by_name);
  free(c->prompts_by_name);
  mcp_fed_snap_release(c->snap);
  free(c);
}

static const struct mcp_entry *lookup(struct mcp_entry *const *ix, int n,
                                      const char *name)
{
  int lo = 0, hi = n - 1;

  while(lo <= hi) {
    int mid = lo + (hi - lo) / 2, c = strcmp(ix[mid]->public_name, name);
    if(!c)
      return ix[mid];
    if(c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

const struct mcp_entry *mcp_catalog_tool(const struct mcp_catalog *c,
                                         const char *public_name)
{
  return lookup(c->tools_by_name, c->ntools_by_name, public_name);
}

const struct mcp_entry *mcp_catalog_prompt(const struct mcp_catalog *c,
                                           const char *public_name)
{
  return lookup(c->prompts_by_name, c->nprompts_by_name, public_name);
}

const char *mcp_catalog_resource_server(const struct mcp_catalog *c,
                                        const char *uri)
{
  const char *best = NULL;
  size_t best_len = 0;

  for(int i = 0; i < c->nresources; i++)
    if(!strcmp(c->resources[i].name, uri))
      return c->resources[i].server;
  for(int i = 0; i < c->ntemplates; i++) {
    const char *t = c->templates[i].name;
    size_t n = strcspn(t, "{");
    if(n > best_len && !strncmp(uri, t, n)) {
      best = c->templates[i].server;
      best_len = n;
    }
  }
  return best;
}

struct mcp_catalogs *mcp_catalogs_new(struct mcp_fed *fed)
{
  struct mcp_catalogs *cs = sb_calloc(1, sizeof(*cs));

  cs->fed = fed;
  pthread_mutex_init(&cs->mu, NULL);
  return cs;
}

void mcp_catalogs_free(struct mcp_catalogs *cs)
{
  if(!cs)
    return;
  mcp_catalog_release(cs->cur);
  pthread_mutex_destroy(&cs->mu);
  free(cs);
}

struct mcp_catalog *mcp_catalogs_get(struct mcp_catalogs *cs)
{
  const struct mcp_fed_snap *snap = mcp_fed_snapshot(cs->fed);
  struct mcp_catalog *c;

  pthread_mutex_lock(&cs->mu);
  if(cs->cur && cs->cur->snap->version == snap->version) {
    mcp_fed_snap_release(snap);
  } else {
    /* Built under the lock: workers that ask meanwhile wait for this one
     * rather than each building its own. */
    mcp_catalog_release(cs->cur);
    cs->cur = mcp_catalog_build(snap);
  }
  c = cs->cur;
  mcp_catalog_ref(c);
  pthread_mutex_unlock(&cs->mu);
  return c;
}
