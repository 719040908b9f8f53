/* bench_liveness_embed — time decode + chip + 128-D descriptor per image, single-threaded.
 *
 *   bench_liveness_embed <model.shnn> <faces.tsv> <reps> <name=image>...
 *   bench_liveness_embed --blas-core
 *
 * Files are read into memory first; each timed run decodes the bytes (liveness_image), cuts
 * face 0 of that image from faces.tsv (liveness_chip_box) and runs the network. One warm-up
 * run per image is not counted. Prints per-image p50/p99 and key=value totals that
 * tests/bench/liveness_embed.sh compares with the Node peer. Wall time is CLOCK_MONOTONIC;
 * cpu_* is this thread's CPU time, which stays meaningful on a loaded machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_nn.h"

#define MAX_SAMPLES 100000

struct box {
	char name[96];
	float x, y, w, h;
};

static double now_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i;
	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	i = i == 0 ? 0 : i - 1;
	return v[i < n ? i : n - 1];
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	long n;
	uint8_t *b = NULL;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*ret_len = (size_t)n;
	}
	fclose(f);
	*ret = b;
	return b ? 0 : -EIO;
}

/* face 0 of name, from the tab-separated faces.tsv the parity test uses */
static int find_box(const char *tsv, const char *name, struct box *ret)
{
	char line[512];
	FILE *f = fopen(tsv, "r");
	int idx, found = 0;

	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%95s %d %f %f %f %f", ret->name, &idx, &ret->x, &ret->y, &ret->w,
			   &ret->h) == 6 &&
		    idx == 0 && strcmp(ret->name, name) == 0)
			found = 1;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

struct bench {
	struct liveness_embedder *emb;
	struct liveness_embed_ws *ws;
	double *total, *cpu, *decode, *embed;
	size_t n;
};

static int bench_image(struct bench *b, const char *name, const char *path, const char *tsv,
		       int reps)
{
	static uint8_t chip[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3];
	double per[1024];
	float desc[LIVENESS_EMBED_DIM];
	struct box box;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, np = 0;

	if ((rc = read_file(path, &buf, &len)) < 0 || (rc = find_box(tsv, name, &box)) < 0) {
		fprintf(stderr, "bench: %s: %s\n", name, strerror(-rc));
		free(buf);
		return rc;
	}
	for (int r = 0; r <= reps && b->n < MAX_SAMPLES && np < 1024; r++) {
		struct liveness_rgb img;
		double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		rc = liveness_image_decode(buf, len, NULL, &img);
		if (rc < 0) {
			fprintf(stderr, "bench: %s: %s\n", path, liveness_image_strerror(rc));
			free(buf);
			return rc;
		}
		double t1 = now_ms(CLOCK_MONOTONIC);
		liveness_chip_box(&img, box.x, box.y, box.w, box.h, LIVENESS_EMBED_SIZE, chip);
		liveness_embed_run(b->emb, b->ws, chip, desc);
		liveness_rgb_done(&img);
		double t2 = now_ms(CLOCK_MONOTONIC), c2 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		if (r == 0)
			continue; /* warm-up: page faults on the mapped weights, caches */
		per[np++] = t2 - t0;
		b->total[b->n] = t2 - t0;
		b->cpu[b->n] = c2 - c0;
		b->decode[b->n] = t1 - t0;
		b->embed[b->n] = t2 - t1;
		b->n++;
	}
	printf("c image=%s p50_ms=%.2f p99_ms=%.2f\n", name, pct(per, (size_t)np, 50),
	       pct(per, (size_t)np, 99));
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct liveness_model *m;
	struct bench b = {0};
	int reps, rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	if (argc < 5 || (reps = (int)strtol(argv[3], NULL, 10)) < 1 || reps > 1000) {
		fprintf(stderr,
			"usage: bench_liveness_embed <model.shnn> <faces.tsv> <reps 1..1000> "
			"<name=image>...\n");
		return 2;
	}
	lnn_blas_set_threads(1);
	if ((rc = liveness_model_open(argv[1], &m)) < 0 ||
	    (rc = liveness_embedder_new(m, &b.emb)) < 0 ||
	    (rc = liveness_embed_ws_new(b.emb, &b.ws)) < 0) {
		fprintf(stderr, "bench: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	b.total = calloc(MAX_SAMPLES, sizeof(double));
	b.cpu = calloc(MAX_SAMPLES, sizeof(double));
	b.decode = calloc(MAX_SAMPLES, sizeof(double));
	b.embed = calloc(MAX_SAMPLES, sizeof(double));
	if (!b.total || !b.cpu || !b.decode || !b.embed)
		return 1;
	for (int i = 4; i < argc; i++) {
		char name[96];
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq - argv[i] >= (long)sizeof(name))
			return fprintf(stderr, "bench: want name=path: %s\n", argv[i]), 2;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (bench_image(&b, name, eq + 1, argv[2], reps) < 0)
			return 1;
	}
	printf("c blas_core=%s samples=%zu\n", lnn_blas_core(), b.n);
	printf("c_total_p50_ms=%.2f c_total_p99_ms=%.2f\n", pct(b.total, b.n, 50),
	       pct(b.total, b.n, 99));
	printf("c_cpu_p50_ms=%.2f c_cpu_p99_ms=%.2f\n", pct(b.cpu, b.n, 50), pct(b.cpu, b.n, 99));
	printf("c_decode_p50_ms=%.2f c_decode_p99_ms=%.2f\n", pct(b.decode, b.n, 50),
	       pct(b.decode, b.n, 99));
	printf("c_embed_p50_ms=%.2f c_embed_p99_ms=%.2f\n", pct(b.embed, b.n, 50),
	       pct(b.embed, b.n, 99));
	liveness_embed_ws_free(b.ws);
	liveness_embedder_free(b.emb);
	liveness_model_free(m);
	free(b.total);
	free(b.cpu);
	free(b.decode);
	free(b.embed);
	return 0;
}
