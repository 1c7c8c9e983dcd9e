/*
 * fed_conn.c - one upstream MCP session: its lifecycle (initialize,
 * lists, up, down, back-off), its request ids and progress tokens, the
 * calls relayed through it and their time-outs.
 *
 * Runs on the federation's thread only. A request in flight is a struct
 * mcp_fed_req: either a caller's (it has a port and the call's id) or the
 * session's own (initialize, a list page), which ends in its fin
 * function.
 */
#include "mcp/fed_int.h"
#include "base/log.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mcp_fed_req;
typedef void (*fed_fin)(struct mcp_fed_conn *c, struct mcp_fed_req *r,
                        const struct jsonrpc_msg *m, const char *why);

struct mcp_fed_req {
  struct mcp_fed_req *next, *prev;
  int64_t id; /* upstream id */
  char *method;
  /* A caller's call. */
  struct mcp_fed_port *port; /* with a reference */
  uint64_t call;
  cJSON *token; /* the caller's progressToken */
  char tag[32]; /* ours in its place */
  cJSON *held;  /* not sent yet: the server is starting */
  /* The session's own. */
  fed_fin fin;
  int list;
  /* Time-outs, in loop time (ms); 0: none. */
  uint64_t idle_due;
  uint64_t total_due;
};

/* A server's request relayed to a caller, until it is answered. */
struct mcp_fed_srvreq {
  struct mcp_fed_srvreq *next;
  char fed_id[32];
  cJSON *id; /* the server's */
  struct mcp_fed_req *req;
};

static const char *const list_method[MCP_FED_NLISTS] = {
    "tools/list", "prompts/list", "resources/list", "resources/templates/list"};
static const char *const list_field[MCP_FED_NLISTS] = {
    "tools", "prompts", "resources", "resourceTemplates"};

/* list_changed kinds (bits of relist and announce). */
#define KIND_TOOLS     1u
#define KIND_PROMPTS   2u
#define KIND_RESOURCES 4u

static const char *const accepted_versions[] = {"2025-11-25", "2025-06-18",
                                                "2025-03-26", "2024-11-05"};

static void conn_connect(struct mcp_fed_conn *c);
static void arm(struct mcp_fed_conn *c);
static void conn_fail(struct mcp_fed_conn *c, const char *why);
static void start_list(struct mcp_fed_conn *c, int list, const char *cursor);

static uint64_t now_ms(struct mcp_fed_conn *c)
{
  return uv_now(&c->f->loop);
}

static const char *state_name(enum mcp_fed_state s)
{
  switch(s) {
  case MCP_FED_STARTING: return "starting";
  case MCP_FED_UP: return "up";
  case MCP_FED_DOWN: return "down";
  case MCP_FED_DISABLED: return "disabled";
  }
  return "?";
}

static void set_str(char **field, const char *v)
{
  free(*field);
  *field = v ? sb_strdup(v) : NULL;
}

/* ---- requests ---- */

static struct mcp_fed_req *req_find(struct mcp_fed_conn *c, int64_t id)
{
  for(struct mcp_fed_req *r = c->reqs; r; r = r->next)
    if(r->id == id)
      return r;
  return NULL;
}

static void srvreqs_drop(struct mcp_fed_conn *c, struct mcp_fed_req *r)
{
  for(struct mcp_fed_srvreq **pp = &c->srvreqs; *pp;) {
    struct mcp_fed_srvreq *s = *pp;
    if(r && s->req != r) {
      pp = &s->next;
      continue;
    }
    *pp = s->next;
    cJSON_Delete(s->id);
    free(s);
  }
}

/* Unlink and free r (its caller, if any, has been told already). */
static void req_free(struct mcp_fed_conn *c, struct mcp_fed_req *r)
{
  if(r->prev)
    r->prev->next = r->next;
  else
    c->reqs = r->next;
  if(r->next)
    r->next->prev = r->prev;
  srvreqs_drop(c, r);
  mcp_fed_port_unref(r->port);
  cJSON_Delete(r->token);
  cJSON_Delete(r->held);
  free(r->method);
  free(r);
}

static int64_t timeout_ms(const struct mcp_fed_conn *c)
{
  return (int64_t)(c->def.timeout_s > 0 ? c->def.timeout_s : 60) * 1000;
}

/* Something was heard about r: its idle time-out starts again. */
static void req_touch(struct mcp_fed_conn *c, struct mcp_fed_req *r)
{
  r->idle_due = now_ms(c) + (uint64_t)timeout_ms(c);
}

static int send_msg(struct mcp_fed_conn *c, const cJSON *msg, int64_t id)
{
  if(!c->tr)
    return SB_EIO;
  return c->ops->send(c->tr, msg, id);
}

