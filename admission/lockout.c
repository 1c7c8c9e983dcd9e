/*
 * lockout.c - failed sign-ins per client address (admission/lockout.h).
 *
 * A chained hash table of addresses, each with a ring of its failure
 * times (oldest first), and a list of the addresses by their last failure
 * (newest first) from whose tail the table evicts when full.
 */
#include "admission/lockout.h"
#include "base/sb.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  char addr[LOCKOUT_ADDR_MAX];
  struct entry *chain;       /* next in the bucket */
  struct entry *prev, *next; /* the list by last failure, newest first */
  int head, n;               /* ring: times[head] is the oldest of n */
  int64_t times[];           /* max_failures slots */
};

struct lockout {
  pthread_mutex_t mu;
  int max_failures;
  int64_t window_ms;
  int max_addresses;
  int count;
  size_t nbuckets; /* a power of two */
  struct entry **buckets;
  struct entry *newest, *oldest;
};

/* FNV-1a: addresses are short, and a collision only costs a compare. */
static size_t hash(const char *s)
{
  uint64_t h = 14695981039346656037ULL;

  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

struct lockout *lockout_new(int max_failures, int64_t window_ms,
                            int max_addresses)
{
  struct lockout *l = sb_calloc(1, sizeof(*l));

  l->max_failures = max_failures > 0 ? max_failures : 1;
  l->window_ms = window_ms > 0 ? window_ms : 1;
  l->max_addresses = max_addresses > 0 ? max_addresses : 1;
  l->nbuckets = 16;
  while(l->nbuckets < (size_t)l->max_addresses && l->nbuckets < (1u << 24))
    l->nbuckets <<= 1;
  l->buckets = sb_calloc(l->nbuckets, sizeof(*l->buckets));
  pthread_mutex_init(&l->mu, NULL);
  return l;
}

void lockout_free(struct lockout *l)
{
  struct entry *e, *next;

  if(!l)
    return;
  for(e = l->newest; e; e = next) {
    next = e->next;
    free(e);
  }
  free(l->buckets);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

/* The slot of addr's bucket chain that points at its entry (or at NULL). */
static struct entry **slot_of(struct lockout *l, const char *addr)
{
  struct entry **p = &l->buckets[hash(addr) & (l->nbuckets - 1)];

  while(*p && strcmp((*p)->addr, addr))
    p = &(*p)->chain;
  return p;
}

static void unlink_list(struct lockout *l, struct entry *e)
{
  if(e->prev)
    e->prev->next = e->next;
  else
    l->newest = e->next;
  if(e->next)
    e->next->prev = e->prev;
  else
    l->oldest = e->prev;
  e->prev = e->next = NULL;
}

static void push_newest(struct lockout *l, struct entry *e)
{
  e->prev = NULL;
  e->next = l->newest;
  if(l->newest)
    l->newest->prev = e;
  l->newest = e;
  if(!l->oldest)
    l->oldest = e;
}

static void remove_entry(struct lockout *l, struct entry **slot)
{
  struct entry *e = *slot;

  *slot = e->chain;
  unlink_list(l, e);
  l->count--;
  free(e);
}

/* Drop addr's failures that left the window; the entry too when none is
 * left. The entry, or NULL. */
static struct entry *live_entry(struct lockout *l, const char *addr,
                                int64_t now_ms, struct entry ***slotp)
{
  struct entry **slot = slot_of(l, addr);
  struct entry *e = *slot;

  *slotp = slot;
  if(!e)
    return NULL;
  while(e->n && e->times[e->head] + l->window_ms <= now_ms) {
    e->head = (e->head + 1) % l->max_failures;
    e->n--;
  }
  if(!e->n) {
    remove_entry(l, slot);
    return NULL;
  }
  return e;
}

/* SB_EAGAIN with the wait when e is full, else 0. */
static int locked(const struct lockout *l, const struct entry *e,
                  int64_t now_ms, int64_t *retry_after_s)
{
  int64_t wait_ms;

  if(!e || e->n < l->max_failures)
    return 0;
  wait_ms = e->times[e->head] + l->window_ms - now_ms;
  *retry_after_s = wait_ms > 0 ? (wait_ms + 999) / 1000 : 1;
  return SB_EAGAIN;
}

/* Copy addr into a key of at most LOCKOUT_ADDR_MAX - 1 bytes. */
static void addr_key(char out[LOCKOUT_ADDR_MAX], const char *addr)
{
  size_t n = addr ? strlen(addr) : 0;

  if(n >= LOCKOUT_ADDR_MAX)
    n = LOCKOUT_ADDR_MAX - 1;
  if(n)
    memcpy(out, addr, n);
  out[n] = '\0';
}

int lockout_check(struct lockout *l, const char *addr, int64_t now_ms,
                  int64_t *retry_after_s)
{
  char key[LOCKOUT_ADDR_MAX];
  struct entry **slot;
  int rc;

  addr_key(key, addr);
  *retry_after_s = 0;
  pthread_mutex_lock(&l->mu);
  rc = locked(l, live_entry(l, key, now_ms, &slot), now_ms, retry_after_s);
  pthread_mutex_unlock(&l->mu);
  return rc;
}

int lockout_attempt(struct lockout *l, const char *addr, int64_t now_ms,
                    int64_t *retry_after_s)
{
  char key[LOCKOUT_ADDR_MAX];
  struct entry **slot, *e;
  int rc;

  addr_key(key, addr);
  *retry_after_s = 0;
  pthread_mutex_lock(&l->mu);
  e = live_entry(l, key, now_ms, &slot);
  rc = locked(l, e, now_ms, retry_after_s);
  if(!rc && !e) {
    if(l->count >= l->max_addresses) {
      /* Evict the address whose last failure is the oldest; its slot is
       * looked up again, as it may share addr's bucket. */
      remove_entry(l, slot_of(l, l->oldest->addr));
      slot = slot_of(l, key);
    }
    e = sb_calloc(1, sizeof(*e) + (size_t)l->max_failures * sizeof(int64_t));
    memcpy(e->addr, key, sizeof(key));
    *slot = e;
    l->count++;
    push_newest(l, e);
  }
  if(!rc) {
    e->times[(e->head + e->n) % l->max_failures] = now_ms;
    e->n++;
    unlink_list(l, e);
    push_newest(l, e);
  }
  pthread_mutex_unlock(&l->mu);
  return rc;
}

void lockout_clear(struct lockout *l, const char *addr)
{
  char key[LOCKOUT_ADDR_MAX];
  struct entry **slot;

  addr_key(key, addr);
  pthread_mutex_lock(&l->mu);
  slot = slot_of(l, key);
  if(*slot)
    remove_entry(l, slot);
  pthread_mutex_unlock(&l->mu);
}

int lockout_count(struct lockout *l)
{
  int n;

  pthread_mutex_lock(&l->mu);
  n = l->count;
  pthread_mutex_unlock(&l->mu);
  return n;
}
