#include "base/sb.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

const char *sb_strerror(int err)
{
  switch(err) {
  case SB_OK: return "ok";
  case SB_ENOMEM: return "out of memory";
  case SB_EINVAL: return "invalid argument";
  case SB_ETOOBIG: return "limit exceeded";
  case SB_EIO: return "I/O error";
  case SB_ENOTFOUND: return "not found";
  case SB_EAGAIN: return "try again";
  case SB_ECONFIG: return "invalid configuration";
  case SB_EDB: return "database error";
  case SB_ETOONEW: return "database is newer than this binary";
  case SB_EPROTO: return "protocol error";
  case SB_EANSWERED: return "answered";
  }
  return "unknown error";
}

static void oom(size_t n)
{
  fprintf(stderr, "switchboard: out of memory allocating %zu bytes\n", n);
  abort();
}

void *sb_malloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if(!p)
    oom(n);
  return p;
}

void *sb_calloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if(!p)
    oom(n * size);
  return p;
}

void *sb_realloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if(!q)
    oom(n);
  return q;
}

char *sb_strdup(const char *s)
{
  return sb_strndup(s, strlen(s));
}

char *sb_strndup(const char *s, size_t n)
{
  char *d = sb_malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *sb_asprintf(const char *fmt, ...)
{
  va_list ap;
  int n;
  char *s;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if(n < 0)
    oom(0);
  s = sb_malloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

int64_t sb_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_mono_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Random bytes from OpenSSL's CSPRNG, drawn a pool at a time: one
 * RAND_bytes per ~20 ids instead of one each (each call also asks the
 * kernel for the pid, OpenSSL's fork check). The pool is per thread, so
 * no lock; the gateway never forks after its threads start, which is
 * what would otherwise hand two processes the same pool. */
static void random_bytes(unsigned char *out, size_t n)
{
  static _Thread_local unsigned char pool[256];
  static _Thread_local size_t left;

  assert(n <= sizeof(pool));
  if(left < n) {
    if(RAND_bytes(pool, sizeof(pool)) != 1)
      abort(); /* no entropy: nothing sensible to continue with */
    left = sizeof(pool);
  }
  memcpy(out, pool + sizeof(pool) - left, n);
  /* Used bytes are not kept around for whoever reads memory later. */
  memset(pool + sizeof(pool) - left, 0, n);
  left -= n;
}

static void put_hex(char *out, const unsigned char *b, size_t n)
{
  static const char hex[] = "0123456789abcdef";

  for(size_t i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
}

void sb_random_id(char *out, size_t cap, const char *prefix)
{
  unsigned char rnd[12];
  size_t n = strlen(prefix);

  assert(cap >= n + 2 * sizeof(rnd) + 1);
  random_bytes(rnd, sizeof(rnd));
  memcpy(out, prefix, n);
  put_hex(out + n, rnd, sizeof(rnd));
  out[n + 2 * sizeof(rnd)] = '\0';
}

void sb_time_id(char *out, size_t cap, const char *prefix)
{
  unsigned char b[12];
  uint64_t ms = (uint64_t)sb_now_ms();
  size_t n = strlen(prefix);

  assert(cap >= n + 2 * sizeof(b) + 1);
  for(int i = 0; i < 6; i++)
    b[i] = (unsigned char)(ms >> (8 * (5 - i)));
  random_bytes(b + 6, 6);
  memcpy(out, prefix, n);
  put_hex(out + n, b, sizeof(b));
  out[n + 2 * sizeof(b)] = '\0';
}

/* OpenSSL 3 looks an algorithm up by name on every use of EVP_sha256()
 * (an "implicit fetch": a lock and a hash table); fetching it once makes
 * each digest just the digest. The fetched algorithm is immutable and
 * may be used from any thread. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *sb_sha256_md(void)
{
  pthread_once(&sha256_once, sha256_fetch);
  if(!sha256_md)
    abort(); /* SHA-256 always exists; failing here is a broken libcrypto */
  return sha256_md;
}

void sb_sha256(const void *data, size_t len, unsigned char out[32])
{
  unsigned int n = 0;

  if(!EVP_Digest(data, len, out, &n, sb_sha256_md(), NULL) || n != 32)
    abort();
}

void sb_errf(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;

  if(!err || !errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

uint32_t sb_random_u32(void)
{
  /* One xorshift state per thread, seeded from the OS: no lock, and no
   * two workers in step. */
  static _Thread_local uint64_t x;

  while(!x)
    if(RAND_bytes((unsigned char *)&x, sizeof(x)) != 1)
      abort();
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return (uint32_t)(x >> 32);
}

size_t sb_utf8_len(const unsigned char *s, size_t n)
{
  size_t len, i;
  uint32_t cp;

  if(s[0] < 0x80)
    return 1;
  if(s[0] >= 0xC2 && s[0] <= 0xDF) {
    len = 2;
    cp = s[0] & 0x1F;
  } else if(s[0] >= 0xE0 && s[0] <= 0xEF) {
    len = 3;
    cp = s[0] & 0x0F;
  } else if(s[0] >= 0xF0 && s[0] <= 0xF4) {
    len = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if(n < len)
    return 0;
  for(i = 1; i < len; i++) {
    if((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
     (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
    return 0;
  return len;
}

static int v4_link_local(uint32_t a) /* host order */
{
  return (a >> 16) == 0xa9fe /* 169.254/16 */ ||
         a == 0x646464c8 /* 100.100.100.200 */;
}

int sb_addr_link_local(const struct sockaddr *sa)
{
  if(sa->sa_family == AF_INET)
    return v4_link_local(
        ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
  if(sa->sa_family == AF_INET6) {
    const unsigned char *b =
        ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char ec2[16] = {0xfd, 0, 0, 0xec, 2, [15] = 0x54};
    if(b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
      return 1;
    if(!memcmp(b, ec2, 16))
      return 1;
    if(!memcmp(b, mapped, 12))
      return v4_link_local((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                           (uint32_t)b[14] << 8 | b[15]);
  }
  return 0;
}

int sb_host_link_local(const char *host)
{
  struct sockaddr_in v4 = {.sin_family = AF_INET};
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
  char h[64];
  size_t n = strlen(host);

  if(n >= 2 && host[0] == '[' && host[n - 1] == ']')
    host++, n -= 2;
  if(n >= sizeof(h))
    return 0;
  memcpy(h, host, n);
  h[n] = '\0';
  if(inet_pton(AF_INET, h, &v4.sin_addr) == 1)
    return sb_addr_link_local((struct sockaddr *)&v4);
  if(inet_pton(AF_INET6, h, &v6.sin6_addr) == 1)
    return sb_addr_link_local((struct sockaddr *)&v6);
  return 0;
}

int sb_thread_start(pthread_t *t, const char *name, void *(*fn)(void *),
                    void *arg)
{
  sigset_t all, old;
  int rc;

  /* The new thread inherits the mask in force when it is created. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if(!rc)
    pthread_setname_np(*t, name);
  return rc;
}
