/* liveness_engine — wires the models and networks into the per-image pipeline. */
#include "liveness/liveness_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_DETECT, M_MESH, M_GEOMETRY, M_EMBED, M_COUNT };

struct liveness_engine {
	struct liveness_model *models[M_COUNT];
	struct liveness_detector *det;
	struct liveness_mesher *mesher;
	struct liveness_geometry *geom;
	struct liveness_embedder *emb;
};

struct liveness_worker {
	struct liveness_detect_ws *det;
	struct liveness_mesh_ws *mesh;
	struct liveness_embed_ws *emb;
};

int liveness_engine_open(const char *dir, struct liveness_engine **ret_eng)
{
	static const char *const files[M_COUNT] = {LIVENESS_MODEL_DETECT, LIVENESS_MODEL_MESH,
						   LIVENESS_MODEL_GEOMETRY, LIVENESS_MODEL_EMBED};
	struct liveness_engine *e;
	char path[4096];
	int rc = 0;

	*ret_eng = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (int i = 0; i < M_COUNT && rc == 0; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		rc = n < 0 || (size_t)n >= sizeof(path) ? -ENAMETOOLONG
							: liveness_model_open(path, &e->models[i]);
	}
	if (rc == 0)
		rc = liveness_detector_new(e->models[M_DETECT], &e->det);
	if (rc == 0)
		rc = liveness_mesher_new(e->models[M_MESH], &e->mesher);
	if (rc == 0)
		rc = liveness_geometry_new(e->models[M_GEOMETRY], &e->geom);
	if (rc == 0)
		rc = liveness_embedder_new(e->models[M_EMBED], &e->emb);
	if (rc < 0) {
		liveness_engine_free(e);
		return rc;
	}
	*ret_eng = e;
	return 0;
}

void liveness_engine_free(struct liveness_engine *e)
{
	if (!e)
		return;
	liveness_embedder_free(e->emb);
	liveness_geometry_free(e->geom);
	liveness_mesher_free(e->mesher);
	liveness_detector_free(e->det);
	for (int i = 0; i < M_COUNT; i++)
		liveness_model_free(e->models[i]);
	free(e);
}

int liveness_worker_new(const struct liveness_engine *e, struct liveness_worker **ret_w)
{
	struct liveness_worker *w = calloc(1, sizeof(*w));
	int rc;

	*ret_w = NULL;
	if (!w)
		return -ENOMEM;
	if ((rc = liveness_detect_ws_new(e->det, &w->det)) < 0 ||
	    (rc = liveness_mesh_ws_new(e->mesher, &w->mesh)) < 0 ||
	    (rc = liveness_embed_ws_new(e->emb, &w->emb)) < 0) {
		liveness_worker_free(w);
		return rc;
	}
	*ret_w = w;
	return 0;
}

void liveness_worker_free(struct liveness_worker *w)
{
	if (!w)
		return;
	liveness_detect_ws_free(w->det);
	liveness_mesh_ws_free(w->mesh);
	liveness_embed_ws_free(w->emb);
	free(w);
}

void liveness_analysis_describe(const struct liveness_engine *e, struct liveness_worker *w,
				struct liveness_analysis *a)
{
	if (!a->has_face || a->has_descriptor)
		return;
	liveness_embed_run(e->emb, w->emb, a->chip, a->descriptor);
	a->has_descriptor = true;
}

int liveness_analyze(const struct liveness_engine *e, struct liveness_worker *w,
		     const struct liveness_rgb *img, const struct liveness_quality_limits *lim,
		     unsigned flags, struct liveness_analysis *ret)
{
	struct liveness_detect_opts opts = LIVENESS_DETECT_OPTS_DEFAULT;
	int n, rc;

	if (!img || !img->px || img->w == 0 || img->h == 0)
		return -EINVAL;
	ret->has_face = false;
	ret->has_descriptor = false;
	if (flags & LIVENESS_NO_SMALL_FACES)
		opts.small_zoom = 0;
	n = liveness_detect_run(e->det, w->det, img, &opts, ret->faces, LIVENESS_MAX_FACES);
	if (n < 0)
		return n;
	ret->nfaces = n;
	if (n > 0) {
		rc = liveness_mesh_from_face(e->mesher, w->mesh, img, &ret->faces[0], &ret->mesh);
		if (rc < 0)
			return rc;
		liveness_face_measure(e->geom, &ret->mesh, &ret->info);
		ret->has_face =
			liveness_face_chip(img, &ret->info, LIVENESS_EMBED_SIZE, ret->chip) == 0;
	}
	liveness_quality_assess(lim, ret->faces, n, ret->has_face ? &ret->mesh : NULL,
				ret->has_face ? &ret->info : NULL, ret->has_face ? ret->chip : NULL,
				&ret->quality);
	if (ret->quality.reasons & LIVENESS_Q_NO_FACE)
		ret->has_face = false;
	if (flags & LIVENESS_WANT_DESCRIPTOR)
		liveness_analysis_describe(e, w, ret);
	return 0;
}
