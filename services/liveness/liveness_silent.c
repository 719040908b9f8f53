/* liveness_silent — spectral peaks, block artefacts and contrast/saturation of the face. */
#include "liveness/liveness_silent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PATCH 128

/* In-place radix-2 complex FFT (decimation in time), n a power of two. */
static void fft(float *re, float *im, int n)
{
	for (int i = 1, j = 0; i < n; i++) {
		int bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			float t = re[i];
			re[i] = re[j];
			re[j] = t;
			t = im[i];
			im[i] = im[j];
			im[j] = t;
		}
	}
	for (int len = 2; len <= n; len <<= 1) {
		double a = -2 * M_PI / len;
		for (int i = 0; i < n; i += len)
			for (int k = 0; k < len / 2; k++) {
				float wr = (float)cos(a * k), wi = (float)sin(a * k);
				float *ur = &re[i + k], *ui = &im[i + k];
				float *vr = &re[i + k + len / 2], *vi = &im[i + k + len / 2];
				float xr = *vr * wr - *vi * wi, xi = *vr * wi + *vi * wr;
				*vr = *ur - xr;
				*vi = *ui - xi;
				*ur += xr;
				*ui += xi;
			}
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

/* JPEG artefacts sit at multiples of n/8 on and near the axes of the spectrum. */
static bool block_freq(int u, int v, int n)
{
	int s = n / 8, au = abs(u), av = abs(v);
	bool on_u = au % s <= 1 || au % s >= s - 1, on_v = av % s <= 1 || av % s >= s - 1;
	return (on_u && av <= 1) || (on_v && au <= 1) || (on_u && on_v);
}

float liveness_silent_moire(const float *luma, int n)
{
	float *re = calloc((size_t)n * n, sizeof(float)),
	      *im = calloc((size_t)n * n, sizeof(float));
	float *band = malloc((size_t)n * n * sizeof(float)),
	      *row = malloc(2 * (size_t)n * sizeof(float));
	double mean = 0;
	float top = 0, res = 0;
	int nb = 0;

	if (!re || !im || !band || !row || n < 16 || n > 256 || (n & (n - 1)))
		goto out;
	for (int i = 0; i < n * n; i++)
		mean += luma[i];
	mean /= (double)n * n;
	for (int y = 0; y < n; y++) /* Hann window against edge leakage */
		for (int x = 0; x < n; x++) {
			float w = (0.5f - 0.5f * cosf(6.2832f * ((float)x + 0.5f) / (float)n)) *
				  (0.5f - 0.5f * cosf(6.2832f * ((float)y + 0.5f) / (float)n));
			re[y * n + x] = (float)(luma[y * n + x] - mean) * w;
		}
	for (int y = 0; y < n; y++)
		fft(re + y * n, im + y * n, n);
	for (int x = 0; x < n; x++) {
		for (int y = 0; y < n; y++) {
			row[y] = re[y * n + x];
			row[n + y] = im[y * n + x];
		}
		fft(row, row + n, n);
		for (int y = 0; y < n; y++) {
			re[y * n + x] = row[y];
			im[y * n + x] = row[n + y];
		}
	}
	/* high band: radius 0.2 .. 0.5 cycles per pixel, one half-plane */
	for (int v = 0; v < n / 2; v++)
		for (int u = -n / 2 + 1; u < n / 2; u++) {
			float r = hypotf((float)u, (float)v) / (float)n;
			if (r < 0.2f || r > 0.5f || block_freq(u, v, n) || (v == 0 && u < 0))
				continue;
			int ux = u < 0 ? u + n : u;
			float mag = hypotf(re[v * n + ux], im[v * n + ux]);
			band[nb++] = mag;
			top = mag > top ? mag : top;
		}
	if (nb > 0) {
		qsort(band, (size_t)nb, sizeof(float), cmp_float);
		float med = band[nb / 2];
		res = med > 1e-6f ? log10f(top / med) : 0.0f;
	}
out:
	free(re);
	free(im);
	free(band);
	free(row);
	return res;
}

static float luma_px(const uint8_t *p)
{
	return 0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
}

/* Mean |horizontal + vertical gradient| across 8-pixel block boundaries over the mean
 * elsewhere, on the native-resolution face box (aligned to the image's 8x8 grid). */
static float blockiness(const struct liveness_rgb *img, int x0, int y0, int x1, int y1)
{
	double on = 0, off = 0;
	long non = 0, noff = 0;

	for (int y = y0; y < y1; y++)
		for (int x = x0 + 1; x < x1; x++) {
			const uint8_t *p = img->px + ((size_t)y * img->w + (size_t)x) * 3;
			float d = fabsf(luma_px(p) - luma_px(p - 3));
			if (x % 8 == 0) {
				on += d;
				non++;
			} else {
				off += d;
				noff++;
			}
		}
	for (int y = y0 + 1; y < y1; y++)
		for (int x = x0; x < x1; x++) {
			const uint8_t *p = img->px + ((size_t)y * img->w + (size_t)x) * 3;
			float d = fabsf(luma_px(p) - luma_px(p - 3 * (size_t)img->w));
			if (y % 8 == 0) {
				on += d;
				non++;
			} else {
				off += d;
				noff++;
			}
		}
	if (!non || !noff)
		return 1.0f;
	return (float)((on / (double)non) / (off / (double)noff + 0.5));
}

/* 0 for a normally contrasted, coloured face; toward 1 when both luma contrast (std / mean)
 * and mean saturation are far below what faces show. */
static float washed_out(const uint8_t *chip)
{
	struct liveness_region_stats st;
	double sat = 0;
	long n = 0;

	liveness_quality_region(chip, &st);
	for (int y = 40; y < 120; y++)
		for (int x = 40; x < 110; x++) {
			const uint8_t *p = chip + ((size_t)y * LIVENESS_EMBED_SIZE + (size_t)x) * 3;
			int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2])
					     : (p[1] > p[2] ? p[1] : p[2]);
			int mn = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2])
					     : (p[1] < p[2] ? p[1] : p[2]);
			sat += mx > 0 ? (double)(mx - mn) / mx : 0;
			n++;
		}
	float contrast = st.luma_mean > 1 ? st.luma_std / st.luma_mean : 0;
	float s = n ? (float)(sat / (double)n) : 0;
	/* faces: contrast ~0.15-0.35, saturation ~0.2-0.5 */
	float c1 = 1.0f - fminf(contrast / 0.12f, 1.0f), c2 = 1.0f - fminf(s / 0.12f, 1.0f);
	return fminf(c1, c2) * 0.5f + fmaxf(c1, c2) * 0.5f;
}

