/* liveness_mesh — the face mesh network as the converted TFLite graph gives it: a 3x3/2 stem
 * with PReLU, 17 residual blocks (depthwise 3x3 "SAME" + pointwise 1x1, shortcut identity or
 * 2x2/2 max-pool with zero channels appended, add, PReLU), a 1x1 128->32 reduction, one more
 * block and a 3x3/3 "VALID" head to 1404 values; the face flag branches off after block 14 with
 * its own strided block, reduction, block and 3x3 head. ROI handling and mapping back to image
 * pixels. */
#include "liveness/liveness_mesh.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_nn.h"

#define N_TRUNK	   17
#define FLAG_AFTER 14 /* the face-flag branch reads the output of trunk block 14 (6x6x128) */
#define HEAD_CH	   32
#define N_COORDS   (LIVENESS_MESH_POINTS * 3)
#define ROI_SCALE  1.5f

/* Tensor name numbers (depthwise_conv2d_<dw>, conv2d_<pw>, p_re_lu_<act>) and shapes. */
struct block_def {
	int dw, pw, act, cin, cout, stride;
};

static const struct block_def trunk_defs[N_TRUNK] = {
	{1, 2, 2, 16, 16, 1},	   {2, 3, 3, 16, 16, 1},      {3, 4, 4, 16, 32, 2},
	{4, 5, 5, 32, 32, 1},	   {5, 6, 6, 32, 32, 1},      {6, 7, 7, 32, 64, 2},
	{7, 8, 8, 64, 64, 1},	   {8, 9, 9, 64, 64, 1},      {9, 10, 10, 64, 128, 2},
	{10, 11, 11, 128, 128, 1}, {11, 12, 12, 128, 128, 1}, {12, 13, 13, 128, 128, 2},
	{13, 14, 14, 128, 128, 1}, {14, 15, 15, 128, 128, 1}, {15, 16, 16, 128, 128, 2},
	{16, 17, 17, 128, 128, 1}, {17, 18, 18, 128, 128, 1},
};
static const struct block_def lm_block_def = {18, 20, 20, HEAD_CH, HEAD_CH, 1};
static const struct block_def flag_down_def = {23, 28, 26, 128, 128, 2};
static const struct block_def flag_block_def = {24, 30, 28, HEAD_CH, HEAD_CH, 1};

struct mblock {
	struct lnn_dwconv dw;
	struct lnn_conv pw;
	const float *alpha;
	struct lnn_shape in, out;
	bool down;
};

/* A 1x1 (or head) conv followed by an optional PReLU. */
struct mconv {
	struct lnn_conv cv;
	const float *alpha; /* NULL: no activation */
	struct lnn_shape in, out;
};

struct liveness_mesher {
	struct mconv stem;
	struct mblock trunk[N_TRUNK];
	struct mconv lm_reduce, lm_head;
	struct mblock lm_block;
	struct mblock flag_down, flag_block;
	struct mconv flag_reduce, flag_head;
	size_t max_act, max_cols;
};

struct liveness_mesh_ws {
	float *x, *y, *z, *s, *branch, *cols;
	uint8_t chip[LIVENESS_MESH_INPUT * LIVENESS_MESH_INPUT * 3];
	float pts[N_COORDS];
};

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* Tensor <layer>_<num>/<part>. */
static int get(const struct liveness_model *m, const char *layer, int num, const char *part,
	       uint32_t ndim, const uint32_t *dims, const float **ret)
{
	char name[LIVENESS_MODEL_NAME_MAX];
	int n = snprintf(name, sizeof(name), "%s_%d/%s", layer, num, part);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -ENAMETOOLONG;
	return liveness_model_expect(m, name, ndim, dims, ret);
}

static int get_alpha(const struct liveness_model *m, int num, int c, const float **ret)
{
	const uint32_t a[3] = {1, 1, (uint32_t)c};
	return get(m, "p_re_lu", num, "Alpha", 3, a, ret);
}

