/*
 * oai_conv.c - checks of the Conversations API's bodies (codec/oai_conv.h).
 */
#include "codec/oai_conv.h"
#include "codec/oai_err.h"
#include "base/sb.h"

#include <string.h>

/* The documented Responses input item types and the prefix of the ids
 * OpenAI gives them (item_reference is left out on purpose: see the
 * header). */
static const struct {
  const char *type;
  const char *prefix;
} item_types[] = {
    {"message", "msg_"},
    {"function_call", "fc_"},
    {"function_call_output", "fco_"},
    {"reasoning", "rs_"},
    {"file_search_call", "fs_"},
    {"web_search_call", "ws_"},
    {"computer_call", "cu_"},
    {"computer_call_output", "cuo_"},
    {"image_generation_call", "ig_"},
    {"code_interpreter_call", "ci_"},
    {"local_shell_call", "lsh_"},
    {"local_shell_call_output", "lsho_"},
    {"shell_call", "sh_"},
    {"shell_call_output", "sho_"},
    {"apply_patch_call", "apc_"},
    {"apply_patch_call_output", "apco_"},
    {"mcp_list_tools", "mcpl_"},
    {"mcp_approval_request", "mcpr_"},
    {"mcp_approval_response", "mcpa_"},
    {"mcp_call", "mcp_"},
    {"custom_tool_call", "ctc_"},
    {"custom_tool_call_output", "ctco_"},
    {"tool_search_call", "tsc_"},
    {"tool_search_output", "tso_"},
    {"compaction", "cmp_"},
};

const char *oai_conv_id_prefix(const char *type)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(item_types); i++)
    if(!strcmp(item_types[i].type, type))
      return item_types[i].prefix;
  return "item_";
}

static int known_type(const char *type)
{
  for(size_t i = 0; i < SB_ARRAY_LEN(item_types); i++)
    if(!strcmp(item_types[i].type, type))
      return 1;
  return 0;
}

int oai_conv_check_metadata(const cJSON *metadata, struct api_error *err)
{
  const cJSON *kv;
  char p[OAI_ERR_PATH_LEN];
  int n;

  if(!metadata || cJSON_IsNull(metadata))
    return 0;
  if(!cJSON_IsObject(metadata))
    return oai_err_type(err, "metadata", "an object", metadata);
  n = cJSON_GetArraySize(metadata);
  if(n > OAI_CONV_MAX_META)
    return oai_err_value(err, "metadata",
                         "an object with at most %d properties, got %d.",
                         OAI_CONV_MAX_META, n);
  cJSON_ArrayForEach(kv, metadata)
  {
    size_t klen = strlen(kv->string);

    oai_err_join(p, "metadata", kv->string);
    if(klen > OAI_CONV_MAX_META_KEY)
      return oai_err_value(err, "metadata",
                           "keys are at most %d characters, got one of %zu.",
                           OAI_CONV_MAX_META_KEY, klen);
    if(!cJSON_IsString(kv))
      return oai_err_type(err, p, "a string", kv);
    if(strlen(kv->valuestring) > OAI_CONV_MAX_META_VAL)
      return oai_err_value(err, p,
                           "string too long: at most %d characters, got %zu.",
                           OAI_CONV_MAX_META_VAL, strlen(kv->valuestring));
  }
  return 0;
}

/* The content parts a message of role may hold (OpenAI refuses input
 * parts in an assistant message and output parts in the others). */
static const char *const in_parts[] = {"input_text", "input_image",
                                       "input_file", "input_audio", NULL};
static const char *const out_parts[] = {"output_text", "refusal", NULL};

static int check_message(const cJSON *it, const char *path,
                         struct api_error *err)
{
  static const char *const roles[] = {"user", "assistant", "system",
                                      "developer", NULL};
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
  const cJSON *part;
  const char *role;
  char p[OAI_ERR_PATH_LEN], pp[OAI_ERR_PATH_LEN];
  int assistant, i = 0;

  if(oai_err_need_string(it, "role", path, &role, err))
    return SB_EINVAL;
  oai_err_join(p, path, "role");
  if(oai_err_enum(err, p, roles, role, NULL))
    return SB_EINVAL;
  assistant = !strcmp(role, "assistant");
  oai_err_join(p, path, "content");
  if(!content)
    return oai_err_missing(err, p);
  if(cJSON_IsString(content))
    return 0;
  if(!cJSON_IsArray(content))
    return oai_err_type(err, p, "a string or an array of content parts",
                        content);
  cJSON_ArrayForEach(part, content)
  {
    const char *type;

    oai_err_join_index(pp, p, i++);
    if(!cJSON_IsObject(part))
      return oai_err_type(err, pp, "an object", part);
    if(oai_err_need_string(part, "type", pp, &type, err))
      return SB_EINVAL;
    {
      char tp[OAI_ERR_PATH_LEN];
      oai_err_join(tp, pp, "type");
      if(oai_err_enum(err, tp, assistant ? out_parts : in_parts, type, NULL))
        return SB_EINVAL;
    }
    if((!strcmp(type, "input_text") || !strcmp(type, "output_text")) &&
       oai_err_need_string(part, "text", pp, NULL, err))
      return SB_EINVAL;
    if(!strcmp(type, "refusal") &&
       oai_err_need_string(part, "refusal", pp, NULL, err))
      return SB_EINVAL;
  }
  return 0;
}

