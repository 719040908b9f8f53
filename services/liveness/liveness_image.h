/* liveness_image — decodes untrusted JPEG (libjpeg-turbo) and PNG (libpng) bytes to RGB8 with
 * the EXIF orientation applied. Sizes are refused before any pixel decoding: the byte count
 * first, then the dimensions read from the file header by our own bounded probe. Library
 * errors are caught with setjmp/longjmp; a hostile file yields an error code, never a crash.
 * Thread-safe: no shared state. */
#ifndef SHIREN_LIVENESS_IMAGE_H
#define SHIREN_LIVENESS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Error codes (negative errno values; liveness_image_strerror names them):
 *   -ENODATA      empty input
 *   -EFBIG        more bytes than limits.max_bytes
 *   -EMEDIUMTYPE  not a JPEG or PNG, or a variant we do not decode (CMYK, 12-bit JPEG)
 *   -E2BIG        width, height or pixel count above the limits
 *   -ENOMSG       truncated: the data ends early
 *   -EBADMSG      corrupt data
 *   -ENOMEM, -EINVAL (NULL arguments) */

struct liveness_image_limits {
	size_t max_bytes;    /* encoded input */
	uint32_t max_width;  /* as stored, before orientation */
	uint32_t max_height; /* as stored, before orientation */
	uint64_t max_pixels; /* width * height */
};

/* 16 MiB, 8192 x 8192, 40 megapixels (120 MB of RGB). */
#define LIVENESS_IMAGE_LIMITS_DEFAULT                                  \
	((struct liveness_image_limits){.max_bytes = (size_t)16 << 20, \
					.max_width = 8192,             \
					.max_height = 8192,            \
					.max_pixels = 40000000})

enum liveness_image_format {
	LIVENESS_IMAGE_JPEG = 1,
	LIVENESS_IMAGE_PNG = 2,
};

/* An RGB8 image, rows top to bottom, 3 bytes per pixel, no padding. px is owned by the struct
 * and released by liveness_rgb_done. */
struct liveness_rgb {
	uint8_t *px;
	uint32_t w, h;
};

/* Format and stored dimensions from the header alone (no decoding, no allocation). Returns the
 * format (> 0) or -ENODATA, -EMEDIUMTYPE, -ENOMSG (header cut short), -EBADMSG. */
__attribute__((warn_unused_result)) int liveness_image_probe(const uint8_t *buf, size_t len,
							     uint32_t *ret_w, uint32_t *ret_h);

/* Decodes buf into *ret_img (zeroed on failure). lim may be NULL for the defaults. */
__attribute__((warn_unused_result)) int
liveness_image_decode(const uint8_t *buf, size_t len, const struct liveness_image_limits *lim,
		      struct liveness_rgb *ret_img);

/* Frees px and zeroes the struct; accepts NULL and an empty struct. */
void liveness_rgb_done(struct liveness_rgb *img);

/* Stable short name for an error code above ("truncated", "corrupt", ...), "error" otherwise. */
const char *liveness_image_strerror(int err);

#endif
