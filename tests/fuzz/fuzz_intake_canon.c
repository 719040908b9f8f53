/* fuzz_intake_canon — libFuzzer harness for request authentication end to end: a raw request in
 * the captures' text form ("METHOD /path?query HTTP/1.1", "name: value" lines, a blank line,
 * the body) goes through intake_params_parse, intake_sign_parse, both canonicalisers and
 * intake_sign_check with the clock pinned to the request's own timestamp, then the error
 * renderer. Seeds are the SDK captures, so the fuzzer starts from valid signatures of every
 * scheme. Every piece lives in its own exact-size heap buffer so ASan sees over-reads. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intake/intake_params.h"
#include "intake/intake_sign.h"

#define MAX_HDRS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *cstr(const uint8_t *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, p, n);
		c[n] = '\0';
		/* Header and request-line strings are C strings for the verifier. */
		for (size_t i = 0; i < n; i++)
			if (!c[i])
				c[i] = ' ';
	}
	return c;
}

static const uint8_t *line_end(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size, *p = data, *le = line_end(p, end);
	struct intake_sign_header hdrs[MAX_HDRS];
	char *names[MAX_HDRS] = {0}, *values[MAX_HDRS] = {0};
	size_t nh = 0;
	struct intake_params params = {0};
	struct intake_sign_parsed parsed;
	struct intake_sign_result res;
	char code[64], msg[512];
	char *method = NULL, *path = NULL, *query = NULL, *body = NULL;
	size_t qlen = 0, blen = 0;

	intake_sign_result_init(&res);
	/* Request line. */
	const uint8_t *sp = memchr(p, ' ', (size_t)(le - p));
	if (!sp)
		return 0;
	const uint8_t *target = sp + 1;
	const uint8_t *tend = memchr(target, ' ', (size_t)(le - target));
	if (!tend)
		tend = le;
	const uint8_t *qm = memchr(target, '?', (size_t)(tend - target));
	method = cstr(p, (size_t)(sp - p));
	path = cstr(target, (size_t)((qm ? qm : tend) - target));
	if (qm) {
		qlen = (size_t)(tend - qm - 1);
		query = malloc(qlen ? qlen : 1);
		if (query && qlen)
			memcpy(query, qm + 1, qlen);
	}
	/* Headers up to a blank line. */
	p = le < end ? le + 1 : end;
	bool form = false;
	while (p < end && *p != '\n' && nh < MAX_HDRS) {
		le = line_end(p, end);
		const uint8_t *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			const uint8_t *v = colon + 1;
			while (v < le && *v == ' ')
				v++;
			names[nh] = cstr(p, (size_t)(colon - p));
			values[nh] = cstr(v, (size_t)(le - v));
			if (!names[nh] || !values[nh])
				goto out;
			hdrs[nh] = (struct intake_sign_header){names[nh], values[nh]};
			if (intake_params_is_form(values[nh]) &&
			    !strcasecmp(names[nh], "content-type"))
				form = true;
			nh++;
		}
		p = le < end ? le + 1 : end;
	}
	if (p < end && *p == '\n')
		p++;
	blen = (size_t)(end - p);
	body = malloc(blen ? blen : 1);
	if (!method || !path || !body || (qm && !query))
		goto out;
	if (blen)
		memcpy(body, p, blen);

	if (intake_params_parse(&params, query, qlen, form ? body : NULL, form ? blen : 0, NULL,
				NULL) < 0)
		goto out;
	struct intake_sign_request req = {
		.method = method,
		.path = path,
		.headers = hdrs,
		.n_headers = nh,
		.params = &params,
		.body = blen ? body : NULL,
		.body_len = blen,
	};
	int rc = intake_sign_parse(&req, &parsed, &res);
	if (rc == 0 || rc == -EPERM) {
		if (parsed.access_key_id[sizeof(parsed.access_key_id) - 1] ||
		    parsed.nonce[sizeof(parsed.nonce) - 1])
			abort();
		rc = intake_sign_check(&parsed, "testAccessKeySecret", 19, parsed.timestamp, &res);
		if (rc == 0 && res.err != INTAKE_ERR_NONE)
			abort();
		if (res.err == INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH && !res.string_to_sign)
			abort();
	}
	(void)intake_sign_result_render(&res, code, sizeof(code), msg, sizeof(msg));
	if (strlen(msg) >= sizeof(msg))
		abort();
out:
	intake_sign_result_done(&res);
	intake_params_done(&params);
	for (size_t i = 0; i < MAX_HDRS; i++) {
		free(names[i]);
		free(values[i]);
	}
	free(method);
	free(path);
	free(query);
	free(body);
	return 0;
}