/* Send request method (params taken) and track it; *rc: whether it
 * went out (when not, r is tracked still and the caller fails it). A
 * caller's request to a server still starting is held until it is up. */
static struct mcp_fed_req *req_send(struct mcp_fed_conn *c, const char *method,
                                    cJSON *params, fed_fin fin,
                                    struct mcp_fed_port *port, uint64_t call,
                                    int *rc)
{
  struct mcp_fed_req *r = sb_calloc(1, sizeof(*r));
  cJSON *id, *msg;
  r->id = ++c->next_id;
  r->method = sb_strdup(method);
  r->fin = fin;
  r->port = port;
  r->call = call;
  if(port)
    mcp_fed_port_ref(port);
  if(port && c->def.call_timeout_s > 0)
    r->total_due = now_ms(c) + (uint64_t)c->def.call_timeout_s * 1000;
  req_touch(c, r);
  r->next = c->reqs;
  if(c->reqs)
    c->reqs->prev = r;
  c->reqs = r;
  id = cJSON_CreateNumber((double)r->id);
  msg = jsonrpc_call(id, method, params);
  cJSON_Delete(id);
  if(port && c->state == MCP_FED_STARTING) {
    r->held = msg;
    *rc = 0;
  } else {
    *rc = send_msg(c, msg, r->id);
    cJSON_Delete(msg);
  }
  if(!*rc)
    arm(c);
  return r;
}

static void send_note(struct mcp_fed_conn *c, const char *method, cJSON *params)
{
  cJSON *msg = jsonrpc_call(NULL, method, params);

  send_msg(c, msg, 0);
  cJSON_Delete(msg);
}

static void send_cancelled(struct mcp_fed_conn *c, int64_t id,
                           const char *reason)
{
  cJSON *p = cJSON_CreateObject();

  cJSON_AddNumberToObject(p, "requestId", (double)id);
  if(reason)
    cJSON_AddStringToObject(p, "reason", reason);
  send_note(c, "notifications/cancelled", p);
}

/* End r with no response: the caller hears why; the session's own
 * requests end in their fin. */
static void req_fail(struct mcp_fed_conn *c, struct mcp_fed_req *r,
                     const char *why, int timed_out)
{
  if(r->port) {
    mcp_fed_port_done(r->port, r->call, NULL, why, timed_out);
    req_free(c, r);
    return;
  }
  if(r->fin) {
    fed_fin fin = r->fin;
    r->fin = NULL;
    fin(c, r, NULL, why); /* frees r, or fails the session */
  }
}

/* ---- time-outs ---- */

static void on_deadline(uv_timer_t *t);

static void arm(struct mcp_fed_conn *c)
{
  uint64_t due = 0, now = now_ms(c);

  for(struct mcp_fed_req *r = c->reqs; r; r = r->next) {
    if(r->idle_due && (!due || r->idle_due < due))
      due = r->idle_due;
    if(r->total_due && (!due || r->total_due < due))
      due = r->total_due;
  }
  if(!due || c->stopping)
    uv_timer_stop(&c->deadline);
  else
    uv_timer_start(&c->deadline, on_deadline, due > now ? due - now : 0, 0);
}

static void on_deadline(uv_timer_t *t)
{
  struct mcp_fed_conn *c = t->data;
  uint64_t now = now_ms(c);
  struct mcp_fed_req *r, *next;

  for(r = c->reqs; r; r = next) {
    char why[200];
    int total = r->total_due && r->total_due <= now;
    next = r->next;
    if(!total && !(r->idle_due && r->idle_due <= now))
      continue;
    if(total)
      snprintf(why, sizeof(why),
               "MCP server %s: %s took longer than call_timeout_s (%d s)",
               c->def.name, r->method, c->def.call_timeout_s);
    else
      snprintf(why, sizeof(why),
               "MCP server %s: no answer or progress to %s for %lld s",
               c->def.name, r->method, (long long)(timeout_ms(c) / 1000));
    log_event(LOG_WARN, "mcp upstream request timed out",
              LOG_S("server", c->def.name), LOG_S("method", r->method),
              LOG_B("call_timeout", total), LOG_END);
    if(!r->port) {
      /* The session's own request: the server does not answer. */
      conn_fail(c, why);
      return;
    }
    if(!r->held) {
      send_cancelled(c, r->id, "timed out");
      if(c->tr)
        c->ops->forget(c->tr, r->id);
    }
    req_fail(c, r, why, 1);
  }
  arm(c);
}

/* ---- lifecycle ---- */

static void announce(struct mcp_fed_conn *c, unsigned kinds)
{
  static const char *const names[] = {"notifications/tools/list_changed",
                                      "notifications/prompts/list_changed",
                                      "notifications/resources/list_changed"};
  for(int i = 0; i < 3; i++) {
    cJSON *n;
    if(!(kinds & (1u << i)))
      continue;
    n = jsonrpc_call(NULL, names[i], NULL);
    mcp_fed_broadcast(c->f, c->def.name, n);
    cJSON_Delete(n);
  }
}

