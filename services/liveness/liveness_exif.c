/* liveness_exif — EXIF orientation: a bounds-checked walk of TIFF IFD0 for tag 0x0112, and the
 * eight flips/rotations it names (EXIF 2.3, section 4.6.4, "Orientation"). */
#include "liveness/liveness_exif.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TAG_ORIENTATION 0x0112
#define TYPE_SHORT	3
#define MAX_IFD_ENTRIES 1024

static uint32_t get16(const uint8_t *p, bool le)
{
	return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t get32(const uint8_t *p, bool le)
{
	return le ? get16(p, le) | get16(p + 2, le) << 16 : get16(p, le) << 16 | get16(p + 2, le);
}

int liveness_exif_orientation(const uint8_t *tiff, size_t len)
{
	bool le;
	uint32_t ifd, n;

	if (!tiff || len < 8)
		return 1;
	if (tiff[0] == 'I' && tiff[1] == 'I')
		le = true;
	else if (tiff[0] == 'M' && tiff[1] == 'M')
		le = false;
	else
		return 1;
	if (get16(tiff + 2, le) != 42)
		return 1;
	ifd = get32(tiff + 4, le);
	if (ifd < 8 || ifd > len || len - ifd < 2)
		return 1;
	n = get16(tiff + ifd, le);
	if (n > MAX_IFD_ENTRIES || (len - ifd - 2) / 12 < n)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = tiff + ifd + 2 + (size_t)i * 12;
		if (get16(e, le) != TAG_ORIENTATION)
			continue;
		if (get16(e + 2, le) != TYPE_SHORT || get32(e + 4, le) != 1)
			return 1;
		uint32_t v = get16(e + 8, le);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

int liveness_exif_orientation_app1(const uint8_t *app1, size_t len)
{
	static const uint8_t hdr[6] = {'E', 'x', 'i', 'f', 0, 0};
	if (!app1 || len < sizeof(hdr) || memcmp(app1, hdr, sizeof(hdr)) != 0)
		return 1;
	return liveness_exif_orientation(app1 + sizeof(hdr), len - sizeof(hdr));
}

/* Source pixel of displayed pixel (x, y) for orientation o; the stored image is w x h. */
static void src_of(int o, uint32_t w, uint32_t h, uint32_t x, uint32_t y, uint32_t *sx,
		   uint32_t *sy)
{
	switch (o) {
	case 2: /* mirrored left-right */
		*sx = w - 1 - x, *sy = y;
		break;
	case 3: /* rotated 180 */
		*sx = w - 1 - x, *sy = h - 1 - y;
		break;
	case 4: /* mirrored top-bottom */
		*sx = x, *sy = h - 1 - y;
		break;
	case 5: /* transposed */
		*sx = y, *sy = x;
		break;
	case 6: /* needs 90 degrees clockwise */
		*sx = y, *sy = h - 1 - x;
		break;
	case 7: /* transversed */
		*sx = w - 1 - y, *sy = h - 1 - x;
		break;
	case 8: /* needs 90 degrees counter-clockwise */
		*sx = w - 1 - y, *sy = x;
		break;
	default:
		*sx = x, *sy = y;
		break;
	}
}

int liveness_exif_apply(const uint8_t *px, uint32_t w, uint32_t h, int o, uint8_t **ret_px,
			uint32_t *ret_w, uint32_t *ret_h)
{
	const size_t n = (size_t)w * (size_t)h * 3;
	bool swap = o >= 5 && o <= 8;
	uint32_t ow = swap ? h : w, oh = swap ? w : h;
	uint8_t *out;

	*ret_px = NULL;
	out = malloc(n ? n : 1);
	if (!out)
		return -ENOMEM;
	if (o < 2 || o > 8) {
		memcpy(out, px, n);
	} else {
		for (uint32_t y = 0; y < oh; y++) {
			for (uint32_t x = 0; x < ow; x++) {
				uint32_t sx, sy;
				src_of(o, w, h, x, y, &sx, &sy);
				memcpy(out + ((size_t)y * ow + x) * 3,
				       px + ((size_t)sy * w + sx) * 3, 3);
			}
		}
	}
	*ret_px = out;
	*ret_w = ow;
	*ret_h = oh;
	return 0;
}
