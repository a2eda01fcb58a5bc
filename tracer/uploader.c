/* uploader — see uploader.h.  libcurl easy handles (one per thread, reset per request and
 * kept for its open connection; no shared state but the process-wide "this server
 * refuses gzip" flag), lib/gz for the gzip body, plain files and
 * rename(2) for the spool. */
#include "uploader.h"
#include "errbuf.h"
#include "fterr.h"
#include "gz.h"
#include "log.h"
#include "tracename.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SPOOL_BYTES (64ull << 20)
#define DEFAULT_SPOOL_FILES 1000u
#define MAX_BACKOFF_MS 30000
#define MAX_SPOOL_ENTRIES 100000u

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int gzip_refused;            /* a server answered 415 to gzip: send plain */
static unsigned spool_seq;

/* One easy handle per thread, reset between requests: its connection to the collector
 * stays open (keep-alive), so an agent posting a trace per container and window does
 * not connect and set up a handle every time. */
static pthread_key_t curl_key;
static void curl_drop(void *c) { curl_easy_cleanup(c); }
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, curl_drop);
}

static CURL *thread_handle(void)
{
    CURL *c = pthread_getspecific(curl_key);
    if (c) {
        curl_easy_reset(c);
        return c;
    }
    if ((c = curl_easy_init()) && pthread_setspecific(curl_key, c)) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

/* After a failed request: the next one starts from a fresh handle and connection. */
static void thread_handle_drop(CURL *c)
{
    pthread_setspecific(curl_key, NULL);
    curl_easy_cleanup(c);
}

/* A trace's own id, minted once per trace: "<ns>-<pid>-<seq>".  It names the trace's
 * spool entry, so a drain after a timed-out try sends the same Idempotency-Key. */
#define TID_MAX 48
static void mint_tid(char *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned seq = __atomic_add_fetch(&spool_seq, 1, __ATOMIC_RELAXED);
    snprintf(out, TID_MAX, "%019llu-%d-%u",
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
             (int)getpid(), seq);
}

/* Idempotency-Key: "fntrace-<64-bit hash of the content>-<trace id>".  The hash is FNV-1a's
 * step over little-endian 8-byte words (then the tail bytes) with a shift to fold the
 * high bits back: a byte at a time, hashing was a tenth of what an agent spends per
 * window.  (A trace spooled by an fntrace from before this hash gets another key when a
 * newer one drains it: one trace, at most once, may be stored twice across the upgrade.) */
#define KEY_MAX (TID_MAX + 32)
static void idem_key(const void *body, size_t len, const char *tid, char *out)
{
    const uint64_t prime = 1099511628211ull;
    uint64_t h = 1469598103934665603ull ^ (uint64_t)len;
    const unsigned char *p = body;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = (uint64_t)p[i] | (uint64_t)p[i + 1] << 8 | (uint64_t)p[i + 2] << 16 |
                     (uint64_t)p[i + 3] << 24 | (uint64_t)p[i + 4] << 32 |
                     (uint64_t)p[i + 5] << 40 | (uint64_t)p[i + 6] << 48 |
                     (uint64_t)p[i + 7] << 56;
        h = (h ^ w) * prime;
        h ^= h >> 29;
    }
    for (; i < len; i++) h = (h ^ p[i]) * prime;
    snprintf(out, KEY_MAX, "fntrace-%016llx-%s", (unsigned long long)h, tid);
}


/* Level 1: a trace's text (repetitive stacks and invocation lines) deflates to ~10% at
 * level 1 in a third of level 6's CPU time, for ~14% more bytes; uploads run inside
 * the traced process, where CPU is what the tracing must not take. */
#define GZIP_LEVEL GZ_FAST

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return sz * n;
}

