/* AWS SigV4: AWS's published vector (matched against botocore),
 * the double-encoded canonical URI, session tokens and queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/sb.h"
#include "providers/sigv4.h"

#include <stdlib.h>
#include <string.h>

/* 2025-01-02T03:04:05Z */
#define T_VECTOR ((time_t)1735787045)

static const char BODY[] = "{\"messages\":[{\"role\":\"user\",\"content\":[{"
                           "\"text\":\"Hello\"}]}],\"inferenceConfig\":{"
                           "\"maxTokens\":64}}";
static const char URL[] = "https://bedrock-runtime.us-east-1.amazonaws.com/"
                          "model/anthropic.claude-3-haiku-20240307-v1%3A0/"
                          "converse";
static const char *const HDRS[] = {"Content-Type: application/json"};

static struct sigv4_request vector_req(void)
{
  struct sigv4_request r;
  memset(&r, 0, sizeof(r));
  r.method = "POST";
  r.url = URL;
  r.headers = HDRS;
  r.nheaders = 1;
  r.body = BODY;
  r.body_len = strlen(BODY);
  r.region = "us-east-1";
  r.service = "bedrock";
  r.access_key = "AKIDEXAMPLE";
  r.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  r.now = T_VECTOR;
  return r;
}

static void test_vector(void **state)
{
  struct sigv4_request r = vector_req();
  struct sigv4_result o;
  (void)state;

  assert_int_equal(sigv4_sign(&r, &o), 0);
  assert_string_equal(o.amz_date, "20250102T030405Z");
  assert_string_equal(
      o.content_sha256,
      "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545");
  assert_string_equal(
      o.canonical_request,
      "POST\n"
      "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n"
      "\n"
      "content-type:application/json\n"
      "host:bedrock-runtime.us-east-1.amazonaws.com\n"
      "x-amz-date:20250102T030405Z\n"
      "\n"
      "content-type;host;x-amz-date\n"
      "f5b802cc64a01910fd197a46e9e959f3a5795f7728fa5710fb28f1ec3019f545");
  assert_string_equal(
      o.string_to_sign,
      "AWS4-HMAC-SHA256\n20250102T030405Z\n"
      "20250102/us-east-1/bedrock/aws4_request\n"
      "6fc36d48c80b9a86269376e1c3f2d7953cf5d4becd6dc7c70c765e28aff2e9d5");
  assert_string_equal(
      o.authorization,
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/bedrock/"
      "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
      "Signature="
      "860997c9e1df289e3c7cde145a934cbd3205195f77191714c31b3d8d4753d02a");
  assert_null(strstr(o.authorization, "wJalr"));
  sigv4_result_free(&o);
}

/* Header names are case-insensitive, values trimmed and inner space runs
 * collapsed; the order given does not matter. */
static void test_header_normalisation(void **state)
{
  static const char *const h2[] = {"accept:  application/json ",
                                   "CONTENT-TYPE:application/json"};
  static const char *const h3[] = {"Content-Type:   application/json",
                                   "Accept: application/json"};
  struct sigv4_request r = vector_req();
  struct sigv4_result a, b;
  (void)state;

  r.headers = h2;
  r.nheaders = 2;
  assert_int_equal(sigv4_sign(&r, &a), 0);
  r.headers = h3;
  assert_int_equal(sigv4_sign(&r, &b), 0);
  assert_string_equal(a.authorization, b.authorization);
  assert_non_null(
      strstr(a.canonical_request, "\naccept:application/json\ncontent-type:"));
  assert_non_null(
      strstr(a.authorization, "SignedHeaders=accept;content-type;host;"));
  sigv4_result_free(&a);
  sigv4_result_free(&b);
}

static void test_session_token_and_sha(void **state)
{
  struct sigv4_request r = vector_req();
  struct sigv4_result o;
  (void)state;

  r.session_token = "FQoGZXIvYXdzE//tok+en=";
  r.flags = SIGV4_SIGN_CONTENT_SHA256;
  assert_int_equal(sigv4_sign(&r, &o), 0);
  assert_non_null(strstr(o.authorization,
                         "SignedHeaders=content-type;host;x-amz-content-"
                         "sha256;x-amz-date;x-amz-security-token, "));
  assert_non_null(strstr(o.canonical_request,
                         "\nx-amz-security-token:FQoGZXIvYXdzE//tok+en=\n"));
  assert_non_null(strstr(o.canonical_request,
                         "\nx-amz-content-sha256:f5b802cc64a01910fd197a46e9e9"
                         "59f3a5795f7728fa5710fb28f1ec3019f545\n"));
  sigv4_result_free(&o);
}

static void test_uri_and_query(void **state)
{
  struct sigv4_request r = vector_req();
  struct sigv4_result o;
  char *e;
  (void)state;

  e = sigv4_uri_encode("arn:aws:bedrock:us-east-1:1:x/y z~_.-");
  assert_string_equal(e, "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ax%2Fy%20z~_.-");
  free(e);

  r.url = "http://127.0.0.1:8080/model/a%3Ab/converse-stream?b=2&a=x%2Fy&c";
  r.nheaders = 0;
  r.body = NULL;
  r.body_len = 0;
  assert_int_equal(sigv4_sign(&r, &o), 0);
  assert_string_equal(
      o.canonical_request,
      "POST\n/model/a%253Ab/converse-stream\na=x%2Fy&b=2&c=\n"
      "host:127.0.0.1:8080\nx-amz-date:20250102T030405Z\n\n"
      "host;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sigv4_result_free(&o);

  r.url = "https://example.com";
  assert_int_equal(sigv4_sign(&r, &o), 0);
  assert_non_null(strstr(o.canonical_request, "POST\n/\n\nhost:example.com\n"));
  sigv4_result_free(&o);

  r.url = "not a url";
  assert_int_equal(sigv4_sign(&r, &o), SB_EINVAL);
  static const char *const bad[] = {"no colon here"};
  r.url = URL;
  r.headers = bad;
  r.nheaders = 1;
  assert_int_equal(sigv4_sign(&r, &o), SB_EINVAL);
}

/* A different clock or key changes the signature. */
static void test_inputs_matter(void **state)
{
  struct sigv4_request r = vector_req();
  struct sigv4_result a, b;
  (void)state;

  assert_int_equal(sigv4_sign(&r, &a), 0);
  r.now += 1;
  assert_int_equal(sigv4_sign(&r, &b), 0);
  assert_string_not_equal(a.authorization, b.authorization);
  sigv4_result_free(&b);
  r.now -= 1;
  r.secret_key = "other";
  assert_int_equal(sigv4_sign(&r, &b), 0);
  assert_string_not_equal(a.authorization, b.authorization);
  sigv4_result_free(&a);
  sigv4_result_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector),
      cmocka_unit_test(test_header_normalisation),
      cmocka_unit_test(test_session_token_and_sha),
      cmocka_unit_test(test_uri_and_query),
      cmocka_unit_test(test_inputs_matter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
