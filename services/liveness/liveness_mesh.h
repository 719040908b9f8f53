/* liveness_mesh — 468 face landmarks in 3-D with the MediaPipe face mesh model
 * (face_landmark.tflite from @mediapipe/face_mesh, converted to .shnn). The network is derived
 * from the converted graph (docs/liveness.md, "Face mesh"): a 192x192 RGB chip, 3x3/2 stem,
 * residual depthwise-separable blocks with PReLU, and two heads (1404 = 468 x 3 coordinates, one
 * face-presence logit).
 *
 * The chip is cut from a region of interest (ROI): a rotated square around the face, taken
 * from a BlazeFace detection for the first frame, or from the previous frame's mesh. Landmarks
 * come back in image pixels (continuous coordinates, 0 at the top-left corner of the top-left
 * pixel); z is depth in the same pixel scale, smaller = nearer the camera, relative to the
 * face's centre.
 *
 * Threads: a liveness_mesher is immutable and shared; each thread owns a liveness_mesh_ws. */
#ifndef SHIREN_LIVENESS_MESH_H
#define SHIREN_LIVENESS_MESH_H

#include <stdint.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_model.h"

#define LIVENESS_MESH_INPUT  192
#define LIVENESS_MESH_POINTS 468

/* A rotated square: centre (image pixels), side, and angle in radians of the chip's x axis in
 * the image (positive = clockwise on screen, since y points down). */
struct liveness_roi {
	float cx, cy, side, angle;
};

struct liveness_mesh {
	float pt[LIVENESS_MESH_POINTS][3];
	float score;		 /* face presence, sigmoid of the flag logit, 0..1 */
	struct liveness_roi roi; /* the ROI the mesh was computed from */
};

struct liveness_mesher;
struct liveness_mesh_ws;

/* model: face_landmark.shnn. Checks every tensor name and shape; -ENOENT / -EBADMSG / -ENOMEM.
 * The model must outlive the mesher. */
__attribute__((warn_unused_result)) int liveness_mesher_new(const struct liveness_model *model,
							    struct liveness_mesher **ret_mesher);
void liveness_mesher_free(struct liveness_mesher *m); /* accepts NULL */

__attribute__((warn_unused_result)) int liveness_mesh_ws_new(const struct liveness_mesher *m,
							     struct liveness_mesh_ws **ret_ws);
void liveness_mesh_ws_free(struct liveness_mesh_ws *ws); /* accepts NULL */

/* ROI from a detection: centred on the box, side 1.5 x max(w, h), rotated so that the eye
 * keypoints are level. */
void liveness_mesh_roi_from_face(const struct liveness_face *f, struct liveness_roi *ret_roi);

/* ROI from a previous mesh (tracking, and the refinement pass): centred on the landmarks' box
 * in the eye-levelled frame, side 1.5 x its larger extent. */
void liveness_mesh_roi_from_mesh(const struct liveness_mesh *m, struct liveness_roi *ret_roi);

/* Cuts the chip for roi and runs the network; landmarks are mapped back to image pixels.
 * -EINVAL for an empty image or a degenerate ROI. */
__attribute__((warn_unused_result)) int liveness_mesh_run(const struct liveness_mesher *m,
							  struct liveness_mesh_ws *ws,
							  const struct liveness_rgb *img,
							  const struct liveness_roi *roi,
							  struct liveness_mesh *ret);

/* Detection ROI, one pass, then one refinement pass from that mesh (the MediaPipe-style
 * tracking ROI fits the face better than a detector box). */
__attribute__((warn_unused_result)) int liveness_mesh_from_face(const struct liveness_mesher *m,
								struct liveness_mesh_ws *ws,
								const struct liveness_rgb *img,
								const struct liveness_face *f,
								struct liveness_mesh *ret);

/* The chip liveness_mesh_run feeds the network for roi (192*192*3 RGB bytes). */
void liveness_mesh_chip(const struct liveness_rgb *img, const struct liveness_roi *roi,
			uint8_t *chip);

/* The network alone, for parity tests: chip is 192*192*3 RGB bytes; pts receives 1404 floats
 * (x, y, z per point, chip pixels), *flag the raw face logit. */
void liveness_mesh_forward(const struct liveness_mesher *m, struct liveness_mesh_ws *ws,
			   const uint8_t *chip, float *pts, float *flag);

/* The image -> chip sampling matrix of roi in liveness_chip_warp's convention. */
void liveness_mesh_roi_matrix(const struct liveness_roi *roi, int size, float ret_m[6]);

#endif
