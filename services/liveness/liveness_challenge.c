/* liveness_challenge — Model -> plan, and drawing challenges from a seed. */
#include "liveness/liveness_challenge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"

#define COLOUR_MIN_MS  200
#define COLOUR_STEPS   6 /* 200, 220, ..., 300 ms */
#define COLOUR_STEP_MS 20
#define N_COLOURS      8
#define N_COLOURS_RISK 12

static const char *const model_names[] = {
	[LIVENESS_SCENE_LIVENESS] = "LIVENESS",
	[LIVENESS_SCENE_PHOTINUS] = "PHOTINUS_LIVENESS",
	[LIVENESS_SCENE_MULTI_ACTION] = "MULTI_ACTION",
	[LIVENESS_SCENE_MOVE_ACTION] = "MOVE_ACTION",
	[LIVENESS_SCENE_MOVE_PHOTINUS] = "MOVE_PHOTINUS",
	[LIVENESS_SCENE_MULTI_FAPTCHA] = "MULTI_FAPTCHA",
	[LIVENESS_SCENE_FRONT_CAMERA] = "FRONT_CAMERA_LIVENESS",
};

int liveness_scene_model_parse(const char *s, enum liveness_scene_model *ret)
{
	if (!s || !*s) {
		*ret = LIVENESS_SCENE_LIVENESS;
		return 0;
	}
	for (size_t i = 0; i < sizeof(model_names) / sizeof(model_names[0]); i++)
		if (strcmp(s, model_names[i]) == 0) {
			*ret = (enum liveness_scene_model)i;
			return 0;
		}
	return -EINVAL;
}

const char *liveness_scene_model_name(enum liveness_scene_model m)
{
	return (unsigned)m < sizeof(model_names) / sizeof(model_names[0]) ? model_names[m]
									  : "unknown";
}

#define POOL_ALL                                                       \
	((1u << LIVENESS_ACT_MOUTH) | (1u << LIVENESS_ACT_TURN_LEFT) | \
	 (1u << LIVENESS_ACT_TURN_RIGHT))
#define POOL_TURNS ((1u << LIVENESS_ACT_TURN_LEFT) | (1u << LIVENESS_ACT_TURN_RIGHT))

/* Near/far movement and the nose-tip trace are not implemented: MOVE_* substitute one random
 * action, MULTI_FAPTCHA both turns (docs/liveness.md, "Challenge selection"). */
void liveness_plan_for(enum liveness_scene_model m, bool risk, struct liveness_plan *ret)
{
	struct liveness_plan p = {.blink_first = true, .pool = POOL_ALL, .strict = risk};

	switch (m) {
	case LIVENESS_SCENE_FRONT_CAMERA:
		p.silent = true;
		p.blink_first = false;
		break;
	case LIVENESS_SCENE_PHOTINUS:
		p.n_actions = risk ? 2 : 1;
		p.photinus = true;
		break;
	case LIVENESS_SCENE_MULTI_ACTION:
		p.n_actions = risk ? 3 : 2;
		p.pool = risk ? POOL_ALL : POOL_TURNS;
		break;
	case LIVENESS_SCENE_MOVE_ACTION:
		p.n_actions = risk ? 3 : 2;
		break;
	case LIVENESS_SCENE_MOVE_PHOTINUS:
		p.blink_first = false;
		p.n_actions = risk ? 2 : 1;
		p.photinus = true;
		break;
	case LIVENESS_SCENE_MULTI_FAPTCHA:
		p.n_actions = risk ? 4 : 3;
		p.pool = risk ? POOL_ALL : POOL_TURNS;
		break;
	default: /* LIVENESS: a blink; risk adds an action and the colour flash */
		p.n_actions = risk ? 2 : 1;
		p.photinus = risk;
		break;
	}
	if (p.photinus)
		p.n_colours = risk ? N_COLOURS_RISK : N_COLOURS;
	*ret = p;
}

struct drbg {
	const uint8_t *key;
	uint32_t counter;
	uint8_t block[CRYPTO_SHA256_LEN];
	size_t used;
};

/* HMAC-SHA256(seed, "shiren-liveness-challenge" || counter, big-endian) blocks. */
static int drbg_u32(struct drbg *d, uint32_t *ret)
{
	if (d->used + 4 > sizeof(d->block)) {
		uint8_t msg[32];
		static const char label[] = "shiren-liveness-challenge";
		memcpy(msg, label, sizeof(label) - 1);
		for (int i = 0; i < 4; i++)
			msg[sizeof(label) - 1 + (size_t)i] = (uint8_t)(d->counter >> (24 - 8 * i));
		d->counter++;
		if (crypto_hmac(CRYPTO_HASH_SHA256, d->key, LIVENESS_SEED_LEN, msg,
				sizeof(label) - 1 + 4, d->block) < 0)
			return -EIO;
		d->used = 0;
	}
	*ret = (uint32_t)d->block[d->used] << 24 | (uint32_t)d->block[d->used + 1] << 16 |
	       (uint32_t)d->block[d->used + 2] << 8 | d->block[d->used + 3];
	d->used += 4;
	return 0;
}

