/* liveness_photinus — chromaticity series, lag search, colour order, 3-D relief. */
#include "liveness/liveness_photinus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LAG_STEP_MS 10
#define MAX_FRAMES  1024

/* Per-frame chromaticity of every region, centred over the frames used. */
struct series {
	int n;
	double t[MAX_FRAMES];
	float x[MAX_FRAMES][LIVENESS_N_REGIONS][3];
};

static void chroma(const float rgb[3], float out[3])
{
	float l[3], m;
	for (int c = 0; c < 3; c++)
		l[c] = logf(rgb[c] + 1.0f);
	m = (l[0] + l[1] + l[2]) / 3.0f;
	for (int c = 0; c < 3; c++)
		out[c] = l[c] - m;
}

static void build(const struct liveness_obs *obs, int n, double t_end, struct series *s)
{
	double mean[LIVENESS_N_REGIONS][3] = {{0}};

	s->n = 0;
	for (int i = 0; i < n && s->n < MAX_FRAMES; i++) {
		if (!obs[i].face || obs[i].t_ms < -300 || (double)obs[i].t_ms > t_end)
			continue;
		s->t[s->n] = (double)obs[i].t_ms;
		for (int r = 0; r < LIVENESS_N_REGIONS; r++) {
			chroma(obs[i].rgb[r], s->x[s->n][r]);
			for (int c = 0; c < 3; c++)
				mean[r][c] += s->x[s->n][r][c];
		}
		s->n++;
	}
	for (int f = 0; f < s->n; f++)
		for (int r = 0; r < LIVENESS_N_REGIONS; r++)
			for (int c = 0; c < 3; c++)
				s->x[f][r][c] -= (float)(mean[r][c] / s->n);
}

/* Chromaticity of the colour on screen at time t (0 when none is shown). */
static void expected_at(const struct liveness_challenge *c, double t, float out[3])
{
	int k = liveness_challenge_colour_at(c, t);
	float rgb[3];
	out[0] = out[1] = out[2] = 0.0f;
	if (k < 0)
		return;
	liveness_colour_rgb(c->colours[k], rgb);
	float m = (rgb[0] + rgb[1] + rgb[2]) / 3.0f;
	for (int i = 0; i < 3; i++)
		out[i] = rgb[i] - m;
}

/* The expected series at lag, centred over the frames; returns its energy. */
static double expected(const struct liveness_challenge *c, const struct series *s, int lag,
		       float (*e)[3])
{
	double mean[3] = {0, 0, 0}, energy = 0;
	for (int f = 0; f < s->n; f++) {
		expected_at(c, s->t[f] - lag, e[f]);
		for (int k = 0; k < 3; k++)
			mean[k] += e[f][k];
	}
	for (int f = 0; f < s->n; f++)
		for (int k = 0; k < 3; k++) {
			e[f][k] -= (float)(mean[k] / s->n);
			energy += (double)e[f][k] * e[f][k];
		}
	return energy;
}

/* Correlation of region r with e, and its regression gain. */
static float correlate(const struct series *s, int r, float (*e)[3], double e_energy,
		       float *ret_gain)
{
	double xy = 0, xx = 0;
	for (int f = 0; f < s->n; f++)
		for (int k = 0; k < 3; k++) {
			xy += (double)s->x[f][r][k] * e[f][k];
			xx += (double)s->x[f][r][k] * s->x[f][r][k];
		}
	if (ret_gain)
		*ret_gain = e_energy > 0 ? (float)(xy / e_energy) : 0.0f;
	return xx > 0 && e_energy > 0 ? (float)(xy / sqrt(xx * e_energy)) : 0.0f;
}

static void lag_search(const struct liveness_challenge *c, const struct series *s,
		       const struct liveness_photinus_limits *l, float (*e)[3],
		       struct liveness_photinus_result *r)
{
	r->corr = r->late_corr = -1.0f;
	for (int lag = l->lag_min_ms; lag <= l->late_max_ms; lag += LAG_STEP_MS) {
		double en = expected(c, s, lag, e);
		float corr = correlate(s, LIVENESS_REG_FACE, e, en, NULL);
		if (lag <= l->lag_max_ms && corr > r->corr) {
			r->corr = corr;
			r->lag_ms = lag;
		} else if (lag > l->lag_max_ms && corr > r->late_corr) {
			r->late_corr = corr;
			r->late_lag_ms = lag;
		}
	}
}

/* Each colour segment's mean face chromaticity, classified by the nearest (cosine) screen
 * colour, centred like the series. */
