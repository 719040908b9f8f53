/* liveness_nn — CNN operators on HWC float32 tensors: im2col + sgemm convolution with a fused
 * per-channel epilogue, pooling, zero-extending residual add, global pooling, dense layer. */
#include "liveness/liveness_nn.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define LNN_SSE 1
#endif

/* Channel-vector helpers. The build uses -O2, where GCC does not vectorise these loops and
 * turns the max/ReLU selects into unpredictable branches; SSE2 (baseline on x86-64) keeps them
 * branch-free. Same operations in the same order as the scalar tails, so results are
 * identical either way. */
static void vec_add(float *restrict y, const float *restrict x, size_t n)
{
	size_t i = 0;
#ifdef LNN_SSE
	for (; i + 4 <= n; i += 4)
		_mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i), _mm_loadu_ps(x + i)));
#endif
	for (; i < n; i++)
		y[i] += x[i];
}

static void vec_max(float *restrict y, const float *restrict x, size_t n)
{
	size_t i = 0;
#ifdef LNN_SSE
	for (; i + 4 <= n; i += 4)
		_mm_storeu_ps(y + i, _mm_max_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));
#endif
	for (; i < n; i++)
		y[i] = x[i] > y[i] ? x[i] : y[i];
}

static void vec_relu(float *y, size_t n)
{
	size_t i = 0;
#ifdef LNN_SSE
	const __m128 z = _mm_setzero_ps();
	for (; i + 4 <= n; i += 4)
		_mm_storeu_ps(y + i, _mm_max_ps(_mm_loadu_ps(y + i), z));
#endif
	for (; i < n; i++)
		y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

static void vec_scale(float *y, float k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] *= k;
}

/* y = (y + b) * s + t, each step skipped when its vector is NULL, then ReLU if relu. */
static void vec_affine(float *restrict y, const float *b, const float *s, const float *t, bool relu,
		       size_t n)
{
	size_t i = 0;
#ifdef LNN_SSE
	const __m128 z = _mm_setzero_ps();
	if (b && s && t) {
		for (; i + 4 <= n; i += 4) {
			__m128 v = _mm_add_ps(_mm_loadu_ps(y + i), _mm_loadu_ps(b + i));
			v = _mm_add_ps(_mm_mul_ps(v, _mm_loadu_ps(s + i)), _mm_loadu_ps(t + i));
			_mm_storeu_ps(y + i, relu ? _mm_max_ps(v, z) : v);
		}
	} else if (b && !s && !t) {
		for (; i + 4 <= n; i += 4) {
			__m128 v = _mm_add_ps(_mm_loadu_ps(y + i), _mm_loadu_ps(b + i));
			_mm_storeu_ps(y + i, relu ? _mm_max_ps(v, z) : v);
		}
	}
#endif
	for (; i < n; i++) {
		float v = y[i];
		if (b)
			v += b[i];
		if (s)
			v *= s[i];
		if (t)
			v += t[i];
		y[i] = relu && !(v > 0.0f) ? 0.0f : v;
	}
}

int lnn_out_dim(int in, int k, int stride, int pad_before, int pad_after)
{
	int span = in + pad_before + pad_after - k;
	if (span < 0 || stride < 1)
		return 0;
	return span / stride + 1;
}

static bool conv_is_pointwise(const struct lnn_conv *cv)
{
	return cv->kh == 1 && cv->kw == 1 && cv->stride == 1 && cv->pad_t == 0 && cv->pad_l == 0;
}

size_t lnn_conv_cols_size(const struct lnn_conv *cv, struct lnn_shape os)
{
	if (conv_is_pointwise(cv))
		return 0;
	return (size_t)os.h * (size_t)os.w * (size_t)cv->kh * (size_t)cv->kw * (size_t)cv->cin;
}

/* Rows of the im2col matrix: one per output pixel, kh*kw*cin floats in filter order. In HWC the
 * kw input pixels under one filter row are contiguous, so each filter row is one memcpy of the
 * in-range part plus zero fill for the padding. */
static void im2col(const struct lnn_conv *cv, const float *in, struct lnn_shape is, float *cols,
		   struct lnn_shape os)
{
	const size_t run = (size_t)cv->kw * (size_t)cv->cin;
	const size_t k = (size_t)cv->kh * run;

