/*
 * caps.c - model capabilities in SQLite (caps.h).
 */
#include "store/caps.h"
#include "base/sb.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned bit;
} MODS[] = {
    {"text", STORE_MOD_TEXT},
    {"image", STORE_MOD_IMAGE},
    {"audio", STORE_MOD_AUDIO},
    {"file", STORE_MOD_FILE},
};

#define MODS_ALL                                                               \
  (STORE_MOD_TEXT | STORE_MOD_IMAGE | STORE_MOD_AUDIO | STORE_MOD_FILE)

unsigned store_modality_bit(const char *name)
{
  for(size_t i = 0; name && i < SB_ARRAY_LEN(MODS); i++)
    if(!strcmp(name, MODS[i].name))
      return MODS[i].bit;
  return 0;
}

const char *store_modality_name(unsigned bit)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(MODS); i++)
    if(bit == MODS[i].bit)
      return MODS[i].name;
  return NULL;
}

void store_caps_free(struct store_model_caps *c, int n)
{
  for(int i = 0; c && i < n; i++)
    free(c[i].model);
  free(c);
}

int store_caps_validate(const struct store_model_caps *c, char *err,
                        size_t errlen)
{
  size_t len = c->model ? strlen(c->model) : 0;

  if(!len || len > STORE_CAPS_MODEL_MAX) {
    sb_errf(err, errlen, "model: expected 1 to %d bytes", STORE_CAPS_MODEL_MAX);
    return SB_EINVAL;
  }
  for(size_t i = 0; i < len; i++)
    if((unsigned char)c->model[i] < 0x20 || c->model[i] == 0x7f) {
      sb_errf(err, errlen, "model: control characters are not allowed");
      return SB_EINVAL;
    }
  if(c->context_tokens <= 0) {
    sb_errf(err, errlen, "context_tokens: expected a positive integer");
    return SB_EINVAL;
  }
  if(c->max_output_tokens < 0 || c->max_output_tokens > c->context_tokens) {
    sb_errf(err, errlen,
            "max_output_tokens: expected a positive integer no larger than "
            "context_tokens, or null");
    return SB_EINVAL;
  }
  if(c->modalities & ~(unsigned)MODS_ALL) {
    sb_errf(err, errlen, "modalities: unknown modality");
    return SB_EINVAL;
  }
  if(c->tools < -1 || c->tools > 1) {
    sb_errf(err, errlen, "tools: expected true, false or null");
    return SB_EINVAL;
  }
  return 0;
}

/* The modalities column: a JSON array of names, or NULL. */
static unsigned modalities_parse(const unsigned char *text)
{
  cJSON *a = text ? cJSON_Parse((const char *)text) : NULL, *v;
  unsigned bits = 0;

  if(cJSON_IsArray(a))
    cJSON_ArrayForEach(v, a) bits |=
        store_modality_bit(cJSON_GetStringValue(v));
  cJSON_Delete(a);
  return bits;
}

static cJSON *modalities_json(unsigned bits)
{
  cJSON *a;

  if(!bits)
    return cJSON_CreateNull();
  a = cJSON_CreateArray();
  for(size_t i = 0; i < SB_ARRAY_LEN(MODS); i++)
    if(bits & MODS[i].bit)
      cJSON_AddItemToArray(a, cJSON_CreateString(MODS[i].name));
  return a;
}

