#include "codec/anth_msgs.h"
#include "codec/oai_err.h"
#include "base/sb.h"
#include "base/sse.h"
#include "codec/canon_doc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for a JSON path; api_error.param keeps the first 95 bytes. */
#define PATH_LEN 160

#define T_ERR "invalid_request_error"

/* An integer cJSON holds exactly enough to forward: below 2^63. */
#define INT64_LIMIT 9223372036854775808.0

/* Anthropic's documented floor for thinking.budget_tokens. */
#define MIN_THINKING_BUDGET 1024

/* thinking.budget_tokens -> reasoning_effort: low below the first bound,
 * medium below the second, high from there. */
#define EFFORT_MEDIUM_FROM 4096
#define EFFORT_HIGH_FROM   16384

/* canon's stop list holds at most this many sequences (oai_chat.c). */
#define MAX_STOP 4

static const cJSON *get(const cJSON *o, const char *k)
{
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int present(const cJSON *v)
{
  return v && !cJSON_IsNull(v);
}

/* ---- JSON paths ------------------------------------------------------ */

/* out = a + sep + b, cut to fit PATH_LEN (api_error.param keeps less
 * anyway); out may be a. */
static void cat3(char *out, const char *a, const char *sep, const char *b)
{
  size_t na = strnlen(a, PATH_LEN - 1);
  size_t ns = strnlen(sep, PATH_LEN - 1 - na);
  size_t nb = strnlen(b, PATH_LEN - 1 - na - ns);

  memmove(out, a, na);
  memcpy(out + na, sep, ns);
  memcpy(out + na + ns, b, nb);
  out[na + ns + nb] = '\0';
}

/* out = path.key; out may be path. */
static void join(char *out, const char *path, const char *key)
{
  cat3(out, path, ".", key);
}

/* out = path.i; out may be path. */
static void join_index(char *out, const char *path, int i)
{
  char idx[16];

  snprintf(idx, sizeof(idx), "%d", i);
  cat3(out, path, ".", idx);
}

/* ---- errors, in Anthropic's (pydantic) wording ------------------------ */

static int fail(struct api_error *err, const char *code, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct api_error *err, const char *code, const char *path,
                const char *fmt, ...)
{
  char detail[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  api_error_set(err, 400, T_ERR, code, path, "%s: %s", path, detail);
  return SB_EINVAL;
}

static int fail_missing(struct api_error *err, const char *path)
{
  return fail(err, "missing_required_parameter", path, "Field required");
}

/* what: "string", "integer", "number", "boolean", "list", "dictionary" */
static int fail_type(struct api_error *err, const char *path, const char *what)
{
  return fail(err, "invalid_type", path, "Input should be a valid %s", what);
}

static int fail_nonempty(struct api_error *err, const char *path)
{
  return fail(err, "invalid_value", path,
              "all messages must have non-empty content except for the "
              "optional final assistant message");
}

static int fail_unsupported(struct api_error *err, const char *path,
                            const char *what)
{
  return fail(err, "unsupported_value", path,
              "%s are not supported through the gateway", what);
}

/* The discriminator of a tagged union: *type receives it. */
static int need_tag(const cJSON *o, const char *path, const char **type,
                    struct api_error *err)
{
  const cJSON *t = get(o, "type");

  if(!cJSON_IsString(t))
    return fail(err, "invalid_value", path,
                "Unable to extract tag using discriminator 'type'");
  *type = t->valuestring;
  return 0;
}

/* path.type names a tag outside expected (a quoted, comma-separated list). */
static int fail_tag(struct api_error *err, const char *path, const char *tag,
                    const char *expected)
{
  char p[PATH_LEN];

  join(p, path, "type");
  return fail(err, "invalid_value", p,
              "Input tag '%.40s' found using 'type' does not match any of "
              "the expected tags: %s",
              tag, expected);
}

/* A required string member; *out receives its value. */
static int need_string(const cJSON *o, const char *key, const char *path,
                       const char **out, struct api_error *err)
{
  const cJSON *v = get(o, key);
  char p[PATH_LEN];

  join(p, path, key);
  if(!v)
    return fail_missing(err, p);
  if(!cJSON_IsString(v))
    return fail_type(err, p, "string");
  *out = v->valuestring;
  return 0;
}

/* An optional member of the given cJSON type; null counts as absent. */
static int opt_member(const cJSON *o, const char *key, const char *path,
                      cJSON_bool (*is)(const cJSON *), const char *what,
                      struct api_error *err)
{
  const cJSON *v = get(o, key);
  char p[PATH_LEN];

  if(!present(v) || is(v))
    return 0;
  join(p, path, key);
  return fail_type(err, p, what);
}

static int is_int(double d)
{
  return isfinite(d) && floor(d) == d;
}

/* An optional number (integer when integer) within [min, max]. */
static int opt_number(const cJSON *o, const char *key, int integer, double min,
                      double max, struct api_error *err)
{
  const cJSON *v = get(o, key);

  if(!present(v))
    return 0;
  if(!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
     (integer && !is_int(v->valuedouble)))
    return fail_type(err, key, integer ? "integer" : "number");
  if(v->valuedouble < min)
    return fail(err, "invalid_value", key,
                "Input should be greater than or equal to %g", min);
  if(v->valuedouble > max)
    return fail(err, "invalid_value", key,
                "Input should be less than or equal to %g", max);
  return 0;
}

/* ---- other providers' reasoning state in Messages signatures --------- */

/* A Messages client sends thinking blocks back verbatim, signature
 * included. Another provider's signed reasoning (Claude on Bedrock)
 * rides in that signature as SIG_TAG <format> ":" <its signature>:
 * Anthropic's own signatures are base64, which has no ':', so neither is
 * ever read as the other, and only the named format's adapter sends the
 * value upstream again. */
#define SIG_TAG "sb1:"

/* The signature a Messages client gets for reasoning of format fmt.
 * Caller frees. */
static char *sig_out(const char *fmt, const char *sig)
{
  if(!fmt || !strcmp(fmt, CANON_FMT_ANTHROPIC))
    return sb_strdup(sig);
  return sb_asprintf("%s%s:%s", SIG_TAG, fmt, sig);
}

/* A signature a Messages client sent back: its format (the buffer) and
 * the provider's own value, or Anthropic's format and sig itself. */
static const char *sig_in(const char *sig, char *fmt, size_t fmtlen)
{
  const char *colon;

  snprintf(fmt, fmtlen, "%s", CANON_FMT_ANTHROPIC);
  if(strncmp(sig, SIG_TAG, strlen(SIG_TAG)))
    return sig;
  sig += strlen(SIG_TAG);
  colon = strchr(sig, ':');
  /* Only the formats the gateway itself tags. */
  if(!colon || (size_t)(colon - sig) != strlen(CANON_FMT_BEDROCK) ||
     strncmp(sig, CANON_FMT_BEDROCK, strlen(CANON_FMT_BEDROCK)))
    return sig - strlen(SIG_TAG);
  snprintf(fmt, fmtlen, "%s", CANON_FMT_BEDROCK);
  return colon + 1;
}

/* ---- the dropped-fields list ------------------------------------------ */

static void note_dropped(char **list, const char *name)
{
  size_t n = strlen(name);
  const char *p = *list;
  char *t;

  while(p) {
    if(!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
      return;
    p = strchr(p, ',');
    if(p)
      p++;
  }
  if(!*list) {
    *list = sb_strdup(name);
    return;
  }
  t = sb_asprintf("%s,%s", *list, name);
  free(*list);
  *list = t;
}

static void note_dropped2(char **list, const char *prefix, const char *name)
{
  char *s = sb_asprintf("%s.%s", prefix, name);

  note_dropped(list, s);
  free(s);
}

/* ---- content blocks ---------------------------------------------------- */

struct tr {
  cJSON *msgs; /* canonical messages, in order */
  char *dropped;
  struct api_error *err;
};

/* Block types Anthropic accepts that have no canonical equivalent. */
static const char *const UNSUPPORTED_BLOCKS[] = {
    "search_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "tool_search_tool_result",
    "container_upload",
    "mcp_tool_use",
    "mcp_tool_result",
    "compaction",
};

#define BLOCK_TAGS                                                             \
  "'text', 'image', 'document', 'search_result', 'thinking', "                 \
  "'redacted_thinking', 'tool_use', 'tool_result', 'server_tool_use', "        \
  "'web_search_tool_result', 'web_fetch_tool_result', "                        \
  "'code_execution_tool_result', 'bash_code_execution_tool_result', "          \
  "'text_editor_code_execution_tool_result', 'tool_search_tool_result', "      \
  "'container_upload', 'mid_conv_system'"

static int is_unsupported_block(const char *type)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(UNSUPPORTED_BLOCKS); i++)
    if(!strcmp(type, UNSUPPORTED_BLOCKS[i]))
      return 1;
  return 0;
}

static int fail_block_unsupported(struct api_error *err, const char *path,
                                  const char *type)
{
  char p[PATH_LEN];
  char what[96];

  join(p, path, "type");
  snprintf(what, sizeof(what), "content blocks of type '%.50s'", type);
  return fail_unsupported(err, p, what);
}

static int fail_block_role(struct api_error *err, const char *path,
                           const char *type, const char *role)
{
  char p[PATH_LEN];

  join(p, path, "type");
  return fail(err, "invalid_value", p,
              "content blocks of type '%.50s' are not allowed in '%s' "
              "messages",
              type, role);
}

/* what (plural) at path, inside a tool_result. */
static int fail_in_tool_result(struct api_error *err, const char *path,
                               const char *what)
{
  char p[PATH_LEN];
  char w[96];

  join(p, path, "type");
  snprintf(w, sizeof(w), "%s inside tool_result", what);
  return fail_unsupported(err, p, w);
}

void anth_copy_cache_control(const cJSON *from, cJSON *to)
{
  const cJSON *cc = get(from, "cache_control");

  if(cJSON_IsObject(cc))
    cJSON_AddItemToObject(to, "cache_control", cJSON_Duplicate(cc, 1));
}

cJSON *anth_text_block(const char *text, const cJSON *from)
{
  cJSON *p = cJSON_CreateObject();

  cJSON_AddStringToObject(p, "type", "text");
  cJSON_AddStringToObject(p, "text", text);
  if(from)
    anth_copy_cache_control(from, p);
  return p;
}

/* A {"type":"text","text":...} block at path; *text receives the text. */
static int text_block(const cJSON *b, const char *path, const char **text,
                      struct api_error *err)
{
  int rc = need_string(b, "text", path, text, err);

  if(!rc)
    rc =
        opt_member(b, "cache_control", path, cJSON_IsObject, "dictionary", err);
  return rc;
}

/* Text parts -> canonical content: a lone plain text part becomes a
 * string (what every OpenAI-compatible server accepts); anything carrying
 * cache_control, or several parts, stays an array. Takes parts. */
static cJSON *simplify(cJSON *parts)
{
  cJSON *only = parts->child;

  if(only && !only->next && !get(only, "cache_control") &&
     !strcmp(get(only, "type")->valuestring, "text")) {
    cJSON *s = cJSON_CreateString(get(only, "text")->valuestring);
    cJSON_Delete(parts);
    return s;
  }
  return parts;
}

static const char *const IMAGE_TYPES[] = {"image/jpeg", "image/png",
                                          "image/gif", "image/webp"};

static int image_part(const cJSON *b, const char *path, cJSON **out,
                      struct api_error *err)
{
  const cJSON *src = get(b, "source");
  const char *stype = NULL, *media = NULL, *data = NULL, *url = NULL;
  char sp[PATH_LEN], p[PATH_LEN];
  char *u = NULL;
  cJSON *part;
  int rc;

  join(sp, path, "source");
  if(!src)
    return fail_missing(err, sp);
  if(!cJSON_IsObject(src))
    return fail_type(err, sp, "dictionary");
  rc = need_tag(src, sp, &stype, err);
  if(rc)
    return rc;
  if(!strcmp(stype, "base64")) {
    size_t i;

    rc = need_string(src, "media_type", sp, &media, err);
    if(!rc)
      rc = need_string(src, "data", sp, &data, err);
    if(rc)
      return rc;
    for(i = 0; i < SB_ARRAY_LEN(IMAGE_TYPES); i++)
      if(!strcmp(media, IMAGE_TYPES[i]))
        break;
    if(i == SB_ARRAY_LEN(IMAGE_TYPES)) {
      join(p, sp, "media_type");
      return fail(err, "invalid_value", p,
                  "Input should be 'image/jpeg', 'image/png', 'image/gif' "
                  "or 'image/webp'");
    }
    u = sb_asprintf("data:%s;base64,%s", media, data);
  } else if(!strcmp(stype, "url")) {
    rc = need_string(src, "url", sp, &url, err);
    if(rc)
      return rc;
    u = sb_strdup(url);
  } else if(!strcmp(stype, "file")) {
    join(p, sp, "type");
    return fail_unsupported(err, p, "image sources of type 'file'");
  } else {
    return fail_tag(err, sp, stype, "'base64', 'url', 'file'");
  }
  rc = opt_member(b, "cache_control", path, cJSON_IsObject, "dictionary", err);
  if(rc) {
    free(u);
    return rc;
  }
  part = cJSON_CreateObject();
  cJSON_AddStringToObject(part, "type", "image_url");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(part, "image_url"), "url", u);
  anth_copy_cache_control(b, part);
  free(u);
  *out = part;
  return 0;
}

