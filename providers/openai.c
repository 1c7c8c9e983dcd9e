#include "providers/openai.h"
#include "codec/oai_chat.h"
#include "providers/adapter.h"
#include "providers/gemini.h"
#include "codec/canon_doc.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/sb.h"
#include "base/sse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Headers every request to this upstream carries: credentials (the
 * gateway's or, with passthrough_auth, the client's), configured extras
 * and the client headers this provider forwards. */
static void add_headers(const struct prov *p, const struct prov_client *client,
                        struct prov_http *out)
{
  /* Azure takes its key as api-key, an Entra token as Authorization. */
  static const struct prov_cred openai = {"Authorization", 1, "Authorization"};
  static const struct prov_cred azure = {"api-key", 0, "Authorization"};

  /* curl would otherwise send Expect: 100-continue for large bodies. */
  prov_http_add_header(out, "Expect:");
  prov_http_add_common(out, p, client, p->azure ? &azure : &openai);
}

static void apply_request_quirks(const struct prov *p, cJSON *body);

/* word appears in s between quotes: as a key or a string value (or
 * inside a longer string, which only costs a slower path). */
static int has_quoted(const char *s, size_t n, const char *word)
{
  size_t wl = strlen(word);

  for(const char *q = s; (q = memmem(q, n - (size_t)(q - s), word, wl));
      q += wl)
    if(q > s && q[-1] == '"' && (size_t)(q + wl - s) < n && q[wl] == '"')
      return 1;
  return 0;
}

/* Provider state no OpenAI-compatible upstream can use (docs/
 * conversations.md "Provider state across switches"): reasoning_details
 * carry another provider's signed reasoning (codec/canon.h), refused by
 * the strict upstreams; Gemini's signatures leave the tool call ids. */
static void strip_provider_state(cJSON *body)
{
  cJSON *m, *tc;

  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(body, "messages"))
  {
    cJSON_DeleteItemFromObjectCaseSensitive(m, "reasoning_details");
    prov_short_gemini_id(m, "tool_call_id");
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
        prov_short_gemini_id(tc, "id");
  }
}

/* The URL of an endpoint ("chat/completions", "embeddings") for a
 * model. */
static char *endpoint_url(const struct prov *p, const char *upstream_model,
                          const char *endpoint)
{
  if(!p->azure)
    return sb_asprintf("%s/%s", p->base_url, endpoint);
  if(p->azure_api_version)
    /* Dated API: the deployment is in the path; the body's model is
     * ignored there. */
    return sb_asprintf("%s/openai/deployments/%s/%s?api-version=%s",
                       p->base_url, upstream_model, endpoint,
                       p->azure_api_version);
  return sb_asprintf("%s/openai/v1/%s", p->base_url, endpoint);
}

/* Where a chat request goes and the headers it carries. */
static void chat_target(const struct prov *p, const char *upstream_model,
                        int stream, const struct prov_client *client,
                        struct prov_http *out)
{
  out->url = endpoint_url(p, upstream_model, "chat/completions");
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: %s",
                       stream ? "text/event-stream" : "application/json");
  add_headers(p, client, out);
}

int prov_openai_build_chat(const struct prov *p, cJSON *body,
                           const char *upstream_model,
                           const struct prov_client *client,
                           struct prov_http *out, int *client_usage)
{
  const struct config_provider *c = p->cfg;
  cJSON *so;
  char *json;
  int stream;