/* conv2d_<num>: filter [k][k][cin][cout] + bias, unpadded ("VALID") unless pad. */
static int plan_conv(const struct liveness_model *m, int num, int k, int stride, int cin, int cout,
		     struct lnn_conv *cv)
{
	const uint32_t f[4] = {(uint32_t)k, (uint32_t)k, (uint32_t)cin, (uint32_t)cout};
	const uint32_t b[1] = {(uint32_t)cout};
	int rc = get(m, "conv2d", num, "Kernel", 4, f, &cv->filt);
	if (rc == 0)
		rc = get(m, "conv2d", num, "Bias", 1, b, &cv->bias);
	cv->kh = cv->kw = k;
	cv->cin = cin;
	cv->cout = cout;
	cv->stride = stride;
	return rc;
}

/* TensorFlow "SAME" for a 3x3 window: output ceil(in / s), the smaller half of the padding
 * first. */
static int same_before(int in, int s, int *ret_out)
{
	int out = (in + s - 1) / s;
	int total = (out - 1) * s + 3 - in;
	*ret_out = out;
	return total > 0 ? total / 2 : 0;
}

static int plan_block(const struct liveness_model *m, const struct block_def *d,
		      struct lnn_shape in, struct mblock *b, size_t *max_act)
{
	const uint32_t dwf[4] = {1, 3, 3, (uint32_t)d->cin};
	const uint32_t dwb[1] = {(uint32_t)d->cin};
	int oh, ow, rc;

	if (in.c != d->cin)
		return -EBADMSG;
	if ((rc = get(m, "depthwise_conv2d", d->dw, "Kernel", 4, dwf, &b->dw.filt)) < 0 ||
	    (rc = get(m, "depthwise_conv2d", d->dw, "Bias", 1, dwb, &b->dw.bias)) < 0 ||
	    (rc = plan_conv(m, d->pw, 1, 1, d->cin, d->cout, &b->pw)) < 0 ||
	    (rc = get_alpha(m, d->act, d->cout, &b->alpha)) < 0)
		return rc;
	b->dw.kh = b->dw.kw = 3;
	b->dw.c = d->cin;
	b->dw.stride = d->stride;
	b->dw.pad_t = same_before(in.h, d->stride, &oh);
	b->dw.pad_l = same_before(in.w, d->stride, &ow);
	b->down = d->stride == 2;
	/* the 2x2/2 "VALID" max-pool shortcut matches the strided branch only on even sizes */
	if (b->down && (in.h % 2 || in.w % 2))
		return -EBADMSG;
	b->in = in;
	b->out = (struct lnn_shape){oh, ow, d->cout};
	*max_act = zmax(*max_act, zmax(lnn_shape_size(b->out), lnn_shape_size(b->in)));
	return 0;
}

static int plan_heads(const struct liveness_model *m, struct liveness_mesher *t)
{
	const struct lnn_shape s3 = t->trunk[N_TRUNK - 1].out;
	const struct lnn_shape r3 = {s3.h, s3.w, HEAD_CH};
	int rc;

	if (s3.h != 3 || s3.w != 3 || t->trunk[FLAG_AFTER - 1].out.h != 6)
		return -EBADMSG;
	t->lm_reduce = (struct mconv){.in = s3, .out = r3};
	t->lm_head = (struct mconv){.in = r3, .out = {1, 1, N_COORDS}};
	t->flag_reduce = (struct mconv){.in = s3, .out = r3};
	t->flag_head = (struct mconv){.in = r3, .out = {1, 1, 1}};
	if ((rc = plan_conv(m, 19, 1, 1, 128, HEAD_CH, &t->lm_reduce.cv)) < 0 ||
	    (rc = get_alpha(m, 19, HEAD_CH, &t->lm_reduce.alpha)) < 0 ||
	    (rc = plan_block(m, &lm_block_def, r3, &t->lm_block, &t->max_act)) < 0 ||
	    (rc = plan_conv(m, 21, 3, 3, HEAD_CH, N_COORDS, &t->lm_head.cv)) < 0 ||
	    (rc = plan_block(m, &flag_down_def, t->trunk[FLAG_AFTER - 1].out, &t->flag_down,
			     &t->max_act)) < 0 ||
	    (rc = plan_conv(m, 29, 1, 1, 128, HEAD_CH, &t->flag_reduce.cv)) < 0 ||
	    (rc = get_alpha(m, 27, HEAD_CH, &t->flag_reduce.alpha)) < 0 ||
	    (rc = plan_block(m, &flag_block_def, r3, &t->flag_block, &t->max_act)) < 0 ||
	    (rc = plan_conv(m, 31, 3, 3, HEAD_CH, 1, &t->flag_head.cv)) < 0)
		return rc;
	t->max_act = zmax(t->max_act, N_COORDS);
	t->max_cols = zmax(t->max_cols, lnn_conv_cols_size(&t->lm_head.cv, t->lm_head.out));
	return 0;
}