/* A document block: a base64 PDF becomes a file part, a plain-text
 * source a text part. *out stays NULL for an empty text document. */
static int document_part(const cJSON *b, const char *path, cJSON **out,
                         struct api_error *err)
{
  const cJSON *src = get(b, "source");
  const cJSON *title = get(b, "title");
  const char *stype = NULL, *media = NULL, *data = NULL;
  char sp[PATH_LEN], p[PATH_LEN];
  cJSON *part, *f;
  char *u;
  int rc;

  *out = NULL;
  join(sp, path, "source");
  if(!src)
    return fail_missing(err, sp);
  if(!cJSON_IsObject(src))
    return fail_type(err, sp, "dictionary");
  rc = need_tag(src, sp, &stype, err);
  if(!rc)
    rc = opt_member(b, "title", path, cJSON_IsString, "string", err);
  if(!rc)
    rc = opt_member(b, "context", path, cJSON_IsString, "string", err);
  if(!rc)
    rc =
        opt_member(b, "cache_control", path, cJSON_IsObject, "dictionary", err);
  if(rc)
    return rc;
  if(!strcmp(stype, "text")) {
    rc = need_string(src, "data", sp, &data, err);
    if(!rc)
      rc = opt_member(src, "media_type", sp, cJSON_IsString, "string", err);
    if(rc)
      return rc;
    if(data[0])
      *out = anth_text_block(data, b);
    return 0;
  }
  if(strcmp(stype, "base64")) {
    if(!strcmp(stype, "url") || !strcmp(stype, "content") ||
       !strcmp(stype, "file")) {
      char what[64];
      join(p, sp, "type");
      snprintf(what, sizeof(what), "document sources of type '%s'", stype);
      return fail_unsupported(err, p, what);
    }
    return fail_tag(err, sp, stype,
                    "'base64', 'text', 'content', 'url', 'file'");
  }
  rc = need_string(src, "media_type", sp, &media, err);
  if(!rc)
    rc = need_string(src, "data", sp, &data, err);
  if(rc)
    return rc;
  if(strcmp(media, "application/pdf")) {
    join(p, sp, "media_type");
    return fail(err, "invalid_value", p, "Input should be 'application/pdf'");
  }
  u = sb_asprintf("data:application/pdf;base64,%s", data);
  part = cJSON_CreateObject();
  cJSON_AddStringToObject(part, "type", "file");
  f = cJSON_AddObjectToObject(part, "file");
  /* OpenAI wants a filename with file_data; the title is the best name
   * the client gave. */
  cJSON_AddStringToObject(f, "filename",
                          cJSON_IsString(title) && title->valuestring[0]
                              ? title->valuestring
                              : "document.pdf");
  cJSON_AddStringToObject(f, "file_data", u);
  anth_copy_cache_control(b, part);
  free(u);
  *out = part;
  return 0;
}

/* A tool_result block -> a canonical "tool" message (*out). */
static int tool_message(const cJSON *b, const char *path, cJSON **out,
                        struct api_error *err)
{
  const cJSON *content = get(b, "content");
  const char *id = NULL;
  char cp[PATH_LEN];
  cJSON *parts, *m;
  int cached = cJSON_IsObject(get(b, "cache_control"));
  int rc, k = 0;

  rc = need_string(b, "tool_use_id", path, &id, err);
  if(!rc)
    rc = opt_member(b, "is_error", path, cJSON_IsBool, "boolean", err);
  if(!rc)
    rc =
        opt_member(b, "cache_control", path, cJSON_IsObject, "dictionary", err);
  if(rc)
    return rc;
  join(cp, path, "content");
  parts = cJSON_CreateArray();
  if(cJSON_IsString(content)) {
    if(content->valuestring[0])
      cJSON_AddItemToArray(parts, anth_text_block(content->valuestring, NULL));
  } else if(cJSON_IsArray(content)) {
    const cJSON *c;

    cJSON_ArrayForEach(c, content)
    {
      char p[PATH_LEN];
      const char *type = NULL, *text = NULL;
      cJSON *part = NULL;

      join_index(p, cp, k++);
      if(!cJSON_IsObject(c))
        rc = fail_type(err, p, "dictionary");
      if(!rc)
        rc = need_tag(c, p, &type, err);
      if(!rc) {
        if(!strcmp(type, "text")) {
          rc = text_block(c, p, &text, err);
          if(!rc && text[0])
            part = anth_text_block(text, c);
        } else if(!strcmp(type, "document")) {
          rc = document_part(c, p, &part, err);
          if(!rc && part && strcmp(get(part, "type")->valuestring, "text")) {
            cJSON_Delete(part);
            part = NULL;
            rc = fail_in_tool_result(err, p, "PDF documents");
          }
        } else if(!strcmp(type, "image") || !strcmp(type, "search_result") ||
                  !strcmp(type, "tool_reference")) {
          /* Canonical tool messages carry text only. */
          char what[64];
          snprintf(what, sizeof(what), "'%s' blocks", type);
          rc = fail_in_tool_result(err, p, what);
        } else {
          rc = fail_tag(err, p, type,
                        "'text', 'image', 'search_result', 'document', "
                        "'tool_reference'");
        }
      }
      if(rc) {
        cJSON_Delete(parts);
        return rc;
      }
      if(part) {
        cached |= get(part, "cache_control") != NULL;
        cJSON_AddItemToArray(parts, part);
      }
    }
  } else if(present(content)) {
    cJSON_Delete(parts);
    return fail(err, "invalid_type", cp,
                "Input should be a valid string or a valid list");
  }

  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "tool");
  cJSON_AddStringToObject(m, "tool_call_id", id);
  if(cached) {
    /* A breakpoint on the tool_result itself moves to its last text part,
     * where the Anthropic adapter reads it back. */
    if(!parts->child)
      cJSON_AddItemToArray(parts, anth_text_block("", NULL));
    if(cJSON_IsObject(get(b, "cache_control"))) {
      cJSON *last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
      cJSON_DeleteItemFromObjectCaseSensitive(last, "cache_control");
      anth_copy_cache_control(b, last);
    }
    cJSON_AddItemToObject(m, "content", parts);
  } else {
    /* Plain text joined: a string is what every upstream accepts. */
    struct buf s;
    const cJSON *p;
    char *joined;

    buf_init(&s, (size_t)-1);
    buf_append(&s, "", 0);
    cJSON_ArrayForEach(p, parts)
    {
      if(p != parts->child)
        buf_append(&s, "\n", 1);
      buf_appendz(&s, get(p, "text")->valuestring);
    }
    joined = buf_take(&s, NULL);
    cJSON_AddStringToObject(m, "content", joined);
    free(joined);
    cJSON_Delete(parts);
  }
  *out = m;
  return 0;
}

