/* intake_material — the DescribeFaceVerify MaterialInfo document (API.md §7): a JSON object that
 * the response carries as a JSON *string* (the SDK throws if it is an object). Pure logic. */
#ifndef SHIREN_INTAKE_MATERIAL_H
#define SHIREN_INTAKE_MATERIAL_H

#include <stdbool.h>
#include <stddef.h>

struct intake_material {
	int sub_code;
	/* Scores 0..100; a negative value means "not measured" and the field is left out. */
	double verify_score;
	double liveness_score;
	double quality_score;
	/* The captured face, Base64, or NULL (none, withheld, deleted or past retention). */
	const char *picture_b64;
	size_t picture_b64_len;
	const char *picture_mime; /* "image/jpeg" / "image/png", with picture_b64 */
};

/* Bytes enough for the document of `m` (an upper bound). */
size_t intake_material_size(const struct intake_material *m);

/* Writes the JSON object text into `buf` (NUL-terminated). Fields:
 *   faceAttack        "T" when SubCode is 205 (liveness flagged an attack), else "F"
 *   facialPictureFront {
 *     verifyScore      face similarity, 0..100 (when measured)
 *     qualityScore     image quality, 0..100 (when measured)
 *     faceAttackScore  attack probability 0..1 = (100 - liveness score) / 100 (when measured)
 *     pictureBase64, pictureType   the photo (when given) }
 * Returns the length, or -ENOSPC when `cap` is too small. */
long intake_material_render(const struct intake_material *m, char *buf, size_t cap)
	__attribute__((warn_unused_result));

#endif
