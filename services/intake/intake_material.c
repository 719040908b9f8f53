/* intake_material — renders the MaterialInfo JSON document (intake_material.h). */
#include "intake/intake_material.h"

#include <errno.h>
#include <math.h>

#include "common/json.h"

size_t intake_material_size(const struct intake_material *m)
{
	/* Base64 needs no escaping; the rest is bounded text. */
	return 512 + (m->picture_b64 ? m->picture_b64_len : 0);
}

static double round5(double v)
{
	return round(v * 100000.0) / 100000.0;
}

long intake_material_render(const struct intake_material *m, char *buf, size_t cap)
{
	struct json_writer w;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	json_key_str(&w, "faceAttack", m->sub_code == 205 ? "T" : "F");
	json_key(&w, "facialPictureFront");
	json_obj_begin(&w);
	if (m->verify_score >= 0)
		json_key_double(&w, "verifyScore", round5(m->verify_score));
	if (m->quality_score >= 0)
		json_key_double(&w, "qualityScore", round5(m->quality_score));
	if (m->liveness_score >= 0) {
		double attack = (100.0 - m->liveness_score) / 100.0;
		json_key_double(&w, "faceAttackScore",
				round5(attack < 0   ? 0
				       : attack > 1 ? 1
						    : attack));
	}
	if (m->picture_b64) {
		json_key(&w, "pictureBase64");
		json_strn(&w, m->picture_b64, m->picture_b64_len);
		json_key_str(&w, "pictureType", m->picture_mime ? m->picture_mime : "image/jpeg");
	}
	json_obj_end(&w);
	json_obj_end(&w);
	if (json_writer_truncated(&w) || json_writer_len(&w) >= cap)
		return -ENOSPC;
	return (long)json_writer_len(&w);
}
