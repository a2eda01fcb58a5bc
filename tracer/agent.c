/* agent — see agent.h.  Groups are keyed by trace name (two containers with one name
 * share a trace, as they would share it at the collector); pid -> group lives in an
 * intmap filled from tracer_opts.on_new_pid.  Each window: one pass counts samples per
 * group, then one tracer_write_select() per group with samples, then tracer_forget(). */
#define _GNU_SOURCE
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroupmap.h"
#include "errbuf.h"
#include "intmap.h"
#include "perfscript.h"
#include "tracer.h"

/* The ring is read (and a cgroup v1 root's pid set refreshed) every POLL_MS: the ring
 * (256 KiB per CPU) holds seconds of samples at 1,000 Hz, so reading more often would
 * only add wakeups. */
#define POLL_MS 250
/* Each CPU's timer period is redrawn every DITHER_MS, not at every read: a redraw costs
 * an IPI and a timer reprogramming per CPU (0.25 ms/s of a 0.65 ms/s agent at every read,
 * and still 0.11 ms/s at one a second, measured on 2-CPU VMs), and an agent runs for
 * days, so its samples see every phase regardless; the weights keep the rate exact. */
#define DITHER_MS 2000

struct group {
    struct group *next;
    char name[129];
    uint64_t count;               /* samples in the current window */
};

struct agent {
    const agent_opts *o;
    cgroup_namer *namer;
    char root_ctl[128];           /* --cgroup-root's hierarchy (controllers, "" for v2) */
    char root_rel[CGROUP_MAX_PATH];
    int have_root;
    intmap pids;                  /* pid -> struct group */
    struct group *groups;
};

static struct group *group_get(struct agent *a, const char *name)
{
    for (struct group *g = a->groups; g; g = g->next)
        if (!strcmp(g->name, name)) return g;
    struct group *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    snprintf(g->name, sizeof g->name, "%s", name);
    g->next = a->groups;
    a->groups = g;
    return g;
}

/* The most telling line without a root: a v2 path below "/", else the longest. */
static const cgroup_line *best_line(const cgroup_info *ci)
{
    const cgroup_line *best = NULL;
    for (int i = 0; i < ci->nlines; i++) {
        const cgroup_line *l = &ci->lines[i];
        if (l->hier == 0 && !l->controllers[0] && strcmp(l->path, "/")) return l;
        if (!best || strlen(l->path) > strlen(best->path)) best = l;
    }
    return best;
}

static void name_pid(struct agent *a, int pid, char *out, size_t outlen)
{
    cgroup_info *ci = malloc(sizeof *ci);
    if (!ci || cgroup_read_pid(pid, ci, NULL, 0) < 0) {
        snprintf(out, outlen, "unknown");
        free(ci);
        return;
    }
    if (ci->container_id[0]) {
        cgroup_namer_name(a->namer, ci->container_id, out, outlen);
        free(ci);
        return;
    }
    const cgroup_line *l = a->have_root ? cgroup_line_for(ci, a->root_ctl) : best_line(ci);
    const char *leaf = l ? cgroup_leaf(l->path) : "";
    if (a->have_root && l && !strcmp(l->path, a->root_rel)) leaf = "";   /* the root itself */
    trace_name_sanitize(leaf, "root", out, outlen);
    free(ci);
}

static void on_new_pid(void *arg, int pid)
{
    struct agent *a = arg;
    char name[129];
    name_pid(a, pid, name, sizeof name);
    struct group *g = group_get(a, name);
    if (g) intmap_put(&a->pids, (uint64_t)pid, g);
}

static int count_cb(void *arg, const tracer_sample *s)
{
    struct agent *a = arg;
    struct group *g = intmap_get(&a->pids, s->pid);
    if (g) g->count++;
    return 0;
}

struct sel {
    struct agent *a;
    struct group *g;
};

static int keep_cb(void *arg, const tracer_sample *s)
{
    struct sel *sel = arg;
    return intmap_get(&sel->a->pids, s->pid) == sel->g;
}

