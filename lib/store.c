/* store — the directory backend of store.h.
 *
 * Layout: DIR/NAME/<UTC time>-<unique>.perf[.gz] for what store_put writes; anything else
 * not starting with a dot is listed too (files put there by hand, at any depth).
 * DIR/.tmp/ is the temporary area: a put creates DIR/.tmp/<pid>-<n>-<random>.part, holds
 * an exclusive flock on it while writing, and on commit fsyncs it, renames it into place
 * with RENAME_NOREPLACE (so two uploads never overwrite each other) and fsyncs the parent
 * directory.  store_open_dir() removes every temporary file nobody holds a lock on: debris
 * of a crashed writer goes, the in-flight files of another live process (a second
 * collector, or flamescope opening the same directory) stay.
 *
 * All paths are resolved relative to the store's directory fd with ids checked by
 * store_id_valid() first, opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * (O_NOFOLLOW on the last component where openat2 is unavailable), and must be regular
 * files: a symlink put into the store by hand never leads outside it.  Usage totals are
 * counters under a mutex, updated by commits and deletes and recounted from a full walk
 * at open. */
#define _GNU_SOURCE
#include "store.h"
#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_DIR ".tmp"
#define MAX_DEPTH 8

struct store {
    int dirfd;
    int tmpfd;                  /* -1 when the temporary area could not be made */
    int fsync;
    pthread_mutex_t lock;       /* guards bytes, files */
    uint64_t bytes, files;
    atomic_uint seq;
};

struct store_put {
    store *st;
    int fd;
    int gzip;
    int err;                    /* first write error, sticky */
    uint64_t bytes;
    char name[TRACE_NAME_MAX + 1];
    char tmpname[64];
};

/* --- validation ------------------------------------------------------------------- */

int store_id_valid(const char *id)
{
    if (!id || !*id) return 0;
    size_t len = 0, comps = 1, comp_len = 0;
    for (const char *p = id; *p; p++, len++) {
        unsigned char c = (unsigned char)*p;
        if (len >= STORE_ID_MAX) return 0;
        if (c == '/') {
            if (comp_len == 0) return 0;         /* leading '/', "//" */
            if (++comps > MAX_DEPTH) return 0;
            comp_len = 0;
            continue;
        }
        if (c < 0x20 || c > 0x7e || c == '\\') return 0;
        if (comp_len == 0 && c == '.') return 0; /* ".", "..", ".hidden" */
        comp_len++;
    }
    return comp_len > 0;                          /* no trailing '/' */
}

/* --- helpers ---------------------------------------------------------------------- */

static void usage_add(store *st, int64_t bytes, int64_t files)
{
    pthread_mutex_lock(&st->lock);
    st->bytes = (uint64_t)((int64_t)st->bytes + bytes);
    st->files = (uint64_t)((int64_t)st->files + files);
    if ((int64_t)st->bytes < 0) st->bytes = 0;
    if ((int64_t)st->files < 0) st->files = 0;
    pthread_mutex_unlock(&st->lock);
}

/* Times int64 nanoseconds cannot hold (before 1678, after 2261) saturate, not wrap. */
static int64_t timespec_ns(const struct timespec *t)
{
    int64_t s = (int64_t)t->tv_sec;
    return s >= INT64_MAX / 1000000000 ? INT64_MAX
         : s <= INT64_MIN / 1000000000 ? INT64_MIN
         : s * 1000000000 + t->tv_nsec;
}

static void entry_fill(struct store_entry *e, const char *id, const struct stat *sb)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    const char *slash = strchr(id, '/');
    if (slash && (size_t)(slash - id) <= TRACE_NAME_MAX)
        memcpy(e->name, id, (size_t)(slash - id));
    e->bytes = (uint64_t)sb->st_size;
    e->mtime_ns = timespec_ns(&sb->st_mtim);
    /* ctime changes with every write, truncate, utime and chmod, and cannot be set from
     * user space; a new file (rename-replace) has a new inode */
    snprintf(e->version, sizeof e->version, "%jx:%jx:%jd", (uintmax_t)sb->st_dev,
             (uintmax_t)sb->st_ino, (intmax_t)timespec_ns(&sb->st_ctim));
    size_t n = strlen(id);
    e->gzip = n > 3 && !strcmp(id + n - 3, ".gz");
}

