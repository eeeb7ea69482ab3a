/* Screenshots of a guest's screen, the proof of a server that prints nothing
 * on a serial console (a Windows login screen): taken through libvirt
 * (virDomainScreenshot; the domain needs a video device, no graphics
 * listener), kept as PNG and decoded to pixels, so a drill can tell a blank
 * screen and a screen still changing from one that shows something and
 * stays. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>
#include "basics/buf.h"

struct hs_screen {
	unsigned width, height;
	uint8_t *rgb;         /* width * height pixels, 3 bytes each */
	struct hs_buf png;    /* the picture as a PNG file */
};

/* The largest screen taken: 16384 pixels a side, 64 Mi pixels. */
#define HS_SCREEN_MAX_SIDE 16384u
#define HS_SCREEN_MAX_PIXELS (64u << 20)

/* A screen's ink below this fraction of its pixels is blank (a cursor on
 * black is about 0.006% of a 720x400 text screen; a login prompt 0.2%). */
#define HS_SCREEN_BLANK 0.0005
/* Two screens differing in at most this fraction of their pixels are the
 * same picture (a blinking cursor). */
#define HS_SCREEN_SAME 0.0005

/* Take a screenshot of dom's first screen into out (free with
 * hs_screen_free). 0, or -errno with libvirt's message. */
int hs_screenshot(virConnectPtr conn, virDomainPtr dom, struct hs_screen *out);

/* Decode a PNG or a binary PPM (P6, what older QEMUs return) into out; a PPM
 * is encoded as PNG too. 0, or -EBADMSG (not a picture, or past the limits)
 * / -ENOMEM, with a message. */
int hs_screen_decode(const void *data, size_t n, struct hs_screen *out);

void hs_screen_free(struct hs_screen *s);

/* The fraction of pixels not of the screen's commonest colour (colours
 * compared at 4 bits a channel). */
double hs_screen_ink(const struct hs_screen *s);

/* Whether the screen shows nothing (ink below HS_SCREEN_BLANK). */
bool hs_screen_blank(const struct hs_screen *s);

/* The fraction of pixels that differ between a and b; 1 when their sizes
 * differ. */
double hs_screen_diff(const struct hs_screen *a, const struct hs_screen *b);
