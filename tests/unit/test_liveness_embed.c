/* Unit tests for liveness_embed on a synthetic model with the real tensor names and shapes
 * (random weights, built in memory): the plan accepts it, rejects a missing tensor or a wrong
 * shape, runs deterministically across workspaces, and the score mapping holds its contract.
 * Numerical parity with the real weights is tests/liveness/parity.sh. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_embed.h"
#include "unit.h"

#define MAXT 160

struct spec {
	char name[64];
	uint32_t ndim, dims[4];
};

static struct spec specs[MAXT];
static int nspecs;

static void add(const char *name, uint32_t ndim, uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3)
{
	struct spec *s = &specs[nspecs++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->ndim = ndim;
	s->dims[0] = d0;
	s->dims[1] = d1;
	s->dims[2] = d2;
	s->dims[3] = d3;
}

static void add_conv(const char *prefix, uint32_t k, uint32_t cin, uint32_t cout)
{
	char n[64];
	snprintf(n, sizeof(n), "%s/conv/filters", prefix);
	add(n, 4, k, k, cin, cout);
	snprintf(n, sizeof(n), "%s/conv/bias", prefix);
	add(n, 1, cout, 0, 0, 0);
	snprintf(n, sizeof(n), "%s/scale/weights", prefix);
	add(n, 1, cout, 0, 0, 0);
	snprintf(n, sizeof(n), "%s/scale/biases", prefix);
	add(n, 1, cout, 0, 0, 0);
}

static void make_specs(void)
{
	static const struct {
		const char *n;
		uint32_t cout;
	} blocks[] = {{"conv32_1", 32},	   {"conv32_2", 32},	     {"conv32_3", 32},
		      {"conv64_down", 64}, {"conv64_1", 64},	     {"conv64_2", 64},
		      {"conv64_3", 64},	   {"conv128_down", 128},    {"conv128_1", 128},
		      {"conv128_2", 128},  {"conv256_down", 256},    {"conv256_1", 256},
		      {"conv256_2", 256},  {"conv256_down_out", 256}};
	uint32_t cin = 32;
	char n[64];

	nspecs = 0;
	add_conv("conv32_down", 7, 3, 32);
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		snprintf(n, sizeof(n), "%s/conv1", blocks[i].n);
		add_conv(n, 3, cin, blocks[i].cout);
		snprintf(n, sizeof(n), "%s/conv2", blocks[i].n);
		add_conv(n, 3, blocks[i].cout, blocks[i].cout);
		cin = blocks[i].cout;
	}
	add("fc", 2, 256, 128, 0, 0);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t align64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Serialises specs[] with deterministic pseudo-random values; filters are scaled by fan-in so
 * activations stay in a sane range through 29 layers. */
static uint8_t *build(size_t *ret_len)
{
	size_t len = align64(128 + 128 * (size_t)nspecs), data0 = len;
	uint32_t rng = 7;

	for (int i = 0; i < nspecs; i++) {
		size_t c = 1;
		for (uint32_t d = 0; d < specs[i].ndim; d++)
			c *= specs[i].dims[d];
		len = align64(len + 4 * c);
	}
	uint8_t *b = calloc(1, len);
	if (!b)
		abort();
	memcpy(b, "SHNN\r\n\x1a\n", 8);
	put32(b + 8, 1);
	put32(b + 12, (uint32_t)nspecs);
	put64(b + 16, data0);
	put64(b + 24, len);
	memcpy(b + 32, "synthetic", 9);
	size_t off = data0;
	for (int i = 0; i < nspecs; i++) {
		uint8_t *e = b + 128 + 128 * (size_t)i;
		size_t c = 1;
		for (uint32_t d = 0; d < specs[i].ndim; d++)
			c *= specs[i].dims[d];
		memcpy(e, specs[i].name, strlen(specs[i].name));
		put32(e + 64, 1);
		put32(e + 68, specs[i].ndim);
		for (int d = 0; d < 4; d++)
			put32(e + 72 + 4 * d, specs[i].dims[d]);
		put64(e + 88, off);
		put64(e + 96, 4 * c);
		bool filt = specs[i].ndim == 4;
		bool is_scale = strstr(specs[i].name, "scale/weights") != NULL;
		float gain = filt ? 1.7f / sqrtf((float)(specs[i].dims[0] * specs[i].dims[1] *
							 specs[i].dims[2]))
				  : 0.1f;
		for (size_t k = 0; k < c; k++) {
			rng = rng * 1664525u + 1013904223u;
			float v = ((float)(rng >> 8) / (float)(1u << 24) * 2.0f - 1.0f) * gain;
			if (is_scale)
				v += 1.0f;
			memcpy(b + off + 4 * k, &v, 4);
		}
		off = align64(off + 4 * c);
	}
	*ret_len = len;
	return b;
}