static void clear_session(struct mcp_fed_conn *c)
{
  set_str(&c->protocol_version, NULL);
  set_str(&c->instructions, NULL);
  cJSON_Delete(c->server_info);
  cJSON_Delete(c->capabilities);
  c->server_info = c->capabilities = NULL;
  for(int i = 0; i < MCP_FED_NLISTS; i++) {
    cJSON_Delete(c->lists[i]);
    cJSON_Delete(c->acc[i]);
    c->lists[i] = cJSON_CreateArray();
    c->acc[i] = NULL;
  }
  c->listing = c->announce = c->relist = 0;
}

/* Every request in flight ends with why; the transport is closed. */
static void drop_all(struct mcp_fed_conn *c, const char *why)
{
  if(c->tr) {
    c->ops->close(c->tr);
    c->tr = NULL;
  }
  while(c->reqs) {
    struct mcp_fed_req *r = c->reqs;
    if(r->port)
      mcp_fed_port_done(r->port, r->call, NULL, why, 0);
    req_free(c, r);
  }
  srvreqs_drop(c, NULL);
  uv_timer_stop(&c->deadline);
  uv_timer_stop(&c->debounce);
}

static void on_retry(uv_timer_t *t)
{
  struct mcp_fed_conn *c = t->data;

  c->restarts++;
  conn_connect(c);
}

static void conn_fail(struct mcp_fed_conn *c, const char *why)
{
  char reason[300];
  int was_up = c->state == MCP_FED_UP;

  if(c->stopping)
    return;
  log_event(LOG_WARN, "mcp server down", LOG_S("server", c->def.name),
            LOG_S("error", why), LOG_I("retry_ms", c->backoff_ms), LOG_END);
  snprintf(reason, sizeof(reason), "MCP server %s is unavailable: %s",
           c->def.name, why);
  drop_all(c, reason);
  clear_session(c);
  c->state = MCP_FED_DOWN;
  set_str(&c->error, why);
  /* A server that stayed up a while starts its back-off again. */
  if(was_up && sb_now_ms() - c->up_since_ms > MCP_FED_BACKOFF_MAX_MS)
    c->backoff_ms = MCP_FED_BACKOFF_MIN_MS;
  uv_timer_start(&c->retry, on_retry, (uint64_t)c->backoff_ms, 0);
  c->backoff_ms *= 2;
  if(c->backoff_ms > MCP_FED_BACKOFF_MAX_MS)
    c->backoff_ms = MCP_FED_BACKOFF_MAX_MS;
  mcp_fed_publish(c->f);
  if(was_up)
    announce(c, KIND_TOOLS | KIND_PROMPTS | KIND_RESOURCES);
}

void mcp_fed_conn_lost(struct mcp_fed_conn *c, const char *why)
{
  conn_fail(c, why);
}

/* The calls that waited for the server, oldest first. */
static void send_held(struct mcp_fed_conn *c)
{
  struct mcp_fed_req *r = c->reqs, *prev;

  while(r && r->next)
    r = r->next;
  for(; r && c->tr; r = prev) {
    cJSON *msg = r->held;
    prev = r->prev;
    if(!msg)
      continue;
    r->held = NULL;
    req_touch(c, r);
    if(send_msg(c, msg, r->id))
      req_fail(c, r, "the request could not be sent", 0);
    cJSON_Delete(msg);
  }
  arm(c);
}

static void go_up(struct mcp_fed_conn *c)
{
  c->state = MCP_FED_UP;
  c->up_since_ms = sb_now_ms();
  set_str(&c->error, NULL);
  log_event(LOG_INFO, "mcp server up", LOG_S("server", c->def.name),
            LOG_S("protocol_version", c->protocol_version),
            LOG_I("tools", cJSON_GetArraySize(c->lists[MCP_FED_TOOLS])),
            LOG_I("restarts", c->restarts), LOG_END);
  mcp_fed_publish(c->f);
  announce(c, KIND_TOOLS | KIND_PROMPTS | KIND_RESOURCES);
  send_held(c);
}

static void list_done(struct mcp_fed_conn *c, int list)
{
  cJSON_Delete(c->lists[list]);
  c->lists[list] = c->acc[list] ? c->acc[list] : cJSON_CreateArray();
  c->acc[list] = NULL;
  c->listing &= ~(1u << list);
  if(c->listing)
    return;
  if(c->state == MCP_FED_STARTING) {
    go_up(c);
    return;
  }
  mcp_fed_publish(c->f);
  announce(c, c->announce);
  c->announce = 0;
}

