/* pad_report — SYNTHETIC presentation-attack figures for the liveness checks, made entirely
 * from real face images by tests/liveness/synth.h. Built and run by tests/liveness/pad.sh.
 *
 *   pad_report <model dir> <trials per face> <name=image>...
 *
 * Base faces: the largest face of every image that is roughly frontal, cropped and scaled to
 * an inter-ocular distance of ~70 px. Per face and trial, with a fresh challenge seed:
 *   action (blink + one random action, as MULTI_ACTION/MOVE_ACTION draw them):
 *     bona fide = the challenged performance; attacks = a still photo, and a recorded
 *     performance of another drawn challenge (video replay);
 *   photinus (8 colours): bona fide = the face lit by the screen (lag 40-180 ms, strength
 *     0.15-0.35); attacks = a still photo, a flat screen/print tinted uniformly, a replay of a
 *     live response to another drawn sequence, a live response 450-800 ms late;
 *   silent: bona fide = the face image with sensor noise; attack = a screen replay (pixel
 *     pitch 1-3 px, camera rotated 1-15 degrees).
 * Prints BPCER and APCER per attack type (ISO/IEC 30107-3 terms) and the mean scores. These
 * numbers prove internal consistency on modelled data, not real-world performance. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"
#include "liveness/liveness_action.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_nn.h"
#include "liveness/liveness_photinus.h"
#include "liveness/liveness_silent.h"

#define MAX_BASES  16
#define MAX_FRAMES 96
#define FRAME_MS   67 /* 15 fps */

struct base {
	char name[64];
	struct liveness_rgb img;
	struct liveness_analysis a;
};

struct tally {
	const char *check, *what;
	bool bona_fide;
	int n, passed;
	double score;
};

enum {
	T_ACT_BF,
	T_ACT_PHOTO,
	T_ACT_REPLAY,
	T_PH_BF,
	T_PH_PHOTO,
	T_PH_FLAT,
	T_PH_REPLAY,
	T_PH_LATE,
	T_SIL_BF,
	T_SIL_REPLAY,
	T_N
};

static struct tally tallies[T_N] = {
	{"action", "bona fide (challenged performance)", true, 0, 0, 0},
	{"action", "still photo", false, 0, 0, 0},
	{"action", "replayed video of another challenge", false, 0, 0, 0},
	{"photinus", "bona fide (face lit by the screen)", true, 0, 0, 0},
	{"photinus", "still photo (no response)", false, 0, 0, 0},
	{"photinus", "flat screen/print, uniform tint", false, 0, 0, 0},
	{"photinus", "replay of a response to another sequence", false, 0, 0, 0},
	{"photinus", "late response (450-800 ms)", false, 0, 0, 0},
	{"silent", "bona fide (noisy capture)", true, 0, 0, 0},
	{"silent", "screen replay (moire)", false, 0, 0, 0},
};

static struct liveness_engine *eng;
static struct liveness_worker *wrk;
static struct liveness_obs obs[MAX_FRAMES];
static struct liveness_rgb frames[MAX_FRAMES];
static int64_t stamps[MAX_FRAMES];

static uint32_t rng_state;

static float urand(float lo, float hi)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return lo + (hi - lo) * (float)(rng_state >> 8) / (float)(1u << 24);
}

static const char *cur_base;

static void count(int t, bool passed, float score)
{
	if (getenv("PAD_VERBOSE") && passed != tallies[t].bona_fide)
		fprintf(stderr, "pad_report: %s: %s / %s: %s (score %.1f)\n", cur_base,
			tallies[t].check, tallies[t].what, passed ? "passed" : "failed",
			(double)score);
	tallies[t].n++;
	tallies[t].passed += passed;
	tallies[t].score += score;
}

static void free_frames(int n)
{
	for (int i = 0; i < n; i++) {
		free(frames[i].px);
		frames[i].px = NULL;
	}
}

static int observe(int n)
{
	int rc = liveness_seq_observe(eng, wrk, frames, stamps, n, obs);
	free_frames(n);
	return rc;
}

/* ---- action ---- */

