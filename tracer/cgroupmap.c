/* cgroupmap — see cgroupmap.h.  Everything read from outside is bounded: a
 * /proc/PID/cgroup or config.v2.json of at most CGROUP_MAX_FILE bytes, lines and paths
 * of fixed maximum length, at most CGROUP_MAX_LINES hierarchies; anything beyond is an
 * error, never a truncation that could name the wrong container. */
#define _GNU_SOURCE
#include "cgroupmap.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "errbuf.h"
#include "fterr.h"
#include "tracename.h"

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int cgroup_parse(const char *buf, size_t len, cgroup_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > CGROUP_MAX_FILE) {
        err_set(err, errlen, "cgroup file too large (%zu bytes)", len);
        return -FT_ERR_BAD_INPUT;
    }
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        if (!n) continue;
        if (out->nlines >= CGROUP_MAX_LINES) {
            err_set(err, errlen, "line %d: more than %d hierarchies", lineno, CGROUP_MAX_LINES);
            return -FT_ERR_BAD_INPUT;
        }
        const char *c1 = memchr(line, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
        if (!c1 || !c2 || c1 == line) {
            err_set(err, errlen, "line %d: not ID:CONTROLLERS:PATH", lineno);
            return -FT_ERR_BAD_INPUT;
        }
        cgroup_line *l = &out->lines[out->nlines];
        long id = 0;
        for (const char *p = line; p < c1; p++) {
            if (!isdigit((unsigned char)*p) || id > 1000000) {
                err_set(err, errlen, "line %d: bad hierarchy id", lineno);
                return -FT_ERR_BAD_INPUT;
            }
            id = id * 10 + (*p - '0');
        }
        size_t cl = (size_t)(c2 - c1 - 1), pl = n - (size_t)(c2 + 1 - line);
        if (cl >= sizeof l->controllers || pl >= sizeof l->path || pl == 0 || c2[1] != '/') {
            err_set(err, errlen, "line %d: controllers or path too long, or path not absolute",
                    lineno);
            return -FT_ERR_BAD_INPUT;
        }
        for (size_t i = 0; i < cl + 1 + pl; i++) {
            if (!c1[1 + i]) {
                err_set(err, errlen, "line %d: NUL byte", lineno);
                return -FT_ERR_BAD_INPUT;
            }
        }
        l->hier = (int)id;
        memcpy(l->controllers, c1 + 1, cl);
        l->controllers[cl] = 0;
        memcpy(l->path, c2 + 1, pl);
        l->path[pl] = 0;
        out->nlines++;
        if (!out->container_id[0]) cgroup_container_id(l->path, out->container_id);
    }
    return 0;
}

int cgroup_read_pid(int pid, cgroup_info *out, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno == ENOENT ? ESRCH : errno;
        err_set(err, errlen, "%s: %s", path, strerror(errno));
        memset(out, 0, sizeof *out);
        return -e;
    }
    char *buf = malloc(CGROUP_MAX_FILE + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t len = 0;
    ssize_t r;
    while (len <= CGROUP_MAX_FILE &&
           (r = read(fd, buf + len, CGROUP_MAX_FILE + 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    int rc = cgroup_parse(buf, len, out, err, errlen);
    free(buf);
    return rc;
}

/* A 64-hex run that is a whole path component, or the ID of PREFIX-ID(.scope). */
int cgroup_container_id(const char *path, char id[CONTAINER_ID_LEN + 1])
{
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* strip a known prefix and ".scope" */
        const char *s = p;
        size_t sn = n;
        if (sn > 6 && !memcmp(s + sn - 6, ".scope", 6)) sn -= 6;
        static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-",
                                                "libpod-", "containerd-" };
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
            size_t pl = strlen(prefixes[i]);
            if (sn > pl && !memcmp(s, prefixes[i], pl)) {
                s += pl;
                sn -= pl;
                break;
            }
        }
        if (sn == CONTAINER_ID_LEN) {
            size_t k = 0;
            while (k < sn && is_hex(s[k])) k++;
            if (k == sn) {
                memcpy(id, s, CONTAINER_ID_LEN);
                id[CONTAINER_ID_LEN] = 0;
                return 1;
            }
        }
        p += n;
    }
    return 0;
}

