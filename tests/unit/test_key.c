/* Unit tests for key.h and the keyed side of chunk.h: key files (plain,
 * passphrase-wrapped, escrowed), their refusals, sealing, and encrypted
 * chunks that never decode to wrong bytes. */
#include "unit.h"
#include "store/chunk.h"
#include "store/key.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

struct ctx {
	char *dir;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	if (!c || !(c->dir = ut_tmpdir()))
		return -1;
	hs_err_clear();
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	ut_rm_rf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

static char *path_in(struct ctx *c, const char *name)
{
	char *p = ut_path(c->dir, name);
	assert_non_null(p);
	return p;
}

static struct hs_key *load_ok(const char *path, const char *pass)
{
	struct hs_key *k = NULL;
	hs_err_clear();
	int r = hs_key_load(path, pass, &k);
	if (r < 0)
		fail_msg("hs_key_load(%s) = %d (%s)", path, r, hs_err_msg() ? hs_err_msg() : "");
	return k;
}

static void test_create_and_load(void **state)
{
	struct ctx *c = *state;
	char *p = path_in(c, "k1");
	assert_int_equal(hs_key_create(p, NULL, NULL), 0);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	struct hs_key *a = load_ok(p, NULL), *b = load_ok(p, NULL);
	assert_string_equal(a->fingerprint, b->fingerprint);
	assert_memory_equal(a->master, b->master, HS_KEY_LEN);
	/* Derived keys differ from the master and from each other. */
	assert_memory_not_equal(a->master, a->id_key, HS_KEY_LEN);
	assert_memory_not_equal(a->id_key, a->chunk_key, HS_KEY_LEN);
	assert_memory_not_equal(a->chunk_key, a->index_key, HS_KEY_LEN);
	/* Never over an existing file. */
	hs_err_clear();
	assert_int_equal(hs_key_create(p, NULL, NULL), -EEXIST);
	assert_err_mentions("never overwritten");
	/* Two keys are different keys. */
	char *p2 = path_in(c, "k2");
	assert_int_equal(hs_key_create(p2, NULL, NULL), 0);
	struct hs_key *d = load_ok(p2, NULL);
	assert_string_not_equal(a->fingerprint, d->fingerprint);
	hs_key_free(a);
	hs_key_free(b);
	hs_key_free(d);
	free(p);
	free(p2);
}

static void test_passphrase(void **state)
{
	struct ctx *c = *state;
	char *p = path_in(c, "wrapped");
	assert_int_equal(hs_key_create(p, "correct horse", NULL), 0);
	size_t n;
	char *text = (char *)ut_read_file(p, &n);
	assert_non_null(text);
	assert_null(strstr(text, "\"key\"")); /* only the wrapped form is in the file */
	assert_non_null(strstr(text, "scrypt"));
	free(text);
	struct hs_key *k = load_ok(p, "correct horse");
	struct hs_key *k2 = NULL;
	hs_err_clear();
	assert_int_equal(hs_key_load(p, "wrong horse", &k2), -EACCES);
	assert_err_mentions("wrong passphrase");
	hs_err_clear();
	assert_int_equal(hs_key_load(p, NULL, &k2), -EACCES);
	assert_err_mentions("passphrase");
	assert_null(k2);
	hs_key_free(k);
	free(p);
}

static void test_refusals(void **state)
{
	struct ctx *c = *state;
	char *p = path_in(c, "k");
	assert_int_equal(hs_key_create(p, NULL, NULL), 0);
	struct hs_key *k = NULL;
	/* Readable by group or others. */
	assert_int_equal(chmod(p, 0640), 0);
	hs_err_clear();
	assert_int_equal(hs_key_load(p, NULL, &k), -EPERM);
	assert_err_mentions("chmod 600");
	assert_int_equal(chmod(p, 0600), 0);
	/* Truncated, at every length. */
	size_t n;
	unsigned char *text = ut_read_file(p, &n);
	char *t = path_in(c, "trunc");
	for (size_t len = 0; len < n - 2; len += 7) {
		unlink(t);
		assert_int_equal(ut_write_file(t, text, len), 0);
		assert_int_equal(chmod(t, 0600), 0);
		hs_err_clear();
		int r = hs_key_load(t, NULL, &k);
		if (r != -EBADMSG)
			fail_msg("a key file truncated to %zu bytes: %d", len, r);
		assert_null(k);
	}
	/* One character of the key changed: its fingerprint no longer matches. */
	char *s = strstr((char *)text, "\"key\"");
	assert_non_null(s);
	s = strchr(s + 5, '"');
	assert_non_null(s);
	s++;
	*s = *s == 'A' ? 'B' : 'A';
	unlink(t);
	assert_int_equal(ut_write_file(t, text, n), 0);
	assert_int_equal(chmod(t, 0600), 0);
	hs_err_clear();
	assert_int_equal(hs_key_load(t, NULL, &k), -EBADMSG);
	assert_err_mentions("fingerprint");
	/* Not a key file at all; a missing one. */
	unlink(t);
	assert_int_equal(ut_write_file(t, "{\"format\":\"other\"}", 18), 0);
	assert_int_equal(chmod(t, 0600), 0);
	hs_err_clear();
	assert_int_equal(hs_key_load(t, NULL, &k), -EBADMSG);
	assert_err_mentions("not a hotspare key file");
	hs_err_clear();
	assert_int_equal(hs_key_load("/nonexistent/key", NULL, &k), -ENOENT);
	assert_err_mentions("/nonexistent/key");
	free(text);
	free(t);
	free(p);
}

/* An RSA key pair in PEM files under dir. */
static void make_rsa(struct ctx *c, char **pub, char **priv)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	assert_non_null(pk);
	*pub = path_in(c, "master.pub");
	*priv = path_in(c, "master.pem");
	FILE *f = fopen(*pub, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, pk), 1);
	fclose(f);
	f = fopen(*priv, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(pk);
}