	for (int oy = 0; oy < os.h; oy++) {
		for (int ox = 0; ox < os.w; ox++) {
			float *row = cols + ((size_t)oy * (size_t)os.w + (size_t)ox) * k;
			int ix0 = ox * cv->stride - cv->pad_l;
			int lo = ix0 < 0 ? -ix0 : 0;
			int hi = ix0 + cv->kw > is.w ? is.w - ix0 : cv->kw; /* exclusive */
			for (int ky = 0; ky < cv->kh; ky++) {
				int iy = oy * cv->stride - cv->pad_t + ky;
				float *dst = row + (size_t)ky * run;
				if (iy < 0 || iy >= is.h || hi <= lo) {
					memset(dst, 0, run * sizeof(float));
					continue;
				}
				if (lo > 0)
					memset(dst, 0,
					       (size_t)lo * (size_t)cv->cin * sizeof(float));
				memcpy(dst + (size_t)lo * (size_t)cv->cin,
				       in + ((size_t)iy * (size_t)is.w + (size_t)(ix0 + lo)) *
						       (size_t)cv->cin,
				       (size_t)(hi - lo) * (size_t)cv->cin * sizeof(float));
				if (hi < cv->kw)
					memset(dst + (size_t)hi * (size_t)cv->cin, 0,
					       (size_t)(cv->kw - hi) * (size_t)cv->cin *
						       sizeof(float));
			}
		}
	}
}

static void epilogue(const struct lnn_conv *cv, float *out, size_t pixels)
{
	const size_t co = (size_t)cv->cout;
	for (size_t p = 0; p < pixels; p++)
		vec_affine(out + p * co, cv->bias, cv->scale, cv->shift, cv->relu, co);
}

void lnn_conv2d(const struct lnn_conv *cv, const float *in, struct lnn_shape is, float *out,
		struct lnn_shape os, float *cols)
{
	const int m = os.h * os.w;
	const int k = cv->kh * cv->kw * cv->cin;
	const float *a = in;

	assert(is.c == cv->cin && os.c == cv->cout);
	if (!conv_is_pointwise(cv)) {
		im2col(cv, in, is, cols, os);
		a = cols;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, cv->cout, k, 1.0f, a, k, cv->filt,
		    cv->cout, 0.0f, out, cv->cout);
	epilogue(cv, out, (size_t)m);
}

#define DW_MAX_TAPS 64

/* One output pixel: the in-range taps are gathered first, then each group of 4 channels is
 * accumulated in a register over all taps (sum from 0, then + bias, as TFLite orders it). */
static void dw_pixel(const struct lnn_dwconv *dw, const float *const *taps,
		     const float *const *kern, int nt, float *y)
{
	const size_t c = (size_t)dw->c;
	size_t ch = 0;
#ifdef LNN_SSE
	const __m128 z = _mm_setzero_ps();
	for (; ch + 4 <= c; ch += 4) {
		__m128 acc = z;
		for (int t = 0; t < nt; t++)
			acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(taps[t] + ch),
							 _mm_loadu_ps(kern[t] + ch)));
		if (dw->bias)
			acc = _mm_add_ps(acc, _mm_loadu_ps(dw->bias + ch));
		_mm_storeu_ps(y + ch, dw->relu ? _mm_max_ps(acc, z) : acc);
	}
#endif
	for (; ch < c; ch++) {
		float acc = 0.0f;
		for (int t = 0; t < nt; t++)
			acc += taps[t][ch] * kern[t][ch];
		if (dw->bias)
			acc += dw->bias[ch];
		y[ch] = dw->relu && !(acc > 0.0f) ? 0.0f : acc;
	}
}

void lnn_dwconv2d(const struct lnn_dwconv *dw, const float *in, struct lnn_shape is, float *out,
		  struct lnn_shape os)
{
	const size_t c = (size_t)dw->c;
	const float *taps[DW_MAX_TAPS], *kern[DW_MAX_TAPS];

	assert(is.c == dw->c && os.c == dw->c && dw->kh * dw->kw <= DW_MAX_TAPS);
	for (int oy = 0; oy < os.h; oy++) {
		for (int ox = 0; ox < os.w; ox++) {
			int nt = 0;
			for (int ky = 0; ky < dw->kh; ky++) {
				int iy = oy * dw->stride - dw->pad_t + ky;
				if (iy < 0 || iy >= is.h)
					continue;
				for (int kx = 0; kx < dw->kw; kx++) {
					int ix = ox * dw->stride - dw->pad_l + kx;
					if (ix < 0 || ix >= is.w)
						continue;
					taps[nt] =
						in + ((size_t)iy * (size_t)is.w + (size_t)ix) * c;
					kern[nt] = dw->filt +
						   ((size_t)ky * (size_t)dw->kw + (size_t)kx) * c;
					nt++;
				}
			}
			dw_pixel(dw, taps, kern, nt,
				 out + ((size_t)oy * (size_t)os.w + (size_t)ox) * c);
		}
	}
}

void lnn_maxpool(const float *in, struct lnn_shape is, int k, int stride, float *out,
		 struct lnn_shape os)
{
	const size_t c = (size_t)is.c;

