#include "base/json.h"
#include "base/buf.h"
#include "base/sb.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Past the bytes from p that a string holds as they are: up to the first
 * quote, backslash or control character, or end. Most of a chat body is
 * such runs, so they go 16 bytes at a time where SSE2 exists (every
 * x86-64). */
static const char *plain_run(const char *p, const char *end)
{
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1f);

  while(end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
        _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl)); /* v <= 0x1f */
    int mask = _mm_movemask_epi8(hit);
    if(mask)
      return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#endif
  while(p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
    p++;
  return p;
}

int json_too_deep(const char *s, size_t n, int max_depth)
{
  int depth = 0, in_str = 0;

  for(size_t i = 0; i < n; i++) {
    char c = s[i];

    if(in_str) {
      if(c == '\\')
        i++; /* skip the escaped character, whatever it is */
      else if(c == '"')
        in_str = 0;
      else
        i = (size_t)(plain_run(s + i + 1, s + n) - s) - 1;
    } else if(c == '"') {
      in_str = 1;
    } else if(c == '{' || c == '[') {
      if(++depth > max_depth)
        return 1;
    } else if(c == '}' || c == ']') {
      depth--;
    }
  }
  return 0;
}

/* ---- a checker and a reader of raw JSON text ---- */

struct scan {
  const char *p, *end;
  unsigned flags;
};

