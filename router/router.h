/*
 * router.h - model name to provider target.
 *
 * Today: "provider/model" picks the provider instance by name; a bare
 * model is accepted when exactly one provider serves it. Pure: no I/O.
 */
#ifndef SB_ROUTER_ROUTER_H
#define SB_ROUTER_ROUTER_H

#include "base/apierr.h"
#include "providers/provider.h"

struct router_target {
  const struct prov *prov;
  char *upstream_model; /* owned; free with router_target_free() */
};

/**
 * Resolve model against reg. Returns 0, or SB_ENOTFOUND with err filled
 * (404 model_not_found) or SB_EINVAL for an ambiguous bare name.
 */
int router_resolve(const struct prov_registry *reg, const char *model,
                   struct router_target *out, struct api_error *err);

void router_target_free(struct router_target *t);

#endif
