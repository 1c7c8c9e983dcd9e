/*
 * trim.c - fitting a canonical chat history into a context window
 * (trim.h has the rules).
 */
#include "codec/trim.h"
#include "base/buf.h"
#include "base/sb.h"
#include "codec/canon_doc.h"

#include <stdlib.h>
#include <string.h>

/* The largest estimate kept: sums of a few stay far from INT64_MAX. */
#define EST_MAX ((int64_t)1 << 50)
/* The most one message may weigh in a trim: INT_MAX of them still sum
 * below 2^62, so the running total needs no saturation. */
#define MSG_MAX ((int64_t)INT32_MAX)

static int64_t add_sat(int64_t a, int64_t b)
{
  return a > EST_MAX - b ? EST_MAX : a + b;
}

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 when it
 * is not a valid one (overlong forms and surrogates are not checked: an
 * estimate need not tell them apart). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
  size_t len;

  if(s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2;
  else if(s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3;
  else if(s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4;
  else
    return 0;
  if(len > n)
    return 0;
  for(size_t i = 1; i < len; i++)
    if((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

int64_t trim_estimate_text(const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  uint64_t ascii = 0, other = 0;
  size_t i = 0;

  while(i < n) {
    size_t len;
    if(u[i] < 0x80) {
      ascii++;
      i++;
      continue;
    }
    len = utf8_len(u + i, n - i);
    other++;
    i += len ? len : 1;
  }
  /* Both are at most n, which is far below EST_MAX for any real text. */
  return add_sat((int64_t)((ascii + 3) / 4), (int64_t)other);
}

static int64_t str_tokens(const cJSON *o, const char *k)
{
  const char *s = canon_json_str(o, k);

  return s ? trim_estimate_text(s, strlen(s)) : 0;
}

int64_t trim_estimate_json(const cJSON *v)
{
  char *text;
  int64_t t;

  if(!v)
    return 0;
  text = cJSON_PrintUnformatted(v);
  if(!text)
    abort(); /* only when out of memory, which aborts everywhere else */
  t = trim_estimate_text(text, strlen(text));
  free(text);
  return t;
}

static int64_t part_tokens(const cJSON *part)
{
  const char *type = canon_json_str(part, "type");

  if(!type)
    return trim_estimate_json(part);
  if(!strcmp(type, "text"))
    return str_tokens(part, "text");
  if(!strcmp(type, "refusal"))
    return str_tokens(part, "refusal");
  if(!strcmp(type, "image_url"))
    return TRIM_IMAGE_TOKENS;
  if(!strcmp(type, "input_audio") || !strcmp(type, "file"))
    return TRIM_ATTACHMENT_TOKENS;
  return trim_estimate_json(part);
}

/* A tool call {id, type, function: {name, arguments}} or a legacy
 * function_call {name, arguments}. */
static int64_t call_tokens(const cJSON *fn)
{
  return add_sat(TRIM_TOOL_CALL_TOKENS,
                 add_sat(str_tokens(fn, "name"), str_tokens(fn, "arguments")));
}

int64_t trim_estimate_message(const cJSON *msg)
{
  int64_t t = TRIM_MESSAGE_TOKENS;
  const cJSON *content, *v;

  if(!cJSON_IsObject(msg))
    return t;
  t = add_sat(t, str_tokens(msg, "name"));
  t = add_sat(t, str_tokens(msg, "tool_call_id"));
  t = add_sat(t, str_tokens(msg, "reasoning_content"));
  content = canon_json_get(msg, "content");
  if(cJSON_IsString(content))
    t = add_sat(t, trim_estimate_text(content->valuestring,
                                      strlen(content->valuestring)));
  else if(cJSON_IsArray(content))
    cJSON_ArrayForEach(v, content) t = add_sat(t, part_tokens(v));
  v = canon_json_get(msg, "tool_calls");
  if(cJSON_IsArray(v)) {
    const cJSON *call;
    cJSON_ArrayForEach(call, v)
    {
      t = add_sat(t, str_tokens(call, "id"));
      t = add_sat(t, call_tokens(canon_json_get(call, "function")));
    }
  }
  v = canon_json_get(msg, "function_call");
  if(cJSON_IsObject(v))
    t = add_sat(t, call_tokens(v));
  return t;
}

int64_t trim_estimate_messages(const cJSON *msgs)
{
  const cJSON *m;
  int64_t t = 0;

  if(!cJSON_IsArray(msgs))
    return 0;
  cJSON_ArrayForEach(m, msgs) t = add_sat(t, trim_estimate_message(m));
  return t;
}

static int64_t default_estimate(const cJSON *msg, void *ud)
{
  (void)ud;
  return trim_estimate_message(msg);
}

static int role_is(const cJSON *msg, const char *role)
{
  const char *r = canon_json_str(msg, "role");

  return r && !strcmp(r, role);
}

/* Never dropped, wherever they sit. */
static int pinned(const cJSON *msg)
{
  return role_is(msg, "system") || role_is(msg, "developer");
}

/* Whether the assistant message msg made a tool call that one of the
 * turn's tool messages (msgs[from..n)) answers. */
static int answered_in(const cJSON *msg, cJSON **msgs, int from, int n)
{
  const cJSON *calls = canon_json_get(msg, "tool_calls"), *call;

  if(!cJSON_IsArray(calls))
    return 0;
  cJSON_ArrayForEach(call, calls)
  {
    const char *id = canon_json_str(call, "id");
    if(!id)
      continue;
    for(int i = from; i < n; i++) {
      const char *ans = canon_json_str(msgs[i], "tool_call_id");
      if(role_is(msgs[i], "tool") && ans && !strcmp(ans, id))
        return 1;
    }
  }
  return 0;
}

int trim_history(cJSON *msgs, int nhistory, const struct trim_params *p,
                 struct trim_result *res)
{
  trim_estimate_fn est = p->estimate ? p->estimate : default_estimate;
  int64_t budget, total, max_output, fixed;
  cJSON **items;
  int64_t *tok;
  int *ex, *drop;
  int n, i, limit, last_ex = -1;

  memset(res, 0, sizeof(*res));
  res->fits = 1;
  if(!cJSON_IsArray(msgs))
    return SB_EINVAL;
  n = cJSON_GetArraySize(msgs);
  if(nhistory < 0)
    nhistory = 0;
  if(nhistory > n)
    nhistory = n;
  max_output = p->max_output > 0 ? p->max_output : 0;
  if(max_output > EST_MAX)
    max_output = EST_MAX;
  fixed = p->fixed_tokens > 0 ? p->fixed_tokens : 0;
  if(fixed > EST_MAX)
    fixed = EST_MAX;
  if(!n) {
    res->prompt_tokens = fixed;
    res->fits =
        p->context_tokens <= 0 || fixed + max_output <= p->context_tokens;
    return 0;
  }

  items = sb_calloc((size_t)n, sizeof(*items));
  tok = sb_calloc((size_t)n, sizeof(*tok));
  ex = sb_calloc((size_t)n, sizeof(*ex));
  drop = sb_calloc((size_t)n, sizeof(*drop));
  i = 0;
  total = fixed;
  for(cJSON *m = msgs->child; m; m = m->next, i++) {
    int64_t t = est(m, p->estimate_ud);
    items[i] = m;
    tok[i] = t < 0 ? 0 : t > MSG_MAX ? MSG_MAX : t;
    total += tok[i];
  }

  /* Exchanges: a user message opens one; what comes before the first
   * user message is exchange 0. */
  for(i = 0; i < nhistory; i++) {
    if(i > 0 && role_is(items[i], "user"))
      last_ex++;
    if(last_ex < 0)
      last_ex = 0;
    ex[i] = last_ex;
  }

  /* The first exchange that must stay: the one the turn answers tool
   * calls of, by id, or by position when the turn opens with results. */
  limit = last_ex + 1;
  if(nhistory > 0 && nhistory < n &&
     (role_is(items[nhistory], "tool") || role_is(items[nhistory], "function")))
    limit = ex[nhistory - 1];
  for(i = 0; i < nhistory; i++)
    if(ex[i] < limit && role_is(items[i], "assistant") &&
       answered_in(items[i], items, nhistory, n))
      limit = ex[i];

  budget = p->context_tokens - max_output;
  if(p->context_tokens > 0) {
    int from = 0;
    for(int e = 0; e < limit && total > budget; e++) {
      int any = 0;
      for(i = from; i < nhistory && ex[i] == e; i++) {
        if(pinned(items[i]))
          continue;
        drop[i] = 1;
        any = 1;
        total -= tok[i];
        res->dropped++;
        res->dropped_tokens += tok[i];
      }
      from = i;
      res->exchanges += any;
    }
  }
  res->prompt_tokens = total;
  res->fits = p->context_tokens <= 0 || total <= budget;

  /* Where the dropped history was: the position, once they are gone, of
   * the message after the last one dropped. */
  for(i = n - 1; i >= 0 && !drop[i]; i--)
    ;
  res->resume = i + 1;
  for(int j = 0; j <= i; j++)
    res->resume -= drop[j];
  for(i = 0; i < n; i++) {
    if(!drop[i])
      continue;
    cJSON_DetachItemViaPointer(msgs, items[i]);
    if(cJSON_IsArray(p->dropped))
      cJSON_AddItemToArray(p->dropped, items[i]);
    else
      cJSON_Delete(items[i]);
  }
  free(items);
  free(tok);
  free(ex);
  free(drop);
  return 0;
}

/* --- compacting ---------------------------------------------------------- */

/* What the summarising model is told. */
#define SUMMARY_INSTRUCTIONS                                                   \
  "You summarise the earlier part of a conversation between a user and an "    \
  "assistant so that the assistant can continue it without the original "      \
  "messages. Keep every fact, name, number, decision, open question and "      \
  "tool result the rest of the conversation may rely on; leave out "           \
  "pleasantries. Write the summary only, in the conversation's language."

/* A message's content as text into b: a string, or its parts. */
static void content_text(struct buf *b, const cJSON *content)
{
  const cJSON *part;

  if(cJSON_IsString(content)) {
    buf_appendz(b, content->valuestring);
    return;
  }
  cJSON_ArrayForEach(part, content)
  {
    const char *type =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "type"));
    const char *text =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "text"));
    if(!text)
      text = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(part, "refusal"));
    if(text)
      buf_appendz(b, text);
    else if(type && !strcmp(type, "image_url"))
      buf_appendz(b, "[image]");
    else
      buf_appendz(b, "[attachment]");
  }
}

