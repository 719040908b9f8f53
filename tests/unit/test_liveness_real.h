/* test_liveness_real — helpers shared by the liveness unit tests: an in-memory .shnn builder
 * for synthetic models, and access to the real converted models and the face images of the
 * Debian packages when they are present.
 *
 * Real models are looked up where deploy/models/fetch.sh writes them: $SHIREN_MODEL_DIR, else
 * build/models (make runs the tests from the repository root; `make models` produces them).
 * Images come from python3-skimage and facedetect (deploy/local/install.sh installs them).
 * When either is missing the test that needs them prints one "SKIP" line and passes, unless
 * SHIREN_REQUIRE_MODELS=1, which turns the skip into a failure (for CI after `make models`). */
#ifndef SHIREN_TEST_LIVENESS_REAL_H
#define SHIREN_TEST_LIVENESS_REAL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_model.h"
#include "liveness/liveness_nn.h"

#define LT_HOPPER    "/usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg"
#define LT_ASTRONAUT "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"

struct lt_spec {
	char name[64];
	uint32_t ndim, dims[4];
	const float *data; /* NULL: generated values */
};

static inline void lt_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline size_t lt_count(const struct lt_spec *s)
{
	size_t c = 1;
	for (uint32_t d = 0; d < s->ndim; d++)
		c *= s->dims[d];
	return c;
}

/* A model with the given tensors: a spec's own data, else values uniform in [-amp, amp] from a
 * fixed LCG seed (or all equal to fill when amp is 0). */
static inline int lt_model_build(const struct lt_spec *specs, int n, uint32_t seed, float amp,
				 float fill, struct liveness_model **ret)
{
	size_t data0 = (128 + 128 * (size_t)n + 63) / 64 * 64, len = data0, off;
	uint8_t *b;
	int rc;

	for (int i = 0; i < n; i++)
		len = (len + 4 * lt_count(&specs[i]) + 63) / 64 * 64;
	b = calloc(1, len);
	if (!b)
		return -ENOMEM;
	memcpy(b, "SHNN\r\n\x1a\n", 8);
	lt_put(b + 8, 1, 4);
	lt_put(b + 12, (uint64_t)n, 4);
	lt_put(b + 16, data0, 8);
	lt_put(b + 24, len, 8);
	off = data0;
	for (int i = 0; i < n; i++) {
		uint8_t *e = b + 128 + 128 * (size_t)i;
		size_t c = lt_count(&specs[i]);
		memcpy(e, specs[i].name, strnlen(specs[i].name, 63));
		lt_put(e + 64, 1, 4);
		lt_put(e + 68, specs[i].ndim, 4);
		for (int d = 0; d < 4; d++)
			lt_put(e + 72 + 4 * d, specs[i].dims[d], 4);
		lt_put(e + 88, off, 8);
		lt_put(e + 96, 4 * c, 8);
		for (size_t k = 0; k < c; k++) {
			seed = seed * 1664525u + 1013904223u;
			float v = amp > 0 ? ((float)(seed >> 8) / (float)(1u << 24) * 2 - 1) * amp
					  : fill;
			if (specs[i].data)
				v = specs[i].data[k];
			memcpy(b + off + 4 * k, &v, 4);
		}
		off = (off + 4 * c + 63) / 64 * 64;
	}
	rc = liveness_model_load_mem(b, len, ret);
	free(b);
	return rc;
}

static inline int lt_read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	long n;
	uint8_t *b = NULL;

	*ret = NULL;
	*ret_len = 0;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*ret_len = (size_t)n;
	}
	fclose(f);
	*ret = b;
	return b ? 0 : -EIO;
}

static inline int lt_image(const char *path, struct liveness_rgb *img)
{
	uint8_t *b;
	size_t n;
	int rc = lt_read_file(path, &b, &n);
	if (rc < 0)
		return rc;
	rc = liveness_image_decode(b, n, NULL, img);
	free(b);
	return rc;
}

/* The real engine: detector, mesh, geometry, descriptor. */
struct lt_engine {
	struct liveness_model *m[4];
	struct liveness_detector *det;
	struct liveness_detect_ws *dws;
	struct liveness_mesher *mesher;
	struct liveness_mesh_ws *mws;
	struct liveness_geometry *geom;
	struct liveness_embedder *emb;
	struct liveness_embed_ws *ews;
};

static inline void lt_engine_done(struct lt_engine *e)
{
	liveness_embed_ws_free(e->ews);
	liveness_embedder_free(e->emb);
	liveness_geometry_free(e->geom);
	liveness_mesh_ws_free(e->mws);
	liveness_mesher_free(e->mesher);
	liveness_detect_ws_free(e->dws);
	liveness_detector_free(e->det);
	for (int i = 0; i < 4; i++)
		liveness_model_free(e->m[i]);
	memset(e, 0, sizeof(*e));
}

/* 0, or -ENOENT after printing the SKIP line (or a failure line when models are required). */
static inline int lt_engine_open(struct lt_engine *e, const char *who)
{
	static const char *const files[4] = {"face_detection_short_range.shnn",
					     "face_landmark.shnn", "face_geometry.shnn",
					     "face_recognition.shnn"};
	const char *dir = getenv("SHIREN_MODEL_DIR");
	const char *req = getenv("SHIREN_REQUIRE_MODELS");
	char path[1024];
	int rc = 0;

	memset(e, 0, sizeof(*e));
	lnn_blas_set_threads(1); /* idle BLAS threads spin: ruinous on a 2-core CI machine */
	if (!dir || !*dir)
		dir = "build/models";
	for (int i = 0; i < 4 && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		rc = liveness_model_open(path, &e->m[i]);
	}
	if (rc == 0 && (access(LT_HOPPER, R_OK) != 0 || access(LT_ASTRONAUT, R_OK) != 0))
		rc = -ENOENT;
	if (rc < 0) {
		lt_engine_done(e);
		if (req && strcmp(req, "1") == 0) {
			fprintf(stderr, "  %s: models or images missing (%s): make models\n", who,
				path);
			return -EIO;
		}
		printf("SKIP %s: no converted models in %s or no Debian face images "
		       "(make models; deploy/local/install.sh)\n",
		       who, dir);
		return -ENOENT;
	}
	if ((rc = liveness_detector_new(e->m[0], &e->det)) < 0 ||
	    (rc = liveness_detect_ws_new(e->det, &e->dws)) < 0 ||
	    (rc = liveness_mesher_new(e->m[1], &e->mesher)) < 0 ||
	    (rc = liveness_mesh_ws_new(e->mesher, &e->mws)) < 0 ||
	    (rc = liveness_geometry_new(e->m[2], &e->geom)) < 0 ||
	    (rc = liveness_embedder_new(e->m[3], &e->emb)) < 0 ||
	    (rc = liveness_embed_ws_new(e->emb, &e->ews)) < 0) {
		fprintf(stderr, "  %s: engine setup failed: %d\n", who, rc);
		lt_engine_done(e);
		return -EIO;
	}
	return 0;
}

/* Detect the largest face and mesh it; 0 or a negative code. */
static inline int lt_face(struct lt_engine *e, const struct liveness_rgb *img,
			  struct liveness_mesh *mesh, struct liveness_face_info *fi)
{
	struct liveness_face f[4];
	int n = liveness_detect_run(e->det, e->dws, img, NULL, f, 4);
	if (n <= 0)
		return n < 0 ? n : -ENOENT;
	int rc = liveness_mesh_from_face(e->mesher, e->mws, img, &f[0], mesh);
	if (rc == 0)
		liveness_face_measure(e->geom, mesh, fi);
	return rc;
}

#endif