static int perform(const struct base *b, const enum liveness_action *acts, int na, int still)
{
	/* a still photo is held for as long as the performance would take */
	int total = sy_perf_ms(acts, na), n = 0, rc = 0;
	for (int ms = 0; ms <= total && n < MAX_FRAMES && rc == 0; ms += FRAME_MS, n++) {
		struct sy_pose p =
			still ? (struct sy_pose){0, 0, 0} : sy_perf_at(acts, na, (float)ms);
		stamps[n] = ms;
		rc = sy_frame(&b->img, &b->a.mesh, &b->a.info, p, rng_state + (uint32_t)n,
			      &frames[n]);
	}
	if (rc < 0) {
		free_frames(n);
		return rc;
	}
	rc = observe(n);
	return rc < 0 ? rc : n;
}

static int draw(enum liveness_scene_model m, struct liveness_challenge *c)
{
	struct liveness_plan p;
	uint8_t seed[LIVENESS_SEED_LEN];
	for (int i = 0; i < LIVENESS_SEED_LEN; i++)
		seed[i] = (uint8_t)urand(0, 256);
	liveness_plan_for(m, false, &p);
	return liveness_challenge_draw(&p, seed, c);
}

static int action_trial(const struct base *b)
{
	struct liveness_challenge c, other;
	struct liveness_action_result r;
	int n, rc;

	if ((rc = draw(LIVENESS_SCENE_MOVE_ACTION, &c)) < 0)
		return rc;
	do {
		if ((rc = draw(LIVENESS_SCENE_MOVE_ACTION, &other)) < 0)
			return rc;
	} while (memcmp(other.actions, c.actions, sizeof(c.actions)) == 0);
	if ((n = perform(b, c.actions, c.n_actions, 0)) < 0)
		return n;
	liveness_action_eval(&c, obs, n, NULL, NULL, &r);
	if (getenv("PAD_VERBOSE") && !r.passed)
		for (int k = 0; k < r.n_actions; k++)
			fprintf(stderr, "pad_report:   %s %s strength %.3f reasons 0x%x\n",
				liveness_action_name(c.actions[k]),
				r.acts[k].found ? "found" : "MISSING", (double)r.acts[k].strength,
				r.reasons);
	count(T_ACT_BF, r.passed, r.score);
	if ((n = perform(b, c.actions, c.n_actions, 1)) < 0)
		return n;
	liveness_action_eval(&c, obs, n, NULL, NULL, &r);
	count(T_ACT_PHOTO, r.passed, r.score);
	if ((n = perform(b, other.actions, other.n_actions, 0)) < 0)
		return n;
	liveness_action_eval(&c, obs, n, NULL, NULL, &r);
	count(T_ACT_REPLAY, r.passed, r.score);
	return 0;
}

/* ---- photinus ---- */

static int respond(const struct base *b, const struct liveness_challenge *c, enum sy_flash kind,
		   float lag, float gain)
{
	int n = 0, rc = 0;
	for (int ms = -300; ms <= c->flash_ms + 300 && n < MAX_FRAMES && rc == 0;
	     ms += FRAME_MS, n++) {
		stamps[n] = ms;
		rc = sy_flash_frame(&b->img, &b->a.info, c, kind, (float)ms, lag, gain,
				    rng_state + (uint32_t)n, &frames[n]);
	}
	if (rc < 0) {
		free_frames(n);
		return rc;
	}
	rc = observe(n);
	return rc < 0 ? rc : n;
}

static int photinus_trial(const struct base *b)
{
	struct liveness_challenge c, other;
	struct liveness_photinus_result r;
	float gain = urand(0.15f, 0.35f);
	int n, rc;

	if ((rc = draw(LIVENESS_SCENE_PHOTINUS, &c)) < 0 ||
	    (rc = draw(LIVENESS_SCENE_PHOTINUS, &other)) < 0)
		return rc;
	if ((n = respond(b, &c, SY_FLASH_LIVE, urand(40, 180), gain)) < 0)
		return n;
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	if (getenv("PAD_VERBOSE") && !r.passed)
		fprintf(stderr,
			"pad_report:   corr %.2f order %d/%d gain %.3f relief %.2f bg %.2f "
			"reasons 0x%x\n",
			(double)r.corr, r.recognised, r.segments, (double)r.gain[LIVENESS_REG_FACE],
			(double)r.relief, (double)r.bg_ratio, r.reasons);
	count(T_PH_BF, r.passed, r.score);
	if ((n = respond(b, &c, SY_FLASH_NONE, 0, gain)) < 0)
		return n;
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	count(T_PH_PHOTO, r.passed, r.score);
	if ((n = respond(b, &c, SY_FLASH_FLAT, urand(40, 180), gain)) < 0)
		return n;
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	count(T_PH_FLAT, r.passed, r.score);
	if ((n = respond(b, &other, SY_FLASH_LIVE, urand(40, 180), gain)) < 0)
		return n;
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	count(T_PH_REPLAY, r.passed, r.score);
	if ((n = respond(b, &c, SY_FLASH_LIVE, urand(450, 800), gain)) < 0)
		return n;
	liveness_photinus_eval(&c, obs, n, NULL, NULL, &r);
	count(T_PH_LATE, r.passed, r.score);
	return 0;
}

