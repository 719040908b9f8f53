/* liveness_detect — BlazeFace short range: the network as the converted TFLite graph gives it
 * (5x5/2 stem, 16 "BlazeBlocks" of depthwise 3x3 + pointwise 1x1 with a max-pool/channel-pad
 * shortcut, two SSD heads at 16x16 and 8x8), anchors from the documented SSD anchor options,
 * box decoding and weighted NMS. */
#include "liveness/liveness_detect.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_nn.h"

#define NBLOCKS	   16
#define STEM_CH	   24
#define HEAD8_AT   10 /* the 16x16 head reads the output of block 10 (88 channels) */
#define COORDS	   16 /* per anchor: box (x, y, w, h) + 6 keypoints (x, y) */
#define RAW_SCALE  128.0f
#define SCORE_CLIP 100.0f
#define CAND_MAX   2048 /* candidates kept over all passes of one image */

/* (cin, cout, stride) per block, as the pointwise filter shapes and the depthwise strides of
 * the graph give them. */
static const struct {
	int cin, cout, stride;
} block_defs[NBLOCKS] = {
	{24, 24, 1}, {24, 28, 1}, {28, 32, 2}, {32, 36, 1}, {36, 42, 1}, {42, 48, 2},
	{48, 56, 1}, {56, 64, 1}, {64, 72, 1}, {72, 80, 1}, {80, 88, 1}, {88, 96, 2},
	{96, 96, 1}, {96, 96, 1}, {96, 96, 1}, {96, 96, 1},
};

struct dblock {
	struct lnn_dwconv dw;
	struct lnn_conv pw;
	struct lnn_shape in, mid, out;
	bool down;
};

struct liveness_detector {
	struct lnn_conv stem;
	struct lnn_shape in_shape, stem_shape;
	struct dblock blocks[NBLOCKS];
	struct lnn_conv cls8, reg8, cls16, reg16;
	size_t max_act, max_cols;
	float anchors[LIVENESS_DETECT_ANCHORS][2];
};

struct liveness_detect_ws {
	float *x, *y, *z, *s, *cols;
	float cls[LIVENESS_DETECT_ANCHORS];
	float reg[LIVENESS_DETECT_ANCHORS * COORDS];
	uint8_t chip[LIVENESS_DETECT_INPUT * LIVENESS_DETECT_INPUT * 3];
	struct liveness_face cand[CAND_MAX];
};

/* TensorFlow "SAME": output ceil(in / s), padding split with the smaller half first. */
static void same_pad(int in, int k, int s, int *ret_out, int *ret_before)
{
	int out = (in + s - 1) / s;
	int total = (out - 1) * s + k - in;
	*ret_out = out;
	*ret_before = total > 0 ? total / 2 : 0;
}

static int get(const struct liveness_model *m, const char *layer, const char *part, uint32_t ndim,
	       const uint32_t *dims, const float **ret)
{
	char name[LIVENESS_MODEL_NAME_MAX];
	int n = snprintf(name, sizeof(name), "%s/%s", layer, part);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -ENAMETOOLONG;
	return liveness_model_expect(m, name, ndim, dims, ret);
}

/* A conv with filter [k][k][cin][cout] and bias [cout] named <layer>/Kernel, <layer>/Bias. */
static int plan_conv(const struct liveness_model *m, const char *layer, int k, int cin, int cout,
		     struct lnn_conv *cv)
{
	const uint32_t f[4] = {(uint32_t)k, (uint32_t)k, (uint32_t)cin, (uint32_t)cout};
	const uint32_t b[1] = {(uint32_t)cout};
	int rc = get(m, layer, "Kernel", 4, f, &cv->filt);
	if (rc == 0)
		rc = get(m, layer, "Bias", 1, b, &cv->bias);
	cv->kh = cv->kw = k;
	cv->cin = cin;
	cv->cout = cout;
	cv->stride = 1;
	return rc;
}

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

