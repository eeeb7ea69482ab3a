/* The gc benchmark's store: CHUNKS synthetic chunk files (a few bytes each:
 * gc never reads a chunk) and POINTS points of one server, each naming SPAN
 * consecutive chunks of the first two thirds, one day apart; the last third
 * is named by no point. Chunk i is named by the SHA-256 of its number.
 * usage: hs-synth-store STORE CHUNKS POINTS SPAN */
#include "basics/digest.h"
#include "store/chunk.h"
#include "store/store.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CS 65536u

static void digest_of(uint64_t i, struct hs_digest *d)
{
	hs_digest_compute(&i, sizeof i, d);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: hs-synth-store STORE CHUNKS POINTS SPAN\n");
		return 2;
	}
	const char *where = argv[1];
	uint64_t chunks = strtoull(argv[2], NULL, 10), points = strtoull(argv[3], NULL, 10),
		 span = strtoull(argv[4], NULL, 10);
	uint64_t named = chunks * 2 / 3;
	if (!chunks || points < 2 || !span || span > named) {
		fprintf(stderr, "hs-synth-store: bad sizes\n");
		return 2;
	}
	if (hs_store_init(where, CS) < 0) {
		fprintf(stderr, "hs-synth-store: cannot make %s\n", where);
		return 1;
	}
	char path[4200];
	int fan[256];
	snprintf(path, sizeof path, "%s/chunks", where);
	mkdir(path, 0755);
	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof path, "%s/chunks/%02x", where, b);
		mkdir(path, 0755);
		fan[b] = open(path, O_RDONLY | O_DIRECTORY);
		if (fan[b] < 0) {
			perror(path);
			return 1;
		}
	}
	for (uint64_t i = 0; i < chunks; i++) {
		struct hs_digest d;
		char hex[HS_DIGEST_HEX], name[80];
		digest_of(i, &d);
		hs_digest_hex(&d, hex);
		snprintf(name, sizeof name, "%s.zst", hex);
		int fd = openat(fan[d.b[0]], name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "synthetic chunk\n", 16) != 16 || close(fd) < 0) {
			perror(name);
			return 1;
		}
	}
	struct hs_store *st;
	if (hs_store_open(where, &st) < 0)
		return 1;
	uint64_t step = (named - span) / (points - 1);
	for (uint64_t p = 0; p < points; p++) {
		struct hs_index *ix;
		if (hs_index_new(span * CS, CS, &ix) < 0)
			return 1;
		snprintf(ix->server, sizeof ix->server, "synth");
		ix->time = 1767225600 + (int64_t)p * 86400; /* 2026-01-01, a day apart */
		hs_point_id_format((time_t)ix->time, ix->id);
		ix->kind = p ? HS_KIND_BACKUP : HS_KIND_SNAPSHOT;
		for (uint64_t j = 0; j < span; j++)
			digest_of(p * step + j, &ix->digests[j]);
		if (hs_store_point_put1(st, ix) < 0) {
			fprintf(stderr, "hs-synth-store: cannot write point %llu\n", (unsigned long long)p);
			return 1;
		}
		hs_index_free(ix);
	}
	hs_store_close(st);
	printf("%llu chunks, %llu named by %llu points of %llu chunks\n", (unsigned long long)chunks,
	       (unsigned long long)((points - 1) * step + span), (unsigned long long)points, (unsigned long long)span);
	return 0;
}
