/* log — one line per event on stderr, `ts=… level=… msg="…" key=value…`.
 *
 * Mains and daemons log; library code returns errors instead (lib/fterr.h;
 * docs/architecture.md "Errors").
 * Thread-safe: each call writes its line with a single write(2).
 * The level threshold comes from FNTRACE_LOG (debug|info|warn|error, default info)
 * or log_set_level(). */
#ifndef FNTRACE_LOG_H
#define FNTRACE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* fmt continues the line after msg: log_msg(LOG_INFO, "listening", "port=%d", port).
 * The message is quoted; the rest is printed as given. */
void log_msg(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_msg(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_msg(LOG_ERROR, msg, __VA_ARGS__)

#endif
