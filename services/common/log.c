/* log — JSON Lines writer shared by every service; see log.h for the field conventions. */
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"

#define LOG_LINE_MAX 4096

struct log {
	char svc[32];
	enum log_level min;
	FILE *out;
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

struct log *log_new(const char *svc, enum log_level min, FILE *out)
{
	struct log *lg = calloc(1, sizeof(*lg));
	if (!lg)
		return NULL;
	snprintf(lg->svc, sizeof(lg->svc), "%s", svc ? svc : "shiren");
	lg->min = min;
	lg->out = out ? out : stdout;
	return lg;
}

void log_free(struct log *lg)
{
	free(lg);
}

void log_set_level(struct log *lg, enum log_level min)
{
	lg->min = min;
}

enum log_level log_get_level(const struct log *lg)
{
	return lg->min;
}

const char *log_svc(const struct log *lg)
{
	return lg->svc;
}

int log_level_parse(const char *s, enum log_level *ret_level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_vwrite(struct log *lg, enum log_level lvl, const char *msg, va_list ap)
{
	if (!lg || lvl < lg->min)
		return;
	char line[LOG_LINE_MAX];
	struct json_writer w;
	json_writer_init(&w, line, sizeof(line) - 1);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char tbuf[40];
	size_t n = strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tbuf + n, sizeof(tbuf) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	json_obj_begin(&w);
	json_key_str(&w, "ts", tbuf);
	json_key_str(&w, "level", level_names[lvl]);
	json_key_str(&w, "svc", lg->svc);
	json_key_str(&w, "msg", msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		int t = va_arg(ap, int);
		switch (t) {
		case 's':
			json_key_str(&w, k, va_arg(ap, const char *));
			break;
		case 'i':
			json_key_int(&w, k, va_arg(ap, long long));
			break;
		case 'f':
			json_key_double(&w, k, va_arg(ap, double));
			break;
		case 'b':
			json_key_bool(&w, k, va_arg(ap, int));
			break;
		case 'j': {
			const char *raw = va_arg(ap, const char *);
			json_key(&w, k);
			json_raw(&w, raw, strlen(raw));
			break;
		}
		default:
			/* A malformed field list is a programming error; stop reading varargs. */
			json_key_str(&w, "log_error", "bad field type");
			goto done;
		}
	}
done:
	json_obj_end(&w);
	size_t len = json_writer_len(&w);
	if (json_writer_truncated(&w)) {
		/* Keep the line valid JSON even when a field was huge: drop the context. */
		struct json_writer s;
		json_writer_init(&s, line, sizeof(line) - 1);
		json_obj_begin(&s);
		json_key_str(&s, "ts", tbuf);
		json_key_str(&s, "level", level_names[lvl]);
		json_key_str(&s, "svc", lg->svc);
		json_key_str(&s, "msg", msg);
		json_key_bool(&s, "truncated", 1);
		json_obj_end(&s);
		len = json_writer_len(&s);
	}
	line[len++] = '\n';
	fwrite(line, 1, len, lg->out);
	fflush(lg->out);
}

void log_write(struct log *lg, enum log_level lvl, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	log_vwrite(lg, lvl, msg, ap);
	va_end(ap);
}

static struct log *libevent_log;

static void libevent_log_cb(int severity, const char *msg)
{
	enum log_level lvl = severity == EVENT_LOG_DEBUG  ? LOG_LEVEL_DEBUG
			     : severity == EVENT_LOG_MSG  ? LOG_LEVEL_INFO
			     : severity == EVENT_LOG_WARN ? LOG_LEVEL_WARN
							  : LOG_LEVEL_ERROR;
	log_write(libevent_log, lvl, "libevent", LF_S("detail", msg), LOG_END);
}

void log_route_libevent(struct log *lg)
{
	libevent_log = lg;
	event_set_log_callback(libevent_log_cb);
}
