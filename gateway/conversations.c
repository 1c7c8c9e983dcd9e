/*
 * conversations.c - the OpenAI Conversations API: /v1/conversations
 * (POST create; GET the caller's own, our addition), /v1/conversations/{id}
 * (GET, POST a metadata update, DELETE), /v1/conversations/{id}/items
 * (POST add, GET list) and /v1/conversations/{id}/items/{item_id} (GET,
 * DELETE).
 *
 * Writes go to the store's writer queue and never wait; every read blocks
 * on the disk (store/conv.h: it passes the writer's barrier first, so it
 * sees the writes queued before it), so it runs on libuv's thread pool
 * (req_offload), never on the loop. A request makes at most one trip
 * there: the work reads everything the answer needs, the loop then checks
 * ownership and answers.
 *
 * Ownership is responses.c's: a conversation belongs to the key that made
 * it; another key finds nothing (404, as on OpenAI, where it belongs to a
 * project); the admin credential sees every one; one made without a key
 * belongs to nobody and so to everyone.
 */
#include "gateway/http.h"
#include "codec/oai_conv.h"
#include "codec/oai_err.h"
#include "base/sb.h"
#include "store/conv.h"
#include "store/keys.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Listing pages: OpenAI's bounds and default. */
#define CONV_PAGE_MAX     100
#define CONV_PAGE_DEFAULT 20

/* What a request asks, from its method and path. */
enum conv_op {
  OP_GET,         /* GET /v1/conversations/{id} */
  OP_UPDATE,      /* POST /v1/conversations/{id} */
  OP_DELETE,      /* DELETE /v1/conversations/{id} */
  OP_ITEMS_ADD,   /* POST .../items */
  OP_ITEMS_LIST,  /* GET .../items */
  OP_ITEM_GET,    /* GET .../items/{item_id} */
  OP_ITEM_DELETE, /* DELETE .../items/{item_id} */
  OP_LIST,        /* GET /v1/conversations */
};

/* One trip to the thread pool: what to read, and what was read. */
struct conv_job {
  struct store *st;
  enum conv_op op;
  char *conv_id;
  char *item_id;
  char *after;
  char *key_filter; /* OP_LIST: the key whose own are listed; NULL: all */
  const char *db;   /* admin: key_filter may be a name, looked up here */
  int admin;        /* /admin/v1: every key's, each with its key_id */
  struct store_page pg;
  cJSON *body; /* the checked body, kept for the loop's write */
  int rc;      /* the conversation's read */
  struct store_conv *conv;
  int item_rc; /* the item's, or the page's */
  struct store_conv_item *item;
  struct store_conv_item *items;
  struct store_conv *convs;
  int n;
  int more;
};

static void job_free(struct conv_job *j)
{
  free(j->conv_id);
  free(j->item_id);
  free(j->after);
  free(j->key_filter);
  cJSON_Delete(j->body);
  store_conv_free(j->conv);
  store_conv_item_free(j->item);
  store_conv_items_free(j->items, j->n);
  if(j->op == OP_LIST)
    store_convs_free(j->convs, j->n);
  free(j);
}

static int is_admin(const struct req *r)
{
  return r->granted && r->grant.admin;
}

/* --- answers ------------------------------------------------------------- */

static void respond_cjson(struct req *r, cJSON *o)
{
  char *json = cJSON_PrintUnformatted(o);

  cJSON_Delete(o);
  if(!json)
    abort();
  req_respond_json(r, 200, json, strlen(json));
  free(json);
}

static void conv_not_found(struct req *r, const char *id)
{
  struct api_error err;

  api_error_set(&err, 404, "invalid_request_error", NULL, NULL,
                "Conversation with id '%s' not found.", id);
  req_respond_error(r, &err);
}

static void item_not_found(struct req *r, const char *id)
{
  struct api_error err;

  api_error_set(&err, 404, "invalid_request_error", NULL, NULL,
                "Item with id '%s' not found.", id);
  req_respond_error(r, &err);
}

static void store_failed(struct req *r)
{
  struct api_error err;

  api_error_set(&err, 503, "server_error", "store_unavailable", NULL,
                "The conversation store is not available; retry later.");
  err.retry_after_s = 1;
  req_respond_error(r, &err);
}

/* {id, object, created_at, metadata}: the conversation as the API shows
 * it. */
