/* parity — the C side of tests/liveness/parity.sh (built there with cc against
 * libshiren-liveness.a). Three steps around the Node peer:
 *
 *   parity decode  <workdir> <name=image>...            decode with liveness_image -> full/NAME.ppm
 *   parity crops   <workdir> <faces.tsv>                150x150 chips (3 variants per face)
 *   parity compare <workdir> <model.shnn> <peer.json>   our descriptors vs the peer's
 *
 * compare prints the max |diff| per component, the pairwise distance agreement and the
 * same/different decision agreement at the 0.6 threshold; it exits 1 if any component differs
 * by more than 1e-3 or any decision differs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_nn.h"

#define MAX_CROPS 512
#define NAME_MAX_ 96
#define TOL	  1e-3
/* A pair whose peer distance is this close to the threshold is decided by float rounding
 * noise (the two sides differ by ~1e-6 per distance): a flip there is reported, not failed. */
#define NOISE_BAND 1e-5

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	long n;
	uint8_t *b;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -EIO;
	}
	b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		return -EIO;
	}
	b[n] = 0;
	fclose(f);
	*ret = b;
	*ret_len = (size_t)n;
	return 0;
}

static int write_ppm(const char *path, const uint8_t *px, uint32_t w, uint32_t h)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	fprintf(f, "P6\n%u %u\n255\n", w, h);
	size_t n = (size_t)w * h * 3;
	int ok = fwrite(px, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* Reads the P6 files this program writes (no comments). */
static int read_ppm(const char *path, struct liveness_rgb *img)
{
	uint8_t *b;
	size_t len;
	unsigned w, h, maxv;
	int used = 0;

	if (read_file(path, &b, &len) < 0)
		return -EIO;
	if (sscanf((const char *)b, "P6 %u %u %u%n", &w, &h, &maxv, &used) != 3 || maxv != 255 ||
	    w == 0 || h == 0 || (size_t)used + 1 + (size_t)w * h * 3 > len) {
		free(b);
		return -EBADMSG;
	}
	img->w = w;
	img->h = h;
	img->px = malloc((size_t)w * h * 3);
	if (img->px)
		memcpy(img->px, b + used + 1, (size_t)w * h * 3);
	free(b);
	return img->px ? 0 : -ENOMEM;
}

static int cmd_decode(const char *dir, int n, char **items)
{
	char path[4096];
	for (int i = 0; i < n; i++) {
		char *eq = strchr(items[i], '=');
		uint8_t *buf;
		size_t len;
		struct liveness_rgb img;
		int rc;

		if (!eq)
			return fprintf(stderr, "parity: want name=path, got %s\n", items[i]), 2;
		*eq = 0;
		rc = read_file(eq + 1, &buf, &len);
		if (rc == 0)
			rc = liveness_image_decode(buf, len, NULL, &img);
		if (rc < 0) {
			fprintf(stderr, "parity: %s: %s\n", eq + 1, liveness_image_strerror(rc));
			return 1;
		}
		free(buf);
		snprintf(path, sizeof(path), "%s/full/%s.ppm", dir, items[i]);
		rc = write_ppm(path, img.px, img.w, img.h);
		liveness_rgb_done(&img);
		if (rc < 0)
			return fprintf(stderr, "parity: cannot write %s\n", path), 1;
	}
	return 0;
}

/* Each detected face gives three chips: the box as detected (a), the box 10% larger and shifted
 * by 3% / -2% of its size (b), and (a) mirrored left-right (c). b and c are the same person as a,
 * so the pair set has both same and different pairs near and far from the threshold. */
static int cmd_crops(const char *dir, const char *tsv)
{
	static uint8_t chip[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3],
		mir[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3];
	const int S = LIVENESS_EMBED_SIZE;
	char line[512], path[4096], name[NAME_MAX_];
	FILE *f = fopen(tsv, "r");
	int faces = 0;

	if (!f)
		return fprintf(stderr, "parity: cannot open %s\n", tsv), 2;
	while (fgets(line, sizeof(line), f)) {
		struct liveness_rgb img = {0};
		int idx;
		float x, y, w, h;
		if (line[0] == '#' ||
		    sscanf(line, "%95s %d %f %f %f %f", name, &idx, &x, &y, &w, &h) != 6)
			continue;
		snprintf(path, sizeof(path), "%s/full/%s.ppm", dir, name);
		if (read_ppm(path, &img) < 0)
			return fprintf(stderr, "parity: cannot read %s\n", path), 1;
		liveness_chip_box(&img, x, y, w, h, S, chip);
		snprintf(path, sizeof(path), "%s/crops/%s_%d_a.ppm", dir, name, idx);
		if (write_ppm(path, chip, (uint32_t)S, (uint32_t)S) < 0)
			return 1;
		for (int r = 0; r < S; r++)
			for (int c = 0; c < S; c++)
				memcpy(mir + ((size_t)r * S + (size_t)c) * 3,
				       chip + ((size_t)r * S + (size_t)(S - 1 - c)) * 3, 3);
		snprintf(path, sizeof(path), "%s/crops/%s_%d_c.ppm", dir, name, idx);
		if (write_ppm(path, mir, (uint32_t)S, (uint32_t)S) < 0)
			return 1;
		liveness_chip_box(&img, x - 0.05f * w + 0.03f * w, y - 0.05f * h - 0.02f * h,
				  1.1f * w, 1.1f * h, S, chip);
		snprintf(path, sizeof(path), "%s/crops/%s_%d_b.ppm", dir, name, idx);
		if (write_ppm(path, chip, (uint32_t)S, (uint32_t)S) < 0)
			return 1;
		liveness_rgb_done(&img);
		faces++;
	}
	fclose(f);
	printf("parity: %d faces -> %d chips\n", faces, 3 * faces);
	return faces > 0 ? 0 : 1;
}

struct crop {
	char name[NAME_MAX_];
	float peer[LIVENESS_EMBED_DIM], ours[LIVENESS_EMBED_DIM];
};

/* Minimal reader for the JSON peer.js writes: {"peer":"..","crops":[{"name":"..",
 * "descriptor":[128 numbers]},...]}. Not a general JSON parser. */
static int parse_peer(char *js, struct crop *crops, int *ret_n, char *peer, size_t peerlen)
{
	char *p = strstr(js, "\"peer\":\"");
	int n = 0;

	if (p) {
		p += 8;
		char *e = strchr(p, '"');
		if (e)
			snprintf(peer, peerlen, "%.*s", (int)(e - p), p);
	}
	p = js;
	while ((p = strstr(p, "\"name\":\"")) != NULL && n < MAX_CROPS) {
		p += 8;
		char *e = strchr(p, '"');
		if (!e || e - p >= NAME_MAX_)
			return -EBADMSG;
		snprintf(crops[n].name, sizeof(crops[n].name), "%.*s", (int)(e - p), p);
		p = strstr(e, "\"descriptor\":[");
		if (!p)
			return -EBADMSG;
		p += 14;
		for (int i = 0; i < LIVENESS_EMBED_DIM; i++) {
			char *end;
			crops[n].peer[i] = strtof(p, &end);
			if (end == p)
				return -EBADMSG;
			p = end;
			while (*p == ',' || *p == ' ')
				p++;
		}
		if (*p != ']')
			return -EBADMSG;
		n++;
	}
	*ret_n = n;
	return n > 0 ? 0 : -EBADMSG;
}

static int embed_all(const char *dir, const char *model_path, struct crop *crops, int n)
{
	struct liveness_model *m;
	struct liveness_embedder *e;
	struct liveness_embed_ws *ws;
	char path[4096];
	int rc = liveness_model_open(model_path, &m);

	if (rc < 0)
		return fprintf(stderr, "parity: %s: %s\n", model_path, strerror(-rc)), rc;
	if ((rc = liveness_embedder_new(m, &e)) < 0 || (rc = liveness_embed_ws_new(e, &ws)) < 0)
		return fprintf(stderr, "parity: embedder: %s\n", strerror(-rc)), rc;
	for (int i = 0; i < n; i++) {
		struct liveness_rgb img;
		if (snprintf(path, sizeof(path), "%s/crops/%s.ppm", dir, crops[i].name) >=
			    (int)sizeof(path) ||
		    read_ppm(path, &img) < 0 || img.w != LIVENESS_EMBED_SIZE ||
		    img.h != LIVENESS_EMBED_SIZE)
			return fprintf(stderr, "parity: bad crop %s\n", path), -EBADMSG;
		liveness_embed_run(e, ws, img.px, crops[i].ours);
		liveness_rgb_done(&img);
	}
	liveness_embed_ws_free(ws);
	liveness_embedder_free(e);
	liveness_model_free(m);
	return 0;
}

static double dist(const float *a, const float *b)
{
	return liveness_embed_distance(a, b);
}

static int cmd_compare(const char *dir, const char *model_path, const char *json)
{
	static struct crop crops[MAX_CROPS];
	char *js, peer[128] = "?";
	size_t len;
	int n = 0, worst = 0;
	double maxd = 0.0, sumd = 0.0, maxpair = 0.0, margin = 1e9;
	long pairs = 0, flips = 0, same = 0, in_band = 0, band_flips = 0;

	if (read_file(json, (uint8_t **)&js, &len) < 0 ||
	    parse_peer(js, crops, &n, peer, sizeof(peer)) < 0)
		return fprintf(stderr, "parity: cannot read %s\n", json), 2;
	free(js);
	if (embed_all(dir, model_path, crops, n) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < LIVENESS_EMBED_DIM; k++) {
			double d = fabs((double)crops[i].ours[k] - (double)crops[i].peer[k]);
			sumd += d;
			if (d > maxd) {
				maxd = d;
				worst = i;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			double dp = dist(crops[i].peer, crops[j].peer);
			double dc = dist(crops[i].ours, crops[j].ours);
			bool sp = liveness_embed_same(dp), sc = liveness_embed_same(dc);
			bool band = fabs(dp - LIVENESS_EMBED_THRESHOLD) < NOISE_BAND;
			pairs++;
			same += sc;
			in_band += band;
			band_flips += band && sp != sc;
			flips += !band && sp != sc;
			if (fabs(dp - dc) > maxpair)
				maxpair = fabs(dp - dc);
			if (fabs(dp - LIVENESS_EMBED_THRESHOLD) < margin)
				margin = fabs(dp - LIVENESS_EMBED_THRESHOLD);
		}
	}
	printf("parity: peer: %s\n", peer);
	printf("parity: %d chips x %d components: max |diff| %.3g (chip %s), mean |diff| %.3g\n", n,
	       LIVENESS_EMBED_DIM, maxd, crops[worst].name,
	       sumd / (n * (double)LIVENESS_EMBED_DIM));
	printf("parity: %ld pairs: max |distance diff| %.3g, %ld same / %ld different at < %.1f, "
	       "%ld decision(s) differ; closest peer distance to the threshold: %.2e\n",
	       pairs, maxpair, same, pairs - same, LIVENESS_EMBED_THRESHOLD, flips, margin);
	printf("parity: %ld pair(s) within %.0e of the threshold, %ld of them decided differently "
	       "(float noise, not counted)\n",
	       in_band, NOISE_BAND, band_flips);
	printf("max_abs_diff=%.3g\n", maxd);
	if (maxd > TOL || flips) {
		printf("parity: FAIL (tolerance %.0e, decisions must match)\n", TOL);
		return 1;
	}
	printf("parity: ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	if (argc >= 3 && strcmp(argv[1], "decode") == 0)
		return cmd_decode(argv[2], argc - 3, argv + 3);
	if (argc == 4 && strcmp(argv[1], "crops") == 0)
		return cmd_crops(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "compare") == 0)
		return cmd_compare(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: parity decode|crops|compare ... (see tests/liveness/parity.c)\n");
	return 2;
}
