/* Unit tests for tracer/cgroupmap: /proc/PID/cgroup text as this machine (v1 + v2
 * hybrid), pure v2 machines, Docker, systemd, Kubernetes and Podman write it; malformed
 * and oversized input refused; the mountinfo locator; trace-name sanitizing; container
 * names from Docker's config.v2.json (files in a temporary data root, as Docker lays
 * them out); and this very process's own /proc entry. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tracer/cgroupmap.h"
#include "fterr.h"

#define ID "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"

static void parse_ok(const char *text, cgroup_info *ci)
{
    char err[256] = "";
    int rc = cgroup_parse(text, strlen(text), ci, err, sizeof err);
    if (rc) fprintf(stderr, "parse: %s\n", err);
    assert_int_equal(rc, 0);
}

static void test_hybrid_docker_v1(void **state)
{
    (void)state;
    cgroup_info ci;
    parse_ok("12:pids:/docker/" ID "\n"
             "4:memory:/docker/" ID "\n"
             "2:cpu,cpuacct:/docker/" ID "\n"
             "1:name=systemd:/docker/" ID "\n"
             "0::/\n", &ci);
    assert_int_equal(ci.nlines, 5);
    assert_string_equal(ci.container_id, ID);
    const cgroup_line *l = cgroup_line_for(&ci, "cpuacct,cpu");   /* any order */
    assert_non_null(l);
    assert_int_equal(l->hier, 2);
    l = cgroup_line_for(&ci, "");
    assert_non_null(l);
    assert_string_equal(l->path, "/");
    assert_null(cgroup_line_for(&ci, "cpu"));                    /* not the same set */
}

static void test_container_id_forms(void **state)
{
    (void)state;
    char id[CONTAINER_ID_LEN + 1];
    const char *yes[] = {
        "/system.slice/docker-" ID ".scope",
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
        "cri-containerd-" ID ".scope",
        "/kubepods/besteffort/pod7c0d/" ID,
        "/machine.slice/libpod-" ID ".scope/container",
        "/crio-" ID ".scope",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        memset(id, 0, sizeof id);
        assert_int_equal(cgroup_container_id(yes[i], id), 1);
        assert_string_equal(id, ID);
    }
    const char *no[] = {
        "/", "/user.slice/user-0.slice/session-3.scope",
        "/docker/" "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa0011223344556677889",  /* 63 */
        "/docker/" ID "0",                                                          /* 65 */
        "/docker/" "3F4E5D6C7B8A99887766554433221100FFEEDDCCBBAA00112233445566778899", /* upper */
        "/x" ID,
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_int_equal(cgroup_container_id(no[i], id), 0);
}

static void test_pure_v2_and_leaf(void **state)
{
    (void)state;
    cgroup_info ci;
    parse_ok("0::/system.slice/fn-hello.service\n", &ci);
    assert_int_equal(ci.nlines, 1);
    assert_string_equal(ci.container_id, "");
    assert_string_equal(cgroup_leaf(ci.lines[0].path), "fn-hello.service");
    assert_string_equal(cgroup_leaf("/"), "");
    assert_string_equal(cgroup_leaf("/a/b/"), "b/");   /* trailing slash kept out below */
    assert_true(cgroup_path_under("/a/b", "/a"));
    assert_true(cgroup_path_under("/a", "/a/"));
    assert_true(cgroup_path_under("/a", "/"));
    assert_false(cgroup_path_under("/ab", "/a"));
    assert_false(cgroup_path_under("/", "/a"));
}

static void test_malformed_refused(void **state)
{
    (void)state;
    cgroup_info ci;
    char err[256];
    const char *bad[] = {
        "garbage\n", "x:cpu:/a\n", "1:cpu\n", ":cpu:/a\n", "1:cpu:relative\n", "1:cpu:\n",
        "99999999999:cpu:/a\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_equal(cgroup_parse(bad[i], strlen(bad[i]), &ci, err, sizeof err),
                         -FT_ERR_BAD_INPUT);
        assert_true(err[0] != 0);
    }
    /* NUL inside, a path longer than the bound, too many hierarchies */
    assert_int_equal(cgroup_parse("1:cpu:/a\0b\n", 11, &ci, err, sizeof err), -FT_ERR_BAD_INPUT);
    char *big = malloc(CGROUP_MAX_PATH + 64);
    int n = sprintf(big, "1:cpu:/");
    memset(big + n, 'a', CGROUP_MAX_PATH);
    big[n + CGROUP_MAX_PATH] = 0;
    assert_int_equal(cgroup_parse(big, strlen(big), &ci, err, sizeof err), -FT_ERR_BAD_INPUT);
    free(big);
    char many[4096] = "";
    for (int i = 0; i <= CGROUP_MAX_LINES; i++)
        sprintf(many + strlen(many), "%d:c%d:/\n", i + 1, i);
    assert_int_equal(cgroup_parse(many, strlen(many), &ci, err, sizeof err), -FT_ERR_BAD_INPUT);
    /* blank lines and a missing final newline are fine */
    parse_ok("\n1:cpu:/a", &ci);
    assert_int_equal(ci.nlines, 1);
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[200];
    trace_name_sanitize("my function/v2:latest", "x", out, sizeof out);
    assert_string_equal(out, "my_function_v2_latest");
    trace_name_sanitize("..hidden", "x", out, sizeof out);
    assert_string_equal(out, "hidden");
    trace_name_sanitize("", "root", out, sizeof out);
    assert_string_equal(out, "root");
    trace_name_sanitize("///", "", out, sizeof out);
    assert_string_equal(out, "unknown");
    char longn[300];
    memset(longn, 'a', 299);
    longn[299] = 0;
    trace_name_sanitize(longn, "x", out, sizeof out);
    assert_int_equal(strlen(out), 128);
    trace_name_sanitize("caf\xc3\xa9", "x", out, sizeof out);
    assert_string_equal(out, "caf__");
}

