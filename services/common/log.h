/* log — JSON Lines on a stream: ts, level, svc, msg, then typed context fields.
 * One `struct log` per process, created by main and lent to the modules that report.
 * Thread-safe: each line is formatted in a local buffer and written with one fwrite. */
#ifndef SHIREN_COMMON_LOG_H
#define SHIREN_COMMON_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

struct log;

/* Field list macros: each expands to (key, type tag, value). End the list with LOG_END. */
#define LF_S(k, v) (k), 's', (const char *)(v)
#define LF_I(k, v) (k), 'i', (long long)(v)
#define LF_F(k, v) (k), 'f', (double)(v)
#define LF_B(k, v) (k), 'b', (int)(!!(v))
/* Already-encoded JSON text (from a json_writer), embedded as a value. */
#define LF_J(k, v) (k), 'j', (const char *)(v)
#define LOG_END	   ((const char *)0)

/* `svc` is copied. `out` is borrowed (stdout normally); NULL means stdout. */
struct log *log_new(const char *svc, enum log_level min, FILE *out);
void log_free(struct log *lg);
void log_set_level(struct log *lg, enum log_level min);
enum log_level log_get_level(const struct log *lg);
const char *log_svc(const struct log *lg);
/* "debug|info|warn|error" -> level. 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *ret_level);

/* Write one line: fields are LF_* triples terminated by LOG_END. A NULL `lg` is a no-op. */
void log_write(struct log *lg, enum log_level lvl, const char *msg, ...);
void log_vwrite(struct log *lg, enum log_level lvl, const char *msg, va_list ap);

#define log_debug(lg, ...) log_write((lg), LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(lg, ...)  log_write((lg), LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(lg, ...)  log_write((lg), LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(lg, ...) log_write((lg), LOG_LEVEL_ERROR, __VA_ARGS__)

/* Route libevent's internal messages into `lg`. libevent's callback takes no user pointer, so
 * this keeps the one file-static pointer in common; call once from main. */
void log_route_libevent(struct log *lg);

#endif