static void on_list(struct mcp_fed_conn *c, struct mcp_fed_req *r,
                    const struct jsonrpc_msg *m, const char *why)
{
  int list = r->list;
  const cJSON *items, *it, *next;
  char *cursor = NULL;

  req_free(c, r);
  if(!m) {
    char reason[300];
    snprintf(reason, sizeof(reason), "%s failed: %s", list_method[list], why);
    conn_fail(c, reason);
    return;
  }
  if(m->kind == JSONRPC_ERROR) {
    /* A server that declares a capability it cannot list: the list is
     * empty (or what was paged so far), the server still usable. */
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(m->error, "message");
    log_event(LOG_WARN, "mcp server refused a listing",
              LOG_S("server", c->def.name), LOG_S("method", list_method[list]),
              LOG_S("error", cJSON_IsString(msg) ? msg->valuestring : NULL),
              LOG_END);
    list_done(c, list);
    return;
  }
  if(!c->acc[list])
    c->acc[list] = cJSON_CreateArray();
  items = cJSON_GetObjectItemCaseSensitive(m->result, list_field[list]);
  cJSON_ArrayForEach(it, items)
  {
    if(cJSON_GetArraySize(c->acc[list]) >= c->f->max_list_items) {
      log_event(LOG_WARN, "mcp server list cut at max_list_items",
                LOG_S("server", c->def.name),
                LOG_S("method", list_method[list]),
                LOG_I("max", c->f->max_list_items), LOG_END);
      list_done(c, list);
      return;
    }
    if(cJSON_IsObject(it))
      cJSON_AddItemToArray(c->acc[list], cJSON_Duplicate(it, 1));
  }
  next = cJSON_GetObjectItemCaseSensitive(m->result, "nextCursor");
  if(cJSON_IsString(next) && next->valuestring[0] &&
     cJSON_GetArraySize(items) > 0) {
    cursor = sb_strdup(next->valuestring);
    start_list(c, list, cursor);
    free(cursor);
    return;
  }
  list_done(c, list);
}

static void start_list(struct mcp_fed_conn *c, int list, const char *cursor)
{
  cJSON *params = NULL;
  struct mcp_fed_req *r;
  int rc;

  c->listing |= 1u << list;
  if(cursor) {
    params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "cursor", cursor);
  }
  r = req_send(c, list_method[list], params, on_list, NULL, 0, &rc);
  r->list = list;
  if(rc)
    req_fail(c, r, "could not send the request", 0);
}

/* Fetch the lists of kinds (bits) that the server declares. */
static void list_kinds(struct mcp_fed_conn *c, unsigned kinds)
{
  int lists[MCP_FED_NLISTS], n = 0;

  if((kinds & KIND_TOOLS) &&
     cJSON_GetObjectItemCaseSensitive(c->capabilities, "tools"))
    lists[n++] = MCP_FED_TOOLS;
  if((kinds & KIND_PROMPTS) &&
     cJSON_GetObjectItemCaseSensitive(c->capabilities, "prompts"))
    lists[n++] = MCP_FED_PROMPTS;
  if((kinds & KIND_RESOURCES) &&
     cJSON_GetObjectItemCaseSensitive(c->capabilities, "resources")) {
    lists[n++] = MCP_FED_RESOURCES;
    lists[n++] = MCP_FED_TEMPLATES;
  }
  /* Mark them all first: a page that fails at once must not look like
   * the end of the round. */
  for(int i = 0; i < n; i++)
    c->listing |= 1u << lists[i];
  for(int i = 0; i < n && c->tr; i++)
    start_list(c, lists[i], NULL);
}

int mcp_fed_conn_init_ok(const cJSON *result, char *err, size_t errlen)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(result, "protocolVersion");

  if(!cJSON_IsString(v)) {
    sb_errf(err, errlen, "initialize: no protocolVersion in the answer");
    return SB_EPROTO;
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(accepted_versions); i++)
    if(!strcmp(v->valuestring, accepted_versions[i]))
      return 0;
  sb_errf(err, errlen, "initialize: unsupported protocol version %.40s",
          v->valuestring);
  return SB_EPROTO;
}

