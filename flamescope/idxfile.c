/* idxfile — see idxfile.h. */
#define _GNU_SOURCE
#include "idxfile.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "fterr.h"
#include "strtab.h"

#define EDGE (64u * 1024u)
#define SUFFIX ".fsidx"

/* rc, with the message in err. */
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int idxfile_key(int fd, uint64_t size, int64_t mtime_ns, const char *version,
                struct pindex_key *key)
{
    memset(key, 0, sizeof *key);
    key->size = size;
    key->mtime_ns = mtime_ns;
    snprintf(key->version, sizeof key->version, "%s", version ? version : "");
    if (fd < 0)
        return 0;                  /* the change token alone names the content */
    char *buf = malloc(2 * EDGE);
    if (!buf)
        return -ENOMEM;
    size_t want = size < 2 * EDGE ? (size_t)size : 2 * EDGE, got = 0;
    while (got < want) {
        /* the first EDGE bytes, then the last ones (all of a small file) */
        uint64_t off = got < EDGE || size <= 2 * EDGE ? got : size - (want - got);
        size_t chunk = got < EDGE && size > 2 * EDGE ? EDGE - got : want - got;
        ssize_t r = pread(fd, buf + got, chunk, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? -errno : -EIO;
            free(buf);
            return e;
        }
        got += (size_t)r;
    }
    key->content_hash = strtab_hash(buf, got, size);
    free(buf);
    return 0;
}

const char *idxfile_default_dir(const char *spec, const char *dir, char *buf, size_t len)
{
    if (spec && strncmp(spec, "dir:", 4) != 0)
        return NULL;
    int n = snprintf(buf, len, "%s/.index", spec ? spec + 4 : dir);
    return n > 0 && (size_t)n < len ? buf : NULL;
}

static int index_path(const char *dir, const char *id, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s" SUFFIX, dir, id);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int idxfile_load(const char *dir, const char *id, const struct pindex_key *key,
                 profile **out, char *err, size_t errlen)
{
    return idxfile_load_flags(dir, id, key, 0, out, err, errlen);
}

int idxfile_load_flags(const char *dir, const char *id, const struct pindex_key *key,
                       unsigned flags, profile **out, char *err, size_t errlen)
{
    int lazy = (flags & IDXFILE_CHECK_LAZY) != 0;
    char path[PATH_MAX];
    *out = NULL;
    if (index_path(dir, id, path, sizeof path))
        return fail(err, errlen, -ENAMETOOLONG, "index path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return fail(err, errlen, -errno, "%s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (uint64_t)sb.st_size > SIZE_MAX / 2) {
        close(fd);
        return fail(err, errlen, -FT_ERR_CORRUPT, "not a regular, non-empty file");
    }
    size_t len = (size_t)sb.st_size;
    /* checked whole: every page is read at once; lazily: a page when its part is */
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | (lazy ? 0 : MAP_POPULATE), fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return fail(err, errlen, -e, "mmap: %s", strerror(e));
    int rc = pindex_open(m, len, 1, lazy ? PINDEX_CHECK_LAZY : PINDEX_CHECK, key, out, err,
                         errlen);
    if (rc)
        munmap(m, len);
    return rc;
}

