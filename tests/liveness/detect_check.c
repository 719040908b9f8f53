/* detect_check — the C side of tests/liveness/detect.sh (built there with cc against
 * libshiren-liveness.a): BlazeFace on real images.
 *
 *   detect_check pos <model.shnn> <faces.tsv> <name=image>...   faces expected
 *   detect_check neg <model.shnn> <name=image>...               no face expected
 *
 * pos: at least one face per image; every detection must match a face of faces.tsv (boxes from
 * the face-api peer's SSD + landmarks, a different box convention): its centre inside that box
 * and IoU >= 0.25. Images with one face in faces.tsv must give exactly one detection, with the
 * subject's right eye left of the left eye. Recall on the group photos is reported, not
 * required: their faces are 10-15 px at the model's 128 px input, outside its design range.
 * neg: no detection at all. Exit 1 on any failure. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_nn.h"

#define MAXF 64

struct ref {
	float x, y, w, h;
};

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

static int load_refs(const char *tsv, const char *name, struct ref *refs, int max)
{
	char line[512], nm[96];
	int n = 0, idx;
	struct ref r;
	FILE *f = fopen(tsv, "r");

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f))
		if (line[0] != '#' &&
		    sscanf(line, "%95s %d %f %f %f %f", nm, &idx, &r.x, &r.y, &r.w, &r.h) == 6 &&
		    strcmp(nm, name) == 0)
			refs[n++] = r;
	fclose(f);
	return n;
}

static float iou(const struct liveness_face *a, const struct ref *b)
{
	float ix = fminf(a->x + a->w, b->x + b->w) - fmaxf(a->x, b->x);
	float iy = fminf(a->y + a->h, b->y + b->h) - fmaxf(a->y, b->y);
	if (ix <= 0 || iy <= 0)
		return 0;
	return ix * iy / (a->w * a->h + b->w * b->h - ix * iy);
}

static bool matches(const struct liveness_face *a, const struct ref *b)
{
	float cx = a->x + a->w / 2, cy = a->y + a->h / 2;
	return cx > b->x && cx < b->x + b->w && cy > b->y && cy < b->y + b->h && iou(a, b) >= 0.25f;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Checks one image; returns the number of failures. */
static int check(const struct liveness_detector *d, struct liveness_detect_ws *ws, bool pos,
		 const char *tsv, const char *name, const char *path)
{
	struct liveness_face faces[MAXF];
	struct ref refs[MAXF];
	struct liveness_rgb img;
	uint8_t *buf;
	size_t len = 0;
	int nref = 0, n, fail = 0, matched = 0;
	double t0, t1;

	if (read_file(path, &buf, &len) < 0 || liveness_image_decode(buf, len, NULL, &img) < 0) {
		printf("detect: %s: cannot read or decode %s\n", name, path);
		free(buf);
		return 1;
	}
	free(buf);
	if (pos && (nref = load_refs(tsv, name, refs, MAXF)) <= 0) {
		printf("detect: %s: no reference faces in %s\n", name, tsv);
		liveness_rgb_done(&img);
		return 1;
	}
	t0 = now_ms();
	n = liveness_detect_run(d, ws, &img, NULL, faces, MAXF);
	t1 = now_ms();
	for (int i = 0; i < n; i++) {
		float best = 0;
		bool ok = false;
		for (int j = 0; j < nref; j++) {
			best = fmaxf(best, iou(&faces[i], &refs[j]));
			ok = ok || matches(&faces[i], &refs[j]);
		}
		matched += ok;
		printf("detect: %-9s face %d score %.3f box %.0f,%.0f %.0fx%.0f best IoU %.2f\n",
		       name, i, faces[i].score, faces[i].x, faces[i].y, faces[i].w, faces[i].h,
		       best);
		if (pos && nref == 1 &&
		    !(faces[i].kp[LIVENESS_KP_RIGHT_EYE][0] <
		      faces[i].kp[LIVENESS_KP_LEFT_EYE][0])) {
			printf("detect: %s: eye keypoints in the wrong order\n", name);
			fail++;
		}
	}
	printf("detect: %-9s %ux%u: %d face(s), %d matching the %d reference face(s), %.1f ms\n",
	       name, img.w, img.h, n, matched, nref, t1 - t0);
	if (pos && (n < 1 || matched != n || (nref == 1 && n != 1))) {
		printf("detect: %s: FAIL (want >= 1 face, all matching a reference%s)\n", name,
		       nref == 1 ? ", exactly one" : "");
		fail++;
	}
	if (!pos && n != 0) {
		printf("detect: %s: FAIL (a face in a negative image)\n", name);
		fail++;
	}
	liveness_rgb_done(&img);
	return fail;
}

int main(int argc, char **argv)
{
	struct liveness_model *m;
	struct liveness_detector *d;
	struct liveness_detect_ws *ws;
	bool pos;
	int first, fail = 0, rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	if (argc < 4 || (strcmp(argv[1], "pos") != 0 && strcmp(argv[1], "neg") != 0)) {
		fprintf(stderr, "usage: detect_check pos <model> <faces.tsv> <name=image>...\n"
				"       detect_check neg <model> <name=image>...\n");
		return 2;
	}
	pos = strcmp(argv[1], "pos") == 0;
	first = pos ? 4 : 3;
	if ((rc = liveness_model_open(argv[2], &m)) < 0 ||
	    (rc = liveness_detector_new(m, &d)) < 0 || (rc = liveness_detect_ws_new(d, &ws)) < 0) {
		fprintf(stderr, "detect: %s: %s\n", argv[2], strerror(-rc));
		return 2;
	}
	for (int i = first; i < argc; i++) {
		char name[96];
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq - argv[i] >= (long)sizeof(name))
			return 2;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[i]), argv[i]);
		fail += check(d, ws, pos, pos ? argv[3] : NULL, name, eq + 1);
	}
	liveness_detect_ws_free(ws);
	liveness_detector_free(d);
	liveness_model_free(m);
	printf("detect: %s images: %s\n", pos ? "face" : "negative", fail ? "FAIL" : "ok");
	return fail ? 1 : 0;
}