static void on_init(struct mcp_fed_conn *c, struct mcp_fed_req *r,
                    const struct jsonrpc_msg *m, const char *why)
{
  char err[300];
  const cJSON *v;

  req_free(c, r);
  if(!m) {
    snprintf(err, sizeof(err), "initialize failed: %s", why);
    conn_fail(c, err);
    return;
  }
  if(m->kind == JSONRPC_ERROR) {
    v = cJSON_GetObjectItemCaseSensitive(m->error, "message");
    snprintf(err, sizeof(err), "initialize refused: %.200s",
             cJSON_IsString(v) ? v->valuestring : "(no message)");
    conn_fail(c, err);
    return;
  }
  if(mcp_fed_conn_init_ok(m->result, err, sizeof(err))) {
    conn_fail(c, err);
    return;
  }
  v = cJSON_GetObjectItemCaseSensitive(m->result, "protocolVersion");
  set_str(&c->protocol_version, v->valuestring);
  v = cJSON_GetObjectItemCaseSensitive(m->result, "capabilities");
  c->capabilities =
      cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
  v = cJSON_GetObjectItemCaseSensitive(m->result, "serverInfo");
  c->server_info = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : NULL;
  v = cJSON_GetObjectItemCaseSensitive(m->result, "instructions");
  set_str(&c->instructions, cJSON_IsString(v) ? v->valuestring : NULL);
  send_note(c, "notifications/initialized", NULL);
  if(!c->tr)
    return; /* failed while sending */
  c->ops->ready(c->tr);
  list_kinds(c, KIND_TOOLS | KIND_PROMPTS | KIND_RESOURCES);
  if(c->state == MCP_FED_STARTING && !c->listing)
    go_up(c);
}

cJSON *mcp_fed_conn_init_msg(struct mcp_fed_conn *c, int64_t *id)
{
  cJSON *p = cJSON_CreateObject(), *caps, *info, *jid, *msg;

  cJSON_AddStringToObject(p, "protocolVersion", MCP_FED_PROTOCOL);
  caps = cJSON_AddObjectToObject(p, "capabilities");
  cJSON_AddObjectToObject(caps, "sampling");
  cJSON_AddObjectToObject(caps, "elicitation");
  cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "roots"), "listChanged",
                        1);
  info = cJSON_AddObjectToObject(p, "clientInfo");
  cJSON_AddStringToObject(info, "name", c->f->client_name);
  cJSON_AddStringToObject(info, "version", c->f->client_version);
  *id = ++c->next_id;
  jid = cJSON_CreateNumber((double)*id);
  msg = jsonrpc_call(jid, "initialize", p);
  cJSON_Delete(jid);
  return msg;
}

static void conn_connect(struct mcp_fed_conn *c)
{
  char err[300];
  struct mcp_fed_req *r;
  cJSON *msg;
  int rc;

  c->state = MCP_FED_STARTING;
  if((rc = c->ops->open(c, &c->tr, err, sizeof(err)))) {
    c->tr = NULL;
    conn_fail(c, err);
    return;
  }
  mcp_fed_publish(c->f);
  /* initialize, tracked like any request of the session's own. */
  msg = mcp_fed_conn_init_msg(c, &(int64_t){0});
  r = sb_calloc(1, sizeof(*r));
  r->id = c->next_id;
  r->method = sb_strdup("initialize");
  r->fin = on_init;
  req_touch(c, r);
  r->next = c->reqs;
  if(c->reqs)
    c->reqs->prev = r;
  c->reqs = r;
  rc = send_msg(c, msg, r->id);
  cJSON_Delete(msg);
  if(rc) {
    conn_fail(c, "could not send initialize");
    return;
  }
  arm(c);
}

static void on_debounce(uv_timer_t *t)
{
  struct mcp_fed_conn *c = t->data;
  unsigned kinds = c->relist;

  if(!kinds || (c->state != MCP_FED_UP && c->state != MCP_FED_STARTING))
    return;
  if(c->listing || c->state == MCP_FED_STARTING) {
    /* A listing is under way: this one waits for it. */
    uv_timer_start(&c->debounce, on_debounce, MCP_FED_DEBOUNCE_MS, 0);
    return;
  }
  c->relist = 0;
  c->announce |= kinds;
  list_kinds(c, kinds);
  if(c->state == MCP_FED_UP && !c->listing && c->announce) {
    /* Nothing to list after all (the capability is gone). */
    mcp_fed_publish(c->f);
    announce(c, c->announce);
    c->announce = 0;
  }
}

static void on_handle_closed(uv_handle_t *h)
{
  struct mcp_fed_conn *c = h->data;
  struct mcp_fed *f = c->f;

  if(--c->nhandles > 0)
    return;
  for(int i = 0; i < MCP_FED_NLISTS; i++) {
    cJSON_Delete(c->lists[i]);
    cJSON_Delete(c->acc[i]);
  }
  cJSON_Delete(c->server_info);
  cJSON_Delete(c->capabilities);
  free(c->instructions);
  free(c->protocol_version);
  free(c->error);
  free(c->key);
  config_mcp_server_free(&c->def);
  free(c);
  mcp_fed_live_put(f);
}

