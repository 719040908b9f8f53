/* liveness_chip — cuts a face chip (the fixed-size RGB input of a network) out of a decoded
 * image: a general affine warp with bilinear sampling, and the axis-aligned square box crop
 * built on it. Pure image math, no allocation. */
#ifndef SHIREN_LIVENESS_CHIP_H
#define SHIREN_LIVENESS_CHIP_H

#include <stdint.h>

#include "liveness/liveness_image.h"

/* out (ow x oh x 3) pixel (x, y) samples img at
 *   sx = m[0]*x + m[1]*y + m[2],  sy = m[3]*x + m[4]*y + m[5]
 * (pixel centres at integer coordinates on both sides), bilinear; samples outside img are
 * black. */
void liveness_chip_warp(const struct liveness_rgb *img, const float m[6], uint8_t *out, int ow,
			int oh);

/* As liveness_chip_warp, but each output pixel is the mean of ss x ss samples spread over its
 * footprint, each the nearest source pixel (1 <= ss <= 8; ss = 1 is the bilinear
 * liveness_chip_warp): use ss ~ the shrink factor when the warp shrinks, so that fine detail
 * averages instead of aliasing. */
void liveness_chip_warp_aa(const struct liveness_rgb *img, const float m[6], uint8_t *out, int ow,
			   int oh, int ss);

/* The square box of side max(w, h) centred on the box (x, y, w, h) (image pixels, top-left
 * corner origin), resized to size x size. */
void liveness_chip_box(const struct liveness_rgb *img, float x, float y, float w, float h, int size,
		       uint8_t *out);

/* How a letterboxed chip maps back to the image: image_x = x0 + (chip_x - ox) * sx, the same
 * for y (continuous coordinates, 0 at the top-left corner of the top-left pixel). */
struct liveness_letterbox {
	float sx, sy;
	int ox, oy;
	float x0, y0;
};

/* Fits the rectangle (rx, ry, rw, rh) of img (integer pixels, clipped to the image; the whole
 * image is 0, 0, w, h) into size x size keeping its aspect ratio, centred, black bars. Shrinking
 * averages every source pixel under each output pixel (no aliasing at large factors);
 * enlarging is bilinear. */
void liveness_chip_letterbox(const struct liveness_rgb *img, uint32_t rx, uint32_t ry, uint32_t rw,
			     uint32_t rh, int size, uint8_t *out,
			     struct liveness_letterbox *ret_map);

#endif
