/*
 * json.h - checks on raw JSON text, and reads of it, without parsing it
 * into a tree.
 */
#ifndef SB_BASE_JSON_H
#define SB_BASE_JSON_H

#include <stddef.h>

struct buf;

/**
 * 1 if the JSON text s (n bytes) nests objects and arrays deeper than
 * max_depth, else 0. Brackets inside strings do not count. Runs in one
 * pass without allocating, so a hostile body is refused before cJSON
 * recurses into it.
 */
int json_too_deep(const char *s, size_t n, int max_depth);

/* The longest number json_check() accepts: cJSON reads no more. */
#define JSON_NUMBER_MAX 63

/* What json_check() saw in a valid text. */
#define JSON_ESCAPED_ASCII                                                     \
  1u /* a \u escape of a character below 0x80 that                             \
      * has a plain spelling (not a control) */

/**
 * 0 if s (n bytes) is exactly one JSON value as RFC 8259 defines it
 * (and, as cJSON, which must parse whatever this accepts, no \u escape
 * leaves a UTF-16 surrogate unpaired and no number is longer than
 * JSON_NUMBER_MAX), with only whitespace around it, nesting objects and arrays
 * no deeper than max_depth; else SB_EINVAL. Without allocating. *flags (may be
 * NULL) gets JSON_ESCAPED_ASCII when a string spells a plain character
 * as \u: raw-byte searches (json_members() included) can miss such text.
 */
int json_check(const char *s, size_t n, int max_depth, unsigned *flags);

/**
 * Walks the members of an object or the elements of an array, in the
 * raw text of a value json_check() accepted. Spans point into that text:
 * a key without its quotes and escapes left as written; a value whole
 * (a string with its quotes).
 */
struct json_iter {
  const char *p, *end;
  int object;
};

/** 0 and it ready if s (n bytes) is an object or an array, else
 * SB_EINVAL. */
int json_iter_init(struct json_iter *it, const char *s, size_t n);

/** 1 with the next member (key NULL in an array) or element, 0 at the
 * end. */
int json_iter_next(struct json_iter *it, const char **key, size_t *klen,
                   const char **val, size_t *vlen);

/** A value's raw text. */
struct json_span {
  const char *p; /* NULL: none */
  size_t n;
};

/**
 * In one pass over the object s (n bytes) that json_check() accepted,
 * the value of the first member named each of keys[0..nkeys) (compared
 * as written): vals[i] gets it, or {NULL, 0}. Returns how many were
 * found (0 too when s is not an object).
 */
int json_members(const char *s, size_t n, const char *const *keys, int nkeys,
                 struct json_span *vals);

/**
 * The span to cut out of the object s (n bytes, json_check() accepted)
 * to remove its first member named key: the member and one comma next
 * to it, so that what remains is the object without it. 1 with *cut
 * set, or 0 when there is no such member.
 */
int json_member_cut(const char *s, size_t n, const char *key,
                    struct json_span *cut);

/**
 * The length strlen() gives of the JSON string value v (with its quotes,
 * json_check() accepted) once decoded, as cJSON decodes it: escapes
 * become the bytes they stand for and a \u0000 ends it. 0 when v is not
 * a string.
 */
size_t json_string_len(struct json_span v);

/**
 * Append s (NUL-terminated) to b as a JSON string: quotes, backslashes
 * and control characters escaped, every other byte as it is. 0, or
 * SB_ETOOBIG past b's limit.
 */
int json_append_string(struct buf *b, const char *s);

#endif
