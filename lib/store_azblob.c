/* store_azblob — the Azure Blob Storage backend of store.h (its table:
 * store_azblob_backend), over the Blob service REST API with libcurl.
 *
 * Configuration, the way Azure's own tools read it: AZURE_STORAGE_CONNECTION_STRING when
 * set (BlobEndpoint, AccountName, AccountKey, SharedAccessSignature,
 * DefaultEndpointsProtocol, EndpointSuffix, UseDevelopmentStorage=true for Azurite),
 * else https://ACCOUNT.blob.core.windows.net with AZURE_STORAGE_KEY or
 * AZURE_STORAGE_SAS_TOKEN.  Requests are signed with Shared Key (HMAC-SHA256 over the
 * canonicalized request, OpenSSL's libcrypto) or carry the SAS token.  TLS is verified;
 * plain http is refused but for loopback endpoints or when opts.allow_http says so.
 *
 * Operations: Create Container (at open, so wrong credentials fail there), Put Blob
 * (bodies up to one block), Put Block + Put Block List (larger bodies, streamed one block
 * of BLOCK_BYTES at a time: a put never holds more than one block), List Blobs (prefix
 * and marker paging, the XML read by lib/azxml), Get Blob Properties (stat), Get Blob
 * with If-Match on the ETag (Range to resume after a broken transfer), Delete Blob.
 * Blob names are the store ids.  Commits carry If-None-Match: * (never overwrite) and a
 * random token in the metadata, so a commit retried after a lost answer recognises its
 * own blob.  Every request is retried with backoff (5 attempts, 100 ms doubling, or the
 * Retry-After the service sent, at most 2 s) on connection errors, 408, 429 and 5xx;
 * when the tries are used up the error is -FT_ERR_STORE_DOWN.
 *
 * Reads stream: a reader runs its transfer on a curl multi handle and hands out what
 * arrived (at most about READ_BUF_MAX held, the transfer paused meanwhile).  With
 * opts.cache_dir (flamescope) a blob read to its end is kept on local disk, named by a
 * hash of its id and its ETag, the least recently used removed past opts.cache_bytes;
 * a reader of a cached blob is a file descriptor (the fast path).  With
 * opts.list_ttl_ms the whole listing is reused that long (own puts and deletes drop it).
 *
 * Thread-safety: each thread keeps its own curl handle (keep-alive connections); the
 * listing cache and the disk cache are under mutexes; the rest is read-only after open. */
#define _GNU_SOURCE
#include "azxml.h"
#include "errbuf.h"
#include "fterr.h"
#include "log.h"
#include "store_backend.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define API_VERSION "2021-08-06"
#define BLOCK_BYTES (4u << 20)
#define ATTEMPTS 5
#define BACKOFF_MS 100
#define BACKOFF_MAX_MS 2000
#define RESP_MAX (8u << 20)           /* one List Blobs page (5000 blobs) fits easily */
#define ERR_BODY_MAX (64u << 10)
#define READ_BUF_MAX (1u << 20)
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" \
                "K1SZFPTOtr/KBHBeksoGMGw=="

typedef struct az {
    char account[64], container[64];
    char origin[512];             /* "https://acct.blob.core.windows.net" */
    char path_prefix[256];        /* "" or "/devstoreaccount1" (path-style endpoints) */
    unsigned char key[128];
    size_t keylen;                /* 0: SAS */
    char *sas;                    /* without the leading '?' */
    /* listing cache */
    char list_page[12];           /* maxresults of a List Blobs page */
    int list_ttl_ms;
    pthread_mutex_t list_lock;
    struct store_entry *lv;
    size_t ln;
    int64_t l_at_ms;
    int l_valid;
    /* disk cache */
    char *cache_dir;
    uint64_t cache_bytes;
    pthread_mutex_t cache_lock;
} az;

/* --- small helpers ---------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies s into d, cut to fit (for values already bounded by their checks). */
static void scopy(char *d, size_t n, const char *s)
{
    size_t l = strnlen(s, n - 1);
    memcpy(d, s, l);
    d[l] = 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

/* Percent-encodes s into out (everything but unreserved characters and, when keep_slash,
 * '/').  Returns 0, or -1 when out is too small. */
static int pct_encode(const char *s, int keep_slash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                    *p == '~' || (keep_slash && *p == '/');
        if (j + 4 > outlen) return -1;
        if (plain) out[j++] = (char)*p;
        else { out[j++] = '%'; out[j++] = hex[*p >> 4]; out[j++] = hex[*p & 15]; }
    }
    out[j] = 0;
    return 0;
}

static int b64_decode(const char *in, unsigned char *out, size_t outcap, size_t *outlen)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4 || n / 4 * 3 > outcap) return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0) return -1;
    size_t len = (size_t)r;
    if (in[n - 1] == '=') len--;
    if (in[n - 2] == '=') len--;
    *outlen = len;
    return 0;
}

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* RFC 1123 "Wed, 02 Dec 2026 01:23:45 GMT" in the C locale's names. */
static void http_date(char *out, size_t outlen)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, mons[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

static int64_t parse_http_date_ns(const char *s)
{
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, h, mi, sec;
    if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d", &d, mon, &y, &h, &mi, &sec) != 6) return 0;
    const char *m = strstr(mons, mon);
    if (!m || strlen(mon) != 3 || (m - mons) % 3) return 0;
    struct tm tm = { .tm_sec = sec, .tm_min = mi, .tm_hour = h, .tm_mday = d,
                     .tm_mon = (int)((m - mons) / 3), .tm_year = y - 1900 };
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t * 1000000000;
}

static int host_is_loopback(const char *origin)
{
    const char *h = strstr(origin, "://");
    h = h ? h + 3 : origin;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

/* --- configuration ---------------------------------------------------------------- */

/* Value of key in a connection string (case-insensitive key), copied into out. */
static int cs_get(const char *cs, const char *key, char *out, size_t outlen)
{
    size_t kn = strlen(key);
    const char *p = cs;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq && (size_t)(eq - p) == kn && !strncasecmp(p, key, kn)) {
            size_t vn = n - kn - 1;
            if (vn >= outlen) return -1;
            memcpy(out, eq + 1, vn);
            out[vn] = 0;
            return 1;
        }
        p += n;
        if (*p == ';') p++;
    }
    return 0;
}

