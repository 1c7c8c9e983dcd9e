/*
 * sigv4.c - AWS Signature Version 4.
 */
#include "providers/sigv4.h"
#include "base/buf.h"
#include "base/sb.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGV4_MAX_TEXT (1024 * 1024)

static void hex(const unsigned char *d, size_t n, char *out)
{
  static const char X[] = "0123456789abcdef";
  for(size_t i = 0; i < n; i++) {
    out[2 * i] = X[d[i] >> 4];
    out[2 * i + 1] = X[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(d, n, md);
  hex(md, sizeof(md), out);
}

static void hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32])
{
  unsigned int olen = 32;
  HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
       out, &olen);
}

static int unreserved(unsigned char c)
{
  return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode_into(struct buf *b, const char *s, size_t n, int keep_slash)
{
  static const char X[] = "0123456789ABCDEF";
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(unreserved(c) || (keep_slash && c == '/')) {
      buf_append(b, &s[i], 1);
    } else {
      char e[3] = {'%', X[c >> 4], X[c & 15]};
      buf_append(b, e, 3);
    }
  }
}

char *sigv4_uri_encode(const char *s)
{
  struct buf b;
  buf_init(&b, SIGV4_MAX_TEXT);
  encode_into(&b, s, strlen(s), 0);
  return buf_take(&b, NULL);
}

