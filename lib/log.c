/* log — see log.h.  The line is formatted into a stack buffer and written with one
 * write(2) so concurrent threads never interleave inside a line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int threshold = -1;

static int level_from_env(void)
{
    const char *s = getenv("FNTRACE_LOG");
    if (!s) return LOG_INFO;
    if (!strcasecmp(s, "debug")) return LOG_DEBUG;
    if (!strcasecmp(s, "warn")) return LOG_WARN;
    if (!strcasecmp(s, "error")) return LOG_ERROR;
    return LOG_INFO;
}

void log_set_level(enum log_level level) { threshold = (int)level; }

int log_enabled(enum log_level level)
{
    if (threshold < 0) threshold = level_from_env();
    return (int)level >= threshold;
}

static size_t append_quoted(char *buf, size_t len, size_t cap, const char *s)
{
    if (len < cap) buf[len++] = '"';
    for (; *s && len + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { buf[len++] = '\\'; buf[len++] = (char)c; }
        else if (c == '\n') { buf[len++] = '\\'; buf[len++] = 'n'; }
        else if (c < 0x20 || c == 0x7f) buf[len++] = '?';
        else buf[len++] = (char)c;
    }
    if (len < cap) buf[len++] = '"';
    return len;
}

void log_msg(enum log_level level, const char *msg, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    if (!log_enabled(level)) return;
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t cap = sizeof buf - 1;
    int n = snprintf(buf, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
    size_t len = n > 0 ? (size_t)n : 0;
    len = append_quoted(buf, len, cap, msg ? msg : "");
    if (fmt && *fmt && len + 1 < cap) {
        buf[len++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        n = vsnprintf(buf + len, cap - len, fmt, ap);
        va_end(ap);
        if (n > 0) len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
    }
    for (size_t i = 0; i < len; i++)   /* one event, one line */
        if (buf[i] == '\n') buf[i] = ' ';
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}
