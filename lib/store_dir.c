/* store_dir — the directory backend of store.h (its table: store_dir_backend).
 *
 * Layout: DIR/NAME/<UTC time>-<unique>.perf[.gz] for what store_put writes; anything else
 * not starting with a dot is listed too (files put there by hand, at any depth).
 * DIR/.tmp/ is the temporary area: a put creates DIR/.tmp/<pid>-<n>-<random>.part, holds
 * an exclusive flock on it while writing, and on commit fsyncs it, renames it into place
 * with RENAME_NOREPLACE (so two uploads never overwrite each other) and fsyncs the parent
 * directory.  store_dir_open() removes every temporary file nobody holds a lock on: debris
 * of a crashed writer goes, the in-flight files of another live process (a second
 * collector, or flamescope opening the same directory) stay.
 *
 * All paths are resolved relative to the store's directory fd with ids checked by
 * store_id_valid() first, opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * (O_NOFOLLOW on the last component where openat2 is unavailable), and must be regular
 * files: a symlink put into the store by hand never leads outside it.  The dispatch
 * (store.c) checks ids and names before they get here, sorts listings and keeps the
 * usage totals.  Thread-safe: the state is fds and flags set at open. */
#define _GNU_SOURCE
#include "store_backend.h"
#include "errbuf.h"
#include "fterr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

typedef struct dirstore {
    int dirfd;
    int tmpfd;                  /* -1 when the temporary area could not be made */
    int fsync;
    atomic_uint seq;
} dirstore;

typedef struct dirput {
    dirstore *st;
    int fd;
    int gzip;
    int err;                    /* first write error, sticky */
    uint64_t bytes;
    char name[TRACE_NAME_MAX + 1];
    char tmpname[64];
    store_precommit_fn precommit;   /* store_put_on_commit */
    void *precommit_ctx;
} dirput;

/* --- helpers ---------------------------------------------------------------------- */

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
/* The temporary area's own lock (flock on a fresh open of the directory: its own open
 * file description, so threads of one process exclude each other too).  A writer holds it
 * shared from creating its file until that file is locked; the cleanup holds it
 * exclusive.  Without it a cleanup could take a writer's file in the moment between its
 * creation and its flock (both unlocked then): under load that moment stretches, and
 * the writer loses try after try (test_reopen_never_disturbs_commits failed 11 of 1,500).
 * Returns the descriptor to close, or -1 (then the window is only narrowed by retries). */
static int tmp_lock(int tmpfd, int how)
{
    int fd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    while (flock(fd, how) && errno == EINTR) {}
    return fd;
}