static int embedder_for_specs(struct liveness_model **ret_m, struct liveness_embedder **ret_e)
{
	size_t len;
	uint8_t *b = build(&len);
	int rc = liveness_model_load_mem(b, len, ret_m);
	free(b);
	if (rc < 0)
		return rc;
	rc = liveness_embedder_new(*ret_m, ret_e);
	if (rc < 0) {
		liveness_model_free(*ret_m);
		*ret_m = NULL;
	}
	return rc;
}

static void test_plan_and_run(void)
{
	struct liveness_model *m;
	struct liveness_embedder *e;
	struct liveness_embed_ws *ws1, *ws2;
	static uint8_t chip[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3];
	float d1[LIVENESS_EMBED_DIM], d2[LIVENESS_EMBED_DIM], d3[LIVENESS_EMBED_DIM];

	make_specs();
	CHECK_INT(nspecs, 117);
	REQUIRE(embedder_for_specs(&m, &e) == 0);
	REQUIRE(liveness_embed_ws_new(e, &ws1) == 0);
	REQUIRE(liveness_embed_ws_new(e, &ws2) == 0);
	for (size_t i = 0; i < sizeof(chip); i++)
		chip[i] = (uint8_t)((i * 7919) >> 3);
	liveness_embed_run(e, ws1, chip, d1);
	liveness_embed_run(e, ws2, chip, d2);
	liveness_embed_run(e, ws1, chip, d3);
	bool finite = true, nonzero = false;
	for (int i = 0; i < LIVENESS_EMBED_DIM; i++) {
		finite = finite && isfinite(d1[i]);
		nonzero = nonzero || d1[i] != 0.0f;
	}
	CHECK(finite && nonzero);
	CHECK(memcmp(d1, d2, sizeof(d1)) == 0);
	CHECK(memcmp(d1, d3, sizeof(d1)) == 0);
	CHECK(liveness_embed_distance(d1, d2) == 0.0);
	chip[0] ^= 0xff;
	liveness_embed_run(e, ws1, chip, d2);
	CHECK(liveness_embed_distance(d1, d2) > 0.0);
	liveness_embed_ws_free(ws1);
	liveness_embed_ws_free(ws2);
	liveness_embed_ws_free(NULL);
	liveness_embedder_free(e);
	liveness_embedder_free(NULL);
	liveness_model_free(m);
}

static void test_plan_rejects(void)
{
	struct liveness_model *m;
	struct liveness_embedder *e;

	make_specs();
	specs[nspecs - 1].dims[1] = 127; /* fc 256 x 127 */
	CHECK_INT(embedder_for_specs(&m, &e), -EBADMSG);
	make_specs();
	nspecs--; /* no fc */
	CHECK_INT(embedder_for_specs(&m, &e), -ENOENT);
	make_specs();
	specs[4].dims[2] = 16; /* conv32_1/conv1 filters with 16 input channels */
	CHECK_INT(embedder_for_specs(&m, &e), -EBADMSG);
	make_specs();
	snprintf(specs[20].name, sizeof(specs[20].name), "renamed");
	CHECK_INT(embedder_for_specs(&m, &e), -ENOENT);
}

static void test_score(void)
{
	CHECK(liveness_verify_score(0.0) == 100.0);
	CHECK(fabs(liveness_verify_score(0.6) - 50.0) < 1e-9);
	CHECK(fabs(liveness_verify_score(0.3) - 75.0) < 1e-9);
	CHECK(liveness_verify_score(1.2) == 0.0);
	CHECK(liveness_verify_score(5.0) == 0.0);
	CHECK(liveness_verify_score(-1.0) == 100.0);
	CHECK(liveness_verify_score(NAN) == 0.0);
	CHECK(liveness_embed_same(0.5999));
	CHECK(!liveness_embed_same(0.6));
	CHECK(!liveness_embed_same(NAN));
}

UNIT_MAIN("liveness_embed", UNIT_CASE(test_plan_and_run), UNIT_CASE(test_plan_rejects),
	  UNIT_CASE(test_score))
