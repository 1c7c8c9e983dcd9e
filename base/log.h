/*
 * log.h - structured logs: one JSON object per line on stderr.
 *
 *   log_event(LOG_INFO, "request", LOG_S("request_id", id),
 *             LOG_I("status", 200), LOG_F("ms", 1.5), LOG_END);
 *
 * writes
 *
 *   {"ts":"2026-11-22T04:20:00.123Z","level":"info","msg":"request",
 *    "request_id":"req_...","status":200,"ms":1.5}
 *
 * (on one line). Strings are JSON-escaped (control characters included)
 * and invalid UTF-8 is replaced by U+FFFD, so every line parses as JSON.
 * A line is at most LOG_LINE_MAX bytes: longer ones are cut inside a
 * string value or before a field and end with "truncated":true, still
 * valid JSON.
 *
 * Each line is written with a single write(2), so lines from different
 * threads never interleave (for pipes, lines up to PIPE_BUF = 4096 bytes
 * are atomic by POSIX; regular files and terminals take the whole line).
 * Between log_async_start() and log_async_stop() (the server), lines are
 * instead appended to a buffer in memory and written by a thread of their
 * own in batches of whole lines, within 50 ms (error lines at once): a
 * request's line then costs no system call on the event loop. Order is
 * kept, and log_async_stop() writes everything before it returns.
 *
 * The level is the one piece of process-global state in the code base:
 * logging is a sink shared by every thread and every module, set once at
 * start from the configuration, and threading a logger handle through
 * every call would buy nothing. It is an atomic, so it may also be changed
 * while threads log.
 */
#ifndef SB_BASE_LOG_H
#define SB_BASE_LOG_H

#include <stddef.h>
#include <stdint.h>

/** Longest line written, newline included. */
#define LOG_LINE_MAX 8192

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/** Value types of log_event() fields; use the LOG_* macros below. */
enum log_type {
  LOG_T_STR,  /* const char *, NULL logs null */
  LOG_T_STRN, /* const char *, size_t: n bytes (may hold NULs); NULL: null */
  LOG_T_INT,  /* int64_t */
  LOG_T_DBL,  /* double; NaN and infinities log null */
  LOG_T_BOOL, /* int, logged as true/false */
};

/* Field macros: each expands to a (key, type, value...) group. */
#define LOG_S(k, v)     (k), LOG_T_STR, (const char *)(v)
#define LOG_SN(k, v, n) (k), LOG_T_STRN, (const char *)(v), (size_t)(n)
#define LOG_I(k, v)     (k), LOG_T_INT, (int64_t)(v)
#define LOG_F(k, v)     (k), LOG_T_DBL, (double)(v)
#define LOG_B(k, v)     (k), LOG_T_BOOL, (int)!!(v)
/** Ends every log_event() argument list. */
#define LOG_END ((const char *)NULL)

/**
 * Parse a level name: debug, info, warn, warning or error, in any case.
 * Returns 0 with *out set, or SB_EINVAL (*out untouched).
 */
int log_level_parse(const char *s, enum log_level *out);

/** The level's lower-case name ("debug", "info", "warn", "error"). */
const char *log_level_name(enum log_level l);

/** Set the process-wide minimum level (default LOG_INFO). Thread-safe. */
void log_set_level(enum log_level l);

/** Nonzero when events at level l are written. */
int log_enabled(enum log_level l);

/**
 * Write one line at level l, if enabled, with message msg and the fields
 * given as LOG_S/LOG_SN/LOG_I/LOG_F/LOG_B groups ended by LOG_END. Keys
 * are expected to be literals; they are escaped like any string. Never
 * fails visibly: a failed write(2) is ignored. Thread-safe.
 */
void log_event(enum log_level l, const char *msg, ...);

/**
 * From now on, write lines from a thread of their own (see above). Returns
 * 0 (also when already started), or SB_EIO if the thread cannot be
 * created (lines are then written directly, as before).
 */
int log_async_start(void);

/**
 * Write every buffered line and stop the writer thread; later lines are
 * written directly. Call it before the process exits, after the threads
 * that log have stopped (lines logged meanwhile are still written, just
 * directly). A no-op when the writer is not running.
 */
void log_async_stop(void);

#endif