  memset(out, 0, sizeof(*out));
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model",
                                         cJSON_CreateString(upstream_model));
  strip_provider_state(body);
  apply_request_quirks(p, body);
  stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
  so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
  *client_usage =
      stream &&
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
  if(stream && c->stream_usage && !*client_usage) {
    /* Ask for usage anyway so every stream is accounted; the usage chunk
     * is removed again on the way back. */
    if(!cJSON_IsObject(so)) {
      cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
      so = cJSON_AddObjectToObject(body, "stream_options");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
    cJSON_AddTrueToObject(so, "include_usage");
  }
  json = cJSON_PrintUnformatted(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  chat_target(p, upstream_model, stream, client, out);
  return 0;
}

/* The raw value v is exactly word. */
static int span_is(struct json_span v, const char *word)
{
  return v.p && v.n == strlen(word) && !memcmp(v.p, word, v.n);
}

int prov_openai_build_chat_raw(const struct prov *p, const char *raw, size_t n,
                               const char *upstream_model,
                               const struct prov_client *client,
                               struct prov_http *out, int *client_usage)
{
  static const char *const keys[] = {"model", "stream", "stream_options"};
  const struct prov_openai_quirks *q = p->priv;
  struct json_span v[3], model, so;
  const char *end = raw + n;
  int stream, ask_usage;
  struct buf b;

  /* What strip_provider_state() and apply_request_quirks() act on. */
  if((q && (q->seed_param || q->strip_message_names ||
            q->drop_input_reasoning || q->alnum9_tool_ids)) ||
     has_quoted(raw, n, "reasoning_details") ||
     memmem(raw, n, PROV_GEMINI_SIG_SEP, strlen(PROV_GEMINI_SIG_SEP)))
    return SB_EAGAIN;
  json_members(raw, n, keys, 3, v);
  model = v[0];
  so = v[2];
  if(!model.p)
    return SB_EAGAIN;
  stream = span_is(v[1], "true");
  *client_usage = 0;
  if(so.p && stream) {
    struct json_span iu;
    static const char *const iu_key[] = {"include_usage"};
    json_members(so.p, so.n, iu_key, 1, &iu);
    *client_usage = span_is(iu, "true");
  }
  ask_usage = stream && p->cfg->stream_usage && !*client_usage;
  if(ask_usage && so.p)
    return SB_EAGAIN; /* stream_options to merge into */
  while(end > raw && end[-1] != '}')
    end--; /* the object's closing brace (whitespace may follow) */
  if(end == raw)
    return SB_EAGAIN;
  end--;
  buf_init(&b, (size_t)-1);
  if(buf_append(&b, raw, (size_t)(model.p - raw)) ||
     json_append_string(&b, upstream_model) ||
     buf_append(&b, model.p + model.n, (size_t)(end - (model.p + model.n))) ||
     (ask_usage && buf_appendz(&b, ",\"stream_options\":"
                                   "{\"include_usage\":true}")) ||
     buf_append(&b, "}", 1))
    abort();
  memset(out, 0, sizeof(*out));
  out->body = buf_take(&b, &out->body_len);
  chat_target(p, upstream_model, stream, client, out);
  return 0;
}

void prov_openai_build_embeddings(const struct prov *p, cJSON *body,
                                  const char *upstream_model,
                                  const struct prov_client *client,
                                  struct prov_http *out)
{
  char *json;

  memset(out, 0, sizeof(*out));
  cJSON_ReplaceItemInObjectCaseSensitive(body, "model",
                                         cJSON_CreateString(upstream_model));
  json = cJSON_PrintUnformatted(body);
  if(!json)
    abort();
  out->body = json;
  out->body_len = strlen(json);
  out->url = endpoint_url(p, upstream_model, "embeddings");
  prov_http_add_header(out, "Content-Type: application/json");
  prov_http_add_header(out, "Accept: application/json");
  add_headers(p, client, out);
}

void prov_openai_build_models(const struct prov *p, struct prov_http *out)
{
  memset(out, 0, sizeof(*out));
  out->url = p->azure ? sb_asprintf("%s/openai/v1/models", p->base_url)
                      : sb_asprintf("%s/models", p->base_url);
  prov_http_add_header(out, "Accept: application/json");
  add_headers(p, NULL, out);
}

int prov_openai_parse_models(const char *body, size_t len, char ***models,
                             int *nmodels)
{
  return canon_models_parse(body, len, "data", canon_model_id, models, nmodels);
}

/* The message of an upstream error body in any of the envelopes
 * OpenAI-compatible servers use. Returns the object
 * holding type/code, or NULL. */
static const cJSON *error_object(const cJSON *root, const char **message)
{
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");

  *message = NULL;
  if(cJSON_IsObject(e)) {
    *message = canon_json_str(e, "message");
    return e;
  }
  if(cJSON_IsString(e)) {
    *message = e->valuestring;
    return NULL;
  }
  /* Top-level {"object":"error","message","type","code"} (Mistral, older
   * vLLM) carries type and code beside the message; {"detail":"..."}
   * (FastAPI-based servers) only a message. */
  *message = canon_json_str(root, "message");
  if(*message)
    return root;
  *message = canon_json_str(root, "detail");
  return NULL;
}

void prov_openai_map_error(const struct prov *p, int status, const char *body,
                           size_t len, const char *retry_after,
                           const char *retry_after_ms, struct api_error *err)
{
  cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
  const char *msg = NULL;
  const cJSON *e = error_object(root, &msg);
  const char *type = e ? canon_json_str(e, "type") : NULL;
  const char *code = e ? canon_json_str(e, "code") : NULL;
  const char *param = e ? canon_json_str(e, "param") : NULL;
  int own_credential = !p->cfg || !p->cfg->passthrough_auth;

  if((status == 401 || status == 403) && own_credential) {
    /* The upstream refused the gateway's credential: the client can do
     * nothing about it, and the upstream's message may quote the key. */
    canon_err_auth_failed(err, p->name, status);
  } else if(status == 503 || status == 529) {
    canon_err_unavailable(err, p->name, msg);
  } else if(status >= 500 || status < 400) {
    canon_err_failed(err, p->name, status, msg);
  } else {
    api_error_set(err, status, type ? type : "invalid_request_error", code,
                  param, "%s",
                  msg ? msg : "The upstream provider rejected the request.");
  }
  if(status == 429 || status == 503 || status == 529)
    canon_retry_after(err, retry_after, retry_after_ms);
  cJSON_Delete(root);
}

static void read_usage(const cJSON *root, struct canon_usage *u)
{
  canon_usage_read(cJSON_GetObjectItemCaseSensitive(root, "usage"), u);
}

/* Bring an upstream answer or chunk to OpenAI's shape:
 * finish reasons OpenAI does not have, reasoning under another name,
 * usage under x_groq. Returns 1 if root changed. may_normalize() tells
 * from the raw text when nothing here can apply: keep the two in step. */
static int normalize(const struct prov *p, cJSON *root)
{
  const struct prov_openai_quirks *q = p ? p->priv : NULL;
  cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  cJSON *c, *xg;
  int changed = 0;

  cJSON_ArrayForEach(c, choices)
  {
    cJSON *fr = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
    const char *to = NULL;

    if(cJSON_IsString(fr)) {
      if(!strcmp(fr->valuestring, "eos"))
        to = "stop"; /* Together */
      else if(!strcmp(fr->valuestring, "model_length"))
        to = "length"; /* Mistral */
    }
    if(to) {
      cJSON_ReplaceItemInObjectCaseSensitive(c, "finish_reason",
                                             cJSON_CreateString(to));
      changed = 1;
    }
    if(q && q->reasoning_field) {
      cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "delta");
      if(!m)
        m = cJSON_GetObjectItemCaseSensitive(c, "message");
      if(m && cJSON_HasObjectItem(m, q->reasoning_field) &&
         !cJSON_HasObjectItem(m, "reasoning_content")) {
        cJSON *r =
            cJSON_DetachItemFromObjectCaseSensitive(m, q->reasoning_field);
        cJSON_AddItemToObject(m, "reasoning_content", r);
        changed = 1;
      }
    }
  }
  /* Groq's older streams put usage under x_groq. */
  xg = cJSON_GetObjectItemCaseSensitive(root, "x_groq");
  if(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(xg, "usage")) &&
     !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "usage"))) {
    cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
    cJSON_AddItemToObject(
        root, "usage",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(xg, "usage"), 1));
    changed = 1;
  }
  return changed;
}

