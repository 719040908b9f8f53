/* Unit tests for liveness_nn: every operator against a direct, obviously-correct loop on random
 * data (convolution over strides, paddings, kernel sizes and the 1x1 fast path). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_nn.h"
#include "unit.h"

static uint32_t rng = 12345;

static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)(rng >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rand_buf(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	if (!p)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
	float m = 0.0f;
	for (size_t i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		if (!(d <= m))
			m = d;
	}
	return m;
}

static void ref_conv(const struct lnn_conv *cv, const float *in, struct lnn_shape is, float *out,
		     struct lnn_shape os)
{
	for (int oy = 0; oy < os.h; oy++)
		for (int ox = 0; ox < os.w; ox++)
			for (int co = 0; co < cv->cout; co++) {
				double acc = 0.0;
				for (int ky = 0; ky < cv->kh; ky++)
					for (int kx = 0; kx < cv->kw; kx++) {
						int iy = oy * cv->stride - cv->pad_t + ky;
						int ix = ox * cv->stride - cv->pad_l + kx;
						if (iy < 0 || ix < 0 || iy >= is.h || ix >= is.w)
							continue;
						for (int ci = 0; ci < cv->cin; ci++)
							acc += (double)in[(iy * is.w + ix) * is.c +
									  ci] *
							       cv->filt[((ky * cv->kw + kx) *
										 cv->cin +
									 ci) * cv->cout +
									co];
					}
				float v = (float)acc;
				if (cv->bias)
					v += cv->bias[co];
				if (cv->scale)
					v *= cv->scale[co];
				if (cv->shift)
					v += cv->shift[co];
				if (cv->relu && v < 0)
					v = 0;
				out[(oy * os.w + ox) * os.c + co] = v;
			}
}

struct conv_case {
	int h, w, cin, cout, k, stride, pad_t, pad_l, pad_b, pad_r;
	int with_affine, relu;
};

static void run_conv_case(const struct conv_case *c)
{
	struct lnn_conv cv = {.kh = c->k,
			      .kw = c->k,
			      .cin = c->cin,
			      .cout = c->cout,
			      .stride = c->stride,
			      .pad_t = c->pad_t,
			      .pad_l = c->pad_l,
			      .relu = c->relu};
	struct lnn_shape is = {c->h, c->w, c->cin};
	struct lnn_shape os = {lnn_out_dim(c->h, c->k, c->stride, c->pad_t, c->pad_b),
			       lnn_out_dim(c->w, c->k, c->stride, c->pad_l, c->pad_r), c->cout};
	float *in = rand_buf(lnn_shape_size(is));
	float *filt = rand_buf((size_t)c->k * c->k * c->cin * c->cout);
	float *bias = rand_buf((size_t)c->cout), *scale = rand_buf((size_t)c->cout);
	float *shift = rand_buf((size_t)c->cout);
	float *out = rand_buf(lnn_shape_size(os)), *ref = rand_buf(lnn_shape_size(os));
	float *cols;

	cv.filt = filt;
	if (c->with_affine) {
		cv.bias = bias;
		cv.scale = scale;
		cv.shift = shift;
	}
	cols = rand_buf(lnn_conv_cols_size(&cv, os));
	lnn_conv2d(&cv, in, is, out, os, cols);
	ref_conv(&cv, in, is, ref, os);
	CHECK(max_abs_diff(out, ref, lnn_shape_size(os)) < 1e-4f);
	free(in);
	free(filt);
	free(bias);
	free(scale);
	free(shift);
	free(out);
	free(ref);
	free(cols);
}

static void test_conv(void)
{
	static const struct conv_case cases[] = {
		{13, 11, 3, 8, 7, 2, 0, 0, 0, 0, 1, 1}, /* stem-like: 7x7/2 valid */
		{9, 9, 4, 5, 3, 1, 1, 1, 1, 1, 1, 1},	/* 3x3/1 same */
		{9, 8, 4, 6, 3, 2, 0, 0, 0, 0, 1, 0},	/* 3x3/2 valid, odd/even */
		{8, 8, 3, 4, 3, 2, 0, 0, 1, 1, 0, 0},	/* TF "same" for stride 2: pad after */
		{6, 5, 7, 9, 1, 1, 0, 0, 0, 0, 1, 1},	/* pointwise fast path */
		{5, 5, 2, 3, 5, 1, 2, 2, 2, 2, 1, 1},	/* 5x5 same */
		{3, 3, 2, 2, 3, 2, 0, 0, 0, 0, 1, 1},	/* single output pixel */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_conv_case(&cases[i]);
	CHECK_INT(lnn_out_dim(150, 7, 2, 0, 0), 72);
	CHECK_INT(lnn_out_dim(72, 3, 2, 0, 0), 35);
	CHECK_INT(lnn_out_dim(8, 3, 2, 0, 0), 3);
	CHECK_INT(lnn_out_dim(2, 3, 1, 0, 0), 0);
}

