/* Store keys: files, derivation, sealing, escrow; see key.h. */
#include "store/key.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define KEYFILE_MAX 65536
/* scrypt: 32 MiB of memory and ~0.1 s per try, so guessing a passphrase is slow. */
#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SCRYPT_MAXMEM (64u << 20)

static struct hs_key *current;

const struct hs_key *hs_key_current(void) { return current; }

void hs_key_set_current(struct hs_key *k)
{
	if (current && current != k)
		hs_key_free(current);
	current = k;
}

/* A key in its own locked, never-dumped pages. */
static struct hs_key *key_alloc(void)
{
	size_t len = (sizeof(struct hs_key) + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	mlock(p, len); /* best effort: a low RLIMIT_MEMLOCK leaves it swappable */
	madvise(p, len, MADV_DONTDUMP);
	return p;
}

void hs_key_free(struct hs_key *k)
{
	if (!k)
		return;
	if (k == current)
		current = NULL;
	size_t len = (sizeof(struct hs_key) + 4095) & ~(size_t)4095;
	OPENSSL_cleanse(k, sizeof *k);
	munlock(k, len);
	munmap(k, len);
}

static int hkdf(const uint8_t *ikm, const char *label, uint8_t *out, size_t n)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!ctx)
		return -ENOMEM;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, HS_KEY_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label)),
		OSSL_PARAM_construct_end(),
	};
	int ok = EVP_KDF_derive(ctx, out, n, params);
	EVP_KDF_CTX_free(ctx);
	return ok == 1 ? 0 : -EIO;
}

int hs_key_from_bytes(const uint8_t master[HS_KEY_LEN], struct hs_key **out)
{
	struct hs_key *k = key_alloc();
	if (!k)
		return -ENOMEM;
	memcpy(k->master, master, HS_KEY_LEN);
	uint8_t fpr[16];
	int r = hkdf(master, "hotspare chunk id", k->id_key, HS_KEY_LEN);
	if (r == 0)
		r = hkdf(master, "hotspare chunk data", k->chunk_key, HS_KEY_LEN);
	if (r == 0)
		r = hkdf(master, "hotspare point index", k->index_key, HS_KEY_LEN);
	if (r == 0)
		r = hkdf(master, "hotspare store description", k->desc_key, HS_KEY_LEN);
	if (r == 0)
		r = hkdf(master, "hotspare key fingerprint", fpr, sizeof fpr);
	if (r < 0) {
		hs_key_free(k);
		return r;
	}
	for (size_t i = 0; i < sizeof fpr; i++)
		snprintf(k->fingerprint + 2 * i, 3, "%02x", fpr[i]);
	*out = k;
	return 0;
}

void hs_hmac256(const uint8_t key[HS_KEY_LEN], const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, HS_KEY_LEN, p, n, out, &len);
}

int hs_seal(const uint8_t key[HS_KEY_LEN], const void *aad, size_t aadn, const void *p, size_t n,
	    uint8_t *out)
{
	if (RAND_bytes(out, 12) != 1)
		return -EIO;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
		      (aadn == 0 || EVP_EncryptUpdate(c, NULL, &len, aad, (int)aadn) == 1) &&
		      EVP_EncryptUpdate(c, out + 12, &len, p, (int)n) == 1 &&
		      EVP_EncryptFinal_ex(c, out + 12 + len, &len) == 1 &&
		      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

int hs_unseal(const uint8_t key[HS_KEY_LEN], const void *aad, size_t aadn, const void *p, size_t n,
	      uint8_t *out)
{
	if (n < HS_SEAL_OVERHEAD || n - HS_SEAL_OVERHEAD > INT32_MAX)
		return -EBADMSG;
	const uint8_t *in = p;
	size_t m = n - HS_SEAL_OVERHEAD;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	int len, ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
		      (aadn == 0 || EVP_DecryptUpdate(c, NULL, &len, aad, (int)aadn) == 1) &&
		      EVP_DecryptUpdate(c, out, &len, in + 12, (int)m) == 1 &&
		      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + m)) == 1 &&
		      EVP_DecryptFinal_ex(c, out + len, &len) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		OPENSSL_cleanse(out, m);
	return ok ? 0 : -EBADMSG;
}

/* ---- base64 (OpenSSL's codec, without line breaks) ---- */

