/*
 * sigv4.h - AWS Signature Version 4 for a request with headers
 *, as a pure function: the caller gives the time.
 *
 * libcurl's CURLOPT_AWS_SIGV4 is not used: Debian 12's libcurl signs the
 * path single-encoded, so model ids containing ':' fail.
 */
#ifndef SB_PROVIDERS_SIGV4_H
#define SB_PROVIDERS_SIGV4_H

#include <stddef.h>
#include <time.h>

/* Also sign an x-amz-content-sha256 header (the caller must send it). */
#define SIGV4_SIGN_CONTENT_SHA256 (1u << 0)

struct sigv4_request {
  const char *method;         /* "POST" */
  const char *url;            /* absolute, path already percent-encoded once */
  const char *const *headers; /* "Name: value" lines to sign (besides host,
                               * x-amz-date, x-amz-security-token); may be
                               * NULL when nheaders is 0 */
  int nheaders;
  const void *body;
  size_t body_len;
  const char *region;        /* "us-east-1" */
  const char *service;       /* "bedrock" */
  const char *access_key;    /* AKID */
  const char *secret_key;    /* never copied into the result */
  const char *session_token; /* or NULL */
  time_t now;                /* signing time, seconds since the epoch */
  unsigned flags;            /* SIGV4_SIGN_* */
};

/** What to send: "Authorization: <authorization>", "x-amz-date:
 * <amz_date>", "x-amz-content-sha256: <content_sha256>" (when signed) and
 * "x-amz-security-token: <session token>" when one was given. */
struct sigv4_result {
  char *authorization; /* malloc'd; free with sigv4_result_free */
  char amz_date[17];   /* YYYYMMDDTHHMMSSZ */
  char content_sha256[65];
  char *canonical_request; /* malloc'd, for tests and debugging */
  char *string_to_sign;    /* malloc'd */
};

/**
 * Sign req. Returns 0, or SB_EINVAL for a URL that is not
 * scheme://host[:port][/path][?query] or a header line without ':'.
 * The canonical URI is the path URI-encoded again (each byte outside
 * A-Za-z0-9-._~/ becomes %XX), as AWS expects for every service but S3.
 */
int sigv4_sign(const struct sigv4_request *req, struct sigv4_result *out);

void sigv4_result_free(struct sigv4_result *r);

/** Percent-encode s (bytes outside A-Za-z0-9-._~ become %XX, uppercase)
 * into a fresh string: how a model id goes into a URL path. */
char *sigv4_uri_encode(const char *s);

#endif
