/* Running helper programs (losetup, mount, qemu-img, ...) and removing the
 * work trees they leave. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* Run argv[0] (found on PATH) with stdin from /dev/null; its stdout and
 * stderr together go into out (cap bytes, NUL-terminated, may be NULL).
 * The exit status (0 on success, 127 if it could not run), or -errno. */
int hs_run(char *const argv[], char *out, size_t cap);

/* hs_run, and with HS_RUN_OWN_GROUP in a process group of its own: a
 * Ctrl-C at the terminal does not reach it (a clean-up step that must
 * finish after the user stopped the command). */
#define HS_RUN_OWN_GROUP 1u
int hs_run_flags(char *const argv[], char *out, size_t cap, unsigned flags);

/* The first line of text, trimmed in place (for one-line error messages). */
char *hs_first_line(char *text);

/* Remove a directory tree without crossing into mounts. 0 or -errno. */
int hs_rm_tree(const char *path);

/* What the kernel tells of this process in small files and links under
 * /proc: up to cap - 1 bytes of a file (boot_id: its newline kept) or of a
 * link's target (ns/pid), NUL-terminated; "" when it cannot be read. */
void hs_proc_text(const char *path, char *out, size_t cap);
/* hs_proc_link returns 0, or -errno when the link cannot be read. */
int hs_proc_link(const char *path, char *out, size_t cap);

/* What /proc/PID/stat tells of a process. */
struct hs_proc {
	char state;               /* 'R', 'S', 'Z' (exited, not reaped) ... */
	long pgrp;                /* its process group */
	long threads;             /* threads, an exited leader counted */
	unsigned long long start; /* clock ticks since boot */
};

/* Read it. 0, or -ENOENT when the process is gone or /proc does not show it. */
int hs_proc_get(long pid, struct hs_proc *out);

/* A process's start time, 0 if it is gone: a pid and its start time name
 * one process, never a reused pid. */
unsigned long long hs_proc_start(long pid);

/* Whether process pid, started at start (0: whenever), still runs: false
 * once it is gone, a zombie (it has exited, closed its files and waits only
 * for its parent, maybe an init that reaps late) or another process that took
 * the pid. Where /proc does not show it, kill(pid, 0) decides. */
bool hs_proc_running(long pid, unsigned long long start);
