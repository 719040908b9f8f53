/* json — bounded JSON text writer (see json.h). */
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void json_writer_init(struct json_writer *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->truncated = false;
	w->need_comma = false;
	if (cap)
		buf[0] = '\0';
}

size_t json_writer_len(const struct json_writer *w)
{
	return w->len;
}

bool json_writer_truncated(const struct json_writer *w)
{
	return w->truncated;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->truncated)
		return;
	if (n > w->cap - w->len) {
		w->truncated = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	if (w->len < w->cap)
		w->buf[w->len] = '\0';
}

static void sep(struct json_writer *w)
{
	if (w->need_comma)
		put(w, ",", 1);
	w->need_comma = true;
}

void json_obj_begin(struct json_writer *w)
{
	sep(w);
	put(w, "{", 1);
	w->need_comma = false;
}

void json_obj_end(struct json_writer *w)
{
	put(w, "}", 1);
	w->need_comma = true;
}

void json_arr_begin(struct json_writer *w)
{
	sep(w);
	put(w, "[", 1);
	w->need_comma = false;
}

void json_arr_end(struct json_writer *w)
{
	put(w, "]", 1);
	w->need_comma = true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_escaped(struct json_writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	put(w, "\"", 1);
	size_t i = 0;
	while (i < n && !w->truncated) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(w, e, 2);
			i++;
		} else if (c < 0x20) {
			char e[8];
			const char *named = c == '\n'	? "\\n"
					    : c == '\r' ? "\\r"
					    : c == '\t' ? "\\t"
							: NULL;
			if (named) {
				put(w, named, 2);
			} else {
				snprintf(e, sizeof(e), "\\u%04x", c);
				put(w, e, 6);
			}
			i++;
		} else {
			size_t l = utf8_seq(s + i, n - i);
			if (l == 0) {
				put(w, "\\ufffd", 6);
				i++;
			} else {
				put(w, (const char *)s + i, l);
				i += l;
			}
		}
	}
	put(w, "\"", 1);
}

void json_key(struct json_writer *w, const char *k)
{
	sep(w);
	put_escaped(w, k, strlen(k));
	put(w, ":", 1);
	w->need_comma = false;
}

void json_strn(struct json_writer *w, const char *s, size_t n)
{
	sep(w);
	put_escaped(w, s, n);
}

void json_str(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_strn(w, s, strlen(s));
}

void json_int(struct json_writer *w, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", v);
	sep(w);
	put(w, b, (size_t)n);
}

void json_double(struct json_writer *w, double v)
{
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	char b[40];
	int n = snprintf(b, sizeof(b), "%.17g", v);
	/* Prefer the shortest text that reads back exactly. */
	for (int prec = 1; prec < 17; prec++) {
		char t[40];
		int m = snprintf(t, sizeof(t), "%.*g", prec, v);
		double back;
		if (sscanf(t, "%lf", &back) == 1 && back == v) {
			memcpy(b, t, (size_t)m + 1);
			n = m;
			break;
		}
	}
	sep(w);
	put(w, b, (size_t)n);
}

void json_bool(struct json_writer *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	sep(w);
	put(w, "null", 4);
}

void json_raw(struct json_writer *w, const char *s, size_t n)
{
	sep(w);
	put(w, s, n);
}

void json_key_str(struct json_writer *w, const char *k, const char *s)
{
	json_key(w, k);
	json_str(w, s);
}

void json_key_int(struct json_writer *w, const char *k, long long v)
{
	json_key(w, k);
	json_int(w, v);
}

void json_key_double(struct json_writer *w, const char *k, double v)
{
	json_key(w, k);
	json_double(w, v);
}

void json_key_bool(struct json_writer *w, const char *k, bool v)
{
	json_key(w, k);
	json_bool(w, v);
}
