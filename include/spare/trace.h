/* Boot traces: the order in which a boot read the chunks of a server's disk,
 * recorded by a drill and used by the next mount of that server to hydrate
 * those chunks first, so the real boot finds them local. Kept on the host
 * (drills never write to a store or a seed), one file per server. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "store/index.h"

#define HS_TRACE_DIR_DEFAULT "/var/lib/hotspare/boot-traces"

/* Where the trace of server lives: $HOTSPARE_TRACE_DIR or the default dir. */
void hs_trace_path(const char *server, char *out, size_t cap);

/* The trace of one disk of a server with several (disk NULL: the server's
 * only disk, as hs_trace_path). */
void hs_trace_path_disk(const char *server, const char *disk, char *out, size_t cap);

/* Write a trace of ix's chunks atomically (creating the directory). 0 or -errno. */
int hs_trace_save(const char *path, const struct hs_index *ix, const uint64_t *v, size_t n);

/* Read a trace for ix: -ENOENT if there is none; -EINVAL (with a message)
 * if it is malformed or made for another server or chunk size. Indices past
 * the image are dropped (the disk may have shrunk). */
int hs_trace_load(const char *path, const struct hs_index *ix, uint64_t **v, size_t *n);
