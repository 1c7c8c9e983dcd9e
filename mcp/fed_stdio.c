/*
 * fed_stdio.c - the stdio transport: the server is a child process
 * speaking newline-delimited JSON-RPC on its stdin and stdout; its stderr
 * goes to the gateway's log, line by line.
 *
 * The child gets a clean environment: PATH, HOME, LANG and TMPDIR from
 * the gateway's, then the definition's env with "${VAR}" expanded. It is
 * stopped by closing its stdin, then SIGTERM, then SIGKILL, two seconds
 * apart. The transport frees itself once the child has exited and every
 * handle is closed.
 */
#include "mcp/fed_int.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRACE_MS       2000
#define STDERR_LINE    2048 /* longer stderr lines are cut in the log */
#define STDIO_READ_BUF 65536

struct mcp_fed_tr {
  struct mcp_fed *f;
  struct mcp_fed_conn *c; /* NULL once closed */
  char *name;             /* the server's, for the log */
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t kill;
  int nhandles;  /* open handles of the above */
  int spawned;   /* the child runs */
  int proc_init; /* the process handle is initialized (also after a
                  * failed uv_spawn, on Unix) */
  int exited;
  int stage;        /* 0: running; 1: stdin closed; 2: SIGTERM; 3: SIGKILL */
  struct buf line;  /* stdout: the partial line */
  struct buf eline; /* stderr: the partial line */
  int eskip;        /* the stderr line was too long: drop to its end */
  char rbuf[STDIO_READ_BUF];
  char ebuf[4096];
};

struct stdio_write {
  uv_write_t req;
  char *data;
};

static void on_closed(uv_handle_t *h)
{
  struct mcp_fed_tr *t = h->data;
  struct mcp_fed *f = t->f;

  if(--t->nhandles > 0)
    return;
  buf_free(&t->line);
  buf_free(&t->eline);
  free(t->name);
  free(t);
  mcp_fed_live_put(f);
}

static void close_handle(struct mcp_fed_tr *t, uv_handle_t *h)
{
  if(!uv_is_closing(h))
    uv_close(h, on_closed);
}

static void close_all(struct mcp_fed_tr *t)
{
  uv_timer_stop(&t->kill);
  close_handle(t, (uv_handle_t *)&t->in);
  close_handle(t, (uv_handle_t *)&t->out);
  close_handle(t, (uv_handle_t *)&t->err);
  close_handle(t, (uv_handle_t *)&t->kill);
  if(t->proc_init)
    close_handle(t, (uv_handle_t *)&t->proc);
}

static void log_stderr(struct mcp_fed_tr *t, const char *p, size_t n,
                       int truncated)
{
  while(n && (p[n - 1] == '\r'))
    n--;
  if(!n)
    return;
  log_event(LOG_INFO, "mcp server stderr", LOG_S("server", t->name),
            LOG_SN("line", p, n), LOG_B("truncated", truncated), LOG_END);
}

static void on_err_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  struct mcp_fed_tr *t = s->data;
  const char *p = b->base, *end = b->base + (nread > 0 ? nread : 0);

  if(nread < 0) {
    if(t->eline.len)
      log_stderr(t, t->eline.data, t->eline.len, 0);
    buf_reset(&t->eline);
    uv_read_stop(s);
    return;
  }
  while(p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    if(t->eskip) {
      /* the rest of a line already logged as truncated */
    } else if(buf_append(&t->eline, p, n)) {
      size_t room = t->eline.max - t->eline.len;
      buf_append(&t->eline, p, room);
      log_stderr(t, t->eline.data, t->eline.len, 1);
      buf_reset(&t->eline);
      t->eskip = 1;
    }
    if(!nl)
      break;
    if(!t->eskip)
      log_stderr(t, t->eline.data ? t->eline.data : "", t->eline.len, 0);
    buf_reset(&t->eline);
    t->eskip = 0;
    p = nl + 1;
  }
}