static cJSON *message(const char *role, cJSON *content)
{
  cJSON *m = cJSON_CreateObject();

  cJSON_AddStringToObject(m, "role", role);
  cJSON_AddItemToObject(m, "content", content);
  return m;
}

/* Text blocks (system prompt, system-role message, mid_conv_system) ->
 * a canonical system message appended to msgs; empty text is left out. */
static int system_message(const cJSON *content, const char *path, cJSON *msgs,
                          struct api_error *err)
{
  const cJSON *b;
  cJSON *parts;
  int k = 0;

  if(cJSON_IsString(content)) {
    if(content->valuestring[0])
      cJSON_AddItemToArray(
          msgs, message("system", cJSON_CreateString(content->valuestring)));
    return 0;
  }
  if(!cJSON_IsArray(content))
    return fail(err, "invalid_type", path,
                "Input should be a valid string or a valid list");
  parts = cJSON_CreateArray();
  cJSON_ArrayForEach(b, content)
  {
    char p[PATH_LEN];
    const char *type = NULL, *text = NULL;
    int rc = 0;

    join_index(p, path, k++);
    if(!cJSON_IsObject(b))
      rc = fail_type(err, p, "dictionary");
    if(!rc)
      rc = need_tag(b, p, &type, err);
    if(!rc && strcmp(type, "text"))
      rc = fail_tag(err, p, type, "'text'");
    if(!rc)
      rc = text_block(b, p, &text, err);
    if(rc) {
      cJSON_Delete(parts);
      return rc;
    }
    if(text[0])
      cJSON_AddItemToArray(parts, anth_text_block(text, b));
  }
  if(!parts->child) {
    cJSON_Delete(parts);
    return 0;
  }
  cJSON_AddItemToArray(msgs, message("system", simplify(parts)));
  return 0;
}

/* tool_result blocks become tool messages that come first (OpenAI wants
 * them right after the assistant turn that called); the rest of the
 * message follows as user content, split where a mid_conv_system block
 * sits. */
static int user_message(struct tr *t, const cJSON *content, const char *mpath)
{
  cJSON *tools, *rest, *parts;
  const cJSON *b;
  char cp[PATH_LEN];
  int k = 0, rc = 0;

  join(cp, mpath, "content");
  if(cJSON_IsString(content)) {
    if(!content->valuestring[0])
      return fail_nonempty(t->err, mpath);
    cJSON_AddItemToArray(
        t->msgs, message("user", cJSON_CreateString(content->valuestring)));
    return 0;
  }
  if(!cJSON_GetArraySize(content))
    return fail_nonempty(t->err, mpath);
  tools = cJSON_CreateArray();
  rest = cJSON_CreateArray();
  parts = cJSON_CreateArray();
  cJSON_ArrayForEach(b, content)
  {
    char p[PATH_LEN];
    const char *type = NULL, *text = NULL;
    cJSON *part = NULL, *tm = NULL;

    join_index(p, cp, k++);
    if(!cJSON_IsObject(b))
      rc = fail_type(t->err, p, "dictionary");
    if(!rc)
      rc = need_tag(b, p, &type, t->err);
    if(rc)
      break;
    if(!strcmp(type, "text")) {
      rc = text_block(b, p, &text, t->err);
      if(!rc && text[0])
        part = anth_text_block(text, b);
    } else if(!strcmp(type, "image")) {
      rc = image_part(b, p, &part, t->err);
    } else if(!strcmp(type, "document")) {
      rc = document_part(b, p, &part, t->err);
    } else if(!strcmp(type, "tool_result")) {
      rc = tool_message(b, p, &tm, t->err);
      if(!rc)
        cJSON_AddItemToArray(tools, tm);
    } else if(!strcmp(type, "mid_conv_system")) {
      char sp[PATH_LEN];
      const cJSON *c = get(b, "content");

      join(sp, p, "content");
      if(!c) {
        rc = fail_missing(t->err, sp);
        break;
      }
      if(parts->child) {
        cJSON_AddItemToArray(rest, message("user", simplify(parts)));
        parts = cJSON_CreateArray();
      }
      rc = system_message(c, sp, rest, t->err);
    } else if(!strcmp(type, "tool_use") || !strcmp(type, "thinking") ||
              !strcmp(type, "redacted_thinking")) {
      rc = fail_block_role(t->err, p, type, "user");
    } else if(is_unsupported_block(type)) {
      rc = fail_block_unsupported(t->err, p, type);
    } else {
      rc = fail_tag(t->err, p, type, BLOCK_TAGS);
    }
    if(rc)
      break;
    if(part)
      cJSON_AddItemToArray(parts, part);
  }
  if(!rc && parts->child) {
    cJSON_AddItemToArray(rest, message("user", simplify(parts)));
    parts = NULL;
  }
  cJSON_Delete(parts);
  if(!rc && !tools->child && !rest->child)
    rc = fail_nonempty(t->err, mpath);
  if(rc) {
    cJSON_Delete(tools);
    cJSON_Delete(rest);
    return rc;
  }
  while(tools->child)
    cJSON_AddItemToArray(t->msgs,
                         cJSON_DetachItemViaPointer(tools, tools->child));
  while(rest->child)
    cJSON_AddItemToArray(t->msgs,
                         cJSON_DetachItemViaPointer(rest, rest->child));
  cJSON_Delete(tools);
  cJSON_Delete(rest);
  return 0;
}

static int tool_call(const cJSON *b, const char *path, cJSON **out,
                     struct api_error *err)
{
  const cJSON *input = get(b, "input");
  const char *id = NULL, *name = NULL;
  char p[PATH_LEN];
  cJSON *tc, *fn;
  char *args;
  int rc;

  rc = need_string(b, "id", path, &id, err);
  if(!rc)
    rc = need_string(b, "name", path, &name, err);
  if(rc)
    return rc;
  join(p, path, "input");
  if(!input)
    return fail_missing(err, p);
  if(!cJSON_IsObject(input))
    return fail_type(err, p, "dictionary");
  args = cJSON_PrintUnformatted(input);
  if(!args)
    abort();
  tc = cJSON_CreateObject();
  cJSON_AddStringToObject(tc, "id", id);
  cJSON_AddStringToObject(tc, "type", "function");
  fn = cJSON_AddObjectToObject(tc, "function");
  cJSON_AddStringToObject(fn, "name", name);
  cJSON_AddStringToObject(fn, "arguments", args);
  free(args);
  *out = tc;
  return 0;
}

/* final: the last message of the request, where empty content is a
 * harmless prefill of nothing. */
