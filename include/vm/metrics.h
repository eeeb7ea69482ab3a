/* The morning view for monitoring: a fleet (fleet.h) in Prometheus' text
 * exposition format (version 0.0.4), for node_exporter's textfile
 * collector. Every metric has the hotspare_ prefix, its unit in its name
 * (_seconds, _bytes, _ratio), a HELP and a TYPE line, and one sample a
 * server (label server="NAME"); a value not known (no drill yet, no spare
 * mounted here, a time not reached) has no sample rather than a made-up
 * one. */
#pragma once
#include <stdio.h>
#include "vm/fleet.h"

/* Write f's metrics; f NULL when the store could not be read (then only
 * hotspare_up 0). */
void hs_metrics_write(FILE *out, const struct hs_fleet *f);

/* The same into the file path, replaced atomically (a collector never
 * reads half a file): written beside it, synced, renamed. 0 or -errno with
 * a message. */
int hs_metrics_write_file(const struct hs_fleet *f, const char *path);
