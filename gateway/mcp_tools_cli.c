/*
 * mcp_tools_cli.c - `switchboard mcp tools NAME`: connect to one
 * federated server as the gateway would (same definition, same
 * credentials, same checks) and print the tools it offers, so that an
 * operator can see what a definition reaches before any client does.
 */
#include "gateway/mcp.h"
#include "base/sb.h"
#include "mcp/fed.h"
#include "mcp/names.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int mcp_cli_tools(const struct config *cfg, const struct config_mcp_server *def,
                  int json, int wait_s)
{
  struct mcp_fed_options opt = {0};
  const struct mcp_fed_snap *snap = NULL;
  const struct mcp_fed_server *s = NULL;
  struct mcp_fed *fed;
  char err[256];
  int64_t deadline = sb_now_ms() + (int64_t)wait_s * 1000;
  int rc = 1;

  opt.sec = &cfg->security;
  opt.client_name = "switchboard";
  opt.client_version = SB_VERSION;
  opt.connect_timeout_ms = cfg->limits.connect_timeout_ms;
  if(mcp_fed_start(&opt, &fed, err, sizeof(err))) {
    fprintf(stderr, "switchboard: %s\n", err);
    return 1;
  }
  mcp_fed_set_servers(fed, def, 1);
  /* The federation connects on its own thread; this command only waits
   * for it to say how that went. */
  for(;;) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    snap = mcp_fed_snapshot(fed);
    s = mcp_fed_find(snap, def->name);
    if(s && (s->state == MCP_FED_UP || s->state == MCP_FED_DISABLED ||
             (s->state == MCP_FED_DOWN && s->error)))
      break;
    mcp_fed_snap_release(snap);
    snap = NULL;
    if(sb_now_ms() >= deadline)
      break;
    nanosleep(&ts, NULL);
  }
  if(!snap || !s) {
    fprintf(stderr, "switchboard: %s did not come up within %d s\n", def->name,
            wait_s);
  } else if(s->state != MCP_FED_UP) {
    fprintf(stderr, "switchboard: %s is %s: %s\n", def->name,
            s->state == MCP_FED_DISABLED ? "disabled" : "down",
            s->error ? s->error : "not enabled");
  } else if(json) {
    char *text = cJSON_Print(s->tools);
    printf("%s\n", text);
    cJSON_free(text);
    rc = 0;
  } else {
    const cJSON *t;
    cJSON_ArrayForEach(t, s->tools)
    {
      const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
      const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "description");
      char pub[MCP_NAME_MAX + 1];
      if(!cJSON_IsString(n))
        continue;
      mcp_name_public(def->name, n->valuestring, pub);
      /* The first line of the description: a table row each. */
      printf("%-40s %.*s\n", pub,
             cJSON_IsString(d) ? (int)strcspn(d->valuestring, "\n") : 0,
             cJSON_IsString(d) ? d->valuestring : "");
    }
    rc = 0;
  }
  if(snap)
    mcp_fed_snap_release(snap);
  mcp_fed_stop(fed);
  return rc;
}
