/* mcp/fed: the federation against real MCP servers: a fixture on stdio
 * (tests/fixtures/fed_stdio.mjs), @modelcontextprotocol/server-everything
 * on stdio and Streamable HTTP, @modelcontextprotocol/server-memory on
 * stdio. Needs node; the tests say why and pass when it is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "mcp/fed.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[1024];
static char node[1024];
static struct config_security sec;

/* ---- the test's side of a port ---- */

struct ctx {
  uv_loop_t loop;
  struct mcp_fed *fed;
  struct mcp_fed_port *port;
  int nevents;
  int tools_changed;
  char last_server[64];
};

struct res {
  int done;
  cJSON *resp;
  char why[400];
  int timed_out;
  int nprogress;
  int token_ok;
  int nmsg;
  cJSON *request; /* a server request received */
  struct ctx *ctx;
  int answer; /* answer server requests at once */
};

static void on_event(void *ud, const char *server, const cJSON *msg)
{
  struct ctx *x = ud;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "method");

  x->nevents++;
  snprintf(x->last_server, sizeof(x->last_server), "%s", server);
  if(cJSON_IsString(m) &&
     !strcmp(m->valuestring, "notifications/tools/list_changed"))
    x->tools_changed++;
}

static void on_msg(void *ud, const cJSON *msg)
{
  struct res *r = ud;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "method");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

  r->nmsg++;
  if(cJSON_IsString(m) && !strcmp(m->valuestring, "notifications/progress")) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "params");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "progressToken");
    r->nprogress++;
    r->token_ok = cJSON_IsString(t) && !strcmp(t->valuestring, "my-token");
  }
  if(cJSON_IsString(m) && id) {
    cJSON_Delete(r->request);
    r->request = cJSON_Duplicate(msg, 1);
    if(r->answer) {
      cJSON *a = cJSON_CreateObject(), *res, *content;
      cJSON_AddStringToObject(a, "jsonrpc", "2.0");
      cJSON_AddItemToObject(a, "id", cJSON_Duplicate(id, 1));
      res = cJSON_AddObjectToObject(a, "result");
      cJSON_AddStringToObject(res, "role", "assistant");
      cJSON_AddStringToObject(res, "model", "test");
      content = cJSON_AddObjectToObject(res, "content");
      cJSON_AddStringToObject(content, "type", "text");
      cJSON_AddStringToObject(content, "text", "forty-two");
      mcp_fed_answer(r->ctx->port, a);
      cJSON_Delete(a);
    }
  }
}

static void on_done(void *ud, cJSON *resp, const char *why, int timed_out)
{
  struct res *r = ud;

  r->done++;
  r->resp = resp;
  snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
  r->timed_out = timed_out;
}

static const struct mcp_fed_sink sink = {on_msg, on_done};

static void res_free(struct res *r)
{
  cJSON_Delete(r->resp);
  cJSON_Delete(r->request);
  memset(r, 0, sizeof(*r));
}

