/* liveness_embed — the 128-D face descriptor: the dlib ResNet (29 conv layers) as shipped in
 * face-api's face_recognition_model weights, run on a 150x150 RGB face chip. The architecture
 * is derived from the weight names and shapes (docs/liveness.md has the layer table).
 *
 * Threads: a liveness_embedder is immutable after liveness_embedder_new and may be shared; each
 * thread needs its own liveness_embed_ws (scratch memory, ~6 MB). */
#ifndef SHIREN_LIVENESS_EMBED_H
#define SHIREN_LIVENESS_EMBED_H

#include <stdbool.h>
#include <stdint.h>

#include "liveness/liveness_model.h"

#define LIVENESS_EMBED_SIZE 150 /* chip side in pixels */
#define LIVENESS_EMBED_DIM  128

/* Same-person decision: distance < LIVENESS_EMBED_THRESHOLD (dlib's and face-api's 0.6). */
#define LIVENESS_EMBED_THRESHOLD 0.6

struct liveness_embedder;
struct liveness_embed_ws;

/* Checks every tensor the network needs (names and shapes) against model and builds the plan.
 * -ENOENT: a tensor is missing; -EBADMSG: a shape differs; -ENOMEM. The model must outlive the
 * embedder (tensor data is used in place, from the read-only mapping). */
__attribute__((warn_unused_result)) int liveness_embedder_new(const struct liveness_model *model,
							      struct liveness_embedder **ret_emb);
void liveness_embedder_free(struct liveness_embedder *e); /* accepts NULL */

/* Scratch for one thread; sized for e. */
__attribute__((warn_unused_result)) int liveness_embed_ws_new(const struct liveness_embedder *e,
							      struct liveness_embed_ws **ret_ws);
void liveness_embed_ws_free(struct liveness_embed_ws *ws); /* accepts NULL */

/* rgb: 150*150*3 bytes, rows top to bottom, R,G,B per pixel (an aligned face chip).
 * out: LIVENESS_EMBED_DIM floats. Cannot fail once e and ws exist. */
void liveness_embed_run(const struct liveness_embedder *e, struct liveness_embed_ws *ws,
			const uint8_t *rgb, float *out);

/* Euclidean distance of two descriptors. */
double liveness_embed_distance(const float *a, const float *b);

/* 0..100, higher is more similar: 100 * (1 - d / 1.2), clamped. 50 is exactly the 0.6
 * threshold; use liveness_embed_same() for the decision, the score is for display and
 * ranking (docs/liveness.md). */
double liveness_verify_score(double distance);
bool liveness_embed_same(double distance);

#endif
