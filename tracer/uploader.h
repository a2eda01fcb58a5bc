/* uploader — sends traces to a collector, and keeps what could not be sent in a bounded
 * spool directory until the collector is back.  Used by `fntrace record --upload`,
 * `fntrace upload`, and the handler runtime's tracing thread.
 *
 * The request is what the collector (and the shell recipe it replaces) expects:
 * `POST URL` with `X-name: NAME` and the trace as the body.  The body is gzip-compressed
 * with `Content-Encoding: gzip` unless the server answered 415 to a compressed body once
 * (then this process sends plain text to it from then on) or gzip is turned off.
 * Every try of one trace carries the same `Idempotency-Key: fntrace-<content hash>-<trace
 * id>` (the trace id is minted once per trace and names its spool entry, so a drain
 * repeats the key of the tries before it): a collector that stored an earlier try which
 * the client gave up on answers 200 with that upload's id instead of storing it twice.
 * Transient failures (connection refused, timeouts, 5xx, 408, 409, 429) are retried with
 * exponential backoff; permanent ones (other 4xx: bad name, too large, unauthorized)
 * are not retried and not spooled, the error says why.
 *
 * Spool: one file per trace, `<ns>-<pid>-<seq>.<NAME>.perf`, written to a temporary name
 * and renamed (never a half-written entry).  Bounded by bytes and files: making room
 * evicts the oldest entries, logs each (entry, name, size) and counts them.  A trace
 * larger than the whole spool is kept beside it as `.oversize.<id>.<NAME>.perf` (never
 * drained nor evicted), named in the error.  upload_drain() sends
 * entries oldest first and stops at the first transient failure; an entry is claimed by
 * renaming before it is sent, so two drainers never send the same trace twice, and a
 * claim left by a dead process is given back.
 *
 * Thread-safety: every function may be called from any thread; a spool directory may be
 * shared by several processes.  Errors (lib/fterr.h): -FT_ERR_STORE_DOWN when the
 * collector cannot be reached or keeps failing (transient), -FT_ERR_UNAUTHORIZED,
 * -FT_ERR_TOO_LARGE, -FT_ERR_BAD_INPUT (bad URL, other 4xx) when it refuses for good,
 * -errno for local failures (reading a file, writing the spool); a message in err. */
#ifndef FNTRACE_UPLOADER_H
#define FNTRACE_UPLOADER_H

#include <stddef.h>
#include <stdint.h>

enum upload_gzip { UPLOAD_GZIP_AUTO = 0, UPLOAD_GZIP_OFF = 1 };

typedef struct upload_opts {
    const char *url;              /* http(s)://host:port/path */
    const char *name;             /* X-name: a trace name (lib/tracename.h) */
    const char *spool_dir;        /* NULL: no spool, a failed upload is an error */
    uint64_t spool_max_bytes;     /* 0: 64 MiB */
    unsigned spool_max_files;     /* 0: 1000 */
    int attempts;                 /* tries per trace in upload_submit; 0: 3 */
    int backoff_ms;               /* first wait between tries, doubled each time (max
                                     30 s); 0: 500 */
    long timeout_s;               /* per request; 0: 30 */
    enum upload_gzip gzip;
} upload_opts;

typedef struct upload_report {
    int sent;                     /* traces delivered */
    int spooled;                  /* traces written to the spool */
    int evicted;                  /* oldest spool entries deleted to make room */
    int left;                     /* entries still in the spool (after upload_drain) */
    int rejected;                 /* spool entries the server refused for good, renamed
                                     .rejected.ENTRY and left for a person to look at */
    long http_status;             /* last HTTP status seen, 0: none */
} upload_report;

/* POSTs one body, retrying transient failures.  0 on success; -FT_ERR_STORE_DOWN when
 * the server could not be reached or kept failing; a permanent code otherwise. */
int upload_send(const upload_opts *o, const void *body, size_t len, upload_report *rep,
                char *err, size_t errlen);

/* upload_send(), and on a transient failure the body goes to the spool (if configured).
 * Returns the number of traces deferred to the spool: 0 when sent, 1 when spooled;
 * negative code otherwise (-FT_ERR_STORE_DOWN: unreachable and no spool). */
int upload_submit(const upload_opts *o, const void *body, size_t len, upload_report *rep,
                  char *err, size_t errlen);

/* upload_submit() of a file's contents (at most 4 GiB).  Same returns; -errno with a
 * message when the file cannot be read. */
int upload_submit_file(const upload_opts *o, const char *path, upload_report *rep,
                       char *err, size_t errlen);

/* Puts a body into the spool without trying to send it.  0 or negative errno. */
int upload_spool(const upload_opts *o, const char *name, const void *body, size_t len,
                 upload_report *rep, char *err, size_t errlen);

/* Entries waiting in the spool now (0 without a spool), or -errno. */
int upload_spool_count(const upload_opts *o);

/* Sends spooled traces oldest first (one try each); stops at the first transient failure.
 * Returns the number of entries left (0: the spool is empty afterwards), or -errno on
 * a spool error. */
int upload_drain(const upload_opts *o, upload_report *rep, char *err, size_t errlen);

#endif