/* Uniform in [0, n), n >= 1, by rejection. */
static int drbg_below(struct drbg *d, uint32_t n, uint32_t *ret)
{
	const uint32_t limit = UINT32_MAX - UINT32_MAX % n;
	uint32_t v;
	int rc;
	do {
		if ((rc = drbg_u32(d, &v)) < 0)
			return rc;
	} while (v >= limit);
	*ret = v % n;
	return 0;
}

static int draw_actions(const struct liveness_plan *p, struct drbg *d, struct liveness_challenge *c)
{
	enum liveness_action pool[LIVENESS_N_ACTIONS];
	uint32_t np = 0, k;
	int rc;

	c->n_actions = 0;
	if (p->blink_first && p->n_actions > 0)
		c->actions[c->n_actions++] = LIVENESS_ACT_BLINK;
	for (int a = 0; a < LIVENESS_N_ACTIONS; a++)
		if ((p->pool & (1u << a)) && !(p->blink_first && a == LIVENESS_ACT_BLINK))
			pool[np++] = (enum liveness_action)a;
	while (c->n_actions < p->n_actions) {
		if (np == 0)
			return -EINVAL;
		if ((rc = drbg_below(d, np, &k)) < 0)
			return rc;
		c->actions[c->n_actions++] = pool[k];
		pool[k] = pool[--np];
	}
	return 0;
}

static int draw_colours(const struct liveness_plan *p, struct drbg *d, struct liveness_challenge *c)
{
	int32_t t = 0;
	uint32_t k, steps;
	int rc;

	c->n_colours = p->n_colours;
	for (int i = 0; i < p->n_colours; i++) {
		/* any colour but the previous one */
		if ((rc = drbg_below(d, i ? LIVENESS_N_COLOURS - 1 : LIVENESS_N_COLOURS, &k)) < 0 ||
		    (rc = drbg_below(d, COLOUR_STEPS, &steps)) < 0)
			return rc;
		if (i && k >= (uint32_t)c->colours[i - 1])
			k++;
		c->colours[i] = (enum liveness_colour)k;
		c->start_ms[i] = t;
		c->dur_ms[i] = COLOUR_MIN_MS + COLOUR_STEP_MS * (int32_t)steps;
		t += c->dur_ms[i];
	}
	c->flash_ms = t;
	return 0;
}

int liveness_challenge_draw(const struct liveness_plan *plan, const uint8_t *seed,
			    struct liveness_challenge *ret)
{
	struct drbg d = {.used = CRYPTO_SHA256_LEN};
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (plan->n_actions < 0 || plan->n_actions > LIVENESS_MAX_ACTIONS || plan->n_colours < 0 ||
	    plan->n_colours > LIVENESS_MAX_COLOURS || (plan->photinus && plan->n_colours < 2))
		return -EINVAL;
	ret->plan = *plan;
	if (seed)
		memcpy(ret->seed, seed, LIVENESS_SEED_LEN);
	else if ((rc = crypto_random(ret->seed, LIVENESS_SEED_LEN)) < 0)
		return rc;
	d.key = ret->seed;
	if ((rc = draw_actions(plan, &d, ret)) < 0 ||
	    (plan->photinus && (rc = draw_colours(plan, &d, ret)) < 0)) {
		crypto_wipe(&d, sizeof(d));
		return rc;
	}
	crypto_wipe(&d, sizeof(d));
	return 0;
}

const char *liveness_action_name(enum liveness_action a)
{
	static const char *const names[LIVENESS_N_ACTIONS] = {"blink", "open_mouth", "turn_left",
							      "turn_right"};
	return (unsigned)a < LIVENESS_N_ACTIONS ? names[a] : "unknown";
}

void liveness_colour_rgb(enum liveness_colour c, float ret_rgb[3])
{
	static const float rgb[LIVENESS_N_COLOURS][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1},
							 {0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
	unsigned i = (unsigned)c < LIVENESS_N_COLOURS ? (unsigned)c : 0;
	memcpy(ret_rgb, rgb[i], sizeof(rgb[i]));
}

int liveness_challenge_colour_at(const struct liveness_challenge *c, double t_ms)
{
	for (int i = 0; i < c->n_colours; i++)
		if (t_ms >= c->start_ms[i] && t_ms < c->start_ms[i] + c->dur_ms[i])
			return i;
	return -1;
}

int liveness_challenge_json(const struct liveness_challenge *c, char *buf, size_t cap)
{
	struct json_writer w;
	char hex[8];

	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	json_key(&w, "actions");
	json_arr_begin(&w);
	for (int i = 0; i < c->n_actions; i++)
		json_str(&w, liveness_action_name(c->actions[i]));
	json_arr_end(&w);
	json_key(&w, "flash");
	json_arr_begin(&w);
	for (int i = 0; i < c->n_colours; i++) {
		float rgb[3];
		liveness_colour_rgb(c->colours[i], rgb);
		snprintf(hex, sizeof(hex), "#%02x%02x%02x", (unsigned)(rgb[0] * 255),
			 (unsigned)(rgb[1] * 255), (unsigned)(rgb[2] * 255));
		json_obj_begin(&w);
		json_key_str(&w, "rgb", hex);
		json_key_int(&w, "startMs", c->start_ms[i]);
		json_key_int(&w, "durationMs", c->dur_ms[i]);
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_key_int(&w, "flashMs", c->flash_ms);
	json_obj_end(&w);
	if (json_writer_truncated(&w))
		return -ENOSPC;
	return (int)json_writer_len(&w);
}
