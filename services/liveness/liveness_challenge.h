/* liveness_challenge — which liveness check a scene's Model asks for (API.md §3.1), risk
 * escalation, and the server-drawn random challenge: an ordered list of actions and/or a
 * colour-flash (photinus) sequence with timings. Drawn deterministically from a 32-byte seed
 * (HMAC-SHA256 expansion), so the service stores the seed and the plan and can redraw the same
 * challenge when the frames come back; with a NULL seed the CSPRNG (crypto_random) supplies
 * one. Pure apart from that optional CSPRNG call. */
#ifndef SHIREN_LIVENESS_CHALLENGE_H
#define SHIREN_LIVENESS_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVENESS_SEED_LEN	    32
#define LIVENESS_MAX_ACTIONS	    4
#define LIVENESS_MAX_COLOURS	    16
#define LIVENESS_CHALLENGE_JSON_MAX 2048 /* liveness_challenge_json never needs more */

/* API.md §3.1 Model values, plus FRONT_CAMERA_LIVENESS (Contrast/LivenessFaceVerify). */
enum liveness_scene_model {
	LIVENESS_SCENE_LIVENESS = 0,  /* default: blink */
	LIVENESS_SCENE_PHOTINUS,      /* PHOTINUS_LIVENESS: blink + colour flash */
	LIVENESS_SCENE_MULTI_ACTION,  /* blink + random head turn */
	LIVENESS_SCENE_MOVE_ACTION,   /* near/far + blink */
	LIVENESS_SCENE_MOVE_PHOTINUS, /* near/far + colour flash */
	LIVENESS_SCENE_MULTI_FAPTCHA, /* blink + nose-tip trace */
	LIVENESS_SCENE_FRONT_CAMERA,  /* one photo, server side: silent */
};

enum liveness_action {
	LIVENESS_ACT_BLINK = 0,
	LIVENESS_ACT_MOUTH = 1,	     /* open the mouth */
	LIVENESS_ACT_TURN_LEFT = 2,  /* the subject's own left */
	LIVENESS_ACT_TURN_RIGHT = 3, /* the subject's own right */
};
#define LIVENESS_N_ACTIONS 4

/* Screen colours of the flash sequence (full-intensity primaries and secondaries). */
enum liveness_colour {
	LIVENESS_COL_RED = 0,
	LIVENESS_COL_GREEN,
	LIVENESS_COL_BLUE,
	LIVENESS_COL_CYAN,
	LIVENESS_COL_MAGENTA,
	LIVENESS_COL_YELLOW,
};
#define LIVENESS_N_COLOURS 6

/* What a check consists of (before drawing). */
struct liveness_plan {
	bool silent;	  /* single photo, heuristic score only (low assurance) */
	bool photinus;	  /* colour flash */
	int n_actions;	  /* 0..LIVENESS_MAX_ACTIONS ordered actions */
	bool blink_first; /* the first action is a blink (the Model names it) */
	unsigned pool;	  /* the other actions are drawn from these (1 << enum liveness_action) */
	int n_colours;	  /* photinus sequence length */
	bool strict;	  /* raised thresholds (risk escalation) */
};

/* Parses a Model string (exact, case-sensitive as the API sends it); NULL or "" is the API
 * default LIVENESS. -EINVAL for anything else. */
__attribute__((warn_unused_result)) int liveness_scene_model_parse(const char *s,
								   enum liveness_scene_model *ret);
const char *liveness_scene_model_name(enum liveness_scene_model m);

/* The plan for a Model; risk escalates it (docs/liveness.md, "Challenge selection"). */
void liveness_plan_for(enum liveness_scene_model m, bool risk, struct liveness_plan *ret);

struct liveness_challenge {
	struct liveness_plan plan;
	uint8_t seed[LIVENESS_SEED_LEN];
	int n_actions;
	enum liveness_action actions[LIVENESS_MAX_ACTIONS];
	int n_colours;
	enum liveness_colour colours[LIVENESS_MAX_COLOURS];
	int32_t start_ms[LIVENESS_MAX_COLOURS]; /* onset of colour i, ms from the flash start */
	int32_t dur_ms[LIVENESS_MAX_COLOURS];
	int32_t flash_ms; /* total flash length */
};

/* Draws the challenge for plan from seed (LIVENESS_SEED_LEN bytes, copied into ret), or from
 * a fresh CSPRNG seed when seed is NULL. The same plan and seed always give the same
 * challenge. Actions: distinct, in random order (the plan's blink first when it says so);
 * colours: no colour twice in a row, each shown 200-300 ms (20 ms steps). -EIO if the CSPRNG
 * or HMAC fails, -EINVAL for an impossible plan. */
__attribute__((warn_unused_result)) int liveness_challenge_draw(const struct liveness_plan *plan,
								const uint8_t *seed,
								struct liveness_challenge *ret);

/* The challenge as the client needs it, JSON: {"actions":["blink",...],"flash":[{"rgb":
 * "#ff0000","startMs":0,"durationMs":240},...],"flashMs":...}. Returns the length or -ENOSPC. */
__attribute__((warn_unused_result)) int liveness_challenge_json(const struct liveness_challenge *c,
								char *buf, size_t cap);

const char *liveness_action_name(enum liveness_action a);
/* Linear RGB 0..1 of a screen colour. */
void liveness_colour_rgb(enum liveness_colour c, float ret_rgb[3]);

/* The displayed colour at time t_ms since the flash start: its index, or -1 outside. */
int liveness_challenge_colour_at(const struct liveness_challenge *c, double t_ms);

#endif