static void on_out_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  struct mcp_fed_tr *t = s->data;
  size_t from;

  if(nread < 0) {
    /* The exit callback says what happened. */
    uv_read_stop(s);
    return;
  }
  if(!t->c || nread == 0)
    return;
  from = t->line.len;
  if(buf_append(&t->line, b->base, (size_t)nread)) {
    struct mcp_fed_conn *c = t->c;
    buf_reset(&t->line);
    mcp_fed_conn_lost(c, "a message from the server exceeds 16 MiB");
    return;
  }
  for(;;) {
    char *nl = memchr(t->line.data + from, '\n', t->line.len - from);
    size_t n;
    if(!nl)
      break;
    n = (size_t)(nl - t->line.data);
    while(n && (t->line.data[n - 1] == '\r' || t->line.data[n - 1] == ' '))
      n--;
    if(n)
      mcp_fed_conn_input(t->c, 0, t->line.data, n);
    if(!t->c) {
      /* The session closed us while handling the line. */
      buf_reset(&t->line);
      return;
    }
    buf_consume(&t->line, (size_t)(nl - t->line.data) + 1);
    from = 0;
  }
}

static void alloc_out(uv_handle_t *h, size_t size, uv_buf_t *b)
{
  struct mcp_fed_tr *t = h->data;

  *b = uv_buf_init(t->rbuf, sizeof(t->rbuf));
}

static void alloc_err(uv_handle_t *h, size_t size, uv_buf_t *b)
{
  struct mcp_fed_tr *t = h->data;

  *b = uv_buf_init(t->ebuf, sizeof(t->ebuf));
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
  struct mcp_fed_tr *t = p->data;
  struct mcp_fed_conn *c = t->c;
  char why[120];

  t->exited = 1;
  if(sig)
    snprintf(why, sizeof(why), "the process was killed by signal %d", sig);
  else
    snprintf(why, sizeof(why), "the process exited with status %lld",
             (long long)status);
  if(c) {
    log_event(LOG_WARN, "mcp server process exited", LOG_S("server", t->name),
              LOG_I("status", status), LOG_I("signal", sig), LOG_END);
    mcp_fed_conn_lost(c, why); /* closes t */
    return;
  }
  close_all(t);
}

static void on_kill_timer(uv_timer_t *tm)
{
  struct mcp_fed_tr *t = tm->data;

  if(t->exited)
    return;
  t->stage++;
  uv_process_kill(&t->proc, t->stage == 2 ? SIGTERM : SIGKILL);
  if(t->stage == 2)
    uv_timer_start(&t->kill, on_kill_timer, GRACE_MS, 0);
  if(t->stage == 3)
    log_event(LOG_WARN, "mcp server process killed", LOG_S("server", t->name),
              LOG_END);
}

static void stdio_close(struct mcp_fed_tr *t)
{
  t->c = NULL;
  if(!t->spawned || t->exited) {
    close_all(t);
    return;
  }
  uv_read_stop((uv_stream_t *)&t->out);
  /* EOF on its stdin: a well-behaved server exits by itself. */
  close_handle(t, (uv_handle_t *)&t->in);
  t->stage = 1;
  uv_timer_start(&t->kill, on_kill_timer, GRACE_MS, 0);
}

static void add_env(char ***env, int *n, const char *name, const char *value)
{
  *env = sb_realloc(*env, sizeof(char *) * (size_t)(*n + 2));
  (*env)[(*n)++] = sb_asprintf("%s=%s", name, value);
  (*env)[*n] = NULL;
}

