/* Fuzz the S3 ListObjectsV2 page parser (hs_s3_list_page, store/backend.h).
 * An input is the listed prefix, a newline, then the page as the service
 * (or anything answering in its place) sent it. */
#include "store/backend.h"
#include "fuzz.h"
#include <string.h>

struct seen {
	size_t n;
};

static int on_name(void *arg, const char *name, uint64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	struct seen *s = arg;
	/* Only names directly under the prefix, never hidden ones or paths. */
	FUZZ_ASSERT(name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 2048);
	return ++s->n == 500 ? 7 : 0; /* a walker that stops early */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
	if (!nl)
		return 0;
	char full[260];
	size_t fl = (size_t)(nl - data);
	memcpy(full, data, fl);
	full[fl] = 0;
	if (strlen(full) != fl || !fl || full[fl - 1] != '/')
		return 0;
	size_t n = size - fl - 1;
	char *doc = fuzz_dup(nl + 1, n, 0);
	char token[2048];
	bool more = true;
	struct seen s = { 0 };
	int r = hs_s3_list_page(doc, n, full, on_name, &s, token, sizeof token, &more);
	FUZZ_ASSERT(r == 0 || r == -EPROTO || r == 7);
	FUZZ_ASSERT(!more || (r == 0 && token[0] && strlen(token) < sizeof token));
	/* A small token buffer: cut, never overrun. */
	char small[8];
	r = hs_s3_list_page(doc, n, full, on_name, &s, small, sizeof small, &more);
	FUZZ_ASSERT(!more || strlen(small) < sizeof small);
	fuzz_check_msg();
	free(doc);
	return 0;
}
