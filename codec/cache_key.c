/*
 * cache_key.c - the response cache's key (cache_key.h).
 */
#include "codec/cache_key.h"
#include "base/buf.h"
#include "base/sb.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

const char *const CACHE_KEY_IGNORED[] = {
    "user",  "safety_identifier", "metadata",     "stream", "stream_options",
    "store", "prompt_cache_key",  "service_tier", NULL,
};

static int ignored(const char *name)
{
  for(int i = 0; CACHE_KEY_IGNORED[i]; i++)
    if(!strcmp(name, CACHE_KEY_IGNORED[i]))
      return 1;
  return 0;
}

static int by_name(const void *a, const void *b)
{
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

  return strcmp(x->string, y->string);
}

/* v in a canonical text: members in name order, everything else as cJSON
 * prints it (cJSON's number format is fixed, so one value has one text). */
static void canon(struct buf *b, const cJSON *v, int top)
{
  const cJSON *c;

  if(cJSON_IsObject(v)) {
    const cJSON **m = NULL;
    size_t n = 0, cap = 0, k;

    cJSON_ArrayForEach(c, v)
    {
      if(top && ignored(c->string))
        continue;
      if(n == cap) {
        cap = cap ? cap * 2 : 8;
        m = sb_realloc(m, sizeof(*m) * cap);
      }
      m[n++] = c;
    }
    if(n)
      qsort(m, n, sizeof(*m), by_name);
    buf_appendz(b, "{");
    for(k = 0; k < n; k++) {
      /* The name as a JSON string, escaped as cJSON escapes any string. */
      cJSON *ns = cJSON_CreateString(m[k]->string);
      char *name = cJSON_PrintUnformatted(ns);
      cJSON_Delete(ns);
      if(!name)
        abort();
      buf_printf(b, "%s%s:", k ? "," : "", name);
      free(name);
      canon(b, m[k], 0);
    }
    buf_appendz(b, "}");
    free(m);
  } else if(cJSON_IsArray(v)) {
    int k = 0;
    buf_appendz(b, "[");
    cJSON_ArrayForEach(c, v)
    {
      if(k++)
        buf_appendz(b, ",");
      canon(b, c, 0);
    }
    buf_appendz(b, "]");
  } else {
    char *s = cJSON_PrintUnformatted(v);
    buf_appendz(b, s ? s : "null");
    free(s);
  }
}

int cache_key(const cJSON *body, const char *api, const char *target,
              const char *scope, unsigned char out[CACHE_KEY_LEN])
{
  struct buf b;
  unsigned int len = 0;
  int ok;

  buf_init(&b, SIZE_MAX);
  /* Each part ends with a NUL, so no two (api, target, scope) run
   * together into the same text. */
  buf_append(&b, api, strlen(api) + 1);
  buf_append(&b, target, strlen(target) + 1);
  buf_append(&b, scope, strlen(scope) + 1);
  canon(&b, body, 1);
  ok = EVP_Digest(b.data, b.len, out, &len, sb_sha256_md(), NULL) &&
       len == CACHE_KEY_LEN;
  buf_free(&b);
  return ok ? SB_OK : SB_EIO;
}
