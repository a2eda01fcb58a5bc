/* record — see record.h.  The loop wakes at least every 100 ms (tracer_poll) to read
 * and symbolize what the rings hold, check the target and the clock. */
#define _GNU_SOURCE
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The command line for the header: arguments joined by spaces. */
static char *join_argv(char *const *argv)
{
    size_t len = 1;
    for (int i = 0; argv[i]; i++) len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; argv[i]; i++) p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
    *p = 0;
    return s;
}

/* Forks the command, held before exec until *go is written; exec errors come back on
 * the returned error pipe.  Returns the pid or -errno. */
static pid_t spawn_held(char *const *argv, int *go_w, int *err_r)
{
    int go[2], ep[2];
    if (pipe2(go, O_CLOEXEC) < 0) return -errno;
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int e = errno;
        close(go[0]);
        close(go[1]);
        return -e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(go[0]); close(go[1]); close(ep[0]); close(ep[1]);
        return -e;
    }
    if (pid == 0) {
        close(go[1]);
        close(ep[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        char c;
        ssize_t r;
        while ((r = read(go[0], &c, 1)) < 0 && errno == EINTR) {}
        if (r != 1) _exit(127);               /* the tracer gave up: never run untraced */
        execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(ep[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(go[0]);
    close(ep[1]);
    *go_w = go[1];
    *err_r = ep[0];
    return pid;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int attached_alive(pid_t pid, int pidfd)
{
    if (pidfd >= 0) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) == 0;
    }
    if (kill(pid, 0) < 0 && errno == ESRCH) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* bpf: one of the other attached processes (-p repeated) still runs */
static int others_alive(const record_opts *o)
{
    for (size_t i = 0; i < o->npids; i++)
        if (attached_alive(o->pids[i], -1)) return 1;
    return 0;
}

static void end_child(pid_t pid, record_result *res)
{
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
        res->cmd_exited = 1;
        res->cmd_status = st;
        return;
    }
    res->cmd_terminated = 1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) return;
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

/* Creates a temporary file beside path, its name into tmp: the fd, or a negative code
 * with the message in err, which ends with the note what ("" for none). */
static int temp_beside(const char *path, char tmp[PATH_MAX], const char *what,
                       char *err, size_t errlen)
{
    if (snprintf(tmp, PATH_MAX, "%s.tmp.XXXXXX", path) >= PATH_MAX) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s%s", path, strerror(e), what);
        return -e;
    }
    return fd;
}

/* Writes the trace to path through a temporary file in the same directory. */
static int write_file(tracer *t, const char *path, const char *data, size_t len,
                      char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    int fd = temp_beside(path, tmp, "", err, errlen);
    if (fd < 0) return fd;
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);               /* what a plain open(O_CREAT) would give */
    FILE *f = fdopen(fd, "w");
    int rc = 0;
    if (!f) {
        rc = -errno;
        close(fd);
    } else {
        if (data) rc = fwrite(data, 1, len, f) == len ? 0 : -EIO;
        else rc = tracer_flush(t, f, NULL);
        if (fflush(f) || fsync(fileno(f))) rc = rc ? rc : -errno;
        if (fclose(f) && !rc) rc = -errno;
    }
    if (!rc && rename(tmp, path) < 0) rc = -errno;
    if (rc) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    }
    return rc;
}

/* Before sampling starts: the output can be created (its directory exists and is
 * writable), so a recording is never lost to a typo in -o at its end. */
static int output_check(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        return -EISDIR;
    }
    char tmp[PATH_MAX];
    int fd = temp_beside(path, tmp, " (checked before recording)", err, errlen);
    if (fd < 0) return fd;
    close(fd);
    unlink(tmp);
    return 0;
}

/* uid of a process (/proc/PID/status "Uid:" real), or -1. */
static long proc_uid(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long uid = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Uid:", 4)) {
            uid = strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return uid;
}