/* ---- silent ---- */

static int silent_one(const struct liveness_rgb *img, int t)
{
	static struct liveness_analysis a;
	struct liveness_silent_result r = {0};
	int rc = liveness_analyze(eng, wrk, img, NULL, 0, &a);
	if (rc < 0)
		return rc;
	if (a.has_face)
		liveness_silent_eval(img, &a, false, NULL, &r);
	count(t, r.passed, r.score);
	return 0;
}

static int silent_trial(const struct base *b)
{
	struct liveness_rgb x = {0};
	int rc = sy_copy(&b->img, &x);
	if (rc < 0)
		return rc;
	sy_add_noise(&x, urand(0.5f, 3.0f), rng_state);
	rc = silent_one(&x, T_SIL_BF);
	free(x.px);
	if (rc < 0 || (rc = sy_recapture(&b->img, urand(1.0f, 3.0f), urand(1, 15), &x)) < 0)
		return rc;
	rc = silent_one(&x, T_SIL_REPLAY);
	free(x.px);
	return rc;
}

/* ---- setup and report ---- */

/* Reads and decodes one file. */
static int load_image(const char *path, struct liveness_rgb *img)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");
	int rc;

	if (!f)
		return -errno;
	rc = fseek(f, 0, SEEK_END) == 0 && (long)(len = (size_t)ftell(f)) > 0 &&
			     fseek(f, 0, SEEK_SET) == 0
		     ? 0
		     : -EIO;
	if (rc == 0 && !(buf = malloc(len)))
		rc = -ENOMEM;
	if (rc == 0 && fread(buf, 1, len, f) != len)
		rc = -EIO;
	fclose(f);
	if (rc == 0)
		rc = liveness_image_decode(buf, len, NULL, img);
	free(buf);
	return rc;
}

/* A face of img (the meshed one of a: the crop around face k of the image), if roughly frontal
 * and of usable size: cropped around it and scaled to an inter-ocular distance of ~70 px.
 * Blur is tolerated (several sample faces are soft). 1 if used, 0 if skipped. */
static int make_base(const struct liveness_rgb *img, const struct liveness_analysis *a,
		     const char *name, int k, struct base *b)
{
	struct liveness_rgb crop = {0};
	int rc;

	if (!a->has_face || fabsf(a->info.yaw) > 20 || fabsf(a->info.roll) > 20 ||
	    a->info.iod < 40 ||
	    (a->quality.reasons & ~(unsigned)(LIVENESS_Q_BLURRED | LIVENESS_Q_SEVERAL_FACES)))
		return 0;
	float mx = (a->info.eye_right[0] + a->info.eye_left[0]) / 2;
	float my = (a->info.eye_right[1] + a->info.eye_left[1]) / 2 + 0.6f * a->info.iod;
	float side = 4.6f * a->info.iod;
	rc = sy_crop(img, (uint32_t)fmaxf(mx - side / 2, 0), (uint32_t)fmaxf(my - side / 2, 0),
		     (uint32_t)side, (uint32_t)side, &crop);
	if (rc < 0)
		return rc;
	rc = sy_scale(&crop, fminf(70.0f / a->info.iod, 1.0f), &b->img);
	free(crop.px);
	if (rc == 0)
		rc = liveness_analyze(eng, wrk, &b->img, NULL, 0, &b->a);
	if (rc < 0 || !b->a.has_face || (b->a.quality.reasons & ~(unsigned)LIVENESS_Q_BLURRED)) {
		free(b->img.px);
		b->img.px = NULL;
		return rc < 0 ? rc : 0;
	}
	snprintf(b->name, sizeof(b->name), "%.48s#%d", name, k);
	return 1;
}

