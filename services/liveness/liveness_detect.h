/* liveness_detect — face detection with the BlazeFace short-range model (MediaPipe
 * face_detection_short_range.tflite, converted to .shnn): letterbox to 128x128, the network,
 * 896 SSD anchors, score threshold and weighted non-maximum suppression. Boxes and the six
 * keypoints come back in image pixels.
 *
 * Threads: a liveness_detector is immutable and shared; each thread owns a liveness_detect_ws.
 * The short-range model is made for faces that fill a good part of the frame (selfies, ID
 * photos); faces smaller than ~1/8 of the longer image side are missed by the whole-frame pass
 * and found by the optional tile pass (opts.small_zoom). */
#ifndef SHIREN_LIVENESS_DETECT_H
#define SHIREN_LIVENESS_DETECT_H

#include <stdbool.h>

#include "liveness/liveness_image.h"
#include "liveness/liveness_model.h"

#define LIVENESS_DETECT_INPUT	  128
#define LIVENESS_DETECT_ANCHORS	  896
#define LIVENESS_DETECT_KEYPOINTS 6

/* Keypoint order of the model (BlazeFace paper / MediaPipe model card); "right" is the
 * subject's right, i.e. on the left of an unmirrored photo. */
enum liveness_keypoint {
	LIVENESS_KP_RIGHT_EYE = 0,
	LIVENESS_KP_LEFT_EYE = 1,
	LIVENESS_KP_NOSE_TIP = 2,
	LIVENESS_KP_MOUTH = 3,
	LIVENESS_KP_RIGHT_EAR = 4,
	LIVENESS_KP_LEFT_EAR = 5,
};

struct liveness_face {
	float x, y, w, h; /* box, image pixels, top-left corner and size */
	float score;	  /* 0..1 */
	float kp[LIVENESS_DETECT_KEYPOINTS][2];
};

struct liveness_detect_opts {
	float min_score; /* candidates below are dropped; MediaPipe's default 0.5 */
	float nms_iou;	 /* candidates overlapping a better one by more are merged; 0.3 */
	/* When the whole frame gives no face: scan overlapping square tiles of side
	 * longer_side / small_zoom (half-tile steps) for small faces. 0 disables; 3 costs ~15-25
	 * extra network runs. */
	int small_zoom;
	/* Score threshold in that tile pass: zoomed-in background produces more weak false
	 * positives (0.5-0.65 on the negative test images), true small faces score 0.9. */
	float small_min_score;
};

#define LIVENESS_DETECT_OPTS_DEFAULT    \
	((struct liveness_detect_opts){ \
		.min_score = 0.5f, .nms_iou = 0.3f, .small_zoom = 3, .small_min_score = 0.75f})

struct liveness_detector;
struct liveness_detect_ws;

/* Checks names and shapes of every tensor against model; -ENOENT / -EBADMSG / -ENOMEM. The
 * model must outlive the detector. */
__attribute__((warn_unused_result)) int liveness_detector_new(const struct liveness_model *model,
							      struct liveness_detector **ret_det);
void liveness_detector_free(struct liveness_detector *d); /* accepts NULL */

__attribute__((warn_unused_result)) int liveness_detect_ws_new(const struct liveness_detector *d,
							       struct liveness_detect_ws **ret_ws);
void liveness_detect_ws_free(struct liveness_detect_ws *ws); /* accepts NULL */

/* Detects faces in img (opts NULL: defaults) and writes up to max of them, best first, to
 * faces. Returns how many were written (0 when none), or -EINVAL for an empty image. */
int liveness_detect_run(const struct liveness_detector *d, struct liveness_detect_ws *ws,
			const struct liveness_rgb *img, const struct liveness_detect_opts *opts,
			struct liveness_face *faces, int max);

/* ---- pure parts, exposed for tests ---- */

/* The anchor centres in [0,1] (x, y), in the model's output order. Returns the count (896). */
int liveness_detect_anchors(float (*ret_xy)[2], int max);

/* Weighted non-maximum suppression over n (<= 2048) candidates (any order; reordered in place): each
 * output is the score-weighted mean of a cluster of candidates overlapping its best one by IoU
 * > iou, with the best one's score. Returns the number written to out (<= max), best first. */
int liveness_detect_nms(struct liveness_face *cand, int n, float iou, struct liveness_face *out,
			int max);

#endif
