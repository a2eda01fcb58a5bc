/* fterr — the one error convention of fntrace.
 *
 * Every library function that can fail returns 0 (or a count, or a pointer) on success
 * and a negative code on failure: -errno for what the system said (-ENOENT, -ENOSPC …),
 * or -FT_ERR_* for fntrace's own failures, which live in a range above errno the way
 * libbpf's LIBBPF_ERRNO__* do.  The detail text (which file, which field) goes into the
 * caller's message buffer (lib/errbuf.h); the code says what kind of failure it was, so
 * callers branch on the code and show the text.
 *
 * ft_strerror() names any code, errno or ours; ft_http_status() is the single table from
 * a code to the HTTP status a server answers with.  Both are pure and thread-safe. */
#ifndef FNTRACE_FTERR_H
#define FNTRACE_FTERR_H

enum ft_err {
    FT_ERR__START = 4000,
    FT_ERR_NOT_PERF = FT_ERR__START, /* a stored file is not perf-script text */
    FT_ERR_BAD_GZIP,                 /* a stored file is corrupt or truncated gzip */
    FT_ERR_BAD_NAME,                 /* a trace name breaks the name rule (tracename.h) */
    FT_ERR_BAD_ID,                   /* a trace id that is not a path inside the store */
    FT_ERR_TOO_LARGE,                /* over a configured size limit */
    FT_ERR_OVER_BUDGET,              /* would pass a memory or disk budget */
    FT_ERR_EMPTY,                    /* nothing to answer from (no samples in a range) */
    FT_ERR_BAD_INPUT,                /* malformed input of another kind (JSON, option) */
    FT_ERR_UNAUTHORIZED,             /* missing or wrong credentials */
    FT_ERR_STORE_DOWN,               /* the store cannot be reached now; retry later */
    FT_ERR_CORRUPT,                  /* a file of ours (index, spool entry) is damaged */
    FT_ERR_UNSUPPORTED,              /* asked for something this build cannot do */
    FT_ERR_NO_TARGET,                /* a process to trace cannot be started, found, traced */
    FT_ERR_BODY_TYPE,                /* a request body of the wrong type (not perf text) */
    FT_ERR_BODY_GZIP,                /* a request body that says or looks gzip but is not */
    FT_ERR__END
};

/* A short description of err (negative or positive, errno or FT_ERR_*). */
const char *ft_strerror(int err);

/* The HTTP status that a server answers for err; 500 for anything unexpected. */
int ft_http_status(int err);

#endif
