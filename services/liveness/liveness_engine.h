/* liveness_engine — the per-image pipeline on one decoded image: BlazeFace detection, face
 * mesh on the main face (detection ROI + refinement), pose and openness, the aligned chip,
 * quality gates and (optionally) the 128-D descriptor. The unit the service runs per photo and
 * per frame of a liveness sequence.
 *
 * Threads: a liveness_engine (models and network plans) is immutable and shared; each thread
 * owns a liveness_worker (scratch for all networks, ~8 MB). */
#ifndef SHIREN_LIVENESS_ENGINE_H
#define SHIREN_LIVENESS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_quality.h"

#define LIVENESS_MAX_FACES 8

/* The converted model files (deploy/models/fetch.sh output names) inside a directory. */
#define LIVENESS_MODEL_DETECT	"face_detection_short_range.shnn"
#define LIVENESS_MODEL_MESH	"face_landmark.shnn"
#define LIVENESS_MODEL_GEOMETRY "face_geometry.shnn"
#define LIVENESS_MODEL_EMBED	"face_recognition.shnn"

struct liveness_engine;
struct liveness_worker;

/* Opens and checks the four models in dir. Errors as liveness_model_open and the network
 * builders (-ENOENT for a missing file or tensor, -EBADMSG, -ENAMETOOLONG, -ENOMEM). */
__attribute__((warn_unused_result)) int liveness_engine_open(const char *dir,
							     struct liveness_engine **ret_eng);
void liveness_engine_free(struct liveness_engine *e); /* accepts NULL */

__attribute__((warn_unused_result)) int liveness_worker_new(const struct liveness_engine *e,
							    struct liveness_worker **ret_w);
void liveness_worker_free(struct liveness_worker *w); /* accepts NULL */

enum liveness_analyze_flags {
	LIVENESS_WANT_DESCRIPTOR = 1u << 0, /* run the descriptor network (~15 ms) */
	LIVENESS_NO_SMALL_FACES = 1u << 1, /* skip the detector's tile pass when nothing is found */
};

struct liveness_analysis {
	int nfaces; /* detections, best first */
	struct liveness_face faces[LIVENESS_MAX_FACES];
	bool has_face; /* faces[0] was meshed and measured */
	struct liveness_mesh mesh;
	struct liveness_face_info info;
	uint8_t chip[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3]; /* aligned */
	struct liveness_quality quality;
	bool has_descriptor;
	float descriptor[LIVENESS_EMBED_DIM];
};

/* Runs the pipeline on img with quality limits lim (NULL: defaults). A picture without a
 * face is a result (quality.reasons = LIVENESS_Q_NO_FACE), not an error; errors are -EINVAL
 * (empty image). */
__attribute__((warn_unused_result)) int
liveness_analyze(const struct liveness_engine *e, struct liveness_worker *w,
		 const struct liveness_rgb *img, const struct liveness_quality_limits *lim,
		 unsigned flags, struct liveness_analysis *ret);

/* Descriptor of ret->chip, if not computed yet (sets has_descriptor). */
void liveness_analysis_describe(const struct liveness_engine *e, struct liveness_worker *w,
				struct liveness_analysis *a);

#endif
