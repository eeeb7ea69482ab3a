/* The HTTP client shared by the remote store kinds (HTTP(S) and S3), over
 * libcurl: a connection cache shared by its threads keeps connections alive,
 * so each worker thread reuses one connection; TLS verification always on; timeouts;
 * transient failures (refused, reset, timeout, 5xx, short body) retried with
 * backoff, then reported as the errno the spare's retry loop understands. */
#pragma once
#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include "store/backend.h"
#include "basics/buf.h"

struct hs_http;
struct curl_slist;

/* Open a client for one store. where is the store's location for messages
 * (never with credentials); user/password (NULL for none) go to libcurl only.
 * TLS failures say what is wrong: a certificate for another host name, a CA
 * bundle that cannot be used, an untrusted certificate. Settings from the
 * environment:
 *   HOTSPARE_CA_FILE (or CURL_CA_BUNDLE)   CA bundle for https (default: the
 *                                          system's); one that does not exist is
 *                                          refused here (-ENOENT)
 *   HOTSPARE_HTTP_RETRIES=4                retries of a transient failure per request
 *   HOTSPARE_HTTP_CONNECT_TIMEOUT=10       seconds to connect
 *   HOTSPARE_HTTP_STALL_TIMEOUT=30         seconds a transfer may make no progress
 * 0 or -errno with a message. */
int hs_http_new(const char *where, const char *user, const char *password, struct hs_http **out);

/* Free the client and its connections (NULL is fine). */
void hs_http_free(struct hs_http *h);

/* The most bytes of a response body whose caller set no limit of its own
 * (struct hs_buf's max): listings, error bodies. */
#define HS_HTTP_BODY_MAX ((size_t)64 << 20)

struct hs_http_req {
	const char *method;          /* "GET", "PUT", "HEAD" or "DELETE" */
	const char *url;             /* never with credentials */
	const char *what;            /* the object, for messages ("STORE/key") */
	struct curl_slist *headers;  /* extra headers, or NULL */
	const void *body;            /* PUT: the bytes to send */
	size_t body_len;
	struct hs_buf *out;          /* the response body (GET, and error bodies), or NULL;
				      * its limit (hs_buf_limit, else HS_HTTP_BODY_MAX) caps it */
	bool prefix_ok;              /* a whole body (200) longer than that limit is cut there,
				      * not refused: the caller needs only its start (a range) */
};

/* Perform req, retrying transient failures with backoff. With a deadline
 * on the calling thread (basics/deadline.h), every attempt's timeouts are
 * cut to what is left of it and no retry starts past it, whatever the server
 * does. Returns 0 with *status set for a final response (2xx, 3xx, 4xx);
 * after the retries (or at the deadline), -ECONNREFUSED, -ECONNRESET,
 * -ETIMEDOUT, -EHOSTUNREACH, -ENETUNREACH or -EAGAIN (5xx, short bodies)
 * with a message; other failures (a body past its limit: -EFBIG; TLS
 * verification: -EACCES; a bad URL: -EINVAL) at once. */
int hs_http_do(struct hs_http *h, const struct hs_http_req *req, long *status);

/* The error for a final response that is not a success: 404/410 -ENOENT
 * and 412 -EEXIST (no message), 401/403 -EACCES, others -EIO, with a message naming what
 * and the status; detail (may be NULL) is appended. */
int hs_http_status_err(const struct hs_http_req *req, long status, const char *detail);

/* Split a URL "scheme://[user[:password]@]rest" into the location without
 * the credentials (malloc'ed) and the percent-decoded user and password
 * (malloc'ed, or NULL when absent). 0, -EINVAL, -ENOMEM. */
int hs_url_split_credentials(const char *url, char **clean, char **user, char **password);

/* The masked form of a command-line argument: the user and password of an
 * http or https URL become "***", whatever their length. A malloc'ed string,
 * or NULL when arg holds no credentials (or memory ran out). */
char *hs_url_mask(const char *arg);

/* Basic-auth credentials from a file: one line "USER:PASSWORD" (the user has
 * no ':'; the password may; a final newline is ignored). The file must be a
 * regular file that neither group nor others may read or write (mode 0600 or
 * 0400). *user and *password are malloc'ed. 0, or -errno with a one-line
 * message naming the file. */
int hs_credentials_read(const char *path, char **user, char **password);

/* Advisory lock objects for stores that have no locking of their own:
 * PUT "locks/<name>.lock" (host, pid, time, nonce) with If-None-Match: *,
 * read it back, DELETE to release. Where the server honours the condition
 * (AWS S3, MinIO, Apache mod_dav) only one of two racing writers gets it;
 * where it does not (nginx), two writers that start within one round trip
 * of each other can both get it. A lock left by a dead process on
 * this host is taken over, one left by another host must be removed by hand
 * (the message says how). del removes an object (0 or -ENOENT when absent). */
struct hs_remote_locks {
	pthread_mutex_t lock; /* protects key[] */
	char *key[16];        /* the lock objects this process holds, by token */
};
void hs_remote_locks_init(struct hs_remote_locks *l);
void hs_remote_locks_free(struct hs_remote_locks *l);
int hs_remote_lock(struct hs_backend *be, struct hs_remote_locks *l,
		   int (*del)(struct hs_backend *, const char *key), const char *name, int wait,
		   int *token);
void hs_remote_unlock(struct hs_backend *be, struct hs_remote_locks *l,
		      int (*del)(struct hs_backend *, const char *key), int token);
