/* libFuzzer target for tracer/cgroupmap's parsers, the outside input of the agent's
 * pid -> container mapping.  For any input:
 *   - cgroup_parse (as /proc/PID/cgroup) neither crashes nor reads past the input; on
 *     success every path is absolute and NUL-free, a container id found is 64 hex;
 *   - cgroup_mounts_parse (as /proc/self/mountinfo) for a few paths, and
 *     container_parse_config (as config.v2.json) do not crash;
 *   - trace_name_sanitize of any text yields a valid trace name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tracer/cgroupmap.h"

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 128 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so reading past the input is caught */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    static cgroup_info ci;
    char err[128];
    if (cgroup_parse(buf, size, &ci, err, sizeof err) == 0) {
        for (int i = 0; i < ci.nlines; i++) {
            if (ci.lines[i].path[0] != '/') abort();
            char name[130];
            trace_name_sanitize(cgroup_leaf(ci.lines[i].path), "root", name, sizeof name);
            if (!valid_name(name)) abort();
            (void)cgroup_path_under(ci.lines[i].path, "/docker");
        }
        if (ci.container_id[0] && strlen(ci.container_id) != CONTAINER_ID_LEN) abort();
        (void)cgroup_line_for(&ci, "cpu,cpuacct");
        (void)cgroup_line_for(&ci, "");
    }
    char ctl[128], rel[1024];
    static const char *const paths[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/cpu/a", "/" };
    for (size_t i = 0; i < 3; i++)
        (void)cgroup_mounts_parse(buf, size, paths[i], ctl, sizeof ctl, rel, sizeof rel);
    char name[200];
    (void)container_parse_config(buf, size, name, sizeof name);
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = 0;
        char out[130];
        trace_name_sanitize(text, "x", out, sizeof out);
        if (!valid_name(out)) abort();
        char id[CONTAINER_ID_LEN + 1];
        if (cgroup_container_id(text, id) && strlen(id) != CONTAINER_ID_LEN) abort();
        free(text);
    }
    free(buf);
    return 0;
}
