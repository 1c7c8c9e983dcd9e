#include "gateway/metrics.h"
#include "base/buf.h"
#include "base/sb.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest label value kept, in bytes. */
#define LABEL_MAX 128

/* Folded ("other") label sets allowed beyond METRICS_MAX_SERIES. */
#define FOLD_RESERVE 256

/* Hash chains per metric (a power of two). */
#define NHASH 1024

#define MAX_LABELS 3

static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                 2.5,   5,    10,    20,   30,  60,   120};
#define NBUCKETS SB_ARRAY_LEN(BUCKETS)

struct series {
  char *labels[MAX_LABELS];
  uint64_t count;      /* counter value, or number of observations */
  double sum;          /* histograms: sum of observations */
  uint64_t *buckets;   /* histograms: per-bucket counts, not cumulative; the
                          last one is above the largest bound */
  struct series *next; /* hash chain */
};

/* What a metric is; fixed at compile time. */
struct family_def {
  const char *name;
  const char *help;
  const char *label_names[MAX_LABELS];
  int nlabels;
  int histogram;
  int fold_label; /* the label replaced by "other" when full */
};

/* A metric and its label sets. */
struct family {
  const struct family_def *def;
  int nlabels;
  struct series **items; /* in order of creation, for rendering */
  size_t n, alloc;
  struct series *hash[NHASH];
};

enum {
  F_REQUESTS,
  F_DURATION,
  F_TTFB,
  F_UPSTREAM_ERRORS,
  F_MCP_CALLS,
  F_MCP_SKIPPED,
  F_COUNT
};

static const struct family_def DEFS[F_COUNT] = {
    [F_REQUESTS] =
        {
            .name = "switchboard_requests_total",
            .help = "Requests answered, by endpoint, provider and HTTP "
                    "status.",
            .label_names = {"endpoint", "provider", "status"},
            .nlabels = 3,
            .fold_label = 1,
        },
    [F_DURATION] =
        {
            .name = "switchboard_request_duration_seconds",
            .help = "Time from request received to response finished.",
            .label_names = {"endpoint"},
            .nlabels = 1,
            .histogram = 1,
        },
    [F_TTFB] =
        {
            .name = "switchboard_ttfb_seconds",
            .help = "Time from request received to the first response byte.",
            .label_names = {"endpoint"},
            .nlabels = 1,
            .histogram = 1,
        },
    [F_UPSTREAM_ERRORS] =
        {
            .name = "switchboard_upstream_errors_total",
            .help = "Failed upstream exchanges, by provider and reason.",
            .label_names = {"provider", "reason"},
            .nlabels = 2,
        },
    [F_MCP_CALLS] =
        {
            .name = "switchboard_mcp_tool_calls_total",
            .help = "MCP tool calls, by server (\"gateway\" for the "
                    "gateway's own tools) and outcome.",
            .label_names = {"server", "outcome"},
            .nlabels = 2,
        },
    [F_MCP_SKIPPED] =
        {
            .name = "switchboard_mcp_upstream_skipped_total",
            .help = "MCP lists answered without a server that was down.",
            .label_names = {"server"},
            .nlabels = 1,
        },
};

struct metrics {
  pthread_mutex_t lock;
  struct family fam[F_COUNT];
  atomic_long streams;
  atomic_long mcp_sessions, mcp_servers_up;
};

struct metrics *metrics_new(void)
{
  struct metrics *m = sb_calloc(1, sizeof(*m));
  int i;

  pthread_mutex_init(&m->lock, NULL);
  for(i = 0; i < F_COUNT; i++) {
    m->fam[i].def = &DEFS[i];
    m->fam[i].nlabels = DEFS[i].nlabels;
  }
  atomic_init(&m->streams, 0);
  atomic_init(&m->mcp_sessions, 0);
  atomic_init(&m->mcp_servers_up, 0);
  return m;
}

void metrics_free(struct metrics *m)
{
  int i, j;
  size_t k;

  if(!m)
    return;
  for(i = 0; i < F_COUNT; i++) {
    struct family *f = &m->fam[i];
    for(k = 0; k < f->n; k++) {
      for(j = 0; j < MAX_LABELS; j++)
        free(f->items[k]->labels[j]);
      free(f->items[k]->buckets);
      free(f->items[k]);
    }
    free(f->items);
  }
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* ---- label sets ------------------------------------------------------- */

static uint32_t hash_labels(const char *const *labels, int n)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  int i;

  for(i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)labels[i];
    while(*p) {
      h ^= *p++;
      h *= 16777619u;
    }
    h ^= 0xff; /* separator */
    h *= 16777619u;
  }
  return h;
}

static struct series *find(struct family *f, const char *const *labels,
                           uint32_t h)
{
  struct series *s;
  int i;

  for(s = f->hash[h & (NHASH - 1)]; s; s = s->next) {
    for(i = 0; i < f->nlabels; i++)
      if(strcmp(s->labels[i], labels[i]))
        break;
    if(i == f->nlabels)
      return s;
  }
  return NULL;
}

