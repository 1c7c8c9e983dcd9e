/*
 * trim.c - fitting a canonical chat history into a context window
 * (trim.h has the rules).
 */
#include "codec/trim.h"
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

  for(i = 0; i < n; i++)
    if(drop[i])
      cJSON_Delete(cJSON_DetachItemViaPointer(msgs, items[i]));
  free(items);
  free(tok);
  free(ex);
  free(drop);
  return 0;
}
