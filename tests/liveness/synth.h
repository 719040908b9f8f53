/* synth — synthetic test images and frame sequences made from real face images, shared by the
 * liveness unit tests (tests/unit/test_liveness_*.c) and the SYNTHETIC PAD report
 * (tests/liveness/pad_report.c). Header-only (static functions) so that both can use it
 * without a library of test code in the engine.
 *
 * Everything here is a model of the real thing, written for these tests and documented in
 * docs/liveness.md ("Synthetic data"): degradation ladders (darkening, Gaussian blur,
 * downscaling, a head turn by cylindrical reprojection), eyelid closure and mouth opening by
 * local warps, and screen-light reflections (Lambertian on an ellipsoid with a nose bump). The
 * numbers it yields prove internal consistency, not real-world PAD performance. */
#ifndef SHIREN_TESTS_LIVENESS_SYNTH_H
#define SHIREN_TESTS_LIVENESS_SYNTH_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_image.h"

#define SY_UNUSED __attribute__((unused))

static SY_UNUSED int sy_alloc(struct liveness_rgb *out, uint32_t w, uint32_t h)
{
	out->w = w;
	out->h = h;
	out->px = malloc((size_t)w * h * 3);
	return out->px ? 0 : -ENOMEM;
}

static SY_UNUSED int sy_copy(const struct liveness_rgb *img, struct liveness_rgb *out)
{
	int rc = sy_alloc(out, img->w, img->h);
	if (rc == 0)
		memcpy(out->px, img->px, (size_t)img->w * img->h * 3);
	return rc;
}

static SY_UNUSED uint8_t sy_clamp(float v)
{
	return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

/* Exposure: every channel times k (k < 1 darkens, > 1 brightens and clips). In place. */
static SY_UNUSED void sy_gain(struct liveness_rgb *img, float k)
{
	for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++)
		img->px[i] = sy_clamp((float)img->px[i] * k);
}

/* Separable Gaussian blur of standard deviation sigma (pixels), edges clamped. In place. */
static SY_UNUSED int sy_blur(struct liveness_rgb *img, float sigma)
{
	int r = (int)ceilf(3.0f * sigma), w = (int)img->w, h = (int)img->h;
	float k[128], ks = 0;
	float *tmp;

	if (sigma <= 0.0f)
		return 0;
	if (r > 63)
		return -EINVAL;
	for (int i = -r; i <= r; i++)
		ks += k[i + r] = expf(-(float)(i * i) / (2.0f * sigma * sigma));
	tmp = malloc((size_t)w * (size_t)h * 3 * sizeof(float));
	if (!tmp)
		return -ENOMEM;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++) {
				float a = 0;
				for (int i = -r; i <= r; i++) {
					int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
					a += k[i + r] *
					     (float)img->px[((size_t)y * w + xx) * 3 + c];
				}
				tmp[((size_t)y * w + x) * 3 + c] = a / ks;
			}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < 3; c++) {
				float a = 0;
				for (int i = -r; i <= r; i++) {
					int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
					a += k[i + r] * tmp[((size_t)yy * w + x) * 3 + c];
				}
				img->px[((size_t)y * w + x) * 3 + c] = sy_clamp(a / ks);
			}
	free(tmp);
	return 0;
}

/* The whole image resized by f (< 1 shrinks, area-averaged). */
/* The w x h window of img at (x, y) (clipped to the image), copied. */
static SY_UNUSED int sy_crop(const struct liveness_rgb *img, uint32_t x, uint32_t y, uint32_t w,
			     uint32_t h, struct liveness_rgb *out)
{
	x = x < img->w ? x : img->w - 1;
	y = y < img->h ? y : img->h - 1;
	w = w < img->w - x ? w : img->w - x;
	h = h < img->h - y ? h : img->h - y;
	int rc = sy_alloc(out, w, h);
	for (uint32_t r = 0; rc == 0 && r < h; r++)
		memcpy(out->px + (size_t)r * w * 3, img->px + ((size_t)(y + r) * img->w + x) * 3,
		       (size_t)w * 3);
	return rc;
}

