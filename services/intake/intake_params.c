/* intake_params — strict percent-decoding of query and form parameters into one bounded list.
 * One arena holds every decoded key and value: decoding never grows a string, so the raw
 * lengths plus two terminators per pair bound it exactly. */
#include "intake/intake_params.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

struct parse_ctx {
	const struct intake_params_limits *lim;
	struct intake_params *out;
	struct intake_params_error *err;
	char *cursor; /* next free byte of out->arena */
};

void intake_params_limits_default(struct intake_params_limits *ret)
{
	ret->max_params = INTAKE_PARAMS_DEFAULT_MAX_PARAMS;
	ret->max_key_len = INTAKE_PARAMS_DEFAULT_MAX_KEY_LEN;
	ret->max_value_len = INTAKE_PARAMS_DEFAULT_MAX_VALUE_LEN;
	ret->query_plus_is_space = true;
	ret->allow_duplicates = false;
}

/* Decodes `n` raw bytes into `out` (room for n bytes). Returns the decoded length, or -1 on a
 * malformed escape. */
static long pct_decode(const char *in, size_t n, bool plus_is_space, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			int hi = crypto_hex_digit((unsigned char)in[i + 1]);
			int lo = crypto_hex_digit((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
	}
	return (long)o;
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			unsigned char cc = s[i + k];
			if ((cc & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

static bool key_valid(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

static int fail(struct parse_ctx *ctx, enum intake_params_status st, enum intake_params_src src,
		size_t offset, const char *key, size_t key_len, const char *detail)
{
	struct intake_params_error *e = ctx->err;
	if (!e)
		return st == INTAKE_PARAMS_NO_MEMORY ? -ENOMEM : -EINVAL;
	e->status = st;
	e->err = st == INTAKE_PARAMS_NO_MEMORY ? INTAKE_ERR_INTERNAL_ERROR
					       : INTAKE_ERR_INVALID_PARAMETER;
	e->src = src;
	e->offset = offset;
	e->detail = detail;
	e->name[0] = '\0';
	if (key && key_len <= INTAKE_PARAMS_NAME_ECHO_MAX && key_valid(key, key_len)) {
		memcpy(e->name, key, key_len);
		e->name[key_len] = '\0';
	}
	return st == INTAKE_PARAMS_NO_MEMORY ? -ENOMEM : -EINVAL;
}

static int parse_pair(struct parse_ctx *ctx, const char *seg, size_t n, enum intake_params_src src,
		      size_t offset, bool plus)
{
	const struct intake_params_limits *lim = ctx->lim;
	const char *eq = memchr(seg, '=', n);
	size_t kraw = eq ? (size_t)(eq - seg) : n;
	const char *vraw = eq ? eq + 1 : seg + n;
	size_t vraw_len = eq ? n - kraw - 1 : 0;
	char *key = ctx->cursor;
	long klen, vlen;

	if (ctx->out->count >= lim->max_params)
		return fail(ctx, INTAKE_PARAMS_TOO_MANY, src, offset, NULL, 0,
			    "Too many parameters.");
	klen = pct_decode(seg, kraw, plus, key);
	if (klen < 0)
		return fail(ctx, INTAKE_PARAMS_BAD_ESCAPE, src, offset, NULL, 0,
			    "Malformed percent-encoding in a parameter name.");
	if ((size_t)klen > lim->max_key_len)
		return fail(ctx, INTAKE_PARAMS_KEY_TOO_LONG, src, offset, NULL, 0,
			    "Parameter name too long.");
	if (!key_valid(key, (size_t)klen))
		return fail(ctx, INTAKE_PARAMS_BAD_KEY, src, offset, NULL, 0,
			    "Parameter names must be non-empty printable ASCII.");
	key[klen] = '\0';

	char *value = key + klen + 1;
	vlen = pct_decode(vraw, vraw_len, plus, value);
	if (vlen < 0)
		return fail(ctx, INTAKE_PARAMS_BAD_ESCAPE, src, offset, key, (size_t)klen,
			    "Malformed percent-encoding.");
	if ((size_t)vlen > lim->max_value_len)
		return fail(ctx, INTAKE_PARAMS_VALUE_TOO_LONG, src, offset, key, (size_t)klen,
			    "Value too long.");
	if (memchr(value, '\0', (size_t)vlen))
		return fail(ctx, INTAKE_PARAMS_NUL_BYTE, src, offset, key, (size_t)klen,
			    "NUL byte in value.");
	if (!utf8_valid((const unsigned char *)value, (size_t)vlen))
		return fail(ctx, INTAKE_PARAMS_BAD_UTF8, src, offset, key, (size_t)klen,
			    "Value is not valid UTF-8.");
	value[vlen] = '\0';
	ctx->cursor = value + vlen + 1;

	struct intake_param *p = &ctx->out->items[ctx->out->count++];
	p->key = key;
	p->key_len = (size_t)klen;
	p->value = value;
	p->value_len = (size_t)vlen;
	p->src = src;
	return 0;
}

static int parse_source(struct parse_ctx *ctx, const char *s, size_t len,
			enum intake_params_src src, bool plus)
{
	size_t pos = 0;
	while (pos < len) {
		const char *amp = memchr(s + pos, '&', len - pos);
		size_t end = amp ? (size_t)(amp - s) : len;
		if (end > pos) {
			int rc = parse_pair(ctx, s + pos, end - pos, src, pos, plus);
			if (rc < 0)
				return rc;
		}
		pos = end + 1;
	}
	return 0;
}

/* Non-empty '&'-separated segments, stopping early once past `cap`. */
static size_t count_pairs(const char *s, size_t len, size_t cap)
{
	size_t n = 0, pos = 0;
	while (pos < len && n <= cap) {
		const char *amp = memchr(s + pos, '&', len - pos);
		size_t end = amp ? (size_t)(amp - s) : len;
		if (end > pos)
			n++;
		pos = end + 1;
	}
	return n;
}

static int cmp_param_ptr(const void *a, const void *b)
{
	const struct intake_param *pa = *(const struct intake_param *const *)a;
	const struct intake_param *pb = *(const struct intake_param *const *)b;
	return strcmp(pa->key, pb->key);
}

const char *intake_params_find_duplicate(const struct intake_params *p)
{
	const char *dup = NULL;
	if (!p || p->count < 2)
		return NULL;
	const struct intake_param **v = malloc(p->count * sizeof(*v));
	if (!v) {
		/* Quadratic fallback keeps the answer correct under memory pressure. */
		for (size_t i = 0; i < p->count && !dup; i++)
			for (size_t j = i + 1; j < p->count && !dup; j++)
				if (strcmp(p->items[i].key, p->items[j].key) == 0)
					dup = p->items[i].key;
		return dup;
	}
	for (size_t i = 0; i < p->count; i++)
		v[i] = &p->items[i];
	qsort(v, p->count, sizeof(*v), cmp_param_ptr);
	for (size_t i = 1; i < p->count && !dup; i++)
		if (strcmp(v[i - 1]->key, v[i]->key) == 0)
			dup = v[i]->key;
	free(v);
	return dup;
}

int intake_params_parse(struct intake_params *ret, const char *query, size_t query_len,
			const char *form, size_t form_len, const struct intake_params_limits *lim,
			struct intake_params_error *ret_err)
{
	struct intake_params_limits defaults;
	struct parse_ctx ctx = {.out = ret, .err = ret_err};
	int rc;

	if (!lim) {
		intake_params_limits_default(&defaults);
		lim = &defaults;
	}
	ctx.lim = lim;
	if (ret_err)
		*ret_err = (struct intake_params_error){.status = INTAKE_PARAMS_OK};
	*ret = (struct intake_params){0};
	if (!query)
		query_len = 0;
	if (!form)
		form_len = 0;

	size_t nq = count_pairs(query, query_len, lim->max_params);
	size_t nb = count_pairs(form, form_len, lim->max_params);
	if (nq > lim->max_params || nb > lim->max_params || nq + nb > lim->max_params)
		return fail(&ctx, INTAKE_PARAMS_TOO_MANY,
			    nq > lim->max_params ? INTAKE_PARAMS_SRC_QUERY : INTAKE_PARAMS_SRC_BODY,
			    0, NULL, 0, "Too many parameters.");
	size_t n = nq + nb;
	size_t arena_len;
	if (__builtin_add_overflow(query_len, form_len, &arena_len) ||
	    __builtin_add_overflow(arena_len, n, &arena_len) ||
	    __builtin_add_overflow(arena_len, n + 1, &arena_len))
		return fail(&ctx, INTAKE_PARAMS_NO_MEMORY, INTAKE_PARAMS_SRC_QUERY, 0, NULL, 0,
			    "Request too large.");
	ret->items = calloc(n ? n : 1, sizeof(*ret->items));
	ret->arena = malloc(arena_len);
	if (!ret->items || !ret->arena) {
		rc = fail(&ctx, INTAKE_PARAMS_NO_MEMORY, INTAKE_PARAMS_SRC_QUERY, 0, NULL, 0,
			  "Out of memory.");
		goto fail;
	}
	ctx.cursor = ret->arena;

	rc = parse_source(&ctx, query, query_len, INTAKE_PARAMS_SRC_QUERY,
			  lim->query_plus_is_space);
	if (rc < 0)
		goto fail;
	rc = parse_source(&ctx, form, form_len, INTAKE_PARAMS_SRC_BODY, true);
	if (rc < 0)
		goto fail;

	if (!lim->allow_duplicates) {
		const char *dup = intake_params_find_duplicate(ret);
		if (dup) {
			const struct intake_param *first = intake_params_find(ret, dup);
			rc = fail(&ctx, INTAKE_PARAMS_DUPLICATE, first->src, 0, dup, strlen(dup),
				  "Parameter given more than once.");
			goto fail;
		}
	}
	return 0;
fail:
	intake_params_done(ret);
	return rc;
}

void intake_params_done(struct intake_params *p)
{
	if (!p)
		return;
	free(p->items);
	free(p->arena);
	*p = (struct intake_params){0};
}

const struct intake_param *intake_params_find(const struct intake_params *p, const char *key)
{
	if (!p || !key)
		return NULL;
	for (size_t i = 0; i < p->count; i++)
		if (strcmp(p->items[i].key, key) == 0)
			return &p->items[i];
	return NULL;
}

const char *intake_params_get(const struct intake_params *p, const char *key)
{
	const struct intake_param *it = intake_params_find(p, key);
	return it ? it->value : NULL;
}

bool intake_params_is_form(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	for (size_t i = 0; i < n; i++) {
		char c = ct[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != want[i])
			return false;
	}
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

const char *intake_params_status_name(enum intake_params_status s)
{
	switch (s) {
	case INTAKE_PARAMS_OK:
		return "ok";
	case INTAKE_PARAMS_BAD_ESCAPE:
		return "bad_escape";
	case INTAKE_PARAMS_BAD_UTF8:
		return "bad_utf8";
	case INTAKE_PARAMS_NUL_BYTE:
		return "nul_byte";
	case INTAKE_PARAMS_BAD_KEY:
		return "bad_key";
	case INTAKE_PARAMS_DUPLICATE:
		return "duplicate";
	case INTAKE_PARAMS_TOO_MANY:
		return "too_many";
	case INTAKE_PARAMS_KEY_TOO_LONG:
		return "key_too_long";
	case INTAKE_PARAMS_VALUE_TOO_LONG:
		return "value_too_long";
	case INTAKE_PARAMS_NO_MEMORY:
		return "no_memory";
	}
	return "unknown";
}

int intake_params_error_render(const struct intake_params_error *e, char *code, size_t code_cap,
			       char *msg, size_t msg_cap)
{
	return intake_err_render(e->err, e->name[0] ? e->name : NULL, e->detail, code, code_cap,
				 msg, msg_cap);
}