struct mcp_fed_conn *mcp_fed_conn_new(struct mcp_fed *f,
                                      const struct config_mcp_server *def,
                                      const char *key)
{
  struct mcp_fed_conn *c = sb_calloc(1, sizeof(*c));
  char err[300];
  int refused;

  c->f = f;
  f->nlive++;
  config_mcp_server_copy(&c->def, def);
  c->key = sb_strdup(key);
  c->ops = def->transport == CONFIG_MCP_STDIO ? &mcp_fed_stdio_ops
                                              : &mcp_fed_http_ops;
  c->backoff_ms = MCP_FED_BACKOFF_MIN_MS;
  uv_timer_init(&f->loop, &c->retry);
  uv_timer_init(&f->loop, &c->debounce);
  uv_timer_init(&f->loop, &c->deadline);
  c->retry.data = c->debounce.data = c->deadline.data = c;
  c->nhandles = 3;
  for(int i = 0; i < MCP_FED_NLISTS; i++)
    c->lists[i] = cJSON_CreateArray();
  if(!def->enabled) {
    c->state = MCP_FED_DISABLED;
    return c;
  }
  /* A definition that did not come through the parser may lack what its
   * transport needs: refused like one the security settings refuse. */
  refused = def->transport == CONFIG_MCP_STDIO ? !def->command : !def->url;
  if(refused)
    snprintf(err, sizeof(err), "the definition has no %s",
             def->transport == CONFIG_MCP_STDIO ? "command" : "url");
  else
    refused = config_mcp_server_allowed(f->sec, def, err, sizeof(err)) != 0;
  if(refused) {
    log_event(LOG_WARN, "mcp server refused", LOG_S("server", def->name),
              LOG_S("error", err), LOG_END);
    c->state = MCP_FED_DOWN;
    c->refused = 1;
    set_str(&c->error, err);
    return c;
  }
  conn_connect(c);
  return c;
}

void mcp_fed_conn_stop(struct mcp_fed_conn *c, const char *why)
{
  char reason[300];

  snprintf(reason, sizeof(reason), "MCP server %s: %s", c->def.name, why);
  c->stopping = 1;
  drop_all(c, reason);
  uv_timer_stop(&c->retry);
  uv_close((uv_handle_t *)&c->retry, on_handle_closed);
  uv_close((uv_handle_t *)&c->debounce, on_handle_closed);
  uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
}

/* ---- calls ---- */

/* params._meta.progressToken, or NULL. */
static cJSON *progress_token(cJSON *params)
{
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
  cJSON *t = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");

  return cJSON_IsString(t) || cJSON_IsNumber(t) ? t : NULL;
}

void mcp_fed_conn_call(struct mcp_fed_conn *c, struct mcp_fed_port *p,
                       uint64_t call, const char *method, cJSON *params)
{
  struct mcp_fed_req *r;
  cJSON *tok = progress_token(params), *orig = NULL;
  char why[300], tag[32];
  int rc;

  if(c->state != MCP_FED_UP && c->state != MCP_FED_STARTING) {
    if(c->state == MCP_FED_DISABLED)
      snprintf(why, sizeof(why), "MCP server %s is disabled", c->def.name);
    else
      snprintf(why, sizeof(why), "MCP server %s is unavailable (%s)%s%s",
               c->def.name, state_name(c->state), c->error ? ": " : "",
               c->error ? c->error : "");
    mcp_fed_port_done(p, call, NULL, why, 0);
    cJSON_Delete(params);
    return;
  }
  if(tok) {
    /* Our own token upstream: unique on this link whatever the callers
     * chose. */
    snprintf(tag, sizeof(tag), "fedp-%llu",
             (unsigned long long)++c->f->next_tag);
    orig = cJSON_Duplicate(tok, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(params, "_meta"), "progressToken",
        cJSON_CreateString(tag));
  }
  r = req_send(c, method, params, NULL, p, call, &rc);
  if(rc) {
    cJSON_Delete(orig);
    snprintf(why, sizeof(why), "MCP server %s: the request could not be sent",
             c->def.name);
    req_fail(c, r, why, 0);
    return;
  }
  if(orig) {
    r->token = orig;
    snprintf(r->tag, sizeof(r->tag), "%s", tag);
  }
}

static struct mcp_fed_req *req_of_call(struct mcp_fed_conn *c,
                                       struct mcp_fed_port *p, uint64_t call)
{
  for(struct mcp_fed_req *r = c->reqs; r; r = r->next)
    if(r->port == p && r->call == call)
      return r;
  return NULL;
}

int mcp_fed_conn_cancel(struct mcp_fed_conn *c, struct mcp_fed_port *p,
                        uint64_t call, const char *reason)
{
  struct mcp_fed_req *r = req_of_call(c, p, call);

  if(!r)
    return 0;
  if(!r->held) {
    send_cancelled(c, r->id, reason);
    if(c->tr)
      c->ops->forget(c->tr, r->id);
  }
  req_free(c, r);
  arm(c);
  return 1;
}