static int plan_blocks(const struct liveness_model *m, struct liveness_detector *d)
{
	struct lnn_shape cur = d->stem_shape;
	char dwname[32], pwname[32];

	for (int i = 0; i < NBLOCKS; i++) {
		struct dblock *b = &d->blocks[i];
		const uint32_t dwf[4] = {1, 3, 3, (uint32_t)block_defs[i].cin};
		const uint32_t dwb[1] = {(uint32_t)block_defs[i].cin};
		int oh, ow, pt, pl, rc;

		if (cur.c != block_defs[i].cin)
			return -EBADMSG;
		if (i == 0)
			snprintf(dwname, sizeof(dwname), "depthwise_conv2d");
		else
			snprintf(dwname, sizeof(dwname), "depthwise_conv2d_%d", i);
		snprintf(pwname, sizeof(pwname), "conv2d_%d", i + 1);
		if ((rc = get(m, dwname, "Kernel", 4, dwf, &b->dw.filt)) < 0 ||
		    (rc = get(m, dwname, "Bias", 1, dwb, &b->dw.bias)) < 0 ||
		    (rc = plan_conv(m, pwname, 1, block_defs[i].cin, block_defs[i].cout, &b->pw)) <
			    0)
			return rc;
		same_pad(cur.h, 3, block_defs[i].stride, &oh, &pt);
		same_pad(cur.w, 3, block_defs[i].stride, &ow, &pl);
		b->dw.kh = b->dw.kw = 3;
		b->dw.c = cur.c;
		b->dw.stride = block_defs[i].stride;
		b->dw.pad_t = pt;
		b->dw.pad_l = pl;
		b->down = block_defs[i].stride == 2;
		b->in = cur;
		b->mid = (struct lnn_shape){oh, ow, cur.c};
		b->out = (struct lnn_shape){oh, ow, block_defs[i].cout};
		if (b->down && (cur.h % 2 || cur.w % 2))
			return -EINVAL; /* the 2x2/2 "SAME" pool needs no padding only on even sizes */
		d->max_act = zmax(d->max_act, lnn_shape_size(b->out));
		cur = b->out;
	}
	return 0;
}

static int plan(const struct liveness_model *m, struct liveness_detector *d)
{
	int oh, ow, pt, pl, rc;

	d->in_shape = (struct lnn_shape){LIVENESS_DETECT_INPUT, LIVENESS_DETECT_INPUT, 3};
	if ((rc = plan_conv(m, "conv2d", 5, 3, STEM_CH, &d->stem)) < 0)
		return rc;
	same_pad(LIVENESS_DETECT_INPUT, 5, 2, &oh, &pt);
	same_pad(LIVENESS_DETECT_INPUT, 5, 2, &ow, &pl);
	d->stem.stride = 2;
	d->stem.pad_t = pt;
	d->stem.pad_l = pl;
	d->stem.relu = true;
	d->stem_shape = (struct lnn_shape){oh, ow, STEM_CH};
	d->max_act = zmax(lnn_shape_size(d->in_shape), lnn_shape_size(d->stem_shape));
	d->max_cols = lnn_conv_cols_size(&d->stem, d->stem_shape);
	if ((rc = plan_blocks(m, d)) < 0)
		return rc;
	if ((rc = plan_conv(m, "classificator_8", 1, 88, 2, &d->cls8)) < 0 ||
	    (rc = plan_conv(m, "regressor_8", 1, 88, 2 * COORDS, &d->reg8)) < 0 ||
	    (rc = plan_conv(m, "classificator_16", 1, 96, 6, &d->cls16)) < 0 ||
	    (rc = plan_conv(m, "regressor_16", 1, 96, 6 * COORDS, &d->reg16)) < 0)
		return rc;
	if (d->blocks[HEAD8_AT].out.h != 16 || d->blocks[NBLOCKS - 1].out.h != 8)
		return -EBADMSG;
	return liveness_detect_anchors(d->anchors, LIVENESS_DETECT_ANCHORS) ==
			       LIVENESS_DETECT_ANCHORS
		       ? 0
		       : -EBADMSG;
}

int liveness_detector_new(const struct liveness_model *model, struct liveness_detector **ret_det)
{
	struct liveness_detector *d;
	int rc;

	*ret_det = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	rc = plan(model, d);
	if (rc < 0) {
		free(d);
		return rc;
	}
	*ret_det = d;
	return 0;
}

void liveness_detector_free(struct liveness_detector *d)
{
	free(d);
}

int liveness_detect_ws_new(const struct liveness_detector *d, struct liveness_detect_ws **ret_ws)
{
	struct liveness_detect_ws *ws = calloc(1, sizeof(*ws));

	*ret_ws = NULL;
	if (!ws)
		return -ENOMEM;
	ws->x = malloc(d->max_act * sizeof(float));
	ws->y = malloc(d->max_act * sizeof(float));
	ws->z = malloc(d->max_act * sizeof(float));
	ws->s = malloc(d->max_act * sizeof(float));
	ws->cols = malloc(zmax(d->max_cols, 1) * sizeof(float));
	if (!ws->x || !ws->y || !ws->z || !ws->s || !ws->cols) {
		liveness_detect_ws_free(ws);
		return -ENOMEM;
	}
	*ret_ws = ws;
	return 0;
}

void liveness_detect_ws_free(struct liveness_detect_ws *ws)
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

/* SSD anchors with MediaPipe's documented options for this model: 4 layers with strides
 * 8, 16, 16, 16 on a 128x128 input, aspect ratio 1 plus one interpolated scale (2 anchors per
 * layer and cell), fixed anchor size, offset 0.5; consecutive layers with the same stride share
 * one grid. Only the centres matter with fixed-size anchors. */