static char *b64_encode(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	if (s)
		EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* Decode into out (cap bytes). Bytes decoded, or -1 when malformed or too long. */
static int b64_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4 || n / 4 * 3 > cap + 2)
		return -1;
	uint8_t *tmp = malloc(n / 4 * 3);
	if (!tmp)
		return -1;
	int len = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (len >= 0)
		len -= (s[n - 1] == '=') + (s[n - 2] == '=');
	if (len < 0 || (size_t)len > cap) {
		OPENSSL_cleanse(tmp, n / 4 * 3);
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)len);
	OPENSSL_cleanse(tmp, n / 4 * 3);
	free(tmp);
	return len;
}

/* ---- key files ---- */

/* Write text to path: a new file, mode 0600, durable. Nothing left on failure. */
static int write_new(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return hs_err(errno, "cannot create key file %s: %s", path,
			      errno == EEXIST ? "it exists (a key is never overwritten)" : strerror(errno));
	size_t n = strlen(text), done = 0;
	int r = 0;
	while (done < n && r == 0) {
		ssize_t w = write(fd, text + done, n - done);
		if (w < 0 && errno != EINTR)
			r = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(path);
		return hs_err(-r, "cannot write key file %s: %s", path, strerror(-r));
	}
	return 0;
}

static int scrypt_key(const char *pass, const uint8_t *salt, size_t saltn, uint64_t n, uint64_t r,
		      uint64_t p, uint8_t out[HS_KEY_LEN])
{
	if (EVP_PBE_scrypt(pass, strlen(pass), salt, saltn, n, r, p, SCRYPT_MAXMEM, out, HS_KEY_LEN) != 1)
		return -EIO;
	return 0;
}

/* The escrow object for master (RSA-OAEP with SHA-256 under the PEM public key). */
static int escrow_make(const char *pem, const uint8_t master[HS_KEY_LEN], json_object **out)
{
	FILE *f = fopen(pem, "re");
	if (!f)
		return hs_err(errno, "cannot read master public key %s: %s", pem, strerror(errno));
	EVP_PKEY *pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return hs_err(EINVAL, "%s is not a PEM RSA public key", pem);
	}
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t len = 0;
	uint8_t *buf = NULL;
	int ok = c && EVP_PKEY_encrypt_init(c) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
		 EVP_PKEY_encrypt(c, NULL, &len, master, HS_KEY_LEN) == 1 && (buf = malloc(len)) &&
		 EVP_PKEY_encrypt(c, buf, &len, master, HS_KEY_LEN) == 1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(pk);
	char *b64 = ok ? b64_encode(buf, len) : NULL;
	free(buf);
	if (!b64)
		return hs_err(EIO, "cannot wrap the key with %s", pem);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "alg", json_object_new_string("rsa-oaep-sha256"));
	json_object_object_add(o, "data", json_object_new_string(b64));
	free(b64);
	*out = o;
	return 0;
}

static int add_b64(json_object *o, const char *name, const uint8_t *p, size_t n)
{
	char *s = b64_encode(p, n);
	if (!s)
		return -ENOMEM;
	json_object_object_add(o, name, json_object_new_string(s));
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return 0;
}