void mcp_fed_conn_drop_port(struct mcp_fed_conn *c, struct mcp_fed_port *p)
{
  struct mcp_fed_req *r, *next;

  for(r = c->reqs; r; r = next) {
    next = r->next;
    if(r->port != p)
      continue;
    if(!r->held) {
      send_cancelled(c, r->id, "the client went away");
      if(c->tr)
        c->ops->forget(c->tr, r->id);
    }
    req_free(c, r);
  }
}

int mcp_fed_conn_answer(struct mcp_fed_conn *c, const char *fed_id,
                        const cJSON *response)
{
  for(struct mcp_fed_srvreq **pp = &c->srvreqs; *pp; pp = &(*pp)->next) {
    struct mcp_fed_srvreq *s = *pp;
    cJSON *out;
    if(strcmp(s->fed_id, fed_id))
      continue;
    out = cJSON_Duplicate(response, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(out, "id",
                                           cJSON_Duplicate(s->id, 1));
    send_msg(c, out, 0);
    cJSON_Delete(out);
    req_touch(c, s->req);
    *pp = s->next;
    cJSON_Delete(s->id);
    free(s);
    return 1;
  }
  return 0;
}

void mcp_fed_conn_notify(struct mcp_fed_conn *c, const char *method,
                         const cJSON *params)
{
  if(c->state != MCP_FED_UP)
    return;
  send_note(c, method, params ? cJSON_Duplicate(params, 1) : NULL);
}

/* ---- what the server sends ---- */

static void answer_error(struct mcp_fed_conn *c, const cJSON *id, int code,
                         const char *message)
{
  cJSON *e = jsonrpc_error(id, code, message, NULL);

  send_msg(c, e, 0);
  cJSON_Delete(e);
}

static void on_response(struct mcp_fed_conn *c, const struct jsonrpc_msg *m,
                        const cJSON *obj)
{
  struct mcp_fed_req *r;
  cJSON *out;

  if(!cJSON_IsNumber(m->id) || !(r = req_find(c, (int64_t)m->id->valuedouble)))
    return; /* not ours, or over already */
  if(!r->port) {
    fed_fin fin = r->fin;
    r->fin = NULL;
    if(fin)
      fin(c, r, m, NULL);
    else
      req_free(c, r);
    return;
  }
  out = cJSON_Duplicate(obj, 1);
  /* The caller puts its own id back (fed.h). */
  cJSON_ReplaceItemInObjectCaseSensitive(out, "id", cJSON_CreateNull());
  mcp_fed_port_done(r->port, r->call, out, NULL, 0);
  req_free(c, r);
}

static void schedule_relist(struct mcp_fed_conn *c, unsigned kind)
{
  /* While starting too: the first listing may already be stale. */
  if(c->state != MCP_FED_UP && c->state != MCP_FED_STARTING)
    return;
  if(!c->relist)
    uv_timer_start(&c->debounce, on_debounce, MCP_FED_DEBOUNCE_MS, 0);
  c->relist |= kind;
}

static void on_notification(struct mcp_fed_conn *c, struct mcp_fed_req *ctx,
                            const struct jsonrpc_msg *m, const cJSON *obj)
{
  const char *mt = m->method;

  if(!strcmp(mt, "notifications/tools/list_changed")) {
    schedule_relist(c, KIND_TOOLS);
    return;
  }
  if(!strcmp(mt, "notifications/prompts/list_changed")) {
    schedule_relist(c, KIND_PROMPTS);
    return;
  }
  if(!strcmp(mt, "notifications/resources/list_changed")) {
    schedule_relist(c, KIND_RESOURCES);
    return;
  }
  if(!strcmp(mt, "notifications/progress")) {
    const cJSON *t =
        cJSON_GetObjectItemCaseSensitive(m->params, "progressToken");
    cJSON *out;
    struct mcp_fed_req *r;
    if(!cJSON_IsString(t))
      return;
    for(r = c->reqs; r; r = r->next)
      if(r->token && !strcmp(r->tag, t->valuestring))
        break;
    if(!r)
      return;
    req_touch(c, r);
    out = cJSON_Duplicate(obj, 1);
    cJSON_ReplaceItemInObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(out, "params"), "progressToken",
        cJSON_Duplicate(r->token, 1));
    mcp_fed_port_msg(r->port, r->call, out);
    return;
  }
  if(!strcmp(mt, "notifications/cancelled")) {
    /* The server gives up on a request of its own: its caller hears it
     * with the id it knows. */
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(m->params, "requestId");
    for(struct mcp_fed_srvreq **pp = &c->srvreqs; rid && *pp;
        pp = &(*pp)->next) {
      struct mcp_fed_srvreq *s = *pp;
      cJSON *out;
      if(!cJSON_Compare(s->id, rid, 1))
        continue;
      out = cJSON_Duplicate(obj, 1);
      cJSON_ReplaceItemInObjectCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(out, "params"), "requestId",
          cJSON_CreateString(s->fed_id));
      mcp_fed_port_msg(s->req->port, s->req->call, out);
      *pp = s->next;
      cJSON_Delete(s->id);
      free(s);
      return;
    }
    return;
  }
  if(ctx && ctx->port) {
    req_touch(c, ctx);
    mcp_fed_port_msg(ctx->port, ctx->call, cJSON_Duplicate(obj, 1));
    return;
  }
  mcp_fed_broadcast(c->f, c->def.name, obj);
}

