/* The key/value interface every kind of store is built on (a local directory,
 * an HTTP(S) server, an S3 bucket). Keys are relative paths like "chunks/ab/<hex>.zst";
 * the layout above this interface is the same for every kind. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "basics/buf.h"

struct hs_backend;

#define HS_PUT_NOREPLACE 1u /* keep an existing object; put returns -EEXIST */
/* Batch the object with others: it becomes durable and visible at the next
 * sync() (or when the batch fills), with one filesystem sync for the whole
 * batch instead of one per object. Until then get/exists may not see it;
 * with NOREPLACE, put returns 0 and an existing object is kept at commit. */
#define HS_PUT_BATCH 2u

#define HS_COPY_MOVE 1u /* copy(): remove the source (a move) */

struct hs_backend_ops {
	/* Read the whole object into out (replacing its content).
	 * 0, -ENOENT if absent, other -errno on failure. */
	int (*get)(struct hs_backend *be, const char *key, struct hs_buf *out);
	/* Store an object atomically: readers see nothing or all of it, and its
	 * content is durable before its name appears. The name itself is durable
	 * after the next sync(). 0, -EEXIST (NOREPLACE and present), -errno. */
	int (*put)(struct hs_backend *be, const char *key, const void *p, size_t n,
		   unsigned flags);
	/* Read up to len bytes at off of an object into out (replacing its
	 * content; fewer at the object's end, none past it). 0, -ENOENT if
	 * absent, other -errno on failure. */
	int (*get_range)(struct hs_backend *be, const char *key, uint64_t off, size_t len,
			 struct hs_buf *out);
	/* 1 if the object exists, 0 if not, -errno on failure. */
	int (*exists)(struct hs_backend *be, const char *key);
	/* Remove an object (its name is gone at the next sync). 0, -ENOENT if
	 * absent, -errno. */
	int (*remove)(struct hs_backend *be, const char *key);
	/* Call fn(arg, name) for each object directly under dir; a non-zero
	 * return from fn stops the walk and is returned. -ENOENT if no such dir;
	 * -ENOTSUP for kinds that cannot list (the store keeps manifests instead). */
	int (*list)(struct hs_backend *be, const char *dir,
		    int (*fn)(void *arg, const char *name), void *arg);
	/* list, with each object's size in bytes and modification time (UTC
	 * seconds): what retention (gc, du) needs without reading any object.
	 * NULL for kinds that cannot list. */
	int (*list_sized)(struct hs_backend *be, const char *dir,
			  int (*fn)(void *arg, const char *name, uint64_t size, int64_t mtime), void *arg);
	/* Copy an object to a key that does not exist yet (-EEXIST if it does);
	 * with HS_COPY_MOVE, the source goes: an atomic rename where the kind has
	 * one, else a copy then a removal (the object is under one key or both at
	 * every moment, never under neither). Durable at the next sync. 0,
	 * -ENOENT (no such object), -EEXIST, -errno. NULL for kinds without it. */
	int (*copy)(struct hs_backend *be, const char *from, const char *to, unsigned flags);
	/* Make all objects put so far (batched ones too) durable and visible,
	 * names included. 0 or -errno. */
	int (*sync)(struct hs_backend *be);
	/* Take the exclusive lock called name; *token releases it. With wait,
	 * block until it is free (for short critical sections); without, return
	 * -EBUSY at once when another process holds it (message names the holder). */
	int (*lock)(struct hs_backend *be, const char *name, int wait, int *token);
	/* Release a lock taken by lock(). */
	void (*unlock)(struct hs_backend *be, int token);
	/* Temporary objects left by writers that were killed (a local directory
	 * writes each object under a temporary name first): those of owner (as
	 * its lock recorded it), or (owner NULL) of every writer that no longer
	 * runs on this host. Counted into *count and *bytes and, with remove,
	 * deleted. NULL for kinds whose writes leave nothing behind. 0 or -errno. */
	int (*leftovers)(struct hs_backend *be, const char *owner, bool remove, uint64_t *count,
			 uint64_t *bytes);
	/* Free the backend. */
	void (*close)(struct hs_backend *be);
};

struct hs_backend {
	const struct hs_backend_ops *ops;
	char *where; /* the store's location as the user gave it (less any credentials), for messages */
	bool remote; /* over a network: a body that fails its digest may be a transfer error */
};

/* Open a local directory as a backend. With create, make the directory if
 * missing. 0, -ENOENT (no such directory), -ENOTDIR, -errno. */
int hs_backend_dir_open(const char *path, int create, struct hs_backend **out);

/* Remove the temporary files (".tmp.PID-TAG-HOST.SEQ"; ".tmp.PID-TAG.SEQ" and
 * ".tmp.PID.SEQ" from before host tags) that writers which are no longer
 * alive (kill -9, a crash) left anywhere in a directory store (the leftovers
 * op with no owner); files of live processes stay. Only this host's pids are
 * judged (HOST: hs_backend_dir_host_tag); another host's files sharing the
 * directory (NFS) go once a day old. No-op (0) for other kinds. The number
 * removed, or -errno with a message. */
int hs_backend_dir_clean_tmp(struct hs_backend *be);

/* This host's tag in temporary names: 8 hex digits of the host's name, boot
 * and pid namespace. */
const char *hs_backend_dir_host_tag(void);

/* Open a store on a web server: http://[user:password@]host[:port]/path or
 * https://... (credentials from the URL, else the file HOTSPARE_CREDENTIALS_FILE
 * names, else HOTSPARE_HTTP_USER / HOTSPARE_HTTP_PASSWORD; never in where).
 * 0 or -errno. */
int hs_backend_http_open(const char *url, struct hs_backend **out);

/* Open a store in an S3 bucket: s3://bucket[/prefix]. Region, endpoint,
 * addressing style and credentials come from the environment (see
 * backend_s3.c). With create, make the bucket if it does not exist. 0 or -errno. */
int hs_backend_s3_open(const char *url, int create, struct hs_backend **out);

/* One page of an S3 ListObjectsV2 answer (n bytes at doc, listing the
 * prefix full, which ends in '/'): fn(arg, name, size, mtime) for each object and
 * "directory" directly under full (names starting with '.' are skipped),
 * then, when another page follows, *more and its continuation token (into
 * token, tcap bytes). 0, -EPROTO (a truncated page without a token), or
 * fn's non-zero return. (backend_s3.c; exposed for the fuzzer.) */
int hs_s3_list_page(const char *doc, size_t n, const char *full,
		    int (*fn)(void *, const char *, uint64_t, int64_t), void *arg, char *token, size_t tcap, bool *more);

/* 0 when where could be made a store directory now without making anything
 * first: a directory, or missing with a parent directory this process may
 * write (URLs are not looked at: their server decides). -errno with a
 * message otherwise. For checks before a command writes anything. */
int hs_backend_check_create(const char *where);

/* Open the backend for a store location: a directory path, an http:// or
 * https:// URL, or an s3:// URL. */
int hs_backend_open(const char *where, int create, struct hs_backend **out);
