/*
 * Log lines in Redis's format ("pid:M 23 Nov 2026 19:35:17.123 * text"), so
 * tools that read Redis logs read ours. Safe to call from any thread; a line
 * is written with one write(2). Never called on the per-request path.
 */
#ifndef POLLUX_LOG_H
#define POLLUX_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };

/* Open `path` for appending ("" or NULL means standard output). 0 or -errno. */
int log_setup(const char *path, enum log_level level);
void log_teardown(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Role letter in each line: 'M' primary, 'S' replica. */
void log_set_role(char role);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_write(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_write(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_write(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...)    log_write(LOG_WARNING, __VA_ARGS__)

#endif
