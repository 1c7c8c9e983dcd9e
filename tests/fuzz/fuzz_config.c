/*
 * fuzz_config.c - the configuration file parser (config/config.c)
 * through config_load_json(), config_finish() (the security defaults,
 * with FUZZ_* on the credential allow-list), config_validate() (which
 * runs config_provider_allowed() on each provider) and, for every
 * provider it accepted, the checks the registry runs at start-up
 * (prov_check: kind, options through the adapter's configure). Inputs
 * starting with '$' instead go to config_expand_env() (the rest, up to
 * a NUL, is the value).
 */
#include "tests/fuzz/harness.h"

#include "config/config.h"
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct config cfg;
  char err[256];

  setenv("FUZZ_SET", "value", 1);
  setenv("SWITCHBOARD_CREDENTIAL_ENV", "FUZZ_*,SWITCHBOARD_CRED_*", 1);
  unsetenv("FUZZ_UNSET");
  if(size && data[0] == '$') {
    char *v = sb_strndup((const char *)data + 1, size - 1);
    char missing[64];
    char *out = config_expand_env(v, missing, sizeof(missing));

    free(out);
    free(v);
    return 0;
  }
  config_defaults(&cfg);
  err[0] = '\0';
  if(config_load_json(&cfg, (const char *)data, size, err, sizeof(err)) == 0 &&
     (config_finish(&cfg), config_validate(&cfg, err, sizeof(err)) == 0)) {
    for(int i = 0; i < cfg.nproviders; i++) {
      char path[32];

      snprintf(path, sizeof(path), "providers[%d]", i);
      (void)prov_check(&cfg.providers[i], path, 0, err, sizeof(err));
    }
  }
  FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
  config_free(&cfg);
  return 0;
}
