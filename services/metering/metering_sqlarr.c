/* metering_sqlarr — array literal builder (metering_sqlarr.h). */
#include "metering/metering_sqlarr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mt_arr_init(struct mt_arr *a)
{
	memset(a, 0, sizeof(*a));
}

void mt_arr_reset(struct mt_arr *a)
{
	a->len = 0;
	a->n = 0;
	a->err = 0;
}

void mt_arr_free(struct mt_arr *a)
{
	free(a->buf);
	mt_arr_init(a);
}

/* Room for `more` bytes plus the closing "}" and NUL. */
static bool reserve(struct mt_arr *a, size_t more)
{
	if (a->err)
		return false;
	size_t need = a->len + more + 3;
	if (need <= a->cap)
		return true;
	if (need > MT_ARR_MAX) {
		a->err = -E2BIG;
		return false;
	}
	size_t cap = a->cap ? a->cap : 4096;
	while (cap < need)
		cap *= 2;
	char *b = realloc(a->buf, cap);
	if (!b) {
		a->err = -ENOMEM;
		return false;
	}
	a->buf = b;
	a->cap = cap;
	return true;
}

/* The separator before the next element ('{' before the first). */
static void sep(struct mt_arr *a)
{
	a->buf[a->len++] = a->n++ ? ',' : '{';
}

void mt_arr_text(struct mt_arr *a, const char *s)
{
	if (!s) {
		mt_arr_null(a);
		return;
	}
	size_t l = strlen(s);
	if (!reserve(a, 2 * l + 3))
		return;
	sep(a);
	a->buf[a->len++] = '"';
	for (size_t i = 0; i < l; i++) {
		if (s[i] == '"' || s[i] == '\\')
			a->buf[a->len++] = '\\';
		a->buf[a->len++] = s[i];
	}
	a->buf[a->len++] = '"';
}

void mt_arr_int(struct mt_arr *a, int64_t v)
{
	if (!reserve(a, 22))
		return;
	sep(a);
	a->len += (size_t)snprintf(a->buf + a->len, a->cap - a->len, "%" PRId64, v);
}

void mt_arr_bool(struct mt_arr *a, bool v)
{
	if (!reserve(a, 2))
		return;
	sep(a);
	a->buf[a->len++] = v ? 't' : 'f';
}

void mt_arr_null(struct mt_arr *a)
{
	if (!reserve(a, 5))
		return;
	sep(a);
	memcpy(a->buf + a->len, "NULL", 4);
	a->len += 4;
}

int mt_arr_end(struct mt_arr *a)
{
	if (!reserve(a, 0))
		return a->err;
	if (a->n == 0)
		a->buf[a->len++] = '{';
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
	return 0;
}

/* ---- binary ---- */

void mt_bin_init(struct mt_bin *b)
{
	memset(b, 0, sizeof(*b));
}

void mt_bin_reset(struct mt_bin *b)
{
	b->len = 0;
	b->err = 0;
}

void mt_bin_free(struct mt_bin *b)
{
	free(b->buf);
	mt_bin_init(b);
}

