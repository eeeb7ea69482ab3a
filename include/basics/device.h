/* Images and block devices as SOURCE and TARGET: opening, sizing (the size of
 * a block device comes from the device, not stat) and whole-buffer I/O. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Open a raw image or block device for reading and tell its size.
 * 0, or -errno with a message naming path. */
int hs_dev_open_read(const char *path, int *fd, uint64_t *size);

/* Open (creating a file if missing) a target for an image of size bytes.
 * A block device must be at least size bytes; a file is extended to size.
 * *created says whether the file was made here (to remove it on failure).
 * 0, or -errno (-ENOSPC for a device that is too small) with a message. */
int hs_dev_open_target(const char *path, uint64_t size, int *fd, bool *created, bool *is_blk);

/* Read exactly n bytes at off (short only at end of file). Bytes read or -errno. */
ssize_t hs_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Write exactly n bytes at off. 0 or -errno. */
int hs_pwrite_full(int fd, const void *buf, size_t n, uint64_t off);

/* True if [off, off+n) of a regular file is one hole (reads as zeros without I/O). */
bool hs_range_is_hole(int fd, uint64_t off, uint64_t n);

/* The last run of holes one SEEK_DATA found in a file that does not change
 * while it is read (a capture's source): the chunks inside it need no lseek
 * of their own, which is most of the time a snapshot of a large sparse image
 * takes. Shared by threads; zero-initialise it, then hs_holes_init. */
struct hs_holes {
	pthread_mutex_t lock;
	uint64_t from, to; /* [from, to) is known to be holes */
};
void hs_holes_init(struct hs_holes *h);
void hs_holes_destroy(struct hs_holes *h);

/* hs_range_is_hole through h. */
bool hs_holes_has(struct hs_holes *h, int fd, uint64_t off, uint64_t n);

/* 1 if the filesystem holding path lives on block device dev (on dev itself,
 * a partition of it, or a device stacked on it such as LVM); 0 if not, or
 * if either cannot be told (dev is not a block device). */
int hs_dev_holds(const char *dev, const char *path);

/* The file a loop device reads and writes (its backing file) into out; 1 if
 * dev is a loop device with one, 0 if not. */
int hs_dev_loop_file(const char *dev, char *out, size_t cap);

/* Whether someone may write path while it is read: a block device mounted
 * read-write (itself, a partition of it or a device stacked on it), used as
 * swap, held by a stacked device (LVM, md, dm-crypt), claimed exclusively
 * by a program, flock'ed; or a file or device a VM's QEMU holds open for
 * writing (its write-permission lock byte). 1 with why set to a phrase
 * ("is mounted read-write at /srv"), 0 if not, -errno with a message. */
int hs_dev_in_use(const char *path, char *why, size_t cap);