static int plan(const struct liveness_model *m, struct liveness_mesher *t)
{
	struct lnn_shape cur = {LIVENESS_MESH_INPUT, LIVENESS_MESH_INPUT, 3};
	int oh, ow, rc;

	if ((rc = plan_conv(m, 1, 3, 2, 3, 16, &t->stem.cv)) < 0 ||
	    (rc = get_alpha(m, 1, 16, &t->stem.alpha)) < 0)
		return rc;
	t->stem.cv.pad_t = same_before(cur.h, 2, &oh);
	t->stem.cv.pad_l = same_before(cur.w, 2, &ow);
	t->stem.in = cur;
	t->stem.out = (struct lnn_shape){oh, ow, 16};
	t->max_act = zmax(lnn_shape_size(cur), lnn_shape_size(t->stem.out));
	t->max_cols = lnn_conv_cols_size(&t->stem.cv, t->stem.out);
	cur = t->stem.out;
	for (int i = 0; i < N_TRUNK; i++) {
		if ((rc = plan_block(m, &trunk_defs[i], cur, &t->trunk[i], &t->max_act)) < 0)
			return rc;
		cur = t->trunk[i].out;
	}
	return plan_heads(m, t);
}

int liveness_mesher_new(const struct liveness_model *model, struct liveness_mesher **ret_mesher)
{
	struct liveness_mesher *t;
	int rc;

	*ret_mesher = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = plan(model, t);
	if (rc < 0) {
		free(t);
		return rc;
	}
	*ret_mesher = t;
	return 0;
}

void liveness_mesher_free(struct liveness_mesher *m)
{
	free(m);
}

int liveness_mesh_ws_new(const struct liveness_mesher *m, struct liveness_mesh_ws **ret_ws)
{
	struct liveness_mesh_ws *ws = calloc(1, sizeof(*ws));

	*ret_ws = NULL;
	if (!ws)
		return -ENOMEM;
	ws->x = malloc(m->max_act * sizeof(float));
	ws->y = malloc(m->max_act * sizeof(float));
	ws->z = malloc(m->max_act * sizeof(float));
	ws->s = malloc(m->max_act * sizeof(float));
	ws->branch = malloc(m->max_act * sizeof(float));
	ws->cols = malloc(zmax(m->max_cols, 1) * sizeof(float));
	if (!ws->x || !ws->y || !ws->z || !ws->s || !ws->branch || !ws->cols) {
		liveness_mesh_ws_free(ws);
		return -ENOMEM;
	}
	*ret_ws = ws;
	return 0;
}

void liveness_mesh_ws_free(struct liveness_mesh_ws *ws)
{
	if (!ws)
		return;
	free(ws->x);
	free(ws->y);
	free(ws->z);
	free(ws->s);
	free(ws->branch);
	free(ws->cols);
	free(ws);
}

