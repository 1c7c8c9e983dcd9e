/*
 * caps.h - model capabilities in SQLite (table `model_caps`,
 * migrations/0014_model_caps.sql): a model's context window, its longest
 * answer, the inputs it reads and whether it calls tools.
 *
 * Rows are keyed like prices: "provider/model" (one provider instance)
 * or an upstream model name; admission/admission.h serves them from
 * memory (adm_model_caps) and reloads them when the table changes, as it
 * does the prices.
 *
 * Every function here opens its own connection and does its work in one
 * transaction: BLOCKING, for the CLI, start-up or a thread pool, never an
 * event loop (as store/keys.h).
 */
#ifndef SB_STORE_CAPS_H
#define SB_STORE_CAPS_H

#include <stddef.h>
#include <stdint.h>

/** Longest model name, in bytes. */
#define STORE_CAPS_MODEL_MAX 256

/** Input modalities: the canonical content parts a user message may
 * carry (text, image_url, input_audio, file). */
enum store_modality {
  STORE_MOD_TEXT = 1u << 0,
  STORE_MOD_IMAGE = 1u << 1,
  STORE_MOD_AUDIO = 1u << 2,
  STORE_MOD_FILE = 1u << 3,
};

/** One model's capabilities. model is owned by the struct. */
struct store_model_caps {
  char *model;               /* "provider/model" or an upstream name */
  int64_t context_tokens;    /* prompt and answer together; > 0 */
  int64_t max_output_tokens; /* 1..context_tokens; 0: unknown */
  unsigned modalities;       /* STORE_MOD_* bits; 0: unknown */
  int tools;                 /* 1 calls tools, 0 does not, -1 unknown */
  int64_t updated_at;        /* unix seconds (0 for the seeded rows) */
};

/** The bit of a modality name ("text", "image", "audio", "file"), or 0. */
unsigned store_modality_bit(const char *name);
/** The name of one bit, or NULL. */
const char *store_modality_name(unsigned bit);

/** Free n capabilities and the array. Safe on NULL. */
void store_caps_free(struct store_model_caps *c, int n);

/**
 * Check c as store_caps_set() does: a model of 1..STORE_CAPS_MODEL_MAX
 * bytes without control characters, context_tokens > 0,
 * max_output_tokens 0 or 1..context_tokens, only known modality bits,
 * tools -1, 0 or 1. 0, or SB_EINVAL with err naming the field.
 */
int store_caps_validate(const struct store_model_caps *c, char *err,
                        size_t errlen);

/**
 * Every row, sorted by model (strcmp order). *out (caller frees with
 * store_caps_free; NULL when none) and *n. Modality names the gateway
 * does not know (an operator's SQL) are ignored. 0 or SB_EDB with err.
 */
int store_caps_list(const char *path, struct store_model_caps **out, int *n,
                    char *err, size_t errlen);

/** Insert or replace c (updated_at set to now). 0, SB_EINVAL
 * (store_caps_validate), or SB_EDB with err. */
int store_caps_set(const char *path, const struct store_model_caps *c,
                   char *err, size_t errlen);

/** Delete the row of model: 0, SB_ENOTFOUND or SB_EDB with err. */
int store_caps_delete(const char *path, const char *model, char *err,
                      size_t errlen);

struct cJSON;
/**
 * The one JSON form of a row, for the admin API: {object:"model.caps",
 * model, context_tokens, max_output_tokens, modalities, tools,
 * updated_at}; unknown values are null (modalities an array of names,
 * tools a boolean). Caller frees.
 */
struct cJSON *store_caps_json(const struct store_model_caps *c);

#endif