/* Every usable face of the image: each detection is meshed on a crop around it. */
static int load_bases(const char *item, struct base *bases, int max)
{
	static struct liveness_analysis all, one;
	struct liveness_rgb img = {0};
	const char *eq = strchr(item, '=');
	char name[64];
	int rc, used = 0;

	if (!eq)
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
	if ((rc = load_image(eq + 1, &img)) < 0 ||
	    (rc = liveness_analyze(eng, wrk, &img, NULL, 0, &all)) < 0) {
		liveness_rgb_done(&img);
		return rc;
	}
	for (int k = 0; k < all.nfaces && used < max; k++) {
		const struct liveness_face *f = &all.faces[k];
		struct liveness_rgb crop = {0};
		float side = 2.5f * fmaxf(f->w, f->h);
		rc = sy_crop(&img, (uint32_t)fmaxf(f->x + f->w / 2 - side / 2, 0),
			     (uint32_t)fmaxf(f->y + f->h / 2 - side / 2, 0), (uint32_t)side,
			     (uint32_t)side, &crop);
		if (rc == 0)
			rc = liveness_analyze(eng, wrk, &crop, NULL, 0, &one);
		if (rc == 0)
			rc = make_base(&crop, &one, name, k, &bases[used]);
		free(crop.px);
		if (rc < 0)
			break;
		used += rc;
	}
	liveness_rgb_done(&img);
	return rc < 0 ? rc : used;
}

static void report(int nbases, int trials)
{
	printf("\nSYNTHETIC liveness figures: %d base faces x %d trials; generated by "
	       "tests/liveness/synth.h, not real presentation attacks\n\n",
	       nbases, trials);
	printf("| check | presentation | n | error | rate | mean score |\n");
	printf("|---|---|---|---|---|---|\n");
	for (int t = 0; t < T_N; t++) {
		struct tally *x = &tallies[t];
		int err = x->bona_fide ? x->n - x->passed : x->passed;
		printf("| %s | %s | %d | %s %d | %.1f%% | %.1f |\n", x->check, x->what, x->n,
		       x->bona_fide ? "BPCER" : "APCER", err, x->n ? 100.0 * err / x->n : 0.0,
		       x->n ? x->score / x->n : 0.0);
	}
}

int main(int argc, char **argv)
{
	static struct base bases[MAX_BASES];
	int nb = 0, trials, rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	char *end;
	long tl = argc >= 4 ? strtol(argv[2], &end, 10) : 0;
	trials = (int)tl;
	if (argc < 4 || *end || tl < 1 || tl > 1000) {
		fprintf(stderr, "usage: pad_report <model dir> <trials 1..1000> <name=image>...\n");
		return 2;
	}
	lnn_blas_set_threads(1);
	if ((rc = liveness_engine_open(argv[1], &eng)) < 0 ||
	    (rc = liveness_worker_new(eng, &wrk)) < 0) {
		fprintf(stderr, "pad_report: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	for (int i = 3; i < argc && nb < MAX_BASES; i++) {
		rc = load_bases(argv[i], &bases[nb], MAX_BASES - nb);
		if (rc < 0) {
			fprintf(stderr, "pad_report: %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
		fprintf(stderr, "pad_report: %s: %d base face(s)\n", argv[i], rc);
		nb += rc;
	}
	for (int t = 0; t < trials; t++)
		for (int b = 0; b < nb; b++) {
			rng_state = 1000003u * (uint32_t)t + 7919u * (uint32_t)b + 1u;
			cur_base = bases[b].name;
			if ((rc = action_trial(&bases[b])) < 0 ||
			    (rc = photinus_trial(&bases[b])) < 0 ||
			    (rc = silent_trial(&bases[b])) < 0) {
				fprintf(stderr, "pad_report: %s: %s\n", bases[b].name,
					strerror(-rc));
				return 1;
			}
			fprintf(stderr, "\rpad_report: trial %d/%d", t + 1, trials);
		}
	fprintf(stderr, "\n");
	report(nb, trials);
	for (int b = 0; b < nb; b++)
		free(bases[b].img.px);
	liveness_worker_free(wrk);
	liveness_engine_free(eng);
	return 0;
}
