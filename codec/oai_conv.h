/*
 * oai_conv.h - the checks of the OpenAI Conversations API's request
 * bodies: metadata, and the items a client adds (POST /v1/conversations
 * and POST /v1/conversations/{id}/items).
 *
 * Items are OpenAI Responses input items. One is kept as the client sent
 * it, so that it goes back into a Responses request unchanged; only what
 * a stored item must have is added: "type":"message" on an easy message
 * ({role, content} alone) and an "id" where none was given.
 *
 * Errors are OpenAI's shape and wording (codec/oai_err.h): status 400,
 * param the JSON path ("items[2].role", "metadata").
 *
 * Pure: no I/O, no global state but the random ids; any thread.
 */
#ifndef SB_CODEC_OAI_CONV_H
#define SB_CODEC_OAI_CONV_H

#include "base/apierr.h"

#include <cjson/cJSON.h>

/* OpenAI's limits: items added by one request, metadata pairs, the
 * length in bytes of a metadata key and of a value. */
#define OAI_CONV_MAX_ITEMS    20
#define OAI_CONV_MAX_META     16
#define OAI_CONV_MAX_META_KEY 64
#define OAI_CONV_MAX_META_VAL 512

/**
 * metadata (NULL or JSON null: none) as OpenAI takes it: an object of at
 * most 16 members whose values are strings; keys at most 64 bytes, values
 * at most 512. 0, or SB_EINVAL with err.
 */
int oai_conv_check_metadata(const cJSON *metadata, struct api_error *err);

/**
 * Check the array items (param path, e.g. "items") and complete each item
 * in place (the easy message's type, a fresh id by type: msg_, fc_, fco_,
 * rs_, ...). At most OAI_CONV_MAX_ITEMS; every type a documented
 * Responses input item (item_reference excepted: a conversation stores
 * items, not references); the message, function_call,
 * function_call_output and reasoning items checked field by field; no id
 * twice. 0, or SB_EINVAL with err (items left partly completed).
 */
int oai_conv_prepare_items(cJSON *items, const char *path,
                           struct api_error *err);

/** The id prefix of items of type type ("msg_" for a message, ...,
 * "item_" for a type without one of its own). Never NULL. */
const char *oai_conv_id_prefix(const char *type);

#endif