static int set_endpoint(az *a, const char *url, char *err, size_t errlen)
{
    const char *s = strstr(url, "://");
    if (!s || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
        err_set(err, errlen, "bad blob endpoint \"%.200s\": expected http(s)://HOST[/PATH]", url);
        return -FT_ERR_BAD_INPUT;
    }
    const char *path = strchr(s + 3, '/');
    size_t on = path ? (size_t)(path - url) : strlen(url);
    if (on >= sizeof a->origin || (path && strlen(path) >= sizeof a->path_prefix)) {
        err_set(err, errlen, "blob endpoint too long");
        return -FT_ERR_BAD_INPUT;
    }
    for (const char *c = url; *c; c++)
        if (*c <= ' ' || *c > '~' || *c == '?' || *c == '#') {
            err_set(err, errlen, "bad character in blob endpoint \"%.200s\"", url);
            return -FT_ERR_BAD_INPUT;
        }
    memcpy(a->origin, url, on);
    a->origin[on] = 0;
    snprintf(a->path_prefix, sizeof a->path_prefix, "%s", path ? path : "");
    size_t pn = strlen(a->path_prefix);
    while (pn && a->path_prefix[pn - 1] == '/') a->path_prefix[--pn] = 0;
    return 0;
}

static int set_key(az *a, const char *key, char *err, size_t errlen)
{
    if (b64_decode(key, a->key, sizeof a->key, &a->keylen) || !a->keylen) {
        err_set(err, errlen, "the storage account key is not base64");
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

static int set_sas(az *a, const char *sas, char *err, size_t errlen)
{
    if (*sas == '?') sas++;
    if (strlen(sas) > 2000) {
        err_set(err, errlen, "the SAS token is longer than 2000 characters");
        return -FT_ERR_BAD_INPUT;
    }
    for (const char *c = sas; *c; c++)
        if (*c <= ' ' || *c > '~' || *c == '#') {
            err_set(err, errlen, "bad character in the SAS token");
            return -FT_ERR_BAD_INPUT;
        }
    if (!*sas || !(a->sas = strdup(sas))) {
        err_set(err, errlen, "empty SAS token");
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

static int configure(az *a, char *err, size_t errlen)
{
    const char *cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
    char v[2048], ep[1024];
    if (cs && *cs) {
        if (strlen(cs) > 8192) {
            err_set(err, errlen, "AZURE_STORAGE_CONNECTION_STRING too long");
            return -FT_ERR_BAD_INPUT;
        }
        if (cs_get(cs, "UseDevelopmentStorage", v, sizeof v) == 1 && !strcasecmp(v, "true")) {
            if (strcmp(a->account, DEV_ACCOUNT)) {
                err_set(err, errlen, "UseDevelopmentStorage=true is the account %s, not %s",
                        DEV_ACCOUNT, a->account);
                return -FT_ERR_BAD_INPUT;
            }
            char proxy[512] = "http://127.0.0.1";
            if (cs_get(cs, "DevelopmentStorageProxyUri", v, sizeof v) == 1)
                scopy(proxy, sizeof proxy, v);
            snprintf(ep, sizeof ep, "%s:10000/" DEV_ACCOUNT, proxy);
            int r = set_endpoint(a, ep, err, errlen);
            return r ? r : set_key(a, DEV_KEY, err, errlen);
        }
        if (cs_get(cs, "AccountName", v, sizeof v) == 1 && strcmp(v, a->account)) {
            err_set(err, errlen, "AZURE_STORAGE_CONNECTION_STRING is for the account %.64s, "
                    "the store names %s", v, a->account);
            return -FT_ERR_BAD_INPUT;
        }
        int r;
        if (cs_get(cs, "BlobEndpoint", v, sizeof v) == 1) {
            r = set_endpoint(a, v, err, errlen);
        } else {
            char proto[16] = "https", suffix[256] = "core.windows.net";
            if (cs_get(cs, "DefaultEndpointsProtocol", v, sizeof v) == 1)
                scopy(proto, sizeof proto, v);
            if (cs_get(cs, "EndpointSuffix", v, sizeof v) == 1)
                scopy(suffix, sizeof suffix, v);
            snprintf(ep, sizeof ep, "%s://%s.blob.%s", proto, a->account, suffix);
            r = set_endpoint(a, ep, err, errlen);
        }
        if (r) return r;
        if (cs_get(cs, "AccountKey", v, sizeof v) == 1) return set_key(a, v, err, errlen);
        if (cs_get(cs, "SharedAccessSignature", v, sizeof v) == 1)
            return set_sas(a, v, err, errlen);
        err_set(err, errlen, "AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor "
                "SharedAccessSignature");
        return -FT_ERR_UNAUTHORIZED;
    }
    snprintf(ep, sizeof ep, "https://%s.blob.core.windows.net", a->account);
    int r = set_endpoint(a, ep, err, errlen);
    if (r) return r;
    const char *key = getenv("AZURE_STORAGE_KEY"), *sas = getenv("AZURE_STORAGE_SAS_TOKEN");
    if (key && *key) return set_key(a, key, err, errlen);
    if (sas && *sas) return set_sas(a, sas, err, errlen);
    err_set(err, errlen, "no credentials for azblob://%s: set AZURE_STORAGE_CONNECTION_STRING, "
            "AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN", a->account);
    return -FT_ERR_UNAUTHORIZED;
}

/* --- requests --------------------------------------------------------------------- */

struct kv { const char *k, *v; };

struct azreq {
    const char *method;
    const char *blob;                 /* NULL: the container itself */
    struct kv q[8];                   /* query (values not encoded), keys lowercase */
    int nq;
    struct kv h[8];                   /* x-ms-* headers, names lowercase */
    int nh;
    const char *content_type, *content_encoding, *if_match, *if_none_match, *range;
    const void *body;
    size_t body_len;
    int put_body;                     /* send a body (possibly empty) */
    size_t resp_max;                  /* 0: ERR_BODY_MAX */
    /* response */
    long status;
    char etag[128], last_modified[64], error_code[80], meta_token[40], retry_after[16];
    uint64_t content_length;
    int have_length;
    char *resp;
    size_t resp_len;
    int resp_over;
};

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const struct kv *)x)->k, ((const struct kv *)y)->k);
}

