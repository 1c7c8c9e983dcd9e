/*
 * oai_err.h - OpenAI-style validation errors and the JSON paths they name,
 * shared by the inbound request checks (oai_chat.c, oai_resp.c).
 *
 * Every failure fills err with status 400, type invalid_request_error,
 * param the JSON path of the offending value (e.g.
 * "messages[2].content[0].type", "tool_choice", "truncation") and OpenAI's
 * wording, and returns SB_EINVAL, so a caller can `return oai_err_...(...)`.
 * The wording is what clients and the unit tests match on: change it only
 * on purpose. Anthropic's wording lives in anth_msgs.c.
 *
 * Paths are cut to fit OAI_ERR_PATH_LEN; they only name what went wrong,
 * and api_error.param keeps less anyway, so a cut one is harmless.
 *
 * Pure: no I/O, no global state; safe from any thread.
 */
#ifndef SB_CODEC_OAI_ERR_H
#define SB_CODEC_OAI_ERR_H

#include "base/apierr.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/** Room for a JSON path, NUL included; api_error.param keeps 95 bytes. */
#define OAI_ERR_PATH_LEN 160

/** Longest user-supplied value quoted back in a message, in bytes. */
#define OAI_ERR_QUOTE_MAX 40

/**
 * The JSON type of v as a message names it: "null", "a boolean",
 * "a number", "a string", "an array", "an object", or "an invalid value"
 * (NULL or a cJSON invalid item). Never NULL; static storage.
 */
const char *oai_err_type_name(const cJSON *v);

/**
 * s as quoted back to the client: copied into out whole when at most
 * OAI_ERR_QUOTE_MAX bytes, else cut on a UTF-8 boundary at or below that
 * and followed by "...". Returns out.
 */
const char *oai_err_quote(char out[OAI_ERR_QUOTE_MAX + 4], const char *s);

/**
 * code invalid_type: "Invalid type for 'PATH': expected EXPECTED, got
 * <oai_err_type_name(got)>." expected reads like a type name ("a string",
 * "a string or an array of content parts").
 */
int oai_err_type(struct api_error *err, const char *path, const char *expected,
                 const cJSON *got);

/** code missing_required_parameter: "Missing required parameter: 'PATH'." */
int oai_err_missing(struct api_error *err, const char *path);

/**
 * code invalid_value: "Invalid value for 'PATH': <fmt, ...>". The detail
 * is cut to 383 bytes; fmt usually ends with a full stop.
 */
int oai_err_value(struct api_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Something OpenAI accepts that this gateway cannot do: code is
 * unsupported_parameter (a field) or unsupported_value (a value); the
 * message is fmt, ... alone, cut to 383 bytes.
 */
int oai_err_unsupported(struct api_error *err, const char *code,
                        const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * Append 'name' (quoted) to the comma-separated list in list (cap bytes,
 * NUL-terminated, "" to start), as far as cap allows: builds the list
 * oai_err_one_of() names.
 */
void oai_err_list_add(char *list, size_t cap, const char *name);

/**
 * code invalid_value: "Invalid value for 'PATH': expected one of LIST, got
 * '<oai_err_quote(got)>'." list comes from oai_err_list_add().
 */
int oai_err_one_of(struct api_error *err, const char *path, const char *list,
                   const char *got);

/**
 * got must be one of allowed (NULL-terminated). Returns 0 with *match (may
 * be NULL) set to the allowed entry, or oai_err_one_of() with every entry
 * (cut at 255 bytes).
 */
int oai_err_enum(struct api_error *err, const char *path,
                 const char *const *allowed, const char *got,
                 const char **match);

/**
 * out = path.key, or key alone when path is "" (a top-level field). out
 * holds OAI_ERR_PATH_LEN bytes and must not be path.
 */
void oai_err_join(char *out, const char *path, const char *key);

/** out = path[i]. out holds OAI_ERR_PATH_LEN bytes and must not be path. */
void oai_err_join_index(char *out, const char *path, int i);

/**
 * The required string member key of obj (path names obj, "" for the top
 * level): missing when absent, invalid_type when not a string (null
 * included). *out (may be NULL) receives the string.
 */
int oai_err_need_string(const cJSON *obj, const char *key, const char *path,
                        const char **out, struct api_error *err);

/**
 * An optional member key of obj that, when present, must pass check
 * (cJSON_IsString, cJSON_IsObject ...); what names the type for
 * oai_err_type(). null passes only when nullable.
 */
int oai_err_opt_member(const cJSON *obj, const char *key, const char *path,
                       cJSON_bool (*check)(const cJSON *), const char *what,
                       int nullable, struct api_error *err);

/**
 * OpenAI's rule for tool, function and schema names: 1 to 64 bytes of
 * a-z, A-Z, 0-9, '_' or '-'. Returns 1 when s follows it, else 0.
 * anth_msgs.c applies it too, so no tool name it accepts fails the
 * canonical request's check.
 */
int oai_err_valid_name(const char *s);

/**
 * A required string member (as oai_err_need_string()) that must follow
 * oai_err_valid_name(), else invalid_value quoting it. *out (may be NULL)
 * receives the string whenever it is one, valid name or not.
 */
int oai_err_need_name(const cJSON *obj, const char *key, const char *path,
                      const char **out, struct api_error *err);

/** What a top-level scalar member must be (oai_err_scalar). */
enum oai_kind { OAI_BOOL, OAI_NUM, OAI_INT, OAI_STR, OAI_OBJ, OAI_ARR };

struct oai_scalar_rule {
  const char *name;
  enum oai_kind kind;
  int nullable;
  int has_min, has_max;
  double min, max;
};

/**
 * Check the member r->name of body against r: absent passes, null passes
 * when nullable; else the kind (OAI_INT: a whole number an int64 holds,
 * OAI_NUM: finite) and the bounds, invalid_type or invalid_value naming
 * it. The Chat Completions and Responses codecs share it.
 */
int oai_err_scalar(const cJSON *body, const struct oai_scalar_rule *r,
                   struct api_error *err);

#endif
