/* liveness_embed — builds the descriptor network from a loaded model (shape-checked once) and
 * runs it: normalise, 7x7/2 stem, 3x3/2 max-pool, 14 residual blocks, global average, dense.
 * Spatial semantics are dlib's: stride-2 layers unpadded, 3x3 stride-1 layers padded by 1, and
 * a residual add whose output takes the larger of the two shapes (missing values are 0). */
#include "liveness/liveness_embed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_nn.h"

/* Per-channel input mean (R, G, B) of the dlib network's input layer, and the divisor. dlib
 * documents a divisor of 256; face-api, whose weights these are, feeds x/255 and our parity
 * against it is exact only with 255 (docs/liveness.md, "Preprocessing"). */
static const float embed_mean[3] = {122.782f, 117.001f, 104.298f};
#define EMBED_DIVISOR 255.0f

#define EMBED_BLOCKS 14
#define STEM_CH	     32
#define FC_IN	     256

struct block_def {
	const char *name;
	int cout;
	bool down;
};

/* Residual stages as the weight names give them: 32 x3, 64 (down + 3), 128 (down + 2),
 * 256 (down + 2 + down). */
static const struct block_def block_defs[EMBED_BLOCKS] = {
	{"conv32_1", 32, false},   {"conv32_2", 32, false},	    {"conv32_3", 32, false},
	{"conv64_down", 64, true}, {"conv64_1", 64, false},	    {"conv64_2", 64, false},
	{"conv64_3", 64, false},   {"conv128_down", 128, true},	    {"conv128_1", 128, false},
	{"conv128_2", 128, false}, {"conv256_down", 256, true},	    {"conv256_1", 256, false},
	{"conv256_2", 256, false}, {"conv256_down_out", 256, true},
};

struct block {
	struct lnn_conv c1, c2;
	struct lnn_shape in, mid, out, shortcut;
	bool down;
};

struct liveness_embedder {
	struct lnn_conv stem;
	struct lnn_shape in_shape, stem_shape, pool_shape;
	struct block blocks[EMBED_BLOCKS];
	int nblocks;
	const float *fc; /* [256][128] */
	size_t max_act, max_cols;
};

struct liveness_embed_ws {
	float *x, *y, *z, *s, *cols;
};

static int find_conv(const struct liveness_model *m, const char *prefix, int k, int cin, int cout,
		     struct lnn_conv *cv)
{
	char name[LIVENESS_MODEL_NAME_MAX];
	const uint32_t fshape[4] = {(uint32_t)k, (uint32_t)k, (uint32_t)cin, (uint32_t)cout};
	const uint32_t vshape[1] = {(uint32_t)cout};
	static const char *const parts[4] = {"conv/filters", "conv/bias", "scale/weights",
					     "scale/biases"};
	const float **dst[4] = {&cv->filt, &cv->bias, &cv->scale, &cv->shift};