/* Builds the URL and (for Shared Key) the Authorization header value. */
static int build(const az *a, struct azreq *rq, const char *date, char *url, size_t urllen,
                 char *auth, size_t authlen)
{
    char path[STORE_ID_MAX * 3 + 512], enc[STORE_ID_MAX * 3 + 1];
    int n = snprintf(path, sizeof path, "%s/%s", a->path_prefix, a->container);
    if (rq->blob) {
        if (pct_encode(rq->blob, 1, enc, sizeof enc)) return -ENAMETOOLONG;
        n = snprintf(path, sizeof path, "%s/%s/%s", a->path_prefix, a->container, enc);
    }
    if (n < 0 || (size_t)n >= sizeof path) return -ENAMETOOLONG;
    struct kv q[8];
    memcpy(q, rq->q, sizeof q);
    qsort(q, (size_t)rq->nq, sizeof q[0], kv_cmp);
    size_t u = (size_t)snprintf(url, urllen, "%s%s", a->origin, path);
    for (int i = 0; i < rq->nq && u < urllen; i++) {
        char ev[2048];
        if (pct_encode(q[i].v, 0, ev, sizeof ev)) return -ENAMETOOLONG;
        u += (size_t)snprintf(url + u, urllen - u, "%c%s=%s", i ? '&' : '?', q[i].k, ev);
    }
    if (a->sas && u < urllen)
        u += (size_t)snprintf(url + u, urllen - u, "%c%s", rq->nq ? '&' : '?', a->sas);
    if (u >= urllen) return -ENAMETOOLONG;
    auth[0] = 0;
    if (!a->keylen) return 0;

    struct kv h[12];
    int nh = 0;
    h[nh++] = (struct kv){ "x-ms-date", date };
    h[nh++] = (struct kv){ "x-ms-version", API_VERSION };
    for (int i = 0; i < rq->nh && nh < 12; i++) h[nh++] = rq->h[i];
    qsort(h, (size_t)nh, sizeof h[0], kv_cmp);
    char clen[24] = "";
    if (rq->put_body && rq->body_len) snprintf(clen, sizeof clen, "%zu", rq->body_len);
    size_t cap = 8192 + strlen(path) * 2;
    char *sts = malloc(cap);
    if (!sts) return -ENOMEM;
    size_t s = (size_t)snprintf(sts, cap, "%s\n%s\n\n%s\n\n%s\n\n\n%s\n%s\n\n%s\n", rq->method,
                                rq->content_encoding ? rq->content_encoding : "", clen,
                                rq->content_type ? rq->content_type : "",
                                rq->if_match ? rq->if_match : "",
                                rq->if_none_match ? rq->if_none_match : "",
                                rq->range ? rq->range : "");
    for (int i = 0; i < nh && s < cap; i++)
        s += (size_t)snprintf(sts + s, cap - s, "%s:%s\n", h[i].k, h[i].v);
    if (s < cap) s += (size_t)snprintf(sts + s, cap - s, "/%s%s", a->account, path);
    for (int i = 0; i < rq->nq && s < cap; i++)
        s += (size_t)snprintf(sts + s, cap - s, "\n%s:%s", q[i].k, q[i].v);
    if (s >= cap) { free(sts); return -ENAMETOOLONG; }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    int ok = HMAC(EVP_sha256(), a->key, (int)a->keylen, (const unsigned char *)sts, s, mac,
                  &maclen) != NULL;
    free(sts);
    if (!ok) return -EIO;
    char sig[EVP_MAX_MD_SIZE * 2];
    b64_encode(mac, maclen, sig);
    snprintf(auth, authlen, "Authorization: SharedKey %s:%s", a->account, sig);
    return 0;
}

static void copy_hval(char *dst, size_t dlen, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    while (n && *v == ' ') { v++; n--; }
    if (n >= dlen) n = dlen - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct azreq *rq = ud;
    size_t n = size * nitems;
    const char *colon = memchr(buf, ':', n);
    if (!strncmp(buf, "HTTP/", 5)) {             /* a new response (after 100 Continue) */
        rq->etag[0] = rq->last_modified[0] = rq->error_code[0] = rq->meta_token[0] = 0;
        rq->have_length = 0;
    }
    if (!colon) return n;
    size_t kn = (size_t)(colon - buf), vn = n - kn - 1;
    const char *v = colon + 1;
#define IS(name) (kn == strlen(name) && !strncasecmp(buf, name, kn))
    if (IS("ETag")) copy_hval(rq->etag, sizeof rq->etag, v, vn);
    else if (IS("Last-Modified")) copy_hval(rq->last_modified, sizeof rq->last_modified, v, vn);
    else if (IS("x-ms-error-code")) copy_hval(rq->error_code, sizeof rq->error_code, v, vn);
    else if (IS("x-ms-meta-fntrace")) copy_hval(rq->meta_token, sizeof rq->meta_token, v, vn);
    else if (IS("Retry-After")) copy_hval(rq->retry_after, sizeof rq->retry_after, v, vn);
    else if (IS("Content-Length")) {
        char t[32];
        copy_hval(t, sizeof t, v, vn);
        char *end;
        unsigned long long x = strtoull(t, &end, 10);
        if (*t >= '0' && *t <= '9' && !*end) { rq->content_length = x; rq->have_length = 1; }
    }
#undef IS
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct azreq *rq = ud;
    size_t n = size * nmemb, max = rq->resp_max ? rq->resp_max : ERR_BODY_MAX;
    if (rq->resp_len + n > max) { rq->resp_over = 1; return 0; }
    char *p = realloc(rq->resp, rq->resp_len + n + 1);
    if (!p) return 0;
    memcpy(p + rq->resp_len, buf, n);
    rq->resp = p;
    rq->resp_len += n;
    p[rq->resp_len] = 0;
    return n;
}

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_key_free(void *h) { curl_easy_cleanup(h); }
static void curl_key_make(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&curl_key, curl_key_free);
}

/* This thread's handle (its connections are kept alive between requests). */
static CURL *thread_curl(void)
{
    pthread_once(&curl_once, curl_key_make);
    CURL *h = pthread_getspecific(curl_key);
    if (!h && (h = curl_easy_init())) pthread_setspecific(curl_key, h);
    if (h) curl_easy_reset(h);
    return h;
}

