/* Indexes in memory; see index.h. (Their encoding is the point's: point.c.) */
#include "store/index.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <stdio.h>
#include <string.h>

const char *hs_kind_name(uint32_t kind)
{
	return kind == HS_KIND_SNAPSHOT ? "snapshot" : kind == HS_KIND_BACKUP ? "backup" : "unknown";
}

int hs_chunk_size_valid(uint64_t size)
{
	return size >= 65536 && size <= 4194304 && (size & (size - 1)) == 0;
}

int hs_index_new(uint64_t image_size, uint32_t chunk_size, struct hs_index **out)
{
	if (!hs_chunk_size_valid(chunk_size))
		return hs_err(EINVAL, "chunk size %u is not a power of two from 64 KiB to 4 MiB", chunk_size);
	if (image_size > HS_IMAGE_MAX_SIZE)
		return hs_err(EINVAL, "image size %llu is larger than the supported %llu bytes",
			      (unsigned long long)image_size, (unsigned long long)HS_IMAGE_MAX_SIZE);
	uint64_t n = (image_size + chunk_size - 1) / chunk_size;
	if (n > HS_INDEX_MAX_CHUNKS)
		return hs_err(EINVAL, "image of %llu bytes has too many chunks (%llu) for chunk size %u",
			      (unsigned long long)image_size, (unsigned long long)n, chunk_size);
	struct hs_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return -ENOMEM;
	ix->digests = calloc(n ? n : 1, sizeof *ix->digests);
	if (!ix->digests) {
		free(ix);
		return -ENOMEM;
	}
	ix->image_size = image_size;
	ix->chunk_size = chunk_size;
	snprintf(ix->disk, sizeof ix->disk, "%s", HS_DISK_DEFAULT);
	ix->nchunks = n;
	*out = ix;
	return 0;
}

uint32_t hs_index_chunk_len(const struct hs_index *ix, uint64_t i)
{
	uint64_t off = i * ix->chunk_size;
	uint64_t left = ix->image_size - off;
	return left < ix->chunk_size ? (uint32_t)left : ix->chunk_size;
}

void hs_index_free(struct hs_index *ix)
{
	if (!ix)
		return;
	free(ix->digests);
	free(ix);
}