static int assistant_message(struct tr *t, const cJSON *content,
                             const char *mpath, int final)
{
  cJSON *parts, *calls, *details, *m;
  struct buf reasoning;
  const cJSON *b;
  char cp[PATH_LEN];
  int k = 0, rc = 0;

  join(cp, mpath, "content");
  if(cJSON_IsString(content)) {
    if(!content->valuestring[0])
      return final ? 0 : fail_nonempty(t->err, mpath);
    cJSON_AddItemToArray(
        t->msgs,
        message("assistant", cJSON_CreateString(content->valuestring)));
    return 0;
  }
  if(!cJSON_GetArraySize(content))
    return final ? 0 : fail_nonempty(t->err, mpath);
  parts = cJSON_CreateArray();
  calls = cJSON_CreateArray();
  details = cJSON_CreateArray();
  buf_init(&reasoning, (size_t)-1);
  cJSON_ArrayForEach(b, content)
  {
    char p[PATH_LEN];
    const char *type = NULL, *text = NULL;
    cJSON *tc = NULL;

    join_index(p, cp, k++);
    if(!cJSON_IsObject(b))
      rc = fail_type(t->err, p, "dictionary");
    if(!rc)
      rc = need_tag(b, p, &type, t->err);
    if(rc)
      break;
    if(!strcmp(type, "text")) {
      rc = text_block(b, p, &text, t->err);
      if(!rc && text[0])
        cJSON_AddItemToArray(parts, anth_text_block(text, b));
    } else if(!strcmp(type, "tool_use")) {
      rc = tool_call(b, p, &tc, t->err);
      if(!rc)
        cJSON_AddItemToArray(calls, tc);
    } else if(!strcmp(type, "thinking")) {
      rc = need_string(b, "thinking", p, &text, t->err);
      if(!rc)
        rc = opt_member(b, "signature", p, cJSON_IsString, "string", t->err);
      if(!rc && text[0]) {
        /* Several thinking blocks (interleaved thinking) read as one. */
        if(reasoning.len)
          buf_append(&reasoning, "\n", 1);
        buf_appendz(&reasoning, text);
      }
      /* Signed: kept to go back verbatim to the provider whose it is
       * (sig_in); an empty one is the gateway's rendering of unsigned
       * reasoning. */
      if(!rc && canon_json_str(b, "signature") &&
         canon_json_str(b, "signature")[0]) {
        char fmt[32];
        const char *sig =
            sig_in(canon_json_str(b, "signature"), fmt, sizeof(fmt));
        cJSON_AddItemToArray(details, canon_reasoning_text(text, sig, fmt));
      }
    } else if(!strcmp(type, "redacted_thinking")) {
      /* Encrypted: only Anthropic can read it; kept for Anthropic. */
      if(canon_json_str(b, "data") && canon_json_str(b, "data")[0])
        cJSON_AddItemToArray(
            details, canon_reasoning_encrypted(canon_json_str(b, "data"),
                                               CANON_FMT_ANTHROPIC));
      else
        note_dropped(&t->dropped, "redacted_thinking");
    } else if(!strcmp(type, "image") || !strcmp(type, "document") ||
              !strcmp(type, "tool_result") ||
              !strcmp(type, "mid_conv_system")) {
      rc = fail_block_role(t->err, p, type, "assistant");
    } else if(is_unsupported_block(type)) {
      rc = fail_block_unsupported(t->err, p, type);
    } else {
      rc = fail_tag(t->err, p, type, BLOCK_TAGS);
    }
    if(rc)
      break;
  }
  if(rc ||
     (!parts->child && !calls->child && !reasoning.len && !details->child)) {
    cJSON_Delete(parts);
    cJSON_Delete(calls);
    cJSON_Delete(details);
    buf_free(&reasoning);
    return rc;
  }
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "assistant");
  if(parts->child)
    cJSON_AddItemToObject(m, "content", simplify(parts));
  else {
    cJSON_AddNullToObject(m, "content");
    cJSON_Delete(parts);
  }
  if(reasoning.len)
    cJSON_AddStringToObject(m, "reasoning_content", reasoning.data);
  buf_free(&reasoning);
  if(details->child)
    cJSON_AddItemToObject(m, "reasoning_details", details);
  else
    cJSON_Delete(details);
  if(calls->child)
    cJSON_AddItemToObject(m, "tool_calls", calls);
  else
    cJSON_Delete(calls);
  cJSON_AddItemToArray(t->msgs, m);
  return 0;
}

static int messages(struct tr *t, const cJSON *req)
{
  const cJSON *msgs = get(req, "messages");
  const cJSON *m;
  int i = 0, n;

  if(!msgs)
    return fail_missing(t->err, "messages");
  if(!cJSON_IsArray(msgs))
    return fail_type(t->err, "messages", "list");
  n = cJSON_GetArraySize(msgs);
  if(!n)
    return fail(t->err, "invalid_value", "messages",
                "List should have at least 1 item after validation, not 0");
  cJSON_ArrayForEach(m, msgs)
  {
    char p[PATH_LEN], rp[PATH_LEN];
    const cJSON *content;
    const char *role;
    int rc;

    join_index(p, "messages", i);
    if(!cJSON_IsObject(m))
      return fail_type(t->err, p, "dictionary");
    rc = need_string(m, "role", p, &role, t->err);
    if(rc)
      return rc;
    content = get(m, "content");
    join(rp, p, "content");
    if(!content)
      return fail_missing(t->err, rp);
    if(!cJSON_IsString(content) && !cJSON_IsArray(content))
      return fail(t->err, "invalid_type", rp,
                  "Input should be a valid string or a valid list");
    if(!strcmp(role, "user"))
      rc = user_message(t, content, p);
    else if(!strcmp(role, "assistant"))
      rc = assistant_message(t, content, p, i == n - 1);
    else if(!strcmp(role, "system"))
      /* Not in Anthropic's docs, but Claude Code sends it: a system
       * message where it stands. */
      rc = system_message(content, rp, t->msgs, t->err);
    else {
      join(rp, p, "role");
      rc = fail(t->err, "invalid_value", rp,
                "Input should be 'user', 'assistant' or 'system'");
    }
    if(rc)
      return rc;
    i++;
  }
  return 0;
}

/* ---- tools ------------------------------------------------------------- */

/* Custom-tool fields with no canonical equivalent. */
static const char *const TOOL_EXTRAS[] = {
    "input_examples",
    "defer_loading",
    "eager_input_streaming",
    "allowed_callers",
};

static int custom_tool(struct tr *t, const cJSON *tool, const char *path,
                       cJSON *out)
{
  const cJSON *schema = get(tool, "input_schema");
  const cJSON *desc = get(tool, "description");
  const char *name = NULL;
  char p[PATH_LEN];
  cJSON *ct, *fn;
  int rc;

  rc = need_string(tool, "name", path, &name, t->err);
  /* The canonical request's own name rule (oai_chat.c), so nothing
   * accepted here fails there. */
  if(!rc && !oai_err_valid_name(name)) {
    join(p, path, "name");
    rc = fail(t->err, "invalid_value", p,
              "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
  }
  if(!rc)
    rc =
        opt_member(tool, "description", path, cJSON_IsString, "string", t->err);
  if(!rc)
    rc = opt_member(tool, "strict", path, cJSON_IsBool, "boolean", t->err);
  if(!rc)
    rc = opt_member(tool, "cache_control", path, cJSON_IsObject, "dictionary",
                    t->err);
  if(rc)
    return rc;
  join(p, path, "input_schema");
  if(!schema)
    return fail_missing(t->err, p);
  if(!cJSON_IsObject(schema))
    return fail_type(t->err, p, "dictionary");
  if(!cJSON_IsString(get(schema, "type")) ||
     strcmp(get(schema, "type")->valuestring, "object")) {
    char tp[PATH_LEN];
    join(tp, p, "type");
    return fail(t->err, "invalid_value", tp, "Input should be 'object'");
  }
  for(size_t i = 0; i < SB_ARRAY_LEN(TOOL_EXTRAS); i++)
    if(present(get(tool, TOOL_EXTRAS[i])))
      note_dropped2(&t->dropped, "tools", TOOL_EXTRAS[i]);
  ct = cJSON_CreateObject();
  cJSON_AddStringToObject(ct, "type", "function");
  fn = cJSON_AddObjectToObject(ct, "function");
  cJSON_AddStringToObject(fn, "name", name);
  if(cJSON_IsString(desc))
    cJSON_AddStringToObject(fn, "description", desc->valuestring);
  cJSON_AddItemToObject(fn, "parameters", cJSON_Duplicate(schema, 1));
  /* Both mean "the arguments are guaranteed to match the schema". */
  if(cJSON_IsTrue(get(tool, "strict")))
    cJSON_AddTrueToObject(fn, "strict");
  /* The Anthropic adapter reads a tool's breakpoint back from here. */
  anth_copy_cache_control(tool, ct);
  cJSON_AddItemToArray(out, ct);
  return 0;
}

static int tools(struct tr *t, const cJSON *req, cJSON *chat)
{
  const cJSON *list = get(req, "tools");
  const cJSON *tool;
  cJSON *out;
  int i = 0;

  if(!present(list))
    return 0;
  if(!cJSON_IsArray(list))
    return fail_type(t->err, "tools", "list");
  out = cJSON_CreateArray();
  cJSON_ArrayForEach(tool, list)
  {
    const cJSON *type = get(tool, "type");
    char p[PATH_LEN], tp[PATH_LEN];
    int rc = 0;

    join_index(p, "tools", i++);
    if(!cJSON_IsObject(tool))
      rc = fail_type(t->err, p, "dictionary");
    else if(present(type) && !cJSON_IsString(type)) {
      join(tp, p, "type");
      rc = fail_type(t->err, tp, "string");
    } else if(!present(type) || !strcmp(type->valuestring, "custom"))
      rc = custom_tool(t, tool, p, out);
    else
      /* Anthropic-defined tools (web_search_..., bash_..., text_editor_...,
       * computer_..., mcp_toolset, ...): their schema lives inside
       * Anthropic, and the server ones also run there. */
      note_dropped2(&t->dropped, "tools", type->valuestring);
    if(rc) {
      cJSON_Delete(out);
      return rc;
    }
  }
  if(out->child)
    cJSON_AddItemToObject(chat, "tools", out);
  else
    cJSON_Delete(out);
  return 0;
}

static int tool_choice(struct tr *t, const cJSON *req, cJSON *chat)
{
  const cJSON *tc = get(req, "tool_choice");
  const char *type = NULL, *name = NULL;
  cJSON *choice;
  int rc;

  if(!present(tc))
    return 0;
  if(!cJSON_IsObject(tc))
    return fail_type(t->err, "tool_choice", "dictionary");
  rc = need_tag(tc, "tool_choice", &type, t->err);
  if(!rc && strcmp(type, "auto") && strcmp(type, "any") &&
     strcmp(type, "tool") && strcmp(type, "none"))
    rc = fail_tag(t->err, "tool_choice", type, "'auto', 'any', 'tool', 'none'");
  if(!rc && !strcmp(type, "tool"))
    rc = need_string(tc, "name", "tool_choice", &name, t->err);
  if(!rc)
    rc = opt_member(tc, "disable_parallel_tool_use", "tool_choice",
                    cJSON_IsBool, "boolean", t->err);
  if(rc)
    return rc;
  if(!get(chat, "tools")) {
    /* OpenAI refuses a tool_choice without tools; none were left. */
    note_dropped(&t->dropped, "tool_choice");
    return 0;
  }
  if(!strcmp(type, "tool")) {
    choice = cJSON_CreateObject();
    cJSON_AddStringToObject(choice, "type", "function");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(choice, "function"), "name",
                            name);
  } else {
    choice = cJSON_CreateString(!strcmp(type, "any") ? "required" : type);
  }
  cJSON_AddItemToObject(chat, "tool_choice", choice);
  if(strcmp(type, "none") && cJSON_IsTrue(get(tc, "disable_parallel_tool_use")))
    cJSON_AddFalseToObject(chat, "parallel_tool_calls");
  return 0;
}

