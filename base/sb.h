/*
 * sb.h - the base every Switchboard module builds on: the one error
 * convention and the allocation wrappers.
 *
 * Error convention (libuv style): functions that can fail return int,
 * 0 on success or a negative SB_E* code; results come back through
 * out-parameters. A function that fails leaves no half-state behind and
 * never invokes a callback it was given.
 *
 * Allocation: sb_malloc() and friends abort the process on OOM (redis,
 * h2o), so callers do not check small allocations. Anything sized by a
 * client or an upstream goes through a bounded buffer (base/buf.h)
 * whose limit maps to 413/502.
 */
#ifndef SB_SB_H
#define SB_SB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum sb_err {
  SB_OK = 0,
  SB_ENOMEM = -1,     /* allocation failed (only from bounded buffers) */
  SB_EINVAL = -2,     /* invalid argument or input */
  SB_ETOOBIG = -3,    /* a configured limit was exceeded */
  SB_EIO = -4,        /* I/O or system call failure */
  SB_ENOTFOUND = -5,  /* no such object */
  SB_EAGAIN = -6,     /* would block / full, try later */
  SB_ECONFIG = -7,    /* invalid configuration */
  SB_EDB = -8,        /* database error */
  SB_ETOONEW = -9,    /* database schema newer than this binary */
  SB_EPROTO = -10,    /* peer violated its protocol */
  SB_EANSWERED = -11, /* refused, and the refusal is already on its way to
                       * the client: the caller has nothing left to do */
};

/** Short static description of an SB_E* code. Never NULL. */
const char *sb_strerror(int err);

void *sb_malloc(size_t n);
void *sb_calloc(size_t n, size_t size);
void *sb_realloc(void *p, size_t n);
char *sb_strdup(const char *s);
/** Copy of the first n bytes of s, NUL-terminated. */
char *sb_strndup(const char *s, size_t n);
/** printf into a fresh allocation the caller frees. */
char *sb_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A random 32-bit number (not for secrets: jitter, weighted picks). */
uint32_t sb_random_u32(void);

/** Format into the caller's error buffer err (errlen bytes); a NULL err
 * or a zero errlen is allowed and ignored. */
void sb_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Write prefix followed by 24 random hex digits (96 bits from OpenSSL's
 * CSPRNG) into out. cap must hold strlen(prefix) + 25 bytes.
 */
void sb_random_id(char *out, size_t cap, const char *prefix);

/**
 * Like sb_random_id, but the first 12 hex digits are the wall-clock time
 * in milliseconds and the other 12 random (48 bits), so that ids made
 * later sort later. For ids that are indexed as they are written (request
 * ids): each new one lands at the end of the index instead of on a random
 * page of it. Not for ids that must not reveal when they were made.
 */
void sb_time_id(char *out, size_t cap, const char *prefix);

struct evp_md_st; /* OpenSSL's EVP_MD */

/** OpenSSL's SHA-256, fetched once for the process (see sb.c). */
const struct evp_md_st *sb_sha256_md(void);

/** SHA-256 of len bytes at data into out (aborts only if libcrypto is
 * broken). */
void sb_sha256(const void *data, size_t len, unsigned char out[32]);

/** Length of the valid UTF-8 sequence at s (n >= 1 bytes available),
 * or 0 if the bytes there are not one (overlong forms and surrogates are
 * not). */
size_t sb_utf8_len(const unsigned char *s, size_t n);

/**
 * Start fn(arg) on a thread of its own, named name (at most 15 bytes),
 * with every signal blocked: signals belong to the event loops and the
 * main thread's sigwait, and a background thread that took one would
 * interrupt its disk I/O for nothing. 0, or pthread_create's error.
 */
int sb_thread_start(pthread_t *t, const char *name, void *(*fn)(void *),
                    void *arg);

/** Wall-clock time in milliseconds since the epoch. */
struct sockaddr;

/** 1 when sa is a link-local address (169.254.0.0/16, fe80::/10, also
 * IPv4-mapped) or a cloud metadata address (100.100.100.200,
 * fd00:ec2::254): what an upstream must not reach unless allowed, since
 * instance credentials live there. */
int sb_addr_link_local(const struct sockaddr *sa);

/** The same for a numeric host ("169.254.169.254", "[fe80::1]"); 0 for
 * a name or anything else. */
int sb_host_link_local(const char *host);

int64_t sb_now_ms(void);
/** Monotonic time in microseconds, for measuring durations. */
int64_t sb_mono_us(void);

/* SQLite-style defensive branches: assert in debug builds, live in
 * release builds. Use for conditions that cannot happen. */
#include <assert.h>
#ifdef NDEBUG
#define SB_ALWAYS(x) (x)
#define SB_NEVER(x)  (x)
#else
#define SB_ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define SB_NEVER(x)  ((x) ? (assert(0), 1) : 0)
#endif

#define SB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
