/*
 * fed.c - the federation's thread, its ports and its snapshot (fed.h).
 *
 * Two queues cross threads, each a mutex-protected list plus a uv_async:
 * operations from the workers to the federation (the inbox), and what
 * comes back to one worker (a port's outbox). Nothing else is shared but
 * the snapshot pointer, swapped under the federation's lock. Lock order:
 * the federation's lock, then a port's.
 */
#include "mcp/fed_int.h"
#include "base/log.h"
#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

enum op_kind {
  OP_CALL,
  OP_CANCEL,
  OP_ANSWER,
  OP_NOTIFY,
  OP_SERVERS,
  OP_PORT_CLOSE,
  OP_STOP
};

struct mcp_fed_op {
  struct mcp_fed_op *next;
  enum op_kind kind;
  struct mcp_fed_port *port; /* with a reference, or NULL */
  uint64_t call;
  char *server;
  char *method;
  char *reason;
  cJSON *json; /* params, or the answer */
  struct config_mcp_server *defs;
  int ndefs;
};

enum out_kind { OUT_MSG, OUT_DONE, OUT_EVENT };

struct mcp_fed_out {
  struct mcp_fed_out *next;
  enum out_kind kind;
  uint64_t call;
  cJSON *msg;
  char *why;
  char *server;
  int timed_out;
};

struct mcp_fed_call {
  struct mcp_fed_call *next, *prev;
  struct mcp_fed_port *p;
  uint64_t id;
  struct mcp_fed_sink sink;
  void *ud;
};

struct mcp_fed_port {
  struct mcp_fed *f;
  struct mcp_fed_port *next; /* in f->ports, under f->lock */
  uv_loop_t *loop;
  uv_async_t async;
  struct mcp_fed_events ev;
  int has_ev;
  atomic_int refs;
  uv_mutex_t lock; /* guards out, tail, closed */
  struct mcp_fed_out *out, **tail;
  int closed;
  struct mcp_fed_call *calls; /* the port thread's own */
};

struct snap_impl {
  struct mcp_fed_snap pub; /* first: the public pointer is this one */
  atomic_int refs;
  struct mcp_fed_server *servers;
};

/* ---- snapshot ---- */

static char *dup_or_null(const char *s)
{
  return s ? sb_strdup(s) : NULL;
}

static cJSON *dup_json(const cJSON *j)
{
  return j ? cJSON_Duplicate(j, 1) : NULL;
}

static void snap_free(struct snap_impl *s)
{
  for(int i = 0; i < s->pub.nservers; i++) {
    struct mcp_fed_server *v = &s->servers[i];
    free((char *)v->name);
    free((char *)v->error);
    free((char *)v->protocol_version);
    free((char *)v->instructions);
    cJSON_Delete((cJSON *)v->server_info);
    cJSON_Delete((cJSON *)v->capabilities);
    cJSON_Delete((cJSON *)v->tools);
    cJSON_Delete((cJSON *)v->prompts);
    cJSON_Delete((cJSON *)v->resources);
    cJSON_Delete((cJSON *)v->templates);
  }
  free(s->servers);
  free(s);
}

void mcp_fed_snap_release(const struct mcp_fed_snap *snap)
{
  struct snap_impl *s = (struct snap_impl *)snap;

  if(s && atomic_fetch_sub(&s->refs, 1) == 1)
    snap_free(s);
}

const struct mcp_fed_snap *mcp_fed_snapshot(struct mcp_fed *f)
{
  struct snap_impl *s;

  uv_mutex_lock(&f->lock);
  s = (struct snap_impl *)f->snap;
  atomic_fetch_add(&s->refs, 1);
  uv_mutex_unlock(&f->lock);
  return &s->pub;
}

