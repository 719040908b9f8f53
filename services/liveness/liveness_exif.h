/* liveness_exif — the one EXIF field the engine needs, the orientation tag, and applying it to
 * an RGB8 image. The parser reads untrusted bytes with bounds checks only; metadata never makes
 * a decode fail: anything malformed reads as orientation 1 (as stored). */
#ifndef SHIREN_LIVENESS_EXIF_H
#define SHIREN_LIVENESS_EXIF_H

#include <stddef.h>
#include <stdint.h>

/* tiff: the TIFF structure of an EXIF block (the bytes after "Exif\0\0" in a JPEG APP1
 * segment, or a PNG eXIf chunk). Returns the IFD0 orientation 1..8, or 1. */
int liveness_exif_orientation(const uint8_t *tiff, size_t len);

/* Same for a whole JPEG APP1 payload: checks and skips the "Exif\0\0" header. */
int liveness_exif_orientation_app1(const uint8_t *app1, size_t len);

/* Applies orientation o (1..8, EXIF meaning) to an RGB8 image w x h: returns a new malloc'd
 * buffer in *ret_px (caller frees) and the displayed size; o == 1 or out of range copies.
 * -ENOMEM. */
__attribute__((warn_unused_result)) int liveness_exif_apply(const uint8_t *px, uint32_t w,
							    uint32_t h, int o, uint8_t **ret_px,
							    uint32_t *ret_w, uint32_t *ret_h);

#endif