static struct series *add(struct family *f, const char *const *labels,
                          uint32_t h)
{
  struct series *s = sb_calloc(1, sizeof(*s));
  int i;

  for(i = 0; i < f->nlabels; i++)
    s->labels[i] = sb_strdup(labels[i]);
  if(f->def->histogram)
    s->buckets = sb_calloc(NBUCKETS + 1, sizeof(uint64_t));
  s->next = f->hash[h & (NHASH - 1)];
  f->hash[h & (NHASH - 1)] = s;
  if(f->n == f->alloc) {
    f->alloc = f->alloc ? f->alloc * 2 : 16;
    f->items = sb_realloc(f->items, f->alloc * sizeof(*f->items));
  }
  f->items[f->n++] = s;
  return s;
}

/* The series for labels (already cut to LABEL_MAX), folding into "other"
 * when the family is full. Called with the lock held. */
static struct series *lookup(struct family *f, const char **labels)
{
  uint32_t h = hash_labels(labels, f->nlabels);
  struct series *s = find(f, labels, h);
  int i;

  if(s)
    return s;
  if(f->n < METRICS_MAX_SERIES)
    return add(f, labels, h);
  labels[f->def->fold_label] = "other";
  h = hash_labels(labels, f->nlabels);
  s = find(f, labels, h);
  if(s)
    return s;
  if(f->n < METRICS_MAX_SERIES + FOLD_RESERVE)
    return add(f, labels, h);
  for(i = 0; i < f->nlabels; i++)
    labels[i] = "other";
  h = hash_labels(labels, f->nlabels);
  s = find(f, labels, h);
  return s ? s : add(f, labels, h);
}

/* Copy s (NULL: "") into out, cut to LABEL_MAX bytes. */
static const char *cut(char out[LABEL_MAX + 1], const char *s)
{
  snprintf(out, LABEL_MAX + 1, "%s", s ? s : "");
  return out;
}

static void observe(struct series *s, double v)
{
  size_t i;

  for(i = 0; i < NBUCKETS && v > BUCKETS[i]; i++)
    ;
  s->buckets[i]++;
  s->count++;
  s->sum += v;
}

/* ---- recording -------------------------------------------------------- */

void metrics_request(struct metrics *m, const char *endpoint,
                     const char *provider, int status, double duration_s,
                     double ttfb_s)
{
  char ep[LABEL_MAX + 1], pv[LABEL_MAX + 1], st[16];
  const char *labels[MAX_LABELS];

  cut(ep, endpoint);
  cut(pv, provider);
  snprintf(st, sizeof(st), "%d", status);

  pthread_mutex_lock(&m->lock);
  labels[0] = ep;
  labels[1] = pv;
  labels[2] = st;
  lookup(&m->fam[F_REQUESTS], labels)->count++;
  if(!isnan(duration_s)) {
    labels[0] = ep;
    observe(lookup(&m->fam[F_DURATION], labels),
            duration_s < 0 ? 0 : duration_s);
  }
  if(ttfb_s >= 0) {
    labels[0] = ep;
    observe(lookup(&m->fam[F_TTFB], labels), ttfb_s);
  }
  pthread_mutex_unlock(&m->lock);
}

void metrics_upstream_error(struct metrics *m, const char *provider,
                            const char *reason)
{
  char pv[LABEL_MAX + 1], rs[LABEL_MAX + 1];
  const char *labels[MAX_LABELS] = {cut(pv, provider), cut(rs, reason), NULL};

  pthread_mutex_lock(&m->lock);
  lookup(&m->fam[F_UPSTREAM_ERRORS], labels)->count++;
  pthread_mutex_unlock(&m->lock);
}

void metrics_mcp_call(struct metrics *m, const char *server,
                      const char *outcome)
{
  char sv[LABEL_MAX + 1], oc[LABEL_MAX + 1];
  const char *labels[MAX_LABELS] = {cut(sv, server), cut(oc, outcome), NULL};

  pthread_mutex_lock(&m->lock);
  lookup(&m->fam[F_MCP_CALLS], labels)->count++;
  pthread_mutex_unlock(&m->lock);
}

void metrics_mcp_skipped(struct metrics *m, const char *server)
{
  char sv[LABEL_MAX + 1];
  const char *labels[MAX_LABELS] = {cut(sv, server), NULL};

  pthread_mutex_lock(&m->lock);
  lookup(&m->fam[F_MCP_SKIPPED], labels)->count++;
  pthread_mutex_unlock(&m->lock);
}

void metrics_mcp_gauges(struct metrics *m, long sessions, long servers_up)
{
  atomic_store_explicit(&m->mcp_sessions, sessions, memory_order_relaxed);
  atomic_store_explicit(&m->mcp_servers_up, servers_up, memory_order_relaxed);
}