/* x -> block -> x (buffers y, z, s are scratch). */
static void run_block(const struct mblock *b, struct liveness_mesh_ws *ws)
{
	const struct lnn_shape sc_shape = {b->out.h, b->out.w, b->in.c};
	const float *sc = ws->x;
	float *t;

	lnn_dwconv2d(&b->dw, ws->x, b->in, ws->z, (struct lnn_shape){b->out.h, b->out.w, b->in.c});
	lnn_conv2d(&b->pw, ws->z, (struct lnn_shape){b->out.h, b->out.w, b->in.c}, ws->y, b->out,
		   NULL);
	if (b->down) {
		lnn_maxpool(ws->x, b->in, 2, 2, ws->s, sc_shape);
		sc = ws->s;
	}
	lnn_add_zeropad(sc, sc_shape, ws->y, b->out, ws->z, b->out, false);
	lnn_prelu(ws->z, (size_t)b->out.h * (size_t)b->out.w, b->out.c, b->alpha);
	t = ws->x;
	ws->x = ws->z;
	ws->z = t;
}

/* x -> conv (+ PReLU) -> x */
static void run_conv(const struct mconv *c, struct liveness_mesh_ws *ws)
{
	float *t;

	lnn_conv2d(&c->cv, ws->x, c->in, ws->y, c->out, ws->cols);
	if (c->alpha)
		lnn_prelu(ws->y, (size_t)c->out.h * (size_t)c->out.w, c->out.c, c->alpha);
	t = ws->x;
	ws->x = ws->y;
	ws->y = t;
}

/* The model takes RGB scaled to [0, 1] (docs/liveness.md: chosen by landmark agreement). */
void liveness_mesh_forward(const struct liveness_mesher *m, struct liveness_mesh_ws *ws,
			   const uint8_t *chip, float *pts, float *flag)
{
	const size_t n = (size_t)LIVENESS_MESH_INPUT * LIVENESS_MESH_INPUT * 3;
	const struct lnn_shape bs = m->trunk[FLAG_AFTER - 1].out;

	for (size_t i = 0; i < n; i++)
		ws->x[i] = (float)chip[i] / 255.0f;
	run_conv(&m->stem, ws);
	for (int i = 0; i < N_TRUNK; i++) {
		run_block(&m->trunk[i], ws);
		if (i == FLAG_AFTER - 1)
			memcpy(ws->branch, ws->x, lnn_shape_size(bs) * sizeof(float));
	}
	run_conv(&m->lm_reduce, ws);
	run_block(&m->lm_block, ws);
	run_conv(&m->lm_head, ws);
	memcpy(pts, ws->x, N_COORDS * sizeof(float));
	memcpy(ws->x, ws->branch, lnn_shape_size(bs) * sizeof(float));
	run_block(&m->flag_down, ws);
	run_conv(&m->flag_reduce, ws);
	run_block(&m->flag_block, ws);
	run_conv(&m->flag_head, ws);
	*flag = ws->x[0];
}

void liveness_mesh_roi_matrix(const struct liveness_roi *roi, int size, float ret_m[6])
{
	const float s = roi->side / (float)size;
	const float c = cosf(roi->angle) * s, d = sinf(roi->angle) * s;
	const float h = (float)size / 2.0f;

	/* chip pixel centre (x + 0.5, y + 0.5) relative to the chip centre, rotated and scaled
	 * into the image, then the image's half-pixel shift to pixel-centre coordinates */
	ret_m[0] = c;
	ret_m[1] = -d;
	ret_m[2] = roi->cx + c * (0.5f - h) - d * (0.5f - h) - 0.5f;
	ret_m[3] = d;
	ret_m[4] = c;
	ret_m[5] = roi->cy + d * (0.5f - h) + c * (0.5f - h) - 0.5f;
}

void liveness_mesh_roi_from_face(const struct liveness_face *f, struct liveness_roi *ret_roi)
{
	const float *r = f->kp[LIVENESS_KP_RIGHT_EYE], *l = f->kp[LIVENESS_KP_LEFT_EYE];

	ret_roi->cx = f->x + f->w / 2.0f;
	ret_roi->cy = f->y + f->h / 2.0f;
	ret_roi->side = ROI_SCALE * (f->w > f->h ? f->w : f->h);
	/* the subject's right eye is on the image's left in an upright face */
	ret_roi->angle = atan2f(l[1] - r[1], l[0] - r[0]);
}

/* Mesh indices of the two eyes' outer corners, found as described in docs/liveness.md (the
 * points nearest face-api's 68-point outer eye corners). Used only to level the ROI. */