/* ---- reasoning and output format --------------------------------------- */

static int thinking(struct tr *t, const cJSON *req, double max_tokens,
                    const char **effort)
{
  const cJSON *th = get(req, "thinking");
  const cJSON *budget, *display;
  const char *type = NULL;
  int rc;

  *effort = NULL;
  if(!present(th))
    return 0;
  if(!cJSON_IsObject(th))
    return fail_type(t->err, "thinking", "dictionary");
  rc = need_tag(th, "thinking", &type, t->err);
  if(rc)
    return rc;
  display = get(th, "display");
  if(present(display) && !cJSON_IsString(display))
    return fail_type(t->err, "thinking.display", "string");
  /* "omitted" hides the thinking text; canonical streams always carry it. */
  if(cJSON_IsString(display) && strcmp(display->valuestring, "summarized"))
    note_dropped(&t->dropped, "thinking.display");
  if(!strcmp(type, "disabled"))
    return 0;
  if(!strcmp(type, "adaptive")) {
    *effort = "medium";
    return 0;
  }
  if(strcmp(type, "enabled"))
    return fail_tag(t->err, "thinking", type,
                    "'enabled', 'disabled', 'adaptive'");
  budget = get(th, "budget_tokens");
  if(!budget)
    return fail_missing(t->err, "thinking.budget_tokens");
  if(!cJSON_IsNumber(budget) || !is_int(budget->valuedouble))
    return fail_type(t->err, "thinking.budget_tokens", "integer");
  if(budget->valuedouble < MIN_THINKING_BUDGET)
    return fail(t->err, "invalid_value", "thinking.budget_tokens",
                "Input should be greater than or equal to %d",
                MIN_THINKING_BUDGET);
  if(budget->valuedouble >= max_tokens)
    return fail(t->err, "invalid_value", "max_tokens",
                "`max_tokens` must be greater than `thinking.budget_tokens`");
  *effort = budget->valuedouble < EFFORT_MEDIUM_FROM ? "low"
            : budget->valuedouble < EFFORT_HIGH_FROM ? "medium"
                                                     : "high";
  return 0;
}

/* {"type":"json_schema","schema":{...}} at path -> response_format. */
static int output_format(struct tr *t, const cJSON *f, const char *path,
                         cJSON **out)
{
  const cJSON *schema;
  const char *type = NULL;
  char p[PATH_LEN];
  cJSON *rf, *js;
  int rc;

  *out = NULL;
  if(!present(f))
    return 0;
  if(!cJSON_IsObject(f))
    return fail_type(t->err, path, "dictionary");
  rc = need_tag(f, path, &type, t->err);
  if(rc)
    return rc;
  if(strcmp(type, "json_schema"))
    return fail_tag(t->err, path, type, "'json_schema'");
  schema = get(f, "schema");
  join(p, path, "schema");
  if(!schema)
    return fail_missing(t->err, p);
  if(!cJSON_IsObject(schema))
    return fail_type(t->err, p, "dictionary");
  rf = cJSON_CreateObject();
  cJSON_AddStringToObject(rf, "type", "json_schema");
  js = cJSON_AddObjectToObject(rf, "json_schema");
  cJSON_AddStringToObject(js, "name", "output");
  cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(schema, 1));
  /* Anthropic's structured outputs are always constrained decoding. */
  cJSON_AddTrueToObject(js, "strict");
  *out = rf;
  return 0;
}

static const char *const EFFORTS[] = {"low", "medium", "high", "xhigh", "max"};

/* output_config {effort, format} and the older beta output_format. */
static int output_config(struct tr *t, const cJSON *req, cJSON *chat,
                         const char **effort)
{
  const cJSON *oc = get(req, "output_config");
  const cJSON *e, *k;
  cJSON *rf = NULL, *rf2 = NULL;
  int rc;

  rc = output_format(t, get(req, "output_format"), "output_format", &rf2);
  if(rc)
    return rc;
  if(present(oc)) {
    if(!cJSON_IsObject(oc))
      rc = fail_type(t->err, "output_config", "dictionary");
    e = get(oc, "effort");
    if(!rc && present(e)) {
      size_t i;

      if(!cJSON_IsString(e))
        rc = fail_type(t->err, "output_config.effort", "string");
      for(i = 0; !rc && i < SB_ARRAY_LEN(EFFORTS); i++)
        if(!strcmp(e->valuestring, EFFORTS[i]))
          break;
      if(!rc && i == SB_ARRAY_LEN(EFFORTS))
        rc = fail(t->err, "invalid_value", "output_config.effort",
                  "Input should be 'low', 'medium', 'high', 'xhigh' or "
                  "'max'");
      if(!rc)
        /* The direct equivalent: it wins over a budget-derived level. */
        *effort = EFFORTS[i];
    }
    if(!rc)
      rc = output_format(t, get(oc, "format"), "output_config.format", &rf);
    for(k = rc ? NULL : oc->child; k; k = k->next)
      if(strcmp(k->string, "effort") && strcmp(k->string, "format") &&
         present(k))
        note_dropped2(&t->dropped, "output_config", k->string);
  }
  if(rc) {
    cJSON_Delete(rf2);
    return rc;
  }
  if(rf) {
    cJSON_Delete(rf2);
    rf2 = rf;
  }
  if(rf2)
    cJSON_AddItemToObject(chat, "response_format", rf2);
  return 0;
}

/* ---- top level --------------------------------------------------------- */

/* Top-level fields translated below; every other one is dropped and
 * listed (service_tier, container, context_management, mcp_servers,
 * inference_geo, cache_control, ... and fields newer than this code). */
static const char *const HANDLED[] = {
    "model",       "max_tokens", "messages", "system",         "stream",
    "temperature", "top_p",      "top_k",    "stop_sequences", "tools",
    "tool_choice", "metadata",   "thinking", "output_config",  "output_format",
};

static int is_handled(const char *k)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(HANDLED); i++)
    if(!strcmp(k, HANDLED[i]))
      return 1;
  return 0;
}

static int scalars(struct tr *t, const cJSON *req, cJSON *chat,
                   double *max_tokens)
{
  const cJSON *model = get(req, "model");
  const cJSON *mt = get(req, "max_tokens");
  const cJSON *v;
  int rc;

  if(!model)
    return fail_missing(t->err, "model");
  if(!cJSON_IsString(model))
    return fail_type(t->err, "model", "string");
  if(!model->valuestring[0])
    return fail(t->err, "invalid_value", "model",
                "String should have at least 1 character");
  if(!mt)
    return fail_missing(t->err, "max_tokens");
  rc = opt_number(req, "max_tokens", 1, 1, INT64_LIMIT - 1024, t->err);
  if(!rc && cJSON_IsNull(mt))
    rc = fail_type(t->err, "max_tokens", "integer");
  v = get(req, "stream");
  if(!rc && present(v) && !cJSON_IsBool(v))
    rc = fail_type(t->err, "stream", "boolean");
  if(!rc)
    rc = opt_number(req, "temperature", 0, 0, 1, t->err);
  if(!rc)
    rc = opt_number(req, "top_p", 0, 0, 1, t->err);
  if(!rc)
    rc = opt_number(req, "top_k", 1, 0, INT64_LIMIT - 1024, t->err);
  if(rc)
    return rc;
  *max_tokens = mt->valuedouble;
  cJSON_AddStringToObject(chat, "model", model->valuestring);
  /* max_completion_tokens, like Anthropic's max_tokens, bounds reasoning
   * and answer together; OpenAI's reasoning models refuse max_tokens. */
  cJSON_AddNumberToObject(chat, "max_completion_tokens", mt->valuedouble);
  if(cJSON_IsTrue(get(req, "stream"))) {
    cJSON_AddTrueToObject(chat, "stream");
    cJSON_AddTrueToObject(cJSON_AddObjectToObject(chat, "stream_options"),
                          "include_usage");
  } else {
    cJSON_AddFalseToObject(chat, "stream");
  }
  if(cJSON_IsNumber(v = get(req, "temperature")))
    cJSON_AddNumberToObject(chat, "temperature", v->valuedouble);
  if(cJSON_IsNumber(v = get(req, "top_p")))
    cJSON_AddNumberToObject(chat, "top_p", v->valuedouble);
  if(cJSON_IsNumber(v = get(req, "top_k")))
    cJSON_AddNumberToObject(chat, "top_k", v->valuedouble);
  return 0;
}