	assert(os.c == is.c && os.h == lnn_out_dim(is.h, k, stride, 0, 0) &&
	       os.w == lnn_out_dim(is.w, k, stride, 0, 0));
	for (int oy = 0; oy < os.h; oy++) {
		for (int ox = 0; ox < os.w; ox++) {
			float *y = out + ((size_t)oy * (size_t)os.w + (size_t)ox) * c;
			for (int ky = 0; ky < k; ky++) {
				for (int kx = 0; kx < k; kx++) {
					const float *x =
						in + ((size_t)(oy * stride + ky) * (size_t)is.w +
						      (size_t)(ox * stride + kx)) *
							     c;
					if (ky == 0 && kx == 0)
						memcpy(y, x, c * sizeof(float));
					else
						vec_max(y, x, c);
				}
			}
		}
	}
}

void lnn_avgpool(const float *in, struct lnn_shape is, int k, int stride, float *out,
		 struct lnn_shape os)
{
	const size_t c = (size_t)is.c;
	const float inv = 1.0f / (float)(k * k);

	assert(os.c == is.c && os.h == lnn_out_dim(is.h, k, stride, 0, 0) &&
	       os.w == lnn_out_dim(is.w, k, stride, 0, 0));
	for (int oy = 0; oy < os.h; oy++) {
		for (int ox = 0; ox < os.w; ox++) {
			float *y = out + ((size_t)oy * (size_t)os.w + (size_t)ox) * c;
			memset(y, 0, c * sizeof(float));
			for (int ky = 0; ky < k; ky++) {
				for (int kx = 0; kx < k; kx++) {
					const float *x =
						in + ((size_t)(oy * stride + ky) * (size_t)is.w +
						      (size_t)(ox * stride + kx)) *
							     c;
					vec_add(y, x, c);
				}
			}
			vec_scale(y, inv, c);
		}
	}
}

void lnn_add_zeropad(const float *a, struct lnn_shape as, const float *b, struct lnn_shape bs,
		     float *out, struct lnn_shape os, bool relu)
{
	const size_t oc = (size_t)os.c;

	assert(os.h >= as.h && os.h >= bs.h && os.w >= as.w && os.w >= bs.w && os.c >= as.c &&
	       os.c >= bs.c);
	for (int y = 0; y < os.h; y++) {
		for (int x = 0; x < os.w; x++) {
			float *restrict o = out + ((size_t)y * (size_t)os.w + (size_t)x) * oc;
			size_t na = y < as.h && x < as.w ? (size_t)as.c : 0;
			size_t nb = y < bs.h && x < bs.w ? (size_t)bs.c : 0;
			const float *pa = a + ((size_t)y * (size_t)as.w + (size_t)x) * (size_t)as.c;
			const float *pb = b + ((size_t)y * (size_t)bs.w + (size_t)x) * (size_t)bs.c;
			/* a first, then b added: the same order whichever operand is wider */
			if (na)
				memcpy(o, pa, na * sizeof(float));
			if (oc > na)
				memset(o + na, 0, (oc - na) * sizeof(float));
			vec_add(o, pb, nb);
			if (relu)
				vec_relu(o, oc);
		}
	}
}

void lnn_prelu(float *x, size_t pixels, int c, const float *alpha)
{
	const size_t n = (size_t)c;
	for (size_t p = 0; p < pixels; p++) {
		float *y = x + p * n;
		size_t i = 0;
#ifdef LNN_SSE
		const __m128 z = _mm_setzero_ps();
		for (; i + 4 <= n; i += 4) {
			__m128 v = _mm_loadu_ps(y + i);
			__m128 neg = _mm_mul_ps(_mm_min_ps(v, z), _mm_loadu_ps(alpha + i));
			_mm_storeu_ps(y + i, _mm_add_ps(_mm_max_ps(v, z), neg));
		}
#endif
		for (; i < n; i++)
			y[i] = y[i] > 0.0f ? y[i] : alpha[i] * y[i];
	}
}

void lnn_global_avgpool(const float *in, struct lnn_shape is, float *out)
{
	const size_t n = (size_t)is.h * (size_t)is.w;
	for (int c = 0; c < is.c; c++)
		out[c] = 0.0f;
	for (size_t p = 0; p < n; p++)
		for (int c = 0; c < is.c; c++)
			out[c] += in[p * (size_t)is.c + (size_t)c];
	for (int c = 0; c < is.c; c++)
		out[c] /= (float)n;
}

void lnn_fc(const float *in, int n_in, const float *w, const float *bias, int n_out, float *out)
{
	for (int j = 0; j < n_out; j++)
		out[j] = bias ? bias[j] : 0.0f;
	cblas_sgemv(CblasRowMajor, CblasTrans, n_in, n_out, 1.0f, w, n_out, in, 1, 1.0f, out, 1);
}

const char *lnn_blas_core(void)
{
	const char *s = openblas_get_corename();
	return s ? s : "unknown";
}

void lnn_blas_set_threads(int n)
{
	openblas_set_num_threads(n < 1 ? 1 : n);
}