static char *print_or_die(const cJSON *root)
{
  char *s = cJSON_PrintUnformatted(root);

  if(!s)
    abort();
  return s;
}

/* Nesting an answer read without parsing may have; a deeper one (or one
 * json_check() refuses for any reason) is parsed, as before. */
#define SCAN_MAX_DEPTH 32

/* 1 unless the raw text s shows that normalize() would change nothing
 * to its choices: none of the names and values it acts on appears in it
 * as a string (x_groq, a top-level key, scan_response() looks up). Keep
 * in step with normalize(). */
static int may_normalize(const struct prov *p, const char *s, size_t n)
{
  const struct prov_openai_quirks *q = p ? p->priv : NULL;

  return has_quoted(s, n, "eos") || has_quoted(s, n, "model_length") ||
         (q && q->reasoning_field && has_quoted(s, n, q->reasoning_field));
}

/* An answer or chunk whose raw text says what its parse would: a plain
 * JSON object (no letters spelled as \u escapes, which byte searches
 * miss) with nothing normalize() would change. */
static int scannable(const struct prov *p, const char *s, size_t n)
{
  unsigned flags;

  return !json_check(s, n, SCAN_MAX_DEPTH, &flags) &&
         !(flags & JSON_ESCAPED_ASCII) && *s == '{' && !may_normalize(p, s, n);
}

