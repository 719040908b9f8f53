/* json — a bounded JSON writer into a caller-owned buffer. Never overflows: once the buffer is
 * full the writer is marked truncated and further output is dropped. Strings are escaped;
 * invalid UTF-8 becomes U+FFFD so the output is always valid JSON text. */
#ifndef SHIREN_COMMON_JSON_H
#define SHIREN_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_writer {
	char *buf;
	size_t cap; /* usable bytes; buf[len] is kept NUL when there is room */
	size_t len;
	bool truncated;
	bool need_comma;
};

void json_writer_init(struct json_writer *w, char *buf, size_t cap);
size_t json_writer_len(const struct json_writer *w);
bool json_writer_truncated(const struct json_writer *w);

void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
/* A key inside an object; the next value call writes its value. */
void json_key(struct json_writer *w, const char *k);
void json_str(struct json_writer *w, const char *s); /* NULL writes null */
void json_strn(struct json_writer *w, const char *s, size_t n);
void json_int(struct json_writer *w, long long v);
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Already-encoded JSON (trusted, produced by another writer). */
void json_raw(struct json_writer *w, const char *s, size_t n);

void json_key_str(struct json_writer *w, const char *k, const char *s);
void json_key_int(struct json_writer *w, const char *k, long long v);
void json_key_double(struct json_writer *w, const char *k, double v);
void json_key_bool(struct json_writer *w, const char *k, bool v);

#endif