int record_run(const record_opts *o, record_result *res)
{
    memset(res, 0, sizeof *res);
    res->cmd_status = -1;
    int orc = o->output ? output_check(o->output, res->err, sizeof res->err) : 0;
    if (orc < 0) return orc;                /* -errno: nothing started, nothing recorded */
    tracer_opts to = { .freq = o->freq, .user_only = o->user_only, .sampler = o->sampler,
                       .pids = o->pids, .npids = o->npids, .cgroup = o->cgroup,
                       .all = o->all };
    pid_t child = -1;
    int go_w = -1, err_r = -1, pidfd = -1;
    char *cmdline = NULL;
    if (o->argv && o->argv[0]) {
        child = spawn_held(o->argv, &go_w, &err_r);
        if (child < 0) {
            snprintf(res->err, sizeof res->err, "fork: %s", strerror((int)-child));
            return -FT_ERR_NO_TARGET;
        }
        to.pid = (int)child;
        to.exec = 1;
        to.cmdline = cmdline = join_argv(o->argv);
    } else {
        to.pid = o->pid;
        if (o->pid > 0) pidfd = pidfd_open_(o->pid);
        else if (!o->cgroup) to.cmdline = "";   /* -a: no target command line */
    }
    tracer *t;
    int trc = tracer_open(&t, &to, res->err, sizeof res->err);
    long owner = child > 0 || o->pid <= 0 ? -1 : proc_uid(o->pid);
    if (trc < 0 && owner >= 0 && (uid_t)owner != geteuid() && geteuid() != 0) {
        char why[200];
        snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1, res->err);
        snprintf(res->err, sizeof res->err, "process %d belongs to another user (uid %ld; "
                 "fntrace runs as uid %ld): an unprivileged user may trace only its own "
                 "processes (run fntrace as that user, or with CAP_PERFMON); %.199s",
                 o->pid, owner, (long)geteuid(), why);
    }
    if (trc < 0) {
        if (child > 0) {
            close(go_w);                  /* the held child exits without exec */
            close(err_r);
            waitpid(child, NULL, 0);
        }
        if (pidfd >= 0) close(pidfd);
        free(cmdline);
        return trc == -EPERM && o->sampler == TRACER_SAMPLER_BPF ? -EPERM : -FT_ERR_NO_TARGET;
    }
    double start = now_s();
    if (child > 0) {
        int e = 0;
        ssize_t w = write(go_w, "g", 1);
        close(go_w);
        ssize_t r = w == 1 ? read(err_r, &e, sizeof e) : -1;
        close(err_r);
        if (w != 1 || r == (ssize_t)sizeof e) {
            snprintf(res->err, sizeof res->err, "%s: %s", o->argv[0],
                     w == 1 ? strerror(e) : "could not release the command");
            waitpid(child, NULL, 0);
            tracer_free(t);
            free(cmdline);
            return -FT_ERR_NO_TARGET;
        }
    }
    for (;;) {
        int wait_ms = POLL_MS;
        if (o->duration > 0) {
            double left = o->duration - (now_s() - start);
            if (left <= 0) break;
            if (left * 1000 < wait_ms) wait_ms = (int)(left * 1000) + 1;
        }
        if (o->stop && *o->stop) break;
        tracer_poll(t, wait_ms);
        if (child > 0) {
            int st;
            if (waitpid(child, &st, WNOHANG) == child) {
                res->cmd_exited = 1;
                res->cmd_status = st;
                break;
            }
        } else if (o->pid > 0 && !attached_alive(o->pid, pidfd) && !others_alive(o)) {
            break;
        }
    }
    res->seconds = now_s() - start;
    tracer_stop(t);
    if (child > 0 && !res->cmd_exited) end_child(child, res);
    if (pidfd >= 0) close(pidfd);
    free(cmdline);
    tracer_get_stats(t, &res->stats);

    /* output: the text once, in memory when it also goes to a collector */
    int status = 0;
    char *buf = NULL;
    size_t len = 0;
    if (o->upload) {
        FILE *m = open_memstream(&buf, &len);
        int rc = m ? tracer_flush(t, m, NULL) : -ENOMEM;
        if (m && fclose(m) && !rc) rc = -ENOMEM;
        if (rc < 0) {
            snprintf(res->err, sizeof res->err, "formatting the trace: %s", strerror(-rc));
            free(buf);
            tracer_free(t);
            return rc;
        }
    }
    if (o->output) {
        status = write_file(t, o->output, buf, len, res->err, sizeof res->err);
    } else if (!o->upload) {
        int rc = tracer_flush(t, stdout, NULL);
        if (fflush(stdout) && !rc) rc = -errno;
        if (rc < 0) {
            snprintf(res->err, sizeof res->err, "stdout: %s", strerror(-rc));
            status = rc;
        }
    }
    if (o->upload && status == 0) {
        upload_drain(o->upload, &res->upload, NULL, 0);   /* older traces first */
        status = upload_submit(o->upload, buf, len, &res->upload, res->err, sizeof res->err);
        res->upload_failed = status < 0;
    }
    free(buf);
    tracer_free(t);
    return status;
}