/* The headers of a request; NULL on out of memory. */
static struct curl_slist *headers(const az *a, const struct azreq *rq, const char *date,
                                  const char *auth)
{
    char line[2304];
    struct curl_slist *l = NULL, *t;
#define ADD(...) do { snprintf(line, sizeof line, __VA_ARGS__); \
        if (!(t = curl_slist_append(l, line))) { curl_slist_free_all(l); return NULL; } \
        l = t; } while (0)
    ADD("x-ms-date: %s", date);
    ADD("x-ms-version: %s", API_VERSION);
    for (int i = 0; i < rq->nh; i++) ADD("%s: %s", rq->h[i].k, rq->h[i].v);
    ADD("Content-Type:%s%s", rq->content_type ? " " : "", rq->content_type ? rq->content_type : "");
    if (rq->content_encoding) ADD("Content-Encoding: %s", rq->content_encoding);
    if (rq->if_match) ADD("If-Match: %s", rq->if_match);
    if (rq->if_none_match) ADD("If-None-Match: %s", rq->if_none_match);
    if (rq->range) ADD("Range: %s", rq->range);
    ADD("Expect:");
    ADD("Accept:");
    if (*auth) ADD("%s", auth);
#undef ADD
    return l;
}

/* Sets up h for rq (URL, method, headers, body); *hl is the header list to free. */
static int setup(const az *a, CURL *h, struct azreq *rq, struct curl_slist **hl, char *url,
                 size_t urllen)
{
    char date[64], auth[512];
    http_date(date, sizeof date);
    int r = build(a, rq, date, url, urllen, auth, sizeof auth);
    if (r) return r;
    if (!(*hl = headers(a, rq, date, auth))) return -ENOMEM;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
    if (!strcmp(rq->method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(rq->method, "GET")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->put_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body_len ? rq->body : "");
    }
    return 0;
}

static int retryable_status(long s) { return s == 408 || s == 429 || s >= 500; }

static int retryable_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST: case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static long backoff(int attempt, const char *retry_after)
{
    long ms = BACKOFF_MS << attempt;
    if (retry_after && *retry_after >= '0' && *retry_after <= '9') ms = atol(retry_after) * 1000;
    if (ms > BACKOFF_MAX_MS) ms = BACKOFF_MAX_MS;
    return ms / 2 + (long)(store_random32() % (unsigned)(ms / 2 + 1));
}

/* The code for a finished request. */
static int status_code(const az *a, const struct azreq *rq, char *err, size_t errlen)
{
    long s = rq->status;
    if (s >= 200 && s < 300) return 0;
    const char *code = rq->error_code[0] ? rq->error_code : "no error code";
    const char *blob = rq->blob ? rq->blob : "", *sep = rq->blob ? "/" : "";
    switch (s) {
    case 401: case 403:
        err_set(err, errlen, "Azure Storage refused %s %s%s%s (HTTP %ld %s): check the account "
                "key or SAS token", rq->method, a->container, sep, blob, s, code);
        return -FT_ERR_UNAUTHORIZED;
    case 404:
        err_set(err, errlen, "no such blob %s/%s (%s)", a->container, blob, code);
        return -ENOENT;
    case 409:
        err_set(err, errlen, "conflict on %s/%s (%s)", a->container, blob, code);
        return -EEXIST;
    case 412:
        err_set(err, errlen, "%s/%s changed meanwhile (%s)", a->container, blob, code);
        return -ESTALE;
    case 413: err_set(err, errlen, "too large for Azure Storage (%s)", code); return -EFBIG;
    case 416: err_set(err, errlen, "range not satisfiable (%s)", code); return -ERANGE;
    default:
        err_set(err, errlen, "Azure Storage answered HTTP %ld (%s) to %s %s%s%s", s, code,
                rq->method, a->container, sep, blob);
        return retryable_status(s) ? -FT_ERR_STORE_DOWN : -EIO;
    }
}

/* Performs rq with retries.  Returns 0 for a 2xx answer, else a code with err set. */
static int perform(const az *a, struct azreq *rq, char *err, size_t errlen)
{
    CURL *h = thread_curl();
    if (!h) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    char *url = malloc(STORE_ID_MAX * 3 + 4096);
    if (!url) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    int r = -FT_ERR_STORE_DOWN;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt) {
            curl_easy_reset(h);
            sleep_ms(backoff(attempt - 1, rq->retry_after));
        }
        free(rq->resp);
        rq->resp = NULL;
        rq->resp_len = 0;
        rq->resp_over = 0;
        rq->status = 0;
        rq->retry_after[0] = 0;
        struct curl_slist *hl = NULL;
        r = setup(a, h, rq, &hl, url, STORE_ID_MAX * 3 + 4096);
        if (r) {
            err_set(err, errlen, "cannot build the request: %s", strerror(-r));
            break;
        }
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
        CURLcode cc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
        if (cc != CURLE_OK) {
            if (cc == CURLE_WRITE_ERROR && rq->resp_over) {
                err_set(err, errlen, "answer of Azure Storage over %zu bytes",
                        rq->resp_max ? rq->resp_max : ERR_BODY_MAX);
                r = -EFBIG;
                break;
            }
            err_set(err, errlen, "cannot reach %s: %s", a->origin, curl_easy_strerror(cc));
            r = -FT_ERR_STORE_DOWN;
            if (!retryable_curl(cc)) break;
            continue;
        }
        r = status_code(a, rq, err, errlen);
        if (!retryable_status(rq->status)) break;
    }
    free(url);
    return r;
}

static void req_free(struct azreq *rq)
{
    free(rq->resp);
    rq->resp = NULL;
}

static void entry_from(struct store_entry *e, const char *id, const struct azreq *rq)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    store_entry_derive(e);
    e->bytes = rq->content_length;
    e->mtime_ns = parse_http_date_ns(rq->last_modified);
    scopy(e->version, sizeof e->version, rq->etag);
}

/* --- open / close ----------------------------------------------------------------- */

/* Removes partial copies (".part-*") a crashed reader left in the blob cache: those not
 * written to for an hour (a live reader of another process writes to its own steadily). */
static void cache_clean_parts(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        struct stat sb;
        if (strncmp(de->d_name, ".part-", 6)) continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            now - sb.st_mtime > 3600)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

static void list_drop(az *a)
{
    pthread_mutex_lock(&a->list_lock);
    a->l_valid = 0;
    pthread_mutex_unlock(&a->list_lock);
}

static void az_close(void *self)
{
    az *a = self;
    if (!a) return;
    free(a->lv);
    free(a->sas);
    free(a->cache_dir);
    pthread_mutex_destroy(&a->list_lock);
    pthread_mutex_destroy(&a->cache_lock);
    OPENSSL_cleanse(a->key, sizeof a->key);
    free(a);
}

