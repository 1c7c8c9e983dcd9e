#include "base/ndjson.h"
#include "base/sb.h"

#include <string.h>

void ndjson_init(struct ndjson *n, size_t max_line, ndjson_line_cb cb, void *ud)
{
  buf_init(&n->line, max_line);
  n->cb = cb;
  n->ud = ud;
  n->err = 0;
}

static int deliver(struct ndjson *n, const char *p, size_t len)
{
  if(len && p[len - 1] == '\r')
    len--;
  if(!len)
    return 0;
  return n->cb(n->ud, p, len);
}

int ndjson_feed(struct ndjson *n, const char *p, size_t len)
{
  const char *end = p + len;

  if(n->err)
    return n->err;
  while(p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);

    if(n->line.len || !nl) {
      /* Part of a line started earlier, or the start of one that is not
       * complete yet: keep it. */
      if(buf_append(&n->line, p, take))
        return n->err = SB_ETOOBIG;
      if(nl) {
        n->err = deliver(n, n->line.data, n->line.len);
        buf_reset(&n->line);
      }
    } else {
      if(take > n->line.max)
        return n->err = SB_ETOOBIG;
      n->err = deliver(n, p, take); /* whole line in place: no copy */
    }
    if(n->err)
      return n->err;
    p += take + (nl ? 1 : 0);
  }
  return 0;
}

int ndjson_finish(struct ndjson *n)
{
  if(!n->err && n->line.len) {
    n->err = deliver(n, n->line.data, n->line.len);
    buf_reset(&n->line);
  }
  return n->err;
}

void ndjson_free(struct ndjson *n)
{
  buf_free(&n->line);
}