static void spin(struct ctx *x, int ms)
{
  for(int i = 0; i < ms / 5; i++) {
    uv_run(&x->loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
}

#define WAIT_FOR(x, cond, ms)                                                  \
  do {                                                                         \
    int waited_ = 0;                                                           \
    while(!(cond) && waited_ < (ms)) {                                         \
      uv_run(&(x)->loop, UV_RUN_NOWAIT);                                       \
      usleep(5000);                                                            \
      waited_ += 5;                                                            \
    }                                                                          \
  } while(0)

static enum mcp_fed_state state_of(struct ctx *x, const char *name,
                                   int64_t *restarts, char *err, size_t errlen)
{
  const struct mcp_fed_snap *s = mcp_fed_snapshot(x->fed);
  const struct mcp_fed_server *v = mcp_fed_find(s, name);
  enum mcp_fed_state st = v ? v->state : (enum mcp_fed_state) - 1;

  if(v && restarts)
    *restarts = v->restarts;
  if(err)
    snprintf(err, errlen, "%s", v && v->error ? v->error : "");
  mcp_fed_snap_release(s);
  return st;
}

static int wait_state(struct ctx *x, const char *name, enum mcp_fed_state st,
                      int ms)
{
  WAIT_FOR(x, state_of(x, name, NULL, NULL, 0) == st, ms);
  return state_of(x, name, NULL, NULL, 0) == st;
}

/* 1 when the server's tool list has name. */
static int has_tool(struct ctx *x, const char *server, const char *name)
{
  const struct mcp_fed_snap *s = mcp_fed_snapshot(x->fed);
  const struct mcp_fed_server *v = mcp_fed_find(s, server);
  const cJSON *t, *tools = v ? v->tools : NULL;
  int found = 0;

  cJSON_ArrayForEach(t, tools)
  {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
    found |= cJSON_IsString(n) && !strcmp(n->valuestring, name);
  }
  mcp_fed_snap_release(s);
  return found;
}

static void ctx_open(struct ctx *x)
{
  struct mcp_fed_options o;
  struct mcp_fed_events ev = {on_event, x};
  char err[200];

  memset(x, 0, sizeof(*x));
  memset(&o, 0, sizeof(o));
  o.sec = &sec;
  o.client_name = "switchboard-test";
  o.client_version = "0";
  o.connect_timeout_ms = 2000;
  assert_int_equal(uv_loop_init(&x->loop), 0);
  assert_int_equal(mcp_fed_start(&o, &x->fed, err, sizeof(err)), 0);
  assert_int_equal(mcp_fed_port_open(x->fed, &x->loop, &ev, &x->port), 0);
}

static void ctx_close(struct ctx *x)
{
  mcp_fed_port_close(x->port);
  uv_run(&x->loop, UV_RUN_DEFAULT);
  mcp_fed_stop(x->fed);
  assert_int_equal(uv_loop_close(&x->loop), 0);
}

/* A stdio definition running node with args (NULL-terminated). */
static void def_stdio(struct config_mcp_server *d, const char *name, ...)
{
  va_list ap;
  const char *a;

  memset(d, 0, sizeof(*d));
  d->name = (char *)name;
  d->transport = CONFIG_MCP_STDIO;
  d->command = node;
  d->args = calloc(8, sizeof(char *));
  va_start(ap, name);
  while((a = va_arg(ap, const char *)) && d->nargs < 8)
    d->args[d->nargs++] = (char *)a;
  va_end(ap);
  d->timeout_s = 60;
  d->enabled = 1;
}

static char fixture[1200], http_fixture[1200], everything[1200], memory[1200];

static int have_node(void)
{
  if(!node[0]) {
    print_message("node is not on PATH: skipping the federation tests\n");
    return 0;
  }
  return 1;
}

static void call(struct ctx *x, const char *server, const char *tool,
                 const char *args_json, const char *token, struct res *r,
                 struct mcp_fed_call **out)
{
  cJSON *p = cJSON_CreateObject();

  cJSON_AddStringToObject(p, "name", tool);
  cJSON_AddItemToObject(p, "arguments",
                        cJSON_Parse(args_json ? args_json : "{}"));
  if(token)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "_meta"),
                            "progressToken", token);
  r->ctx = x;
  assert_int_equal(
      mcp_fed_call(x->port, server, "tools/call", p, &sink, r, out), 0);
  cJSON_Delete(p);
}

/* The text of the first content block of a tools/call result. */
static const char *result_text(const struct res *r)
{
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(r->resp, "result");
  const cJSON *c =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "content"), 0);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");

  return cJSON_IsString(t) ? t->valuestring : "";
}

/* ---- the fixture on stdio ---- */