/* Same set of comma-separated tokens. */
static int same_tokens(const char *a, const char *b)
{
    int na = 0, nb = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", a);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        na++;
        size_t tl = strlen(t);
        const char *q = b;
        int found = 0;
        while (*q && !found) {
            const char *e = strchr(q, ',');
            size_t ql = e ? (size_t)(e - q) : strlen(q);
            found = ql == tl && !memcmp(q, t, tl);
            q += ql + (e ? 1 : 0);
        }
        if (!found) return 0;
    }
    for (const char *q = b; *q;) {
        const char *e = strchr(q, ',');
        size_t ql = e ? (size_t)(e - q) : strlen(q);
        if (ql) nb++;
        q += ql + (e ? 1 : 0);
    }
    return na == nb;
}

const cgroup_line *cgroup_line_for(const cgroup_info *info, const char *controllers)
{
    for (int i = 0; i < info->nlines; i++) {
        const cgroup_line *l = &info->lines[i];
        if (!controllers[0]) {
            if (l->hier == 0 && !l->controllers[0]) return l;
        } else if (l->controllers[0] && same_tokens(l->controllers, controllers)) {
            return l;
        }
    }
    return NULL;
}

const char *cgroup_leaf(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *s = path + n;
    while (s > path && s[-1] != '/') s--;
    return s;
}

int cgroup_path_under(const char *path, const char *root)
{
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/') rl--;
    if (rl == 1 && root[0] == '/') return path[0] == '/';
    return !strncmp(path, root, rl) && (path[rl] == 0 || path[rl] == '/');
}

/* mountinfo fields are octal-escaped (\040 for a space) */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* superoptions minus the mount options that are not controllers */
static void controllers_of(const char *superopts, char *out, size_t outlen)
{
    static const char *const skip[] = { "rw", "ro", "noprefix", "clone_children", "xattr",
                                        "cpuset_v2_mode", "favordynmods", "nsdelegate",
                                        "memory_recursiveprot", "memory_localevents" };
    size_t o = 0;
    out[0] = 0;
    const char *q = superopts;
    while (*q) {
        const char *e = strchr(q, ',');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        int keep = n > 0 && strncmp(q, "release_agent=", 14);
        for (size_t i = 0; keep && i < sizeof skip / sizeof *skip; i++)
            if (strlen(skip[i]) == n && !memcmp(q, skip[i], n)) keep = 0;
        if (keep && o + n + 2 < outlen) {
            if (o) out[o++] = ',';
            memcpy(out + o, q, n);
            o += n;
            out[o] = 0;
        }
        q += n + (e ? 1 : 0);
    }
}

int cgroup_mounts_parse(const char *mountinfo, size_t len, const char *path,
                        char *controllers, size_t clen, char *rel, size_t rlen)
{
    size_t best = 0;
    int found = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = mountinfo + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        char buf[4096];
        if (n >= sizeof buf) continue;
        memcpy(buf, line, n);
        buf[n] = 0;
        if (memchr(buf, 0, n)) continue;
        char *f[6] = { 0 }, *save = NULL, *t = strtok_r(buf, " ", &save);
        int nf = 0;
        for (; t && nf < 6; t = strtok_r(NULL, " ", &save)) f[nf++] = t;
        if (nf < 6) continue;
        char *fstype = NULL, *superopts = NULL;          /* after the " - " separator */
        for (; t; t = strtok_r(NULL, " ", &save)) {
            if (!strcmp(t, "-")) {
                fstype = strtok_r(NULL, " ", &save);
                strtok_r(NULL, " ", &save);              /* source */
                superopts = strtok_r(NULL, " ", &save);
                break;
            }
        }
        if (!fstype || !superopts) continue;
        int v2 = !strcmp(fstype, "cgroup2");
        if (!v2 && strcmp(fstype, "cgroup")) continue;
        char *root = f[3], *mnt = f[4];
        unescape(root);
        unescape(mnt);
        size_t ml = strlen(mnt);
        while (ml > 1 && mnt[ml - 1] == '/') ml--;
        if (strncmp(path, mnt, ml) || (path[ml] && path[ml] != '/' && ml > 1)) continue;
        if (ml < best && found) continue;
        const char *suffix = path + (ml == 1 ? 0 : ml);
        char r[CGROUP_MAX_PATH];
        int w = snprintf(r, sizeof r, "%s%s", strcmp(root, "/") ? root : "", suffix);
        if (w < 0 || (size_t)w >= sizeof r) continue;
        if (!r[0]) snprintf(r, sizeof r, "/");
        if (v2) snprintf(controllers, clen, "%s", "");
        else controllers_of(superopts, controllers, clen);
        snprintf(rel, rlen, "%s", r);
        best = ml;
        found = 1;
    }
    return found ? 0 : -ENOENT;
}

