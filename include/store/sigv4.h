/* AWS Signature Version 4 (the S3 store's request signing), kept apart from
 * the transport so it can be checked against AWS's published examples. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct hs_sigv4_cred {
	const char *key_id, *secret;
	const char *region, *service; /* "us-east-1", "s3" */
};

struct hs_sigv4_header {
	const char *name, *value; /* any case; values are trimmed for signing */
};

/* Lower-case hex SHA-256 of n bytes (65 bytes with the terminator). */
void hs_sha256_hex(const void *p, size_t n, char hex[65]);

/* Percent-encode s as SigV4 wants it: A-Z a-z 0-9 - . _ ~ kept, '/' kept when
 * keep_slash (paths), everything else %XX (upper case). 0, or -ENAMETOOLONG
 * when out (cap bytes) is too small. */
int hs_sigv4_encode(const char *s, bool keep_slash, char *out, size_t cap);

/* The signing key: HMAC chain of "AWS4"+secret over date (YYYYMMDD), region,
 * service and "aws4_request". */
void hs_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			  const char *service, unsigned char key[32]);

/* The Authorization header's value for a request:
 * "AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=a;b, Signature=HEX". uri is the encoded path, query the
 * canonical query string (sorted, encoded; "" for none), headers every header
 * to sign (host and x-amz-date among them), payload_hash the hex SHA-256 of the
 * body (or "UNSIGNED-PAYLOAD"), amz_date "YYYYMMDDTHHMMSSZ". 0, -EINVAL (bad
 * date, too many headers), -ENAMETOOLONG (out too small), -ENOMEM. */
int hs_sigv4_authorization(const struct hs_sigv4_cred *c, const char *amz_date, const char *method,
			   const char *uri, const char *query, const struct hs_sigv4_header *headers,
			   size_t nheaders, const char *payload_hash, char *out, size_t cap);