static cJSON *conv_object(const char *id, int64_t created_at,
                          const char *metadata)
{
  cJSON *o = cJSON_CreateObject(), *md = cJSON_Parse(metadata);

  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "object", "conversation");
  cJSON_AddNumberToObject(o, "created_at", (double)created_at);
  cJSON_AddItemToObject(o, "metadata",
                        cJSON_IsObject(md) ? md : cJSON_CreateObject());
  if(md && !cJSON_IsObject(md))
    cJSON_Delete(md);
  return o;
}

/* {object:"list", data, first_id, last_id, has_more}: data taken. */
static cJSON *list_object(cJSON *data, int more)
{
  cJSON *o = cJSON_CreateObject();
  const cJSON *first = cJSON_GetArrayItem(data, 0);
  const cJSON *last = cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1);
  const cJSON *fid = cJSON_GetObjectItemCaseSensitive(first, "id");
  const cJSON *lid = cJSON_GetObjectItemCaseSensitive(last, "id");

  cJSON_AddStringToObject(o, "object", "list");
  cJSON_AddItemToObject(o, "data", data);
  if(cJSON_IsString(fid))
    cJSON_AddStringToObject(o, "first_id", fid->valuestring);
  else
    cJSON_AddNullToObject(o, "first_id");
  if(cJSON_IsString(lid))
    cJSON_AddStringToObject(o, "last_id", lid->valuestring);
  else
    cJSON_AddNullToObject(o, "last_id");
  cJSON_AddBoolToObject(o, "has_more", more);
  return o;
}

/* A stored item as the API shows it: its JSON, written by this gateway. */
static cJSON *item_json(const struct store_conv_item *it)
{
  cJSON *o = cJSON_Parse(it->item);

  if(!o)
    abort(); /* stored by conversations.c from parsed JSON */
  return o;
}

/* --- the request ---------------------------------------------------------- */

/* Parse /v1/conversations/{id}[/items[/{item_id}]] into j (ids copied).
 * -1 for any other path. */
static int parse_path(const char *path, int method, struct conv_job *j)
{
  const char *id = path + strlen("/v1/conversations/");
  const char *slash = strchr(id, '/');
  const char *rest;

  if(slash == id || !*id)
    return -1;
  j->conv_id = slash ? sb_strndup(id, (size_t)(slash - id)) : sb_strdup(id);
  if(!slash) {
    j->op = method == LWSHUMETH_POST     ? OP_UPDATE
            : method == LWSHUMETH_DELETE ? OP_DELETE
                                         : OP_GET;
    return 0;
  }
  rest = slash + 1;
  if(!strcmp(rest, "items")) {
    if(method == LWSHUMETH_DELETE)
      return -2;
    j->op = method == LWSHUMETH_POST ? OP_ITEMS_ADD : OP_ITEMS_LIST;
    return 0;
  }
  if(strncmp(rest, "items/", 6) || !rest[6] || strchr(rest + 6, '/'))
    return -1;
  if(method == LWSHUMETH_POST)
    return -2;
  j->item_id = sb_strdup(rest + 6);
  j->op = method == LWSHUMETH_DELETE ? OP_ITEM_DELETE : OP_ITEM_GET;
  return 0;
}

/* The listing's query (?after=&limit=&order=) into j; 0, or SB_EINVAL
 * after answering 400. */
static int parse_page(struct req *r, struct conv_job *j)
{
  struct api_error err;
  char b[200];
  const char *v;

  j->pg.limit = CONV_PAGE_DEFAULT;
  j->pg.desc = 1; /* OpenAI's default order: newest first */
  /* lws copies "name=value" into b and points v at the value. */
  if((v = lws_get_urlarg_by_name(r->wsi, "order=", b, sizeof(b)))) {
    if(strcmp(v, "asc") && strcmp(v, "desc")) {
      oai_err_one_of(&err, "order", "'asc', 'desc'", v);
      req_respond_error(r, &err);
      return SB_EINVAL;
    }
    j->pg.desc = !strcmp(v, "desc");
  }
  if((v = lws_get_urlarg_by_name(r->wsi, "limit=", b, sizeof(b)))) {
    char *end;
    long n = strtol(v, &end, 10);
    if(*end || end == v || n < 1 || n > CONV_PAGE_MAX) {
      oai_err_value(&err, "limit", "expected an integer from 1 to %d.",
                    CONV_PAGE_MAX);
      req_respond_error(r, &err);
      return SB_EINVAL;
    }
    j->pg.limit = (int)n;
  }
  if((v = lws_get_urlarg_by_name(r->wsi, "after=", b, sizeof(b))) && *v)
    j->after = sb_strdup(v);
  j->pg.after = j->after;
  return 0;
}

