/* liveness_quality — face-region statistics on the aligned chip, the gates and the score. */
#include "liveness/liveness_quality.h"

#include <math.h>
#include <string.h>

#include "liveness/liveness_embed.h"

#define CS LIVENESS_EMBED_SIZE
/* Face region of the aligned chip: an ellipse around the template's eyes (y 43) and mouth
 * (y 105.5), inside the cheeks and below the hairline. */
#define REG_CX 75.0f
#define REG_CY 76.0f
#define REG_RX 42.0f
#define REG_RY 56.0f

static bool in_region(int x, int y)
{
	float u = ((float)x + 0.5f - REG_CX) / REG_RX, v = ((float)y + 0.5f - REG_CY) / REG_RY;
	return u * u + v * v <= 1.0f;
}

static float luma(const uint8_t *p)
{
	return 0.299f * (float)p[0] + 0.587f * (float)p[1] + 0.114f * (float)p[2];
}

void liveness_quality_region(const uint8_t *chip, struct liveness_region_stats *ret)
{
	static const int w = CS;
	double s = 0, ss = 0, ls = 0, lss = 0;
	long n = 0, nl = 0, clip = 0, dark = 0;

	for (int y = 1; y < CS - 1; y++) {
		for (int x = 1; x < CS - 1; x++) {
			if (!in_region(x, y))
				continue;
			const uint8_t *p = chip + ((size_t)y * w + (size_t)x) * 3;
			float v = luma(p);
			s += v;
			ss += (double)v * v;
			clip += v >= 250.0f;
			dark += v <= 5.0f;
			n++;
			float lap = luma(p - 3) + luma(p + 3) + luma(p - 3 * w) + luma(p + 3 * w) -
				    4.0f * v;
			ls += lap;
			lss += (double)lap * lap;
			nl++;
		}
	}
	memset(ret, 0, sizeof(*ret));
	if (n == 0)
		return;
	ret->luma_mean = (float)(s / (double)n);
	ret->luma_std = (float)sqrt(fmax(ss / (double)n - (s / (double)n) * (s / (double)n), 0));
	ret->clipped = (float)clip / (float)n;
	ret->dark = (float)dark / (float)n;
	double lstd = sqrt(fmax(lss / (double)nl - (ls / (double)nl) * (ls / (double)nl), 0));
	ret->sharpness = (float)(lstd / ((double)ret->luma_std + 1.0));
}

float liveness_ramp(float v, float zero, float thr, float good)
{
	float s;
	if (!isfinite(v))
		return 0.0f;
	if ((good > thr) == (v >= thr))
		s = 50.0f + 50.0f * (v - thr) / (good - thr);
	else
		s = 50.0f * (v - zero) / (thr - zero);
	return s < 0.0f ? 0.0f : s > 100.0f ? 100.0f : s;
}

static float fmin3(float a, float b, float c)
{
	return fminf(a, fminf(b, c));
}

static int count_faces(const struct liveness_quality_limits *lim, const struct liveness_face *faces,
		       int n)
{
	int k = n > 0 ? 1 : 0;
	float main_w = n > 0 ? fmaxf(faces[0].w, faces[0].h) : 0.0f;
	for (int i = 1; i < n; i++)
		k += fmaxf(faces[i].w, faces[i].h) >= lim->other_face * main_w;
	return k;
}

static void sub_scores(const struct liveness_quality_limits *l, struct liveness_quality *q)
{
	const struct liveness_region_stats *r = &q->region;

	q->s_size = liveness_ramp(q->iod, 10.0f, l->min_iod, 2.0f * l->min_iod);
	q->s_illum = fmin3(liveness_ramp(r->luma_mean, 15.0f, l->min_luma, l->min_luma + 30.0f),
			   liveness_ramp(r->luma_mean, 250.0f, l->max_luma, l->max_luma - 25.0f),
			   liveness_ramp(r->clipped, 0.6f, l->max_clipped, l->max_clipped / 4.0f));
	q->s_blur = liveness_ramp(r->sharpness, 0.05f, l->min_sharp, 2.0f * l->min_sharp);
	q->s_pose = fmin3(liveness_ramp(fabsf(q->yaw), 60.0f, l->max_yaw, l->max_yaw / 2.5f),
			  liveness_ramp(fabsf(q->pitch), 60.0f, l->max_pitch, l->max_pitch / 2.5f),
			  liveness_ramp(fabsf(q->roll), 90.0f, l->max_roll, l->max_roll / 3.0f));
	q->s_eyes = liveness_ramp(q->ear, 0.05f, l->min_ear, l->min_ear + 0.07f);
	q->score = fminf(fmin3(q->s_size, q->s_illum, q->s_blur), fminf(q->s_pose, q->s_eyes));
}

void liveness_quality_assess(const struct liveness_quality_limits *lim,
			     const struct liveness_face *faces, int n,
			     const struct liveness_mesh *mesh,
			     const struct liveness_face_info *info, const uint8_t *chip,
			     struct liveness_quality *ret)
{
	const struct liveness_quality_limits def = LIVENESS_QUALITY_LIMITS_DEFAULT;
	const struct liveness_quality_limits *l = lim ? lim : &def;

	memset(ret, 0, sizeof(*ret));
	ret->faces = count_faces(l, faces, n);
	if (n <= 0 || !mesh || !info || !chip || !(mesh->score >= l->min_presence)) {
		ret->presence = mesh && n > 0 ? mesh->score : 0.0f;
		ret->reasons = LIVENESS_Q_NO_FACE;
		return;
	}
	ret->presence = mesh->score;
	ret->iod = info->iod;
	ret->yaw = info->yaw;
	ret->pitch = info->pitch;
	ret->roll = info->roll;
	ret->ear = info->ear;
	liveness_quality_region(chip, &ret->region);
	if (ret->faces > 1)
		ret->reasons |= LIVENESS_Q_SEVERAL_FACES;
	if (!(ret->iod >= l->min_iod))
		ret->reasons |= LIVENESS_Q_TOO_SMALL;
	if (!(ret->region.luma_mean >= l->min_luma))
		ret->reasons |= LIVENESS_Q_TOO_DARK;
	if (!(ret->region.luma_mean <= l->max_luma) || !(ret->region.clipped <= l->max_clipped))
		ret->reasons |= LIVENESS_Q_OVEREXPOSED;
	if (!(ret->region.sharpness >= l->min_sharp))
		ret->reasons |= LIVENESS_Q_BLURRED;
	if (!(fabsf(ret->yaw) <= l->max_yaw) || !(fabsf(ret->pitch) <= l->max_pitch) ||
	    !(fabsf(ret->roll) <= l->max_roll))
		ret->reasons |= LIVENESS_Q_NOT_FRONTAL;
	if (!(ret->ear >= l->min_ear))
		ret->reasons |= LIVENESS_Q_EYES_CLOSED;
	sub_scores(l, ret);
}

const char *liveness_quality_reason_name(unsigned bit)
{
	switch (bit) {
	case LIVENESS_Q_NO_FACE:
		return "no_face";
	case LIVENESS_Q_SEVERAL_FACES:
		return "several_faces";
	case LIVENESS_Q_TOO_SMALL:
		return "face_too_small";
	case LIVENESS_Q_TOO_DARK:
		return "too_dark";
	case LIVENESS_Q_OVEREXPOSED:
		return "overexposed";
	case LIVENESS_Q_BLURRED:
		return "blurred";
	case LIVENESS_Q_NOT_FRONTAL:
		return "not_frontal";
	case LIVENESS_Q_EYES_CLOSED:
		return "eyes_closed";
	default:
		return "unknown";
	}
}
