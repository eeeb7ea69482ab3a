/* Fuzz the point decoders (store/point.h): hs_point_decode_head and
 * hs_point_decode_disk over whatever a store, a drive or a server hands back
 * as a point object. Each input is decoded as it is, then again with its
 * checksums made right, so that mutations reach the fields behind them; and
 * an input in compact form (the header without its unused disk slots, which
 * are zeros: seeds.py writes point seeds both ways) is also decoded expanded,
 * so that most mutations land on fields that matter. */
#include "store/point.h"
#include "store/index.h"
#include "store/key.h"
#include "basics/digest.h"
#include "fuzz.h"
#include <endian.h>
#include <string.h>

/* The header's layout (point.c), for the checksum fix-ups; checked against
 * an encoded point at start-up, so a change of layout is noticed. */
enum { O_NDISKS = 40, O_SUM = 480, O_SLOTS = 512, SLOT = 128, S_OFF = 72, S_LEN = 80, S_SUM = 88 };
/* The most digest-table bytes a decode may allocate here: a real table is as
 * big as its image says (128 MiB for 1 TiB), which tells nothing new. */
#define TABLE_MAX (16u << 20)

static struct hs_key *key;

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Make every disk slot's table checksum and then the header's own right. */
static void fix_sums(uint8_t *d, size_t n)
{
	uint32_t nd;
	memcpy(&nd, d + O_NDISKS, 4);
	nd = le32toh(nd);
	for (uint32_t k = 0; k < nd && k < HS_DISKS_MAX; k++) {
		uint8_t *s = d + O_SLOTS + k * SLOT;
		uint64_t off = get64(s + S_OFF), len = get64(s + S_LEN);
		if (off <= n && len <= n - off) {
			struct hs_digest sum;
			hs_digest_compute(d + off, len, &sum);
			memcpy(s + S_SUM, sum.b, 32);
		}
	}
	memset(d + O_SUM, 0, 32);
	struct hs_digest sum;
	hs_digest_compute(d, HS_POINT_HDR_LEN, &sum);
	memcpy(d + O_SUM, sum.b, 32);
}

/* Decode the header and every disk whose table lies in the input. */
static void decode(const uint8_t *d, size_t n)
{
	struct hs_point *p = malloc(sizeof *p);
	FUZZ_ASSERT(p);
	int r = hs_point_decode_head(d, n, "fuzz", p);
	fuzz_check_msg();
	if (r < 0) {
		FUZZ_ASSERT(r == -EBADMSG || r == -EPROTONOSUPPORT);
		free(p);
		return;
	}
	FUZZ_ASSERT(p->ndisks >= 1 && p->ndisks <= HS_DISKS_MAX && hs_chunk_size_valid(p->chunk_size));
	for (unsigned k = 0; k < p->ndisks; k++) {
		const struct hs_point_disk *dk = &p->disks[k];
		FUZZ_ASSERT(dk->size <= HS_IMAGE_MAX_SIZE && dk->table_off >= HS_POINT_HDR_LEN);
		/* Each disk once, by a valid name: restore writes DISK=TARGET by it. */
		FUZZ_ASSERT(hs_disk_name_check(dk->name) == 0);
		for (unsigned m = 0; m < k; m++)
			FUZZ_ASSERT(strcmp(p->disks[m].name, dk->name) != 0);
		uint64_t nch = (dk->size + p->chunk_size - 1) / p->chunk_size;
		if (dk->table_off > n || dk->table_len > n - dk->table_off || nch * HS_DIGEST_LEN > TABLE_MAX)
			continue;
		/* The table alone, in a buffer of its size: a read past it is seen. */
		uint8_t *t = fuzz_dup(d + dk->table_off, dk->table_len, 0);
		for (int pass = 0; pass < 3; pass++) {
			struct hs_index *ix = NULL;
			/* Keyless (prune, gc), keyed (a mount), and one byte short. */
			size_t len = pass == 2 && dk->table_len ? dk->table_len - 1 : dk->table_len;
			r = hs_point_decode_disk(pass == 1 ? key : NULL, p, k, t, len, "fuzz", &ix);
			fuzz_check_msg();
			if (r == 0) {
				FUZZ_ASSERT(pass != 2 && ix->nchunks == nch && ix->image_size == dk->size);
				FUZZ_ASSERT(!strcmp(ix->server, p->server) && !strcmp(ix->disk, dk->name));
				/* An encrypted table never opens under a key it was not sealed with. */
				FUZZ_ASSERT(!(pass == 1 && p->encrypted));
				hs_index_free(ix);
			} else {
				FUZZ_ASSERT(r == -EBADMSG || r == -ENOMEM);
			}
		}
		free(t);
	}
	free(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	uint8_t master[HS_KEY_LEN] = { 7 };
	if (hs_key_from_bytes(master, &key) < 0)
		abort();
	/* The fix-ups must leave a real point as it is. */
	struct hs_index *ix = NULL;
	struct hs_buf b = { 0 };
	struct hs_point *p = calloc(1, sizeof *p);
	if (!p || hs_index_new(1 << 20, 1 << 16, &ix) < 0)
		abort();
	memset(ix->digests[3].b, 0xab, HS_DIGEST_LEN);
	snprintf(ix->server, sizeof ix->server, "mail01");
	snprintf(p->server, sizeof p->server, "mail01");
	snprintf(p->id, sizeof p->id, "20261125T121856Z");
	snprintf(ix->id, sizeof ix->id, "20261125T121856Z");
	p->kind = ix->kind = HS_KIND_SNAPSHOT;
	p->chunk_size = 1 << 16;
	p->time = ix->time = 1795609136;
	p->ndisks = 1;
	if (hs_point_encode(NULL, p, &ix, &b) < 0)
		abort();
	uint8_t *copy = fuzz_dup(b.data, b.len, 0);
	fix_sums(copy, b.len);
	if (memcmp(copy, b.data, b.len) != 0) {
		fprintf(stderr, "fuzz_point: the header layout changed (update the offsets in fuzz_point.c)\n");
		abort();
	}
	free(copy);
	free(p);
	hs_buf_free(&b);
	hs_index_free(ix);
	return 0;
}

/* The compact form expanded: the zero slots after the used ones put back. */
static uint8_t *expand(const uint8_t *data, size_t size, size_t *n)
{
	uint32_t nd;
	memcpy(&nd, data + O_NDISKS, 4);
	nd = le32toh(nd);
	size_t used = O_SLOTS + (size_t)(nd < HS_DISKS_MAX ? nd : HS_DISKS_MAX) * SLOT;
	if (size < used)
		return NULL;
	size_t gap = HS_POINT_HDR_LEN - used;
	uint8_t *d = malloc(size + gap);
	FUZZ_ASSERT(d);
	memcpy(d, data, used);
	memset(d + used, 0, gap);
	memcpy(d + HS_POINT_HDR_LEN, data + used, size - used);
	*n = size + gap;
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *d = fuzz_dup(data, size, 0);
	decode(d, size);
	if (size >= HS_POINT_HDR_LEN) {
		fix_sums(d, size);
		decode(d, size);
	}
	free(d);
	size_t n;
	if (size >= O_SLOTS && (d = expand(data, size, &n))) {
		fix_sums(d, n);
		decode(d, n);
		free(d);
	}
	return 0;
}
