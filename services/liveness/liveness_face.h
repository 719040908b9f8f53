/* liveness_face — measurements on a face mesh: head pose (yaw, pitch, roll) by fitting
 * MediaPipe's canonical 3-D face (face_geometry.shnn) to the mesh, eye and mouth openness
 * ratios, eye/nose/mouth centres, inter-ocular distance, and the similarity transform that cuts
 * an aligned descriptor chip. Pure math on caller-owned structs; a liveness_geometry is
 * immutable and shared by any number of threads.
 *
 * Conventions (docs/liveness.md, "Head pose"): frames are as captured (not mirrored). yaw > 0:
 * the subject turned to their own left (nose toward the image's right); pitch > 0: looking up;
 * roll > 0: the head tilted clockwise on screen (the subject's left eye lower). Degrees. */
#ifndef SHIREN_LIVENESS_FACE_H
#define SHIREN_LIVENESS_FACE_H

#include <stdint.h>

#include "liveness/liveness_image.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_model.h"

struct liveness_geometry;

/* model: face_geometry.shnn (canonical vertices [468][3], Procrustes landmark ids and weights).
 * -ENOENT / -EBADMSG (shape, or an id that is not an integer 0..467) / -ENOMEM. The model may
 * be freed afterwards (the data is copied). */
__attribute__((warn_unused_result)) int liveness_geometry_new(const struct liveness_model *model,
							      struct liveness_geometry **ret_geom);
void liveness_geometry_free(struct liveness_geometry *g); /* accepts NULL */

struct liveness_face_info {
	float yaw, pitch, roll; /* degrees */
	float fit_rms;		/* Procrustes residual / face scale (0 = perfect fit) */
	/* Eye aspect ratio per eye (Soukupova & Cech's EAR on the mesh points matching the
	 * 68-point eye landmarks, 3-D distances): ~0.25-0.35 open, < ~0.15 closed. */
	float ear_right, ear_left, ear;
	/* Inner-lip opening / mouth width (3-D): ~0-0.1 closed, > ~0.3 clearly open. */
	float mar;

	float eye_right[2], eye_left[2], nose[2], mouth[2]; /* image pixels */
	/* Eye centre distance in pixels, in 3-D (mesh x, y, z), so a head turn does not shrink
	 * it. */
	float iod;
};

/* Fills *ret from mesh (image pixel landmarks). Cannot fail; a degenerate mesh gives zeros. */
void liveness_face_measure(const struct liveness_geometry *g, const struct liveness_mesh *mesh,
			   struct liveness_face_info *ret);

/* The sampling matrix (liveness_chip_warp convention) of an aligned size x size descriptor
 * chip: the similarity transform (rotation, uniform scale, shift) that puts the two eye centres
 * and the mouth centre closest (least squares) to a fixed template, derived from the face-api
 * box crops the descriptor network was validated with (docs/liveness.md, "Aligned chip").
 * Returns 0, or -EINVAL when the points are degenerate. */
__attribute__((warn_unused_result)) int
liveness_face_align_matrix(const struct liveness_face_info *f, int size, float ret_m[6]);

/* Cuts that chip (with anti-aliasing when shrinking). -EINVAL as above. */
__attribute__((warn_unused_result)) int liveness_face_chip(const struct liveness_rgb *img,
							   const struct liveness_face_info *f,
							   int size, uint8_t *out);

/* The mesh point indices used above (derived in docs/liveness.md), for tests and tools. */
enum {
	LIVENESS_MESH_NOSE_TIP = 4,
	LIVENESS_MESH_R_EYE_OUTER = 33,
	LIVENESS_MESH_R_EYE_INNER = 133,
	LIVENESS_MESH_L_EYE_OUTER = 263,
	LIVENESS_MESH_L_EYE_INNER = 362,
};
extern const int liveness_mesh_eye_right[6]; /* outer, upper x2, inner, lower x2 */
extern const int liveness_mesh_eye_left[6];
extern const int liveness_mesh_lips[8]; /* corner R, corner L, upper x3, lower x3 (inner) */

#endif