void metrics_stream_begin(struct metrics *m)
{
  atomic_fetch_add_explicit(&m->streams, 1, memory_order_relaxed);
}

void metrics_stream_end(struct metrics *m)
{
  atomic_fetch_sub_explicit(&m->streams, 1, memory_order_relaxed);
}

/* ---- rendering -------------------------------------------------------- */

/* Label value escaping of the text format: \\, \" and \n. */
static void put_label_value(struct buf *b, const char *v)
{
  const unsigned char *s = (const unsigned char *)v;
  size_t n = strlen(v);

  while(n) {
    size_t l = sb_utf8_len(s, n);
    if(!l) {
      buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
      l = 1;
    } else if(*s == '\\') {
      buf_append(b, "\\\\", 2);
    } else if(*s == '"') {
      buf_append(b, "\\\"", 2);
    } else if(*s == '\n') {
      buf_append(b, "\\n", 2);
    } else {
      buf_append(b, s, l);
    }
    s += l;
    n -= l;
  }
}

/* name{k="v",...,extra} with extra (e.g. le="0.5") appended if not NULL. */
static void put_series_name(struct buf *b, const struct family *f,
                            const char *suffix, const struct series *s,
                            const char *extra)
{
  int i;

  buf_printf(b, "%s%s", f->def->name, suffix);
  if(!f->nlabels && !extra)
    return;
  buf_append(b, "{", 1);
  for(i = 0; i < f->nlabels; i++) {
    buf_printf(b, "%s%s=\"", i ? "," : "", f->def->label_names[i]);
    put_label_value(b, s->labels[i]);
    buf_append(b, "\"", 1);
  }
  if(extra)
    buf_printf(b, "%s%s", f->nlabels ? "," : "", extra);
  buf_append(b, "}", 1);
}

static void put_double(struct buf *b, double v)
{
  if(isnan(v))
    buf_appendz(b, "NaN");
  else if(isinf(v))
    buf_appendz(b, v > 0 ? "+Inf" : "-Inf");
  else
    buf_printf(b, "%.15g", v);
}

static void render_family(struct buf *b, const struct family *f)
{
  const struct family_def *d = f->def;
  size_t k, i;

  buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
             d->histogram ? "histogram" : "counter");
  for(k = 0; k < f->n; k++) {
    const struct series *s = f->items[k];
    uint64_t cum = 0;
    char le[32];

    if(!d->histogram) {
      put_series_name(b, f, "", s, NULL);
      buf_printf(b, " %llu\n", (unsigned long long)s->count);
      continue;
    }
    for(i = 0; i < NBUCKETS; i++) {
      cum += s->buckets[i];
      snprintf(le, sizeof(le), "le=\"%g\"", BUCKETS[i]);
      put_series_name(b, f, "_bucket", s, le);
      buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    put_series_name(b, f, "_bucket", s, "le=\"+Inf\"");
    buf_printf(b, " %llu\n", (unsigned long long)s->count);
    put_series_name(b, f, "_sum", s, NULL);
    buf_append(b, " ", 1);
    put_double(b, s->sum);
    buf_append(b, "\n", 1);
    put_series_name(b, f, "_count", s, NULL);
    buf_printf(b, " %llu\n", (unsigned long long)s->count);
  }
}

char *metrics_render(struct metrics *m, uint64_t store_dropped)
{
  struct buf b;
  int i;

  /* Unbounded in practice: the content is bounded by the series caps. */
  buf_init(&b, SIZE_MAX / 2);
  pthread_mutex_lock(&m->lock);
  for(i = 0; i < F_COUNT; i++)
    render_family(&b, &m->fam[i]);
  pthread_mutex_unlock(&m->lock);
  buf_printf(&b,
             "# HELP switchboard_streams_in_flight Streaming responses in "
             "progress.\n"
             "# TYPE switchboard_streams_in_flight gauge\n"
             "switchboard_streams_in_flight %ld\n",
             atomic_load_explicit(&m->streams, memory_order_relaxed));
  buf_printf(&b,
             "# HELP switchboard_mcp_sessions MCP client sessions open.\n"
             "# TYPE switchboard_mcp_sessions gauge\n"
             "switchboard_mcp_sessions %ld\n"
             "# HELP switchboard_mcp_servers_up Federated MCP servers up.\n"
             "# TYPE switchboard_mcp_servers_up gauge\n"
             "switchboard_mcp_servers_up %ld\n",
             atomic_load_explicit(&m->mcp_sessions, memory_order_relaxed),
             atomic_load_explicit(&m->mcp_servers_up, memory_order_relaxed));
  buf_printf(&b,
             "# HELP switchboard_store_dropped_total Request records the "
             "store dropped (queue full or write failed).\n"
             "# TYPE switchboard_store_dropped_total counter\n"
             "switchboard_store_dropped_total %llu\n",
             (unsigned long long)store_dropped);
  return buf_take(&b, NULL);
}