static void flush_window(struct agent *a, tracer *t, agent_stats *st)
{
    for (struct group *g = a->groups; g; g = g->next) g->count = 0;
    tracer_foreach(t, count_cb, a);
    st->windows++;
    if (a->o->upload) {
        upload_report rep = { 0 };
        upload_drain(a->o->upload, &rep, NULL, 0);       /* older traces first */
    }
    for (struct group *g = a->groups; g; g = g->next) {
        if (!g->count) continue;
        char line[200], err[512] = "";
        snprintf(line, sizeof line, "fntrace container : %s", g->name);
        const char *lines[] = { line };
        tracer_header h = { .lines = lines, .nlines = 1 };
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        ps_writer *w = m ? ps_writer_new_fp(m) : NULL;
        struct sel sel = { a, g };
        int rc = w ? tracer_write_select(t, w, &h, keep_cb, &sel) : -ENOMEM;
        if (w && ps_writer_close(w) && !rc) rc = -EIO;
        if (m && fclose(m) && !rc) rc = -ENOMEM;
        if (rc < 0) {
            err_set(err, sizeof err, "formatting the trace: %s", strerror(-rc));
        } else if (a->o->upload) {
            upload_opts uo = *a->o->upload;
            uo.name = g->name;
            upload_report rep = { 0 };
            rc = upload_submit(&uo, buf, len, &rep, err, sizeof err);
        }
        if (rc == 0) st->sent++;
        else if (rc == 1) st->spooled++;
        else st->failed++;
        if (a->o->on_trace) {
            agent_trace at = { .name = g->name, .samples = g->count, .rc = rc, .err = err };
            a->o->on_trace(a->o->arg, &at);
        }
        free(buf);
    }
    tracer_forget(t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int agent_run(const agent_opts *o, agent_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    struct agent a = { .o = o };
    int rc;
    if (o->cgroup_root) {
        rc = cgroup_locate(o->cgroup_root, a.root_ctl, sizeof a.root_ctl, a.root_rel,
                           sizeof a.root_rel, err, errlen);
        if (rc < 0) return rc;
        a.have_root = 1;
    }
    if (!(a.namer = cgroup_namer_new(o->docker_sock, o->docker_root))) {
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    tracer_opts to = {
        .sampler = TRACER_SAMPLER_BPF, .freq = o->freq, .cgroup = o->cgroup_root,
        .all = !o->cgroup_root, .cmdline = o->cmdline ? o->cmdline : "fntrace agent",
        .on_new_pid = on_new_pid, .on_new_pid_arg = &a, .skip_self = 1,
        .dither_ms = DITHER_MS,
    };
    tracer *t;
    rc = tracer_open(&t, &to, err, errlen);
    if (rc < 0) {
        cgroup_namer_free(a.namer);
        return rc;
    }
    if (o->on_sampling) {
        tracer_stats ts;
        tracer_get_stats(t, &ts);
        o->on_sampling(o->arg, &ts);
    }
    double window = o->window > 0 ? o->window : 10, end = now_s() + window;
    while (!(o->stop && *o->stop)) {
        double left = end - now_s();
        int ms = left * 1000 < POLL_MS ? (int)(left * 1000) + 1 : POLL_MS;
        tracer_poll(t, ms > 0 ? ms : 1);
        if (now_s() >= end) {
            flush_window(&a, t, st);
            end += window;
            if (end < now_s()) end = now_s() + window;   /* we fell behind: skip ahead */
        }
    }
    tracer_stop(t);
    flush_window(&a, t, st);
    tracer_stats ts;
    tracer_get_stats(t, &ts);
    st->samples = ts.samples;
    st->lost = ts.lost;
    tracer_free(t);
    cgroup_namer_free(a.namer);
    intmap_free(&a.pids);
    for (struct group *g = a.groups, *n; g; g = n) {
        n = g->next;
        free(g);
    }
    return 0;
}