/* The usage of an answer that needs no rewriting, read from its text
 * alone: parsing the whole answer into a tree costs ~40 allocations a
 * request. 1 if done, 0 when the answer must be parsed (it may need
 * normalizing, is not plain JSON, or spells letters as \u escapes, which
 * raw-byte matching would miss). */
static int scan_response(const struct prov *p, const char *body, size_t len,
                         struct canon_usage *u)
{
  static const char *const keys[] = {"usage", "x_groq"};
  struct json_span v[2];

  if(!scannable(p, body, len))
    return 0;
  json_members(body, len, keys, 2, v);
  if(v[1].p)
    return 0; /* Groq's usage to move (normalize()) */
  if(v[0].p && *v[0].p == '{')
    canon_usage_scan(v[0].p, v[0].n, u);
  return 1;
}

int prov_openai_parse_response(const struct prov *p, const char *body,
                               size_t len, struct canon_usage *u,
                               char **rewritten, struct api_error *err)
{
  cJSON *root;

  *rewritten = NULL;
  if(scan_response(p, body, len, u))
    return 0;
  root = cJSON_ParseWithLength(body, len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The upstream provider sent a response that is not JSON.");
    return SB_EPROTO;
  }
  if(normalize(p, root))
    *rewritten = print_or_die(root);
  read_usage(root, u);
  cJSON_Delete(root);
  return 0;
}

void prov_openai_stream_init(struct prov_openai_stream *s, const struct prov *p,
                             int client_usage)
{
  memset(s, 0, sizeof(*s));
  s->prov = p;
  s->client_usage = client_usage;
  canon_usage_init(&s->usage);
}

static size_t str_len(const cJSON *v)
{
  return cJSON_IsString(v) ? strlen(v->valuestring) : 0;
}

/* Bytes of text a chunk carries (what a stream the client leaves is
 * billed by): content, reasoning and tool-call arguments. */
static int64_t delta_text_bytes(const cJSON *root)
{
  const cJSON *c, *tc;
  int64_t n = 0;

  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "choices"))
  {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "delta");

    n += (int64_t)(str_len(cJSON_GetObjectItemCaseSensitive(d, "content")) +
                   str_len(cJSON_GetObjectItemCaseSensitive(
                       d, "reasoning_content")));
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(d, "tool_calls"))
        n += (int64_t)str_len(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(tc, "function"), "arguments"));
  }
  return n;
}

/* delta_text_bytes() of a chunk's raw text, or -1 where the raw text
 * cannot say it as the parse would (choices or tool_calls that are not
 * arrays). */