/* One POST.  Returns 0 (2xx), -FT_ERR_STORE_DOWN (transient), or a permanent code. */
static int post_once(const upload_opts *o, const char *name, const char *key,
                     const void *body, size_t len, upload_report *rep, char *err,
                     size_t errlen)
{
    pthread_once(&curl_once, curl_init);
    if (len > UINT32_MAX) {
        err_set(err, errlen, "trace too large (%zu bytes)", len);
        return -FT_ERR_TOO_LARGE;
    }
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    int use_gzip = o->gzip == UPLOAD_GZIP_AUTO && !__atomic_load_n(&gzip_refused, __ATOMIC_RELAXED);
    if (use_gzip && gz_compress(body, len, GZIP_LEVEL, &gz, &gzlen) < 0) use_gzip = 0;
    CURL *c = thread_handle();
    if (!c) {
        free(gz);
        err_set(err, errlen, "curl_easy_init failed");
        return -ENOMEM;
    }
    char hname[160];
    snprintf(hname, sizeof hname, "X-name: %s", name);
    struct curl_slist *h = curl_slist_append(NULL, hname);
    h = curl_slist_append(h, "Content-Type: text/plain; charset=utf-8");
    h = curl_slist_append(h, "Expect:");
    char hkey[KEY_MAX + 32];
    snprintf(hkey, sizeof hkey, "Idempotency-Key: %s", key);
    h = curl_slist_append(h, hkey);
    if (use_gzip) h = curl_slist_append(h, "Content-Encoding: gzip");
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, use_gzip ? (const void *)gz : body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(use_gzip ? gzlen : len));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 30L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "fntrace/" FNTRACE_VERSION);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);  /* h is freed; the handle stays */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h);
    if (cc != CURLE_OK) thread_handle_drop(c);
    free(gz);
    if (rep) rep->http_status = status;
    if (cc != CURLE_OK) {
        err_set(err, errlen, "POST %s: %s", o->url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
        return cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT ? -FT_ERR_BAD_INPUT
                                                                             : -FT_ERR_STORE_DOWN;
    }
    if (status >= 200 && status < 300) return 0;
    if (status == 415 && use_gzip) {
        /* the server does not take gzip bodies: plain text from now on */
        __atomic_store_n(&gzip_refused, 1, __ATOMIC_RELAXED);
        return post_once(o, name, key, body, len, rep, err, errlen);
    }
    err_set(err, errlen, "POST %s: HTTP %ld", o->url, status);
    /* 409: an earlier try with the same Idempotency-Key is still being stored */
    if (status >= 500 || status == 408 || status == 429 || status == 409)
        return -FT_ERR_STORE_DOWN;
    if (status == 401 || status == 403) return -FT_ERR_UNAUTHORIZED;
    if (status == 413) return -FT_ERR_TOO_LARGE;
    return -FT_ERR_BAD_INPUT;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* upload_send for the trace whose id is tid: every try sends the same key. */
static int send_tries(const upload_opts *o, const char *tid, const void *body, size_t len,
                      upload_report *rep, char *err, size_t errlen)
{
    if (!o->url) {
        err_set(err, errlen, "no upload URL");
        return -EINVAL;
    }
    if (!trace_name_valid(o->name)) {
        trace_name_error(err, errlen, "upload name", o->name, o->name ? strlen(o->name) : 0);
        return -EINVAL;
    }
    int attempts = o->attempts > 0 ? o->attempts : 3;
    int wait = o->backoff_ms > 0 ? o->backoff_ms : 500;
    int rc = -FT_ERR_STORE_DOWN;
    char key[KEY_MAX];
    idem_key(body, len, tid, key);
    for (int i = 0; i < attempts; i++) {
        if (i) {
            sleep_ms(wait);
            wait = wait * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : wait * 2;
        }
        rc = post_once(o, o->name, key, body, len, rep, err, errlen);
        if (rc != -FT_ERR_STORE_DOWN) break;
    }
    if (!rc && rep) rep->sent++;
    return rc;
}

int upload_send(const upload_opts *o, const void *body, size_t len, upload_report *rep,
                char *err, size_t errlen)
{
    char tid[TID_MAX];
    mint_tid(tid);
    return send_tries(o, tid, body, len, rep, err, errlen);
}

/* ---- spool ----------------------------------------------------------------------------- */

struct entry {
    char name[256];
    uint64_t size;
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Spool entries (not claimed, not temporary), oldest first.  Gives back claims of dead
 * processes on the way. */
static int spool_list(const char *dir, struct entry **out, size_t *n, uint64_t *bytes)
{
    *out = NULL;
    *n = 0;
    *bytes = 0;
    DIR *d = opendir(dir);
    if (!d) return -errno;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!strncmp(nm, ".claim.", 7)) {
            long pid = strtol(nm + 7, NULL, 10);
            const char *orig = strchr(nm + 7, '.');
            if (pid > 0 && orig && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                char from[PATH_MAX], to[PATH_MAX];
                snprintf(from, sizeof from, "%s/%s", dir, nm);
                snprintf(to, sizeof to, "%s/%s", dir, orig + 1);
                rename(from, to);
                nm = orig + 1;
            } else {
                continue;
            }
        }
        size_t l = strlen(nm);
        if (nm[0] == '.' || l < 6 || l >= sizeof((struct entry *)0)->name ||
            strcmp(nm + l - 5, ".perf"))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), nm, &st, 0) || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) {
            if (cap >= MAX_SPOOL_ENTRIES) break;
            size_t nc = cap ? cap * 2 : 64;
            struct entry *nv = realloc(*out, nc * sizeof *nv);
            if (!nv) break;
            *out = nv;
            cap = nc;
        }
        snprintf((*out)[*n].name, sizeof(*out)[*n].name, "%s", nm);
        (*out)[*n].size = (uint64_t)st.st_size;
        *bytes += (uint64_t)st.st_size;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, entry_cmp);
    return 0;
}

