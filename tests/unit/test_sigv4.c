/* Unit tests for sigv4.h against the examples AWS publishes: the Signature
 * Version 4 test suite's get-vanilla, the signing-key derivation example, and
 * the S3 API reference's GET Object, PUT Object, GET Bucket lifecycle and
 * GET Bucket (list objects) examples. */
#include "unit.h"
#include "store/sigv4.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"

static const struct hs_sigv4_cred s3_cred = { "AKIAIOSFODNN7EXAMPLE", S3_SECRET, "us-east-1", "s3" };

static void test_sha256_hex(void **state)
{
	(void)state;
	char h[65];
	hs_sha256_hex("", 0, h);
	assert_string_equal(h, EMPTY_SHA);
	hs_sha256_hex("Welcome to Amazon S3.", 21, h);
	assert_string_equal(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

/* "Deriving the signing key" example (IAM, 2012-02-15). */
static void test_signing_key(void **state)
{
	(void)state;
	unsigned char k[32];
	char h[65];
	hs_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam", k);
	for (int i = 0; i < 32; i++)
		sprintf(h + 2 * i, "%02x", k[i]);
	assert_string_equal(h, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

/* The test suite's get-vanilla: header names in mixed case are lower-cased and sorted. */
static void test_get_vanilla(void **state)
{
	(void)state;
	struct hs_sigv4_cred c = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service" };
	struct hs_sigv4_header h[] = { { "X-Amz-Date", "20150830T123600Z" }, { "Host", "example.amazonaws.com" } };
	char auth[512];
	assert_int_equal(hs_sigv4_authorization(&c, "20150830T123600Z", "GET", "/", "", h, 2, EMPTY_SHA, auth,
						sizeof auth), 0);
	assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
				  "SignedHeaders=host;x-amz-date, "
				  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* S3 GET Object: the first 10 bytes of test.txt (a Range header, value with a trailing space). */
static void test_s3_get_object(void **state)
{
	(void)state;
	struct hs_sigv4_header h[] = {
		{ "Host", S3_HOST }, { "Range", "bytes=0-9 " },
		{ "x-amz-content-sha256", EMPTY_SHA }, { "x-amz-date", S3_DATE },
	};
	char auth[512];
	assert_int_equal(hs_sigv4_authorization(&s3_cred, S3_DATE, "GET", "/test.txt", "", h, 4, EMPTY_SHA, auth,
						sizeof auth), 0);
	assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
				  "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
				  "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* S3 PUT Object: "test$file.text" (the key is encoded), a payload hash, a storage class. */
static void test_s3_put_object(void **state)
{
	(void)state;
	char uri[64], payload[65];
	assert_int_equal(hs_sigv4_encode("/test$file.text", true, uri, sizeof uri), 0);
	assert_string_equal(uri, "/test%24file.text");
	hs_sha256_hex("Welcome to Amazon S3.", 21, payload);
	struct hs_sigv4_header h[] = {
		{ "Host", S3_HOST }, { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-date", S3_DATE }, { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
		{ "x-amz-content-sha256", payload },
	};
	char auth[512];
	assert_int_equal(hs_sigv4_authorization(&s3_cred, S3_DATE, "PUT", uri, "", h, 5, payload, auth, sizeof auth), 0);
	assert_non_null(strstr(auth, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "));
	assert_non_null(strstr(auth, "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
}

/* S3 GET Bucket lifecycle (a query parameter without a value) and GET Bucket
 * (list objects: sorted, encoded query parameters). */
static void test_s3_bucket_queries(void **state)
{
	(void)state;
	struct hs_sigv4_header h[] = {
		{ "Host", S3_HOST }, { "x-amz-date", S3_DATE }, { "x-amz-content-sha256", EMPTY_SHA },
	};
	char auth[512];
	assert_int_equal(hs_sigv4_authorization(&s3_cred, S3_DATE, "GET", "/", "lifecycle=", h, 3, EMPTY_SHA, auth,
						sizeof auth), 0);
	assert_non_null(strstr(auth, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"));
	assert_int_equal(hs_sigv4_authorization(&s3_cred, S3_DATE, "GET", "/", "max-keys=2&prefix=J", h, 3, EMPTY_SHA,
						auth, sizeof auth), 0);
	assert_non_null(strstr(auth, "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

static void test_encode(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(hs_sigv4_encode("a-b_c.d~e/f g+h=i&j%", false, out, sizeof out), 0);
	assert_string_equal(out, "a-b_c.d~e%2Ff%20g%2Bh%3Di%26j%25");
	assert_int_equal(hs_sigv4_encode("chunks/ab/x.zst", true, out, sizeof out), 0);
	assert_string_equal(out, "chunks/ab/x.zst");
	assert_int_equal(hs_sigv4_encode("\xc3\xa9", false, out, sizeof out), 0);
	assert_string_equal(out, "%C3%A9");
	assert_int_equal(hs_sigv4_encode("abc", false, out, 3), -ENAMETOOLONG);
	assert_int_equal(hs_sigv4_encode("a b", false, out, 5), -ENAMETOOLONG);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct hs_sigv4_header h[] = { { "Host", S3_HOST } };
	char auth[512];
	assert_int_equal(hs_sigv4_authorization(&s3_cred, "2013-05-24", "GET", "/", "", h, 1, EMPTY_SHA, auth,
						sizeof auth), -EINVAL);
	assert_int_equal(hs_sigv4_authorization(&s3_cred, S3_DATE, "GET", "/", "", h, 1, EMPTY_SHA, auth, 20),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_signing_key),
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_s3_get_object),
		cmocka_unit_test(test_s3_put_object),
		cmocka_unit_test(test_s3_bucket_queries),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