/* The key file's JSON for k; wrapped with passphrase when given. */
static int key_json(const struct hs_key *k, const char *passphrase, const char *master_pub, char **text)
{
	json_object *o = json_object_new_object(), *esc = NULL;
	json_object_object_add(o, "format", json_object_new_string("hotspare-key"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "fingerprint", json_object_new_string(k->fingerprint));
	int r = 0;
	if (passphrase) {
		uint8_t salt[16], kek[HS_KEY_LEN], sealed[HS_KEY_LEN + HS_SEAL_OVERHEAD];
		if (RAND_bytes(salt, sizeof salt) != 1)
			r = -EIO;
		if (r == 0)
			r = scrypt_key(passphrase, salt, sizeof salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, kek);
		if (r == 0)
			r = hs_seal(kek, "hotspare key", 12, k->master, HS_KEY_LEN, sealed);
		OPENSSL_cleanse(kek, sizeof kek);
		json_object *w = json_object_new_object();
		json_object_object_add(w, "kdf", json_object_new_string("scrypt"));
		json_object_object_add(w, "n", json_object_new_int(SCRYPT_N));
		json_object_object_add(w, "r", json_object_new_int(SCRYPT_R));
		json_object_object_add(w, "p", json_object_new_int(SCRYPT_P));
		if (r == 0)
			r = add_b64(w, "salt", salt, sizeof salt);
		if (r == 0)
			r = add_b64(w, "data", sealed, sizeof sealed);
		json_object_object_add(o, "wrapped", w);
	} else {
		r = add_b64(o, "key", k->master, HS_KEY_LEN);
	}
	if (r == 0 && master_pub && (r = escrow_make(master_pub, k->master, &esc)) == 0)
		json_object_object_add(o, "escrow", esc);
	if (r == 0) {
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (asprintf(text, "%s\n", s) < 0)
			r = -ENOMEM;
		OPENSSL_cleanse((void *)s, strlen(s));
	}
	json_object_put(o);
	return r;
}

int hs_key_create(const char *path, const char *passphrase, const char *master_pub)
{
	uint8_t master[HS_KEY_LEN];
	if (RAND_bytes(master, sizeof master) != 1)
		return hs_err(EIO, "cannot get random bytes for a key");
	struct hs_key *k = NULL;
	int r = hs_key_from_bytes(master, &k);
	OPENSSL_cleanse(master, sizeof master);
	if (r < 0)
		return r;
	char *text = NULL;
	r = key_json(k, passphrase, master_pub, &text);
	hs_key_free(k);
	if (r == 0)
		r = write_new(path, text);
	if (text) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	return r;
}

int hs_key_save(const struct hs_key *k, const char *path)
{
	char *text = NULL;
	int r = key_json(k, NULL, NULL, &text);
	if (r == 0)
		r = write_new(path, text);
	if (text) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	return r;
}

/* Parse a key file's text (n bytes at buf; path names it in messages). */
static int parse_keytext(const char *path, const char *buf, size_t n, json_object **out)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL;
	bool complete = tok && json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	json_object *v;
	const char *fmt = o && json_object_object_get_ex(o, "format", &v) ? json_object_get_string(v) : NULL;
	if (!o || !complete || !json_object_is_type(o, json_type_object) || !fmt || strcmp(fmt, "hotspare-key") != 0) {
		json_object_put(o);
		return hs_err(EBADMSG, "%s is not a hotspare key file (damaged or truncated?)", path);
	}
	if (!json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != 1) {
		json_object_put(o);
		return hs_err(EPROTONOSUPPORT, "key file %s has a version this hotspare does not read", path);
	}
	*out = o;
	return 0;
}

