/* intake_image — checks on an input image before it is stored: the FaceContrastPicture Base64
 * decoder and a header probe (JPEG or PNG, dimensions). Pure logic; the full decode happens in
 * the liveness service. */
#ifndef SHIREN_INTAKE_IMAGE_H
#define SHIREN_INTAKE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

enum intake_image_type {
	INTAKE_IMAGE_NONE = 0,
	INTAKE_IMAGE_JPEG,
	INTAKE_IMAGE_PNG,
};

struct intake_image_info {
	enum intake_image_type type;
	const char *mime; /* "image/jpeg", "image/png" (static) */
	uint32_t width, height;
};

/* Reads the type from the magic bytes and the dimensions from the PNG IHDR chunk or the first
 * JPEG SOFn segment. 0; -EINVAL when the bytes are not JPEG or PNG; -EBADMSG when the header is
 * truncated or inconsistent (no SOF before the scan data, zero dimensions). */
int intake_image_probe(const uint8_t *p, size_t n, struct intake_image_info *ret)
	__attribute__((warn_unused_result));

enum intake_b64_status {
	INTAKE_B64_OK = 0,
	INTAKE_B64_EMPTY,     /* nothing left after removing line breaks */
	INTAKE_B64_DATA_URL,  /* starts with "data:" (send the Base64 text only) */
	INTAKE_B64_INVALID,   /* not canonical standard Base64 */
	INTAKE_B64_TOO_LARGE, /* decodes to more than `max` bytes */
	INTAKE_B64_NO_MEMORY,
};

/* Decodes a FaceContrastPicture value. CR and LF are removed (MIME line wrapping) and a space is
 * read as '+' (a form body sent with an unencoded '+'); the rest must be strict Base64
 * (common/crypto.h). On OK, *ret is a heap buffer of *ret_len bytes the caller frees. */
enum intake_b64_status intake_image_b64_decode(const char *s, size_t n, size_t max, uint8_t **ret,
					       size_t *ret_len) __attribute__((warn_unused_result));

#endif
