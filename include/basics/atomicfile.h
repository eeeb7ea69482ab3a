/* A file written whole or not at all: into PATH.tmp.PID, synced, then
 * renamed over PATH, so a reader (a web server, a metrics scraper) never
 * sees half of it. */
#pragma once
#include <stdio.h>

/* fill(out, arg) writes the content. what names the path in messages (the
 * option that gave it, e.g. "--html"). 0, or -errno with a message; no
 * temporary file is left on any path. */
int hs_file_replace(const char *path, const char *what, void (*fill)(FILE *out, const void *arg), const void *arg);
