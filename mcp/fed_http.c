/*
 * fed_http.c - the Streamable HTTP transport (stub until written).
 */
#include "mcp/fed_int.h"
#include "base/sb.h"

static int http_open(struct mcp_fed_conn *c, struct mcp_fed_tr **out, char *err,
                     size_t errlen)
{
  sb_errf(err, errlen, "HTTP transport not built yet");
  return SB_EIO;
}

static int http_send(struct mcp_fed_tr *t, const cJSON *msg, int64_t req_id)
{
  return SB_EIO;
}

static void http_nop(struct mcp_fed_tr *t)
{
}

static void http_forget(struct mcp_fed_tr *t, int64_t req_id)
{
}

const struct mcp_fed_tr_ops mcp_fed_http_ops = {
    http_open, http_send, http_nop, http_forget, http_nop,
};