static void skip_ws(struct scan *s)
{
  while(s->p < s->end &&
        (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int hexval(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if(c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits of a \u escape at s->p, or -1. */
static long hex4(struct scan *s)
{
  long cp = 0;

  for(int i = 0; i < 4; i++) {
    int h = s->p < s->end ? hexval(*s->p++) : -1;
    if(h < 0)
      return -1;
    cp = cp << 4 | h;
  }
  return cp;
}

/* A string at s->p (its opening quote). As cJSON, which parses what this
 * accepts, a \u escape may not leave a UTF-16 surrogate unpaired. */
static int scan_string(struct scan *s)
{
  s->p++;
  while((s->p = plain_run(s->p, s->end)) < s->end) {
    unsigned char c = (unsigned char)*s->p++;

    if(c == '"')
      return 0;
    if(c < 0x20)
      return SB_EINVAL; /* control characters must be escaped */
    if(c != '\\')
      continue;
    if(s->p >= s->end)
      return SB_EINVAL;
    c = (unsigned char)*s->p++;
    if(c == 'u') {
      long cp = hex4(s);
      if(cp >= 0xDC00 && cp <= 0xDFFF)
        return SB_EINVAL; /* a low surrogate first */
      if(cp >= 0xD800 && cp <= 0xDBFF) {
        /* A high surrogate: its low half must follow. */
        long lo = -1;
        if(s->end - s->p >= 2 && s->p[0] == '\\' && s->p[1] == 'u') {
          s->p += 2;
          lo = hex4(s);
        }
        if(lo < 0xDC00 || lo > 0xDFFF)
          return SB_EINVAL;
      }
      if(cp < 0)
        return SB_EINVAL;
      if(cp >= 0x20 && cp < 0x80)
        s->flags |= JSON_ESCAPED_ASCII;
    } else if(!strchr("\"\\/bfnrt", c) || !c) {
      return SB_EINVAL;
    }
  }
  return SB_EINVAL;
}

static int digits(struct scan *s)
{
  const char *start = s->p;

  while(s->p < s->end && *s->p >= '0' && *s->p <= '9')
    s->p++;
  return s->p > start ? 0 : SB_EINVAL;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number_syntax(struct scan *s)
{
  if(*s->p == '-')
    s->p++;
  if(s->p < s->end && *s->p == '0')
    s->p++;
  else if(digits(s))
    return SB_EINVAL;
  if(s->p < s->end && *s->p == '.') {
    s->p++;
    if(digits(s))
      return SB_EINVAL;
  }
  if(s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if(s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    if(digits(s))
      return SB_EINVAL;
  }
  return 0;
}

/* A number of at most JSON_NUMBER_MAX bytes. */
static int scan_number(struct scan *s)
{
  const char *start = s->p;

  if(scan_number_syntax(s) || s->p - start > JSON_NUMBER_MAX)
    return SB_EINVAL;
  return 0;
}

static int scan_word(struct scan *s, const char *w)
{
  size_t n = strlen(w);

  if((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
    return SB_EINVAL;
  s->p += n;
  return 0;
}

/* One value at s->p (after whitespace). Recursion is bounded by depth:
 * json_check() takes max_depth from the caller's limits. */
static int scan_value(struct scan *s, int depth)
{
  char close;

  skip_ws(s);
  if(s->p >= s->end)
    return SB_EINVAL;
  switch(*s->p) {
  case '"': return scan_string(s);
  case 't': return scan_word(s, "true");
  case 'f': return scan_word(s, "false");
  case 'n': return scan_word(s, "null");
  case '{':
  case '[': break;
  default: return scan_number(s);
  }
  if(depth <= 0)
    return SB_EINVAL;
  close = *s->p == '{' ? '}' : ']';
  s->p++;
  skip_ws(s);
  if(s->p < s->end && *s->p == close) {
    s->p++;
    return 0;
  }
  for(;;) {
    if(close == '}') {
      skip_ws(s);
      if(s->p >= s->end || *s->p != '"' || scan_string(s))
        return SB_EINVAL;
      skip_ws(s);
      if(s->p >= s->end || *s->p++ != ':')
        return SB_EINVAL;
    }
    if(scan_value(s, depth - 1))
      return SB_EINVAL;
    skip_ws(s);
    if(s->p >= s->end)
      return SB_EINVAL;
    if(*s->p == close) {
      s->p++;
      return 0;
    }
    if(*s->p++ != ',')
      return SB_EINVAL;
  }
}

int json_check(const char *s, size_t n, int max_depth, unsigned *flags)
{
  struct scan sc = {s, s + n, 0};

  if(scan_value(&sc, max_depth))
    return SB_EINVAL;
  skip_ws(&sc);
  if(sc.p != sc.end)
    return SB_EINVAL;
  if(flags)
    *flags = sc.flags;
  return 0;
}

/* Past the value at p, in text that json_check() accepted: strings and
 * brackets only need counting. Never past end, whatever the text. */
static const char *skip_value(const char *p, const char *end)
{
  int depth = 0;

  while(p < end) {
    char c = *p++;

    if(c == '"') {
      while((p = plain_run(p, end)) < end && *p != '"')
        p += *p == '\\' && end - p > 1 ? 2 : 1;
      if(p < end)
        p++;
    } else if(c == '{' || c == '[') {
      depth++;
    } else if(c == '}' || c == ']') {
      depth--;
    }
    if(depth <= 0) {
      /* A scalar runs to the next delimiter. */
      while(depth == 0 && p < end && !strchr(",:]} \t\r\n", *p))
        p++;
      break;
    }
  }
  return p < end ? p : end;
}

int json_iter_init(struct json_iter *it, const char *s, size_t n)
{
  struct scan sc = {s, s + n, 0};

  skip_ws(&sc);
  if(sc.p >= sc.end || (*sc.p != '{' && *sc.p != '['))
    return SB_EINVAL;
  it->object = *sc.p == '{';
  it->p = sc.p + 1;
  it->end = sc.end;
  return 0;
}

int json_iter_next(struct json_iter *it, const char **key, size_t *klen,
                   const char **val, size_t *vlen)
{
  struct scan sc = {it->p, it->end, 0};

  skip_ws(&sc);
  if(sc.p < sc.end && *sc.p == ',') {
    sc.p++;
    skip_ws(&sc);
  }
  if(sc.p >= sc.end || *sc.p == '}' || *sc.p == ']') {
    it->p = sc.end;
    return 0;
  }
  *key = NULL;
  *klen = 0;
  if(it->object) {
    const char *k = sc.p + 1;
    sc.p = skip_value(sc.p, sc.end);
    *key = k;
    *klen = sc.p > k ? (size_t)(sc.p - k - 1) : 0;
    skip_ws(&sc);
    if(sc.p < sc.end && *sc.p == ':')
      sc.p++;
    skip_ws(&sc);
  }
  *val = sc.p;
  sc.p = skip_value(sc.p, sc.end);
  *vlen = (size_t)(sc.p - *val);
  it->p = sc.p;
  return 1;
}

int json_members(const char *s, size_t n, const char *const *keys, int nkeys,
                 struct json_span *vals)
{
  struct json_iter it;
  const char *k, *v;
  size_t kl, vl;
  int found = 0;

  for(int i = 0; i < nkeys; i++)
    vals[i] = (struct json_span){NULL, 0};
  if(json_iter_init(&it, s, n) || !it.object)
    return 0;
  while(found < nkeys && json_iter_next(&it, &k, &kl, &v, &vl))
    for(int i = 0; i < nkeys; i++)
      if(!vals[i].p && kl == strlen(keys[i]) && !memcmp(k, keys[i], kl)) {
        vals[i] = (struct json_span){v, vl};
        found++;
        break;
      }
  return found;
}

int json_member_cut(const char *s, size_t n, const char *key,
                    struct json_span *cut)
{
  struct json_iter it;
  const char *k, *v, *prev_end = NULL, *end = s + n;
  size_t kl, vl, want = strlen(key);

  if(json_iter_init(&it, s, n) || !it.object)
    return 0;
  while(json_iter_next(&it, &k, &kl, &v, &vl)) {
    const char *from = k - 1, *to = v + vl, *p = to;

    if(kl != want || memcmp(k, key, want)) {
      prev_end = to;
      continue;
    }
    while(p < end && strchr(" \t\r\n", *p) && *p)
      p++;
    if(p < end && *p == ',')
      to = p + 1; /* the comma after it */
    else if(prev_end)
      from = prev_end; /* the last member: the comma before it */
    *cut = (struct json_span){from, (size_t)(to - from)};
    return 1;
  }
  return 0;
}

size_t json_string_len(struct json_span v)
{
  const char *p, *end;
  size_t len = 0;

  if(!v.p || v.n < 2 || *v.p != '"')
    return 0;
  p = v.p + 1;
  end = v.p + v.n - 1;
  while(p < end) {
    const char *run = plain_run(p, end);
    long cp;

    len += (size_t)(run - p);
    p = run;
    if(p >= end || *p != '\\') {
      if(p < end) { /* a control byte json_check() would have refused */
        len++;
        p++;
      }
      continue;
    }
    if(end - p < 2)
      break;
    if(p[1] != 'u') {
      len++;
      p += 2;
      continue;
    }
    if(end - p < 6)
      break;
    cp = 0;
    for(int i = 2; i < 6; i++)
      cp = cp << 4 | hexval(p[i]);
    p += 6;
    if(cp == 0)
      break; /* cJSON's string ends here */
    if(cp >= 0xD800 && cp <= 0xDBFF) {
      len += 4; /* with its low half: one code point past U+FFFF */
      p += end - p >= 6 ? 6 : end - p;
    } else {
      len += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
    }
  }
  return len;
}

int json_append_string(struct buf *b, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  const char *run = s;

  if(buf_append(b, "\"", 1))
    return SB_ETOOBIG;
  for(;; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[6] = {'\\', (char)c, '0', '0', 0, 0};
    size_t elen = 2;

    if(c >= 0x20 && c != '"' && c != '\\')
      continue;
    if(buf_append(b, run, (size_t)(s - run)))
      return SB_ETOOBIG;
    if(!c)
      break;
    if(c < 0x20) {
      esc[1] = 'u';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    }
    if(buf_append(b, esc, elen))
      return SB_ETOOBIG;
    run = s + 1;
  }
  return buf_append(b, "\"", 1) ? SB_ETOOBIG : 0;
}