static void test_fixture(void **state)
{
  struct ctx x;
  struct config_mcp_server d;
  struct res r = {0};
  struct mcp_fed_call *hc;
  const struct mcp_fed_snap *s;
  const struct mcp_fed_server *v;
  int64_t restarts = 0;
  char err[300];

  (void)state;
  if(!have_node())
    return;
  ctx_open(&x);
  def_stdio(&d, "fix", fixture, NULL);
  d.timeout_s = 1;
  assert_int_equal(mcp_fed_set_servers(x.fed, &d, 1), 0);
  /* A call while it starts waits for it. */
  call(&x, "fix", "echo", "{\"text\":\"early\"}", NULL, &r, NULL);
  assert_true(wait_state(&x, "fix", MCP_FED_UP, 10000));
  WAIT_FOR(&x, r.done, 5000);
  assert_string_equal(result_text(&r), "early");
  res_free(&r);

  /* Listed through its cursor, pages of two. */
  s = mcp_fed_snapshot(x.fed);
  v = mcp_fed_find(s, "fix");
  assert_non_null(v);
  assert_int_equal(cJSON_GetArraySize(v->tools), 7);
  assert_string_equal(v->protocol_version, "2025-11-25");
  assert_string_equal(
      cJSON_GetObjectItemCaseSensitive(v->server_info, "name")->valuestring,
      "fed-fixture");
  assert_string_equal(v->instructions, "a fixture");
  assert_int_equal(cJSON_GetArraySize(v->prompts), 0);
  assert_true(v->up_since_ms > 0);
  mcp_fed_snap_release(s);
  WAIT_FOR(&x, x.tools_changed >= 1, 2000);
  assert_true(x.tools_changed >= 1); /* told when it came up */

  /* A call, its result with the id left for the caller. */
  call(&x, "fix", "echo", "{\"text\":\"hello\"}", NULL, &r, NULL);
  assert_int_equal(r.done, 0); /* never from inside mcp_fed_call */
  WAIT_FOR(&x, r.done, 5000);
  assert_int_equal(r.done, 1);
  assert_non_null(r.resp);
  assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r.resp, "id")));
  assert_string_equal(result_text(&r), "hello");
  res_free(&r);

  /* Progress with the caller's token. */
  call(&x, "fix", "progress", "{\"steps\":3}", "my-token", &r, NULL);
  WAIT_FOR(&x, r.done, 5000);
  assert_int_equal(r.nprogress, 3);
  assert_true(r.token_ok);
  assert_string_equal(result_text(&r), "done 3");
  res_free(&r);

  /* A server request tied to the call, answered through the federation. */
  r.answer = 1;
  call(&x, "fix", "ask", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 5000);
  assert_non_null(r.request);
  assert_string_equal(
      cJSON_GetObjectItemCaseSensitive(r.request, "method")->valuestring,
      "sampling/createMessage");
  assert_memory_equal(
      cJSON_GetObjectItemCaseSensitive(r.request, "id")->valuestring, "fed-",
      4);
  assert_string_equal(result_text(&r), "answer: forty-two");
  res_free(&r);

  /* No answer for timeout_s: cancelled upstream, timed_out. */
  call(&x, "fix", "hang", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 4000);
  assert_int_equal(r.done, 1);
  assert_null(r.resp);
  assert_int_equal(r.timed_out, 1);
  assert_non_null(strstr(r.why, "no answer"));
  res_free(&r);

  /* Cancelled by the caller: no callback, the server hears it. */
  call(&x, "fix", "hang", NULL, NULL, &r, &hc);
  spin(&x, 100);
  mcp_fed_cancel(hc, "changed my mind");
  spin(&x, 1500);
  assert_int_equal(r.done, 0);
  res_free(&r);
  call(&x, "fix", "cancelled", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 5000);
  /* Both hangs (the timed-out one and the cancelled one). */
  {
    cJSON *ids = cJSON_Parse(result_text(&r));
    assert_int_equal(cJSON_GetArraySize(ids), 2);
    cJSON_Delete(ids);
  }
  res_free(&r);

  /* list_changed: listed again, then every port is told. */
  x.tools_changed = 0;
  call(&x, "fix", "change", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, x.tools_changed > 0, 5000);
  assert_true(x.tools_changed > 0);
  assert_true(has_tool(&x, "fix", "added"));
  res_free(&r);

  /* Unknown server: an answer on the next loop turn. */
  call(&x, "nope", "echo", NULL, NULL, &r, NULL);
  assert_int_equal(r.done, 0);
  WAIT_FOR(&x, r.done, 2000);
  assert_null(r.resp);
  assert_non_null(strstr(r.why, "unknown MCP server nope"));
  res_free(&r);

  /* The same definition again: left alone. */
  assert_int_equal(mcp_fed_set_servers(x.fed, &d, 1), 0);
  spin(&x, 300);
  assert_int_equal(state_of(&x, "fix", &restarts, NULL, 0), MCP_FED_UP);
  assert_int_equal(restarts, 0);

  /* A crash: the call fails with a reason, the server comes back. */
  call(&x, "fix", "crash", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 5000);
  assert_null(r.resp);
  assert_non_null(strstr(r.why, "exited with status 3"));
  assert_int_equal(state_of(&x, "fix", NULL, err, sizeof(err)) == MCP_FED_UP,
                   0);
  assert_true(wait_state(&x, "fix", MCP_FED_UP, 10000));
  state_of(&x, "fix", &restarts, NULL, 0);
  assert_int_equal(restarts, 1);
  assert_false(has_tool(&x, "fix", "added")); /* a fresh process */
  res_free(&r);

  /* Disabled: shown as such, calls refused. */
  d.enabled = 0;
  assert_int_equal(mcp_fed_set_servers(x.fed, &d, 1), 0);
  assert_true(wait_state(&x, "fix", MCP_FED_DISABLED, 5000));
  call(&x, "fix", "echo", "{\"text\":\"x\"}", NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 2000);
  assert_null(r.resp);
  assert_non_null(strstr(r.why, "disabled"));
  res_free(&r);

  free(d.args);
  ctx_close(&x);
}