static int stop_sequences(struct tr *t, const cJSON *req, cJSON *chat)
{
  const cJSON *ss = get(req, "stop_sequences");
  const cJSON *s;
  int i = 0, n;

  if(!present(ss))
    return 0;
  if(!cJSON_IsArray(ss))
    return fail_type(t->err, "stop_sequences", "list");
  cJSON_ArrayForEach(s, ss)
  {
    char p[PATH_LEN];

    join_index(p, "stop_sequences", i++);
    if(!cJSON_IsString(s))
      return fail_type(t->err, p, "string");
  }
  n = cJSON_GetArraySize(ss);
  if(n > MAX_STOP)
    return fail(t->err, "unsupported_value", "stop_sequences",
                "at most %d stop sequences are supported through the "
                "gateway, got %d",
                MAX_STOP, n);
  if(n)
    cJSON_AddItemToObject(chat, "stop", cJSON_Duplicate(ss, 1));
  return 0;
}

static int metadata(struct tr *t, const cJSON *req, cJSON *chat)
{
  const cJSON *md = get(req, "metadata");
  const cJSON *u, *k;

  if(!present(md))
    return 0;
  if(!cJSON_IsObject(md))
    return fail_type(t->err, "metadata", "dictionary");
  u = get(md, "user_id");
  if(present(u) && !cJSON_IsString(u))
    return fail_type(t->err, "metadata.user_id", "string");
  if(cJSON_IsString(u) && u->valuestring[0])
    cJSON_AddStringToObject(chat, "user", u->valuestring);
  for(k = md->child; k; k = k->next)
    if(strcmp(k->string, "user_id") && present(k))
      note_dropped2(&t->dropped, "metadata", k->string);
  return 0;
}

int anth_msgs_to_chat(const cJSON *req, cJSON **chat, char **dropped,
                      struct api_error *err)
{
  struct tr t = {.err = err};
  const char *effort = NULL;
  const cJSON *sys, *k;
  double max_tokens = 0;
  cJSON *c;
  int rc;

  *chat = NULL;
  *dropped = NULL;
  if(!cJSON_IsObject(req)) {
    api_error_set(err, 400, T_ERR, "invalid_json", NULL,
                  "The request body must be a JSON object.");
    return SB_EINVAL;
  }
  c = cJSON_CreateObject();
  t.msgs = cJSON_CreateArray();
  rc = scalars(&t, req, c, &max_tokens);
  sys = get(req, "system");
  if(!rc && present(sys))
    rc = system_message(sys, "system", t.msgs, err);
  if(!rc)
    rc = messages(&t, req);
  if(!rc && !t.msgs->child)
    rc = fail(err, "invalid_value", "messages",
              "at least one message with non-empty content is required");
  if(!rc) {
    cJSON_AddItemToObject(c, "messages", t.msgs);
    t.msgs = NULL;
    rc = stop_sequences(&t, req, c);
  }
  if(!rc)
    rc = tools(&t, req, c);
  if(!rc)
    rc = tool_choice(&t, req, c);
  if(!rc)
    rc = metadata(&t, req, c);
  if(!rc)
    rc = thinking(&t, req, max_tokens, &effort);
  if(!rc)
    rc = output_config(&t, req, c, &effort);
  if(rc) {
    cJSON_Delete(t.msgs);
    cJSON_Delete(c);
    free(t.dropped);
    return rc;
  }
  if(effort)
    cJSON_AddStringToObject(c, "reasoning_effort", effort);
  for(k = req->child; k; k = k->next)
    if(k->string && !is_handled(k->string) && present(k))
      note_dropped(&t.dropped, k->string);
  *chat = c;
  *dropped = t.dropped;
  return 0;
}

/* ---- non-streamed rendering -------------------------------------------- */

const char *anth_stop_reason(const char *finish_reason)
{
  if(!finish_reason)
    return "end_turn";
  if(!strcmp(finish_reason, "length"))
    return "max_tokens";
  if(!strcmp(finish_reason, "tool_calls") ||
     !strcmp(finish_reason, "function_call"))
    return "tool_use";
  if(!strcmp(finish_reason, "content_filter"))
    return "refusal";
  return "end_turn";
}

static int64_t num_or(const cJSON *v, int64_t dflt)
{
  return canon_json_count(v, dflt);
}

/* Reasoning tokens as Anthropic reports thinking (inside output_tokens,
 * and, since the 2026 API, output_tokens_details.thinking_tokens); left
 * out when there are none. */
static void add_thinking_tokens(cJSON *u, int64_t n)
{
  if(n > 0)
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "output_tokens_details"),
                            "thinking_tokens", (double)n);
}

static void add_tool_id(cJSON *b, const char *id)
{
  char gen[40];

  if(!id || !id[0]) {
    sb_random_id(gen, sizeof(gen), "toolu_");
    id = gen;
  }
  cJSON_AddStringToObject(b, "id", id);
}

/* The text of canonical content: a string, or its text parts joined. */
static char *content_text(const cJSON *content)
{
  struct buf s;
  const cJSON *p;

  if(cJSON_IsString(content))
    return sb_strdup(content->valuestring);
  buf_init(&s, (size_t)-1);
  buf_append(&s, "", 0);
  if(!cJSON_IsArray(content))
    content = NULL;
  cJSON_ArrayForEach(p, content)
  {
    const cJSON *text = get(p, "text");
    if(cJSON_IsString(text))
      buf_appendz(&s, text->valuestring);
  }
  return buf_take(&s, NULL);
}

int anth_tool_use_blocks(const cJSON *calls, int strict, const char *path,
                         cJSON *blocks, struct api_error *err)
{
  const cJSON *tc;
  int j = 0;

  if(!cJSON_IsArray(calls))
    return 0;
  cJSON_ArrayForEach(tc, calls)
  {
    const cJSON *fn = get(tc, "function");
    const char *id = canon_json_str(tc, "id");
    const char *name = canon_json_str(fn, "name");
    const char *args = canon_json_str(fn, "arguments");
    const char *type = canon_json_str(tc, "type");
    char param[128];
    cJSON *input = NULL, *b;

    snprintf(param, sizeof(param), "%s[%d]", path, j);
    if(strict && type && strcmp(type, "function"))
      return canon_reject(
          err, 400, "unsupported_value", param,
          "Tool calls of type '%s' are not supported by Anthropic.", type);
    if(strict && (!id || !name))
      return canon_reject(err, 400, "missing_required_parameter", param,
                          "Tool call '%s' needs an id and a function name.",
                          param);
    input =
        args && !canon_blank(args) ? cJSON_Parse(args) : cJSON_CreateObject();
    if(!cJSON_IsObject(input)) {
      cJSON_Delete(input);
      if(strict) {
        snprintf(param, sizeof(param), "%s[%d].function.arguments", path, j);
        return canon_reject(
            err, 400, "invalid_value", param,
            "'%s' must be a JSON object for Anthropic, which takes "
            "tool arguments as objects.",
            param);
      }
      input = cJSON_CreateObject();
    }
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "tool_use");
    add_tool_id(b, id);
    cJSON_AddStringToObject(b, "name", name ? name : "");
    cJSON_AddItemToObject(b, "input", input);
    cJSON_AddItemToArray(blocks, b);
    j++;
  }
  return 0;
}

int anth_thinking_blocks(const cJSON *details, cJSON *blocks, int foreign)
{
  const cJSON *d;
  int n = 0;

  cJSON_ArrayForEach(d, details)
  {
    cJSON *b;

    int anthropic = canon_reasoning_is(d, CANON_FMT_ANTHROPIC);

    if(!anthropic && !(foreign && canon_reasoning_is(d, CANON_FMT_BEDROCK)))
      continue;
    b = cJSON_CreateObject();
    if(anthropic && !strcmp(canon_json_str(d, "type"), "reasoning.encrypted")) {
      cJSON_AddStringToObject(b, "type", "redacted_thinking");
      cJSON_AddStringToObject(b, "data", canon_json_str(d, "data"));
    } else if(canon_json_str(d, "signature")) {
      char *sig =
          sig_out(canon_json_str(d, "format"), canon_json_str(d, "signature"));
      cJSON_AddStringToObject(b, "type", "thinking");
      cJSON_AddStringToObject(b, "thinking", canon_json_str(d, "text"));
      cJSON_AddStringToObject(b, "signature", sig);
      free(sig);
    } else {
      cJSON_Delete(b);
      continue;
    }
    cJSON_AddItemToArray(blocks, b);
    n++;
  }
  return n;
}