/* The admin's key filter names a key by id or by name: the id, when a
 * key has that name (a value that names none filters to nothing). */
static void resolve_key(struct conv_job *j)
{
  struct store_key *keys = NULL;
  char why[128];
  int n = 0;

  if(!j->db || store_keys_list(j->db, &keys, &n, why, sizeof(why)))
    return;
  for(int i = 0; i < n; i++)
    if(keys[i].name && !strcmp(keys[i].name, j->key_filter) &&
       strcmp(keys[i].id, j->key_filter)) {
      free(j->key_filter);
      j->key_filter = sb_strdup(keys[i].id);
      break;
    }
  store_keys_free(keys, n);
}

static void work(void *ud)
{
  struct conv_job *j = ud;

  if(j->op == OP_LIST) {
    if(j->admin && j->key_filter)
      resolve_key(j);
    j->rc = store_convs_list(j->st, j->key_filter, &j->pg, &j->convs, &j->n,
                             &j->more);
    return;
  }
  j->rc = store_conv_get(j->st, j->conv_id, &j->conv);
  if(j->rc)
    return;
  switch(j->op) {
  case OP_ITEMS_LIST:
    j->item_rc =
        store_conv_items(j->st, j->conv_id, &j->pg, &j->items, &j->n, &j->more);
    break;
  case OP_ITEM_GET:
  case OP_ITEM_DELETE:
    j->item_rc = store_conv_item_get(j->st, j->conv_id, j->item_id, &j->item);
    break;
  default: break;
  }
}

/* The items of an add, taken out of j->body into the store's records. */
static struct store_conv_item *records(cJSON *items, int *n)
{
  struct store_conv_item *recs;
  const cJSON *it;
  int i = 0;

  *n = cJSON_GetArraySize(items);
  recs = sb_calloc((size_t)(*n ? *n : 1), sizeof(*recs));
  cJSON_ArrayForEach(it, items)
  {
    recs[i].id =
        sb_strdup(cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring);
    recs[i].item = cJSON_PrintUnformatted(it);
    if(!recs[i].item)
      abort();
    i++;
  }
  return recs;
}

/* The admin's view adds the owner: {..., key_id (null: none)}. */
static cJSON *with_owner(cJSON *o, const struct conv_job *j,
                         const struct store_conv *c)
{
  if(!j->admin)
    return o;
  if(c->key_id)
    cJSON_AddStringToObject(o, "key_id", c->key_id);
  else
    cJSON_AddNullToObject(o, "key_id");
  return o;
}

static void answer_list(struct req *r, struct conv_job *j)
{
  cJSON *data = cJSON_CreateArray();

  for(int i = 0; i < j->n; i++)
    cJSON_AddItemToArray(
        data, with_owner(conv_object(j->convs[i].id, j->convs[i].created_at,
                                     j->convs[i].metadata),
                         j, &j->convs[i]));
  respond_cjson(r, list_object(data, j->more));
}