static int64_t scan_text_bytes(const char *s, size_t n)
{
  static const char *const top[] = {"choices"}, *const delta[] = {"delta"};
  static const char *const fields[] = {"content", "reasoning_content",
                                       "tool_calls"};
  static const char *const fn[] = {"function"}, *const args[] = {"arguments"};
  struct json_span ch, d, f[3], v;
  struct json_iter it, tc;
  const char *k, *c;
  size_t kl, cl;
  int64_t bytes = 0;

  if(!json_members(s, n, top, 1, &ch))
    return 0;
  if(*ch.p != '[')
    return -1;
  json_iter_init(&it, ch.p, ch.n);
  while(json_iter_next(&it, &k, &kl, &c, &cl)) {
    if(*c != '{' || !json_members(c, cl, delta, 1, &d) || *d.p != '{')
      continue;
    json_members(d.p, d.n, fields, 3, f);
    bytes += (int64_t)(json_string_len(f[0]) + json_string_len(f[1]));
    if(!f[2].p)
      continue;
    if(*f[2].p != '[')
      return -1;
    json_iter_init(&tc, f[2].p, f[2].n);
    while(json_iter_next(&tc, &k, &kl, &c, &cl))
      if(*c == '{' && json_members(c, cl, fn, 1, &v) && *v.p == '{' &&
         json_members(v.p, v.n, args, 1, &v))
        bytes += (int64_t)json_string_len(v);
  }
  return bytes;
}

static int empty_array(struct json_span v)
{
  struct json_iter it;
  const char *k, *e;
  size_t kl, el;

  return !json_iter_init(&it, v.p, v.n) &&
         !json_iter_next(&it, &k, &kl, &e, &el);
}

/* The pass-through of a chunk that needs no rewriting beyond hiding the
 * usage we asked for, read from its text alone: parsing every chunk into
 * a tree was most of a stream's own work. 1 with *rc the result, 0 when
 * the chunk must be parsed (an error, something to normalize, text the
 * raw bytes cannot vouch for, or larger than the local copy). */
static int scan_chunk(struct prov_openai_stream *s, const char *data,
                      size_t len, struct buf *out, int *rc)
{
  static const char *const keys[] = {"usage", "x_groq", "error", "choices"};
  struct json_span v[4], cut;
  char edited[4096];
  int64_t bytes;
  int hide, drop;

  if(!scannable(s->prov, data, len))
    return 0;
  json_members(data, len, keys, 4, v);
  /* We asked for usage on the client's behalf: it is hidden again, the
   * usage chunk itself ("choices" empty or none) dropped whole. */
  hide = !s->client_usage && v[0].p;
  drop = hide && *v[0].p == '{' && (!v[3].p || empty_array(v[3]));
  if(v[1].p || v[2].p || (hide && !drop && len > sizeof(edited)) ||
     (bytes = scan_text_bytes(data, len)) < 0)
    return 0;
  s->text_bytes += bytes;
  if(v[0].p && *v[0].p == '{')
    canon_usage_scan(v[0].p, v[0].n, &s->usage);
  if(!hide) {
    *rc = sse_write_event(out, NULL, data, len);
    return 1;
  }
  if(drop) {
    *rc = 0;
    return 1;
  }
  memcpy(edited, data, len);
  /* Every usage member: a repeated key is as visible to a client. */
  while(json_member_cut(edited, len, "usage", &cut)) {
    char *at = edited + (cut.p - edited);
    memmove(at, at + cut.n, len - (size_t)(at - edited) - cut.n);
    len -= cut.n;
  }
  *rc = sse_write_event(out, NULL, edited, len);
  return 1;
}