/* Removes temporary files that no live writer holds (see the top of the file). */
static void tmp_cleanup(int tmpfd)
{
    int fd = dup(tmpfd);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return; }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int f = openat(tmpfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (f < 0) {
            if (errno == ELOOP) unlinkat(tmpfd, de->d_name, 0);   /* a symlink: not ours */
            continue;
        }
        struct stat sb;
        if (fstat(f, &sb) == 0 && S_ISREG(sb.st_mode) && flock(f, LOCK_EX | LOCK_NB) == 0)
            unlinkat(tmpfd, de->d_name, 0);
        close(f);
    }
    closedir(d);
}

/* Opens path below dirfd without following any symlink on the way (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); where openat2 is missing or filtered (older
 * kernels, seccomp), only the last component is protected (O_NOFOLLOW). */
static int open_beneath(int dirfd, const char *path, int flags)
{
#ifdef SYS_openat2
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                       RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != E2BIG)) return fd;
#endif
    return openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC);
}

/* The directory holding id's last component (below dirfd, no symlinks) and that
 * component's name within id. */
static int open_parent(int dirfd, const char *id, const char **base)
{
    const char *slash = strrchr(id, '/');
    if (!slash) { *base = id; return dup(dirfd); }
    *base = slash + 1;
    char dir[STORE_ID_MAX + 1];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - id), id);
    return open_beneath(dirfd, dir, O_RDONLY | O_DIRECTORY);
}

/* --- walking ---------------------------------------------------------------------- */

struct walk {
    struct store_entry *v;
    size_t n, cap;
    int err;
};

static int walk_push(struct walk *w, const char *id, const struct stat *sb)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct store_entry *v = realloc(w->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    entry_fill(&w->v[w->n++], id, sb);
    return 0;
}

/* Walks directory fd (consumed) whose id prefix is prefix ("" at the top). */
static void walk_dir(struct walk *w, int fd, const char *prefix, int depth)
{
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); return; }
    struct dirent *de;
    char id[STORE_ID_MAX + 2];
    while (!w->err && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;       /* ., .., .tmp, dotfiles */
        int n = snprintf(id, sizeof id, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
        if (n < 0 || (size_t)n >= sizeof id || !store_id_valid(id)) continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW)) continue;
        if (S_ISREG(sb.st_mode)) {
            if (walk_push(w, id, &sb)) w->err = -ENOMEM;
        } else if (S_ISDIR(sb.st_mode) && depth + 1 < MAX_DEPTH) {
            int sub = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) walk_dir(w, sub, id, depth + 1);
        }
    }
    closedir(d);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct store_entry *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

int store_list(store *st, const char *name, struct store_entry **out, size_t *count)
{
    struct walk w = { 0 };
    *out = NULL;
    *count = 0;
    if (name) {
        if (!trace_name_valid(name)) return -EINVAL;
        int fd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        walk_dir(&w, fd, name, 1);
    } else {
        int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return -errno;
        walk_dir(&w, fd, "", 0);
    }
    if (w.err) { free(w.v); return w.err; }
    if (w.n) qsort(w.v, w.n, sizeof *w.v, entry_cmp);
    *out = w.v;
    *count = w.n;
    return 0;
}

/* --- open / close ----------------------------------------------------------------- */

store *store_open_dir(const char *dir, char *err, size_t errlen)
{
    if (!dir || !*dir) { err_set(err, errlen, "no store directory given"); return NULL; }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        err_set(err, errlen, "cannot create store directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    store *st = calloc(1, sizeof *st);
    if (!st) { err_set(err, errlen, "out of memory"); return NULL; }
    st->fsync = 1;
    st->tmpfd = -1;
    pthread_mutex_init(&st->lock, NULL);
    st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dirfd < 0) {
        err_set(err, errlen, "cannot open store directory %s: %s", dir, strerror(errno));
        pthread_mutex_destroy(&st->lock);
        free(st);
        return NULL;
    }
    /* the temporary area is only needed for writing: a read-only store still opens */
    if (mkdirat(st->dirfd, TMP_DIR, 0700) == 0 || errno == EEXIST)
        st->tmpfd = openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (st->tmpfd >= 0) tmp_cleanup(st->tmpfd);

    struct store_entry *v;
    size_t n;
    if (store_list(st, NULL, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) st->bytes += v[i].bytes;
        st->files = n;
        free(v);
    }
    return st;
}

void store_close(store *st)
{
    if (!st) return;
    close(st->dirfd);
    if (st->tmpfd >= 0) close(st->tmpfd);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

void store_set_fsync(store *st, int on) { st->fsync = on; }

void store_usage(store *st, uint64_t *bytes, uint64_t *files)
{
    pthread_mutex_lock(&st->lock);
    if (bytes) *bytes = st->bytes;
    if (files) *files = st->files;
    pthread_mutex_unlock(&st->lock);
}

/* --- writing ---------------------------------------------------------------------- */

static uint32_t random32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
    }
    return r;
}

