/* liveness_observe — per-frame observations: measurements copied from the analysis, region
 * colours from the aligned chip, the background from the image border. */
#include "liveness/liveness_observe.h"

#include <math.h>
#include <string.h>

#define CS LIVENESS_EMBED_SIZE

/* Discs in the aligned chip (template: eyes at y 43, 59 px apart; nose tip ~y 76; mouth
 * y 105.5): centre x, y, radius. The face ellipse is the quality region. */
static const float discs[LIVENESS_REG_CHIN + 1][3] = {
	[LIVENESS_REG_FOREHEAD] = {75, 17, 11}, [LIVENESS_REG_NOSE] = {75, 76, 8},
	[LIVENESS_REG_CHEEK_R] = {41, 86, 10},	[LIVENESS_REG_CHEEK_L] = {109, 86, 10},
	[LIVENESS_REG_CHIN] = {75, 130, 8},
};

static bool inside(enum liveness_region r, int x, int y)
{
	float px = (float)x + 0.5f, py = (float)y + 0.5f;
	if (r == LIVENESS_REG_FACE) {
		float u = (px - 75.0f) / 42.0f, v = (py - 76.0f) / 56.0f;
		return u * u + v * v <= 1.0f;
	}
	float dx = px - discs[r][0], dy = py - discs[r][1];
	return dx * dx + dy * dy <= discs[r][2] * discs[r][2];
}

void liveness_region_mean(const uint8_t *chip, enum liveness_region r, float ret_rgb[3])
{
	double acc[3] = {0, 0, 0};
	long n = 0;

	ret_rgb[0] = ret_rgb[1] = ret_rgb[2] = 0.0f;
	if (r > LIVENESS_REG_FACE)
		return;
	for (int y = 0; y < CS; y++)
		for (int x = 0; x < CS; x++) {
			if (!inside(r, x, y))
				continue;
			const uint8_t *p = chip + ((size_t)y * CS + (size_t)x) * 3;
			for (int c = 0; c < 3; c++)
				acc[c] += p[c];
			n++;
		}
	for (int c = 0; c < 3 && n; c++)
		ret_rgb[c] = (float)(acc[c] / (double)n);
}

/* Border strips (8% of each side: left, right, top) minus the face box grown by half. */
static void background_mean(const struct liveness_rgb *img, const struct liveness_face *f,
			    float ret_rgb[3])
{
	const uint32_t bw = img->w / 12 + 1, bh = img->h / 12 + 1;
	const float fx0 = f ? f->x - f->w / 2 : 0, fx1 = f ? f->x + 1.5f * f->w : -1;
	const float fy0 = f ? f->y - f->h / 2 : 0, fy1 = f ? f->y + 1.5f * f->h : -1;
	double acc[3] = {0, 0, 0};
	long n = 0;

	for (uint32_t y = 0; y < img->h; y += 2) {
		for (uint32_t x = 0; x < img->w; x += 2) {
			if (!(x < bw || x >= img->w - bw || y < bh))
				continue;
			if ((float)x >= fx0 && (float)x < fx1 && (float)y >= fy0 && (float)y < fy1)
				continue;
			const uint8_t *p = img->px + ((size_t)y * img->w + x) * 3;
			for (int c = 0; c < 3; c++)
				acc[c] += p[c];
			n++;
		}
	}
	for (int c = 0; c < 3; c++)
		ret_rgb[c] = n ? (float)(acc[c] / (double)n) : 0.0f;
}

/* Template eye centres of the aligned chip (liveness_face.c). */
static const float eye_centre[2][2] = {{45.4f, 43.0f}, {104.6f, 43.0f}};

static void eye_patch(const uint8_t *chip, int e, float *out)
{
	const int x0 = (int)lroundf(eye_centre[e][0]) - LIVENESS_EYE_PW / 2;
	const int y0 = (int)lroundf(eye_centre[e][1]) - LIVENESS_EYE_PH / 2;
	double s = 0, ss = 0;

	for (int y = 0; y < LIVENESS_EYE_PH; y++)
		for (int x = 0; x < LIVENESS_EYE_PW; x++) {
			const uint8_t *p = chip + ((size_t)(y0 + y) * CS + (size_t)(x0 + x)) * 3;
			float v =
				0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
			out[y * LIVENESS_EYE_PW + x] = v;
			s += v;
			ss += (double)v * v;
		}
	double mean = s / LIVENESS_EYE_PATCH;
	double sd = sqrt(fmax(ss / LIVENESS_EYE_PATCH - mean * mean, 0)) + 1.0;
	for (int i = 0; i < LIVENESS_EYE_PATCH; i++)
		out[i] = (float)((out[i] - mean) / sd);
}

float liveness_eye_distance(const float (*a)[LIVENESS_EYE_PATCH],
			    const float (*b)[LIVENESS_EYE_PATCH])
{
	double corr = 0;
	for (int e = 0; e < 2; e++) {
		double ab = 0, aa = 0, bb = 0;
		for (int i = 0; i < LIVENESS_EYE_PATCH; i++) {
			ab += (double)a[e][i] * b[e][i];
			aa += (double)a[e][i] * a[e][i];
			bb += (double)b[e][i] * b[e][i];
		}
		corr += aa > 0 && bb > 0 ? ab / sqrt(aa * bb) / 2 : 0;
	}
	return (float)(1.0 - corr);
}

void liveness_observe(const struct liveness_rgb *img, const struct liveness_analysis *a,
		      int64_t t_ms, struct liveness_obs *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->t_ms = t_ms;
	ret->face = a->has_face;
	ret->faces = a->quality.faces;
	background_mean(img, a->nfaces > 0 ? &a->faces[0] : NULL,
			ret->rgb[LIVENESS_REG_BACKGROUND]);
	if (!a->has_face)
		return;
	ret->presence = a->mesh.score;
	ret->ear = a->info.ear;
	ret->mar = a->info.mar;
	ret->yaw = a->info.yaw;
	ret->pitch = a->info.pitch;
	ret->roll = a->info.roll;
	ret->eye_mid[0] = (a->info.eye_right[0] + a->info.eye_left[0]) / 2;
	ret->eye_mid[1] = (a->info.eye_right[1] + a->info.eye_left[1]) / 2;
	ret->iod = a->info.iod;
	for (int r = 0; r <= LIVENESS_REG_FACE; r++)
		liveness_region_mean(a->chip, (enum liveness_region)r, ret->rgb[r]);
	eye_patch(a->chip, 0, ret->eye_patch[0]);
	eye_patch(a->chip, 1, ret->eye_patch[1]);
	if (a->has_descriptor) {
		ret->has_descriptor = true;
		memcpy(ret->descriptor, a->descriptor, sizeof(ret->descriptor));
	}
}