int prov_openai_stream_event(struct prov_openai_stream *s, const char *data,
                             size_t len, struct buf *out, struct api_error *err)
{
  cJSON *root, *usage;
  const char *msg;
  int rc, changed;

  if(len == 6 && !memcmp(data, "[DONE]", 6)) {
    s->done = 1;
    return sse_write_event(out, NULL, data, len);
  }
  if(scan_chunk(s, data, len, out, &rc))
    return rc;
  root = cJSON_ParseWithLength(data, len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    api_error_set(err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The upstream provider sent a malformed stream chunk.");
    return SB_EPROTO;
  }
  if(cJSON_GetObjectItemCaseSensitive(root, "error")) {
    const cJSON *e = error_object(root, &msg);
    const char *code = e ? canon_json_str(e, "code") : NULL;
    /* Same type as every other upstream failure; the upstream's code
     * and message are kept. */
    api_error_set(err, 502, "upstream_error", code ? code : "upstream_error",
                  NULL, "%s",
                  msg ? msg : "The upstream provider failed mid-stream.");
    cJSON_Delete(root);
    return SB_EIO;
  }
  changed = normalize(s->prov, root);
  s->text_bytes += delta_text_bytes(root);
  usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if(cJSON_IsObject(usage))
    read_usage(root, &s->usage);
  if(!s->client_usage && usage) {
    /* We asked for usage on the client's behalf: hide it again. */
    if(cJSON_IsObject(usage) &&
       !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "choices"))) {
      cJSON_Delete(root);
      return 0;
    }
    while(cJSON_GetObjectItemCaseSensitive(root, "usage"))
      cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
    changed = 1;
  }
  if(!changed) {
    /* Pass-through: the client gets the upstream's bytes unchanged. */
    cJSON_Delete(root);
    return sse_write_event(out, NULL, data, len);
  }
  {
    char *s2 = print_or_die(root);
    rc = sse_write_event(out, NULL, s2, strlen(s2));
    free(s2);
  }
  cJSON_Delete(root);
  return rc;
}

/* --- options and request quirks ---------------------------------------- */

int prov_openai_configure(struct prov *p, const cJSON *options,
                          const char *path, char *err, size_t errlen)
{
  struct prov_openai_quirks *q = sb_calloc(1, sizeof(*q));
  const cJSON *it;

  p->priv = q;
  cJSON_ArrayForEach(it, options)
  {
    const char *k = it->string;
    const char *want = NULL;

    if(p->azure && !strcmp(k, "api_version")) {
      if(cJSON_IsString(it)) {
        free(p->azure_api_version);
        p->azure_api_version = sb_strdup(it->valuestring);
      } else
        want = "expected a string";
    } else if(!strcmp(k, "tool_call_ids")) {
      if(cJSON_IsString(it) && !strcmp(it->valuestring, "alnum9"))
        q->alnum9_tool_ids = 1;
      else
        want = "expected \"alnum9\"";
    } else if(!strcmp(k, "seed_param") || !strcmp(k, "reasoning_field")) {
      char **slot = k[0] == 's' ? &q->seed_param : &q->reasoning_field;
      if(cJSON_IsString(it) && it->valuestring[0]) {
        free(*slot);
        *slot = sb_strdup(it->valuestring);
      } else
        want = "expected a non-empty string";
    } else if(!strcmp(k, "drop_input_reasoning") ||
              !strcmp(k, "strip_message_names")) {
      if(cJSON_IsBool(it))
        *(k[0] == 'd' ? &q->drop_input_reasoning : &q->strip_message_names) =
            cJSON_IsTrue(it);
      else
        want = "expected true or false";
    } else {
      want = "unknown option";
    }
    if(want) {
      snprintf(err, errlen, "%s.%s: %s", path, k, want);
      return SB_ECONFIG;
    }
  }
  return 0;
}

void prov_openai_unconfigure(struct prov *p)
{
  struct prov_openai_quirks *q = p->priv;

  if(q) {
    free(q->seed_param);
    free(q->reasoning_field);
    free(q);
  }
  p->priv = NULL;
}

/* Mistral accepts only ids of 9 letters and digits, and checks them on
 * replay: map every other id to one, the same way each time so that an
 * assistant's tool_calls and the tool messages answering them agree. */
static void alnum9(const char *id, char out[10])
{
  static const char digits[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  uint64_t h = 1469598103934665603ULL;
  size_t n = strlen(id);
  int ok = n == 9;

  for(size_t i = 0; i < n; i++) {
    ok &= isalnum((unsigned char)id[i]) != 0;
    h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
  }
  if(ok) {
    memcpy(out, id, 10);
    return;
  }
  for(int i = 0; i < 9; i++, h /= 62)
    out[i] = digits[h % 62];
  out[9] = '\0';
}

static void rewrite_id(cJSON *obj, const char *key)
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char id[10];

  if(!cJSON_IsString(v))
    return;
  alnum9(v->valuestring, id);
  cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(id));
}

