#include "codec/oai_embed.h"
#include "base/sb.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct api_error *err, const char *param, const char *code,
               const char *msg)
{
  api_error_set(err, 400, "invalid_request_error", code, param, "%s", msg);
  return SB_EINVAL;
}

static int is_token(const cJSON *v)
{
  return cJSON_IsNumber(v) && v->valuedouble >= 0 &&
         v->valuedouble == floor(v->valuedouble);
}

/* One input: a non-empty string or a non-empty array of token ids. */
static int check_item(const cJSON *v, int allow_tokens_array)
{
  const cJSON *t;

  if(cJSON_IsString(v))
    return v->valuestring[0] != '\0';
  if(!allow_tokens_array || !cJSON_IsArray(v) || !cJSON_GetArraySize(v))
    return 0;
  cJSON_ArrayForEach(t, v) if(!is_token(t)) return 0;
  return 1;
}

int oai_embed_validate(const cJSON *body, struct api_error *err)
{
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(body, "dimensions");
  const cJSON *user = cJSON_GetObjectItemCaseSensitive(body, "user");
  const cJSON *it;
  int n;

  if(!cJSON_IsString(model) || !model->valuestring[0])
    return bad(err, "model", "missing_required_parameter",
               "'model' is required and must be a non-empty string.");
  if(!input)
    return bad(err, "input", "missing_required_parameter",
               "'input' is required.");
  if(cJSON_IsArray(input)) {
    n = cJSON_GetArraySize(input);
    if(!n)
      return bad(err, "input", "invalid_value",
                 "'input' must not be an empty array.");
    if(n > OAI_EMBED_MAX_INPUTS)
      return bad(err, "input", "invalid_value",
                 "'input' must have at most 2048 items.");
    /* A flat array of integers is one tokenised input. */
    if(is_token(cJSON_GetArrayItem(input, 0))) {
      if(!check_item(input, 1))
        return bad(err, "input", "invalid_type",
                   "'input' mixes token ids with other values.");
    } else {
      cJSON_ArrayForEach(it, input) if(!check_item(it, 1)) return bad(
          err, "input", "invalid_value",
          "Every item of 'input' must be a non-empty string or a non-empty "
          "array of token ids.");
    }
  } else if(!check_item(input, 0)) {
    return bad(err, "input", "invalid_value",
               "'input' must be a non-empty string or an array.");
  }
  if(fmt && !cJSON_IsNull(fmt) &&
     (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") &&
                               strcmp(fmt->valuestring, "base64"))))
    return bad(err, "encoding_format", "invalid_value",
               "'encoding_format' must be 'float' or 'base64'.");
  if(dims && !cJSON_IsNull(dims) &&
     (!cJSON_IsNumber(dims) || dims->valuedouble < 1 ||
      dims->valuedouble != floor(dims->valuedouble)))
    return bad(err, "dimensions", "invalid_value",
               "'dimensions' must be an integer of at least 1.");
  if(user && !cJSON_IsString(user))
    return bad(err, "user", "invalid_type", "'user' must be a string.");
  return 0;
}

int oai_embed_base64(const cJSON *body)
{
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");

  return cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
}

void oai_embed_to_base64(cJSON *list)
{
  cJSON *d;

  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(list, "data"))
  {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "embedding");
    int n = cJSON_GetArraySize(v);
    unsigned char *raw;
    char *b64;
    cJSON *x;
    int i = 0;

    if(!cJSON_IsArray(v))
      continue;
    raw = sb_malloc((size_t)n * 4 + 1);
    b64 = sb_malloc(((size_t)n * 4 + 2) / 3 * 4 + 1);
    cJSON_ArrayForEach(x, v)
    {
      float f = (float)x->valuedouble;
      uint32_t bits;
      memcpy(&bits, &f, 4);
      for(int b = 0; b < 4; b++) /* little-endian on the wire */
        raw[4 * i + b] = (unsigned char)(bits >> (8 * b));
      i++;
    }
    EVP_EncodeBlock((unsigned char *)b64, raw, n * 4);
    cJSON_ReplaceItemInObjectCaseSensitive(d, "embedding",
                                           cJSON_CreateString(b64));
    free(raw);
    free(b64);
  }
}
