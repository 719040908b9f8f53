/* fuzz_intake_params — libFuzzer harness for the query/form parameter parser and the two
 * canonical query strings built from its output. Input: one flags byte, then the query, a NUL
 * byte, then the form body. Each piece is copied into its own exact-size heap buffer so ASan
 * sees any read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake_params.h"
#include "intake/intake_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *copy(const uint8_t *p, size_t n)
{
	char *c = malloc(n ? n : 1);
	if (c && n)
		memcpy(c, p, n);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct intake_params_limits lim;
	struct intake_params_error err;
	struct intake_params p;
	char code[64], msg[256];

	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	const uint8_t *nul = memchr(data, 0, size);
	size_t qlen = nul ? (size_t)(nul - data) : size;
	size_t blen = nul ? size - qlen - 1 : 0;
	char *q = copy(data, qlen), *b = copy(nul ? nul + 1 : data, blen);
	if (!q || !b)
		goto out;

	intake_params_limits_default(&lim);
	lim.query_plus_is_space = flags & 1;
	lim.allow_duplicates = flags & 2;
	if (flags & 4) {
		lim.max_params = 1u + (flags >> 5);
		lim.max_key_len = 1u + (flags >> 4);
		lim.max_value_len = (size_t)flags >> 3;
	}
	int rc = intake_params_parse(&p, q, qlen, (flags & 8) ? NULL : b, blen, &lim, &err);
	if (rc < 0) {
		if (p.count || p.items || p.arena)
			abort(); /* a failed parse leaves nothing behind */
		(void)intake_params_error_render(&err, code, sizeof(code), msg, sizeof(msg));
		goto out;
	}
	for (size_t i = 0; i < p.count; i++) {
		const struct intake_param *it = &p.items[i];
		if (strlen(it->key) != it->key_len || it->key_len == 0 ||
		    it->key_len > lim.max_key_len || it->value_len > lim.max_value_len ||
		    strlen(it->value) != it->value_len)
			abort();
		if (intake_params_find(&p, it->key) == NULL)
			abort();
	}
	if (!lim.allow_duplicates && intake_params_find_duplicate(&p))
		abort();
	char *canon = NULL;
	size_t clen;
	if (intake_canon_rpc_query(&p, &canon, &clen) == 0 && strlen(canon) != clen)
		abort();
	free(canon);
	canon = NULL;
	if (intake_canon_acs3_query(&p, &canon, &clen) == 0 && strlen(canon) != clen)
		abort();
	free(canon);
	intake_params_done(&p);
out:
	free(q);
	free(b);
	return 0;
}
