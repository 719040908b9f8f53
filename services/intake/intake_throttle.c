/* intake_throttle — per-tenant token buckets in an open-addressing table (intake_throttle.h). */
#include "intake/intake_throttle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	char key[INTAKE_THROTTLE_KEY_MAX];
	double tokens;
	int64_t last_ms;
	bool used;
};

struct intake_throttle {
	double rate, burst;
	size_t max, count, cap; /* cap: power of two >= 2 * max */
	struct bucket *slots;
};

struct intake_throttle *intake_throttle_new(double rate, double burst, size_t max_tenants)
{
	struct intake_throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->rate = rate;
	t->burst = burst < 1 ? 1 : burst;
	t->max = max_tenants ? max_tenants : 1;
	t->cap = 2;
	while (t->cap < 2 * t->max)
		t->cap <<= 1;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void intake_throttle_free(struct intake_throttle *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

size_t intake_throttle_size(const struct intake_throttle *t)
{
	return t->count;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static void refill(const struct intake_throttle *t, struct bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += t->rate * (double)(now_ms - b->last_ms) / 1000.0;
		if (b->tokens > t->burst)
			b->tokens = t->burst;
		b->last_ms = now_ms;
	}
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void remove_slot(struct intake_throttle *t, size_t i)
{
	size_t mask = t->cap - 1;
	size_t j = i;
	for (;;) {
		t->slots[i].used = false;
		for (;;) {
			j = (j + 1) & mask;
			if (!t->slots[j].used) {
				t->count--;
				return;
			}
			size_t home = hash(t->slots[j].key) & mask;
			/* Move j into the hole at i when its home is not in (i, j]. */
			bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
			if (!in_range)
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

/* Recycle one bucket that has refilled completely. */
static bool evict_full(struct intake_throttle *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct bucket *b = &t->slots[i];
		if (!b->used)
			continue;
		refill(t, b, now_ms);
		if (b->tokens >= t->burst) {
			remove_slot(t, i);
			return true;
		}
	}
	return false;
}

enum intake_throttle_verdict intake_throttle_take(struct intake_throttle *t, const char *key,
						  int64_t now_ms, int64_t *ret_retry_ms)
{
	char k[INTAKE_THROTTLE_KEY_MAX];
	size_t kl = strnlen(key, sizeof(k) - 1);
	memcpy(k, key, kl);
	k[kl] = '\0';
	if (ret_retry_ms)
		*ret_retry_ms = 0;
	if (t->rate <= 0)
		return INTAKE_THROTTLE_ALLOW;

	size_t mask = t->cap - 1, i = hash(k) & mask;
	while (t->slots[i].used && strcmp(t->slots[i].key, k) != 0)
		i = (i + 1) & mask;
	struct bucket *b = &t->slots[i];
	if (!b->used) {
		if (t->count >= t->max) {
			if (!evict_full(t, now_ms))
				return INTAKE_THROTTLE_ALLOW_UNTRACKED;
			/* The table changed: find the free slot again. */
			i = hash(k) & mask;
			while (t->slots[i].used)
				i = (i + 1) & mask;
			b = &t->slots[i];
		}
		memcpy(b->key, k, kl + 1);
		b->tokens = t->burst;
		b->last_ms = now_ms;
		b->used = true;
		t->count++;
	}
	refill(t, b, now_ms);
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return INTAKE_THROTTLE_ALLOW;
	}
	if (ret_retry_ms)
		*ret_retry_ms = (int64_t)ceil((1.0 - b->tokens) * 1000.0 / t->rate);
	return INTAKE_THROTTLE_DENY;
}