int store_caps_list(const char *path, struct store_model_caps **out, int *n,
                    char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_db_begin(path, 0, &db, err, errlen), cap = 0, step = 0;

  *out = NULL;
  *n = 0;
  if(rc)
    return rc;
  /* COLLATE BINARY: the order adm_model_caps() searches with strcmp */
  if(sqlite3_prepare_v2(db,
                        "SELECT model, context_tokens, max_output_tokens,"
                        " modalities, tools, updated_at FROM model_caps"
                        " ORDER BY model COLLATE BINARY",
                        -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "prepare", err, errlen);
  while(!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    struct store_model_caps *c;
    const unsigned char *model = sqlite3_column_text(st, 0);
    if(!model)
      continue; /* a NULL primary key: SQLite allows it, nothing names it */
    if(*n == cap) {
      cap = cap ? cap * 2 : 64;
      *out = sb_realloc(*out, sizeof(**out) * (size_t)cap);
    }
    c = &(*out)[(*n)++];
    c->model = sb_strdup((const char *)model);
    c->context_tokens = sqlite3_column_int64(st, 1);
    c->max_output_tokens = sqlite3_column_type(st, 2) == SQLITE_NULL
                               ? 0
                               : sqlite3_column_int64(st, 2);
    c->modalities = modalities_parse(sqlite3_column_text(st, 3));
    c->tools = sqlite3_column_type(st, 4) == SQLITE_NULL
                   ? -1
                   : sqlite3_column_int(st, 4) != 0;
    c->updated_at = sqlite3_column_int64(st, 5);
  }
  if(!rc && step != SQLITE_DONE)
    rc = store_db_fail(db, "SELECT model_caps", err, errlen);
  sqlite3_finalize(st);
  rc = store_db_finish(db, rc, err, errlen);
  if(rc) {
    store_caps_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int store_caps_set(const char *path, const struct store_model_caps *c,
                   char *err, size_t errlen)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db;
  int rc = store_caps_validate(c, err, errlen);

  if(rc)
    return rc;
  rc = store_db_begin(path, 1, &db, err, errlen);
  if(rc)
    return rc;
  if(sqlite3_prepare_v2(db,
                        "INSERT OR REPLACE INTO model_caps(model,"
                        " context_tokens, max_output_tokens, modalities,"
                        " tools, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                        -1, &st, NULL) != SQLITE_OK)
    rc = store_db_fail(db, "prepare", err, errlen);
  if(!rc) {
    sqlite3_bind_text(st, 1, c->model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, c->context_tokens);
    if(c->max_output_tokens > 0)
      sqlite3_bind_int64(st, 3, c->max_output_tokens);
    else
      sqlite3_bind_null(st, 3);
    if(c->modalities) {
      cJSON *a = modalities_json(c->modalities);
      char *text = cJSON_PrintUnformatted(a);
      cJSON_Delete(a);
      if(!text)
        abort(); /* out of memory */
      sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
      free(text);
    } else {
      sqlite3_bind_null(st, 4);
    }
    if(c->tools >= 0)
      sqlite3_bind_int(st, 5, c->tools);
    else
      sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, sb_now_ms() / 1000);
    if(sqlite3_step(st) != SQLITE_DONE)
      rc = store_db_fail(db, "INSERT model_caps", err, errlen);
  }
  sqlite3_finalize(st);
  return store_db_finish(db, rc, err, errlen);
}

int store_caps_delete(const char *path, const char *model, char *err,
                      size_t errlen)
{
  return store_db_delete_one(path, "DELETE FROM model_caps WHERE model = ?1",
                             model, err, errlen);
}

cJSON *store_caps_json(const struct store_model_caps *c)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "object", "model.caps");
  cJSON_AddStringToObject(o, "model", c->model);
  cJSON_AddNumberToObject(o, "context_tokens", (double)c->context_tokens);
  if(c->max_output_tokens > 0)
    cJSON_AddNumberToObject(o, "max_output_tokens",
                            (double)c->max_output_tokens);
  else
    cJSON_AddNullToObject(o, "max_output_tokens");
  cJSON_AddItemToObject(o, "modalities", modalities_json(c->modalities));
  if(c->tools >= 0)
    cJSON_AddBoolToObject(o, "tools", c->tools);
  else
    cJSON_AddNullToObject(o, "tools");
  cJSON_AddNumberToObject(o, "updated_at", (double)c->updated_at);
  return o;
}
