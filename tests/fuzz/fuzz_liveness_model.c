/* libFuzzer harness for liveness_model: arbitrary bytes as a .shnn file must load cleanly or be
 * refused, never crash; whatever loads is walked tensor by tensor and offered to the embedding,
 * detection and face-mesh network builders and the canonical-face geometry loader, which must
 * reject any shape (or Procrustes id) they do not expect. */
#include <stddef.h>
#include <stdint.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct liveness_model *m;
	struct liveness_embedder *e;
	struct liveness_detector *d;
	struct liveness_mesher *ms;
	struct liveness_geometry *g;
	struct liveness_tensor t, u;
	volatile float sink = 0.0f;

	if (liveness_model_load_mem(data, size, &m) < 0)
		return 0;
	for (size_t i = 0; i < liveness_model_count(m); i++) {
		if (liveness_model_at(m, i, &t) < 0 || liveness_model_find(m, t.name, &u) < 0 ||
		    u.data != t.data)
			__builtin_trap();
		sink = sink + t.data[0] + t.data[t.count - 1];
	}
	if (liveness_embedder_new(m, &e) == 0)
		liveness_embedder_free(e);
	if (liveness_detector_new(m, &d) == 0)
		liveness_detector_free(d);
	if (liveness_mesher_new(m, &ms) == 0)
		liveness_mesher_free(ms);
	if (liveness_geometry_new(m, &g) == 0)
		liveness_geometry_free(g);
	liveness_model_free(m);
	(void)sink;
	return 0;
}
