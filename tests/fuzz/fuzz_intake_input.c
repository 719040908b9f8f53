/* libFuzzer harness for the untrusted-input checks of intake's actions: the image header probe
 * and the FaceContrastPicture decoder (intake_image), the JSON syntax check and the
 * InitFaceVerify / DescribeFaceVerify / page validation over any parameter list
 * (intake_valid). The first byte picks the target. Properties: no crash or overread (ASan), a
 * probe that succeeds reports a known type with non-zero dimensions, a decoder that succeeds
 * respects its size cap, a validation either succeeds or names a Code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake_image.h"
#include "intake/intake_params.h"
#include "intake/intake_json.h"
#include "intake/intake_valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_intake_input: %s\n", what);
	abort();
}

static void validate(const uint8_t *data, size_t size)
{
	/* query | '\0' | body */
	const char *q = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t ql = nul ? (size_t)(nul - data) : size;
	const char *body = nul ? (const char *)nul + 1 : NULL;
	size_t bl = nul ? size - ql - 1 : 0;
	struct intake_params p = {0};
	if (intake_params_parse(&p, q, ql, body, bl, NULL, NULL) < 0)
		return;
	struct intake_biz b;
	struct intake_init_req r;
	struct intake_describe_req d;
	struct intake_page_req pg;
	uint8_t key[32] = {0}, fp[32];
	if (intake_valid_init(&p, 1795867200, NULL, &r, &b) < 0 && !b.code)
		fail("init refusal without a Code");
	else if (intake_valid_init_fingerprint(&p, key, fp) < 0)
		fail("fingerprint failed");
	if (intake_valid_describe(&p, &d, &b) < 0 && !b.code)
		fail("describe refusal without a Code");
	if (intake_valid_page(&p, &pg, &b) < 0 && !b.code)
		fail("page refusal without a Code");
	intake_params_done(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 4;
	data++;
	size--;
	/* Copy so ASan sees the exact extent. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (mode == 0) {
		struct intake_image_info i;
		if (intake_image_probe(buf, size, &i) == 0 &&
		    (!i.mime || i.width == 0 || i.height == 0 || i.type == INTAKE_IMAGE_NONE))
			fail("probe accepted without type or size");
	} else if (mode == 1) {
		uint8_t *out = NULL;
		size_t n = 0, max = size % 512;
		enum intake_b64_status st =
			intake_image_b64_decode((const char *)buf, size, max, &out, &n);
		if (st == INTAKE_B64_OK && n > max)
			fail("decoded past the cap");
		if (st != INTAKE_B64_OK && out)
			fail("output on failure");
		free(out);
	} else if (mode == 2) {
		(void)intake_json_valid((const char *)buf, size, size && buf[0] == '[' ? '[' : '{');
	} else {
		validate(buf, size);
	}
	free(buf);
	return 0;
}