static void test_escrow(void **state)
{
	struct ctx *c = *state;
	char *pub, *priv;
	make_rsa(c, &pub, &priv);
	char *p = path_in(c, "k");
	assert_int_equal(hs_key_create(p, "pass", pub), 0);
	struct hs_key *k = load_ok(p, "pass");
	char *esc = NULL;
	assert_int_equal(hs_key_escrow_of_file(p, &esc), 0);
	assert_non_null(esc);
	struct hs_key *back = NULL;
	assert_int_equal(hs_key_recover(esc, priv, &back), 0);
	assert_string_equal(back->fingerprint, k->fingerprint);
	/* The recovered key saved and loaded again works like the original. */
	char *saved = path_in(c, "recovered");
	assert_int_equal(hs_key_save(back, saved), 0);
	struct hs_key *again = load_ok(saved, NULL);
	assert_memory_equal(again->master, k->master, HS_KEY_LEN);
	/* Another private key does not open it; the public key is not a private key. */
	EVP_PKEY *other = EVP_RSA_gen(2048);
	char *op = path_in(c, "other.pem");
	FILE *f = fopen(op, "w");
	PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(other);
	struct hs_key *x = NULL;
	hs_err_clear();
	assert_int_equal(hs_key_recover(esc, op, &x), -EACCES);
	assert_err_mentions("matching private key");
	hs_err_clear();
	assert_int_equal(hs_key_recover(esc, pub, &x), -EINVAL);
	/* A key file without escrow has none. */
	char *plain = path_in(c, "plain");
	assert_int_equal(hs_key_create(plain, NULL, NULL), 0);
	char *none = (char *)0x1;
	assert_int_equal(hs_key_escrow_of_file(plain, &none), 0);
	assert_null(none);
	hs_key_free(k);
	hs_key_free(back);
	hs_key_free(again);
	free(esc);
	free(pub);
	free(priv);
	free(p);
	free(saved);
	free(op);
	free(plain);
}

static struct hs_key *fixed_key(uint8_t fill)
{
	uint8_t m[HS_KEY_LEN];
	memset(m, fill, sizeof m);
	struct hs_key *k = NULL;
	assert_int_equal(hs_key_from_bytes(m, &k), 0);
	return k;
}

