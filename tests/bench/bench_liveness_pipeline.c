/* bench_liveness_pipeline — the whole per-photo engine on 640x480 selfies, single-threaded:
 * decode + detect + mesh (two passes) + pose/openness + aligned chip + quality + descriptor.
 *
 *   bench_liveness_pipeline selfies <model dir> <outdir> <name=image>...  640x480 JPEG selfies
 *   bench_liveness_pipeline run <model dir> <reps> <name=file>... time the pipeline
 *   bench_liveness_pipeline --blas-core
 *
 * selfies: for every image, the largest face is framed as a front camera frames it (face
 * width ~40% of the frame, eyes at ~40% height), cropped to 4:3, scaled to 640x480 and written
 * as <outdir>/<name>.jpg (quality 90). run: files are read into memory first; one warm-up
 * pass; per-image p50/p99, then key=value totals that tests/bench/liveness_embed.sh compares
 * with the Node peer, and the resident memory (VmRSS, VmHWM) before the engine, with the
 * engine loaded, with one worker, and at the end. Wall time is CLOCK_MONOTONIC; cpu_* is this
 * thread's CPU time. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h> /* after stdio.h: it needs size_t and FILE */

#include "liveness/liveness_chip.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_nn.h"

#define MAX_SAMPLES 20000

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

	*ret = NULL;
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

/* VmRSS and VmHWM of this process, kB. */
static void mem_kb(long *rss, long *hwm)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *hwm = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

static int write_jpeg(const char *path, const uint8_t *px, int w, int h)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	FILE *f = fopen(path, "wb");

	if (!f)
		return -errno;
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * 3);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int make_selfie(const struct liveness_engine *e, struct liveness_worker *w, const char *dir,
		       const char *item)
{
	static struct liveness_analysis a;
	static uint8_t out[640 * 480 * 3];
	const char *eq = strchr(item, '=');
	struct liveness_rgb img = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[4096];
	int rc;

	if (!eq)
		return -EINVAL;
	if ((rc = read_file(eq + 1, &buf, &len)) < 0 ||
	    (rc = liveness_image_decode(buf, len, NULL, &img)) < 0 ||
	    (rc = liveness_analyze(e, w, &img, NULL, 0, &a)) < 0)
		goto out;
	if (!a.has_face) {
		rc = -ENOENT;
		goto out;
	}
	/* the face (~2.2 inter-ocular distances wide) fills 40% of the frame width */
	float fw = 2.2f * a.info.iod / 0.40f;
	float s = fw / 640.0f;
	float cx = (a.info.eye_right[0] + a.info.eye_left[0]) / 2;
	float cy = (a.info.eye_right[1] + a.info.eye_left[1]) / 2 + 0.10f * 480 * s;
	const float m[6] = {s, 0, cx - 320 * s + 0.5f * s - 0.5f,
			    0, s, cy - 240 * s + 0.5f * s - 0.5f};
	liveness_chip_warp_aa(&img, m, out, 640, 480, (int)ceilf(s - 0.25f));
	snprintf(path, sizeof(path), "%s/%.*s.jpg", dir, (int)(eq - item), item);
	rc = write_jpeg(path, out, 640, 480);
out:
	free(buf);
	liveness_rgb_done(&img);
	return rc;
}

struct bench {
	const struct liveness_engine *e;
	struct liveness_worker *w;
	double *total, *cpu, *decode, *analyze;
	size_t n;
	int faces, failed;
};

static int bench_file(struct bench *b, const char *item, int reps)
{
	static struct liveness_analysis a;
	double per[1024];
	const char *eq = strchr(item, '=');
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, np = 0;

	if (!eq || (rc = read_file(eq + 1, &buf, &len)) < 0)
		return -ENOENT;
	for (int r = 0; r <= reps && b->n < MAX_SAMPLES && np < 1024; r++) {
		struct liveness_rgb img;
		double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		if ((rc = liveness_image_decode(buf, len, NULL, &img)) < 0)
			break;
		double t1 = now_ms(CLOCK_MONOTONIC);
		rc = liveness_analyze(b->e, b->w, &img, NULL, LIVENESS_WANT_DESCRIPTOR, &a);
		liveness_rgb_done(&img);
		double t2 = now_ms(CLOCK_MONOTONIC), c2 = now_ms(CLOCK_THREAD_CPUTIME_ID);
		if (rc < 0)
			break;
		if (r == 0) { /* warm-up: page faults on the mapped weights, caches */
			b->faces += a.has_descriptor;
			b->failed += !a.has_descriptor;
			continue;
		}
		per[np++] = t2 - t0;
		b->total[b->n] = t2 - t0;
		b->cpu[b->n] = c2 - c0;
		b->decode[b->n] = t1 - t0;
		b->analyze[b->n] = t2 - t1;
		b->n++;
	}
	free(buf);
	if (rc < 0)
		return rc;
	printf("c image=%.*s p50_ms=%.2f p99_ms=%.2f\n", (int)(eq - item), item,
	       pct(per, (size_t)np, 50), pct(per, (size_t)np, 99));
	return 0;
}

