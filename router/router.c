#include "router/router.h"
#include "base/sb.h"

#include <stdlib.h>
#include <string.h>

static int not_found(const char *model, struct api_error *err)
{
  api_error_set(err, 404, "invalid_request_error", "model_not_found", "model",
                "The model '%s' does not exist or is not served by this "
                "gateway. GET /v1/models lists the models available.",
                model);
  return SB_ENOTFOUND;
}

int router_resolve(const struct prov_registry *reg, const char *model,
                   struct router_target *out, struct api_error *err)
{
  const char *slash = strchr(model, '/');
  const struct prov *found = NULL;
  int matches = 0;

  memset(out, 0, sizeof(*out));
  if(slash) {
    const struct prov *p = prov_find(reg, model, (size_t)(slash - model));
    if(p && slash[1] && prov_has_model(p, slash + 1)) {
      out->prov = p;
      out->upstream_model = sb_strdup(slash + 1);
      return 0;
    }
    /* Upstream ids may contain '/' themselves (e.g. "meta-llama/x"):
     * fall through and try the whole name as a bare model. */
  }
  for(int i = 0; i < reg->nprovs; i++) {
    const struct prov *p = &reg->provs[i];
    for(int j = 0; j < p->nmodels; j++)
      if(p->models_known && !strcmp(p->models[j], model)) {
        found = p;
        matches++;
        break;
      }
  }
  if(matches == 1) {
    out->prov = found;
    out->upstream_model = sb_strdup(model);
    return 0;
  }
  if(matches > 1) {
    api_error_set(err, 400, "invalid_request_error", "ambiguous_model", "model",
                  "The model '%s' is served by several providers; name one "
                  "as 'provider/%s'.",
                  model, model);
    return SB_EINVAL;
  }
  return not_found(model, err);
}

void router_target_free(struct router_target *t)
{
  free(t->upstream_model);
  t->upstream_model = NULL;
  t->prov = NULL;
}