int cgroup_locate(const char *path, char *controllers, size_t clen, char *rel, size_t rlen,
                  char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        int e = errno;
        err_set(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        int e = errno;
        err_set(err, errlen, "/proc/self/mountinfo: %s", strerror(e));
        return -e;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return -ENOMEM;
    int rc = cgroup_mounts_parse(buf, n, real, controllers, clen, rel, rlen);
    free(buf);
    if (rc < 0) err_set(err, errlen, "%s: not in a cgroup filesystem", path);
    return rc;
}

int container_parse_config(const char *json, size_t len, char *name, size_t namelen)
{
    if (len > CGROUP_MAX_FILE * 16) return -FT_ERR_TOO_LARGE;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return -FT_ERR_BAD_INPUT;
    int rc = 0;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "Config"), "Labels");
    static const char *const keys[] = { "com.openfaas.function", "faas_function" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys && !rc; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, keys[i]);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            snprintf(name, namelen, "%s", v->valuestring);
            rc = 1;
        }
    }
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "Name");
    if (!rc && cJSON_IsString(n) && n->valuestring[0]) {
        const char *s = n->valuestring;
        while (*s == '/') s++;
        if (*s) {
            snprintf(name, namelen, "%s", s);
            rc = 1;
        }
    }
    cJSON_Delete(root);
    return rc;
}

struct named {
    struct named *next;
    char id[CONTAINER_ID_LEN + 1];
    char name[129];
};

struct cgroup_namer {
    char *sock, *root;
    struct named *cache;
    unsigned ncache;
    int sock_down;                 /* the socket refused once: do not wait on it again */
};

cgroup_namer *cgroup_namer_new(const char *docker_sock, const char *docker_root)
{
    cgroup_namer *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (docker_sock && !strncmp(docker_sock, "unix://", 7)) docker_sock += 7;
    n->sock = strdup(docker_sock ? docker_sock : "/var/run/docker.sock");
    n->root = strdup(docker_root ? docker_root : "/var/lib/docker");
    if (!n->sock || !n->root) {
        cgroup_namer_free(n);
        return NULL;
    }
    return n;
}

struct body {
    char *p;
    size_t len;
};

static size_t body_cb(char *d, size_t sz, size_t nm, void *arg)
{
    struct body *b = arg;
    size_t n = sz * nm;
    if (b->len + n > (size_t)CGROUP_MAX_FILE * 16) return 0;      /* too large: abort */
    char *np = realloc(b->p, b->len + n + 1);
    if (!np) return 0;
    memcpy(np + b->len, d, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

static int name_from_socket(cgroup_namer *n, const char *id, char *out, size_t outlen)
{
    if (n->sock_down || access(n->sock, F_OK) < 0) return 0;
    CURL *c = curl_easy_init();
    if (!c) return 0;
    char url[160];
    snprintf(url, sizeof url, "http://localhost/containers/%s/json", id);
    struct body b = { 0 };
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, n->sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int got = 0;
    if (rc == CURLE_COULDNT_CONNECT) n->sock_down = 1;
    else if (rc == CURLE_OK && status == 200 && b.p)
        got = container_parse_config(b.p, b.len, out, outlen) == 1;
    free(b.p);
    return got;
}

static int name_from_config(cgroup_namer *n, const char *id, char *out, size_t outlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/containers/%s/config.v2.json", n->root, id) >=
        (int)sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    size_t cap = (size_t)CGROUP_MAX_FILE * 16, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && len < cap && (r = read(fd, buf + len, cap - len)) > 0) len += (size_t)r;
    close(fd);
    int got = buf && len < cap && container_parse_config(buf, len, out, outlen) == 1;
    free(buf);
    return got;
}

void cgroup_namer_name(cgroup_namer *n, const char *id, char *out, size_t outlen)
{
    for (struct named *e = n->cache; e; e = e->next)
        if (!strcmp(e->id, id)) {
            snprintf(out, outlen, "%s", e->name);
            return;
        }
    char raw[256] = "", shortid[13];
    snprintf(shortid, sizeof shortid, "%.12s", id);
    if (!name_from_socket(n, id, raw, sizeof raw)) name_from_config(n, id, raw, sizeof raw);
    trace_name_sanitize(raw, shortid, out, outlen);
    struct named *e = n->ncache < 4096 ? calloc(1, sizeof *e) : NULL;
    if (!e) return;
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->name, sizeof e->name, "%s", out);
    e->next = n->cache;
    n->cache = e;
    n->ncache++;
}

void cgroup_namer_free(cgroup_namer *n)
{
    if (!n) return;
    for (struct named *e = n->cache, *x; e; e = x) {
        x = e->next;
        free(e);
    }
    free(n->sock);
    free(n->root);
    free(n);
}