static SY_UNUSED int sy_scale(const struct liveness_rgb *img, float f, struct liveness_rgb *out)
{
	uint32_t w = (uint32_t)lroundf((float)img->w * f), h = (uint32_t)lroundf((float)img->h * f);
	const float m[6] = {1 / f, 0, 0.5f / f - 0.5f, 0, 1 / f, 0.5f / f - 0.5f};
	int rc = sy_alloc(out, w ? w : 1, h ? h : 1);
	if (rc == 0)
		liveness_chip_warp_aa(img, m, out->px, (int)out->w, (int)out->h,
				      (int)ceilf(1 / f - 0.25f));
	return rc;
}

/* Smooth 0..1 window: 1 inside |t| <= 1 - soft, 0 beyond 1, cosine in between. */
static SY_UNUSED float sy_window(float t, float soft)
{
	t = fabsf(t);
	if (t >= 1.0f)
		return 0.0f;
	if (t <= 1.0f - soft)
		return 1.0f;
	return 0.5f + 0.5f * cosf((float)M_PI * (t - (1.0f - soft)) / soft);
}

/* Head turn by deg (> 0: toward the subject's left, the nose moving to the image's right):
 * the face region is mapped onto a vertical cylinder of radius 1.2 x the inter-ocular distance
 * through the eye midpoint, rotated, and projected back orthographically; outside the head the
 * image is unchanged, with a soft seam. fi: measurements of img's face. */
static SY_UNUSED int sy_turn(const struct liveness_rgb *img, const struct liveness_face_info *fi,
			     float deg, struct liveness_rgb *out)
{
	const float x0 = (fi->eye_right[0] + fi->eye_left[0]) / 2;
	const float ey = (fi->eye_right[1] + fi->eye_left[1]) / 2;
	const float rad = 1.2f * fi->iod, th = deg * (float)M_PI / 180.0f;
	const float top = ey - 1.6f * fi->iod, bot = ey + 2.3f * fi->iod;
	int rc = sy_copy(img, out);

	if (rc < 0)
		return rc;
	for (uint32_t y = 0; y < img->h; y++) {
		float yc = (float)y + 0.5f;
		float wy = sy_window((yc - (top + bot) / 2) / ((bot - top) / 2), 0.3f);
		if (wy <= 0)
			continue;
		for (uint32_t x = 0; x < img->w; x++) {
			float u = ((float)x + 0.5f - x0) / rad;
			float w = wy * sy_window(u, 0.15f);
			if (w <= 0)
				continue;
			float phi = asinf(u > 0.999f ? 0.999f : u < -0.999f ? -0.999f : u) - th;
			phi = phi > 1.5f ? 1.5f : phi < -1.5f ? -1.5f : phi;
			float sx = x0 + rad * sinf(phi);
			float src = w * sx + (1 - w) * ((float)x + 0.5f) - 0.5f;
			const float m[6] = {0, 0, src, 0, 0, (float)y};
			uint8_t p[3];
			liveness_chip_warp(img, m, p, 1, 1);
			memcpy(out->px + ((size_t)y * img->w + x) * 3, p, 3);
		}
	}
	return 0;
}

/* Samples img at continuous pixel position (x, y) (0 at the top-left pixel's corner). */
static SY_UNUSED void sy_sample(const struct liveness_rgb *img, float x, float y, uint8_t *p)
{
	const float m[6] = {0, 0, x - 0.5f, 0, 0, y - 0.5f};
	liveness_chip_warp(img, m, p, 1, 1);
}

/* A local frame on a feature: origin o, unit axis u from the image-left to the image-right
 * end, v = u rotated a quarter turn clockwise (pointing down the face). */
struct sy_frame {
	float o[2], u[2], v[2];
};

static SY_UNUSED struct sy_frame sy_frame_of(const float *a, const float *b)
{
	struct sy_frame f;
	if (a[0] > b[0]) {
		const float *t = a;
		a = b;
		b = t;
	}
	float dx = b[0] - a[0], dy = b[1] - a[1], n = hypotf(dx, dy);
	n = n > 1e-6f ? n : 1.0f;
	f.o[0] = (a[0] + b[0]) / 2;
	f.o[1] = (a[1] + b[1]) / 2;
	f.u[0] = dx / n;
	f.u[1] = dy / n;
	f.v[0] = -f.u[1];
	f.v[1] = f.u[0];
	return f;
}

/* Coordinates (s, t) of a point in frame f, and back. */
static SY_UNUSED void sy_to(const struct sy_frame *f, float x, float y, float *s, float *t)
{
	*s = (x - f->o[0]) * f->u[0] + (y - f->o[1]) * f->u[1];
	*t = (x - f->o[0]) * f->v[0] + (y - f->o[1]) * f->v[1];
}