store_put *store_put_begin(store *st, const char *name, int gzip, char *err, size_t errlen)
{
    if (!trace_name_valid(name)) {
        trace_name_error(err, errlen, "trace name", name, name ? strlen(name) : 0);
        errno = EINVAL;           /* set after seterr: snprintf may touch errno */
        return NULL;
    }
    if (st->tmpfd < 0) {
        err_set(err, errlen, "store has no temporary area (directory not writable)");
        errno = EROFS;
        return NULL;
    }
    store_put *p = calloc(1, sizeof *p);
    if (!p) { err_set(err, errlen, "out of memory"); errno = ENOMEM; return NULL; }
    p->st = st;
    p->gzip = gzip;
    snprintf(p->name, sizeof p->name, "%s", name);
    for (int tries = 0; tries < 16; tries++) {
        snprintf(p->tmpname, sizeof p->tmpname, "%d-%u-%08x.part", (int)getpid(),
                 atomic_fetch_add(&st->seq, 1), random32());
        p->fd = openat(st->tmpfd, p->tmpname,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (p->fd < 0) {
            if (errno == EEXIST) continue;
            break;
        }
        struct stat sb;
        /* lock it, and make sure another process's cleanup did not unlink it meanwhile */
        if (flock(p->fd, LOCK_EX) == 0 && fstat(p->fd, &sb) == 0 && sb.st_nlink > 0)
            return p;
        close(p->fd);
        p->fd = -1;
        errno = EEXIST;
    }
    int e = errno;
    err_set(err, errlen, "cannot create a temporary file in the store: %s", strerror(e));
    free(p);
    errno = e;
    return NULL;
}

int store_put_write(store_put *p, const void *data, size_t len)
{
    if (p->err) return p->err;
    const char *b = data;
    while (len) {
        ssize_t w = write(p->fd, b, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            p->err = -errno;
            return p->err;
        }
        if (w == 0) { p->err = -EIO; return p->err; }
        b += w;
        len -= (size_t)w;
        p->bytes += (uint64_t)w;
    }
    return 0;
}

static void put_free(store_put *p, int unlink_tmp)
{
    if (p->fd >= 0) close(p->fd);
    if (unlink_tmp) unlinkat(p->st->tmpfd, p->tmpname, 0);
    free(p);
}

void store_put_abort(store_put *p)
{
    if (p) put_free(p, 1);
}

/* "20261121T101500.123Z" */
static void utc_stamp(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y%m%dT%H%M%S", &tm);
    snprintf(out, outlen, "%.20s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Opens DIR/NAME as a directory fd, making it if needed, never through a symlink: the
 * rename goes into this fd, so swapping NAME for a symlink meanwhile leads nowhere else.
 * *created says it was made here.  ENOENT from a rename afterwards means a failed put of
 * the same name removed it meanwhile: the caller makes it again.  Returns fd or -errno. */
static int name_dir(store *st, const char *name, int *created)
{
    if (mkdirat(st->dirfd, name, 0755) == 0) {
        *created = 1;
        if (st->fsync && fsync(st->dirfd)) return -errno;
    } else if (errno != EEXIST) {
        return -errno;
    }
    int fd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ELOOP ? -ENOTDIR : -errno;
    return fd;
}

int store_put_commit(store_put *p, struct store_entry *out)
{
    store *st = p->st;
    int r = p->err;
    if (!r && st->fsync && fsync(p->fd)) r = -errno;
    int created = 0, nfd = -1;
    if (!r && (nfd = name_dir(st, p->name, &created)) < 0) r = nfd;
    char file[STORE_ID_MAX + 1];
    const char *base = file + strlen(p->name) + 1;    /* the file's name within NAME */
    if (!r) {
        r = -EEXIST;
        for (int tries = 0; tries < 16 && (r == -EEXIST || r == -ENOENT); tries++) {
            if (r == -ENOENT) {
                close(nfd);
                if ((nfd = name_dir(st, p->name, &created)) < 0) { r = nfd; break; }
            }
            char stamp[48];
            utc_stamp(stamp, sizeof stamp);
            snprintf(file, sizeof file, "%s/%s-%08x.perf%s", p->name, stamp, random32(),
                     p->gzip ? ".gz" : "");
            r = renameat2(st->tmpfd, p->tmpname, nfd, base, RENAME_NOREPLACE) ? -errno : 0;
            if (r == -EINVAL) {       /* no RENAME_NOREPLACE here: link fails on EEXIST too */
                r = linkat(st->tmpfd, p->tmpname, nfd, base, 0) ? -errno : 0;
                if (!r) unlinkat(st->tmpfd, p->tmpname, 0);
            }
        }
    }
    if (r) {
        /* a NAME directory made for this trace goes too (unless another trace is in it) */
        if (nfd >= 0) close(nfd);
        if (created) unlinkat(st->dirfd, p->name, AT_REMOVEDIR);
        put_free(p, 1);
        return r;
    }
    /* the flock goes with the close: only now that the file has left the temporary area,
     * where another process's store_open_dir would take an unlocked file for debris */
    int d = close(p->fd) ? -errno : 0;  /* NFS and friends report write errors here */
    p->fd = -1;
    if (!d && st->fsync && fsync(nfd)) d = -errno;
    if (d) {                          /* not durable: take it back rather than lie */
        unlinkat(nfd, base, 0);
        close(nfd);
        if (created) unlinkat(st->dirfd, p->name, AT_REMOVEDIR);
        put_free(p, 0);
        return d;
    }
    struct stat sb;
    if (fstatat(nfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        if (out) entry_fill(out, file, &sb);
        usage_add(st, (int64_t)sb.st_size, 1);
    } else if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", file);
        snprintf(out->name, sizeof out->name, "%s", p->name);
        out->bytes = p->bytes;
        out->gzip = p->gzip;
        usage_add(st, (int64_t)p->bytes, 1);
    }
    close(nfd);
    put_free(p, 0);
    return 0;
}

/* --- reading and deleting --------------------------------------------------------- */

/* An open of an id failed with e: -ENOENT where no trace can be there (a symlink on the
 * way, a component too long for the filesystem or not a directory), else -e. */
static int no_such(int e)
{
    return e == ELOOP || e == EXDEV || e == ENOTDIR || e == ENAMETOOLONG ? -ENOENT : -e;
}

int store_open(store *st, const char *id, int *fd, struct store_entry *out)
{
    if (!store_id_valid(id)) return -EINVAL;
    int f = open_beneath(st->dirfd, id, O_RDONLY | O_NONBLOCK);
    if (f < 0) return no_such(errno);
    struct stat sb;
    if (fstat(f, &sb)) { int e = -errno; close(f); return e; }
    if (!S_ISREG(sb.st_mode)) { close(f); return -ENOENT; }
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    if (out) entry_fill(out, id, &sb);
    if (fd) *fd = f;
    else close(f);
    return 0;
}

int store_stat(store *st, const char *id, struct store_entry *out)
{
    return store_open(st, id, NULL, out);
}

int store_delete(store *st, const char *id)
{
    if (!store_id_valid(id)) return -EINVAL;
    const char *base;
    int pfd = open_parent(st->dirfd, id, &base);
    if (pfd < 0) return no_such(errno);
    struct stat sb;
    int r = 0;
    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW)) r = no_such(errno);
    else if (!S_ISREG(sb.st_mode)) r = -ENOENT;
    else if (unlinkat(pfd, base, 0)) r = -errno;
    close(pfd);
    if (r) return r;
    usage_add(st, -(int64_t)sb.st_size, -1);
    return 0;
}

int store_retain(store *st, uint64_t max_bytes, int64_t max_age_s)
{
    if (!max_bytes && max_age_s <= 0) return 0;
    struct store_entry *v;
    size_t n;
    int r = store_list(st, NULL, &v, &n);
    if (r) return r;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += v[i].bytes;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* an age beyond what int64 nanoseconds hold (--max-age 1000000d) keeps everything:
     * the product must not overflow, or the cutoff wraps into the future */
    int64_t cutoff = INT64_MIN;
    int64_t cutoff_s = max_age_s > 0 ? (int64_t)now.tv_sec - max_age_s : INT64_MIN;
    if (cutoff_s > INT64_MIN / 1000000000 + 1)
        cutoff = cutoff_s * 1000000000 + now.tv_nsec;
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        int old = v[i].mtime_ns < cutoff;
        int over = max_bytes && total > max_bytes;
        if (!old && !over) break;     /* oldest first: the rest is newer and fits */
        if (store_delete(st, v[i].id) == 0) removed++;
        total -= v[i].bytes;
    }
    free(v);
    return removed;
}