static bool bin_reserve(struct mt_bin *b, size_t more)
{
	if (b->err)
		return false;
	if (b->len + more <= b->cap)
		return true;
	if (b->len + more > MT_ARR_MAX) {
		b->err = -E2BIG;
		return false;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->buf, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void mt_bin_raw(struct mt_bin *b, const void *p, size_t n)
{
	if (!bin_reserve(b, n))
		return;
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void mt_bin_u16(struct mt_bin *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	mt_bin_raw(b, x, 2);
}

void mt_bin_u32(struct mt_bin *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	mt_bin_raw(b, x, 4);
}

void mt_bin_u64(struct mt_bin *b, uint64_t v)
{
	mt_bin_u32(b, (uint32_t)(v >> 32));
	mt_bin_u32(b, (uint32_t)v);
}

void mt_bin_f_int8(struct mt_bin *b, int64_t v)
{
	mt_bin_u32(b, 8);
	mt_bin_u64(b, (uint64_t)v);
}

void mt_bin_f_int4(struct mt_bin *b, int32_t v)
{
	mt_bin_u32(b, 4);
	mt_bin_u32(b, (uint32_t)v);
}

void mt_bin_f_int2(struct mt_bin *b, int16_t v)
{
	mt_bin_u32(b, 2);
	mt_bin_u16(b, (uint16_t)v);
}

void mt_bin_f_bool(struct mt_bin *b, bool v)
{
	uint8_t x = v ? 1 : 0;
	mt_bin_u32(b, 1);
	mt_bin_raw(b, &x, 1);
}

void mt_bin_f_null(struct mt_bin *b)
{
	mt_bin_u32(b, 0xffffffffu);
}

void mt_bin_f_text(struct mt_bin *b, const char *s)
{
	if (!s) {
		mt_bin_f_null(b);
		return;
	}
	size_t n = strlen(s);
	mt_bin_u32(b, (uint32_t)n);
	mt_bin_raw(b, s, n);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void mt_bin_f_uuid(struct mt_bin *b, const char *s)
{
	uint8_t u[16];
	size_t k = 0;
	for (const char *p = s; p && *p && k < 16; p++) {
		if (*p == '-')
			continue;
		int hi = hexval(p[0]), lo = p[1] ? hexval(p[1]) : -1;
		if (hi < 0 || lo < 0)
			break;
		u[k++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	if (k != 16) {
		if (!b->err)
			b->err = -EINVAL;
		return;
	}
	mt_bin_u32(b, 16);
	mt_bin_raw(b, u, 16);
}

void mt_barr_init(struct mt_barr *a)
{
	memset(a, 0, sizeof(*a));
	mt_bin_init(&a->b);
}

void mt_barr_reset(struct mt_barr *a, uint32_t oid)
{
	mt_bin_reset(&a->b);
	a->oid = oid;
	a->n = 0;
	a->has_null = false;
	/* Header placeholder: ndim, has_null, oid, dim, lower bound (filled by _end). */
	for (int i = 0; i < 5; i++)
		mt_bin_u32(&a->b, 0);
}

void mt_barr_free(struct mt_barr *a)
{
	mt_bin_free(&a->b);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int mt_barr_end(struct mt_barr *a, const char **ret, int *ret_len)
{
	if (a->b.err)
		return a->b.err;
	if (a->b.len > INT32_MAX)
		return -E2BIG;
	uint8_t *h = a->b.buf;
	if (a->n == 0) {
		/* An empty array has no dimensions: a 12-byte header. */
		put32(h, 0);
		put32(h + 4, 0);
		put32(h + 8, a->oid);
		*ret = (const char *)h;
		*ret_len = 12;
		return 0;
	}
	put32(h, 1);
	put32(h + 4, a->has_null ? 1 : 0);
	put32(h + 8, a->oid);
	put32(h + 12, (uint32_t)a->n);
	put32(h + 16, 1);
	*ret = (const char *)h;
	*ret_len = (int)a->b.len;
	return 0;
}

void mt_barr_int8(struct mt_barr *a, int64_t v)
{
	mt_bin_f_int8(&a->b, v);
	a->n++;
}

void mt_barr_int4(struct mt_barr *a, int32_t v)
{
	mt_bin_f_int4(&a->b, v);
	a->n++;
}

void mt_barr_int2(struct mt_barr *a, int16_t v)
{
	mt_bin_f_int2(&a->b, v);
	a->n++;
}

void mt_barr_bool(struct mt_barr *a, bool v)
{
	mt_bin_f_bool(&a->b, v);
	a->n++;
}

void mt_barr_text(struct mt_barr *a, const char *s)
{
	if (!s) {
		mt_barr_null(a);
		return;
	}
	mt_bin_f_text(&a->b, s);
	a->n++;
}

void mt_barr_uuid(struct mt_barr *a, const char *s)
{
	mt_bin_f_uuid(&a->b, s);
	a->n++;
}

void mt_barr_null(struct mt_barr *a)
{
	mt_bin_f_null(&a->b);
	a->n++;
	a->has_null = true;
}

void mt_barr_bytes(struct mt_barr *a, const void *p, size_t n)
{
	if (n > UINT32_MAX / 2) {
		if (!a->b.err)
			a->b.err = -E2BIG;
		return;
	}
	mt_bin_u32(&a->b, (uint32_t)n);
	mt_bin_raw(&a->b, p, n);
	a->n++;
}
