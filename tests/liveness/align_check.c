/* align_check — does the landmark-aligned descriptor chip keep the same person closer than the
 * detector-box crop? Built and run by tests/liveness/align.sh.
 *
 *   align_check <det.shnn> <mesh.shnn> <geometry.shnn> <embed.shnn> <name=image>...
 *
 * For every face the detector finds in the original images, the image is re-rendered with
 * five perturbations (rotated +15 and -15 degrees about the face, shrunk to 60%, mirrored,
 * shifted by 7% of the face size with 8% zoom); in each version the face is found again and
 * described twice: from the detector box (square of side max(w, h) around it, the face-api style
 * crop) and from the aligned chip (liveness_face_chip). Same-person distance = original vs
 * perturbed, per method; different-person distances = every pair of different original faces.
 * Prints the statistics; exits 1 if the aligned chip's mean same-person distance is above the
 * box crop's, or if its different-person distances drop (median lower by more than 0.05). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_detect.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_nn.h"

#define MAX_FACES 32
#define N_PERT	  5
#define ES	  LIVENESS_EMBED_SIZE

struct eng {
	struct liveness_detector *det;
	struct liveness_detect_ws *dws;
	struct liveness_mesher *mesher;
	struct liveness_mesh_ws *mws;
	struct liveness_geometry *geom;
	struct liveness_embedder *emb;
	struct liveness_embed_ws *ews;
};

struct desc {
	float box[LIVENESS_EMBED_DIM], aligned[LIVENESS_EMBED_DIM];
	float cx, cy;
	int ok;
};

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

/* Describes face f of img both ways. */
static int describe(struct eng *e, const struct liveness_rgb *img, const struct liveness_face *f,
		    struct desc *d)
{
	static uint8_t chip[ES * ES * 3];
	struct liveness_mesh mesh;
	struct liveness_face_info fi;

	liveness_chip_box(img, f->x, f->y, f->w, f->h, ES, chip);
	liveness_embed_run(e->emb, e->ews, chip, d->box);
	if (liveness_mesh_from_face(e->mesher, e->mws, img, f, &mesh) < 0)
		return -EINVAL;
	liveness_face_measure(e->geom, &mesh, &fi);
	if (liveness_face_chip(img, &fi, ES, chip) < 0)
		return -EINVAL;
	liveness_embed_run(e->emb, e->ews, chip, d->aligned);
	d->cx = f->x + f->w / 2;
	d->cy = f->y + f->h / 2;
	d->ok = 1;
	return 0;
}

/* Renders perturbation p of img around the face centre (cx, cy), face size sz, into out
 * (same size as img); map_x, map_y receive where the face centre lands. */
static void perturb(const struct liveness_rgb *img, int p, float cx, float cy, float sz,
		    struct liveness_rgb *out, float *map_x, float *map_y)
{
	float a = 0, s = 1, tx = 0, ty = 0, mirror = 1, m[6];

	switch (p) {
	case 0:
		a = 15.0f;
		break;
	case 1:
		a = -15.0f;
		break;
	case 2:
		s = 0.6f;
		break;
	case 3:
		mirror = -1;
		break;
	default:
		s = 1.08f;
		tx = 0.07f * sz;
		ty = -0.07f * sz;
		break;
	}
	a *= (float)M_PI / 180.0f;
	/* output point q = R S (x - c) + c + t (mirror flips x); sample = inverse */
	float c = cosf(a) / s, sn = sinf(a) / s;
	m[0] = c * mirror;
	m[1] = sn * mirror;
	m[3] = -sn;
	m[4] = c;
	/* source = c + M (q - c - t) in pixel-centre coordinates */
	float qx = cx + tx - 0.5f, qy = cy + ty - 0.5f;
	m[2] = cx - 0.5f - (m[0] * qx + m[1] * qy);
	m[5] = cy - 0.5f - (m[3] * qx + m[4] * qy);
	liveness_chip_warp(img, m, out->px, (int)out->w, (int)out->h);
	*map_x = cx + tx;
	*map_y = cy + ty;
}

static int nearest(const struct liveness_face *f, int n, float x, float y)
{
	int best = -1;
	float bd = INFINITY;
	for (int i = 0; i < n; i++) {
		float d = hypotf(f[i].x + f[i].w / 2 - x, f[i].y + f[i].h / 2 - y);
		if (d < bd && d < 0.5f * f[i].w) {
			bd = d;
			best = i;
		}
	}
	return best;
}

static int cmp_f(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	double *v;
	size_t n;
};

static void report(const char *what, struct stats *s)
{
	double sum = 0;
	qsort(s->v, s->n, sizeof(double), cmp_f);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	printf("align: %-28s n=%-4zu mean %.3f median %.3f max %.3f\n", what, s->n,
	       s->n ? sum / (double)s->n : 0, s->n ? s->v[s->n / 2] : 0, s->n ? s->v[s->n - 1] : 0);
}

