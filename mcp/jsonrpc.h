/*
 * jsonrpc.h - JSON-RPC 2.0 messages as the Model Context Protocol uses
 * them: a body parsed into its messages (one, or a batch where the
 * negotiated revision allows one), each told apart and checked, and the
 * objects a server sends built.
 *
 * MCP narrows JSON-RPC: an id is a string or an integer, never null, in a
 * request; params and a result are objects. A message that breaks a rule
 * is kept in the body with its error code, so that the caller can answer
 * it (with its id when it could be read) while serving the others of a
 * batch.
 *
 * Pure: no I/O, no global state. Ownership: a struct jsonrpc_body owns the
 * parsed document; every cJSON pointer in a message points into it.
 */
#ifndef SB_MCP_JSONRPC_H
#define SB_MCP_JSONRPC_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* JSON-RPC 2.0's error codes. */
#define JSONRPC_PARSE_ERROR      (-32700)
#define JSONRPC_INVALID_REQUEST  (-32600)
#define JSONRPC_METHOD_NOT_FOUND (-32601)
#define JSONRPC_INVALID_PARAMS   (-32602)
#define JSONRPC_INTERNAL_ERROR   (-32603)

enum jsonrpc_kind {
  JSONRPC_REQUEST,      /* method and id: answered */
  JSONRPC_NOTIFICATION, /* method, no id: never answered */
  JSONRPC_RESULT,       /* id and result */
  JSONRPC_ERROR,        /* id (null when unknown) and error */
};

struct jsonrpc_msg {
  enum jsonrpc_kind kind;
  int code;            /* 0, or the JSON-RPC error code this message earns */
  char why[160];       /* with code: what is wrong, for the error's message */
  const cJSON *id;     /* string or integer; NULL when absent or unreadable */
  const char *method;  /* requests and notifications */
  const cJSON *params; /* an object, or NULL when absent */
  const cJSON *result; /* JSONRPC_RESULT: an object */
  const cJSON *error;  /* JSONRPC_ERROR: {code, message, data?} */
};

struct jsonrpc_body {
  cJSON *root;             /* the document (owned) */
  struct jsonrpc_msg *msg; /* n messages, in the body's order */
  int n;
  int batch; /* the body was an array */
};

/**
 * Parse body (len bytes) into out. allow_batch: an array of messages is
 * accepted (MCP 2025-03-26); otherwise an array is a JSONRPC_INVALID_REQUEST.
 * max_depth bounds nesting before anything recurses into it.
 *
 * Returns 0 when out holds the messages (each may still carry its own
 * code), or JSONRPC_PARSE_ERROR (not JSON, nested too deep, bytes after
 * the value) or JSONRPC_INVALID_REQUEST (not an object, an empty or
 * forbidden batch), with why filled; then out holds nothing. out is to be
 * released with jsonrpc_body_free() either way.
 */
int jsonrpc_parse(const char *body, size_t len, int allow_batch, int max_depth,
                  struct jsonrpc_body *out, char *why, size_t whylen);

void jsonrpc_body_free(struct jsonrpc_body *b);

/** {"jsonrpc":"2.0","id":id,"result":result}; result is taken. */
cJSON *jsonrpc_result(const cJSON *id, cJSON *result);

/** {"jsonrpc":"2.0","id":id|null,"error":{code,message,data?}}; data (may
 * be NULL) is taken. */
cJSON *jsonrpc_error(const cJSON *id, int code, const char *message,
                     cJSON *data);

/** {"jsonrpc":"2.0","method":method,"params":params?}; params (may be
 * NULL) is taken. With id (copied) a request, without a notification. */
cJSON *jsonrpc_call(const cJSON *id, const char *method, cJSON *params);

#endif
