/* idem — see idem.h.  Entries are malloc'd and indexed by a lib/oatable multimap from the
 * key's 64-bit FNV-1a hash to the entry pointer (the key text is compared).  Journal
 * line: "<unix seconds> <key> <bytes> <id>\n"; keys and ids have no spaces.  Shared mode:
 * one store record per key, "idem/<key in hex>", holding "<unix seconds> <bytes> <id>\n".
 *
 * Crash safety: the key goes to the journal (fdatasync'd) or its record is created in
 * idem_prepare, which the store calls just before the trace becomes visible; a key whose
 * trace is not there (a crash between the two, or the trace deleted since) counts as
 * unknown once it is older than PENDING_S, and as "being stored" (409) before that. */
#define _GNU_SOURCE
#include "idem.h"
#include "errbuf.h"
#include "log.h"
#include "oatable.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL ".idempotency"
#define RECORD_KIND "idem"
#define PENDING_S 60       /* a shared key whose trace is not there yet: being stored */

struct ent {
    int64_t t;                 /* when committed (unix s); 0 while claimed */
    uint64_t bytes;
    char *id;                  /* NULL while claimed */
    int journaled;             /* idem_prepare wrote its journal line */
    char key[];
};

struct idem {
    pthread_mutex_t mu;
    oatable map;               /* hash(key) -> struct ent * */
    int fd;                    /* journal, O_APPEND */
    int64_t window;
    int full_logged;
    store *st;                 /* shared mode (idem_share): keys are store records */
};

static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h ? h : 1;
}

static int key_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '\\'; }

int idem_key_parse(const char *v, size_t len, char *out)
{
    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') { v++; len -= 2; }
    if (!len || len > IDEM_KEY_MAX) return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!key_char((unsigned char)v[i])) return -EINVAL;
    memcpy(out, v, len);
    out[len] = 0;
    return 0;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* The slot of key's entry, or OAT_NONE/empty slot; *e the entry or NULL.  Caller locks. */
static size_t find(struct idem *ix, const char *key, struct ent **e)
{
    uint64_t h = key_hash(key);
    *e = NULL;
    size_t i = oat_find(&ix->map, h);
    if (i == OAT_NONE) return i;
    for (; ix->map.slot[i].val; i = oat_next(&ix->map, i, h)) {
        struct ent *x = (struct ent *)(uintptr_t)ix->map.slot[i].val;
        if (!strcmp(x->key, key)) { *e = x; return i; }
    }
    return i;
}

static void ent_free(struct ent *e)
{
    if (e) free(e->id);
    free(e);
}

static void drop(struct idem *ix, size_t i, struct ent *e)
{
    oat_remove_at(&ix->map, i);
    ent_free(e);
}

static struct ent *add(struct idem *ix, const char *key)
{
    size_t n = strlen(key);
    struct ent *e = calloc(1, sizeof *e + n + 1);
    if (!e) return NULL;
    memcpy(e->key, key, n + 1);
    uint64_t h = key_hash(key);
    size_t i = oat_find(&ix->map, h);
    while (i != OAT_NONE && ix->map.slot[i].val) i = oat_next(&ix->map, i, h);
    if (oat_insert_at(&ix->map, i, h, (uint64_t)(uintptr_t)e) < 0) { free(e); return NULL; }
    return e;
}

static int expired(const struct idem *ix, const struct ent *e, int64_t now)
{
    return e->id && ix->window > 0 && now - e->t > ix->window;
}

/* Drops every expired key: the map rebuilt from the live ones.  Caller locks. */
static void expire_all(struct idem *ix, int64_t now)
{
    oatable old = ix->map;
    memset(&ix->map, 0, sizeof ix->map);
    for (size_t i = 0; old.slot && i <= old.mask; i++) {
        struct ent *e = (struct ent *)(uintptr_t)old.slot[i].val;
        if (!e) continue;
        if (expired(ix, e, now)) { ent_free(e); continue; }
        uint64_t h = key_hash(e->key);
        size_t j = oat_find(&ix->map, h);
        while (j != OAT_NONE && ix->map.slot[j].val) j = oat_next(&ix->map, j, h);
        if (oat_insert_at(&ix->map, j, h, (uint64_t)(uintptr_t)e) < 0) ent_free(e);
    }
    oat_free(&old);
}

/* Reads the journal into the map (skipping bad and expired lines), rewrites it with the
 * live entries only, and opens it for appending. */