const struct mcp_fed_server *mcp_fed_find(const struct mcp_fed_snap *s,
                                          const char *name)
{
  int lo = 0, hi = s ? s->nservers - 1 : -1;

  while(lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(s->servers[mid].name, name);
    if(!c)
      return &s->servers[mid];
    if(c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

static void snap_swap(struct mcp_fed *f, struct snap_impl *s)
{
  const struct mcp_fed_snap *old;

  uv_mutex_lock(&f->lock);
  old = f->snap;
  f->snap = &s->pub;
  uv_mutex_unlock(&f->lock);
  mcp_fed_snap_release(old);
}

void mcp_fed_publish(struct mcp_fed *f)
{
  struct snap_impl *s = sb_calloc(1, sizeof(*s));

  atomic_init(&s->refs, 1);
  s->pub.version = ++f->version;
  s->pub.nservers = f->nconns;
  s->servers =
      sb_calloc((size_t)(f->nconns ? f->nconns : 1), sizeof(*s->servers));
  s->pub.servers = s->servers;
  for(int i = 0; i < f->nconns; i++) {
    const struct mcp_fed_conn *c = f->conns[i];
    struct mcp_fed_server *v = &s->servers[i];
    v->name = sb_strdup(c->def.name);
    v->transport = c->def.transport;
    v->state = c->state;
    v->error = dup_or_null(c->error);
    v->protocol_version = dup_or_null(c->protocol_version);
    v->server_info = dup_json(c->server_info);
    v->capabilities = dup_json(c->capabilities);
    v->instructions = dup_or_null(c->instructions);
    v->tools = dup_json(c->lists[MCP_FED_TOOLS]);
    v->prompts = dup_json(c->lists[MCP_FED_PROMPTS]);
    v->resources = dup_json(c->lists[MCP_FED_RESOURCES]);
    v->templates = dup_json(c->lists[MCP_FED_TEMPLATES]);
    v->up_since_ms = c->state == MCP_FED_UP ? c->up_since_ms : 0;
    v->restarts = c->restarts;
  }
  snap_swap(f, s);
}

/* ---- ports: the federation's side ---- */

void mcp_fed_port_ref(struct mcp_fed_port *p)
{
  atomic_fetch_add(&p->refs, 1);
}

static void out_free(struct mcp_fed_out *o)
{
  cJSON_Delete(o->msg);
  free(o->why);
  free(o->server);
  free(o);
}

void mcp_fed_port_unref(struct mcp_fed_port *p)
{
  if(!p || atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  while(p->out) {
    struct mcp_fed_out *o = p->out;
    p->out = o->next;
    out_free(o);
  }
  uv_mutex_destroy(&p->lock);
  free(p);
}

static void port_post(struct mcp_fed_port *p, struct mcp_fed_out *o)
{
  uv_mutex_lock(&p->lock);
  if(p->closed) {
    uv_mutex_unlock(&p->lock);
    out_free(o);
    return;
  }
  *p->tail = o;
  p->tail = &o->next;
  uv_async_send(&p->async);
  uv_mutex_unlock(&p->lock);
}

void mcp_fed_port_msg(struct mcp_fed_port *p, uint64_t call, cJSON *msg)
{
  struct mcp_fed_out *o = sb_calloc(1, sizeof(*o));

  o->kind = OUT_MSG;
  o->call = call;
  o->msg = msg;
  port_post(p, o);
}

void mcp_fed_port_done(struct mcp_fed_port *p, uint64_t call, cJSON *response,
                       const char *why, int timed_out)
{
  struct mcp_fed_out *o = sb_calloc(1, sizeof(*o));

  o->kind = OUT_DONE;
  o->call = call;
  o->msg = response;
  o->why = dup_or_null(why);
  o->timed_out = timed_out;
  port_post(p, o);
}

void mcp_fed_broadcast(struct mcp_fed *f, const char *server, const cJSON *msg)
{
  uv_mutex_lock(&f->lock);
  for(struct mcp_fed_port *p = f->ports; p; p = p->next) {
    struct mcp_fed_out *o;
    if(!p->has_ev)
      continue;
    o = sb_calloc(1, sizeof(*o));
    o->kind = OUT_EVENT;
    o->msg = cJSON_Duplicate(msg, 1);
    o->server = sb_strdup(server);
    port_post(p, o);
  }
  uv_mutex_unlock(&f->lock);
}

/* ---- ports: the worker's side ---- */

static struct mcp_fed_call *call_find(struct mcp_fed_port *p, uint64_t id)
{
  for(struct mcp_fed_call *c = p->calls; c; c = c->next)
    if(c->id == id)
      return c;
  return NULL;
}

static void call_unlink(struct mcp_fed_call *c)
{
  if(c->prev)
    c->prev->next = c->next;
  else
    c->p->calls = c->next;
  if(c->next)
    c->next->prev = c->prev;
}

static void on_port_wake(uv_async_t *a)
{
  struct mcp_fed_port *p = a->data;
  struct mcp_fed_out *list;

  uv_mutex_lock(&p->lock);
  list = p->out;
  p->out = NULL;
  p->tail = &p->out;
  uv_mutex_unlock(&p->lock);
  while(list) {
    struct mcp_fed_out *o = list;
    struct mcp_fed_call *c;
    list = o->next;
    /* A callback may close the port: what is left is dropped. */
    if(p->closed) {
      out_free(o);
      continue;
    }
    switch(o->kind) {
    case OUT_MSG:
      c = call_find(p, o->call);
      if(c && c->sink.message)
        c->sink.message(c->ud, o->msg);
      break;
    case OUT_DONE:
      c = call_find(p, o->call);
      if(c) {
        call_unlink(c);
        c->sink.done(c->ud, o->msg, o->why, o->timed_out);
        o->msg = NULL; /* taken */
        free(c);
      }
      break;
    case OUT_EVENT: p->ev.notify(p->ev.ud, o->server, o->msg); break;
    }
    out_free(o);
  }
}

/* ---- the inbox ---- */

static void op_free(struct mcp_fed_op *op)
{
  mcp_fed_port_unref(op->port);
  free(op->server);
  free(op->method);
  free(op->reason);
  cJSON_Delete(op->json);
  for(int i = 0; i < op->ndefs; i++)
    config_mcp_server_free(&op->defs[i]);
  free(op->defs);
  free(op);
}

static void op_push(struct mcp_fed *f, struct mcp_fed_op *op)
{
  uv_mutex_lock(&f->lock);
  *f->tail = op;
  f->tail = &op->next;
  uv_async_send(&f->wake);
  uv_mutex_unlock(&f->lock);
}

static struct mcp_fed_conn *conn_find(struct mcp_fed *f, const char *name)
{
  for(int i = 0; name && i < f->nconns; i++)
    if(!strcmp(f->conns[i]->def.name, name))
      return f->conns[i];
  return NULL;
}

static void announce_lists(struct mcp_fed *f, const char *server)
{
  static const char *const kinds[] = {"notifications/tools/list_changed",
                                      "notifications/prompts/list_changed",
                                      "notifications/resources/list_changed"};
  for(size_t i = 0; i < SB_ARRAY_LEN(kinds); i++) {
    cJSON *n = jsonrpc_call(NULL, kinds[i], NULL);
    mcp_fed_broadcast(f, server, n);
    cJSON_Delete(n);
  }
}

static int by_name(const void *a, const void *b)
{
  const struct mcp_fed_conn *x = *(struct mcp_fed_conn *const *)a;
  const struct mcp_fed_conn *y = *(struct mcp_fed_conn *const *)b;
  return strcmp(x->def.name, y->def.name);
}

static void set_servers(struct mcp_fed *f, struct config_mcp_server *defs,
                        int n)
{
  struct mcp_fed_conn **next = sb_calloc((size_t)n + 1, sizeof(*next));
  char **gone = sb_calloc((size_t)f->nconns + 1, sizeof(*gone));
  int nnext = 0, ngone = 0;

  for(int i = 0; i < n; i++) {
    struct mcp_fed_conn *c;
    char *key;
    int dup = 0;
    if(!defs[i].name || !*defs[i].name)
      continue;
    for(int j = 0; j < nnext; j++)
      dup |= !strcmp(next[j]->def.name, defs[i].name);
    if(dup) {
      log_event(LOG_WARN, "mcp server defined twice; the first one counts",
                LOG_S("server", defs[i].name), LOG_END);
      continue;
    }
    key = mcp_fed_def_key(&defs[i]);
    c = conn_find(f, defs[i].name);
    if(c && !strcmp(c->key, key)) {
      next[nnext++] = c;
      c->kept = 1;
    } else {
      next[nnext++] = mcp_fed_conn_new(f, &defs[i], key);
    }
    free(key);
  }
  for(int i = 0; i < f->nconns; i++) {
    struct mcp_fed_conn *c = f->conns[i];
    if(c->kept) {
      c->kept = 0;
      continue;
    }
    if(c->state == MCP_FED_UP)
      gone[ngone++] = sb_strdup(c->def.name);
    mcp_fed_conn_stop(c, "the server was removed or redefined");
  }
  free(f->conns);
  f->conns = next;
  f->nconns = nnext;
  qsort(f->conns, (size_t)f->nconns, sizeof(*f->conns), by_name);
  mcp_fed_publish(f);
  for(int i = 0; i < ngone; i++) {
    announce_lists(f, gone[i]);
    free(gone[i]);
  }
  free(gone);
}

static void maybe_finish(struct mcp_fed *f)
{
  if(!f->stopping || f->nlive > 0 || f->stopping > 1)
    return;
  f->stopping = 2;
  upstream_loop_close(f->ul);
  f->ul = NULL;
  uv_close((uv_handle_t *)&f->wake, NULL);
}

void mcp_fed_live_put(struct mcp_fed *f)
{
  f->nlive--;
  maybe_finish(f);
}

static void run_op(struct mcp_fed *f, struct mcp_fed_op *op)
{
  struct mcp_fed_conn *c;
  const cJSON *id;
  char why[200];

  if(f->stopping && op->kind != OP_PORT_CLOSE)
    return;
  switch(op->kind) {
  case OP_CALL:
    c = conn_find(f, op->server);
    if(!c) {
      snprintf(why, sizeof(why), "unknown MCP server %s", op->server);
      mcp_fed_port_done(op->port, op->call, NULL, why, 0);
      break;
    }
    mcp_fed_conn_call(c, op->port, op->call, op->method, op->json);
    op->json = NULL;
    break;
  case OP_CANCEL:
    for(int i = 0; i < f->nconns; i++)
      if(mcp_fed_conn_cancel(f->conns[i], op->port, op->call, op->reason))
        break;
    break;
  case OP_ANSWER:
    id = cJSON_GetObjectItemCaseSensitive(op->json, "id");
    if(!cJSON_IsString(id))
      break;
    for(int i = 0; i < f->nconns; i++)
      if(mcp_fed_conn_answer(f->conns[i], id->valuestring, op->json))
        break;
    break;
  case OP_NOTIFY:
    c = conn_find(f, op->server);
    if(c)
      mcp_fed_conn_notify(c, op->method, op->json);
    break;
  case OP_SERVERS: set_servers(f, op->defs, op->ndefs); break;
  case OP_PORT_CLOSE:
    for(int i = 0; i < f->nconns; i++)
      mcp_fed_conn_drop_port(f->conns[i], op->port);
    break;
  case OP_STOP:
    f->stopping = 1;
    for(int i = 0; i < f->nconns; i++)
      mcp_fed_conn_stop(f->conns[i], "the gateway is stopping");
    f->nconns = 0;
    mcp_fed_publish(f);
    maybe_finish(f);
    break;
  }
}

static void on_wake(uv_async_t *a)
{
  struct mcp_fed *f = a->data;
  struct mcp_fed_op *list;

  uv_mutex_lock(&f->lock);
  list = f->inbox;
  f->inbox = NULL;
  f->tail = &f->inbox;
  uv_mutex_unlock(&f->lock);
  while(list) {
    struct mcp_fed_op *op = list;
    list = op->next;
    run_op(f, op);
    op_free(op);
  }
}

static void fed_thread(void *arg)
{
  struct mcp_fed *f = arg;
  int rc;

  uv_run(&f->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&f->loop);
  if(rc)
    log_event(LOG_ERROR, "mcp federation: handles left open at exit",
              LOG_S("error", uv_strerror(rc)), LOG_END);
}

int mcp_fed_start(const struct mcp_fed_options *opt, struct mcp_fed **out,
                  char *err, size_t errlen)
{
  struct mcp_fed *f = sb_calloc(1, sizeof(*f));
  struct snap_impl *s = sb_calloc(1, sizeof(*s));
  int rc;

  f->sec = opt->sec;
  f->client_name =
      sb_strdup(opt->client_name ? opt->client_name : "switchboard");
  f->client_version =
      sb_strdup(opt->client_version ? opt->client_version : SB_VERSION);
  f->connect_timeout_ms =
      opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 10000;
  f->max_list_items = opt->max_list_items > 0 ? opt->max_list_items : 10000;
  f->tail = &f->inbox;
  atomic_init(&f->next_call, 1);
  atomic_init(&s->refs, 1);
  s->servers = sb_calloc(1, sizeof(*s->servers));
  s->pub.servers = s->servers;
  f->snap = &s->pub;
  if((rc = uv_loop_init(&f->loop))) {
    sb_errf(err, errlen, "mcp federation: %s", uv_strerror(rc));
    goto fail_loop;
  }
  uv_mutex_init(&f->lock);
  uv_async_init(&f->loop, &f->wake, on_wake);
  f->wake.data = f;
  if(upstream_loop_init(&f->loop, &f->ul)) {
    sb_errf(err, errlen, "mcp federation: curl could not start");
    goto fail;
  }
  if((rc = uv_thread_create(&f->thread, fed_thread, f))) {
    sb_errf(err, errlen, "mcp federation: no thread: %s", uv_strerror(rc));
    upstream_loop_close(f->ul);
    goto fail;
  }
  *out = f;
  return 0;
fail:
  uv_close((uv_handle_t *)&f->wake, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_loop_close(&f->loop);
  uv_mutex_destroy(&f->lock);
fail_loop:
  mcp_fed_snap_release(f->snap);
  free(f->client_name);
  free(f->client_version);
  free(f);
  return SB_EIO;
}

void mcp_fed_stop(struct mcp_fed *f)
{
  struct mcp_fed_op *op;

  if(!f)
    return;
  op = sb_calloc(1, sizeof(*op));
  op->kind = OP_STOP;
  op_push(f, op);
  uv_thread_join(&f->thread);
  /* Whatever came in after the stop. */
  while(f->inbox) {
    op = f->inbox;
    f->inbox = op->next;
    op_free(op);
  }
  free(f->conns);
  mcp_fed_snap_release(f->snap);
  uv_mutex_destroy(&f->lock);
  free(f->client_name);
  free(f->client_version);
  free(f);
}

int mcp_fed_set_servers(struct mcp_fed *f, const struct config_mcp_server *defs,
                        int n)
{
  struct mcp_fed_op *op = sb_calloc(1, sizeof(*op));

  op->kind = OP_SERVERS;
  op->defs = sb_calloc((size_t)(n > 0 ? n : 1), sizeof(*op->defs));
  for(int i = 0; i < n; i++)
    config_mcp_server_copy(&op->defs[i], &defs[i]);
  op->ndefs = n;
  op_push(f, op);
  return 0;
}

int mcp_fed_port_open(struct mcp_fed *f, uv_loop_t *loop,
                      const struct mcp_fed_events *ev,
                      struct mcp_fed_port **out)
{
  struct mcp_fed_port *p = sb_calloc(1, sizeof(*p));

  p->f = f;
  p->loop = loop;
  if(ev && ev->notify) {
    p->ev = *ev;
    p->has_ev = 1;
  }
  /* One reference for the open handle, one for f->ports. */
  atomic_init(&p->refs, 2);
  p->tail = &p->out;
  if(uv_async_init(loop, &p->async, on_port_wake)) {
    free(p);
    return SB_EIO;
  }
  p->async.data = p;
  uv_mutex_init(&p->lock);
  uv_mutex_lock(&f->lock);
  p->next = f->ports;
  f->ports = p;
  uv_mutex_unlock(&f->lock);
  *out = p;
  return 0;
}

static void on_port_closed(uv_handle_t *h)
{
  mcp_fed_port_unref(h->data);
}

void mcp_fed_port_close(struct mcp_fed_port *p)
{
  struct mcp_fed *f;
  struct mcp_fed_op *op;

  if(!p)
    return;
  f = p->f;
  uv_mutex_lock(&f->lock);
  for(struct mcp_fed_port **pp = &f->ports; *pp; pp = &(*pp)->next)
    if(*pp == p) {
      *pp = p->next;
      break;
    }
  uv_mutex_unlock(&f->lock);
  uv_mutex_lock(&p->lock);
  p->closed = 1;
  uv_mutex_unlock(&p->lock);
  while(p->calls) {
    struct mcp_fed_call *c = p->calls;
    p->calls = c->next;
    free(c);
  }
  /* The federation cancels the port's calls upstream and drops the
   * reference f->ports held. */
  op = sb_calloc(1, sizeof(*op));
  op->kind = OP_PORT_CLOSE;
  op->port = p;
  op_push(f, op);
  uv_close((uv_handle_t *)&p->async, on_port_closed);
}

int mcp_fed_call(struct mcp_fed_port *p, const char *server, const char *method,
                 const cJSON *params, const struct mcp_fed_sink *sink, void *ud,
                 struct mcp_fed_call **out)
{
  struct mcp_fed_call *c = sb_calloc(1, sizeof(*c));
  struct mcp_fed_op *op = sb_calloc(1, sizeof(*op));

  c->p = p;
  c->id = atomic_fetch_add(&p->f->next_call, 1);
  c->sink = *sink;
  c->ud = ud;
  c->next = p->calls;
  if(p->calls)
    p->calls->prev = c;
  p->calls = c;
  op->kind = OP_CALL;
  mcp_fed_port_ref(p);
  op->port = p;
  op->call = c->id;
  op->server = sb_strdup(server ? server : "");
  op->method = sb_strdup(method);
  op->json = params ? cJSON_Duplicate(params, 1) : NULL;
  op_push(p->f, op);
  if(out)
    *out = c;
  return 0;
}

void mcp_fed_cancel(struct mcp_fed_call *c, const char *reason)
{
  struct mcp_fed_port *p;
  struct mcp_fed_op *op;

  if(!c)
    return;
  p = c->p;
  op = sb_calloc(1, sizeof(*op));
  op->kind = OP_CANCEL;
  mcp_fed_port_ref(p);
  op->port = p;
  op->call = c->id;
  op->reason = dup_or_null(reason);
  call_unlink(c);
  free(c);
  op_push(p->f, op);
}

int mcp_fed_answer(struct mcp_fed_port *p, const cJSON *response)
{
  struct mcp_fed_op *op;

  if(!response)
    return 0;
  op = sb_calloc(1, sizeof(*op));
  op->kind = OP_ANSWER;
  op->json = cJSON_Duplicate(response, 1);
  op_push(p->f, op);
  return 0;
}

int mcp_fed_notify(struct mcp_fed_port *p, const char *server,
                   const char *method, const cJSON *params)
{
  struct mcp_fed_op *op = sb_calloc(1, sizeof(*op));

  op->kind = OP_NOTIFY;
  op->server = sb_strdup(server ? server : "");
  op->method = sb_strdup(method);
  op->json = params ? cJSON_Duplicate(params, 1) : NULL;
  op_push(p->f, op);
  return 0;
}
