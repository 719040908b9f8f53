/* intake_json — strict JSON syntax check by recursive descent (intake_json.h). */
#include "intake/intake_json.h"

#include <string.h>

struct jp {
	const char *s, *e;
	int depth;
};

static void jp_ws(struct jp *j)
{
	while (j->s < j->e && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r'))
		j->s++;
}

static bool jp_value(struct jp *j);

static bool jp_string(struct jp *j)
{
	if (j->s >= j->e || *j->s != '"')
		return false;
	for (j->s++; j->s < j->e; j->s++) {
		unsigned char c = (unsigned char)*j->s;
		if (c == '"') {
			j->s++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->s >= j->e)
				return false;
			if (*j->s == 'u') {
				for (int k = 0; k < 4; k++) {
					char h = ++j->s < j->e ? *j->s : 0;
					if (!((h >= '0' && h <= '9') ||
					      ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')))
						return false;
				}
			} else if (!strchr("\"\\/bfnrt", *j->s) || *j->s == 0) {
				return false;
			}
		}
	}
	return false;
}

static bool jp_number(struct jp *j)
{
	const char *s = j->s;
	if (s < j->e && *s == '-')
		s++;
	if (s >= j->e)
		return false;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (s < j->e && *s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (s < j->e && *s == '.') {
		const char *d = ++s;
		while (s < j->e && *s >= '0' && *s <= '9')
			s++;
		if (s == d)
			return false;
	}
	if (s < j->e && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < j->e && (*s == '+' || *s == '-'))
			s++;
		const char *d = s;
		while (s < j->e && *s >= '0' && *s <= '9')
			s++;
		if (s == d)
			return false;
	}
	j->s = s;
	return true;
}

static bool jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->e - j->s) < n || memcmp(j->s, w, n) != 0)
		return false;
	j->s += n;
	return true;
}

static bool jp_container(struct jp *j, char open)
{
	char close = open == '{' ? '}' : ']';
	if (++j->depth > INTAKE_JSON_MAX_DEPTH)
		return false;
	j->s++;
	jp_ws(j);
	if (j->s < j->e && *j->s == close) {
		j->s++;
		j->depth--;
		return true;
	}
	for (;;) {
		if (open == '{') {
			if (!jp_string(j))
				return false;
			jp_ws(j);
			if (j->s >= j->e || *j->s != ':')
				return false;
			j->s++;
			jp_ws(j);
		}
		if (!jp_value(j))
			return false;
		jp_ws(j);
		if (j->s < j->e && *j->s == ',') {
			j->s++;
			jp_ws(j);
			continue;
		}
		if (j->s < j->e && *j->s == close) {
			j->s++;
			j->depth--;
			return true;
		}
		return false;
	}
}

static bool jp_value(struct jp *j)
{
	if (j->s >= j->e)
		return false;
	switch (*j->s) {
	case '{':
	case '[':
		return jp_container(j, *j->s);
	case '"':
		return jp_string(j);
	case 't':
		return jp_word(j, "true");
	case 'f':
		return jp_word(j, "false");
	case 'n':
		return jp_word(j, "null");
	default:
		return jp_number(j);
	}
}

bool intake_json_valid(const char *s, size_t n, char top)
{
	struct jp j = {s, s + n, 0};
	jp_ws(&j);
	if (j.s >= j.e || *j.s != top || !jp_value(&j))
		return false;
	jp_ws(&j);
	return j.s == j.e;
}