static void apply_request_quirks(const struct prov *p, cJSON *body)
{
  const struct prov_openai_quirks *q = p->priv;
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
  cJSON *m, *tc;

  if(!q)
    return;
  if(q->seed_param && cJSON_HasObjectItem(body, "seed"))
    cJSON_AddItemToObject(
        body, q->seed_param,
        cJSON_DetachItemFromObjectCaseSensitive(body, "seed"));
  cJSON_ArrayForEach(m, msgs)
  {
    if(q->strip_message_names)
      cJSON_DeleteItemFromObjectCaseSensitive(m, "name");
    if(q->drop_input_reasoning) {
      cJSON_DeleteItemFromObjectCaseSensitive(m, "reasoning_content");
      cJSON_DeleteItemFromObjectCaseSensitive(m, "reasoning");
    }
    if(q->alnum9_tool_ids) {
      rewrite_id(m, "tool_call_id");
      cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
          rewrite_id(tc, "id");
    }
  }
}

/* --- the openai kind as an adapter ------------------------------------- */

/*
 * Clients that do not speak Chat Completions (Anthropic Messages,
 * Responses) need canonical events and documents, not relayed bytes:
 * for them the openai kind is one more adapter over the same request
 * builder, normaliser and error mapper as the pass-through path.
 */

static int oa_build_chat(const struct prov *p, const cJSON *req,
                         const char *model, const struct prov_client *client,
                         struct prov_http *out, struct api_error *err)
{
  cJSON *body = cJSON_Duplicate(req, 1);
  int client_usage;
  int rc = prov_openai_build_chat(p, body, model, client, out, &client_usage);

  cJSON_Delete(body);
  (void)err;
  return rc;
}

static int oa_parse_chat(const struct prov *p, const char *body, size_t len,
                         const char *model, const char *id, int64_t created,
                         cJSON **out, struct canon_usage *usage,
                         struct api_error *err)
{
  cJSON *root = cJSON_ParseWithLength(body, len);

  if(!cJSON_IsObject(root) ||
     !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "choices"))) {
    cJSON_Delete(root);
    canon_bad_response(err, "a chat completion");
    return SB_EPROTO;
  }
  normalize(p, root);
  read_usage(root, usage);
  *out = root;
  return 0;
}

struct prov_stream {
  const struct prov *prov;
  int started;
  int done;       /* data: [DONE] seen */
  uint64_t tools; /* bit k: tool index k has had its TOOL_START */
};

static struct prov_stream *oa_stream_new(const struct prov *p,
                                         const char *model)
{
  struct prov_stream *s = sb_calloc(1, sizeof(*s));

  s->prov = p;
  return s;
}

static void oa_stream_free(struct prov_stream *s)
{
  free(s);
}

static int oa_stream_complete(const struct prov_stream *s)
{
  return s->done;
}

static int emit_str(const struct canon_sink *sink, enum canon_ev_type type,
                    const cJSON *v)
{
  struct canon_ev ev = {.type = type};

  if(!cJSON_IsString(v) || !v->valuestring[0])
    return 0;
  ev.text = v->valuestring;
  ev.len = strlen(v->valuestring);
  return canon_emit(sink, &ev);
}

