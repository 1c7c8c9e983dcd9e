/*
 * fuzz_jsonrpc.c - the MCP JSON-RPC codec (mcp/jsonrpc.c). Invariants:
 * a body is messages or one error code; every message either carries a
 * code and a reason or is what its kind promises (a request has a method
 * and an id, a result an object); the answer built for a message's id
 * parses back with the same id.
 *
 * Input: a flags byte (bit 0: batches allowed; the rest: the depth
 * limit), then the body.
 */
#include "tests/fuzz/harness.h"

#include "mcp/jsonrpc.h"

#include <stdlib.h>
#include <string.h>

/* The answer to m, printed and parsed again, names the same id. */
static void check_echo(const struct jsonrpc_msg *m)
{
  cJSON *o = m->code ? jsonrpc_error(m->id, m->code, m->why, NULL)
                     : jsonrpc_result(m->id, NULL);
  char *s = cJSON_PrintUnformatted(o);
  cJSON *back = cJSON_Parse(s);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(back, "id");

  FUZZ_CHECK(back);
  if(m->id)
    FUZZ_CHECK(cJSON_Compare(id, m->id, 1));
  else
    FUZZ_CHECK(cJSON_IsNull(id));
  cJSON_Delete(back);
  free(s);
  cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct jsonrpc_body b;
  char why[160];
  int rc;

  if(!size)
    return 0;
  rc = jsonrpc_parse((const char *)data + 1, size - 1, data[0] & 1,
                     2 + (data[0] >> 1) % 64, &b, why, sizeof(why));
  FUZZ_CHECK(rc == 0 || rc == JSONRPC_PARSE_ERROR ||
             rc == JSONRPC_INVALID_REQUEST);
  FUZZ_CHECK(rc ? b.n == 0 && why[0] : b.n > 0);
  for(int i = 0; i < b.n; i++) {
    const struct jsonrpc_msg *m = &b.msg[i];

    if(m->code) {
      FUZZ_CHECK(m->why[0]);
    } else if(m->kind == JSONRPC_REQUEST) {
      FUZZ_CHECK(m->method && m->method[0] && m->id);
    } else if(m->kind == JSONRPC_NOTIFICATION) {
      FUZZ_CHECK(m->method && !m->id);
    } else if(m->kind == JSONRPC_RESULT) {
      FUZZ_CHECK(cJSON_IsObject(m->result) && m->id);
    } else {
      FUZZ_CHECK(cJSON_IsObject(m->error));
    }
    FUZZ_CHECK(!m->params || cJSON_IsObject(m->params));
    check_echo(m);
  }
  jsonrpc_body_free(&b);
  return 0;
}
