/* libFuzzer harness for liveness_image (JPEG/PNG decoding with EXIF orientation) and the EXIF
 * parser: any input must decode or fail with an error code; decoded images must have the size
 * the header promised (after orientation) and be fully readable. */
#include <stddef.h>
#include <stdint.h>

#include "liveness/liveness_exif.h"
#include "liveness/liveness_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small limits keep each run fast; the checks are the same at any size */
	struct liveness_image_limits lim = {
		.max_bytes = 1 << 20, .max_width = 2048, .max_height = 2048, .max_pixels = 1 << 20};
	struct liveness_rgb img;
	uint32_t w, h;
	volatile uint32_t sink = 0;
	int fmt = liveness_image_probe(data, size, &w, &h);
	int rc = liveness_image_decode(data, size, &lim, &img);

	(void)liveness_exif_orientation(data, size);
	(void)liveness_exif_orientation_app1(data, size);
	if (rc < 0) {
		if (img.px || img.w || img.h)
			__builtin_trap();
		return 0;
	}
	if (fmt <= 0 || !((img.w == w && img.h == h) || (img.w == h && img.h == w)))
		__builtin_trap();
	for (size_t i = 0; i < (size_t)img.w * img.h * 3; i += 61)
		sink += img.px[i];
	liveness_rgb_done(&img);
	(void)sink;
	return 0;
}