static SY_UNUSED void sy_from(const struct sy_frame *f, float s, float t, float *x, float *y)
{
	*x = f->o[0] + s * f->u[0] + t * f->v[0];
	*y = f->o[1] + s * f->u[1] + t * f->v[1];
}

/* One eye closed by c (0 open .. 1 shut): the upper lid comes down to c of the way to the
 * lower lid. The lid is skin copied from above the lid crease (1.2-1.6 openings above the
 * lash line, so neither lashes nor make-up are smeared over the eye), its edge a thin line of
 * lashes (darkened skin); what stays uncovered of the eye is not moved. Full in the middle,
 * fading out at the corners. src is the unmodified image. */
static SY_UNUSED void sy_eyelid(const struct liveness_rgb *src, const struct liveness_mesh *m,
				const int *e, float c, struct liveness_rgb *out)
{
	struct sy_frame f = sy_frame_of(m->pt[e[0]], m->pt[e[3]]);
	float hw, tu = 0, tl = 0, s, t;

	sy_to(&f, m->pt[e[0]][0], m->pt[e[0]][1], &hw, &t);
	hw = fabsf(hw);
	for (int k = 0; k < 2; k++) {
		sy_to(&f, m->pt[e[1 + k]][0], m->pt[e[1 + k]][1], &s, &t);
		tu += t / 2;
		sy_to(&f, m->pt[e[4 + k]][0], m->pt[e[4 + k]][1], &s, &t);
		tl += t / 2;
	}
	const float open = fmaxf(tl - tu, 1.0f);
	const float r = hw * 1.3f + 2.0f * open;
	int x0 = (int)floorf(f.o[0] - r), x1 = (int)ceilf(f.o[0] + r);
	int y0 = (int)floorf(f.o[1] - r), y1 = (int)ceilf(f.o[1] + r);
	for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < (int)src->h; y++)
		for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < (int)src->w; x++) {
			sy_to(&f, (float)x + 0.5f, (float)y + 0.5f, &s, &t);
			float cw = c * sy_window(s / (hw * 1.08f), 0.3f);
			float tn = tu + cw * (tl - tu); /* the new lid edge */
			float top = tu - 0.25f * open;	/* the lid replaces the lashes too */
			if (cw <= 0.02f || t < top || t > tn)
				continue;
			/* skin from a band above the crease, mirrored so it stays continuous */
			float xs, ys, k = (t - top) / fmaxf(tn - top, 1e-3f);
			sy_from(&f, s, tu - 1.2f * open - 0.4f * open * k, &xs, &ys);
			uint8_t *p = out->px + ((size_t)y * src->w + (size_t)x) * 3;
			uint8_t skin[3];
			sy_sample(src, xs, ys, skin);
			float dark = t > tn - 0.15f * open ? 0.45f : k > 0.6f ? 0.9f : 1.0f;
			float a = fminf(cw * 1.5f, 1.0f); /* blend in at the corners */
			for (int ch = 0; ch < 3; ch++)
				p[ch] = sy_clamp(a * (float)skin[ch] * dark +
						 (1 - a) * (float)p[ch]);
		}
}

/* Both eyes closed by c. */
static SY_UNUSED int sy_blink(const struct liveness_rgb *img, const struct liveness_mesh *m,
			      float c, struct liveness_rgb *out)
{
	int rc = sy_copy(img, out);
	if (rc == 0 && c > 0) {
		sy_eyelid(img, m, liveness_mesh_eye_right, c, out);
		sy_eyelid(img, m, liveness_mesh_eye_left, c, out);
	}
	return rc;
}

/* Mouth opened by o (0 closed .. 1 wide, a jaw drop of half the mouth width): below the lip
 * line the face moves down (tapering off below the chin), the gap shows a dark mouth cavity
 * with a band of teeth under the upper lip; all fading out toward the mouth corners. */