static void done(struct req *r, void *ud)
{
  struct conv_job *j = ud;
  struct store_conv_item *recs;
  struct store_conv *c;
  cJSON *data, *items;
  int n;

  if(!r) { /* the client went away */
    job_free(j);
    return;
  }
  if(j->op == OP_LIST) {
    if(j->rc == SB_ENOTFOUND) {
      struct api_error err;
      oai_err_value(&err, "after", "no conversation with id '%s'.", j->after);
      req_respond_error(r, &err);
    } else if(j->rc)
      store_failed(r);
    else
      answer_list(r, j);
    job_free(j);
    return;
  }
  if(j->rc == SB_ENOTFOUND || (!j->rc && !req_visible(r, j->conv->key_id))) {
    conv_not_found(r, j->conv_id);
    job_free(j);
    return;
  }
  if(j->rc || (j->item_rc && j->item_rc != SB_ENOTFOUND)) {
    store_failed(r);
    job_free(j);
    return;
  }
  c = j->conv;
  switch(j->op) {
  case OP_GET:
    respond_cjson(
        r, with_owner(conv_object(c->id, c->created_at, c->metadata), j, c));
    break;
  case OP_UPDATE: {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j->body, "metadata");
    struct store_conv *u = sb_calloc(1, sizeof(*u));

    u->id = sb_strdup(c->id);
    u->key_id = c->key_id ? sb_strdup(c->key_id) : NULL;
    u->metadata =
        cJSON_IsObject(md) ? cJSON_PrintUnformatted(md) : sb_strdup("{}");
    u->created_at = c->created_at;
    u->updated_at = (int64_t)time(NULL);
    free(c->metadata);
    c->metadata = sb_strdup(u->metadata);
    if(store_conv_put(r->gw->store, u)) {
      store_failed(r);
      break;
    }
    respond_cjson(r, conv_object(c->id, c->created_at, c->metadata));
    break;
  }
  case OP_DELETE: {
    cJSON *o;
    if(store_conv_delete(r->gw->store, c->id)) {
      store_failed(r);
      break;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "object", "conversation.deleted");
    cJSON_AddBoolToObject(o, "deleted", 1);
    respond_cjson(r, o);
    break;
  }
  case OP_ITEMS_ADD:
    items = cJSON_GetObjectItemCaseSensitive(j->body, "items");
    recs = records(items, &n);
    if(store_conv_append(r->gw->store, c->id, recs, n)) {
      store_failed(r);
      break;
    }
    respond_cjson(r, list_object(cJSON_Duplicate(items, 1), 0));
    break;
  case OP_ITEMS_LIST:
    if(j->item_rc == SB_ENOTFOUND) { /* after is not one of its items */
      item_not_found(r, j->after);
      break;
    }
    data = cJSON_CreateArray();
    for(int i = 0; i < j->n; i++)
      cJSON_AddItemToArray(data, item_json(&j->items[i]));
    respond_cjson(r, list_object(data, j->more));
    break;
  case OP_ITEM_GET:
    if(j->item_rc == SB_ENOTFOUND)
      item_not_found(r, j->item_id);
    else
      respond_cjson(r, item_json(j->item));
    break;
  case OP_ITEM_DELETE:
    /* OpenAI answers with the conversation the item left. */
    if(j->item_rc == SB_ENOTFOUND)
      item_not_found(r, j->item_id);
    else if(store_conv_item_delete(r->gw->store, c->id, j->item_id))
      store_failed(r);
    else
      respond_cjson(r, conv_object(c->id, c->created_at, c->metadata));
    break;
  case OP_LIST: break;
  }
  job_free(j);
}

/* Send j to the thread pool; done() answers. */
static void offload(struct req *r, struct conv_job *j)
{
  struct api_error err;

  j->st = r->gw->store;
  if(req_offload(r, work, done, j)) {
    job_free(j);
    api_error_set(&err, 500, "server_error", "internal_error", NULL,
                  "Could not read the conversation store.");
    req_respond_error(r, &err);
  }
}

/* --- POST /v1/conversations ------------------------------------------------
 */

static void create(struct req *r)
{
  cJSON *body = chat_parse_body(r);
  const cJSON *md;
  cJSON *items;
  struct store_conv *c;
  struct store_conv_item *recs;
  struct api_error err;
  char id[64], more[48], *metadata;
  int n;

  if(!body)
    return;
  md = cJSON_GetObjectItemCaseSensitive(body, "metadata");
  items = cJSON_GetObjectItemCaseSensitive(body, "items");
  if(oai_conv_check_metadata(md, &err) ||
     (items && !cJSON_IsNull(items) &&
      oai_conv_prepare_items(items, "items", &err))) {
    req_respond_error(r, &err);
    cJSON_Delete(body);
    return;
  }
  /* conv_ and 32 hex digits: two draws of the 24 sb_random_id makes. */
  sb_random_id(id, sizeof(id), "conv_");
  sb_random_id(more, sizeof(more), "");
  more[8] = '\0';
  strcat(id, more);

  c = sb_calloc(1, sizeof(*c));
  c->id = sb_strdup(id);
  c->key_id = req_owner(r) ? sb_strdup(req_owner(r)) : NULL;
  metadata = cJSON_IsObject(md) ? cJSON_PrintUnformatted(md) : sb_strdup("{}");
  c->metadata = sb_strdup(metadata);
  c->created_at = r->ts_ms / 1000;
  c->updated_at = c->created_at;
  if(store_conv_put(r->gw->store, c)) {
    free(metadata);
    cJSON_Delete(body);
    store_failed(r);
    return;
  }
  if(cJSON_IsArray(items) && cJSON_GetArraySize(items) > 0) {
    recs = records(items, &n);
    /* Queued after the put: the writer keeps the order. */
    if(store_conv_append(r->gw->store, id, recs, n)) {
      store_conv_delete(r->gw->store, id);
      free(metadata);
      cJSON_Delete(body);
      store_failed(r);
      return;
    }
  }
  respond_cjson(r, conv_object(id, r->ts_ms / 1000, metadata));
  free(metadata);
  cJSON_Delete(body);
}