static void test_seal(void **state)
{
	(void)state;
	struct hs_key *k = fixed_key(7);
	unsigned char msg[100], a[100 + HS_SEAL_OVERHEAD], b[100 + HS_SEAL_OVERHEAD], out[100];
	ut_fill(msg, sizeof msg, 5);
	assert_int_equal(hs_seal(k->chunk_key, "aad", 3, msg, sizeof msg, a), 0);
	assert_int_equal(hs_seal(k->chunk_key, "aad", 3, msg, sizeof msg, b), 0);
	assert_memory_not_equal(a, b, sizeof a); /* a fresh nonce each time */
	assert_int_equal(hs_unseal(k->chunk_key, "aad", 3, a, sizeof a, out), 0);
	assert_memory_equal(out, msg, sizeof msg);
	assert_int_equal(hs_unseal(k->chunk_key, "aaX", 3, a, sizeof a, out), -EBADMSG);
	assert_int_equal(hs_unseal(k->index_key, "aad", 3, a, sizeof a, out), -EBADMSG);
	for (size_t i = 0; i < sizeof a; i++) {
		a[i] ^= 0x80;
		assert_int_equal(hs_unseal(k->chunk_key, "aad", 3, a, sizeof a, out), -EBADMSG);
		a[i] ^= 0x80;
	}
	assert_int_equal(hs_unseal(k->chunk_key, "aad", 3, a, HS_SEAL_OVERHEAD - 1, out), -EBADMSG);
	hs_key_free(k);
}

static void test_encrypted_chunks(void **state)
{
	(void)state;
	struct hs_key *k = fixed_key(1), *other = fixed_key(2);
	size_t len = 65536;
	unsigned char *plain = malloc(len), *back = malloc(len);
	ut_fill(plain, len / 2, 9); /* half random, half zeros: compresses */
	memset(plain + len / 2, 0, len / 2);
	struct hs_digest sha, id, id2;
	hs_chunk_id(NULL, plain, len, &sha);
	hs_chunk_id(k, plain, len, &id);
	hs_chunk_id(other, plain, len, &id2);
	/* Keyed ids: not the content's SHA-256, different per key. */
	assert_false(hs_digest_eq(&sha, &id));
	assert_false(hs_digest_eq(&id, &id2));
	struct hs_buf z = { 0 };
	assert_int_equal(hs_chunk_encode(k, &id, plain, len, HS_ZSTD_LEVEL, &z), 0);
	assert_true(z.len < len); /* compressed before encryption */
	/* No 32-byte window of the random half appears in the stored bytes. */
	for (size_t i = 0; i + 32 <= z.len; i++)
		assert_true(memcmp(z.data + i, plain, 32) != 0);
	assert_int_equal(hs_chunk_decode(k, z.data, z.len, &id, back, len), 0);
	assert_memory_equal(back, plain, len);
	assert_int_equal(hs_chunk_decode(other, z.data, z.len, &id, back, len), -EBADMSG);
	assert_int_equal(hs_chunk_decode(NULL, z.data, z.len, &id, back, len), -EBADMSG);
	assert_int_equal(hs_chunk_decode(k, z.data, z.len, &sha, back, len), -EBADMSG); /* the id is bound */
	for (size_t i = 0; i < z.len; i += 97) {
		z.data[i] ^= 1;
		assert_int_equal(hs_chunk_decode(k, z.data, z.len, &id, back, len), -EBADMSG);
		z.data[i] ^= 1;
	}
	assert_int_equal(hs_chunk_decode(k, z.data, z.len - 1, &id, back, len), -EBADMSG);
	/* Plain chunks: SHA-256 ids, zstd frames. */
	struct hs_buf pz = { 0 };
	assert_int_equal(hs_chunk_encode(NULL, &sha, plain, len, HS_ZSTD_LEVEL, &pz), 0);
	assert_int_equal(hs_chunk_decode(NULL, pz.data, pz.len, &sha, back, len), 0);
	assert_true(z.len <= hs_chunk_stored_max(len) && pz.len <= hs_chunk_stored_max(len));
	char key[96];
	hs_chunk_key(&id, true, key);
	assert_non_null(strstr(key, ".enc"));
	hs_chunk_key(&sha, false, key);
	assert_non_null(strstr(key, ".zst"));
	hs_buf_free(&z);
	hs_buf_free(&pz);
	free(plain);
	free(back);
	hs_key_free(k);
	hs_key_free(other);
}

static void test_current(void **state)
{
	(void)state;
	assert_null(hs_key_current());
	struct hs_key *k = fixed_key(3);
	hs_key_set_current(k);
	assert_ptr_equal(hs_key_current(), k);
	hs_key_set_current(NULL); /* frees it */
	assert_null(hs_key_current());
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_and_load), T(test_passphrase), T(test_refusals), T(test_escrow),
		cmocka_unit_test(test_seal), cmocka_unit_test(test_encrypted_chunks), cmocka_unit_test(test_current),
	};
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