void *store_azblob_open(const char *account, const char *container,
                        const struct store_opts *o, int *code, char *err, size_t errlen)
{
    az *a = calloc(1, sizeof *a);
    if (!a) { err_set(err, errlen, "out of memory"); *code = -ENOMEM; return NULL; }
    pthread_mutex_init(&a->list_lock, NULL);
    pthread_mutex_init(&a->cache_lock, NULL);
    snprintf(a->account, sizeof a->account, "%s", account);
    snprintf(a->container, sizeof a->container, "%s", container);
    a->list_ttl_ms = o->list_ttl_ms;
    /* FNTRACE_AZBLOB_LIST_PAGE (1 to 5000): smaller pages, for tests of the paging */
    const char *pg = getenv("FNTRACE_AZBLOB_LIST_PAGE");
    long page = pg ? atol(pg) : 0;
    snprintf(a->list_page, sizeof a->list_page, "%ld", page >= 1 && page <= 5000 ? page : 5000);
    int r = configure(a, err, errlen);
    if (!r && !strncmp(a->origin, "http://", 7) && !host_is_loopback(a->origin) && !o->allow_http) {
        err_set(err, errlen, "refusing plain http to %s (the account key or SAS would travel "
                "in clear): use https, or allow it explicitly", a->origin);
        r = -FT_ERR_BAD_INPUT;
    }
    if (!r && o->cache_dir) {
        if (mkdir(o->cache_dir, 0700) && errno != EEXIST) {
            err_set(err, errlen, "cannot create the blob cache %s: %s", o->cache_dir,
                    strerror(errno));
            r = -errno;
        } else if (!(a->cache_dir = strdup(o->cache_dir))) {
            r = -ENOMEM;
        } else {
            cache_clean_parts(a->cache_dir);
        }
        a->cache_bytes = o->cache_bytes ? o->cache_bytes : 1ull << 30;
    }
    if (!r) {
        /* reach the store once: wrong credentials and a missing container show here */
        struct azreq rq = { .method = "PUT", .put_body = 1, .nq = 1,
                            .q = { { "restype", "container" } } };
        if (o->no_create) {
            rq = (struct azreq){ .method = "GET", .nq = 3,
                                 .q = { { "restype", "container" }, { "comp", "list" },
                                        { "maxresults", "1" } }, .resp_max = RESP_MAX };
        }
        char e2[400];
        r = perform(a, &rq, e2, sizeof e2);
        if (r == -EEXIST && !o->no_create) r = 0;       /* ContainerAlreadyExists */
        if (r == -FT_ERR_UNAUTHORIZED && a->sas && !o->no_create) {
            /* a SAS may lack the right to create containers: can it list? */
            req_free(&rq);
            rq = (struct azreq){ .method = "GET", .nq = 3,
                                 .q = { { "restype", "container" }, { "comp", "list" },
                                        { "maxresults", "1" } }, .resp_max = RESP_MAX };
            r = perform(a, &rq, e2, sizeof e2);
        }
        req_free(&rq);
        if (r) err_set(err, errlen, "azblob://%s/%s at %s%s: %s", a->account, a->container,
                       a->origin, a->path_prefix, e2);
    }
    if (r) {
        *code = r;
        az_close(a);
        return NULL;
    }
    return a;
}

/* --- listing ---------------------------------------------------------------------- */

struct listacc {
    struct store_entry *v;
    size_t n, cap;
};

static int list_one(void *ctx, const struct azxml_blob *b)
{
    struct listacc *l = ctx;
    if (!store_id_valid(b->name)) return 0;        /* not reachable through the store */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct store_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    struct store_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    scopy(e->id, sizeof e->id, b->name);
    store_entry_derive(e);
    e->bytes = b->content_length;
    e->mtime_ns = parse_http_date_ns(b->last_modified);
    scopy(e->version, sizeof e->version, b->etag);
    return 0;
}

static int list_remote(az *a, const char *prefix, struct listacc *l)
{
    char marker[1024] = "";
    for (int page = 0; page < 100000; page++) {
        struct azreq rq = { .method = "GET", .resp_max = RESP_MAX, .nq = 3,
                            .q = { { "restype", "container" }, { "comp", "list" },
                                   { "maxresults", a->list_page } } };
        if (prefix) rq.q[rq.nq++] = (struct kv){ "prefix", prefix };
        if (*marker) rq.q[rq.nq++] = (struct kv){ "marker", marker };
        char err[400];
        int r = perform(a, &rq, err, sizeof err);
        if (!r) {
            char next[1024];
            r = azxml_list_parse(rq.resp ? rq.resp : "", rq.resp_len, list_one, l, next,
                                 sizeof next, err, sizeof err);
            if (!r) snprintf(marker, sizeof marker, "%s", next);
        }
        req_free(&rq);
        if (r) {
            log_warn("cannot list the blob store", "container=%s error=\"%s\"", a->container, err);
            return r;
        }
        if (!*marker) return 0;
    }
    return -E2BIG;
}

static int az_list(void *self, const char *name, struct store_entry **out, size_t *count)
{
    az *a = self;
    struct listacc l = { 0 };
    if (a->list_ttl_ms > 0) {
        pthread_mutex_lock(&a->list_lock);
        int fresh = a->l_valid && now_ms() - a->l_at_ms < a->list_ttl_ms;
        if (fresh) {
            size_t nl = name ? strlen(name) : 0;
            for (size_t i = 0; i < a->ln; i++) {
                if (name && (strncmp(a->lv[i].id, name, nl) || a->lv[i].id[nl] != '/')) continue;
                if (l.n == l.cap) {
                    size_t cap = l.cap ? l.cap * 2 : 256;
                    struct store_entry *v = realloc(l.v, cap * sizeof *v);
                    if (!v) { fresh = 0; break; }
                    l.v = v;
                    l.cap = cap;
                }
                l.v[l.n++] = a->lv[i];
            }
        }
        pthread_mutex_unlock(&a->list_lock);
        if (fresh) { *out = l.v; *count = l.n; return 0; }
        free(l.v);
        l = (struct listacc){ 0 };
    }
    char prefix[TRACE_NAME_MAX + 2];
    if (name) snprintf(prefix, sizeof prefix, "%s/", name);
    int64_t t0 = now_ms();
    int r = list_remote(a, name ? prefix : NULL, &l);
    if (r) { free(l.v); return r; }
    if (a->list_ttl_ms > 0 && !name) {
        struct store_entry *copy = l.n ? malloc(l.n * sizeof *copy) : NULL;
        if (copy || !l.n) {
            if (l.n) memcpy(copy, l.v, l.n * sizeof *copy);
            pthread_mutex_lock(&a->list_lock);
            free(a->lv);
            a->lv = copy;
            a->ln = l.n;
            a->l_at_ms = t0;
            a->l_valid = 1;
            pthread_mutex_unlock(&a->list_lock);
        }
    }
    *out = l.v;
    *count = l.n;
    return 0;
}