static int cmd_run(const char *dir, int reps, int n, char **items)
{
	struct liveness_engine *e;
	struct bench b = {0};
	long rss0, hwm0, rss1, hwm1, rss2, hwm2, rss3, hwm3;
	int rc = 0;

	mem_kb(&rss0, &hwm0);
	if ((rc = liveness_engine_open(dir, &e)) < 0)
		return fprintf(stderr, "bench: %s: %s\n", dir, strerror(-rc)), 1;
	mem_kb(&rss1, &hwm1);
	if ((rc = liveness_worker_new(e, &b.w)) < 0)
		return fprintf(stderr, "bench: worker: %s\n", strerror(-rc)), 1;
	mem_kb(&rss2, &hwm2);
	b.e = e;
	b.total = calloc(MAX_SAMPLES, sizeof(double));
	b.cpu = calloc(MAX_SAMPLES, sizeof(double));
	b.decode = calloc(MAX_SAMPLES, sizeof(double));
	b.analyze = calloc(MAX_SAMPLES, sizeof(double));
	if (!b.total || !b.cpu || !b.decode || !b.analyze)
		return 1;
	for (int i = 0; i < n && rc == 0; i++)
		if ((rc = bench_file(&b, items[i], reps)) < 0)
			fprintf(stderr, "bench: %s: %s\n", items[i], strerror(-rc));
	mem_kb(&rss3, &hwm3);
	printf("c blas_core=%s samples=%zu faces=%d no_face=%d\n", lnn_blas_core(), b.n, b.faces,
	       b.failed);
	printf("c_pipe_p50_ms=%.2f c_pipe_p99_ms=%.2f\n", pct(b.total, b.n, 50),
	       pct(b.total, b.n, 99));
	printf("c_pipe_cpu_p50_ms=%.2f c_pipe_cpu_p99_ms=%.2f\n", pct(b.cpu, b.n, 50),
	       pct(b.cpu, b.n, 99));
	printf("c_pipe_decode_p50_ms=%.2f c_pipe_analyze_p50_ms=%.2f\n", pct(b.decode, b.n, 50),
	       pct(b.analyze, b.n, 50));
	printf("c_rss_kb base=%ld engine=%ld worker=%ld end=%ld peak=%ld\n", rss0, rss1, rss2, rss3,
	       hwm3);
	liveness_worker_free(b.w);
	liveness_engine_free(e);
	free(b.total);
	free(b.cpu);
	free(b.decode);
	free(b.analyze);
	return rc < 0;
}

int main(int argc, char **argv)
{
	struct liveness_engine *e;
	struct liveness_worker *w;
	char *end;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	lnn_blas_set_threads(1);
	if (argc >= 5 && strcmp(argv[1], "run") == 0) {
		long reps = strtol(argv[3], &end, 10);
		if (*end || reps < 1 || reps > 1000)
			return fprintf(stderr, "bench: reps 1..1000\n"), 2;
		return cmd_run(argv[2], (int)reps, argc - 4, argv + 4);
	}
	if (argc >= 5 && strcmp(argv[1], "selfies") == 0) {
		if ((rc = liveness_engine_open(argv[2], &e)) < 0 ||
		    (rc = liveness_worker_new(e, &w)) < 0)
			return fprintf(stderr, "bench: %s: %s\n", argv[2], strerror(-rc)), 1;
		for (int i = 4; i < argc; i++)
			if ((rc = make_selfie(e, w, argv[3], argv[i])) < 0)
				fprintf(stderr, "bench: selfie %s: %s (skipped)\n", argv[i],
					strerror(-rc));
		liveness_worker_free(w);
		liveness_engine_free(e);
		return 0;
	}
	fprintf(stderr,
		"usage: bench_liveness_pipeline selfies <model dir> <outdir> <name=image>...\n"
		"       bench_liveness_pipeline run <model dir> <reps> <name=file>...\n");
	return 2;
}