static SY_UNUSED int sy_mouth(const struct liveness_rgb *img, const struct liveness_mesh *m,
			      float o, struct liveness_rgb *out)
{
	const int *l = liveness_mesh_lips;
	struct sy_frame f = sy_frame_of(m->pt[l[0]], m->pt[l[1]]);
	float hw, s, t, tm = 0;
	int rc = sy_copy(img, out);

	if (rc < 0 || o <= 0)
		return rc;
	sy_to(&f, m->pt[l[0]][0], m->pt[l[0]][1], &hw, &t);
	hw = fabsf(hw);
	for (int k = 2; k < 8; k++) {
		sy_to(&f, m->pt[l[k]][0], m->pt[l[k]][1], &s, &t);
		tm += t / 6;
	}
	const float drop = o * 0.5f * 2 * hw, chin = tm + 2.2f * hw, fade = 1.2f * hw;
	const float r = 2.5f * hw + drop + fade;
	int x0 = (int)floorf(f.o[0] - r), x1 = (int)ceilf(f.o[0] + r);
	int y0 = (int)floorf(f.o[1] - r), y1 = (int)ceilf(f.o[1] + r);
	for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < (int)img->h; y++)
		for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < (int)img->w; x++) {
			sy_to(&f, (float)x + 0.5f, (float)y + 0.5f, &s, &t);
			/* the opening d is lens-shaped (closed at the corners); the jaw below moves
			 * down by dj >= d over a wider span */
			float d = drop * sy_window(s / (hw * 1.05f), 0.9f);
			float dj = drop * sy_window(s / (hw * 2.2f), 0.6f);
			uint8_t *p = out->px + ((size_t)y * img->w + (size_t)x) * 3;
			float ts;
			if (t < tm || dj <= 0 || t > chin + dj + fade)
				continue;
			if (t < tm + d) { /* cavity: teeth in the top fifth, then dark */
				float k = (t - tm) / d;
				float base = k < 0.2f ? 200.0f : 35.0f * (1.0f - 0.5f * k);
				p[0] = sy_clamp(base * 1.05f);
				p[1] = sy_clamp(base * (k < 0.2f ? 0.95f : 0.55f));
				p[2] = sy_clamp(base * (k < 0.2f ? 0.9f : 0.55f));
				continue;
			}
			if (t <=
			    chin + dj) /* lower lip to chin, stretched over [tm + d, chin + dj] */
				ts = tm + (t - tm - d) * (chin - tm) / (chin + dj - tm - d);
			else /* below the chin, the shift fades out */
				ts = t - dj * (1.0f - (t - chin - dj) / fade);
			float xs, ys;
			sy_from(&f, s, ts, &xs, &ys);
			sy_sample(img, xs, ys, p);
		}
	return 0;
}

/* Deterministic noise source for frames. */
static SY_UNUSED float sy_noise(uint32_t *state)
{
	/* sum of 4 uniforms: roughly Gaussian, standard deviation 1 */
	float a = 0;
	for (int i = 0; i < 4; i++) {
		*state = *state * 1664525u + 1013904223u;
		a += (float)(*state >> 8) / (float)(1u << 24) - 0.5f;
	}
	return a * 1.732f;
}

static SY_UNUSED void sy_add_noise(struct liveness_rgb *img, float sigma, uint32_t seed)
{
	for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++)
		img->px[i] = sy_clamp((float)img->px[i] + sigma * sy_noise(&seed));
}

enum sy_light { SY_LIGHT_FACE, SY_LIGHT_FLAT };

/* Screen light of colour rgb (0..1) and strength g reflected by the face: every pixel of the
 * head region gains pixel * g * shading * rgb, where shading is Lambertian for light from the
 * camera direction on an ellipsoid head (n_z) plus a nose bump for its nearness (1/d^2); the
 * background, far away, gets 3% of it. SY_LIGHT_FLAT: a flat surface (a print or a screen in
 * front of the camera) tinted uniformly over the whole frame. fi: the face of img. In place. */
