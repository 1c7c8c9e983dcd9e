/*
 * jsonrpc.c - JSON-RPC 2.0 messages as MCP uses them (jsonrpc.h).
 */
#include "mcp/jsonrpc.h"
#include "base/json.h"
#include "base/sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct jsonrpc_msg *m, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct jsonrpc_msg *m, int code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(m->why, sizeof(m->why), fmt, ap);
  va_end(ap);
  m->code = code;
  return code;
}

/* An id MCP accepts: a string, or an integer a double holds exactly. */
static int valid_id(const cJSON *id)
{
  double d;

  if(cJSON_IsString(id))
    return 1;
  if(!cJSON_IsNumber(id))
    return 0;
  d = id->valuedouble;
  /* Below 2^53 in magnitude: past it a double no longer holds every
   * integer, and the id sent back could differ from the one received. */
  return d > -9007199254740992.0 && d < 9007199254740992.0 &&
         d == (double)(long long)d;
}

/* Classify and check one message object o into m. */
static void check(const cJSON *o, struct jsonrpc_msg *m)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "jsonrpc");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
  const cJSON *result = cJSON_GetObjectItemCaseSensitive(o, "result");
  const cJSON *error = cJSON_GetObjectItemCaseSensitive(o, "error");

  memset(m, 0, sizeof(*m));
  m->kind = JSONRPC_REQUEST;
  if(id && valid_id(id))
    m->id = id; /* readable even when the rest is not: errors carry it */
  if(!cJSON_IsObject(o)) {
    bad(m, JSONRPC_INVALID_REQUEST, "a message must be a JSON object");
    return;
  }
  if(!cJSON_IsString(v) || strcmp(v->valuestring, "2.0")) {
    bad(m, JSONRPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
    return;
  }
  if(method) {
    m->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
    if(!cJSON_IsString(method) || !method->valuestring[0]) {
      bad(m, JSONRPC_INVALID_REQUEST, "\"method\" must be a non-empty string");
      return;
    }
    m->method = method->valuestring;
    if(id && !m->id) {
      bad(m, JSONRPC_INVALID_REQUEST,
          "\"id\" must be a string or an integer (never null)");
      return;
    }
    if(result || error) {
      bad(m, JSONRPC_INVALID_REQUEST,
          "a request has no \"result\" or \"error\"");
      return;
    }
    if(params && !cJSON_IsObject(params)) {
      bad(m, JSONRPC_INVALID_PARAMS, "\"params\" must be an object");
      return;
    }
    m->params = params;
    return;
  }
  /* A response: to a request the server made. */
  if(!!result == !!error) {
    bad(m, JSONRPC_INVALID_REQUEST,
        "a message needs \"method\", or exactly one of \"result\" and "
        "\"error\"");
    return;
  }
  if(result) {
    m->kind = JSONRPC_RESULT;
    if(!m->id) {
      bad(m, JSONRPC_INVALID_REQUEST,
          "a result needs the string or integer \"id\" it answers");
      return;
    }
    if(!cJSON_IsObject(result)) {
      bad(m, JSONRPC_INVALID_REQUEST, "\"result\" must be an object");
      return;
    }
    m->result = result;
    return;
  }
  m->kind = JSONRPC_ERROR;
  if(!(id && (m->id || cJSON_IsNull(id)))) {
    bad(m, JSONRPC_INVALID_REQUEST,
        "an error needs the \"id\" it answers (null when unknown)");
    return;
  }
  if(!cJSON_IsObject(error) ||
     !valid_id(cJSON_GetObjectItemCaseSensitive(error, "code")) ||
     !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(error, "code")) ||
     !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(error, "message"))) {
    bad(m, JSONRPC_INVALID_REQUEST,
        "\"error\" must be an object with an integer \"code\" and a string "
        "\"message\"");
    return;
  }
  m->error = error;
}

static int fail(int code, char *why, size_t whylen, const char *msg)
{
  snprintf(why, whylen, "%s", msg);
  return code;
}

int jsonrpc_parse(const char *body, size_t len, int allow_batch, int max_depth,
                  struct jsonrpc_body *out, char *why, size_t whylen)
{
  const char *end = NULL;
  const cJSON *it;
  int i = 0;

  memset(out, 0, sizeof(*out));
  if(!body || !len)
    return fail(JSONRPC_PARSE_ERROR, why, whylen, "the body is empty");
  if(json_too_deep(body, len, max_depth))
    return fail(JSONRPC_PARSE_ERROR, why, whylen, "the JSON nests too deep");
  out->root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  /* One value, then only whitespace: bytes after it are no message. */
  while(out->root && end && end < body + len && *end && strchr(" \t\r\n", *end))
    end++;
  if(!out->root || end != body + len) {
    cJSON_Delete(out->root);
    out->root = NULL;
    return fail(JSONRPC_PARSE_ERROR, why, whylen, "the body is not JSON");
  }
  if(cJSON_IsArray(out->root)) {
    int n = cJSON_GetArraySize(out->root);
    if(!allow_batch)
      return fail(JSONRPC_INVALID_REQUEST, why, whylen,
                  "batches are not accepted in this protocol revision: "
                  "send one message per request");
    if(!n)
      return fail(JSONRPC_INVALID_REQUEST, why, whylen, "the batch is empty");
    out->batch = 1;
    out->msg = sb_calloc((size_t)n, sizeof(*out->msg));
    cJSON_ArrayForEach(it, out->root) check(it, &out->msg[i++]);
    out->n = n;
    return 0;
  }
  if(!cJSON_IsObject(out->root))
    return fail(JSONRPC_INVALID_REQUEST, why, whylen,
                "the body must be one JSON-RPC message (an object)");
  out->msg = sb_calloc(1, sizeof(*out->msg));
  check(out->root, &out->msg[0]);
  out->n = 1;
  return 0;
}

void jsonrpc_body_free(struct jsonrpc_body *b)
{
  cJSON_Delete(b->root);
  free(b->msg);
  memset(b, 0, sizeof(*b));
}

static cJSON *envelope(const cJSON *id, int with_id)
{
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "jsonrpc", "2.0");
  if(id)
    cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
  else if(with_id)
    cJSON_AddNullToObject(o, "id");
  return o;
}

cJSON *jsonrpc_result(const cJSON *id, cJSON *result)
{
  cJSON *o = envelope(id, 1);

  cJSON_AddItemToObject(o, "result", result ? result : cJSON_CreateObject());
  return o;
}

cJSON *jsonrpc_error(const cJSON *id, int code, const char *message,
                     cJSON *data)
{
  cJSON *o = envelope(id, 1);
  cJSON *e = cJSON_AddObjectToObject(o, "error");

  cJSON_AddNumberToObject(e, "code", code);
  cJSON_AddStringToObject(e, "message", message);
  if(data)
    cJSON_AddItemToObject(e, "data", data);
  return o;
}

cJSON *jsonrpc_call(const cJSON *id, const char *method, cJSON *params)
{
  cJSON *o = envelope(id, 0);

  cJSON_AddStringToObject(o, "method", method);
  if(params)
    cJSON_AddItemToObject(o, "params", params);
  return o;
}