/* Past the ceiling, the rest of the transcript is left out (a line may be
 * cut short): the summary of a long history beats none. */
static void append_str(struct buf *b, const char *s)
{
  if(s)
    buf_appendz(b, s);
}

/* One canonical message as transcript lines. */
static void transcript_line(struct buf *b, const cJSON *m)
{
  const char *role =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
  const cJSON *tc;

  if(role && !strcmp(role, "tool")) {
    append_str(b, "tool result (");
    append_str(b, cJSON_GetStringValue(
                      cJSON_GetObjectItemCaseSensitive(m, "tool_call_id")));
    append_str(b, "): ");
  } else {
    append_str(b, role ? role : "message");
    append_str(b, ": ");
  }
  content_text(b, content);
  append_str(b, "\n");
  cJSON_ArrayForEach(tc, calls)
  {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    append_str(b, "assistant called tool ");
    append_str(
        b, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "name")));
    append_str(b, " (");
    append_str(
        b, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "id")));
    append_str(b, ") with ");
    append_str(b, cJSON_GetStringValue(
                      cJSON_GetObjectItemCaseSensitive(fn, "arguments")));
    append_str(b, "\n");
  }
}

cJSON *trim_summary_prompt(const char *previous, const cJSON *msgs, int from)
{
  cJSON *out = cJSON_CreateArray(), *m;
  const cJSON *it;
  struct buf b;
  int i = 0;

  buf_init(&b, TRIM_SUMMARY_PROMPT_MAX);
  if(previous) {
    append_str(&b, "Summary of what came before:\n");
    append_str(&b, previous);
    append_str(&b, "\n\n");
  }
  append_str(&b, "Conversation to summarise:\n");
  cJSON_ArrayForEach(it, msgs)
  {
    if(i++ >= from)
      transcript_line(&b, it);
  }
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "system");
  cJSON_AddStringToObject(m, "content", SUMMARY_INSTRUCTIONS);
  cJSON_AddItemToArray(out, m);
  m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddStringToObject(m, "content", b.data ? b.data : "");
  cJSON_AddItemToArray(out, m);
  buf_free(&b);
  return out;
}