static int az_stat(void *self, const char *id, struct store_entry *out)
{
    az *a = self;
    struct azreq rq = { .method = "HEAD", .blob = id };
    char err[400];
    int r = perform(a, &rq, err, sizeof err);
    if (!r) entry_from(out, id, &rq);
    else if (r != -ENOENT)
        log_warn("blob store request failed", "op=stat id=%s error=\"%s\"", id, err);
    req_free(&rq);
    return r;
}

static int az_delete(void *self, const char *id, uint64_t *bytes)
{
    az *a = self;
    struct store_entry e;
    int r = az_stat(a, id, &e);
    if (r) return r;
    struct azreq rq = { .method = "DELETE", .blob = id, .nh = 1,
                        .h = { { "x-ms-delete-snapshots", "include" } } };
    char err[400];
    r = perform(a, &rq, err, sizeof err);
    req_free(&rq);
    if (r && r != -ENOENT)
        log_warn("blob store request failed", "op=delete id=%s error=\"%s\"", id, err);
    if (!r) *bytes = e.bytes;
    list_drop(a);
    return r;
}

/* --- writing ---------------------------------------------------------------------- */

typedef struct azput {
    az *a;
    char id[STORE_ID_MAX + 1];
    int gzip;
    char *buf;
    size_t len, cap;
    unsigned nblocks;
    uint64_t bytes;
    int err;
    char token[24];
    store_precommit_fn precommit;   /* store_put_on_commit */
    void *precommit_ctx;
} azput;

static int az_put_begin(void *self, const char *name, int gzip, void **out, char *err,
                        size_t errlen)
{
    azput *p = calloc(1, sizeof *p);
    if (!p) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    p->a = self;
    p->gzip = gzip;
    char file[64];
    store_new_file_name(file, sizeof file, gzip);
    snprintf(p->id, sizeof p->id, "%s/%s", name, file);
    snprintf(p->token, sizeof p->token, "%08x%08x", store_random32(), store_random32());
    *out = p;
    return 0;
}

static void block_id(unsigned n, char *out)
{
    char raw[32];
    int len = snprintf(raw, sizeof raw, "fntrace-%08u", n);
    b64_encode((const unsigned char *)raw, (size_t)len, out);
}

static int put_block(azput *p)
{
    char bid[64];
    block_id(p->nblocks, bid);
    struct azreq rq = { .method = "PUT", .blob = p->id, .nq = 2,
                        .q = { { "comp", "block" }, { "blockid", bid } },
                        .put_body = 1, .body = p->buf, .body_len = p->len };
    char err[400];
    int r = perform(p->a, &rq, err, sizeof err);
    req_free(&rq);
    if (r) {
        log_warn("blob store request failed", "op=put_block id=%s block=%u error=\"%s\"", p->id,
                 p->nblocks, err);
        return r;
    }
    p->nblocks++;
    p->len = 0;
    return 0;
}

static int az_put_write(void *put, const void *data, size_t len)
{
    azput *p = put;
    if (p->err) return p->err;
    const char *d = data;
    while (len) {
        if (p->len == BLOCK_BYTES && (p->err = put_block(p))) return p->err;
        size_t want = p->len + len < BLOCK_BYTES ? p->len + len : BLOCK_BYTES;
        if (want > p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 64 * 1024;
            while (cap < want) cap *= 2;
            if (cap > BLOCK_BYTES) cap = BLOCK_BYTES;
            char *b = realloc(p->buf, cap);
            if (!b) return p->err = -ENOMEM;
            p->buf = b;
            p->cap = cap;
        }
        size_t n = want - p->len;
        memcpy(p->buf + p->len, d, n);
        p->len += n;
        p->bytes += n;
        d += n;
        len -= n;
    }
    return 0;
}

static void put_free(azput *p)
{
    free(p->buf);
    free(p);
}

static void az_put_abort(void *put)
{
    /* staged blocks that are never committed are dropped by the service (after a week) */
    put_free(put);
}

static void az_put_on_commit(void *put, store_precommit_fn fn, void *ctx)
{
    azput *p = put;
    p->precommit = fn;
    p->precommit_ctx = ctx;
}