/* ---- the real servers on stdio ---- */

/* Kill the process whose command line holds marker. */
static int kill_marked(const char *marker)
{
  DIR *d = opendir("/proc");
  struct dirent *e;
  int killed = 0;

  while(d && (e = readdir(d))) {
    char path[300], cmd[4096];
    FILE *f;
    size_t n;
    if(e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
    if(!(f = fopen(path, "r")))
      continue;
    n = fread(cmd, 1, sizeof(cmd) - 1, f);
    fclose(f);
    for(size_t i = 0; i < n; i++)
      if(!cmd[i])
        cmd[i] = ' ';
    cmd[n] = '\0';
    if(strstr(cmd, marker) && kill(atoi(e->d_name), SIGKILL) == 0)
      killed++;
  }
  if(d)
    closedir(d);
  return killed;
}

static void test_everything_stdio(void **state)
{
  struct ctx x;
  struct config_mcp_server d[2];
  struct res r = {0};
  struct mcp_fed_call *hc;
  char marker[64], memfile[128];
  struct config_kv env;
  int64_t restarts = 0;

  (void)state;
  if(!have_node())
    return;
  snprintf(marker, sizeof(marker), "fed-test-%d", (int)getpid());
  snprintf(memfile, sizeof(memfile), "/tmp/fed-memory-%d.jsonl", (int)getpid());
  ctx_open(&x);
  def_stdio(&d[0], "everything", everything, "stdio", marker, NULL);
  def_stdio(&d[1], "memory", memory, NULL);
  env.name = "MEMORY_FILE_PATH";
  env.value = memfile;
  d[1].env = &env;
  d[1].nenv = 1;
  assert_int_equal(mcp_fed_set_servers(x.fed, d, 2), 0);
  assert_true(wait_state(&x, "everything", MCP_FED_UP, 20000));
  assert_true(wait_state(&x, "memory", MCP_FED_UP, 20000));
  assert_true(has_tool(&x, "everything", "echo"));
  assert_true(has_tool(&x, "everything", "get-sum"));
  assert_true(has_tool(&x, "everything", "trigger-long-running-operation"));
  assert_true(has_tool(&x, "memory", "read_graph"));
  {
    const struct mcp_fed_snap *s = mcp_fed_snapshot(x.fed);
    const struct mcp_fed_server *v = mcp_fed_find(s, "everything");
    assert_true(cJSON_GetArraySize(v->resources) > 0);
    assert_true(cJSON_GetArraySize(v->prompts) > 0);
    assert_true(cJSON_GetArraySize(v->templates) > 0);
    assert_string_equal(s->servers[0].name, "everything"); /* sorted */
    mcp_fed_snap_release(s);
  }

  call(&x, "everything", "get-sum", "{\"a\":2,\"b\":3}", NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_string_equal(result_text(&r), "The sum of 2 and 3 is 5.");
  res_free(&r);

  call(&x, "memory", "read_graph", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_non_null(cJSON_GetObjectItemCaseSensitive(r.resp, "result"));
  res_free(&r);

  call(&x, "everything", "trigger-long-running-operation",
       "{\"duration\":1,\"steps\":3}", "my-token", &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_int_equal(r.nprogress, 3);
  assert_true(r.token_ok);
  assert_non_null(strstr(result_text(&r), "Long running operation completed"));
  res_free(&r);

  /* Cancelled: no callback afterwards, and the server lives on. */
  call(&x, "everything", "trigger-long-running-operation",
       "{\"duration\":2,\"steps\":4}", "my-token", &r, &hc);
  WAIT_FOR(&x, r.nprogress > 0, 5000);
  mcp_fed_cancel(hc, "enough");
  spin(&x, 2500);
  assert_int_equal(r.done, 0);
  res_free(&r);

  /* Killed: restarted, up again. */
  assert_true(kill_marked(marker) > 0);
  WAIT_FOR(&x, state_of(&x, "everything", NULL, NULL, 0) != MCP_FED_UP, 5000);
  assert_true(wait_state(&x, "everything", MCP_FED_UP, 20000));
  state_of(&x, "everything", &restarts, NULL, 0);
  assert_int_equal(restarts, 1);
  call(&x, "everything", "echo", "{\"message\":\"back\"}", NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_non_null(strstr(result_text(&r), "back"));
  res_free(&r);

  free(d[0].args);
  free(d[1].args);
  ctx_close(&x);
  unlink(memfile);
}

/* ---- Streamable HTTP ---- */

static int free_port(void)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static int port_open(int port)
{
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

/* node script arg on port (in $PORT; arg NULL: the port itself), its
 * stdout in /tmp/fed-http-<port>.log; returns once it listens. */
static pid_t start_http(int port, const char *script, const char *arg)
{
  pid_t pid = fork();

  if(pid == 0) {
    char p[16], log[64];
    int devnull = open("/dev/null", O_WRONLY), out;
    snprintf(p, sizeof(p), "%d", port);
    snprintf(log, sizeof(log), "/tmp/fed-http-%d.log", port);
    out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    setenv("PORT", p, 1);
    dup2(out, 1);
    dup2(devnull, 2);
    execl(node, node, script, arg ? arg : p, (char *)NULL);
    _exit(127);
  }
  for(int i = 0; i < 400 && !port_open(port); i++)
    usleep(25000);
  return pid;
}

/* start_http() on a free port; url (100 bytes) receives the endpoint. */
static int serve(const char *script, const char *arg, char *url, pid_t *pid)
{
  int port = free_port();

  *pid = start_http(port, script, arg);
  assert_true(port_open(port));
  snprintf(url, 100, "http://127.0.0.1:%d/mcp", port);
  return port;
}

static void stop_http(pid_t pid)
{
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static void def_http(struct config_mcp_server *d, const char *name, char *url)
{
  memset(d, 0, sizeof(*d));
  d->name = (char *)name;
  d->transport = CONFIG_MCP_HTTP;
  d->url = url;
  d->timeout_s = 60;
  d->enabled = 1;
}

static void test_everything_http(void **state)
{
  struct ctx x;
  struct config_mcp_server d[2];
  struct res r = {0};
  struct mcp_fed_call *hc;
  char url[100];
  int port;
  pid_t pid;

  (void)state;
  if(!have_node())
    return;
  port = serve(everything, "streamableHttp", url, &pid);
  ctx_open(&x);
  def_http(&d[0], "web", url);
  def_http(&d[1], "capped", url);
  d[1].call_timeout_s = 1;
  assert_int_equal(mcp_fed_set_servers(x.fed, d, 2), 0);
  assert_true(wait_state(&x, "web", MCP_FED_UP, 20000));
  assert_true(wait_state(&x, "capped", MCP_FED_UP, 20000));
  assert_true(has_tool(&x, "web", "get-sum"));
  assert_true(has_tool(&x, "web", "trigger-long-running-operation"));

  call(&x, "web", "get-sum", "{\"a\":20,\"b\":22}", NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_string_equal(result_text(&r), "The sum of 20 and 22 is 42.");
  res_free(&r);

  /* Progress on the call's SSE stream, with the caller's token. */
  call(&x, "web", "trigger-long-running-operation",
       "{\"duration\":1,\"steps\":3}", "my-token", &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_int_equal(r.nprogress, 3);
  assert_true(r.token_ok);
  assert_non_null(strstr(result_text(&r), "Long running operation completed"));
  res_free(&r);

  /* Sampling relayed from the call's stream and answered. */
  r.answer = 1;
  call(&x, "web", "trigger-sampling-request", "{\"prompt\":\"hi\"}", NULL, &r,
       NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_non_null(r.request);
  assert_non_null(strstr(result_text(&r), "forty-two"));
  res_free(&r);

  call(&x, "web", "trigger-long-running-operation",
       "{\"duration\":2,\"steps\":4}", "my-token", &r, &hc);
  WAIT_FOR(&x, r.nprogress > 0, 5000);
  mcp_fed_cancel(hc, "enough");
  spin(&x, 2500);
  assert_int_equal(r.done, 0);
  res_free(&r);

  /* call_timeout_s caps a call even while it makes progress. */
  call(&x, "capped", "trigger-long-running-operation",
       "{\"duration\":3,\"steps\":6}", "my-token", &r, NULL);
  WAIT_FOR(&x, r.done, 5000);
  assert_int_equal(r.done, 1);
  assert_true(r.nprogress >= 1);
  assert_int_equal(r.timed_out, 1);
  assert_non_null(strstr(r.why, "call_timeout_s"));
  res_free(&r);

  /* The server restarts and forgets the session: the next call is
   * re-initialized and resent, unseen. */
  stop_http(pid);
  pid = start_http(port, everything, "streamableHttp");
  call(&x, "web", "get-sum", "{\"a\":1,\"b\":1}", NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 10000);
  assert_string_equal(result_text(&r), "The sum of 1 and 1 is 2.");
  res_free(&r);

  ctx_close(&x);
  /* Each session was ended with a DELETE. */
  {
    char log[64], text[65536];
    FILE *f;
    size_t n;
    snprintf(log, sizeof(log), "/tmp/fed-http-%d.log", port);
    f = fopen(log, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(log);
    assert_non_null(strstr(text, "Received session termination request"));
  }
  stop_http(pid);
}

/* SEP-1699: the fixture's test_reconnection closes the call's SSE stream
 * after its priming event (retry: 500) and answers on the stream resumed
 * by a GET with Last-Event-ID. */
static void test_http_resume(void **state)
{
  struct res r[2] = {{0}, {0}};
  struct mcp_fed_call *hc;
  struct config_mcp_server d;
  struct ctx x;
  char url[100], log[64];
  pid_t pid;
  int port;

  (void)state;
  if(!have_node())
    return;
  port = serve(http_fixture, NULL, url, &pid);
  ctx_open(&x);
  def_http(&d, "fx", url);
  assert_int_equal(mcp_fed_set_servers(x.fed, &d, 1), 0);
  assert_true(wait_state(&x, "fx", MCP_FED_UP, 20000));
  assert_true(has_tool(&x, "fx", "test_reconnection"));

  call(&x, "fx", "test_reconnection", NULL, NULL, &r[0], NULL);
  WAIT_FOR(&x, r[0].done, 10000);
  assert_int_equal(r[0].done, 1);
  assert_string_equal(r[0].why, "");
  assert_string_equal(result_text(&r[0]),
                      "Reconnection test completed successfully");
  res_free(&r[0]);

  /* Two at once: each resumes its own stream, next to the standalone
   * one. */
  call(&x, "fx", "test_reconnection", NULL, NULL, &r[0], NULL);
  call(&x, "fx", "test_reconnection", NULL, NULL, &r[1], NULL);
  WAIT_FOR(&x, r[0].done && r[1].done, 10000);
  for(int i = 0; i < 2; i++) {
    assert_int_equal(r[i].done, 1);
    assert_string_equal(result_text(&r[i]),
                        "Reconnection test completed successfully");
    res_free(&r[i]);
  }

  /* Cancelled while it waits to resume: nothing more arrives, and the
   * session goes on. */
  call(&x, "fx", "test_reconnection", NULL, NULL, &r[0], &hc);
  spin(&x, 200);
  mcp_fed_cancel(hc, "enough");
  spin(&x, 1000);
  assert_int_equal(r[0].done, 0);
  res_free(&r[0]);
  call(&x, "fx", "echo", "{\"text\":\"still here\"}", NULL, &r[0], NULL);
  WAIT_FOR(&x, r[0].done, 10000);
  assert_string_equal(result_text(&r[0]), "still here");
  res_free(&r[0]);

  /* Removed while a call waits to resume: the call ends with a reason
   * and the transport frees the waiting stream. */
  call(&x, "fx", "test_reconnection", NULL, NULL, &r[0], NULL);
  spin(&x, 200);
  assert_int_equal(mcp_fed_set_servers(x.fed, NULL, 0), 0);
  WAIT_FOR(&x, r[0].done, 5000);
  assert_int_equal(r[0].done, 1);
  assert_null(r[0].resp);
  assert_true(r[0].why[0] != '\0');
  res_free(&r[0]);
  ctx_close(&x);
  stop_http(pid);
  snprintf(log, sizeof(log), "/tmp/fed-http-%d.log", port);
  unlink(log);
}

static void test_http_unreachable(void **state)
{
  struct ctx x;
  struct config_mcp_server d[4];
  struct res r = {0};
  char url[100], err[300];
  struct config_kv h = {"Authorization", "Bearer ${SB_FED_TEST_NOT_ALLOWED}"};

  (void)state;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/mcp", free_port());
  ctx_open(&x);
  def_http(&d[0], "gone", url);
  def_http(&d[1], "meta", "http://169.254.169.254/mcp");
  def_http(&d[2], "cred", url);
  d[2].headers = &h;
  d[2].nheaders = 1;
  memset(&d[3], 0, sizeof(d[3]));
  d[3].name = "nocmd";
  d[3].transport = CONFIG_MCP_STDIO;
  d[3].command = "/nonexistent/fed-test-command";
  d[3].enabled = 1;
  assert_int_equal(mcp_fed_set_servers(x.fed, d, 4), 0);
  assert_true(wait_state(&x, "nocmd", MCP_FED_DOWN, 5000));
  state_of(&x, "nocmd", NULL, err, sizeof(err));
  assert_non_null(strstr(err, "could not start"));
  state_of(&x, "cred", NULL, err, sizeof(err));
  assert_non_null(strstr(err, "SB_FED_TEST_NOT_ALLOWED"));
  assert_true(wait_state(&x, "gone", MCP_FED_DOWN, 5000));
  state_of(&x, "gone", NULL, err, sizeof(err));
  assert_true(err[0] != '\0');
  state_of(&x, "meta", NULL, err, sizeof(err));
  assert_non_null(strstr(err, "link-local"));
  call(&x, "gone", "echo", NULL, NULL, &r, NULL);
  WAIT_FOR(&x, r.done, 1000);
  assert_int_equal(r.done, 1);
  assert_null(r.resp);
  assert_non_null(strstr(r.why, "unavailable"));
  res_free(&r);
  ctx_close(&x);
}

static void find_node(void)
{
  const char *path = getenv("PATH");
  char *copy = sb_strdup(path ? path : "/usr/bin:/bin");

  for(char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
    char p[1024];
    snprintf(p, sizeof(p), "%s/node", dir);
    if(access(p, X_OK) == 0) {
      snprintf(node, sizeof(node), "%s", p);
      break;
    }
  }
  free(copy);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_http_unreachable),
      cmocka_unit_test(test_everything_stdio),
      cmocka_unit_test(test_everything_http),
      cmocka_unit_test(test_http_resume),
  };
  static char *cred[] = {"SWITCHBOARD_CRED_*"};
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/unit/test_fed.c");
  const char *mods = "tests/e2e/node_modules/@modelcontextprotocol";

  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  snprintf(root, sizeof(root), "%.*s", cut ? (int)(cut - f) : 0, f);
  snprintf(fixture, sizeof(fixture), "%stests/fixtures/fed_stdio.mjs", root);
  snprintf(http_fixture, sizeof(http_fixture),
           "%stests/fixtures/mcp_fixture.mjs", root);
  snprintf(everything, sizeof(everything),
           "%s%s/server-everything/dist/index.js", root, mods);
  snprintf(memory, sizeof(memory), "%s%s/server-memory/dist/index.js", root,
           mods);
  sec.credential_env = cred;
  sec.ncredential_env = 1;
  find_node();
  return cmocka_run_group_tests(tests, NULL, NULL);
}