#define MESH_RIGHT_EYE_OUTER 33
#define MESH_LEFT_EYE_OUTER  263

void liveness_mesh_roi_from_mesh(const struct liveness_mesh *m, struct liveness_roi *ret_roi)
{
	const float *r = m->pt[MESH_RIGHT_EYE_OUTER], *l = m->pt[MESH_LEFT_EYE_OUTER];
	const float a = atan2f(l[1] - r[1], l[0] - r[0]), c = cosf(a), s = sinf(a);
	float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};

	/* extent of the landmarks in the frame rotated by -a (eyes level) */
	for (int i = 0; i < LIVENESS_MESH_POINTS; i++) {
		float u = c * m->pt[i][0] + s * m->pt[i][1];
		float v = -s * m->pt[i][0] + c * m->pt[i][1];
		lo[0] = fminf(lo[0], u);
		hi[0] = fmaxf(hi[0], u);
		lo[1] = fminf(lo[1], v);
		hi[1] = fmaxf(hi[1], v);
	}
	float mu = (lo[0] + hi[0]) / 2.0f, mv = (lo[1] + hi[1]) / 2.0f;
	ret_roi->cx = c * mu - s * mv;
	ret_roi->cy = s * mu + c * mv;
	ret_roi->side = ROI_SCALE * fmaxf(hi[0] - lo[0], hi[1] - lo[1]);
	ret_roi->angle = a;
}

void liveness_mesh_chip(const struct liveness_rgb *img, const struct liveness_roi *roi,
			uint8_t *chip)
{
	float mat[6];

	liveness_mesh_roi_matrix(roi, LIVENESS_MESH_INPUT, mat);
	/* ~one sample per source pixel when shrinking */
	int ss = (int)ceilf(roi->side / (float)LIVENESS_MESH_INPUT - 0.25f);
	liveness_chip_warp_aa(img, mat, chip, LIVENESS_MESH_INPUT, LIVENESS_MESH_INPUT, ss);
}

int liveness_mesh_run(const struct liveness_mesher *m, struct liveness_mesh_ws *ws,
		      const struct liveness_rgb *img, const struct liveness_roi *roi,
		      struct liveness_mesh *ret)
{
	float flag;

	if (!img || !img->px || img->w == 0 || img->h == 0 || !(roi->side >= 4.0f) ||
	    !(roi->side < 1e6f) || !isfinite(roi->cx) || !isfinite(roi->cy) ||
	    !isfinite(roi->angle))
		return -EINVAL;
	liveness_mesh_chip(img, roi, ws->chip);
	liveness_mesh_forward(m, ws, ws->chip, ws->pts, &flag);

	const float s = roi->side / (float)LIVENESS_MESH_INPUT;
	const float c = cosf(roi->angle) * s, d = sinf(roi->angle) * s;
	const float h = (float)LIVENESS_MESH_INPUT / 2.0f;
	for (int i = 0; i < LIVENESS_MESH_POINTS; i++) {
		float u = ws->pts[3 * i] - h, v = ws->pts[3 * i + 1] - h;
		ret->pt[i][0] = roi->cx + c * u - d * v;
		ret->pt[i][1] = roi->cy + d * u + c * v;
		ret->pt[i][2] = ws->pts[3 * i + 2] * s;
	}
	flag = flag > 60.0f ? 60.0f : flag < -60.0f ? -60.0f : flag;
	ret->score = 1.0f / (1.0f + expf(-flag));
	ret->roi = *roi;
	return 0;
}

int liveness_mesh_from_face(const struct liveness_mesher *m, struct liveness_mesh_ws *ws,
			    const struct liveness_rgb *img, const struct liveness_face *f,
			    struct liveness_mesh *ret)
{
	struct liveness_roi roi;
	int rc;

	liveness_mesh_roi_from_face(f, &roi);
	rc = liveness_mesh_run(m, ws, img, &roi, ret);
	if (rc < 0)
		return rc;
	liveness_mesh_roi_from_mesh(ret, &roi);
	return liveness_mesh_run(m, ws, img, &roi, ret);
}