/* The trace name inside an entry name `<ns>-<pid>-<seq>.<NAME>.perf`. */
static int entry_trace_name(const char *entry, char *name, size_t cap)
{
    const char *dot = strchr(entry, '.');
    size_t l = strlen(entry);
    if (!dot || l < 5) return -1;
    size_t nl = (size_t)(entry + l - 5 - (dot + 1));
    if (!nl || nl >= cap) return -1;
    memcpy(name, dot + 1, nl);
    name[nl] = 0;
    return trace_name_valid(name) ? 0 : -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes body to path through a temporary file in dir: 0 or -errno. */
static int write_file_atomic(const char *dir, const char *path, const void *body, size_t len)
{
    char tmp[PATH_MAX];
    unsigned seq = __atomic_add_fetch(&spool_seq, 1, __ATOMIC_RELAXED);
    snprintf(tmp, sizeof tmp, "%s/.tmp.%d.%u", dir, (int)getpid(), seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    int rc = write_all(fd, body, len);
    if (!rc && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && !rc) rc = -errno;
    if (!rc && rename(tmp, path) < 0) rc = -errno;
    if (rc) unlink(tmp);
    return rc;
}

static int spool_write(const upload_opts *o, const char *name, const char *tid,
                       const void *body, size_t len, upload_report *rep, char *err,
                       size_t errlen)
{
    if (!o->spool_dir) {
        err_set(err, errlen, "no spool directory");
        return -EINVAL;
    }
    if (!trace_name_valid(name)) {
        trace_name_error(err, errlen, "trace name", name, name ? strlen(name) : 0);
        return -EINVAL;
    }
    uint64_t max_bytes = o->spool_max_bytes ? o->spool_max_bytes : DEFAULT_SPOOL_BYTES;
    unsigned max_files = o->spool_max_files ? o->spool_max_files : DEFAULT_SPOOL_FILES;
    if (mkdir(o->spool_dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        err_set(err, errlen, "spool %s: %s", o->spool_dir, strerror(e));
        return -e;
    }
    char final[PATH_MAX];
    if (len > max_bytes) {
        /* never dropped: kept beside the queue (not drained, not evicted), named here */
        snprintf(final, sizeof final, "%s/.oversize.%s.%s.perf", o->spool_dir, tid, name);
        int rc = write_file_atomic(o->spool_dir, final, body, len);
        if (rc) {
            err_set(err, errlen, "trace of %zu bytes is larger than the spool (%llu bytes) "
                    "and cannot be kept in %s: %s", len, (unsigned long long)max_bytes, final,
                    strerror(-rc));
            return rc;
        }
        log_warn("trace kept outside the spool", "file=%s bytes=%zu spool_max_bytes=%llu",
                 final, len, (unsigned long long)max_bytes);
        err_set(err, errlen, "trace of %zu bytes is larger than the spool (%llu bytes): "
                "kept in %s, send it with `fntrace upload`", len,
                (unsigned long long)max_bytes, final);
        return -FT_ERR_TOO_LARGE;
    }
    struct entry *v;
    size_t n;
    uint64_t bytes;
    int rc = spool_list(o->spool_dir, &v, &n, &bytes);
    if (rc < 0) {
        err_set(err, errlen, "spool %s: %s", o->spool_dir, strerror(-rc));
        return rc;
    }
    /* make room: oldest first, counted and reported */
    for (size_t i = 0; i < n && (bytes + len > max_bytes || n - i + 1 > max_files); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", o->spool_dir, v[i].name);
        if (!unlink(p)) {
            char ename[160] = "?";
            entry_trace_name(v[i].name, ename, sizeof ename);
            log_warn("spool entry evicted", "entry=%s name=%s bytes=%llu reason=\"spool full\"",
                     v[i].name, ename, (unsigned long long)v[i].size);
            bytes -= v[i].size;
            if (rep) rep->evicted++;
        }
    }
    free(v);
    snprintf(final, sizeof final, "%s/%s.%s.perf", o->spool_dir, tid, name);
    rc = write_file_atomic(o->spool_dir, final, body, len);
    if (rc) {
        err_set(err, errlen, "spool %s: %s", final, strerror(-rc));
        return rc;
    }
    if (rep) rep->spooled++;
    return 0;
}

int upload_spool(const upload_opts *o, const char *name, const void *body, size_t len,
                 upload_report *rep, char *err, size_t errlen)
{
    char tid[TID_MAX];
    mint_tid(tid);
    return spool_write(o, name, tid, body, len, rep, err, errlen);
}

int upload_spool_count(const upload_opts *o)
{
    if (!o->spool_dir) return 0;
    struct entry *v;
    size_t n;
    uint64_t bytes;
    int rc = spool_list(o->spool_dir, &v, &n, &bytes);
    if (rc == -ENOENT) return 0;
    if (rc < 0) return rc;
    free(v);
    return (int)n;
}

int upload_submit(const upload_opts *o, const void *body, size_t len, upload_report *rep,
                  char *err, size_t errlen)
{
    char tid[TID_MAX];
    mint_tid(tid);
    int rc = send_tries(o, tid, body, len, rep, err, errlen);
    if (rc != -FT_ERR_STORE_DOWN || !o->spool_dir) return rc;
    char why[512];
    snprintf(why, sizeof why, "%s", err ? err : "");
    rc = spool_write(o, o->name, tid, body, len, rep, err, errlen);
    if (rc < 0) return rc;
    err_set(err, errlen, "%s; spooled in %s", why, o->spool_dir);
    return 1;
}

static int read_file(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > (1ull << 32)) {
        close(fd);
        return -EFBIG;
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!b) return -ENOMEM;
    *buf = b;
    *len = got;
    return 0;
}

int upload_submit_file(const upload_opts *o, const char *path, upload_report *rep,
                       char *err, size_t errlen)
{
    char *body = NULL;
    size_t len = 0;
    int rc = read_file(path, &body, &len);
    if (rc < 0) {
        err_set(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    rc = upload_submit(o, body, len, rep, err, errlen);
    free(body);
    return rc;
}

int upload_drain(const upload_opts *o, upload_report *rep, char *err, size_t errlen)
{
    if (!o->spool_dir) return 0;
    struct entry *v;
    size_t n;
    uint64_t bytes;
    int rc = spool_list(o->spool_dir, &v, &n, &bytes);
    if (rc == -ENOENT) return 0;
    if (rc < 0) {
        err_set(err, errlen, "spool %s: %s", o->spool_dir, strerror(-rc));
        return rc;
    }
    size_t i;
    int left = 0;
    for (i = 0; i < n; i++) {
        char name[160], path[PATH_MAX], claim[PATH_MAX];
        if (entry_trace_name(v[i].name, name, sizeof name) < 0) continue;
        snprintf(path, sizeof path, "%s/%s", o->spool_dir, v[i].name);
        snprintf(claim, sizeof claim, "%s/.claim.%d.%s", o->spool_dir, (int)getpid(), v[i].name);
        if (rename(path, claim) < 0) continue;    /* another drainer has it */
        char *body = NULL;
        size_t len = 0;
        rc = read_file(claim, &body, &len);
        if (rc < 0) {
            rename(claim, path);
            continue;
        }
        char tid[TID_MAX], key[KEY_MAX];
        size_t tl = strcspn(v[i].name, ".");
        snprintf(tid, sizeof tid, "%.*s", (int)(tl < TID_MAX - 1 ? tl : TID_MAX - 1), v[i].name);
        idem_key(body, len, tid, key);
        rc = post_once(o, name, key, body, len, rep, err, errlen);
        free(body);
        if (!rc) {
            unlink(claim);
            if (rep) rep->sent++;
            continue;
        }
        if (rc == -FT_ERR_STORE_DOWN) {
            rename(claim, path);
            left = (int)(n - i);
            break;
        }
        /* refused for good: keep it for a person, out of the queue */
        char rej[PATH_MAX];
        snprintf(rej, sizeof rej, "%s/.rejected.%s", o->spool_dir, v[i].name);
        rename(claim, rej);
        if (rep) rep->rejected++;
    }
    free(v);
    if (rep) rep->left = left;
    return left;
}