static int hexval(int c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if(c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Percent-decode [s, s+n) into a fresh string of *olen bytes. */
static char *decode(const char *s, size_t n, size_t *olen)
{
  char *o = sb_malloc(n + 1);
  size_t j = 0;
  for(size_t i = 0; i < n; i++) {
    if(s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
       hexval(s[i + 2]) >= 0) {
      o[j++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
      i += 2;
    } else {
      o[j++] = s[i];
    }
  }
  o[j] = '\0';
  *olen = j;
  return o;
}

struct qparam {
  char *enc; /* "name=value", both encoded */
};

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Canonical query: each name and value decoded then encoded again,
 * sorted by the encoded "name=value". */
static void canonical_query(const char *q, struct buf *out)
{
  char **items = NULL;
  int n = 0;

  while(q && *q) {
    const char *amp = strchr(q, '&');
    size_t len = amp ? (size_t)(amp - q) : strlen(q);
    if(len) {
      const char *eq = memchr(q, '=', len);
      size_t klen = eq ? (size_t)(eq - q) : len, dl;
      struct buf b;
      char *d;

      buf_init(&b, SIGV4_MAX_TEXT);
      d = decode(q, klen, &dl);
      encode_into(&b, d, dl, 0);
      free(d);
      buf_append(&b, "=", 1);
      if(eq) {
        d = decode(eq + 1, len - klen - 1, &dl);
        encode_into(&b, d, dl, 0);
        free(d);
      }
      items = sb_realloc(items, (size_t)(n + 1) * sizeof(*items));
      items[n++] = buf_take(&b, NULL);
    }
    q = amp ? amp + 1 : NULL;
  }
  if(n)
    qsort(items, (size_t)n, sizeof(*items), cmp_str);
  for(int i = 0; i < n; i++) {
    if(i)
      buf_append(out, "&", 1);
    buf_appendz(out, items[i]);
    free(items[i]);
  }
  free(items);
}

struct hdr {
  char *name;  /* lowercase */
  char *value; /* trimmed, inner runs of spaces collapsed */
};

static int cmp_hdr(const void *a, const void *b)
{
  return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

static void add_hdr(struct hdr **h, int *n, const char *name, size_t nlen,
                    const char *value)
{
  struct hdr *x;
  size_t vlen = strlen(value), j = 0;
  char *v;

  *h = sb_realloc(*h, (size_t)(*n + 1) * sizeof(**h));
  x = &(*h)[(*n)++];
  x->name = sb_strndup(name, nlen);
  for(char *c = x->name; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  while(vlen && isspace((unsigned char)value[vlen - 1]))
    vlen--;
  while(vlen && isspace((unsigned char)*value)) {
    value++;
    vlen--;
  }
  v = sb_malloc(vlen + 1);
  for(size_t i = 0; i < vlen; i++) {
    if(value[i] == ' ' && j && v[j - 1] == ' ')
      continue;
    v[j++] = value[i];
  }
  v[j] = '\0';
  x->value = v;
}

static void free_hdrs(struct hdr *h, int n)
{
  for(int i = 0; i < n; i++) {
    free(h[i].name);
    free(h[i].value);
  }
  free(h);
}

int sigv4_sign(const struct sigv4_request *req, struct sigv4_result *out)
{
  const char *u = req->url, *host, *path, *query, *se;
  size_t hostlen;
  struct hdr *h = NULL;
  int nh = 0, rc = SB_EINVAL;
  struct buf cr, sts, signed_list;
  char date[9], scope_hash[65], sig_hex[65];
  struct tm tm;
  unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
  char *kdate;

  memset(out, 0, sizeof(*out));
  se = strstr(u, "://");
  if(!se)
    return SB_EINVAL;
  host = se + 3;
  hostlen = strcspn(host, "/?#");
  if(!hostlen)
    return SB_EINVAL;
  path = host + hostlen;
  query = strchr(path, '?');

  gmtime_r(&req->now, &tm);
  strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
  memcpy(date, out->amz_date, 8);
  date[8] = '\0';
  sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0,
             out->content_sha256);

  for(int i = 0; i < req->nheaders; i++) {
    const char *c = strchr(req->headers[i], ':');
    if(!c || c == req->headers[i]) {
      free_hdrs(h, nh);
      return SB_EINVAL;
    }
    add_hdr(&h, &nh, req->headers[i], (size_t)(c - req->headers[i]), c + 1);
  }
  {
    char *hv = sb_strndup(host, hostlen);
    add_hdr(&h, &nh, "host", 4, hv);
    free(hv);
  }
  add_hdr(&h, &nh, "x-amz-date", 10, out->amz_date);
  if(req->flags & SIGV4_SIGN_CONTENT_SHA256)
    add_hdr(&h, &nh, "x-amz-content-sha256", 20, out->content_sha256);
  if(req->session_token)
    add_hdr(&h, &nh, "x-amz-security-token", 20, req->session_token);
  qsort(h, (size_t)nh, sizeof(*h), cmp_hdr);

  buf_init(&cr, SIGV4_MAX_TEXT * 4);
  buf_init(&sts, SIGV4_MAX_TEXT);
  buf_init(&signed_list, SIGV4_MAX_TEXT);
  buf_printf(&cr, "%s\n", req->method);
  {
    size_t plen = query ? (size_t)(query - path) : strcspn(path, "#");
    if(!plen)
      buf_append(&cr, "/", 1);
    else
      encode_into(&cr, path, plen, 1);
  }
  buf_append(&cr, "\n", 1);
  if(query) {
    char *q = sb_strndup(query + 1, strcspn(query + 1, "#"));
    canonical_query(q, &cr);
    free(q);
  }
  buf_append(&cr, "\n", 1);
  for(int i = 0; i < nh; i++) {
    /* Repeated names: values joined by commas. */
    if(i && !strcmp(h[i].name, h[i - 1].name)) {
      cr.len--; /* drop the \n */
      buf_printf(&cr, ",%s\n", h[i].value);
      continue;
    }
    buf_printf(&cr, "%s:%s\n", h[i].name, h[i].value);
    buf_printf(&signed_list, "%s%s", signed_list.len ? ";" : "", h[i].name);
  }
  buf_printf(&cr, "\n%s\n%s", signed_list.data, out->content_sha256);

  sha256_hex(cr.data, cr.len, scope_hash);
  buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
             out->amz_date, date, req->region, req->service, scope_hash);

  kdate = sb_asprintf("AWS4%s", req->secret_key);
  hmac(kdate, strlen(kdate), date, k1);
  memset(kdate, 0, strlen(kdate));
  free(kdate);
  hmac(k1, 32, req->region, k2);
  hmac(k2, 32, req->service, k3);
  hmac(k3, 32, "aws4_request", k4);
  hmac(k4, 32, sts.data, sig);
  hex(sig, 32, sig_hex);
  memset(k1, 0, sizeof(k1));
  memset(k4, 0, sizeof(k4));

  out->authorization =
      sb_asprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                  "SignedHeaders=%s, Signature=%s",
                  req->access_key, date, req->region, req->service,
                  signed_list.data, sig_hex);
  out->canonical_request = buf_take(&cr, NULL);
  out->string_to_sign = buf_take(&sts, NULL);
  buf_free(&signed_list);
  free_hdrs(h, nh);
  rc = 0;
  return rc;
}

void sigv4_result_free(struct sigv4_result *r)
{
  free(r->authorization);
  free(r->canonical_request);
  free(r->string_to_sign);
  r->authorization = r->canonical_request = r->string_to_sign = NULL;
}
