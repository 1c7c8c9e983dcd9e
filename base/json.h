/*
 * json.h - checks on raw JSON text before it is parsed.
 */
#ifndef SB_BASE_JSON_H
#define SB_BASE_JSON_H

#include <stddef.h>

/**
 * 1 if the JSON text s (n bytes) nests objects and arrays deeper than
 * max_depth, else 0. Brackets inside strings do not count. Runs in one
 * pass without allocating, so a hostile body is refused before cJSON
 * recurses into it.
 */
int json_too_deep(const char *s, size_t n, int max_depth);

#endif
