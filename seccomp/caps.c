/* caps — see caps.h.  The table follows linux/capability.h numbering. */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "errbuf.h"
#include "fterr.h"

static const char *const names[SC_CAP_COUNT] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

int sc_cap_number(const char *name)
{
    for (int i = 0; name && i < SC_CAP_COUNT; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

const char *sc_cap_name(int number)
{
    return number >= 0 && number < SC_CAP_COUNT ? names[number] : NULL;
}

uint64_t sc_caps_docker_default(void)
{
    /* moby's oci/caps DefaultCapabilities */
    static const char *const dflt[] = {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    };
    uint64_t set = 0;
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++)
        set |= 1ULL << sc_cap_number(dflt[i]);
    return set;
}

int sc_caps_parse(const char *list, uint64_t *set, char *err, size_t errlen)
{
    *set = 0;
    if (!list) return 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) { p++; len--; }
        while (len && isspace((unsigned char)p[len - 1])) len--;
        char word[64];
        if (len >= sizeof word) {
            err_set(err, errlen, "capability name too long: %.40s...", p);
            return -FT_ERR_BAD_INPUT;
        }
        memcpy(word, p, len);
        word[len] = '\0';
        if (len == 0) {
            /* empty item: "" or "A,,B" */
        } else if (!strcasecmp(word, "all")) {
            *set = (SC_CAP_COUNT >= 64) ? ~0ULL : ((1ULL << SC_CAP_COUNT) - 1);
        } else if (!strcasecmp(word, "none")) {
            *set = 0;
        } else {
            char full[80];
            snprintf(full, sizeof full, "%s%s", strncasecmp(word, "CAP_", 4) ? "CAP_" : "", word);
            for (char *c = full; *c; c++) *c = (char)toupper((unsigned char)*c);
            int n = sc_cap_number(full);
            if (n < 0) {
                err_set(err, errlen, "unknown capability \"%s\"", word);
                return -FT_ERR_BAD_INPUT;
            }
            *set |= 1ULL << n;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int sc_caps_bounding(uint64_t *set, char *err, size_t errlen)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        int e = errno;
        err_set(err, errlen, "/proc/self/status: %s", strerror(e));
        return -e;
    }
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "CapBnd: %llx", &v) == 1) {
            *set = (uint64_t)v;
            found = 1;
            break;
        }
    }
    fclose(f);
    if (!found) {
        err_set(err, errlen, "/proc/self/status has no CapBnd line");
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

char *sc_caps_format(uint64_t set, char *buf, size_t len)
{
    size_t used = 0;
    if (!len) return buf;
    buf[0] = '\0';
    for (int i = 0; i < SC_CAP_COUNT; i++) {
        if (!(set & (1ULL << i))) continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i]);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
    if (!used) snprintf(buf, len, "none");
    return buf;
}