int liveness_detect_anchors(float (*ret_xy)[2], int max)
{
	static const int strides[4] = {8, 16, 16, 16};
	int n = 0;

	for (int l = 0; l < 4;) {
		int per_cell = 0, last = l;
		while (last < 4 && strides[last] == strides[l]) {
			per_cell += 2;
			last++;
		}
		int grid = (LIVENESS_DETECT_INPUT + strides[l] - 1) / strides[l];
		for (int y = 0; y < grid; y++)
			for (int x = 0; x < grid; x++)
				for (int a = 0; a < per_cell; a++) {
					if (n < max) {
						ret_xy[n][0] = ((float)x + 0.5f) / (float)grid;
						ret_xy[n][1] = ((float)y + 0.5f) / (float)grid;
					}
					n++;
				}
		l = last;
	}
	return n;
}

static void run_block(const struct dblock *b, struct liveness_detect_ws *ws)
{
	const float *sc = ws->x;
	float *t;

	lnn_dwconv2d(&b->dw, ws->x, b->in, ws->z, b->mid);
	lnn_conv2d(&b->pw, ws->z, b->mid, ws->y, b->out, NULL);
	if (b->down) {
		lnn_maxpool(ws->x, b->in, 2, 2, ws->s,
			    (struct lnn_shape){b->out.h, b->out.w, b->in.c});
		sc = ws->s;
	}
	lnn_add_zeropad(ws->y, b->out, sc, (struct lnn_shape){b->out.h, b->out.w, b->in.c}, ws->z,
			b->out, true);
	t = ws->x;
	ws->x = ws->z;
	ws->z = t;
}

static void forward(const struct liveness_detector *d, struct liveness_detect_ws *ws)
{
	const size_t n = (size_t)LIVENESS_DETECT_INPUT * LIVENESS_DETECT_INPUT * 3;
	const struct lnn_shape s16 = d->blocks[HEAD8_AT].out, s8 = d->blocks[NBLOCKS - 1].out;

	/* the model takes RGB scaled to [-1, 1] */
	for (size_t i = 0; i < n; i++)
		ws->y[i] = (float)ws->chip[i] / 127.5f - 1.0f;
	lnn_conv2d(&d->stem, ws->y, d->in_shape, ws->x, d->stem_shape, ws->cols);
	for (int i = 0; i < NBLOCKS; i++) {
		run_block(&d->blocks[i], ws);
		if (i == HEAD8_AT) {
			/* HWC output = the model's reshape to (anchor, value): 2 anchors per cell */
			lnn_conv2d(&d->cls8, ws->x, s16, ws->cls, (struct lnn_shape){16, 16, 2},
				   NULL);
			lnn_conv2d(&d->reg8, ws->x, s16, ws->reg,
				   (struct lnn_shape){16, 16, 2 * COORDS}, NULL);
		}
	}
	lnn_conv2d(&d->cls16, ws->x, s8, ws->cls + 512, (struct lnn_shape){8, 8, 6}, NULL);
	lnn_conv2d(&d->reg16, ws->x, s8, ws->reg + 512 * COORDS,
		   (struct lnn_shape){8, 8, 6 * COORDS}, NULL);
}

/* Raw regressor values are offsets from the anchor centre in input pixels (x before y).
 * Appends candidates at ws->cand[n...] and returns the new count. */
static int decode(const struct liveness_detector *d, struct liveness_detect_ws *ws,
		  const struct liveness_letterbox *map, float min_score, int n)
{
	for (int a = 0; a < LIVENESS_DETECT_ANCHORS && n < CAND_MAX; a++) {
		float raw = ws->cls[a];
		raw = raw > SCORE_CLIP ? SCORE_CLIP : raw < -SCORE_CLIP ? -SCORE_CLIP : raw;
		float score = 1.0f / (1.0f + expf(-raw));
		if (!(score >= min_score))
			continue;
		const float *r = ws->reg + (size_t)a * COORDS;
		const float ax = d->anchors[a][0] * RAW_SCALE, ay = d->anchors[a][1] * RAW_SCALE;
		struct liveness_face *f = &ws->cand[n++];
		float cx = r[0] + ax, cy = r[1] + ay, w = r[2], h = r[3];
		f->x = map->x0 + (cx - w / 2 - (float)map->ox) * map->sx;
		f->y = map->y0 + (cy - h / 2 - (float)map->oy) * map->sy;
		f->w = w * map->sx;
		f->h = h * map->sy;
		f->score = score;
		for (int k = 0; k < LIVENESS_DETECT_KEYPOINTS; k++) {
			f->kp[k][0] = map->x0 + (r[4 + 2 * k] + ax - (float)map->ox) * map->sx;
			f->kp[k][1] = map->y0 + (r[5 + 2 * k] + ay - (float)map->oy) * map->sy;
		}
	}
	return n;
}

