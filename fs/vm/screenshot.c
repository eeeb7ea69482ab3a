/* Screenshots; see screenshot.h. PNG through libpng's simplified API. */
#include "vm/screenshot.h"
#include "basics/err.h"
#include "vm/domain.h"
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most bytes of a screenshot file: raw pixels of the largest screen. */
#define SHOT_MAX ((size_t)HS_SCREEN_MAX_PIXELS * 3 + 4096)

void hs_screen_free(struct hs_screen *s)
{
	if (!s)
		return;
	free(s->rgb);
	s->rgb = NULL;
	hs_buf_free(&s->png);
	s->width = s->height = 0;
}

static int check_size(png_uint_32 w, png_uint_32 h)
{
	if (w == 0 || h == 0 || w > HS_SCREEN_MAX_SIDE || h > HS_SCREEN_MAX_SIDE ||
	    (uint64_t)w * h > HS_SCREEN_MAX_PIXELS)
		return hs_err(EBADMSG, "a screen of %ux%u pixels is beyond what is read (%u a side, %u pixels)",
			      (unsigned)w, (unsigned)h, HS_SCREEN_MAX_SIDE, HS_SCREEN_MAX_PIXELS);
	return 0;
}

static int decode_png(const void *data, size_t n, struct hs_screen *out)
{
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, data, n))
		return hs_err(EBADMSG, "the screenshot is not a PNG picture: %s", img.message);
	int r = check_size(img.width, img.height);
	if (r < 0) {
		png_image_free(&img);
		return r;
	}
	img.format = PNG_FORMAT_RGB;
	size_t len = PNG_IMAGE_SIZE(img);
	out->rgb = malloc(len);
	if (!out->rgb) {
		png_image_free(&img);
		return -ENOMEM;
	}
	if (!png_image_finish_read(&img, NULL, out->rgb, 0, NULL)) {
		free(out->rgb);
		out->rgb = NULL;
		return hs_err(EBADMSG, "the screenshot's PNG does not decode: %s", img.message);
	}
	out->width = img.width;
	out->height = img.height;
	return hs_buf_append(&out->png, data, n);
}

/* A number of a PPM header, after whitespace and comments. */
static bool ppm_number(const unsigned char *p, size_t n, size_t *at, unsigned long *v)
{
	while (*at < n && (p[*at] == ' ' || p[*at] == '\t' || p[*at] == '\n' || p[*at] == '\r' || p[*at] == '#')) {
		if (p[*at] == '#')
			while (*at < n && p[*at] != '\n')
				(*at)++;
		else
			(*at)++;
	}
	size_t start = *at;
	*v = 0;
	while (*at < n && p[*at] >= '0' && p[*at] <= '9' && *at - start < 9)
		*v = *v * 10 + (unsigned long)(p[(*at)++] - '0');
	return *at > start && *at < n;
}

static int decode_ppm(const unsigned char *p, size_t n, struct hs_screen *out)
{
	size_t at = 2;
	unsigned long w, h, max;
	if (!ppm_number(p, n, &at, &w) || !ppm_number(p, n, &at, &h) || !ppm_number(p, n, &at, &max) || max != 255)
		return hs_err(EBADMSG, "the screenshot is not a PPM picture of 8-bit colours");
	at++; /* the single whitespace byte before the pixels */
	int r = check_size((png_uint_32)w, (png_uint_32)h);
	if (r < 0)
		return r;
	size_t len = (size_t)w * h * 3;
	if (n < at || n - at < len)
		return hs_err(EBADMSG, "the screenshot's PPM is cut short");
	if (!(out->rgb = malloc(len)))
		return -ENOMEM;
	memcpy(out->rgb, p + at, len);
	out->width = (unsigned)w;
	out->height = (unsigned)h;
	/* Kept as PNG, what a report embeds. */
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = PNG_FORMAT_RGB;
	png_alloc_size_t size = 0;
	if (!png_image_write_to_memory(&img, NULL, &size, 0, out->rgb, 0, NULL))
		return hs_err(EIO, "cannot encode the screenshot as PNG: %s", img.message);
	if ((r = hs_buf_reserve(&out->png, size)) < 0)
		return r;
	if (!png_image_write_to_memory(&img, out->png.data, &size, 0, out->rgb, 0, NULL))
		return hs_err(EIO, "cannot encode the screenshot as PNG: %s", img.message);
	out->png.len = size;
	return 0;
}