int trim_user_index(const cJSON *msgs, int n)
{
  const cJSON *m;
  int i = 0;

  cJSON_ArrayForEach(m, msgs)
  {
    if(role_is(m, "user") && n-- == 0)
      return i;
    i++;
  }
  return i;
}

/* Put item into arr before next (NULL: at the end). Not
 * cJSON_InsertItemInArray: cJSON 1.7.15 refuses it past the first
 * position. */
static void insert_before(cJSON *arr, cJSON *next, cJSON *item)
{
  cJSON *tail = cJSON_CreateArray();

  while(next) {
    cJSON *after = next->next;
    cJSON_AddItemToArray(tail, cJSON_DetachItemViaPointer(arr, next));
    next = after;
  }
  cJSON_AddItemToArray(arr, item);
  while(tail->child)
    cJSON_AddItemToArray(arr, cJSON_DetachItemViaPointer(tail, tail->child));
  cJSON_Delete(tail);
}

int trim_put_summary(cJSON *msgs, int at, const char *summary)
{
  cJSON *m, *content, *text;
  char *s;
  int i = 0;

  if(!cJSON_IsArray(msgs) || !summary)
    return SB_EINVAL;
  s = sb_asprintf(TRIM_SUMMARY_PREFIX "%s\n\n", summary);
  for(m = msgs->child; m && i < at; m = m->next)
    i++;
  while(m && (role_is(m, "system") || role_is(m, "developer")))
    m = m->next;
  content = m && role_is(m, "user")
                ? cJSON_GetObjectItemCaseSensitive(m, "content")
                : NULL;
  if(cJSON_IsString(content)) {
    char *joined = sb_asprintf("%s%s", s, content->valuestring);
    cJSON_ReplaceItemInObjectCaseSensitive(m, "content",
                                           cJSON_CreateString(joined));
    free(joined);
  } else if(cJSON_IsArray(content)) {
    text = cJSON_CreateObject();
    cJSON_AddStringToObject(text, "type", "text");
    cJSON_AddStringToObject(text, "text", s);
    insert_before(content, content->child, text);
  } else {
    /* Not a user message (or one without content): a user message of
     * its own goes before it. */
    cJSON *u = cJSON_CreateObject();
    s[strlen(s) - 2] = '\0'; /* no blank line to separate */
    cJSON_AddStringToObject(u, "role", "user");
    cJSON_AddStringToObject(u, "content", s);
    insert_before(msgs, m, u);
  }
  free(s);
  return 0;
}

/* --- a provider's own count ---------------------------------------------- */

int trim_count_near(int64_t prompt, int64_t max_output, int64_t context_tokens)
{
  int64_t need = prompt + (max_output > 0 ? max_output : 0);

  if(context_tokens <= 0)
    return 0;
  /* need/context in percent, without overflow for any sane window */
  return need * 100 >= context_tokens * TRIM_COUNT_NEAR_LOW &&
         need * 100 <= context_tokens * TRIM_COUNT_NEAR_HIGH;
}

int64_t trim_scale_apply(const struct trim_scale *s, int64_t n)
{
  if(!s || s->estimated <= 0 || n <= 0)
    return n;
  return (n * s->real + s->estimated - 1) / s->estimated;
}

int64_t trim_estimate_scaled(const cJSON *msg, void *ud)
{
  return trim_scale_apply(ud, trim_estimate_message(msg));
}
