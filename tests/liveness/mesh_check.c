/* mesh_check — the C side of tests/liveness/mesh.sh (built there against
 * libshiren-liveness.a):
 *
 *   mesh_check run <det.shnn> <mesh.shnn> <geometry.shnn> <workdir> <name=image>...
 *   mesh_check decode <dir> <name=image>...      decoded pixels as <dir>/<name>.ppm (for the peer)
 *
 * For every image: decode, detect (BlazeFace), mesh every face (detection ROI + one refinement
 * pass). Writes, per face, the 192x192 chip the network saw (chip_<name>_<i>.ppm), our raw
 * network output on that chip (ours_<name>_<i>.f32: 1404 coordinates + the flag logit, float32
 * little-endian) for the interpreter comparison, and one line of mesh.tsv: name, face index,
 * presence score, then x y z of the 468 points in image pixels; and one line of info.tsv with
 * the liveness_face measurements (pose, openness ratios, centres). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_detect.h"
#include "liveness/liveness_face.h"
#include "liveness/liveness_image.h"
#include "liveness/liveness_mesh.h"
#include "liveness/liveness_nn.h"

#define MAX_FACES 16

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

static int write_bytes(const char *path, const char *hdr, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	int ok = (!hdr || fputs(hdr, f) >= 0) && fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

struct ctx {
	struct liveness_detector *det;
	struct liveness_detect_ws *dws;
	struct liveness_mesher *mesher;
	struct liveness_mesh_ws *mws;
	struct liveness_geometry *geom;
	const char *dir;
	FILE *tsv, *info;
};

static int one_face(struct ctx *c, const char *name, int i, const struct liveness_rgb *img,
		    const struct liveness_face *f)
{
	static uint8_t chip[LIVENESS_MESH_INPUT * LIVENESS_MESH_INPUT * 3];
	static float out[LIVENESS_MESH_POINTS * 3 + 1];
	struct liveness_mesh mesh;
	char path[4096], hdr[64];
	int rc;

	rc = liveness_mesh_from_face(c->mesher, c->mws, img, f, &mesh);
	if (rc < 0)
		return rc;
	liveness_mesh_chip(img, &mesh.roi, chip);
	liveness_mesh_forward(c->mesher, c->mws, chip, out, &out[LIVENESS_MESH_POINTS * 3]);
	snprintf(hdr, sizeof(hdr), "P6\n%d %d\n255\n", LIVENESS_MESH_INPUT, LIVENESS_MESH_INPUT);
	snprintf(path, sizeof(path), "%s/chip_%s_%d.ppm", c->dir, name, i);
	if ((rc = write_bytes(path, hdr, chip, sizeof(chip))) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/ours_%s_%d.f32", c->dir, name, i);
	if ((rc = write_bytes(path, NULL, out, sizeof(out))) < 0)
		return rc;
	fprintf(c->tsv, "%s\t%d\t%.4f", name, i, (double)mesh.score);
	for (int k = 0; k < LIVENESS_MESH_POINTS; k++)
		fprintf(c->tsv, "\t%.2f\t%.2f\t%.2f", (double)mesh.pt[k][0], (double)mesh.pt[k][1],
			(double)mesh.pt[k][2]);
	fputc('\n', c->tsv);
	struct liveness_face_info fi;
	liveness_face_measure(c->geom, &mesh, &fi);
	fprintf(c->info,
		"%s\t%d\t%.2f\t%.2f\t%.2f\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t"
		"%.2f\t%.2f\t%.2f\t%.2f\n",
		name, i, (double)fi.yaw, (double)fi.pitch, (double)fi.roll, (double)fi.fit_rms,
		(double)fi.ear_right, (double)fi.ear_left, (double)fi.mar, (double)fi.eye_right[0],
		(double)fi.eye_right[1], (double)fi.eye_left[0], (double)fi.eye_left[1],
		(double)fi.mouth[0], (double)fi.mouth[1], (double)fi.nose[0], (double)fi.nose[1],
		(double)fi.iod);
	return 0;
}

static int one_image(struct ctx *c, const char *item)
{
	struct liveness_face faces[MAX_FACES];
	struct liveness_rgb img;
	char name[96];
	const char *eq = strchr(item, '=');
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, n;

	if (!eq || eq - item >= (long)sizeof(name))
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
	if ((rc = read_file(eq + 1, &buf, &len)) < 0)
		return rc;
	rc = liveness_image_decode(buf, len, NULL, &img);
	free(buf);
	if (rc < 0)
		return rc;
	n = liveness_detect_run(c->det, c->dws, &img, NULL, faces, MAX_FACES);
	for (int i = 0; i < n && rc == 0; i++)
		rc = one_face(c, name, i, &img, &faces[i]);
	fprintf(stderr, "mesh_check: %s: %d face(s)\n", name, n < 0 ? 0 : n);
	liveness_rgb_done(&img);
	return rc < 0 ? rc : n < 0 ? n : 0;
}

static int decode_all(const char *dir, int n, char **items)
{
	char path[4096], hdr[64];
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(items[i], '=');
		struct liveness_rgb img;
		uint8_t *buf = NULL;
		size_t len = 0;
		int rc;

		if (!eq)
			return -EINVAL;
		if ((rc = read_file(eq + 1, &buf, &len)) < 0 ||
		    (rc = liveness_image_decode(buf, len, NULL, &img)) < 0) {
			free(buf);
			return rc;
		}
		free(buf);
		snprintf(path, sizeof(path), "%s/%.*s.ppm", dir, (int)(eq - items[i]), items[i]);
		snprintf(hdr, sizeof(hdr), "P6\n%u %u\n255\n", img.w, img.h);
		rc = write_bytes(path, hdr, img.px, (size_t)img.w * img.h * 3);
		liveness_rgb_done(&img);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct liveness_model *dm = NULL, *mm = NULL, *gm = NULL;
	struct ctx c = {0};
	char path[4096];
	int rc;

	if (argc == 2 && strcmp(argv[1], "--blas-core") == 0)
		return printf("%s\n", lnn_blas_core()) < 0;
	if (argc >= 3 && strcmp(argv[1], "decode") == 0)
		return decode_all(argv[2], argc - 3, argv + 3) < 0;
	if (argc < 7 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: mesh_check run <det.shnn> <mesh.shnn> <geometry.shnn> "
				"<workdir> <name=image>...\n");
		return 2;
	}
	lnn_blas_set_threads(1);
	c.dir = argv[5];
	snprintf(path, sizeof(path), "%s/mesh.tsv", c.dir);
	c.tsv = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/info.tsv", c.dir);
	c.info = fopen(path, "w");
	if ((rc = liveness_model_open(argv[2], &dm)) < 0 ||
	    (rc = liveness_model_open(argv[3], &mm)) < 0 ||
	    (rc = liveness_detector_new(dm, &c.det)) < 0 ||
	    (rc = liveness_detect_ws_new(c.det, &c.dws)) < 0 ||
	    (rc = liveness_mesher_new(mm, &c.mesher)) < 0 ||
	    (rc = liveness_mesh_ws_new(c.mesher, &c.mws)) < 0 ||
	    (rc = liveness_model_open(argv[4], &gm)) < 0 ||
	    (rc = liveness_geometry_new(gm, &c.geom)) < 0 || !c.tsv || !c.info) {
		fprintf(stderr, "mesh_check: setup: %s\n", strerror(rc < 0 ? -rc : errno));
		return 1;
	}
	fprintf(c.info, "# name\tface\tyaw\tpitch\troll\tfit\tear_r\tear_l\tmar\teye_r_x\teye_r_y\t"
			"eye_l_x\teye_l_y\tmouth_x\tmouth_y\tnose_x\tnose_y\tiod\n");
	for (int i = 6; i < argc && rc == 0; i++)
		if ((rc = one_image(&c, argv[i])) < 0)
			fprintf(stderr, "mesh_check: %s: %s\n", argv[i], strerror(-rc));
	fclose(c.tsv);
	fclose(c.info);
	liveness_geometry_free(c.geom);
	liveness_model_free(gm);
	liveness_mesh_ws_free(c.mws);
	liveness_mesher_free(c.mesher);
	liveness_detect_ws_free(c.dws);
	liveness_detector_free(c.det);
	liveness_model_free(mm);
	liveness_model_free(dm);
	return rc < 0 ? 1 : 0;
}