static void test_mountinfo(void **state)
{
    (void)state;
    const char *mi =
        "25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
        "31 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
        "33 31 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 31 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "35 31 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
        "36 31 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "37 31 0:32 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids\n";
    char ctl[128], rel[1024];
    size_t n = strlen(mi);
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/cpu,cpuacct/fn/a", ctl,
                                         sizeof ctl, rel, sizeof rel), 0);
    assert_string_equal(ctl, "cpu,cpuacct");
    assert_string_equal(rel, "/fn/a");
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/unified", ctl, sizeof ctl, rel,
                                         sizeof rel), 0);
    assert_string_equal(ctl, "");
    assert_string_equal(rel, "/");
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/systemd/x", ctl, sizeof ctl,
                                         rel, sizeof rel), 0);
    assert_string_equal(ctl, "name=systemd");
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/memory/m", ctl, sizeof ctl,
                                         rel, sizeof rel), 0);
    assert_string_equal(rel, "/docker/abc/m");                 /* a cgroup namespace root */
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/with space/p", ctl, sizeof ctl,
                                         rel, sizeof rel), 0);
    assert_string_equal(ctl, "pids");
    assert_int_equal(cgroup_mounts_parse(mi, n, "/sys/fs/cgroup/cpux", ctl, sizeof ctl, rel,
                                         sizeof rel), -ENOENT);
    assert_int_equal(cgroup_mounts_parse(mi, n, "/tmp", ctl, sizeof ctl, rel, sizeof rel),
                     -ENOENT);
}

static void test_config_json(void **state)
{
    (void)state;
    char name[200];
    const char *faas = "{\"Name\":\"/figlet-1\",\"Config\":{\"Labels\":"
                       "{\"com.openfaas.function\":\"figlet\"}}}";
    assert_int_equal(container_parse_config(faas, strlen(faas), name, sizeof name), 1);
    assert_string_equal(name, "figlet");
    const char *plain = "{\"Name\":\"/web\",\"Config\":{\"Labels\":null}}";
    assert_int_equal(container_parse_config(plain, strlen(plain), name, sizeof name), 1);
    assert_string_equal(name, "web");
    const char *none = "{\"Config\":{}}";
    assert_int_equal(container_parse_config(none, strlen(none), name, sizeof name), 0);
    assert_int_equal(container_parse_config("{", 1, name, sizeof name), -FT_ERR_BAD_INPUT);
    const char *wrongtype = "{\"Name\":7,\"Config\":{\"Labels\":{\"faas_function\":[1]}}}";
    assert_int_equal(container_parse_config(wrongtype, strlen(wrongtype), name, sizeof name), 0);
}

static void test_namer_from_data_root(void **state)
{
    (void)state;
    char dir[] = "/tmp/cgroupmap-test-XXXXXX", path[512], name[200];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/containers", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/containers/%s", dir, ID);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/containers/%s/config.v2.json", dir, ID);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"Name\":\"/my fn\",\"Config\":{\"Labels\":{}}}", f);
    fclose(f);
    cgroup_namer *n = cgroup_namer_new("/nonexistent/docker.sock", dir);
    assert_non_null(n);
    cgroup_namer_name(n, ID, name, sizeof name);
    assert_string_equal(name, "my_fn");                       /* sanitized */
    unlink(path);
    cgroup_namer_name(n, ID, name, sizeof name);              /* cached */
    assert_string_equal(name, "my_fn");
    cgroup_namer_name(n, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                      name, sizeof name);
    assert_string_equal(name, "001122334455");                /* unknown: short id */
    cgroup_namer_free(n);
    snprintf(path, sizeof path, "%s/containers/%s", dir, ID);
    rmdir(path);
    snprintf(path, sizeof path, "%s/containers", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_own_process(void **state)
{
    (void)state;
    cgroup_info ci;
    char err[256];
    assert_int_equal(cgroup_read_pid(getpid(), &ci, err, sizeof err), 0);
    assert_true(ci.nlines >= 1);
    for (int i = 0; i < ci.nlines; i++) assert_int_equal(ci.lines[i].path[0], '/');
    assert_int_equal(cgroup_read_pid(0x7ffffff0, &ci, err, sizeof err), -ESRCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid_docker_v1),
        cmocka_unit_test(test_container_id_forms),
        cmocka_unit_test(test_pure_v2_and_leaf),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_mountinfo),
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_namer_from_data_root),
        cmocka_unit_test(test_own_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