static int az_put_commit(void *put, struct store_entry *out)
{
    azput *p = put;
    az *a = p->a;
    int r = p->err;
    if (!r && p->precommit) r = p->precommit(p->precommit_ctx, p->id, p->bytes);
    const char *ctype = "text/plain; charset=utf-8", *cenc = p->gzip ? "gzip" : NULL;
    struct azreq rq = { .method = "PUT", .blob = p->id, .if_none_match = "*", .put_body = 1 };
    char *list = NULL;
    if (!r && p->nblocks == 0) {
        /* Put Blob: the whole (small) trace in one request */
        rq.nh = 2;
        rq.h[0] = (struct kv){ "x-ms-blob-type", "BlockBlob" };
        rq.h[1] = (struct kv){ "x-ms-meta-fntrace", p->token };
        rq.content_type = ctype;
        rq.content_encoding = cenc;
        rq.body = p->buf;
        rq.body_len = p->len;
    } else if (!r && (!p->len || !(r = put_block(p)))) {
        /* Put Block List: commits the staged blocks in order */
        size_t cap = 128 + (size_t)p->nblocks * 48;
        if (!(list = malloc(cap))) r = -ENOMEM;
        else {
            size_t n = (size_t)snprintf(list, cap, "%s",
                                        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
            for (unsigned i = 0; i < p->nblocks; i++) {
                char bid[64];
                block_id(i, bid);
                n += (size_t)snprintf(list + n, cap - n, "<Latest>%s</Latest>", bid);
            }
            n += (size_t)snprintf(list + n, cap - n, "</BlockList>");
            rq.nq = 1;
            rq.q[0] = (struct kv){ "comp", "blocklist" };
            rq.nh = cenc ? 3 : 2;
            rq.h[0] = (struct kv){ "x-ms-blob-content-type", ctype };
            rq.h[1] = (struct kv){ "x-ms-meta-fntrace", p->token };
            if (cenc) rq.h[2] = (struct kv){ "x-ms-blob-content-encoding", cenc };
            rq.content_type = "application/xml";
            rq.body = list;
            rq.body_len = n;
        }
    }
    char err[400] = "";
    if (!r) {
        r = perform(a, &rq, err, sizeof err);
        if (r == -EEXIST) {
            /* our own earlier attempt may have landed and its answer been lost */
            struct azreq hq = { .method = "HEAD", .blob = p->id };
            char e2[400];
            if (!perform(a, &hq, e2, sizeof e2) && !strcmp(hq.meta_token, p->token)) {
                r = 0;
                snprintf(rq.etag, sizeof rq.etag, "%s", hq.etag);
                snprintf(rq.last_modified, sizeof rq.last_modified, "%s", hq.last_modified);
            }
            req_free(&hq);
        }
        if (r) log_warn("blob store request failed", "op=commit id=%s bytes=%llu error=\"%s\"",
                        p->id, (unsigned long long)p->bytes, err);
    }
    if (!r) {
        rq.content_length = p->bytes;
        entry_from(out, p->id, &rq);
        list_drop(a);
    }
    req_free(&rq);
    free(list);
    put_free(p);
    return r;
}

/* --- records ---------------------------------------------------------------------- */

/* A record is a small block blob, created with If-None-Match: * so that of two collectors
 * creating the same one, exactly one succeeds (409 for the other). */
static int az_record_create(void *self, const char *path, const void *data, size_t len)
{
    struct azreq rq = { .method = "PUT", .blob = path, .if_none_match = "*", .put_body = 1,
                        .nh = 1, .h = { { "x-ms-blob-type", "BlockBlob" } },
                        .content_type = "text/plain; charset=utf-8", .body = data,
                        .body_len = len };
    char err[400];
    int r = perform(self, &rq, err, sizeof err);
    req_free(&rq);
    if (r && r != -EEXIST)
        log_warn("blob store request failed", "op=record_create blob=%s error=\"%s\"", path, err);
    return r;
}

static ssize_t az_record_get(void *self, const char *path, char *buf, size_t cap,
                             char *version)
{
    struct azreq rq = { .method = "GET", .blob = path,
                        .resp_max = cap - 1 < STORE_RECORD_MAX ? cap - 1 : STORE_RECORD_MAX };
    char err[400];
    int r = perform(self, &rq, err, sizeof err);
    if (r) {
        if (r != -ENOENT)
            log_warn("blob store request failed", "op=record_get blob=%s error=\"%s\"", path, err);
        req_free(&rq);
        return r;
    }
    size_t n = rq.resp_len;
    if (n) memcpy(buf, rq.resp, n);
    buf[n] = 0;
    if (version) scopy(version, STORE_VERSION_MAX + 1, rq.etag);
    req_free(&rq);
    return (ssize_t)n;
}

static int az_record_delete(void *self, const char *path, const char *version)
{
    struct azreq rq = { .method = "DELETE", .blob = path, .if_match = version };
    char err[400];
    int r = perform(self, &rq, err, sizeof err);
    req_free(&rq);
    if (r && r != -ENOENT && r != -ESTALE)
        log_warn("blob store request failed", "op=record_delete blob=%s error=\"%s\"", path, err);
    return r;
}

/* --- reading ---------------------------------------------------------------------- */

typedef struct azreader {
    az *a;
    struct store_entry e;
    int fd;                         /* >= 0: a cached copy (the fast path) */
    CURLM *m;
    CURL *h;
    struct curl_slist *hl;
    struct azreq rq;                /* the request's headers land here */
    char *buf;
    size_t blen, bpos, bcap;
    int paused, running, done, bad_status, tries;
    int err;
    uint64_t pos;                   /* bytes handed out */
    char range[64];
    /* copy into the disk cache */
    int cfd, want_cache;
    char cpath[PATH_MAX], ctmp[PATH_MAX];
} azreader;

static void cache_name(const az *a, const struct store_entry *e, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(e->id, strlen(e->id), md, &mdlen, EVP_sha256(), NULL);
    char hex[40], tag[40];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    size_t t = 0;
    for (const char *c = e->version; *c && t < sizeof tag - 1; c++)
        if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
            tag[t++] = *c;
    tag[t] = 0;
    snprintf(out, outlen, "%s/%s-%s-%llu", a->cache_dir, hex, tag, (unsigned long long)e->bytes);
}

struct cfile { char name[256]; off_t size; struct timespec mtime; };

static int cfile_cmp(const void *x, const void *y)
{
    const struct cfile *a = x, *b = y;
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : a->mtime.tv_nsec > b->mtime.tv_nsec;
}

/* Removes the least recently used cached blobs until the cache fits its bound. */
static void cache_evict(az *a)
{
    pthread_mutex_lock(&a->cache_lock);
    DIR *d = opendir(a->cache_dir);
    struct cfile *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof v->name) continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct cfile *nv = realloc(v, cap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
        v[n].size = sb.st_size;
        v[n].mtime = sb.st_mtim;
        total += (uint64_t)sb.st_size;
        n++;
    }
    if (n) qsort(v, n, sizeof *v, cfile_cmp);
    for (size_t i = 0; i < n && total > a->cache_bytes; i++) {
        if (unlinkat(dirfd(d), v[i].name, 0) == 0) total -= (uint64_t)v[i].size;
    }
    if (d) closedir(d);
    free(v);
    pthread_mutex_unlock(&a->cache_lock);
}

static size_t reader_write(char *data, size_t size, size_t nmemb, void *ud)
{
    azreader *r = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 && status != 206) { r->bad_status = 1; return n; }   /* an error body */
    if (r->blen + n > r->bcap) {
        if (r->blen && r->blen + n > READ_BUF_MAX) { r->paused = 1; return CURL_WRITEFUNC_PAUSE; }
        size_t cap = r->bcap ? r->bcap : 256 * 1024;
        while (cap < r->blen + n) cap *= 2;
        char *b = realloc(r->buf, cap);
        if (!b) return 0;
        r->buf = b;
        r->bcap = cap;
    }
    memcpy(r->buf + r->blen, data, n);
    r->blen += n;
    return n;
}

static void transfer_end(azreader *r)
{
    if (r->h) {
        curl_multi_remove_handle(r->m, r->h);
        curl_easy_cleanup(r->h);
        r->h = NULL;
    }
    curl_slist_free_all(r->hl);
    r->hl = NULL;
    free(r->rq.resp);
    r->rq.resp = NULL;
}

