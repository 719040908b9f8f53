/* intake_canon — the canonical forms both signature schemes are built from: Alibaba's
 * percent-encoding, the sorted "k=v&..." strings over decoded parameters, and the bounded
 * growable text those are written into. Pure logic. */
#include "intake/intake_canon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void buf_reserve(struct intake_canon_buf *b, size_t more)
{
	size_t need, cap;
	if (b->err)
		return;
	if (__builtin_add_overflow(b->len, more, &need) || need >= INTAKE_CANON_MAX_TEXT) {
		b->err = -E2BIG;
		return;
	}
	need++;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *np = realloc(b->p, cap);
	if (!np) {
		b->err = -ENOMEM;
		return;
	}
	b->p = np;
	b->cap = cap;
}

void intake_canon_buf_add(struct intake_canon_buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void intake_canon_buf_str(struct intake_canon_buf *b, const char *s)
{
	intake_canon_buf_add(b, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

void intake_canon_buf_pct(struct intake_canon_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (n > INTAKE_CANON_MAX_TEXT) {
		b->err = b->err ? b->err : -E2BIG;
		return;
	}
	buf_reserve(b, 3 * n);
	if (b->err)
		return;
	char *o = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
}

void intake_canon_buf_free(struct intake_canon_buf *b)
{
	free(b->p);
	*b = (struct intake_canon_buf){0};
}

long intake_canon_pct(const char *in, size_t len, char *out, size_t cap)
{
	struct intake_canon_buf b = {0};
	intake_canon_buf_pct(&b, in, len);
	if (b.err) {
		intake_canon_buf_free(&b);
		return b.err == -E2BIG ? -ENOSPC : b.err;
	}
	if (b.len + 1 > cap) {
		intake_canon_buf_free(&b);
		return -ENOSPC;
	}
	memcpy(out, b.p ? b.p : "", b.len + 1);
	long n = (long)b.len;
	intake_canon_buf_free(&b);
	return n;
}

/* ---- canonical query strings ---- */

static int cmp_key(const void *a, const void *b)
{
	const struct intake_param *pa = *(const struct intake_param *const *)a;
	const struct intake_param *pb = *(const struct intake_param *const *)b;
	return strcmp(pa->key, pb->key);
}

/* "pct(k)=pct(v)&..." over the selected params, sorted by raw key (keys are ASCII). */
int intake_canon_pairs(struct intake_canon_buf *b, const struct intake_params *params,
		       bool query_only, bool skip_signature)
{
	size_t n = 0;
	const struct intake_param **v = malloc((params->count ? params->count : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < params->count; i++) {
		const struct intake_param *p = &params->items[i];
		if (query_only && p->src != INTAKE_PARAMS_SRC_QUERY)
			continue;
		if (skip_signature && strcmp(p->key, "Signature") == 0)
			continue;
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), cmp_key);
	intake_canon_buf_add(b, "", 0); /* an empty string is still a string */
	for (size_t i = 0; i < n; i++) {
		if (i)
			intake_canon_buf_add(b, "&", 1);
		intake_canon_buf_pct(b, v[i]->key, v[i]->key_len);
		intake_canon_buf_add(b, "=", 1);
		intake_canon_buf_pct(b, v[i]->value, v[i]->value_len);
	}
	free(v);
	return b->err;
}

static int canon_to_heap(const struct intake_params *params, bool query_only, bool skip_sig,
			 char **ret, size_t *ret_len)
{
	struct intake_canon_buf b = {0};
	int rc = intake_canon_pairs(&b, params, query_only, skip_sig);
	if (rc < 0) {
		intake_canon_buf_free(&b);
		return rc;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

int intake_canon_rpc_query(const struct intake_params *params, char **ret, size_t *ret_len)
{
	return canon_to_heap(params, false, true, ret, ret_len);
}

int intake_canon_acs3_query(const struct intake_params *params, char **ret, size_t *ret_len)
{
	return canon_to_heap(params, true, false, ret, ret_len);
}
