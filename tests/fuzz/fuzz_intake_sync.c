/* fuzz_intake_sync — libFuzzer harness for what the synchronous actions and the H5 upload read
 * from the network: the multipart/form-data reader (boundary from a Content-Type, then the
 * body) and the result NOTIFY payload parser. Input: one selector byte, then for multipart a
 * Content-Type line up to the first LF and the body after it. Every piece gets its own
 * exact-size heap buffer so ASan sees a read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake_sync.h"
#include "intake/intake_sync_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	if (sel & 1) {
		char *s = malloc(size + 1);
		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		struct intake_sync_result res;
		if (intake_sync_payload_parse(s, &res) == 0) {
			char back[512];
			if (intake_sync_payload_format(&res, back, sizeof(back)) < 0)
				abort();
		}
		free(s);
		return 0;
	}
	const uint8_t *lf = memchr(data, '\n', size);
	size_t ctl = lf ? (size_t)(lf - data) : size;
	char *ct = malloc(ctl + 1);
	size_t bl = lf ? size - ctl - 1 : 0;
	uint8_t *body = malloc(bl ? bl : 1);
	struct intake_form_part parts[8];
	char boundary[INTAKE_FORM_BOUNDARY_MAX + 1];
	if (ct && body) {
		memcpy(ct, data, ctl);
		ct[ctl] = '\0';
		if (bl)
			memcpy(body, lf + 1, bl);
		if (intake_form_boundary(ct, boundary) == 0) {
			int n = intake_form_parse(body, bl, boundary, parts, 8, NULL);
			for (int i = 0; i < n; i++)
				if (parts[i].data < body ||
				    parts[i].data + parts[i].len > body + bl)
					abort();
		}
	}
	free(ct);
	free(body);
	return 0;
}