static void free_strv(char **v)
{
  for(int i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static int stdio_open(struct mcp_fed_conn *c, struct mcp_fed_tr **out,
                      char *err, size_t errlen)
{
  static const char *const inherited[] = {"PATH", "HOME", "LANG", "TMPDIR"};
  const struct config_mcp_server *d = &c->def;
  struct mcp_fed_tr *t;
  uv_process_options_t o;
  uv_stdio_container_t io[3];
  char **env = NULL, **args;
  int nenv = 0, rc;

  for(size_t i = 0; i < SB_ARRAY_LEN(inherited); i++) {
    const char *v = getenv(inherited[i]);
    if(v)
      add_env(&env, &nenv, inherited[i], v);
  }
  for(int i = 0; i < d->nenv; i++) {
    char what[160], *v;
    snprintf(what, sizeof(what), "env %s", d->env[i].name);
    v = mcp_fed_def_expand(d, what, d->env[i].value, err, errlen);
    if(!v) {
      free_strv(env);
      return SB_ECONFIG;
    }
    add_env(&env, &nenv, d->env[i].name, v);
    free(v);
  }
  args = sb_calloc((size_t)d->nargs + 2, sizeof(char *));
  args[0] = d->command;
  for(int i = 0; i < d->nargs; i++)
    args[i + 1] = d->args[i];

  t = sb_calloc(1, sizeof(*t));
  t->f = c->f;
  t->c = c;
  t->name = sb_strdup(d->name);
  buf_init(&t->line, MCP_FED_MAX_MSG);
  buf_init(&t->eline, STDERR_LINE);
  uv_pipe_init(&c->f->loop, &t->in, 0);
  uv_pipe_init(&c->f->loop, &t->out, 0);
  uv_pipe_init(&c->f->loop, &t->err, 0);
  uv_timer_init(&c->f->loop, &t->kill);
  t->in.data = t->out.data = t->err.data = t->kill.data = t->proc.data = t;
  t->nhandles = 4;
  c->f->nlive++;

  memset(&o, 0, sizeof(o));
  io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  io[0].data.stream = (uv_stream_t *)&t->in;
  io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[1].data.stream = (uv_stream_t *)&t->out;
  io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  io[2].data.stream = (uv_stream_t *)&t->err;
  o.file = d->command;
  o.args = args;
  o.env = env;
  o.cwd = d->cwd;
  o.stdio = io;
  o.stdio_count = 3;
  o.exit_cb = on_child_exit;
  rc = uv_spawn(&c->f->loop, &t->proc, &o);
  free(args);
  free_strv(env);
  /* libuv initializes the handle even when the spawn fails: it is closed
   * like the others either way. */
  t->proc_init = 1;
  t->nhandles++;
  if(rc) {
    sb_errf(err, errlen, "could not start %s: %s", d->command, uv_strerror(rc));
    t->c = NULL;
    close_all(t);
    return SB_EIO;
  }
  t->spawned = 1;
  uv_read_start((uv_stream_t *)&t->out, alloc_out, on_out_read);
  uv_read_start((uv_stream_t *)&t->err, alloc_err, on_err_read);
  log_event(LOG_INFO, "mcp server process started", LOG_S("server", d->name),
            LOG_I("pid", t->proc.pid), LOG_END);
  *out = t;
  return 0;
}

static void on_written(uv_write_t *req, int status)
{
  struct stdio_write *w = (struct stdio_write *)req;

  free(w->data);
  free(w);
}

static int stdio_send(struct mcp_fed_tr *t, const cJSON *msg, int64_t req_id)
{
  struct stdio_write *w;
  char *txt;
  size_t n;
  uv_buf_t b;

  if(t->stage || t->exited || uv_is_closing((uv_handle_t *)&t->in))
    return SB_EIO;
  txt = cJSON_PrintUnformatted(msg);
  if(!txt)
    return SB_EIO;
  n = strlen(txt);
  w = sb_calloc(1, sizeof(*w));
  w->data = sb_realloc(txt, n + 2);
  w->data[n] = '\n';
  w->data[n + 1] = '\0';
  b = uv_buf_init(w->data, (unsigned)(n + 1));
  if(uv_write(&w->req, (uv_stream_t *)&t->in, &b, 1, on_written)) {
    free(w->data);
    free(w);
    return SB_EIO;
  }
  return 0;
}

static void stdio_ready(struct mcp_fed_tr *t)
{
}

static void stdio_forget(struct mcp_fed_tr *t, int64_t req_id)
{
}

const struct mcp_fed_tr_ops mcp_fed_stdio_ops = {
    stdio_open, stdio_send, stdio_ready, stdio_forget, stdio_close,
};
