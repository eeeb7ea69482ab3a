/* Keys of encrypted stores. A key is 32 random bytes; everything the store
 * needs is derived from it with HKDF-SHA-256 under a label per use: the
 * chunk-id key (HMAC-SHA-256, so ids say nothing about content and differ
 * between customers), the chunk and index keys (AES-256-GCM) and the
 * description key (HMAC). The store records only the key's fingerprint (also
 * derived), so a wrong key is refused at once.
 *
 * A key file (mode 0600, JSON):
 *   {"format":"hotspare-key","version":1,"fingerprint":HEX,
 *    "key":B64}                                   plain, or
 *    "wrapped":{"kdf":"scrypt","n":N,"r":R,"p":P,"salt":B64,"nonce":B64,"data":B64}
 *   and optionally "escrow":{"alg":"rsa-oaep-sha256","data":B64}: the key
 *   wrapped with a master RSA public key, copied into the store at init.
 * Loaded keys live in locked memory (mlock, no core dumps) and are wiped
 * when freed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_KEY_LEN 32
#define HS_KEY_FPR_HEX 33 /* 16 bytes in hex, NUL */

struct hs_key {
	uint8_t master[HS_KEY_LEN];
	uint8_t id_key[HS_KEY_LEN];    /* HMAC-SHA-256 of a chunk's plain content: its id */
	uint8_t chunk_key[HS_KEY_LEN]; /* AES-256-GCM of chunks */
	uint8_t index_key[HS_KEY_LEN]; /* AES-256-GCM of points' digest tables */
	uint8_t desc_key[HS_KEY_LEN];  /* HMAC-SHA-256 of the store description */
	char fingerprint[HS_KEY_FPR_HEX];
};

/* Make a new random key and write it to path (created 0600, never over an
 * existing file). With passphrase (non-NULL), the key is wrapped with
 * AES-256-GCM under a key derived by scrypt; with master_pub (a PEM file of
 * an RSA public key), an escrow copy is added. 0, or -errno with a message. */
int hs_key_create(const char *path, const char *passphrase, const char *master_pub);

/* Load a key file. A file that group or others may read is refused (-EPERM),
 * a wrapped key needs its passphrase (-EACCES when missing or wrong).
 * 0, or -errno with a one-line message naming the file. */
int hs_key_load(const char *path, const char *passphrase, struct hs_key **out);

/* hs_key_load of a key file's text (n bytes at text; what names it in
 * messages), without the file's checks. For the fuzzer. */
int hs_key_parse(const char *text, size_t n, const char *what, const char *passphrase, struct hs_key **out);

/* Write a key (e.g. a recovered one) to path: created 0600, never over an
 * existing file. 0 or -errno with a message. */
int hs_key_save(const struct hs_key *k, const char *path);

/* A key from its 32 bytes (derives the rest). 0 or -ENOMEM. */
int hs_key_from_bytes(const uint8_t master[HS_KEY_LEN], struct hs_key **out);

/* Wipe and free (NULL is fine). */
void hs_key_free(struct hs_key *k);

/* The escrow copy in the key file at path, base64 (caller frees), or NULL
 * when it has none. 0 or -errno with a message. */
int hs_key_escrow_of_file(const char *path, char **escrow_b64);

/* Recover a key from an escrow copy with the master private key (PEM file).
 * 0, or -errno with a message (-EACCES: not the matching private key). */
int hs_key_recover(const char *escrow_b64, const char *master_priv, struct hs_key **out);

/* HMAC-SHA-256 of n bytes under a 32-byte key. */
void hs_hmac256(const uint8_t key[HS_KEY_LEN], const void *p, size_t n, uint8_t out[32]);

/* AES-256-GCM: seal n bytes into out as nonce(12) | ciphertext | tag(16),
 * with a fresh random nonce and aad as associated data. 0 or -errno. */
#define HS_SEAL_OVERHEAD 28
int hs_seal(const uint8_t key[HS_KEY_LEN], const void *aad, size_t aadn, const void *p, size_t n,
	    uint8_t *out);

/* Open what hs_seal made (n bytes at p) into out (n - HS_SEAL_OVERHEAD bytes).
 * 0, or -EBADMSG when it does not authenticate (wrong key, tampering). */
int hs_unseal(const uint8_t key[HS_KEY_LEN], const void *aad, size_t aadn, const void *p, size_t n,
	      uint8_t *out);

/* The key this process works with (--keyfile or HOTSPARE_KEYFILE), or NULL.
 * Stores opened afterwards use it when they are encrypted. */
const struct hs_key *hs_key_current(void);

/* Make k the current key (taking ownership; NULL clears and frees). */
void hs_key_set_current(struct hs_key *k);
