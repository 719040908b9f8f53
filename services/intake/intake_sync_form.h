/* intake_sync_form — a strict, bounded multipart/form-data reader (RFC 7578) for the H5 frame
 * upload: the boundary from the Content-Type, then each part's name, whether it carries a
 * filename, and its bytes, pointing into the caller's body (no copies). Anything outside the
 * subset browsers send (FormData) is refused rather than guessed. Pure; fuzzed. */
#ifndef SHIREN_INTAKE_SYNC_FORM_H
#define SHIREN_INTAKE_SYNC_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_FORM_NAME_MAX	 64
#define INTAKE_FORM_BOUNDARY_MAX 70
#define INTAKE_FORM_HEADERS_MAX	 2048 /* bytes of one part's header block */

struct intake_form_part {
	char name[INTAKE_FORM_NAME_MAX + 1];
	bool has_filename;
	const uint8_t *data; /* into the body */
	size_t len;
};

/* The boundary of a "multipart/form-data; boundary=..." Content-Type (case-insensitive type,
 * optional quotes, 1-70 characters of RFC 2046's set). 0, or -EINVAL. */
int intake_form_boundary(const char *content_type, char out[INTAKE_FORM_BOUNDARY_MAX + 1])
	__attribute__((warn_unused_result));

/* Splits body into at most `max` parts. Every part needs a Content-Disposition: form-data
 * with a name. Returns the number of parts, -E2BIG (more than max), or -EINVAL (malformed:
 * no opening or closing delimiter, a header block too long or without its blank line, a part
 * without a name); *ret_why (may be NULL) gets a static reason. */
int intake_form_parse(const uint8_t *body, size_t len, const char *boundary,
		      struct intake_form_part *parts, int max, const char **ret_why)
	__attribute__((warn_unused_result));

#endif