static SY_UNUSED int sy_light(struct liveness_rgb *img, const struct liveness_face_info *fi,
			      const float rgb[3], float g, enum sy_light kind)
{
	float m[6], inv[6];

	if (kind == SY_LIGHT_FLAT) {
		for (size_t i = 0; i < (size_t)img->w * img->h; i++)
			for (int c = 0; c < 3; c++)
				img->px[3 * i + c] =
					sy_clamp((float)img->px[3 * i + c] * (1 + g * rgb[c]));
		return 0;
	}
	if (liveness_face_align_matrix(fi, 150, m) < 0)
		return -EINVAL;
	/* image pixel-centre coordinates -> chip pixel-centre coordinates */
	float det = m[0] * m[4] - m[1] * m[3];
	inv[0] = m[4] / det;
	inv[1] = -m[1] / det;
	inv[3] = -m[3] / det;
	inv[4] = m[0] / det;
	inv[2] = -(inv[0] * m[2] + inv[1] * m[5]);
	inv[5] = -(inv[3] * m[2] + inv[4] * m[5]);
	for (uint32_t y = 0; y < img->h; y++)
		for (uint32_t x = 0; x < img->w; x++) {
			float cx = inv[0] * (float)x + inv[1] * (float)y + inv[2] + 0.5f;
			float cy = inv[3] * (float)x + inv[4] * (float)y + inv[5] + 0.5f;
			float u = (cx - 75) / 64, v = (cy - 72) / 84, r2 = u * u + v * v;
			float sh = 0.03f;
			if (r2 < 1) {
				float dn = ((cx - 75) * (cx - 75) + (cy - 74) * (cy - 74)) / 288.0f;
				sh += sqrtf(1 - r2) + 0.35f * expf(-dn);
			}
			uint8_t *p = img->px + ((size_t)y * img->w + x) * 3;
			for (int c = 0; c < 3; c++)
				p[c] = sy_clamp((float)p[c] * (1 + g * sh * rgb[c]));
		}
	return 0;
}

/* A screen replay photographed by a camera: img shown on a display whose pixels are pitch
 * image pixels wide (three vertical R, G, B stripes each, a dark row gap), seen through a
 * camera rotated by deg and sampling 3 x 3 points per pixel (the display grid aliases into
 * moire), then the display's brightness compensation and some veiling glare. */
static SY_UNUSED int sy_recapture(const struct liveness_rgb *img, float pitch, float deg,
				  struct liveness_rgb *out)
{
	const float a = deg * (float)M_PI / 180.0f, c = cosf(a), s = sinf(a);
	const float cx = (float)img->w / 2, cy = (float)img->h / 2;
	int rc = sy_alloc(out, img->w, img->h);

	for (uint32_t y = 0; rc == 0 && y < img->h; y++)
		for (uint32_t x = 0; x < img->w; x++) {
			float acc[3] = {0, 0, 0};
			for (int j = 0; j < 3; j++)
				for (int i = 0; i < 3; i++) {
					float px = (float)x + ((float)i + 0.5f) / 3 - cx;
					float py = (float)y + ((float)j + 0.5f) / 3 - cy;
					float qx = c * px - s * py + cx, qy = s * px + c * py + cy;
					uint8_t v[3];
					sy_sample(img, qx, qy, v);
					float fx = qx / pitch - floorf(qx / pitch);
					float fy = qy / pitch - floorf(qy / pitch);
					int stripe = (int)(fx * 3);
					for (int k = 0; k < 3; k++) {
						float m = (stripe == k ? 1.0f : 0.12f) *
							  (fy > 0.85f ? 0.3f : 1.0f);
						acc[k] += (float)v[k] * m;
					}
				}
			uint8_t *p = out->px + ((size_t)y * img->w + x) * 3;
			for (int k = 0; k < 3; k++)
				p[k] = sy_clamp(acc[k] / 9.0f * 2.4f * 0.8f + 0.2f * 100.0f);
		}
	return rc;
}

/* ---- frame sequences ---- */

#include "liveness/liveness_challenge.h"

/* What the synthetic person does at one instant. */
struct sy_pose {
	float blink; /* eyelid closure 0..1 */
	float mouth; /* mouth opening 0..1 */
	float turn;  /* head turn, degrees (> 0: the subject's left) */
};

/* Timeline of a performance: 600 ms still (the baseline), then each action in turn, then
 * 400 ms still. Blink: 90 ms closing, 120 ms shut, 90 ms opening; mouth: 200 ms opening to
 * 0.9, 400 ms open, 200 ms closing; turn: 300 ms to 40 degrees (measured ~25), 300 ms held,
 * 300 ms back; 350 ms still after each. Returns the total length in ms. */
#define SY_LEAD_MS 600
#define SY_GAP_MS  350
#define SY_TAIL_MS 400

static SY_UNUSED int sy_action_ms(enum liveness_action a)
{
	return a == LIVENESS_ACT_BLINK ? 300 : a == LIVENESS_ACT_MOUTH ? 800 : 900;
}

static SY_UNUSED int sy_perf_ms(const enum liveness_action *acts, int n)
{
	int t = SY_LEAD_MS + SY_TAIL_MS;
	for (int i = 0; i < n; i++)
		t += sy_action_ms(acts[i]) + SY_GAP_MS;
	return t;
}

