/* AWS Signature Version 4; see sigv4.h. HMAC-SHA256 and SHA-256 are OpenSSL's. */
#include "store/sigv4.h"
#include "basics/buf.h"
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 16

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

void hs_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	hex(md, 32, out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, size_t n, unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, n, out, &len);
}

int hs_sigv4_encode(const char *s, bool keep_slash, char *out, size_t cap)
{
	static const char d[] = "0123456789ABCDEF";
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool keep = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
			    (keep_slash && *p == '/');
		if (k + (keep ? 1 : 3) >= cap)
			return -ENAMETOOLONG;
		if (keep) {
			out[k++] = (char)*p;
		} else {
			out[k++] = '%';
			out[k++] = d[*p >> 4];
			out[k++] = d[*p & 15];
		}
	}
	if (k >= cap)
		return -ENAMETOOLONG;
	out[k] = 0;
	return 0;
}

void hs_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			  const char *service, unsigned char key[32])
{
	size_t sl = strlen(secret);
	unsigned char *k0 = malloc(sl + 4);
	unsigned char a[32], b[32];
	if (!k0) {
		memset(key, 0, 32);
		return;
	}
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, sl);
	hmac(k0, sl + 4, date8, strlen(date8), a);
	hmac(a, 32, region, strlen(region), b);
	hmac(b, 32, service, strlen(service), a);
	hmac(a, 32, "aws4_request", 12, key);
	memset(k0, 0, sl + 4);
	free(k0);
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
}

struct canon_header {
	char name[64];
	const char *value;
};

static int cmp_header(const void *a, const void *b)
{
	return strcmp(((const struct canon_header *)a)->name, ((const struct canon_header *)b)->name);
}

/* Append value trimmed, inner runs of spaces folded to one. */
static int append_trimmed(struct hs_buf *b, const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	bool space = false;
	int r = 0;
	for (; *v && r == 0; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			r = hs_buf_append(b, " ", 1);
		space = false;
		if (r == 0)
			r = hs_buf_append(b, v, 1);
	}
	return r;
}

static int append(struct hs_buf *b, const char *s)
{
	size_t n = strlen(s);
	return n ? hs_buf_append(b, s, n) : 0;
}

int hs_sigv4_authorization(const struct hs_sigv4_cred *c, const char *amz_date, const char *method,
			   const char *uri, const char *query, const struct hs_sigv4_header *headers,
			   size_t nheaders, const char *payload_hash, char *out, size_t cap)
{
	if (strlen(amz_date) != 16 || amz_date[8] != 'T' || nheaders > MAX_HEADERS)
		return -EINVAL;
	struct canon_header h[MAX_HEADERS];
	for (size_t i = 0; i < nheaders; i++) {
		size_t n = strlen(headers[i].name);
		if (n >= sizeof h[i].name)
			return -EINVAL;
		for (size_t k = 0; k <= n; k++)
			h[i].name[k] = (char)tolower((unsigned char)headers[i].name[k]);
		h[i].value = headers[i].value;
	}
	qsort(h, nheaders, sizeof *h, cmp_header);

	/* The canonical request. */
	struct hs_buf cr = { 0 }, signed_h = { 0 };
	int r = 0;
	r |= append(&cr, method) | append(&cr, "\n") | append(&cr, uri) | append(&cr, "\n");
	r |= append(&cr, query) | append(&cr, "\n");
	for (size_t i = 0; i < nheaders; i++) {
		r |= append(&cr, h[i].name) | append(&cr, ":") | append_trimmed(&cr, h[i].value);
		r |= append(&cr, "\n");
		r |= append(&signed_h, i ? ";" : "") | append(&signed_h, h[i].name);
	}
	r |= hs_buf_append(&signed_h, "", 1); /* terminated */
	r |= append(&cr, "\n") | append(&cr, (const char *)signed_h.data) | append(&cr, "\n");
	r |= append(&cr, payload_hash);
	if (r != 0) {
		hs_buf_free(&cr);
		hs_buf_free(&signed_h);
		return -ENOMEM;
	}
	char cr_hash[65], date8[9], sts[512], sig[65];
	hs_sha256_hex(cr.data, cr.len, cr_hash);
	hs_buf_free(&cr);
	snprintf(date8, sizeof date8, "%.8s", amz_date);

	/* The string to sign, and its signature. */
	int n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date8,
			 c->region, c->service, cr_hash);
	if (n < 0 || (size_t)n >= sizeof sts) {
		hs_buf_free(&signed_h);
		return -EINVAL;
	}
	unsigned char key[32], mac[32];
	hs_sigv4_signing_key(c->secret, date8, c->region, c->service, key);
	hmac(key, 32, sts, (size_t)n, mac);
	memset(key, 0, sizeof key);
	hex(mac, 32, sig);
	n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		     c->key_id, date8, c->region, c->service, (const char *)signed_h.data, sig);
	hs_buf_free(&signed_h);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}