void conversations_handle(struct req *r)
{
  struct conv_job *j;

  if(r->method == LWSHUMETH_POST) {
    create(r);
    return;
  }
  j = sb_calloc(1, sizeof(*j));
  j->op = OP_LIST;
  /* The key's own; the admin credential and open mode see every one. */
  j->key_filter = req_owner(r) && !is_admin(r) ? sb_strdup(req_owner(r)) : NULL;
  if(parse_page(r, j)) {
    job_free(j);
    return;
  }
  offload(r, j);
}

void conversations_item(struct req *r)
{
  struct conv_job *j = sb_calloc(1, sizeof(*j));
  struct api_error err;
  int rc = parse_path(r->path, r->method, j);

  if(rc) {
    job_free(j);
    if(rc == -2) {
      req_add_header(r, "allow",
                     strstr(r->path, "/items/") ? "GET, HEAD, DELETE, OPTIONS"
                                                : "GET, HEAD, POST, OPTIONS");
      api_error_set(&err, 405, "invalid_request_error", "method_not_allowed",
                    NULL, "Method not allowed on %s.", r->path);
    } else
      api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                    "Unknown path %s.", r->path);
    req_respond_error(r, &err);
    return;
  }
  if(j->op == OP_UPDATE || j->op == OP_ITEMS_ADD) {
    /* The body is checked before the trip: a bad one never reads. */
    j->body = chat_parse_body(r);
    if(!j->body) {
      job_free(j);
      return;
    }
    if(j->op == OP_UPDATE) {
      const cJSON *md = cJSON_GetObjectItemCaseSensitive(j->body, "metadata");
      rc = !md ? oai_err_missing(&err, "metadata")
               : oai_conv_check_metadata(md, &err);
    } else {
      cJSON *items = cJSON_GetObjectItemCaseSensitive(j->body, "items");
      rc = !items ? oai_err_missing(&err, "items")
                  : oai_conv_prepare_items(items, "items", &err);
    }
    if(rc) {
      job_free(j);
      req_respond_error(r, &err);
      return;
    }
  }
  if(j->op == OP_ITEMS_LIST && parse_page(r, j)) {
    job_free(j);
    return;
  }
  offload(r, j);
}

/* --- /admin/v1/conversations ---------------------------------------------
 */

void conversations_admin(struct req *r)
{
  const char *base = "/admin/v1/conversations";
  struct conv_job *j = sb_calloc(1, sizeof(*j));
  struct api_error err;
  char b[200];
  const char *v;

  j->admin = 1;
  j->db = r->gw->cfg->database;
  if(!strcmp(r->path, base)) {
    j->op = OP_LIST;
    if((v = lws_get_urlarg_by_name(r->wsi, "key=", b, sizeof(b))) && *v)
      j->key_filter = sb_strdup(v);
  } else {
    /* The same paths as /v1's, read-only (the route takes GET only). */
    char *v1 = sb_asprintf("/v1/conversations%s", r->path + strlen(base));
    int rc = parse_path(v1, r->method, j);

    free(v1);
    if(rc || (j->op != OP_GET && j->op != OP_ITEMS_LIST)) {
      job_free(j);
      api_error_set(&err, 404, "invalid_request_error", "not_found", NULL,
                    "Unknown path %s.", r->path);
      req_respond_error(r, &err);
      return;
    }
  }
  if((j->op == OP_LIST || j->op == OP_ITEMS_LIST) && parse_page(r, j)) {
    job_free(j);
    return;
  }
  offload(r, j);
}