static void run_dw_case(int h, int w, int c, int k, int stride, int pt, int pl, int pb, int pr,
			bool relu)
{
	struct lnn_dwconv dw = {
		.kh = k, .kw = k, .c = c, .stride = stride, .pad_t = pt, .pad_l = pl, .relu = relu};
	struct lnn_shape is = {h, w, c};
	struct lnn_shape os = {lnn_out_dim(h, k, stride, pt, pb), lnn_out_dim(w, k, stride, pl, pr),
			       c};
	float *in = rand_buf(lnn_shape_size(is)), *filt = rand_buf((size_t)k * k * c);
	float *bias = rand_buf((size_t)c), *out = rand_buf(lnn_shape_size(os));
	float *ref = rand_buf(lnn_shape_size(os));

	dw.filt = filt;
	dw.bias = bias;
	lnn_dwconv2d(&dw, in, is, out, os);
	for (int oy = 0; oy < os.h; oy++)
		for (int ox = 0; ox < os.w; ox++)
			for (int ch = 0; ch < c; ch++) {
				double acc = 0;
				for (int ky = 0; ky < k; ky++)
					for (int kx = 0; kx < k; kx++) {
						int iy = oy * stride - pt + ky,
						    ix = ox * stride - pl + kx;
						if (iy < 0 || ix < 0 || iy >= h || ix >= w)
							continue;
						acc += (double)in[(iy * w + ix) * c + ch] *
						       filt[(ky * k + kx) * c + ch];
					}
				float v = (float)acc + bias[ch];
				ref[(oy * os.w + ox) * c + ch] = relu && v < 0 ? 0 : v;
			}
	CHECK(max_abs_diff(out, ref, lnn_shape_size(os)) < 1e-5f);
	free(in);
	free(filt);
	free(bias);
	free(out);
	free(ref);
}

static void test_dwconv(void)
{
	run_dw_case(8, 8, 24, 3, 1, 1, 1, 1, 1, false); /* SAME, stride 1 */
	run_dw_case(8, 8, 28, 3, 2, 0, 0, 1, 1, false); /* TF SAME, stride 2, even size */
	run_dw_case(7, 5, 6, 3, 1, 1, 1, 1, 1, true);	/* channel tail (6 = 4 + 2), ReLU */
	run_dw_case(5, 5, 3, 5, 1, 2, 2, 2, 2, true);	/* 5x5, scalar only */
}

static void test_pools(void)
{
	struct lnn_shape is = {7, 6, 3}, os = {3, 3, 3}, os2 = {3, 2, 3};
	float *in = rand_buf(lnn_shape_size(is));
	float out[27], ref[27];

	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 2; x++)
			for (int c = 0; c < 3; c++) {
				float m = -INFINITY;
				for (int ky = 0; ky < 3; ky++)
					for (int kx = 0; kx < 3; kx++) {
						float v =
							in[((2 * y + ky) * 6 + 2 * x + kx) * 3 + c];
						m = v > m ? v : m;
					}
				ref[(y * 2 + x) * 3 + c] = m;
			}
	lnn_maxpool(in, is, 3, 2, out, os2);
	CHECK(max_abs_diff(out, ref, 18) == 0.0f);
	lnn_avgpool(in, is, 2, 2, out, os);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 3; x++)
			for (int c = 0; c < 3; c++) {
				float s = 0;
				for (int ky = 0; ky < 2; ky++)
					for (int kx = 0; kx < 2; kx++)
						s += in[((2 * y + ky) * 6 + 2 * x + kx) * 3 + c];
				ref[(y * 3 + x) * 3 + c] = s * 0.25f;
			}
	CHECK(max_abs_diff(out, ref, 27) < 1e-6f);
	lnn_global_avgpool(in, is, out);
	for (int c = 0; c < 3; c++) {
		double s = 0;
		for (int p = 0; p < 42; p++)
			s += in[p * 3 + c];
		CHECK(fabs(out[c] - s / 42) < 1e-5);
	}
	free(in);
}

static void test_add_zeropad(void)
{
	/* a: 2x2x4 (main path), b: 3x3x2 (shortcut with fewer channels, larger grid) */
	struct lnn_shape as = {2, 2, 4}, bs = {3, 3, 2}, os = {3, 3, 4};
	float *a = rand_buf(lnn_shape_size(as)), *b = rand_buf(lnn_shape_size(bs));
	float out[36];

	lnn_add_zeropad(a, as, b, bs, out, os, false);
	for (int y = 0; y < 3; y++)
		for (int x = 0; x < 3; x++)
			for (int c = 0; c < 4; c++) {
				float v = 0;
				if (y < 2 && x < 2)
					v += a[(y * 2 + x) * 4 + c];
				if (c < 2)
					v += b[(y * 3 + x) * 2 + c];
				CHECK(fabsf(out[(y * 3 + x) * 4 + c] - v) < 1e-7f);
			}
	lnn_add_zeropad(a, as, b, bs, out, os, true);
	for (int i = 0; i < 36; i++)
		CHECK(out[i] >= 0.0f);
	free(a);
	free(b);
}

static void test_fc(void)
{
	float *in = rand_buf(10), *w = rand_buf(10 * 4), *bias = rand_buf(4);
	float out[4];

	lnn_fc(in, 10, w, bias, 4, out);
	for (int j = 0; j < 4; j++) {
		double s = bias[j];
		for (int i = 0; i < 10; i++)
			s += (double)in[i] * w[i * 4 + j];
		CHECK(fabs(out[j] - s) < 1e-5);
	}
	lnn_fc(in, 10, w, NULL, 4, out);
	for (int j = 0; j < 4; j++) {
		double s = 0;
		for (int i = 0; i < 10; i++)
			s += (double)in[i] * w[i * 4 + j];
		CHECK(fabs(out[j] - s) < 1e-5);
	}
	free(in);
	free(w);
	free(bias);
}

UNIT_MAIN("liveness_nn", UNIT_CASE(test_conv), UNIT_CASE(test_dwconv), UNIT_CASE(test_pools),
	  UNIT_CASE(test_add_zeropad), UNIT_CASE(test_fc))