static SY_UNUSED float sy_ramp3(float t, float up, float hold, float down)
{
	if (t < 0 || t > up + hold + down)
		return 0;
	if (t < up)
		return t / up;
	if (t < up + hold)
		return 1;
	return 1 - (t - up - hold) / down;
}

static SY_UNUSED struct sy_pose sy_perf_at(const enum liveness_action *acts, int n, float t_ms)
{
	struct sy_pose p = {0, 0, 0};
	float t = t_ms - SY_LEAD_MS;

	for (int i = 0; i < n && t >= 0; i++) {
		switch (acts[i]) {
		case LIVENESS_ACT_BLINK:
			p.blink = sy_ramp3(t, 90, 120, 90);
			break;
		case LIVENESS_ACT_MOUTH:
			p.mouth = sy_ramp3(t, 200, 400, 200);
			break;
		case LIVENESS_ACT_TURN_LEFT:
			p.turn = 40 * sy_ramp3(t, 300, 300, 300);
			break;
		default:
			p.turn = -40 * sy_ramp3(t, 300, 300, 300);
			break;
		}
		t -= (float)(sy_action_ms(acts[i]) + SY_GAP_MS);
	}
	return p;
}

/* One frame of the performance: eyelids and mouth warped on the base image (base mesh), then
 * the head turn, then sensor noise (sigma 1.5 levels). */
static SY_UNUSED int sy_frame(const struct liveness_rgb *base, const struct liveness_mesh *m,
			      const struct liveness_face_info *fi, struct sy_pose p, uint32_t seed,
			      struct liveness_rgb *out)
{
	struct liveness_rgb a = {0}, b = {0};
	int rc = sy_blink(base, m, p.blink, &a);
	if (rc == 0)
		rc = sy_mouth(&a, m, p.mouth, &b);
	if (rc == 0 && fabsf(p.turn) > 0.01f)
		rc = sy_turn(&b, fi, p.turn, out);
	else if (rc == 0) {
		*out = b;
		b.px = NULL;
	}
	free(a.px);
	free(b.px);
	if (rc == 0)
		sy_add_noise(out, 1.5f, seed);
	return rc;
}

/* The screen colour a camera frame at t_ms integrated: the mean over a 30 ms exposure ending
 * lag_ms before t_ms (the display-to-capture delay). */
static SY_UNUSED void sy_screen(const struct liveness_challenge *c, float t_ms, float lag_ms,
				float rgb[3])
{
	rgb[0] = rgb[1] = rgb[2] = 0;
	for (int i = 0; i < 4; i++) {
		int k = liveness_challenge_colour_at(c, t_ms - lag_ms - 10.0f * (float)i);
		float col[3];
		if (k < 0)
			continue;
		liveness_colour_rgb(c->colours[k], col);
		for (int j = 0; j < 3; j++)
			rgb[j] += col[j] / 4;
	}
}

enum sy_flash { SY_FLASH_LIVE, SY_FLASH_FLAT, SY_FLASH_NONE };

/* One frame of a colour-flash response at t_ms (ms from the flash start): the screen light
 * (strength g) as a live face (SY_FLASH_LIVE), as a flat surface (SY_FLASH_FLAT, uniform over
 * the frame) or absent (a photo); then a slow auto-exposure drift (+-1.5%) and noise. */
static SY_UNUSED int sy_flash_frame(const struct liveness_rgb *base,
				    const struct liveness_face_info *fi,
				    const struct liveness_challenge *c, enum sy_flash kind,
				    float t_ms, float lag_ms, float g, uint32_t seed,
				    struct liveness_rgb *out)
{
	float rgb[3];
	int rc = sy_copy(base, out);

	if (rc < 0)
		return rc;
	sy_screen(c, t_ms, lag_ms, rgb);
	if (kind != SY_FLASH_NONE && rgb[0] + rgb[1] + rgb[2] > 0)
		rc = sy_light(out, fi, rgb, g,
			      kind == SY_FLASH_LIVE ? SY_LIGHT_FACE : SY_LIGHT_FLAT);
	sy_gain(out, 1.0f + 0.015f * sinf(6.2832f * t_ms / 1700.0f));
	sy_add_noise(out, 1.5f, seed);
	return rc;
}

#endif
