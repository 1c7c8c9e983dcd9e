/*
 * lockout.h - sign-in lock-out: failed sign-ins counted per client address
 * over a sliding window, in memory (docs/reference.md, "Dashboard").
 *
 * After max_failures failures from one address within window_ms, that
 * address is refused until the oldest of them leaves the window; a
 * successful sign-in forgets its failures. The table holds at most
 * max_addresses addresses: a new one evicts the one whose last failure is
 * the oldest, so a flood of addresses costs bounded memory (and can at
 * worst make the table forget an address early, never lock one out).
 *
 * Thread-safe: one mutex around the table, held for a hash lookup and a
 * few stores, never across I/O. No clock: callers pass the time, so the
 * tests can.
 */
#ifndef SB_ADMISSION_LOCKOUT_H
#define SB_ADMISSION_LOCKOUT_H

#include <stdint.h>

/* Longest address kept, in bytes with its NUL (an IPv6 text form fits);
 * longer ones are cut, which only merges addresses no peer has. */
#define LOCKOUT_ADDR_MAX 64

struct lockout;

/**
 * A new table: max_failures (>= 1) failures within window_ms (>= 1) lock
 * an address out; at most max_addresses (>= 1) addresses are kept.
 * Aborts on OOM, like every small allocation. Free with lockout_free().
 */
struct lockout *lockout_new(int max_failures, int64_t window_ms,
                            int max_addresses);

/** Free the table. Safe on NULL. */
void lockout_free(struct lockout *l);

/**
 * Whether addr may try to sign in at now_ms: 0, or SB_EAGAIN with
 * *retry_after_s the whole seconds (at least 1) until the window frees a
 * slot.
 */
int lockout_check(struct lockout *l, const char *addr, int64_t now_ms,
                  int64_t *retry_after_s);

/**
 * Check as lockout_check() does and, when addr may try, count the attempt
 * as a failure in the same step, so that concurrent attempts from one
 * address on several workers cannot all pass the check: the caller calls
 * lockout_clear() once the credential turns out good. 0 or SB_EAGAIN.
 */
int lockout_attempt(struct lockout *l, const char *addr, int64_t now_ms,
                    int64_t *retry_after_s);

/** Forget addr's failures (a successful sign-in). */
void lockout_clear(struct lockout *l, const char *addr);

/** How many addresses the table holds (for tests). */
int lockout_count(struct lockout *l);

#endif
