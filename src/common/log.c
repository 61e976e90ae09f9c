/*
 * log.c - see log.h.
 */
#include "common/log.h"

#include "common/buf.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int current_level = LOG_LEVEL_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < (int)ARRAY_LEN(level_names); i++)
        if (str_eq(name, level_names[i]))
            return i;
    return -1;
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&current_level, memory_order_relaxed);
}

void log_set_fd(int fd)
{
    atomic_store(&out_fd, fd);
}

void log_write(enum log_level level, const char *sub, const char *req, const char *extra,
               const char *fmt, ...)
{
    struct buf line = BUF_INIT;
    struct buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);

    buf_reserve(&line, 256);
    buf_puts(&line, "{\"time\":");
    json_time(&line, now_ms());
    buf_puts(&line, ",\"level\":\"");
    buf_puts(&line, level_names[level]);
    buf_puts(&line, "\",\"sub\":");
    json_str(&line, sub ? sub : "main");
    if (req) {
        buf_puts(&line, ",\"req\":");
        json_str(&line, req);
    }
    buf_puts(&line, ",\"msg\":");
    json_strn(&line, msg.data ? msg.data : "", msg.len);
    if (extra && *extra) {
        buf_putc(&line, ',');
        buf_puts(&line, extra);
    }
    buf_puts(&line, "}\n");
    ssize_t off = 0;
    int fd = atomic_load(&out_fd);
    while ((size_t)off < line.len) {
        ssize_t w = write(fd, line.data + off, line.len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
    buf_free(&line);
    buf_free(&msg);
}
