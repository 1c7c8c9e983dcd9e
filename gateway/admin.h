/*
 * admin.h - what the admin API's handlers share (gateway/admin.c,
 * gateway/admin_ops.c): the JSON answer, the 400 for a bad argument and
 * the time arguments. Internal to gateway/.
 */
#ifndef SB_GATEWAY_ADMIN_H
#define SB_GATEWAY_ADMIN_H

#include "gateway/http.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/** Answer r with o (taken) as JSON. */
void admin_respond(struct req *r, int status, cJSON *o);

/** A 400 invalid_value naming param into err; returns SB_EINVAL. */
int admin_bad(struct api_error *err, const char *param, const char *msg);

/** The query argument name (since, until: a date, an ISO 8601 UTC time
 * or unix seconds) into *ms, untouched when absent. 0, or SB_EINVAL with
 * err. */
int admin_time_arg(struct req *r, const char *name, int64_t *ms,
                   struct api_error *err);

#endif
