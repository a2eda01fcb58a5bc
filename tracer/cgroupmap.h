/* cgroupmap — which container a process belongs to, from user space: /proc/PID/cgroup
 * (cgroup v1 and v2 lines alike) parsed into its hierarchies, a container id found in
 * the paths Docker, containerd, CRI-O, Podman and Kubernetes use, and the container's
 * name (Docker's name or an OpenFaaS function label) from the Docker API socket or the
 * container's config.v2.json under Docker's data root; else the cgroup's leaf.  Names
 * are made valid trace names (trace_name_sanitize, lib/tracename.h).
 *
 * Why user space: Docker on a v1 (or hybrid) machine puts containers in v1 cgroups,
 * which a BPF program cannot name (bpf_get_current_cgroup_id is v2 only).
 *
 * The parsers (cgroup_parse, cgroup_container_id, container_parse_config,
 * cgroup_mounts_parse) are pure functions over bounded input, fuzzed by
 * tests/fuzz/fuzz_cgroupmap.c.  A cgroup_namer caches names by container id; it is not
 * thread-safe (one owner).  Errors: negative errno or -FT_ERR_*, message in err. */
#ifndef FNTRACE_CGROUPMAP_H
#define FNTRACE_CGROUPMAP_H

#include <stddef.h>

#include "tracename.h"

#define CGROUP_MAX_LINES 32        /* hierarchies kept from one /proc/PID/cgroup */
#define CGROUP_MAX_PATH 1024       /* longer paths are refused */
#define CGROUP_MAX_FILE 65536      /* bytes of /proc/PID/cgroup or config.v2.json read */
#define CONTAINER_ID_LEN 64

typedef struct cgroup_line {
    int hier;                      /* hierarchy id; 0 with empty controllers: cgroup v2 */
    char controllers[128];         /* "cpu,cpuacct", "name=systemd", "" (v2) */
    char path[CGROUP_MAX_PATH];    /* "/docker/<id>", "/" ... */
} cgroup_line;

typedef struct cgroup_info {
    cgroup_line lines[CGROUP_MAX_LINES];
    int nlines;
    char container_id[CONTAINER_ID_LEN + 1];  /* "" when no line names a container */
} cgroup_info;

/* Parses the text of /proc/PID/cgroup ("ID:CONTROLLERS:PATH" lines).  0, or
 * -FT_ERR_BAD_INPUT when a line is malformed or too long (message in err). */
int cgroup_parse(const char *buf, size_t len, cgroup_info *out, char *err, size_t errlen);

/* Reads and parses /proc/PID/cgroup.  0, -ESRCH (gone) or a parse error. */
int cgroup_read_pid(int pid, cgroup_info *out, char *err, size_t errlen);

/* Finds a container id (64 hex digits) in a cgroup path: /docker/ID,
 * /system.slice/docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
 * libpod-ID.scope, /kubepods/.../ID.  1 with id copied (NUL-terminated), or 0. */
int cgroup_container_id(const char *path, char id[CONTAINER_ID_LEN + 1]);

/* The line of info in the hierarchy a cgroup directory belongs to: v2 when controllers
 * is "" and hier 0, else the v1 line with those controllers; NULL if none. */
const cgroup_line *cgroup_line_for(const cgroup_info *info, const char *controllers);

/* Where a cgroup directory is: from the text of /proc/self/mountinfo, the mount holding
 * path (longest prefix), its controllers ("" for cgroup2) and path's place inside that
 * hierarchy (rel: "/" or "/a/b").  0, or -ENOENT when path is under no cgroup mount. */
int cgroup_mounts_parse(const char *mountinfo, size_t len, const char *path,
                        char *controllers, size_t clen, char *rel, size_t rlen);
/* The same, reading /proc/self/mountinfo and resolving path first. */
int cgroup_locate(const char *path, char *controllers, size_t clen, char *rel, size_t rlen,
                  char *err, size_t errlen);

/* Last component of a cgroup path ("" for "/"), not allocated: points into path. */
const char *cgroup_leaf(const char *path);

/* 1 when path is root or below it ("/a" is under "/" and "/a"; "/ab" is not under "/a"). */
int cgroup_path_under(const char *path, const char *root);

/* From a container's JSON (Docker's `GET /containers/ID/json` or config.v2.json, the
 * same shape): the OpenFaaS function label (com.openfaas.function, then faas_function)
 * if set, else Name without its leading '/'.  1 with name set, 0 when neither is
 * present, -FT_ERR_BAD_INPUT when it is not JSON. */
int container_parse_config(const char *json, size_t len, char *name, size_t namelen);

typedef struct cgroup_namer cgroup_namer;
/* docker_sock: the API socket (NULL: /var/run/docker.sock; a "unix://" before the path,
 * as in DOCKER_HOST, is dropped); docker_root: the data root whose
 * containers/ID/config.v2.json is read when the socket does not answer (NULL:
 * /var/lib/docker). */
cgroup_namer *cgroup_namer_new(const char *docker_sock, const char *docker_root);
/* The trace name of a container id (cached, sanitized); when Docker does not know it,
 * the id's first 12 digits.  Never fails: out always receives a valid name. */
void cgroup_namer_name(cgroup_namer *n, const char *id, char *out, size_t outlen);
void cgroup_namer_free(cgroup_namer *n);

#endif
