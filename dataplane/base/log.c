#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDOUT_FILENO;
static atomic_int log_level = LOG_NOTICE;
static atomic_char log_role = 'M';

int log_setup(const char *path, enum log_level level)
{
    atomic_store(&log_level, level);
    if (path == NULL || path[0] == '\0') {
        log_fd = STDOUT_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    log_fd = fd;
    return 0;
}

void log_teardown(void)
{
    if (log_fd != STDOUT_FILENO)
        close(log_fd);
    log_fd = STDOUT_FILENO;
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, level);
}

enum log_level log_get_level(void)
{
    return atomic_load(&log_level);
}

void log_set_role(char role)
{
    atomic_store(&log_role, role);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    if ((int)level < atomic_load_explicit(&log_level, memory_order_relaxed) || level >= LOG_NOTHING)
        return;

    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%d:%c ", (int)getpid(), atomic_load(&log_role));
    n += (int)strftime(line + n, sizeof(line) - (size_t)n, "%d %b %Y %H:%M:%S.", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, "%03d %c ", (int)(tv.tv_usec / 1000),
                  marks[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}