static void classify(const struct liveness_challenge *c, const struct series *s,
		     const struct liveness_photinus_limits *l, struct liveness_photinus_result *r)
{
	float mean_e[3] = {0, 0, 0}, raw[3];

	for (int f = 0; f < s->n; f++) {
		expected_at(c, s->t[f] - r->lag_ms, raw);
		for (int k = 0; k < 3; k++)
			mean_e[k] += raw[k] / (float)s->n;
	}
	for (int seg = 0; seg < c->n_colours; seg++) {
		float acc[3] = {0, 0, 0}, best = -2.0f;
		int cnt = 0, best_col = -1;
		double lo = c->start_ms[seg] + l->edge_ms + r->lag_ms;
		double hi = c->start_ms[seg] + c->dur_ms[seg] - l->edge_ms + r->lag_ms;
		for (int f = 0; f < s->n; f++)
			if (s->t[f] >= lo && s->t[f] <= hi) {
				for (int k = 0; k < 3; k++)
					acc[k] += s->x[f][LIVENESS_REG_FACE][k];
				cnt++;
			}
		if (cnt == 0)
			continue;
		r->segments++;
		for (int col = 0; col < LIVENESS_N_COLOURS; col++) {
			float rgb[3], p[3], dot = 0, na = 0, np = 0;
			liveness_colour_rgb((enum liveness_colour)col, rgb);
			float m = (rgb[0] + rgb[1] + rgb[2]) / 3.0f;
			for (int k = 0; k < 3; k++) {
				p[k] = rgb[k] - m - mean_e[k];
				dot += p[k] * acc[k];
				na += acc[k] * acc[k];
				np += p[k] * p[k];
			}
			float cosv = na > 0 && np > 0 ? dot / sqrtf(na * np) : -2.0f;
			if (cosv > best) {
				best = cosv;
				best_col = col;
			}
		}
		r->recognised += best_col == (int)c->colours[seg];
	}
}

static void judge(const struct liveness_photinus_limits *l, struct liveness_photinus_result *r)
{
	const float *g = r->gain;
	float face = g[LIVENESS_REG_FACE];
	float order = r->segments ? (float)r->recognised / (float)r->segments : 0.0f;

	r->relief = face > 0 ? (g[LIVENESS_REG_NOSE] -
				(g[LIVENESS_REG_CHEEK_R] + g[LIVENESS_REG_CHEEK_L]) / 2) /
				       face
			     : 0.0f;
	r->bg_ratio = face > 0 ? g[LIVENESS_REG_BACKGROUND] / face : 1.0f;
	if (!(r->corr >= l->min_corr)) {
		if (r->late_corr >= l->min_corr && r->late_corr > r->corr)
			r->reasons |= LIVENESS_R_LATE;
		else if (!(face >= l->min_gain))
			r->reasons |= LIVENESS_R_NO_RESPONSE;
		else
			r->reasons |= LIVENESS_R_WRONG_SEQUENCE;
	} else if (!(order >= l->min_order)) {
		r->reasons |= LIVENESS_R_WRONG_SEQUENCE;
	} else if (!(face >= l->min_gain)) {
		r->reasons |= LIVENESS_R_NO_RESPONSE;
	} else if (!(r->relief >= l->min_relief) || !(r->bg_ratio <= l->max_bg_ratio)) {
		r->reasons |= LIVENESS_R_FLAT;
	}
	float s = fminf(liveness_ramp(r->corr, 0, l->min_corr, 0.9f),
			liveness_ramp(order, 0, l->min_order, 1.0f));
	s = fminf(s, liveness_ramp(face, 0, l->min_gain, 3 * l->min_gain));
	s = fminf(s, liveness_ramp(r->relief, 0, l->min_relief, 2 * l->min_relief));
	s = fminf(s, liveness_ramp(r->bg_ratio, 1.0f, l->max_bg_ratio, l->max_bg_ratio / 2));
	r->score = s;
}

void liveness_photinus_eval(const struct liveness_challenge *c, const struct liveness_obs *obs,
			    int n, const struct liveness_photinus_limits *lim,
			    const struct liveness_seq_limits *slim,
			    struct liveness_photinus_result *ret)
{
	const struct liveness_photinus_limits def =
		c->plan.strict ? LIVENESS_PHOTINUS_LIMITS_STRICT : LIVENESS_PHOTINUS_LIMITS_DEFAULT;
	const struct liveness_photinus_limits *l = lim ? lim : &def;
	struct series *s = malloc(sizeof(*s));
	float(*e)[3] = malloc(MAX_FRAMES * sizeof(*e));

	memset(ret, 0, sizeof(*ret));
	liveness_seq_check(obs, n, slim, &ret->seq);
	ret->reasons = ret->seq.reasons;
	if (!s || !e || c->n_colours < 2) {
		ret->reasons |= LIVENESS_R_NO_RESPONSE;
		goto out;
	}
	build(obs, n, (double)c->flash_ms + l->late_max_ms + 300, s);
	ret->frames_used = s->n;
	if (s->n < 4) {
		ret->reasons |= LIVENESS_R_TOO_FEW_FRAMES;
		goto out;
	}
	lag_search(c, s, l, e, ret);
	double en = expected(c, s, ret->lag_ms, e);
	for (int r = 0; r < LIVENESS_N_REGIONS; r++)
		(void)correlate(s, r, e, en, &ret->gain[r]);
	classify(c, s, l, ret);
	judge(l, ret);
	ret->score = fminf(ret->score, ret->seq.s_identity);
	if (ret->seq.reasons & ~(unsigned)LIVENESS_R_IDENTITY)
		ret->score = 0.0f;
out:
	free(s);
	free(e);
	ret->passed = ret->reasons == 0;
}
