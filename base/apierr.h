/*
 * apierr.h - an error that reaches a client.
 *
 * Every layer that can refuse a request fills one struct api_error; the
 * inbound codec renders it in the caller's format (today the OpenAI error
 * object {"error":{"message","type","param","code"}}).
 */
#ifndef SB_BASE_APIERR_H
#define SB_BASE_APIERR_H

struct api_error {
  int status;         /* HTTP status */
  char type[48];      /* OpenAI error type, e.g. invalid_request_error */
  char code[48];      /* machine code or "" for null */
  char param[96];     /* offending parameter or "" for null */
  char message[512];  /* human-readable, never contains secrets */
  int retry_after_s;  /* >0: send retry-after (429/503) */
  int retry_after_ms; /* >0: send retry-after-ms */
  int final;          /* send x-should-retry: false: a retry cannot succeed (the
                       * official SDKs otherwise retry every 429) */
};

/** Fill err. code and param may be NULL (rendered as JSON null). */
void api_error_set(struct api_error *err, int status, const char *type,
                   const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/**
 * Render err as the OpenAI error object. Returns a malloc'd JSON string
 * the caller frees.
 */
char *api_error_openai_json(const struct api_error *err);

/**
 * Render err as Anthropic's error body
 * {"type":"error","error":{"type":T,"message":M}}, T
 * chosen from err->status: 400 invalid_request_error, 401
 * authentication_error, 402 billing_error, 403 permission_error, 404
 * not_found_error, 413 request_too_large, 429 rate_limit_error, 500 and 502
 * api_error, 504 timeout_error, 503 and 529 overloaded_error; any other
 * 4xx invalid_request_error, anything else api_error. The same body is the
 * data of a stream's `event: error`. No request_id: Anthropic's SDKs read
 * it from the request-id header. Returns a malloc'd JSON string the caller
 * frees.
 */
char *api_error_anthropic_json(const struct api_error *err);

#endif