static void tmp_cleanup(int tmpfd)
{
    int lk = tmp_lock(tmpfd, LOCK_EX);
    int fd = dup(tmpfd);
    if (fd < 0) { if (lk >= 0) close(lk); return; }
    DIR *d = fdopendir(fd);
    if (!d) { close(fd); if (lk >= 0) close(lk); return; }
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
    if (lk >= 0) close(lk);
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

static int dir_list(void *self, const char *name, struct store_entry **out, size_t *count)
{
    dirstore *st = self;
    struct walk w = { 0 };
    *out = NULL;
    *count = 0;
    if (name) {
        int fd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        walk_dir(&w, fd, name, 1);
    } else {
        int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return -errno;
        walk_dir(&w, fd, "", 0);
    }
    if (w.err) { free(w.v); return w.err; }
    *out = w.v;
    *count = w.n;
    return 0;
}

/* --- open / close ----------------------------------------------------------------- */

void *store_dir_open(const char *dir, const struct store_opts *o, char *err, size_t errlen)
{
    if (!dir || !*dir) { err_set(err, errlen, "no store directory given"); return NULL; }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        err_set(err, errlen, "cannot create store directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    dirstore *st = calloc(1, sizeof *st);
    if (!st) { err_set(err, errlen, "out of memory"); return NULL; }
    st->fsync = !(o && o->no_fsync);
    st->tmpfd = -1;
    st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dirfd < 0) {
        err_set(err, errlen, "cannot open store directory %s: %s", dir, strerror(errno));
        free(st);
        return NULL;
    }
    /* a temporary area that is a symlink (or not a directory) could point writes
     * anywhere: refuse the store at startup instead of failing every upload later */
    struct stat tst;
    if (fstatat(st->dirfd, TMP_DIR, &tst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(tst.st_mode)) {
        err_set(err, errlen, "store directory %s: %s/%s is %s, not a directory: remove it", dir,
                dir, TMP_DIR, S_ISLNK(tst.st_mode) ? "a symbolic link" : "not a directory");
        close(st->dirfd);
        free(st);
        return NULL;
    }
    /* the temporary area is only needed for writing: a read-only store still opens */
    if (mkdirat(st->dirfd, TMP_DIR, 0700) == 0 || errno == EEXIST)
        st->tmpfd = openat(st->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (st->tmpfd >= 0) tmp_cleanup(st->tmpfd);
    return st;
}

static void dir_close(void *self)
{
    dirstore *st = self;
    if (!st) return;
    close(st->dirfd);
    if (st->tmpfd >= 0) close(st->tmpfd);
    free(st);
}

static void dir_set_fsync(void *self, int on) { ((dirstore *)self)->fsync = on; }

/* --- writing ---------------------------------------------------------------------- */

static int dir_put_begin(void *self, const char *name, int gzip, void **out, char *err,
                         size_t errlen)
{
    dirstore *st = self;
    if (st->tmpfd < 0) {
        err_set(err, errlen, "store has no temporary area (directory not writable)");
        return -EROFS;
    }
    dirput *p = calloc(1, sizeof *p);
    if (!p) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    p->st = st;
    p->gzip = gzip;
    snprintf(p->name, sizeof p->name, "%s", name);
    int lk = tmp_lock(st->tmpfd, LOCK_SH);       /* no cleanup until the file is locked */
    for (int tries = 0; tries < 16; tries++) {
        snprintf(p->tmpname, sizeof p->tmpname, "%d-%u-%08x.part", (int)getpid(),
                 atomic_fetch_add(&st->seq, 1), store_random32());
        p->fd = openat(st->tmpfd, p->tmpname,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (p->fd < 0) {
            if (errno == EEXIST) continue;
            break;
        }
        struct stat sb;
        /* lock it, and make sure a cleanup (one without tmp_lock) did not unlink it meanwhile */
        if (flock(p->fd, LOCK_EX) == 0 && fstat(p->fd, &sb) == 0 && sb.st_nlink > 0) {
            if (lk >= 0) close(lk);
            *out = p;
            return 0;
        }
        close(p->fd);
        p->fd = -1;
        errno = EEXIST;
    }
    int e = errno;
    if (lk >= 0) close(lk);
    err_set(err, errlen, "cannot create a temporary file in the store: %s", strerror(e));
    free(p);
    return -e;
}

static int dir_put_write(void *put, const void *data, size_t len)
{
    dirput *p = put;
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

static void put_free(dirput *p, int unlink_tmp)
{
    if (p->fd >= 0) close(p->fd);
    if (unlink_tmp) unlinkat(p->st->tmpfd, p->tmpname, 0);
    free(p);
}

static void dir_put_abort(void *put)
{
    dirput *p = put;
    if (p) put_free(p, 1);
}

/* Opens DIR/NAME as a directory fd, making it if needed, never through a symlink: the
 * rename goes into this fd, so swapping NAME for a symlink meanwhile leads nowhere else.
 * *created says it was made here.  ENOENT from a rename afterwards means a failed put of
 * the same name removed it meanwhile: the caller makes it again.  Returns fd or -errno. */
static int name_dir(dirstore *st, const char *name, int *created)
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

static void dir_put_on_commit(void *put, store_precommit_fn fn, void *ctx)
{
    dirput *p = put;
    p->precommit = fn;
    p->precommit_ctx = ctx;
}

static int dir_put_commit(void *put, struct store_entry *out)
{
    dirput *p = put;
    dirstore *st = p->st;
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
            char fname[64];
            store_new_file_name(fname, sizeof fname, p->gzip);
            snprintf(file, sizeof file, "%s/%s", p->name, fname);
            if (p->precommit && (r = p->precommit(p->precommit_ctx, file, p->bytes))) break;
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
    } else if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", file);
        snprintf(out->name, sizeof out->name, "%s", p->name);
        out->bytes = p->bytes;
        out->gzip = p->gzip;
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

static int dir_open_fd(void *self, const char *id, int *fd, struct store_entry *out)
{
    dirstore *st = self;
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

static int dir_stat(void *self, const char *id, struct store_entry *out)
{
    return dir_open_fd(self, id, NULL, out);
}

static int dir_delete(void *self, const char *id, uint64_t *bytes)
{
    dirstore *st = self;
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
    *bytes = (uint64_t)sb.st_size;
    return 0;
}

/* A reader over the file: the fd is the fast path, read(2) the callback. */
static int dir_open_reader(void *self, const char *id, void **reader, struct store_entry *out)
{
    int *fdp = malloc(sizeof *fdp);
    if (!fdp) return -ENOMEM;
    int r = dir_open_fd(self, id, fdp, out);
    if (r) { free(fdp); return r; }
    *reader = fdp;
    return 0;
}

static ssize_t dir_read(void *reader, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(*(int *)reader, buf, len);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

static int dir_reader_fd(void *reader) { return *(int *)reader; }

static void dir_reader_close(void *reader)
{
    close(*(int *)reader);
    free(reader);
}

const struct store_backend store_dir_backend = {
    .scheme = "dir",
    .close = dir_close,
    .list = dir_list,
    .stat = dir_stat,
    .open_fd = dir_open_fd,
    .open_reader = dir_open_reader,
    .read = dir_read,
    .reader_fd = dir_reader_fd,
    .reader_close = dir_reader_close,
    .del = dir_delete,
    .put_begin = dir_put_begin,
    .put_write = dir_put_write,
    .put_commit = dir_put_commit,
    .put_on_commit = dir_put_on_commit,
    .put_abort = dir_put_abort,
    .set_fsync = dir_set_fsync,
};