static int pass(const struct liveness_detector *d, struct liveness_detect_ws *ws,
		const struct liveness_rgb *img, uint32_t rx, uint32_t ry, uint32_t rw, uint32_t rh,
		float min_score, int n)
{
	struct liveness_letterbox map;

	liveness_chip_letterbox(img, rx, ry, rw, rh, LIVENESS_DETECT_INPUT, ws->chip, &map);
	forward(d, ws);
	return decode(d, ws, &map, min_score, n);
}

/* Tile origins along one axis: side-long tiles every side/2, the last one flush with the end. */
static int tile_starts(uint32_t len, uint32_t side, uint32_t *starts, int max)
{
	int n = 0;
	uint32_t step = side / 2 ? side / 2 : 1;

	for (uint32_t p = 0; n < max; p += step) {
		if (p + side >= len) {
			starts[n++] = len > side ? len - side : 0;
			break;
		}
		starts[n++] = p;
	}
	return n;
}

static int small_faces(const struct liveness_detector *d, struct liveness_detect_ws *ws,
		       const struct liveness_rgb *img, const struct liveness_detect_opts *opts)
{
	uint32_t big = img->w > img->h ? img->w : img->h;
	uint32_t side = big / (uint32_t)opts->small_zoom, xs[8], ys[8];
	int n = 0, nx, ny;

	if (side < LIVENESS_DETECT_INPUT / 2)
		side = LIVENESS_DETECT_INPUT / 2; /* no point zooming past 2x */
	nx = tile_starts(img->w, side, xs, 8);
	ny = tile_starts(img->h, side, ys, 8);
	for (int j = 0; j < ny; j++)
		for (int i = 0; i < nx; i++)
			n = pass(d, ws, img, xs[i], ys[j], side < img->w ? side : img->w,
				 side < img->h ? side : img->h, opts->small_min_score, n);
	return n;
}

int liveness_detect_run(const struct liveness_detector *d, struct liveness_detect_ws *ws,
			const struct liveness_rgb *img, const struct liveness_detect_opts *opts,
			struct liveness_face *faces, int max)
{
	struct liveness_detect_opts def = LIVENESS_DETECT_OPTS_DEFAULT;
	int n;

	if (!img || !img->px || img->w == 0 || img->h == 0 || max < 0)
		return -EINVAL;
	if (!opts)
		opts = &def;
	n = pass(d, ws, img, 0, 0, img->w, img->h, opts->min_score, 0);
	if (n == 0 && opts->small_zoom > 1)
		n = small_faces(d, ws, img, opts);
	return liveness_detect_nms(ws->cand, n, opts->nms_iou, faces, max);
}

static float iou(const struct liveness_face *a, const struct liveness_face *b)
{
	float ix = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
	float iy = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
	if (!(ix > 0.0f && iy > 0.0f))
		return 0.0f;
	float inter = ix * iy, uni = a->w * a->h + b->w * b->h - inter;
	return uni > 0.0f ? inter / uni : 0.0f;
}

static int by_score_desc(const void *pa, const void *pb)
{
	const struct liveness_face *a = pa, *b = pb;
	return a->score > b->score ? -1 : a->score < b->score;
}

int liveness_detect_nms(struct liveness_face *cand, int n, float iou_thr, struct liveness_face *out,
			int max)
{
	bool used[CAND_MAX] = {false};
	int nout = 0;

	if (n > CAND_MAX)
		n = CAND_MAX;
	qsort(cand, (size_t)n, sizeof(*cand), by_score_desc);
	for (int i = 0; i < n && nout < max; i++) {
		struct liveness_face acc = {0};
		float wsum = 0.0f;
		if (used[i])
			continue;
		for (int j = i; j < n; j++) {
			if (used[j] || (j != i && !(iou(&cand[i], &cand[j]) > iou_thr)))
				continue;
			used[j] = true;
			float w = cand[j].score;
			acc.x += w * cand[j].x;
			acc.y += w * cand[j].y;
			acc.w += w * cand[j].w;
			acc.h += w * cand[j].h;
			for (int k = 0; k < LIVENESS_DETECT_KEYPOINTS; k++) {
				acc.kp[k][0] += w * cand[j].kp[k][0];
				acc.kp[k][1] += w * cand[j].kp[k][1];
			}
			wsum += w;
		}
		if (!(wsum > 0.0f))
			continue;
		struct liveness_face *f = &out[nout++];
		f->x = acc.x / wsum;
		f->y = acc.y / wsum;
		f->w = acc.w / wsum;
		f->h = acc.h / wsum;
		for (int k = 0; k < LIVENESS_DETECT_KEYPOINTS; k++) {
			f->kp[k][0] = acc.kp[k][0] / wsum;
			f->kp[k][1] = acc.kp[k][1] / wsum;
		}
		f->score = cand[i].score;
	}
	return nout;
}