static void on_request(struct mcp_fed_conn *c, struct mcp_fed_req *ctx,
                       const struct jsonrpc_msg *m, const cJSON *obj)
{
  struct mcp_fed_srvreq *s;
  char why[200];
  cJSON *out;

  if(!strcmp(m->method, "ping")) {
    cJSON *res = jsonrpc_result(m->id, cJSON_CreateObject());
    send_msg(c, res, 0);
    cJSON_Delete(res);
    return;
  }
  if(!ctx && c->def.transport == CONFIG_MCP_STDIO) {
    /* stdio carries no stream per request: the most recent call is the
     * best guess of whom it is for. */
    for(struct mcp_fed_req *r = c->reqs; r && !ctx; r = r->next)
      if(r->port && !r->held)
        ctx = r;
  }
  if(!ctx || !ctx->port) {
    snprintf(why, sizeof(why), "%s: no client request to relay it to",
             m->method);
    answer_error(c, m->id, JSONRPC_METHOD_NOT_FOUND, why);
    return;
  }
  s = sb_calloc(1, sizeof(*s));
  snprintf(s->fed_id, sizeof(s->fed_id), "fed-%llu",
           (unsigned long long)++c->f->next_tag);
  s->id = cJSON_Duplicate(m->id, 1);
  s->req = ctx;
  s->next = c->srvreqs;
  c->srvreqs = s;
  req_touch(c, ctx);
  out = cJSON_Duplicate(obj, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(out, "id",
                                         cJSON_CreateString(s->fed_id));
  mcp_fed_port_msg(ctx->port, ctx->call, out);
}

void mcp_fed_conn_input(struct mcp_fed_conn *c, int64_t ctx_id,
                        const char *text, size_t len)
{
  struct jsonrpc_body b;
  char why[160];
  const cJSON *obj;
  int i = 0;

  if(jsonrpc_parse(text, len, 1, MCP_FED_MAX_DEPTH, &b, why, sizeof(why))) {
    log_event(LOG_WARN, "mcp server sent something that is not JSON-RPC",
              LOG_S("server", c->def.name), LOG_S("error", why),
              LOG_SN("text", text, len > 200 ? 200 : len), LOG_END);
    jsonrpc_body_free(&b);
    if(ctx_id && req_find(c, ctx_id))
      req_fail(c, req_find(c, ctx_id),
               "the server sent something that is not JSON-RPC", 0);
    return;
  }
  for(i = 0; i < b.n && !c->stopping; i++) {
    const struct jsonrpc_msg *m = &b.msg[i];
    struct mcp_fed_req *ctx = ctx_id ? req_find(c, ctx_id) : NULL;
    obj = b.batch ? cJSON_GetArrayItem(b.root, i) : b.root;
    if(m->code) {
      log_event(LOG_WARN, "mcp server sent an invalid JSON-RPC message",
                LOG_S("server", c->def.name), LOG_S("error", m->why), LOG_END);
      continue;
    }
    switch(m->kind) {
    case JSONRPC_RESULT:
    case JSONRPC_ERROR: on_response(c, m, obj); break;
    case JSONRPC_NOTIFICATION: on_notification(c, ctx, m, obj); break;
    case JSONRPC_REQUEST: on_request(c, ctx, m, obj); break;
    }
    if(!c->tr)
      break; /* the session failed while handling it */
  }
  jsonrpc_body_free(&b);
}

void mcp_fed_conn_req_failed(struct mcp_fed_conn *c, int64_t id,
                             const char *why)
{
  struct mcp_fed_req *r = req_find(c, id);
  char reason[300];

  if(!r)
    return;
  /* The session's own requests say it in the session's error. */
  if(r->port)
    snprintf(reason, sizeof(reason), "MCP server %s: %s", c->def.name, why);
  else
    snprintf(reason, sizeof(reason), "%s", why);
  req_fail(c, r, reason, 0);
  arm(c);
}

int mcp_fed_conn_pending(struct mcp_fed_conn *c, int64_t id)
{
  return req_find(c, id) != NULL;
}

void mcp_fed_conn_relist(struct mcp_fed_conn *c)
{
  schedule_relist(c, KIND_TOOLS | KIND_PROMPTS | KIND_RESOURCES);
}