static int check_item(const cJSON *it, const char *type, const char *path,
                      struct api_error *err)
{
  char p[OAI_ERR_PATH_LEN];

  if(!strcmp(type, "message"))
    return check_message(it, path, err);
  if(!strcmp(type, "function_call"))
    return oai_err_need_string(it, "call_id", path, NULL, err) ||
                   oai_err_need_string(it, "name", path, NULL, err) ||
                   oai_err_need_string(it, "arguments", path, NULL, err)
               ? SB_EINVAL
               : 0;
  if(!strcmp(type, "function_call_output")) {
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(it, "output");
    if(oai_err_need_string(it, "call_id", path, NULL, err))
      return SB_EINVAL;
    oai_err_join(p, path, "output");
    if(!out)
      return oai_err_missing(err, p);
    if(!cJSON_IsString(out) && !cJSON_IsArray(out))
      return oai_err_type(err, p, "a string or an array of content parts", out);
    return 0;
  }
  if(!strcmp(type, "reasoning")) {
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(it, "summary");
    oai_err_join(p, path, "summary");
    if(!sum)
      return oai_err_missing(err, p);
    if(!cJSON_IsArray(sum))
      return oai_err_type(err, p, "an array", sum);
  }
  return 0;
}

int oai_conv_prepare_items(cJSON *items, const char *path,
                           struct api_error *err)
{
  char p[OAI_ERR_PATH_LEN], tp[OAI_ERR_PATH_LEN];
  cJSON *it;
  int n, i = 0;

  if(!cJSON_IsArray(items))
    return oai_err_type(err, path, "an array", items);
  n = cJSON_GetArraySize(items);
  if(n > OAI_CONV_MAX_ITEMS)
    return oai_err_value(err, path, "array too long: at most %d items, got %d.",
                         OAI_CONV_MAX_ITEMS, n);
  cJSON_ArrayForEach(it, items)
  {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    const char *type;

    oai_err_join_index(p, path, i++);
    oai_err_join(tp, p, "type");
    if(!cJSON_IsObject(it))
      return oai_err_type(err, p, "an object", it);
    if(!t && cJSON_HasObjectItem(it, "role")) {
      /* The easy message: stored as the message item it stands for. */
      cJSON_AddStringToObject(it, "type", "message");
      t = cJSON_GetObjectItemCaseSensitive(it, "type");
    }
    if(!t)
      return oai_err_missing(err, tp);
    if(!cJSON_IsString(t))
      return oai_err_type(err, tp, "a string", t);
    type = t->valuestring;
    if(!strcmp(type, "item_reference"))
      return oai_err_unsupported(err, "unsupported_value", tp,
                                 "Conversation items cannot be item "
                                 "references: send the item itself.");
    if(!known_type(type)) {
      char q[OAI_ERR_QUOTE_MAX + 4];
      return oai_err_value(err, tp, "'%s' is not a known item type.",
                           oai_err_quote(q, type));
    }
    if(check_item(it, type, p, err))
      return SB_EINVAL;
    if(id && !cJSON_IsNull(id)) {
      char ip[OAI_ERR_PATH_LEN];
      oai_err_join(ip, p, "id");
      if(!cJSON_IsString(id) || !id->valuestring[0])
        return oai_err_type(err, ip, "a non-empty string", id);
      for(const cJSON *o = items->child; o != it; o = o->next) {
        const cJSON *oid = cJSON_GetObjectItemCaseSensitive(o, "id");
        if(cJSON_IsString(oid) && !strcmp(oid->valuestring, id->valuestring))
          return oai_err_value(err, ip, "duplicate item id '%s'.",
                               id->valuestring);
      }
    } else {
      char fresh[48];
      sb_random_id(fresh, sizeof(fresh), oai_conv_id_prefix(type));
      if(id)
        cJSON_DeleteItemFromObjectCaseSensitive(it, "id");
      cJSON_AddStringToObject(it, "id", fresh);
    }
  }
  return 0;
}