/* Starts (or resumes, from r->pos) the Get Blob. */
static int transfer_start(azreader *r)
{
    if (!r->m && !(r->m = curl_multi_init())) return -ENOMEM;
    if (!(r->h = curl_easy_init())) return -ENOMEM;
    memset(&r->rq, 0, sizeof r->rq);
    r->rq.method = "GET";
    r->rq.blob = r->e.id;
    r->rq.if_match = r->e.version[0] ? r->e.version : NULL;
    if (r->pos) {
        snprintf(r->range, sizeof r->range, "bytes=%llu-", (unsigned long long)r->pos);
        r->rq.range = r->range;
    }
    char *url = malloc(STORE_ID_MAX * 3 + 4096);
    if (!url) return -ENOMEM;
    int rc = setup(r->a, r->h, &r->rq, &r->hl, url, STORE_ID_MAX * 3 + 4096);
    if (!rc) {
        curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, reader_write);
        curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
        if (curl_multi_add_handle(r->m, r->h) != CURLM_OK) rc = -ENOMEM;
    }
    free(url);   /* curl copies the URL */
    r->bad_status = 0;
    r->running = 1;
    return rc;
}

/* Runs the transfer until data is buffered or it ends. */
static int transfer_pump(azreader *r)
{
    while (r->blen == 0 && !r->done) {
        if (!r->h) {
            int rc = transfer_start(r);
            if (rc) { r->done = 1; return r->err = rc; }
        }
        int running = 0;
        curl_multi_perform(r->m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(r->m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURLcode cc = msg->data.result;
            long status = 0;
            curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
            r->rq.status = status;
            char err[400];
            int rc = 0;
            if (cc != CURLE_OK) {
                rc = -FT_ERR_STORE_DOWN;
                snprintf(err, sizeof err, "%s", curl_easy_strerror(cc));
            } else {
                rc = status_code(r->a, &r->rq, err, sizeof err);
            }
            int retry = (cc != CURLE_OK && retryable_curl(cc)) || (rc && retryable_status(status));
            transfer_end(r);
            if (!rc) {
                if (r->pos + r->blen != r->e.bytes) { rc = -EIO; retry = 1; }   /* cut short */
                else { r->done = 1; break; }
            }
            if (retry && ++r->tries < ATTEMPTS && r->blen == 0) {
                log_warn("blob read interrupted, resuming", "id=%s at=%llu error=\"%s\"",
                         r->e.id, (unsigned long long)r->pos, err);
                sleep_ms(backoff(r->tries - 1, NULL));
                continue;                 /* transfer_start resumes from r->pos */
            }
            if (retry && r->blen) break;  /* hand out what arrived first, then resume */
            log_warn("blob read failed", "id=%s error=\"%s\"", r->e.id, err);
            r->done = 1;
            r->err = rc;
        }
        if (r->h && r->blen == 0 && !r->done) curl_multi_poll(r->m, NULL, 0, 1000, NULL);
    }
    return 0;
}

static void cache_write(azreader *r, const void *d, size_t n)
{
    if (r->want_cache && r->pos == 0) {
        r->want_cache = 0;
        snprintf(r->ctmp, sizeof r->ctmp, "%s/.part-%08x%08x", r->a->cache_dir,
                 store_random32(), store_random32());
        r->cfd = open(r->ctmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (r->cfd < 0) return;
    const char *p = d;
    while (n) {
        ssize_t w = write(r->cfd, p, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            close(r->cfd);
            r->cfd = -1;
            unlink(r->ctmp);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void cache_finish(azreader *r)
{
    if (r->cfd < 0) return;
    int ok = r->pos == r->e.bytes && !r->err;
    close(r->cfd);
    r->cfd = -1;
    if (ok && rename(r->ctmp, r->cpath) == 0) cache_evict(r->a);
    else unlink(r->ctmp);
}

static ssize_t az_read(void *reader, void *buf, size_t len)
{
    azreader *r = reader;
    if (r->fd >= 0) {
        for (;;) {
            ssize_t n = read(r->fd, buf, len);
            if (n >= 0 || errno != EINTR) return n < 0 ? -errno : n;
        }
    }
    if (!len) return 0;
    if (r->blen == r->bpos) {
        r->blen = r->bpos = 0;
        if (r->paused && r->h) { r->paused = 0; curl_easy_pause(r->h, CURLPAUSE_CONT); }
        if (r->blen == 0) {
            transfer_pump(r);
            if (r->blen == 0) {
                if (r->err) return r->err;
                cache_finish(r);
                return 0;
            }
        }
    }
    size_t n = r->blen - r->bpos < len ? r->blen - r->bpos : len;
    memcpy(buf, r->buf + r->bpos, n);
    cache_write(r, r->buf + r->bpos, n);
    r->bpos += n;
    r->pos += n;
    if (r->bpos == r->blen) r->blen = r->bpos = 0;
    return (ssize_t)n;
}

static int az_reader_fd(void *reader) { return ((azreader *)reader)->fd; }

static void az_reader_close(void *reader)
{
    azreader *r = reader;
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    if (r->cfd >= 0) { close(r->cfd); unlink(r->ctmp); }
    transfer_end(r);
    if (r->m) curl_multi_cleanup(r->m);
    free(r->buf);
    free(r);
}

static int az_open_reader(void *self, const char *id, void **out, struct store_entry *e)
{
    az *a = self;
    int rc = az_stat(a, id, e);
    if (rc) return rc;
    azreader *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->a = a;
    r->e = *e;
    r->fd = r->cfd = -1;
    if (a->cache_dir && e->bytes <= a->cache_bytes) {
        cache_name(a, e, r->cpath, sizeof r->cpath);
        int fd = open(r->cpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat sb;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
            (uint64_t)sb.st_size == e->bytes) {
            futimens(fd, NULL);                      /* recently used */
            r->fd = fd;
        } else {
            if (fd >= 0) close(fd);
            r->want_cache = 1;                       /* the copy starts with the first read */
        }
    }
    *out = r;
    return 0;
}

const struct store_backend store_azblob_backend = {
    .scheme = "azblob",
    .close = az_close,
    .list = az_list,
    .stat = az_stat,
    .open_reader = az_open_reader,
    .read = az_read,
    .reader_fd = az_reader_fd,
    .reader_close = az_reader_close,
    .del = az_delete,
    .put_begin = az_put_begin,
    .put_write = az_put_write,
    .put_commit = az_put_commit,
    .put_on_commit = az_put_on_commit,
    .record_create = az_record_create,
    .record_get = az_record_get,
    .record_delete = az_record_delete,
    .put_abort = az_put_abort,
};