int hs_screen_decode(const void *data, size_t n, struct hs_screen *out)
{
	memset(out, 0, sizeof *out);
	const unsigned char *p = data;
	int r;
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		r = decode_png(data, n, out);
	else if (n >= 3 && p[0] == 'P' && p[1] == '6')
		r = decode_ppm(p, n, out);
	else
		r = hs_err(EBADMSG, "the screenshot is neither PNG nor PPM");
	if (r < 0)
		hs_screen_free(out);
	return r;
}

static int sink(virStreamPtr st, const char *p, size_t n, void *arg)
{
	(void)st;
	struct hs_buf *b = arg;
	/* The bytes it consumed, or -1 to stop. */
	return hs_buf_append(b, p, n) == 0 ? (int)n : -1;
}

int hs_screenshot(virConnectPtr conn, virDomainPtr dom, struct hs_screen *out)
{
	memset(out, 0, sizeof *out);
	virStreamPtr st = virStreamNew(conn, 0);
	if (!st)
		return hs_err(EIO, "cannot take a screenshot: %s", hs_virt_msg());
	char *mime = virDomainScreenshot(dom, st, 0, 0);
	if (!mime) {
		int r = hs_err(EIO, "cannot take a screenshot: %s", hs_virt_msg());
		virStreamFree(st);
		return r;
	}
	free(mime); /* the bytes say what they are */
	struct hs_buf b = { .max = SHOT_MAX };
	int r = 0;
	if (virStreamRecvAll(st, sink, &b) < 0) {
		r = hs_err(b.len >= SHOT_MAX ? EFBIG : EIO, "cannot read the screenshot: %s",
			   b.len >= SHOT_MAX ? "larger than any screen" : hs_virt_msg());
		virStreamAbort(st);
	} else if (virStreamFinish(st) < 0) {
		r = hs_err(EIO, "cannot read the screenshot: %s", hs_virt_msg());
	}
	virStreamFree(st);
	if (r == 0)
		r = hs_screen_decode(b.data, b.len, out);
	hs_buf_free(&b);
	return r;
}

static unsigned bucket(const uint8_t *px)
{
	return (unsigned)(px[0] >> 4) << 8 | (unsigned)(px[1] >> 4) << 4 | (unsigned)(px[2] >> 4);
}

double hs_screen_ink(const struct hs_screen *s)
{
	size_t n = (size_t)s->width * s->height;
	if (!n || !s->rgb)
		return 0;
	uint32_t *count = calloc(4096, sizeof *count);
	if (!count)
		return 1; /* cannot tell: not called blank */
	for (size_t i = 0; i < n; i++)
		count[bucket(s->rgb + 3 * i)]++;
	uint32_t top = 0;
	for (unsigned k = 0; k < 4096; k++)
		if (count[k] > top)
			top = count[k];
	free(count);
	return (double)(n - top) / (double)n;
}

bool hs_screen_blank(const struct hs_screen *s)
{
	return hs_screen_ink(s) < HS_SCREEN_BLANK;
}

double hs_screen_diff(const struct hs_screen *a, const struct hs_screen *b)
{
	if (a->width != b->width || a->height != b->height || !a->rgb || !b->rgb)
		return 1;
	size_t n = (size_t)a->width * a->height, d = 0;
	for (size_t i = 0; i < n; i++)
		d += memcmp(a->rgb + 3 * i, b->rgb + 3 * i, 3) != 0;
	return n ? (double)d / (double)n : 0;
}