static int load(struct idem *ix, const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, JOURNAL);
    snprintf(tmp, sizeof tmp, "%s/%s.new", dir, JOURNAL);
    int64_t now = now_s();
    size_t bad = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "r");
        if (!f) { close(fd); err_set(err, errlen, "out of memory"); return -ENOMEM; }
        char line[IDEM_KEY_MAX + STORE_ID_MAX + 64];
        while (fgets(line, sizeof line, f)) {
            char key[IDEM_KEY_MAX + 2], id[STORE_ID_MAX + 2];
            long long t;
            unsigned long long bytes;
            size_t n = strlen(line);
            if (!n || line[n - 1] != '\n' ||
                sscanf(line, "%lld %201s %llu %1025s", &t, key, &bytes, id) != 4 ||
                idem_key_parse(key, strlen(key), key) || !store_id_valid(id)) {
                bad++;
                continue;
            }
            struct ent *e;
            size_t i = find(ix, key, &e);
            if (e) drop(ix, i, e);
            e = add(ix, key);
            if (!e || !(e->id = strdup(id))) {
                fclose(f);
                err_set(err, errlen, "out of memory");
                return -ENOMEM;
            }
            e->t = t;
            e->bytes = bytes;
            if (expired(ix, e, now)) {
                i = find(ix, key, &e);
                drop(ix, i, e);
            }
        }
        fclose(f);
    } else if (errno != ENOENT) {
        int e = errno;
        err_set(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    if (bad) log_warn("idempotency journal lines skipped", "count=%zu file=%s", bad, path);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        int e = errno;
        err_set(err, errlen, "%s: %s", tmp, strerror(e));
        return -e;
    }
    FILE *w = fdopen(out, "w");
    for (size_t i = 0; w && ix->map.slot && i <= ix->map.mask; i++) {
        struct ent *e = (struct ent *)(uintptr_t)ix->map.slot[i].val;
        if (e) fprintf(w, "%lld %s %llu %s\n", (long long)e->t, e->key,
                       (unsigned long long)e->bytes, e->id);
    }
    if (!w || fflush(w) || fdatasync(out) || fclose(w) || rename(tmp, path)) {
        int e = errno ? errno : EIO;
        err_set(err, errlen, "%s: %s", tmp, strerror(e));
        unlink(tmp);
        return -e;
    }
    ix->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (ix->fd < 0) {
        int e = errno;
        err_set(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

struct idem *idem_open(const char *dir, int64_t window_s, char *err, size_t errlen)
{
    struct idem *ix = calloc(1, sizeof *ix);
    if (!ix) { err_set(err, errlen, "out of memory"); return NULL; }
    ix->fd = -1;
    ix->window = window_s;
    pthread_mutex_init(&ix->mu, NULL);
    if (dir && load(ix, dir, err, errlen) < 0) { idem_close(ix); return NULL; }
    return ix;
}

void idem_close(struct idem *ix)
{
    if (!ix) return;
    for (size_t i = 0; ix->map.slot && i <= ix->map.mask; i++)
        ent_free((struct ent *)(uintptr_t)ix->map.slot[i].val);
    oat_free(&ix->map);
    if (ix->fd >= 0) close(ix->fd);
    pthread_mutex_destroy(&ix->mu);
    free(ix);
}

void idem_share(struct idem *ix, store *st)
{
    ix->st = st;
}

static void record_name(const char *key, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (; *key; key++) {
        *out++ = hex[(unsigned char)*key >> 4];
        *out++ = hex[(unsigned char)*key & 15];
    }
    *out = 0;
}

struct record {
    long long t;
    unsigned long long bytes;
    char id[STORE_ID_MAX + 1];
    char version[STORE_VERSION_MAX + 1];
};

/* Reads key's record: 1 (filled), 0 (none, or not one of ours), or a negative code. */
static int record_read(store *st, const char *name, struct record *rec)
{
    char buf[STORE_ID_MAX + 128];
    ssize_t n = store_record_get(st, RECORD_KIND, name, buf, sizeof buf, rec->version);
    if (n == -ENOENT) return 0;
    if (n < 0) return (int)n;
    if (sscanf(buf, "%lld %llu %1024s", &rec->t, &rec->bytes, rec->id) != 3 ||
        !store_id_valid(rec->id))
        return 0;
    return 1;
}

/* The shared record of key: 1 with the first upload's (existing) trace, 0 when there is
 * none (a stale one, expired or whose trace is gone, is deleted), -EBUSY when another
 * collector is storing it now, or a store error.  No lock held (it talks to the store). */
static int shared_lookup(struct idem *ix, const char *key, struct record *rec)
{
    char name[2 * IDEM_KEY_MAX + 1];
    record_name(key, name);
    int r = record_read(ix->st, name, rec);
    if (r <= 0) return r;
    int64_t now = now_s();
    struct store_entry e;
    if (!(ix->window > 0 && now - rec->t > ix->window)) {
        if (store_stat(ix->st, rec->id, &e) == 0) return 1;
        if (now - rec->t < PENDING_S) return -EBUSY;
    }
    r = store_record_delete(ix->st, RECORD_KIND, name, rec->version);
    return r == 0 || r == -ENOENT ? 0 : r == -ESTALE ? -EBUSY : r;
}

int idem_claim(struct idem *ix, const char *key, char *id, uint64_t *bytes)
{
    struct record rec;
    int shared = ix->st ? shared_lookup(ix, key, &rec) : 0;
    if (shared < 0) return shared;
    pthread_mutex_lock(&ix->mu);
    struct ent *e;
    size_t i = find(ix, key, &e);
    if (e && expired(ix, e, now_s())) { drop(ix, i, e); e = NULL; }
    int rc;
    if (shared == 1 && !(e && !e->id)) {
        snprintf(id, STORE_ID_MAX + 1, "%s", rec.id);
        *bytes = rec.bytes;
        rc = 1;
    } else if (e && !e->id) rc = -EBUSY;
    else if (e) {
        snprintf(id, STORE_ID_MAX + 1, "%s", e->id);
        *bytes = e->bytes;
        rc = 1;
    } else if (ix->map.len >= IDEM_MAX_KEYS && (expire_all(ix, now_s()),
                                                ix->map.len >= IDEM_MAX_KEYS)) {
        if (!ix->full_logged)
            log_warn("idempotency index full", "keys=%zu detail=\"uploads are stored without "
                     "their key until old keys expire\"", ix->map.len);
        ix->full_logged = 1;
        rc = 2;
    } else rc = add(ix, key) ? 0 : -ENOMEM;
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

/* One journal line for key, fdatasync'd.  Caller locks. */
static int journal_append(struct idem *ix, const char *key, const char *id, uint64_t bytes,
                          int64_t t)
{
    char line[IDEM_KEY_MAX + STORE_ID_MAX + 64];
    int n = snprintf(line, sizeof line, "%lld %s %llu %s\n", (long long)t, key,
                     (unsigned long long)bytes, id);
    /* one write(2) of a short line to an O_APPEND file: lines never interleave */
    if (ix->fd >= 0 && (write(ix->fd, line, (size_t)n) != n || fdatasync(ix->fd)))
        return errno ? -errno : -EIO;
    return 0;
}

int idem_prepare(struct idem *ix, const char *key, const char *id, uint64_t bytes,
                 char *first_id)
{
    int64_t t = now_s();
    if (!ix->st) {
        pthread_mutex_lock(&ix->mu);
        struct ent *e;
        find(ix, key, &e);
        int rc = journal_append(ix, key, id, bytes, t);
        if (e && !rc) e->journaled = 1;
        pthread_mutex_unlock(&ix->mu);
        if (rc) log_warn("idempotency key not recorded", "key=%s error=\"%s\"", key,
                         strerror(-rc));
        return 0;                                   /* stored without its key, as before */
    }
    char name[2 * IDEM_KEY_MAX + 1], data[STORE_ID_MAX + 64];
    record_name(key, name);
    int n = snprintf(data, sizeof data, "%lld %llu %s\n", (long long)t,
                     (unsigned long long)bytes, id);
    for (int tries = 0; tries < 2; tries++) {
        int r = store_record_create(ix->st, RECORD_KIND, name, data, (size_t)n);
        if (!r) {
            pthread_mutex_lock(&ix->mu);
            struct ent *e;
            find(ix, key, &e);
            if (e) e->journaled = 1;            /* idem_release takes the record back */
            pthread_mutex_unlock(&ix->mu);
        }
        if (r != -EEXIST) return r;
        struct record rec;
        r = record_read(ix->st, name, &rec);
        if (r < 0) return r;
        if (r == 1 && !strcmp(rec.id, id)) return 0;   /* ours: an answer lost, retried */
        r = shared_lookup(ix, key, &rec);
        if (r == 1) {
            snprintf(first_id, STORE_ID_MAX + 1, "%s", rec.id);
            return -EEXIST;
        }
        if (r < 0) return r;
    }
    return -EBUSY;
}

int idem_commit(struct idem *ix, const char *key, const char *id, uint64_t bytes)
{
    int64_t t = now_s();
    pthread_mutex_lock(&ix->mu);
    struct ent *e;
    find(ix, key, &e);
    int rc = 0;
    if (!e) e = add(ix, key);
    if (!e || !(e->id = e->id ? e->id : strdup(id))) rc = -ENOMEM;
    else {
        e->t = t;
        e->bytes = bytes;
        if (!e->journaled && !ix->st) rc = journal_append(ix, key, id, bytes, t);
        e->journaled = 1;
    }
    pthread_mutex_unlock(&ix->mu);
    if (rc) log_warn("idempotency key not recorded", "key=%s error=\"%s\"", key, strerror(-rc));
    return rc;
}

void idem_release(struct idem *ix, const char *key)
{
    pthread_mutex_lock(&ix->mu);
    struct ent *e;
    size_t i = find(ix, key, &e);
    int recorded = e && !e->id && e->journaled && ix->st;
    if (e) drop(ix, i, e);
    pthread_mutex_unlock(&ix->mu);
    if (recorded) {                          /* a claim whose commit failed after the record */
        char name[2 * IDEM_KEY_MAX + 1];
        record_name(key, name);
        store_record_delete(ix->st, RECORD_KIND, name, NULL);
    }
}

size_t idem_count(struct idem *ix)
{
    pthread_mutex_lock(&ix->mu);
    size_t n = ix->map.len;
    pthread_mutex_unlock(&ix->mu);
    return n;
}