static float cue(float v, float warn, float fail)
{
	return v <= warn ? 0.0f : v >= fail ? 1.0f : (v - warn) / (fail - warn);
}

void liveness_silent_eval(const struct liveness_rgb *img, const struct liveness_analysis *a,
			  bool strict, const struct liveness_silent_limits *lim,
			  struct liveness_silent_result *ret)
{
	const struct liveness_silent_limits def = LIVENESS_SILENT_LIMITS_DEFAULT;
	const struct liveness_silent_limits *l = lim ? lim : &def;
	static const int n = PATCH;
	float *patch;

	memset(ret, 0, sizeof(*ret));
	if (!a->has_face || !(patch = malloc((size_t)n * n * sizeof(float))))
		return;
	/* native pixels around the nose, clamped at the image edges */
	int cx = (int)a->info.nose[0] - n / 2, cy = (int)a->info.nose[1] - n / 2;
	for (int y = 0; y < n; y++)
		for (int x = 0; x < n; x++) {
			int xx = cx + x, yy = cy + y;
			xx = xx < 0 ? 0 : xx >= (int)img->w ? (int)img->w - 1 : xx;
			yy = yy < 0 ? 0 : yy >= (int)img->h ? (int)img->h - 1 : yy;
			patch[y * n + x] =
				luma_px(img->px + ((size_t)yy * img->w + (size_t)xx) * 3);
		}
	ret->moire = liveness_silent_moire(patch, n);
	free(patch);
	const struct liveness_face *f = &a->faces[0];
	int x0 = (int)fmaxf(f->x, 1), y0 = (int)fmaxf(f->y, 1);
	int x1 = (int)fminf(f->x + f->w, (float)img->w),
	    y1 = (int)fminf(f->y + f->h, (float)img->h);
	ret->block = x1 - x0 > 16 && y1 - y0 > 16 ? blockiness(img, x0, y0, x1, y1) : 1.0f;
	ret->washed = washed_out(a->chip);
	ret->c_moire = cue(ret->moire, l->moire_warn, l->moire_fail);
	ret->c_block = cue(ret->block, l->block_warn, l->block_fail);
	ret->c_washed = cue(ret->washed, l->washed_warn, l->washed_fail);
	float worst = fmaxf(ret->c_moire, fmaxf(ret->c_block, ret->c_washed));
	ret->score = 100.0f * (1.0f - worst);
	ret->passed = ret->score >= (strict ? fmaxf(l->pass, 65.0f) : l->pass);
}