int idxfile_summary(const char *dir, const char *id, struct pindex_summary *out,
                    int64_t *mtime_ns, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (index_path(dir, id, path, sizeof path))
        return fail(err, errlen, -ENAMETOOLONG, "index path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return fail(err, errlen, -errno, "%s", strerror(errno));
    size_t hlen = pindex_header_size();
    char hdr[PINDEX_HEADER_MAX];
    struct stat sb;
    ssize_t r = -1;
    int rc = -FT_ERR_CORRUPT;
    if (hlen <= sizeof hdr && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        r = pread(fd, hdr, hlen, 0);
    if (r == (ssize_t)hlen) {
        rc = pindex_summary(hdr, hlen, (uint64_t)sb.st_size, out, err, errlen);
        if (mtime_ns)
            *mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    } else {
        err_set(err, errlen, "not a whole index header");
    }
    close(fd);
    return rc;
}

/* mkdir -p of the folders above path (inside dir, which may not exist yet). */
static int make_parents(char *path)
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        int r = mkdir(path, 0755);
        *s = '/';
        if (r && errno != EEXIST)
            return -errno;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int idxfile_save(const char *dir, const char *id, const struct pindex_key *key,
                 const profile *p, char *err, size_t errlen)
{
    return idxfile_save_flags(dir, id, key, p, 0, err, errlen);
}

int idxfile_save_flags(const char *dir, const char *id, const struct pindex_key *key,
                       const profile *p, unsigned flags, char *err, size_t errlen)
{
    int sync = !(flags & IDXFILE_NO_FSYNC);
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    if (index_path(dir, id, path, sizeof path))
        return fail(err, errlen, -ENAMETOOLONG, "index path too long");
    int rc = make_parents(path);
    if (rc)
        return fail(err, errlen, rc, "cannot make the index folder: %s", strerror(-rc));
    char *slash = strrchr(path, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, -errno, "cannot create %s: %s", tmp, strerror(errno));
    fchmod(fd, 0644);              /* readable like the traces (mkostemp made it 0600) */
    size_t len, hlen = pindex_header_size();
    const char *img = pindex_of(p, &len);
    char *hdr = malloc(hlen);
    rc = -ENOMEM;
    if (hdr) {
        memcpy(hdr, img, hlen);
        pindex_header_set_key(hdr, key);
        rc = write_all(fd, hdr, hlen);
        if (!rc)
            rc = write_all(fd, img + hlen, len - hlen);
        if (!rc && sync && fsync(fd))
            rc = -errno;
        free(hdr);
    }
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return fail(err, errlen, rc, "cannot write %s: %s", path, strerror(-rc));
    }
    *slash = 0;
    int dfd = sync ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int idxfile_remove(const char *dir, const char *id)
{
    char path[PATH_MAX];
    if (!dir || index_path(dir, id, path, sizeof path))
        return dir ? -ENAMETOOLONG : 0;
    if (unlink(path) && errno != ENOENT)
        return -errno;
    return 0;
}

/* nftw() has no context argument: one collection at a time holds the lock and these. */
static pthread_mutex_t gc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    size_t root_len;
    char **ids;
    size_t n;
    int removed;
    time_t now;
} gc;

static int id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int gc_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(sb->st_mode))
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(path);
    if (base[0] == '.') {              /* a writer's temporary file: .NAME.fsidx.XXXXXX */
        if (strstr(base, SUFFIX ".") && gc.now - sb->st_mtime > 3600 && unlink(path) == 0)
            gc.removed++;
        return 0;
    }
    if (len <= gc.root_len + 1 + strlen(SUFFIX) || strcmp(path + len - strlen(SUFFIX), SUFFIX))
        return 0;
    char id[PATH_MAX];
    size_t idlen = len - gc.root_len - 1 - strlen(SUFFIX);
    memcpy(id, path + gc.root_len + 1, idlen);
    id[idlen] = 0;
    const char *key = id;
    if (!bsearch(&key, gc.ids, gc.n, sizeof *gc.ids, id_cmp) && unlink(path) == 0)
        gc.removed++;
    return 0;
}

int idxfile_gc(const char *dir, store *st)
{
    struct store_entry *ents = NULL;
    size_t n = 0;
    int rc = store_list(st, NULL, &ents, &n);
    if (rc < 0)
        return rc;
    char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) {
        free(ents);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = ents[i].id;
    qsort(ids, n, sizeof *ids, id_cmp);
    pthread_mutex_lock(&gc_lock);
    gc.root_len = strlen(dir);
    while (gc.root_len > 1 && dir[gc.root_len - 1] == '/')
        gc.root_len--;
    gc.ids = ids;
    gc.n = n;
    gc.removed = 0;
    gc.now = time(NULL);
    rc = nftw(dir, gc_visit, 16, FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT ? -errno : 0;
    if (!rc)
        rc = gc.removed;
    pthread_mutex_unlock(&gc_lock);
    free(ids);
    free(ents);
    return rc;
}