static double mean(const struct stats *s)
{
	double sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	return s->n ? sum / (double)s->n : 0;
}

static struct desc all[256];
static int nall;

static int one_image(struct eng *e, const char *path, struct stats *same_box, struct stats *same_al)
{
	struct liveness_face faces[MAX_FACES], pf[MAX_FACES];
	struct liveness_rgb img = {0}, alt = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int n, rc;

	if ((rc = read_file(path, &buf, &len)) < 0 ||
	    (rc = liveness_image_decode(buf, len, NULL, &img)) < 0) {
		free(buf);
		return rc;
	}
	free(buf);
	alt.w = img.w;
	alt.h = img.h;
	alt.px = malloc((size_t)img.w * img.h * 3);
	if (!alt.px)
		return -ENOMEM;
	n = liveness_detect_run(e->det, e->dws, &img, NULL, faces, MAX_FACES);
	for (int i = 0; i < n && nall < 256; i++) {
		struct desc *o = &all[nall];
		if (describe(e, &img, &faces[i], o) < 0)
			continue;
		nall++;
		for (int p = 0; p < N_PERT; p++) {
			struct desc d = {0};
			float mx, my, sz = fmaxf(faces[i].w, faces[i].h);
			perturb(&img, p, o->cx, o->cy, sz, &alt, &mx, &my);
			int np = liveness_detect_run(e->det, e->dws, &alt, NULL, pf, MAX_FACES);
			int k = nearest(pf, np, mx, my);
			if (k < 0 || describe(e, &alt, &pf[k], &d) < 0)
				continue;
			same_box->v[same_box->n++] = liveness_embed_distance(o->box, d.box);
			same_al->v[same_al->n++] = liveness_embed_distance(o->aligned, d.aligned);
		}
	}
	liveness_rgb_done(&img);
	free(alt.px);
	return 0;
}

static int setup(struct eng *e, char **paths, struct liveness_model **models)
{
	int rc;
	for (int i = 0; i < 4; i++)
		if ((rc = liveness_model_open(paths[i], &models[i])) < 0)
			return rc;
	if ((rc = liveness_detector_new(models[0], &e->det)) < 0 ||
	    (rc = liveness_detect_ws_new(e->det, &e->dws)) < 0 ||
	    (rc = liveness_mesher_new(models[1], &e->mesher)) < 0 ||
	    (rc = liveness_mesh_ws_new(e->mesher, &e->mws)) < 0 ||
	    (rc = liveness_geometry_new(models[2], &e->geom)) < 0 ||
	    (rc = liveness_embedder_new(models[3], &e->emb)) < 0 ||
	    (rc = liveness_embed_ws_new(e->emb, &e->ews)) < 0)
		return rc;
	return 0;
}

int main(int argc, char **argv)
{
	static double v[4][4096];
	struct stats same_box = {v[0], 0}, same_al = {v[1], 0}, diff_box = {v[2], 0},
		     diff_al = {v[3], 0};
	struct liveness_model *models[4] = {0};
	struct eng e = {0};
	int rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	if (argc < 6) {
		fprintf(stderr,
			"usage: align_check <det> <mesh> <geometry> <embed> <name=image>...\n");
		return 2;
	}
	lnn_blas_set_threads(1);
	if ((rc = setup(&e, argv + 1, models)) < 0) {
		fprintf(stderr, "align_check: setup: %s\n", strerror(-rc));
		return 1;
	}
	for (int i = 5; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if ((rc = one_image(&e, eq ? eq + 1 : argv[i], &same_box, &same_al)) < 0) {
			fprintf(stderr, "align_check: %s: %s\n", argv[i], strerror(-rc));
			return 1;
		}
	}
	for (int i = 0; i < nall; i++)
		for (int j = i + 1; j < nall; j++) {
			diff_box.v[diff_box.n++] = liveness_embed_distance(all[i].box, all[j].box);
			diff_al.v[diff_al.n++] =
				liveness_embed_distance(all[i].aligned, all[j].aligned);
		}
	double mb = mean(&same_box), ma = mean(&same_al);
	report("same person, box crop", &same_box);
	report("same person, aligned chip", &same_al);
	report("different faces, box crop", &diff_box);
	report("different faces, aligned", &diff_al);
	double med_b = diff_box.n ? diff_box.v[diff_box.n / 2] : 0;
	double med_a = diff_al.n ? diff_al.v[diff_al.n / 2] : 0;
	int fail = ma > mb || med_a < med_b - 0.05 || same_al.n < 10;
	printf("align: faces=%d same-person mean box %.3f aligned %.3f (%s)\n", nall, mb, ma,
	       fail ? "FAIL" : "ok");
	return fail;
}