static int oa_tool_delta(struct prov_stream *s, const cJSON *tc,
                         const struct canon_sink *sink)
{
  const cJSON *fn = canon_json_get(tc, "function");
  const cJSON *ix = canon_json_get(tc, "index");
  const cJSON *args = canon_json_get(fn, "arguments");
  struct canon_ev ev = {.type = CANON_EV_TOOL_ARGS};
  int k = cJSON_IsNumber(ix) ? ix->valueint : 0;

  if(k < 0 || k >= 64)
    return 0; /* more parallel calls than any model makes */
  ev.index = k;
  if(!(s->tools & (1ull << k))) {
    const cJSON *sig = canon_json_get(
        canon_json_get(canon_json_get(tc, "extra_content"), "google"),
        "thought_signature");
    s->tools |= 1ull << k;
    ev.type = CANON_EV_TOOL_START;
    ev.id = canon_json_str(tc, "id");
    ev.name = canon_json_str(fn, "name");
    ev.signature = cJSON_IsString(sig) ? sig->valuestring : NULL;
  }
  if(cJSON_IsString(args)) {
    ev.text = args->valuestring;
    ev.len = strlen(args->valuestring);
  }
  if(ev.type == CANON_EV_TOOL_ARGS && !ev.len)
    return 0;
  return canon_emit(sink, &ev);
}

static int oa_stream_feed(struct prov_stream *s, const struct prov_payload *pl,
                          const struct canon_sink *sink)
{
  struct api_error err;
  const cJSON *c, *delta, *tc;
  cJSON *root;
  int rc = 0;

  if(pl->len == 6 && !memcmp(pl->data, "[DONE]", 6)) {
    s->done = 1;
    return 0;
  }
  root = cJSON_ParseWithLength(pl->data, pl->len);
  if(!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    api_error_set(&err, 502, "upstream_error", "upstream_bad_response", NULL,
                  "The upstream provider sent a malformed stream chunk.");
    canon_emit(sink, &(struct canon_ev){.type = CANON_EV_ERROR, .err = &err});
    return SB_EPROTO;
  }
  if(cJSON_GetObjectItemCaseSensitive(root, "error")) {
    const char *msg;
    const cJSON *e = error_object(root, &msg);
    const char *code = e ? canon_json_str(e, "code") : NULL;

    api_error_set(&err, 502, "upstream_error", code ? code : "upstream_error",
                  NULL, "%s",
                  msg ? msg : "The upstream provider failed mid-stream.");
    cJSON_Delete(root);
    canon_emit(sink, &(struct canon_ev){.type = CANON_EV_ERROR, .err = &err});
    return SB_EIO;
  }
  normalize(s->prov, root);
  if(!s->started) {
    s->started = 1;
    rc = canon_emit(sink,
                    &(struct canon_ev){.type = CANON_EV_START,
                                       .id = canon_json_str(root, "id"),
                                       .model = canon_json_str(root, "model")});
  }
  c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
  delta = canon_json_get(c, "delta");
  if(!rc)
    rc = emit_str(sink, CANON_EV_REASONING,
                  canon_json_get(delta, "reasoning_content"));
  if(!rc)
    rc = emit_str(sink, CANON_EV_TEXT, canon_json_get(delta, "content"));
  cJSON_ArrayForEach(tc, canon_json_get(delta, "tool_calls"))
  {
    if(!rc)
      rc = oa_tool_delta(s, tc, sink);
  }
  if(!rc && canon_json_str(c, "finish_reason"))
    rc = canon_emit(sink, &(struct canon_ev){.type = CANON_EV_FINISH,
                                             .finish_reason = canon_json_str(
                                                 c, "finish_reason")});
  if(!rc && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "usage"))) {
    struct canon_ev ev = {.type = CANON_EV_USAGE};
    canon_usage_init(&ev.usage);
    read_usage(root, &ev.usage);
    rc = canon_emit(sink, &ev);
  }
  cJSON_Delete(root);
  return rc;
}

static void oa_map_error(const struct prov *p, int status, const char *body,
                         size_t len, const char *retry_after,
                         const char *retry_after_ms, struct api_error *err)
{
  prov_openai_map_error(p, status, body, len, retry_after, retry_after_ms, err);
}

const struct prov_adapter prov_openai_adapter = {
    .kind = "openai",
    .caps = OAI_CAP_ALL,
    .framing = PROV_FRAMING_SSE,
    .build_chat = oa_build_chat,
    .parse_chat = oa_parse_chat,
    .stream_new = oa_stream_new,
    .stream_feed = oa_stream_feed,
    .stream_complete = oa_stream_complete,
    .stream_free = oa_stream_free,
    .map_error = oa_map_error,
};