cJSON *anth_msgs_from_completion(const cJSON *completion, const char *id,
                                 const char *model)
{
  const cJSON *choice = cJSON_GetArrayItem(get(completion, "choices"), 0);
  const cJSON *msg = get(choice, "message");
  const cJSON *usage = get(completion, "usage");
  const cJSON *fr = get(choice, "finish_reason");
  const cJSON *rc = get(msg, "reasoning_content");
  const cJSON *refusal = get(msg, "refusal");
  const cJSON *calls;
  cJSON *m = cJSON_CreateObject();
  cJSON *content, *b, *u;
  const char *stop;
  int64_t prompt, cached;
  char *text;
  int called = 0;

  cJSON_AddStringToObject(m, "id", id);
  cJSON_AddStringToObject(m, "type", "message");
  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON_AddStringToObject(m, "model", model);
  content = cJSON_AddArrayToObject(m, "content");
  if(anth_thinking_blocks(get(msg, "reasoning_details"), content, 1)) {
    /* Anthropic's own blocks, signed, as it sent them. */
  } else if(cJSON_IsString(rc) && rc->valuestring[0]) {
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "thinking");
    cJSON_AddStringToObject(b, "thinking", rc->valuestring);
    cJSON_AddStringToObject(b, "signature", "");
    cJSON_AddItemToArray(content, b);
  }
  text = content_text(get(msg, "content"));
  /* An OpenAI refusal is the model's answer; Anthropic puts it in text. */
  if(!text[0] && cJSON_IsString(refusal)) {
    free(text);
    text = sb_strdup(refusal->valuestring);
  }
  if(text[0]) {
    b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "text");
    cJSON_AddStringToObject(b, "text", text);
    cJSON_AddItemToArray(content, b);
  }
  free(text);
  calls = get(msg, "tool_calls");
  anth_tool_use_blocks(calls, 0, "tool_calls", content, NULL);
  called = cJSON_GetArraySize(calls) > 0;
  stop = anth_stop_reason(cJSON_IsString(fr) ? fr->valuestring : NULL);
  /* Some OpenAI-compatible servers finish a tool call with "stop". */
  if(called && !strcmp(stop, "end_turn"))
    stop = "tool_use";
  cJSON_AddStringToObject(m, "stop_reason", stop);
  cJSON_AddNullToObject(m, "stop_sequence");
  prompt = num_or(get(usage, "prompt_tokens"), 0);
  cached = num_or(get(get(usage, "prompt_tokens_details"), "cached_tokens"), 0);
  u = cJSON_AddObjectToObject(m, "usage");
  cJSON_AddNumberToObject(u, "input_tokens",
                          (double)(prompt > cached ? prompt - cached : 0));
  cJSON_AddNumberToObject(u, "output_tokens",
                          (double)num_or(get(usage, "completion_tokens"), 0));
  cJSON_AddNumberToObject(u, "cache_creation_input_tokens", 0);
  cJSON_AddNumberToObject(u, "cache_read_input_tokens", (double)cached);
  add_thinking_tokens(u, num_or(get(get(usage, "completion_tokens_details"),
                                    "reasoning_tokens"),
                                0));
  return m;
}

/* ---- stream rendering -------------------------------------------------- */

enum blk { BLK_NONE, BLK_TEXT, BLK_THINKING, BLK_TOOL };
enum tstate { T_PENDING, T_OPEN, T_CLOSED };

/* Just enough of a JSON scanner to tell when a value made of {} and []
 * is complete: after that, no further fragment can belong to it. */
struct jscan {
  int depth;
  unsigned in_str : 1, esc : 1, done : 1;
};

struct anth_tool {
  int index; /* canonical tool-call index */
  char *id;
  char *name;
  enum tstate state;
  struct buf held; /* argument fragments not shown yet (T_PENDING) */
  struct jscan scan;
};

struct anth_stream {
  char *id;
  char *model;
  unsigned started : 1, finished : 1, failed : 1, ended : 1, saw_tool : 1,
      signed_ : 1;
  enum blk open; /* the open block, if any */
  int block;     /* its index */
  int next_block;
  int open_tool; /* tools[] index of the open tool block, or -1 */
  struct anth_tool *tools;
  size_t ntools, cap;
  size_t held_bytes;
  const char *stop; /* from CANON_EV_FINISH, or NULL */
  struct canon_usage usage;
};

static void jscan_feed(struct jscan *j, const char *p, size_t n)
{
  for(size_t i = 0; i < n && !j->done; i++) {
    char ch = p[i];

    if(j->in_str) {
      if(j->esc)
        j->esc = 0;
      else if(ch == '\\')
        j->esc = 1;
      else if(ch == '"')
        j->in_str = 0;
    } else if(ch == '"') {
      j->in_str = 1;
    } else if(ch == '{' || ch == '[') {
      j->depth++;
    } else if((ch == '}' || ch == ']') && j->depth > 0) {
      if(--j->depth == 0)
        j->done = 1;
    }
  }
}

struct anth_stream *anth_stream_new(const char *id, const char *model)
{
  struct anth_stream *s = sb_calloc(1, sizeof(*s));

  s->id = sb_strdup(id ? id : "");
  s->model = sb_strdup(model ? model : "");
  s->open_tool = -1;
  canon_usage_init(&s->usage);
  return s;
}

void anth_stream_free(struct anth_stream *s)
{
  if(!s)
    return;
  for(size_t i = 0; i < s->ntools; i++) {
    free(s->tools[i].id);
    free(s->tools[i].name);
    buf_free(&s->tools[i].held);
  }
  free(s->tools);
  free(s->id);
  free(s->model);
  free(s);
}

/* Write o (whose "type" names the event) as one SSE event; takes o. */
static int emit(cJSON *o, struct buf *out)
{
  const char *type = get(o, "type")->valuestring;
  char *json = cJSON_PrintUnformatted(o);
  int rc;

  if(!json)
    abort();
  rc = sse_write_event(out, type, json, strlen(json));
  free(json);
  cJSON_Delete(o);
  return rc;
}

static cJSON *event(const char *type)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "type", type);
  return o;
}

static void add_strn(cJSON *o, const char *k, const char *p, size_t n)
{
  char *s = sb_strndup(p ? p : "", p ? n : 0);

  cJSON_AddStringToObject(o, k, s);
  free(s);
}

static void add_usage(cJSON *u, const struct canon_usage *cu)
{
  int64_t cached = cu->cached_tokens > 0 ? cu->cached_tokens : 0;
  int64_t prompt = cu->prompt_tokens > 0 ? cu->prompt_tokens : 0;

  cJSON_AddNumberToObject(u, "input_tokens",
                          (double)(prompt > cached ? prompt - cached : 0));
  cJSON_AddNumberToObject(
      u, "output_tokens",
      (double)(cu->completion_tokens > 0 ? cu->completion_tokens : 0));
}

static int start(struct anth_stream *s, struct buf *out)
{
  cJSON *o, *m;
  int rc;

  if(s->started)
    return 0;
  s->started = 1;
  o = event("message_start");
  m = cJSON_AddObjectToObject(o, "message");
  cJSON_AddStringToObject(m, "id", s->id);
  cJSON_AddStringToObject(m, "type", "message");
  cJSON_AddStringToObject(m, "role", "assistant");
  cJSON_AddStringToObject(m, "model", s->model);
  cJSON_AddArrayToObject(m, "content");
  cJSON_AddNullToObject(m, "stop_reason");
  cJSON_AddNullToObject(m, "stop_sequence");
  add_usage(cJSON_AddObjectToObject(m, "usage"), &s->usage);
  rc = emit(o, out);
  if(!rc)
    rc = emit(event("ping"), out);
  return rc;
}

static int block_stop(struct anth_stream *s, struct buf *out)
{
  cJSON *o;

  if(s->open == BLK_NONE)
    return 0;
  if(s->open == BLK_TOOL)
    s->tools[s->open_tool].state = T_CLOSED;
  s->open = BLK_NONE;
  s->open_tool = -1;
  o = event("content_block_stop");
  cJSON_AddNumberToObject(o, "index", s->block);
  return emit(o, out);
}

/* Open block kind at the next index; takes cb, the content_block. */
static int block_start(struct anth_stream *s, enum blk kind, cJSON *cb,
                       struct buf *out)
{
  cJSON *o = event("content_block_start");

  s->block = s->next_block++;
  s->open = kind;
  s->signed_ = 0;
  cJSON_AddNumberToObject(o, "index", s->block);
  cJSON_AddItemToObject(o, "content_block", cb);
  return emit(o, out);
}

static int delta(struct anth_stream *s, const char *type, const char *key,
                 const char *p, size_t n, struct buf *out)
{
  cJSON *o = event("content_block_delta");
  cJSON *d;

  cJSON_AddNumberToObject(o, "index", s->block);
  d = cJSON_AddObjectToObject(o, "delta");
  cJSON_AddStringToObject(d, "type", type);
  add_strn(d, key, p, n);
  return emit(o, out);
}

