/* Scope-bound cleanup: every early return releases what the scope acquired. */
#pragma once
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <pthread.h>
#include <dirent.h>

static inline void hs_freep(void *p) { free(*(void **)p); }
static inline void hs_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void hs_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void hs_closedirp(DIR **d) { if (*d) closedir(*d); }
static inline void hs_unlockp(pthread_mutex_t **m) { if (*m) pthread_mutex_unlock(*m); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(hs_freep)
#define _cleanup_close_ _cleanup_(hs_closep)
#define _cleanup_fclose_ _cleanup_(hs_fclosep)
#define _cleanup_closedir_ _cleanup_(hs_closedirp)

/* Hold a mutex until the end of the enclosing scope. */
#define HS_CAT2(a, b) a##b
#define HS_CAT(a, b) HS_CAT2(a, b)
#define HS_LOCK_SCOPE(m) \
	pthread_mutex_t *_cleanup_(hs_unlockp) HS_CAT(hs_lock_, __LINE__) = (pthread_mutex_lock(m), (m))

/* Hand ownership out of a cleanup-managed variable. */
#define HS_TAKE(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define HS_TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })
