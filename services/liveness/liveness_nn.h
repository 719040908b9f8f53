/* liveness_nn — the small set of CNN operators the face models need, on float32 tensors in HWC
 * layout (one image, channels innermost). Convolution is im2col + OpenBLAS sgemm with filters
 * in HWIO layout ([kh][kw][cin][cout], TensorFlow's order, used as stored in .shnn files).
 * Pure functions on caller-owned buffers: no allocation, no global state, thread-safe as long
 * as threads use different output/scratch buffers. Shapes are checked by the caller (the
 * network builders validate everything against the model once, at load time). */
#ifndef SHIREN_LIVENESS_NN_H
#define SHIREN_LIVENESS_NN_H

#include <stdbool.h>
#include <stddef.h>

struct lnn_shape {
	int h, w, c;
};

static inline size_t lnn_shape_size(struct lnn_shape s)
{
	return (size_t)s.h * (size_t)s.w * (size_t)s.c;
}

/* Output extent of a window op: floor((in + pad_before + pad_after - k) / stride) + 1, or 0 if
 * the window does not fit. */
int lnn_out_dim(int in, int k, int stride, int pad_before, int pad_after);

/* A 2-D convolution with a fused epilogue: y = ((x * filt) + bias) * scale + shift, then ReLU
 * if relu. bias, scale and shift are per output channel and each may be NULL (skipped).
 * pad_t/pad_l are the zero rows/columns before the input; the output shape the caller passes
 * decides how much padding follows (TF "same" and dlib/"valid" are both expressible). */
struct lnn_conv {
	int kh, kw, cin, cout;
	int stride;
	int pad_t, pad_l;
	const float *filt; /* [kh][kw][cin][cout] */
	const float *bias;
	const float *scale;
	const float *shift;
	bool relu;
};

/* Floats of im2col scratch lnn_conv2d needs for output shape os (0 for 1x1/stride-1/no-pad). */
size_t lnn_conv_cols_size(const struct lnn_conv *cv, struct lnn_shape os);

/* out[os] = conv(in[is]); cols must hold lnn_conv_cols_size() floats (may be NULL if 0). */
void lnn_conv2d(const struct lnn_conv *cv, const float *in, struct lnn_shape is, float *out,
		struct lnn_shape os, float *cols);

/* Depthwise 2-D convolution (one kh x kw filter per channel, channel multiplier 1) with bias
 * (may be NULL) and optional ReLU; filt is [kh][kw][c] (TFLite's [1][kh][kw][c]). Padding as
 * for lnn_conv: pad_t/pad_l zeros before, the output shape decides the rest. */
struct lnn_dwconv {
	int kh, kw, c;
	int stride;
	int pad_t, pad_l;
	const float *filt;
	const float *bias;
	bool relu;
};

void lnn_dwconv2d(const struct lnn_dwconv *dw, const float *in, struct lnn_shape is, float *out,
		  struct lnn_shape os);

/* k x k pooling with the given stride, no padding: os must be lnn_out_dim(is, k, stride, 0, 0)
 * in both directions and os.c == is.c. */
void lnn_maxpool(const float *in, struct lnn_shape is, int k, int stride, float *out,
		 struct lnn_shape os);
void lnn_avgpool(const float *in, struct lnn_shape is, int k, int stride, float *out,
		 struct lnn_shape os);

/* out = a + b where each operand is zero-extended to os (os is at least as large as both in
 * every dimension; missing elements count as 0), then ReLU if relu. out must not alias a or b
 * unless that operand has exactly shape os. */
void lnn_add_zeropad(const float *a, struct lnn_shape as, const float *b, struct lnn_shape bs,
		     float *out, struct lnn_shape os, bool relu);

/* Parametric ReLU in place: x = x > 0 ? x : alpha[c] * x, per channel c of pixels x c floats. */
void lnn_prelu(float *x, size_t pixels, int c, const float *alpha);

/* out[c] = mean over h, w of in. */
void lnn_global_avgpool(const float *in, struct lnn_shape is, float *out);

/* out[n_out] = in[n_in] . w[n_in][n_out] (+ bias, may be NULL). */
void lnn_fc(const float *in, int n_in, const float *w, const float *bias, int n_out, float *out);

/* The BLAS kernel set in use (OpenBLAS's core name, e.g. "Haswell"), for the startup log. A
 * generic name such as "Prescott" on an AVX2 machine means OpenBLAS did not recognise the CPU
 * (common in VMs) and runs ~2.5x slower: set OPENBLAS_CORETYPE (docs/liveness.md). */
const char *lnn_blas_core(void);

/* BLAS worker threads, process-wide. 1 is right for the service: parallelism comes from
 * running requests side by side, and these matrices are too small to split. */
void lnn_blas_set_threads(int n);

#endif
