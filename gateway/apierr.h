/*
 * apierr.h - an error that reaches a client.
 *
 * Every layer that can refuse a request fills one struct api_error; the
 * inbound codec renders it in the caller's format (today the OpenAI error
 * object {"error":{"message","type","param","code"}}).
 */
#ifndef SB_GATEWAY_APIERR_H
#define SB_GATEWAY_APIERR_H

struct api_error {
  int status;         /* HTTP status */
  char type[48];      /* OpenAI error type, e.g. invalid_request_error */
  char code[48];      /* machine code or "" for null */
  char param[96];     /* offending parameter or "" for null */
  char message[512];  /* human-readable, never contains secrets */
  int retry_after_s;  /* >0: send retry-after (429/503) */
  int retry_after_ms; /* >0: send retry-after-ms */
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

#endif