/* Read and parse a key file, checking its permissions. */
static int read_keyfile(const char *path, json_object **out)
{
	/* O_NONBLOCK: a FIFO (refused below) would otherwise wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "cannot read key file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hs_err(EINVAL, "key file %s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return hs_err(EPERM, "key file %s may be read by group or others (mode %03o): chmod 600 it",
			      path, (unsigned)(st.st_mode & 0777));
	}
	if (st.st_size > KEYFILE_MAX) {
		close(fd);
		return hs_err(EBADMSG, "key file %s is too large to be a key file", path);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		return hs_err(EIO, "cannot read key file %s", path);
	}
	buf[n] = 0;
	int r = parse_keytext(path, buf, (size_t)n, out);
	OPENSSL_cleanse(buf, (size_t)n);
	free(buf);
	return r;
}

static const char *jstr(json_object *o, const char *name)
{
	json_object *v;
	return o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static int64_t jint(json_object *o, const char *name)
{
	json_object *v;
	return o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v)
		       : -1;
}

/* The master key from a wrapped key file object. */
static int unwrap(const char *path, json_object *w, const char *passphrase, uint8_t master[HS_KEY_LEN])
{
	if (!passphrase)
		return hs_err(EACCES, "key file %s is protected by a passphrase: give --passphrase-file FILE "
				      "(or HOTSPARE_PASSPHRASE_FILE)", path);
	const char *kdf = jstr(w, "kdf"), *salt64 = jstr(w, "salt"), *data64 = jstr(w, "data");
	int64_t n = jint(w, "n"), r = jint(w, "r"), p = jint(w, "p");
	uint8_t salt[64], sealed[HS_KEY_LEN + HS_SEAL_OVERHEAD], kek[HS_KEY_LEN];
	int sn = salt64 ? b64_decode(salt64, salt, sizeof salt) : -1;
	int dn = data64 ? b64_decode(data64, sealed, sizeof sealed) : -1;
	/* Parameters within what key_json writes (and no memory bomb from a crafted file). */
	if (!kdf || strcmp(kdf, "scrypt") != 0 || sn < 8 || dn != (int)sizeof sealed || n < 1024 ||
	    n > (1 << 20) || (n & (n - 1)) || r < 1 || r > 16 || p < 1 || p > 4)
		return hs_err(EBADMSG, "key file %s is corrupt (bad wrapping parameters)", path);
	if (scrypt_key(passphrase, salt, (size_t)sn, (uint64_t)n, (uint64_t)r, (uint64_t)p, kek) < 0)
		return hs_err(EIO, "cannot derive the passphrase key of %s", path);
	int rc = hs_unseal(kek, "hotspare key", 12, sealed, sizeof sealed, master);
	OPENSSL_cleanse(kek, sizeof kek);
	if (rc < 0)
		return hs_err(EACCES, "wrong passphrase for key file %s", path);
	return 0;
}

/* The key a parsed key file holds (its object o, which this releases). */
static int key_of_json(const char *path, json_object *o, const char *passphrase, struct hs_key **out)
{
	uint8_t master[HS_KEY_LEN];
	json_object *w;
	int r = 0;
	const char *plain = jstr(o, "key"), *fpr = jstr(o, "fingerprint");
	if (json_object_object_get_ex(o, "wrapped", &w))
		r = unwrap(path, w, passphrase, master);
	else if (!plain || b64_decode(plain, master, sizeof master) != HS_KEY_LEN)
		r = hs_err(EBADMSG, "key file %s is corrupt (no key of %d bytes)", path, HS_KEY_LEN);
	struct hs_key *k = NULL;
	if (r == 0)
		r = hs_key_from_bytes(master, &k);
	OPENSSL_cleanse(master, sizeof master);
	if (r == 0 && (!fpr || strcmp(fpr, k->fingerprint) != 0))
		r = hs_err(EBADMSG, "key file %s is corrupt (its fingerprint does not match its key)", path);
	json_object_put(o);
	if (r < 0) {
		hs_key_free(k);
		return r;
	}
	*out = k;
	return 0;
}

int hs_key_load(const char *path, const char *passphrase, struct hs_key **out)
{
	json_object *o = NULL;
	int r = read_keyfile(path, &o);
	return r < 0 ? r : key_of_json(path, o, passphrase, out);
}

int hs_key_parse(const char *text, size_t n, const char *what, const char *passphrase, struct hs_key **out)
{
	json_object *o = NULL;
	int r = parse_keytext(what, text, n, &o);
	return r < 0 ? r : key_of_json(what, o, passphrase, out);
}

int hs_key_escrow_of_file(const char *path, char **escrow_b64)
{
	*escrow_b64 = NULL;
	json_object *o = NULL, *e;
	int r = read_keyfile(path, &o);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(o, "escrow", &e)) {
		const char *alg = jstr(e, "alg"), *data = jstr(e, "data");
		if (!alg || strcmp(alg, "rsa-oaep-sha256") != 0 || !data)
			r = hs_err(EBADMSG, "key file %s has a damaged escrow copy", path);
		else if (!(*escrow_b64 = strdup(data)))
			r = -ENOMEM;
	}
	json_object_put(o);
	return r;
}

int hs_key_recover(const char *escrow_b64, const char *master_priv, struct hs_key **out)
{
	FILE *f = fopen(master_priv, "re");
	if (!f)
		return hs_err(errno, "cannot read master private key %s: %s", master_priv, strerror(errno));
	EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return hs_err(EINVAL, "%s is not a PEM RSA private key", master_priv);
	}
	uint8_t wrapped[1024], master[512];
	int wn = b64_decode(escrow_b64, wrapped, sizeof wrapped);
	EVP_PKEY_CTX *c = wn > 0 ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	size_t len = sizeof master;
	int ok = c && EVP_PKEY_decrypt_init(c) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
		 EVP_PKEY_decrypt(c, master, &len, wrapped, (size_t)wn) == 1 && len == HS_KEY_LEN;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(pk);
	int r = ok ? hs_key_from_bytes(master, out) : hs_err(EACCES, "the escrow copy does not open with %s "
									  "(not the matching private key?)", master_priv);
	OPENSSL_cleanse(master, sizeof master);
	return r;
}