/* Close whatever is open and open a block of kind text or thinking. */
static int open_content(struct anth_stream *s, enum blk kind, struct buf *out)
{
  cJSON *cb = cJSON_CreateObject();
  int rc = block_stop(s, out);

  if(rc) {
    cJSON_Delete(cb);
    return rc;
  }
  if(kind == BLK_TEXT) {
    cJSON_AddStringToObject(cb, "type", "text");
    cJSON_AddStringToObject(cb, "text", "");
  } else {
    cJSON_AddStringToObject(cb, "type", "thinking");
    cJSON_AddStringToObject(cb, "thinking", "");
    cJSON_AddStringToObject(cb, "signature", "");
  }
  return block_start(s, kind, cb, out);
}

/* Open the block of the earliest pending tool call (nothing may be open)
 * and show its held-back arguments. *opened tells whether there was one. */
static int open_pending(struct anth_stream *s, int *opened, struct buf *out)
{
  struct anth_tool *t = NULL;
  cJSON *cb;
  size_t i;
  int rc;

  *opened = 0;
  for(i = 0; i < s->ntools && !t; i++)
    if(s->tools[i].state == T_PENDING)
      t = &s->tools[i];
  if(!t)
    return 0;
  *opened = 1;
  cb = cJSON_CreateObject();
  cJSON_AddStringToObject(cb, "type", "tool_use");
  cJSON_AddStringToObject(cb, "id", t->id);
  cJSON_AddStringToObject(cb, "name", t->name);
  cJSON_AddObjectToObject(cb, "input");
  t->state = T_OPEN;
  s->open_tool = (int)(t - s->tools);
  rc = block_start(s, BLK_TOOL, cb, out);
  if(!rc && t->held.len) {
    rc = delta(s, "input_json_delta", "partial_json", t->held.data, t->held.len,
               out);
    jscan_feed(&t->scan, t->held.data, t->held.len);
  }
  s->held_bytes -= t->held.len;
  buf_free(&t->held);
  return rc;
}

static int has_pending(const struct anth_stream *s)
{
  for(size_t i = 0; i < s->ntools; i++)
    if(s->tools[i].state == T_PENDING)
      return 1;
  return 0;
}

/* Move on from the open tool call to a held-back one once the open one's
 * arguments are a complete JSON value: an Anthropic block cannot be
 * reopened, so it is closed only when nothing more can belong to it. */
static int advance(struct anth_stream *s, struct buf *out)
{
  int rc = 0, opened;

  while(!rc && s->open == BLK_TOOL && s->tools[s->open_tool].scan.done &&
        has_pending(s)) {
    rc = block_stop(s, out);
    if(!rc)
      rc = open_pending(s, &opened, out);
  }
  return rc;
}

/* Tool activity while text or thinking is open switches to tool calls. */
static int to_tools(struct anth_stream *s, struct buf *out)
{
  int opened, rc = 0;

  if(s->open != BLK_TOOL) {
    rc = block_stop(s, out);
    if(!rc)
      rc = open_pending(s, &opened, out);
  }
  if(!rc)
    rc = advance(s, out);
  return rc;
}

static struct anth_tool *find_tool(struct anth_stream *s, int index)
{
  for(size_t i = 0; i < s->ntools; i++)
    if(s->tools[i].index == index)
      return &s->tools[i];
  return NULL;
}

static int hold(struct anth_stream *s, struct anth_tool *t, const char *p,
                size_t n)
{
  if(n > ANTH_STREAM_MAX_PENDING - s->held_bytes)
    return SB_ETOOBIG;
  if(buf_append(&t->held, p, n))
    return SB_ETOOBIG;
  s->held_bytes += n;
  return 0;
}

static int tool_args(struct anth_stream *s, struct anth_tool *t, const char *p,
                     size_t n, struct buf *out)
{
  int rc;

  if(!n)
    return 0;
  switch(t->state) {
  case T_OPEN:
    rc = delta(s, "input_json_delta", "partial_json", p, n, out);
    jscan_feed(&t->scan, p, n);
    return rc ? rc : advance(s, out);
  case T_PENDING: rc = hold(s, t, p, n); return rc ? rc : to_tools(s, out);
  case T_CLOSED: break;
  }
  /* Its block was stopped by text or a finish in between; Anthropic
   * cannot take more, and a complete JSON value takes nothing more. */
  return 0;
}

static int tool_start(struct anth_stream *s, const struct canon_ev *ev,
                      struct buf *out)
{
  struct anth_tool *t = find_tool(s, ev->index);
  char gen[40];
  int rc;

  s->saw_tool = 1;
  if(t) /* a repeated start: its text is more arguments */
    return tool_args(s, t, ev->text, ev->len, out);
  if(s->ntools == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 4;
    s->tools = sb_realloc(s->tools, s->cap * sizeof(*s->tools));
  }
  t = &s->tools[s->ntools++];
  memset(t, 0, sizeof(*t));
  t->index = ev->index;
  if(!ev->id || !ev->id[0])
    sb_random_id(gen, sizeof(gen), "toolu_");
  t->id = sb_strdup(ev->id && ev->id[0] ? ev->id : gen);
  t->name = sb_strdup(ev->name ? ev->name : "");
  t->state = T_PENDING;
  buf_init(&t->held, ANTH_STREAM_MAX_PENDING);
  rc = ev->len ? hold(s, t, ev->text, ev->len) : 0;
  return rc ? rc : to_tools(s, out);
}

static int reasoning(struct anth_stream *s, const struct canon_ev *ev,
                     struct buf *out)
{
  int rc = 0;

  if(ev->len) {
    /* After its signature a thinking block is finished. */
    if(s->open != BLK_THINKING || s->signed_)
      rc = open_content(s, BLK_THINKING, out);
    if(!rc)
      rc = delta(s, "thinking_delta", "thinking", ev->text, ev->len, out);
  }
  if(!rc && ev->signature && ev->signature[0]) {
    char *sig = sig_out(ev->format, ev->signature);
    if(s->open != BLK_THINKING || s->signed_)
      rc = open_content(s, BLK_THINKING, out);
    if(!rc)
      rc = delta(s, "signature_delta", "signature", sig, strlen(sig), out);
    free(sig);
    s->signed_ = 1;
  }
  return rc;
}

/* Close the open block, then show every held-back tool call whole. */
static int flush(struct anth_stream *s, struct buf *out)
{
  int opened = 1, rc = 0;

  while(!rc && opened) {
    rc = block_stop(s, out);
    if(!rc)
      rc = open_pending(s, &opened, out);
  }
  return rc;
}

int anth_stream_render(struct anth_stream *s, const struct canon_ev *ev,
                       struct buf *out)
{
  int rc;

  if(s->failed || s->ended)
    return 0;
  if(ev->type == CANON_EV_ERROR) {
    char *json = api_error_anthropic_json(ev->err);
    s->failed = 1;
    rc = sse_write_event(out, "error", json, strlen(json));
    free(json);
    return rc;
  }
  if(ev->type == CANON_EV_USAGE) {
    s->usage = ev->usage;
    return 0;
  }
  rc = start(s, out);
  if(rc)
    return rc;
  switch(ev->type) {
  case CANON_EV_TEXT:
    if(!ev->len)
      return 0;
    if(s->open != BLK_TEXT)
      rc = open_content(s, BLK_TEXT, out);
    return rc ? rc : delta(s, "text_delta", "text", ev->text, ev->len, out);
  case CANON_EV_REASONING: return reasoning(s, ev, out);
  case CANON_EV_TOOL_START: return tool_start(s, ev, out);
  case CANON_EV_TOOL_ARGS: {
    struct anth_tool *t = find_tool(s, ev->index);
    /* Arguments of a call that never started have no block to go to. */
    return t ? tool_args(s, t, ev->text, ev->len, out) : 0;
  }
  case CANON_EV_FINISH:
    s->stop = anth_stop_reason(ev->finish_reason);
    s->finished = 1;
    return flush(s, out);
  default: return 0;
  }
}

int anth_stream_end(struct anth_stream *s, struct buf *out)
{
  const char *stop;
  cJSON *o, *d, *u;
  int rc;

  if(s->failed || s->ended)
    return 0;
  rc = start(s, out);
  if(!rc)
    rc = flush(s, out);
  if(rc)
    return rc;
  s->ended = 1;
  stop = s->stop ? s->stop : "end_turn";
  /* Some OpenAI-compatible servers finish a tool call with "stop". */
  if(s->saw_tool && !strcmp(stop, "end_turn"))
    stop = "tool_use";
  o = event("message_delta");
  d = cJSON_AddObjectToObject(o, "delta");
  cJSON_AddStringToObject(d, "stop_reason", stop);
  cJSON_AddNullToObject(d, "stop_sequence");
  u = cJSON_AddObjectToObject(o, "usage");
  add_usage(u, &s->usage);
  cJSON_AddNumberToObject(
      u, "cache_read_input_tokens",
      (double)(s->usage.cached_tokens > 0 ? s->usage.cached_tokens : 0));
  add_thinking_tokens(u, s->usage.reasoning_tokens);
  rc = emit(o, out);
  if(!rc)
    rc = emit(event("message_stop"), out);
  return rc;
}