	for (int i = 0; i < 4; i++) {
		int n = snprintf(name, sizeof(name), "%s/%s", prefix, parts[i]);
		if (n < 0 || (size_t)n >= sizeof(name))
			return -ENAMETOOLONG;
		int rc = liveness_model_expect(m, name, i == 0 ? 4 : 1, i == 0 ? fshape : vshape,
					       dst[i]);
		if (rc < 0)
			return rc;
	}
	cv->kh = cv->kw = k;
	cv->cin = cin;
	cv->cout = cout;
	return 0;
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/* Block i: conv1 (3x3; stride 2 unpadded when down, else stride 1 pad 1) + bias + affine +
 * ReLU, conv2 (3x3/1 pad 1) + bias + affine, plus the shortcut (identity, or a 2x2/2 average
 * pool whose missing channels count as 0), then ReLU. */
static int plan(const struct liveness_model *m, struct liveness_embedder *e)
{
	struct lnn_shape cur;
	const uint32_t fc_shape[2] = {FC_IN, LIVENESS_EMBED_DIM};
	int rc;

	e->in_shape = (struct lnn_shape){LIVENESS_EMBED_SIZE, LIVENESS_EMBED_SIZE, 3};
	rc = find_conv(m, "conv32_down", 7, 3, STEM_CH, &e->stem);
	if (rc < 0)
		return rc;
	e->stem.stride = 2;
	e->stem.relu = true;
	e->stem_shape = (struct lnn_shape){lnn_out_dim(LIVENESS_EMBED_SIZE, 7, 2, 0, 0),
					   lnn_out_dim(LIVENESS_EMBED_SIZE, 7, 2, 0, 0), STEM_CH};
	e->pool_shape = (struct lnn_shape){lnn_out_dim(e->stem_shape.h, 3, 2, 0, 0),
					   lnn_out_dim(e->stem_shape.w, 3, 2, 0, 0), STEM_CH};
	e->max_act = max_sz(lnn_shape_size(e->in_shape), lnn_shape_size(e->stem_shape));
	e->max_cols = lnn_conv_cols_size(&e->stem, e->stem_shape);
	cur = e->pool_shape;
	for (int i = 0; i < EMBED_BLOCKS; i++) {
		const struct block_def *d = &block_defs[i];
		struct block *b = &e->blocks[i];
		char name[LIVENESS_MODEL_NAME_MAX];
		int s = d->down ? 2 : 1, p = d->down ? 0 : 1;

		if (snprintf(name, sizeof(name), "%s/conv1", d->name) >= (int)sizeof(name))
			return -ENAMETOOLONG;
		rc = find_conv(m, name, 3, cur.c, d->cout, &b->c1);
		if (rc < 0)
			return rc;
		if (snprintf(name, sizeof(name), "%s/conv2", d->name) >= (int)sizeof(name))
			return -ENAMETOOLONG;
		rc = find_conv(m, name, 3, d->cout, d->cout, &b->c2);
		if (rc < 0)
			return rc;
		b->down = d->down;
		b->in = cur;
		b->c1.stride = s;
		b->c1.pad_t = b->c1.pad_l = p;
		b->c1.relu = true;
		b->mid = (struct lnn_shape){lnn_out_dim(cur.h, 3, s, p, p),
					    lnn_out_dim(cur.w, 3, s, p, p), d->cout};
		b->c2.stride = 1;
		b->c2.pad_t = b->c2.pad_l = 1;
		b->shortcut = cur;
		if (d->down)
			b->shortcut = (struct lnn_shape){lnn_out_dim(cur.h, 2, 2, 0, 0),
							 lnn_out_dim(cur.w, 2, 2, 0, 0), cur.c};
		if (b->mid.h < 1 || b->mid.w < 1 || b->shortcut.h < 1 || b->shortcut.w < 1)
			return -EINVAL;
		b->out = (struct lnn_shape){max_int(b->mid.h, b->shortcut.h),
					    max_int(b->mid.w, b->shortcut.w),
					    max_int(b->mid.c, b->shortcut.c)};
		e->max_act = max_sz(e->max_act, lnn_shape_size(b->out));
		e->max_act = max_sz(e->max_act, lnn_shape_size(b->mid));
		e->max_act = max_sz(e->max_act, lnn_shape_size(b->shortcut));
		e->max_cols = max_sz(e->max_cols, lnn_conv_cols_size(&b->c1, b->mid));
		e->max_cols = max_sz(e->max_cols, lnn_conv_cols_size(&b->c2, b->mid));
		cur = b->out;
	}
	e->nblocks = EMBED_BLOCKS;
	if (cur.c != FC_IN)
		return -EBADMSG;
	return liveness_model_expect(m, "fc", 2, fc_shape, &e->fc);
}

int liveness_embedder_new(const struct liveness_model *model, struct liveness_embedder **ret_emb)
{
	struct liveness_embedder *e;
	int rc;

	*ret_emb = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	rc = plan(model, e);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*ret_emb = e;
	return 0;
}

void liveness_embedder_free(struct liveness_embedder *e)
{
	free(e);
}

int liveness_embed_ws_new(const struct liveness_embedder *e, struct liveness_embed_ws **ret_ws)
{
	struct liveness_embed_ws *ws = calloc(1, sizeof(*ws));
	float **bufs[4];

	*ret_ws = NULL;
	if (!ws)
		return -ENOMEM;
	bufs[0] = &ws->x;
	bufs[1] = &ws->y;
	bufs[2] = &ws->z;
	bufs[3] = &ws->s;
	for (int i = 0; i < 4; i++) {
		*bufs[i] = malloc(e->max_act * sizeof(float));
		if (!*bufs[i])
			goto fail;
	}
	ws->cols = malloc(max_sz(e->max_cols, 1) * sizeof(float));
	if (!ws->cols)
		goto fail;
	*ret_ws = ws;
	return 0;
fail:
	liveness_embed_ws_free(ws);
	return -ENOMEM;
}

void liveness_embed_ws_free(struct liveness_embed_ws *ws)
{
	if (!ws)
		return;
	free(ws->x);
	free(ws->y);
	free(ws->z);
	free(ws->s);
	free(ws->cols);
	free(ws);
}

static void run_block(const struct block *b, struct liveness_embed_ws *ws)
{
	const float *sc = ws->x;

	lnn_conv2d(&b->c1, ws->x, b->in, ws->y, b->mid, ws->cols);
	lnn_conv2d(&b->c2, ws->y, b->mid, ws->z, b->mid, ws->cols);
	if (b->down) {
		lnn_avgpool(ws->x, b->in, 2, 2, ws->s, b->shortcut);
		sc = ws->s;
	}
	lnn_add_zeropad(ws->z, b->mid, sc, b->shortcut, ws->y, b->out, true);
	float *t = ws->x;
	ws->x = ws->y;
	ws->y = t;
}

void liveness_embed_run(const struct liveness_embedder *e, struct liveness_embed_ws *ws,
			const uint8_t *rgb, float *out)
{
	const size_t n = (size_t)LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE;
	float pooled[FC_IN];

	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			ws->y[i * 3 + (size_t)c] =
				((float)rgb[i * 3 + (size_t)c] - embed_mean[c]) / EMBED_DIVISOR;
	lnn_conv2d(&e->stem, ws->y, e->in_shape, ws->z, e->stem_shape, ws->cols);
	lnn_maxpool(ws->z, e->stem_shape, 3, 2, ws->x, e->pool_shape);
	for (int i = 0; i < e->nblocks; i++)
		run_block(&e->blocks[i], ws);
	lnn_global_avgpool(ws->x, e->blocks[e->nblocks - 1].out, pooled);
	lnn_fc(pooled, FC_IN, e->fc, NULL, LIVENESS_EMBED_DIM, out);
}

double liveness_embed_distance(const float *a, const float *b)
{
	double s = 0.0;
	for (int i = 0; i < LIVENESS_EMBED_DIM; i++) {
		double d = (double)a[i] - (double)b[i];
		s += d * d;
	}
	return sqrt(s);
}

double liveness_verify_score(double distance)
{
	double s = 100.0 * (1.0 - distance / (2.0 * LIVENESS_EMBED_THRESHOLD));
	if (!(s > 0.0))
		return 0.0;
	return s > 100.0 ? 100.0 : s;
}

bool liveness_embed_same(double distance)
{
	return distance < LIVENESS_EMBED_THRESHOLD;
}
