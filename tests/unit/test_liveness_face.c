/* Unit tests for liveness_face: head pose recovered from a synthetic canonical face under known
 * rotations, the geometry model checks, openness ratios and the alignment transform on
 * hand-placed points; then, when the converted models and the Debian face images are present,
 * the real pipeline on grace_hopper: a frontal pose, open eyes, mirroring negates yaw and roll,
 * an in-plane rotation shows up as roll, and the aligned chip keeps the descriptor stable under
 * that rotation where the box crop does not. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"
#include "liveness/liveness_face.h"
#include "test_liveness_real.h"
#include "unit.h"

#define NB 33

static float verts[LIVENESS_MESH_POINTS * 3], ids[NB], weights[NB];

static int geometry(struct liveness_model **m, struct liveness_geometry **g)
{
	struct lt_spec s[3] = {{"canonical/vertices", 2, {LIVENESS_MESH_POINTS, 3}, verts},
			       {"procrustes/landmarks", 1, {NB}, ids},
			       {"procrustes/weights", 1, {NB}, weights}};
	int rc = lt_model_build(s, 3, 0, 0, 0, m);
	if (rc < 0)
		return rc;
	rc = liveness_geometry_new(*m, g);
	liveness_model_free(*m); /* the geometry copies what it needs */
	*m = NULL;
	return rc;
}

static void make_geometry(void)
{
	uint32_t r = 12345;
	for (int i = 0; i < LIVENESS_MESH_POINTS * 3; i++) {
		r = r * 1664525u + 1013904223u;
		verts[i] = ((float)(r >> 8) / (float)(1u << 24) - 0.5f) * 16;
	}
	for (int i = 0; i < NB; i++) {
		ids[i] = (float)(i * 13);
		weights[i] = 0.01f + 0.003f * (float)i;
	}
}

static void rot(double r[3][3], double yaw, double pitch, double roll)
{
	/* R = Ry(yaw) Rx(-pitch) Rz(-roll), the order liveness_face's angles read back */
	double y = yaw * M_PI / 180, p = -pitch * M_PI / 180, z = -roll * M_PI / 180;
	double ry[3][3] = {{cos(y), 0, sin(y)}, {0, 1, 0}, {-sin(y), 0, cos(y)}};
	double rx[3][3] = {{1, 0, 0}, {0, cos(p), -sin(p)}, {0, sin(p), cos(p)}};
	double rz[3][3] = {{cos(z), -sin(z), 0}, {sin(z), cos(z), 0}, {0, 0, 1}};
	double t[3][3] = {{0}};
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			for (int k = 0; k < 3; k++)
				t[a][b] += rx[a][k] * rz[k][b];
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			r[a][b] = 0;
			for (int k = 0; k < 3; k++)
				r[a][b] += ry[a][k] * t[k][b];
		}
}

/* The canonical face rotated, scaled by 12 px/cm, placed at (320, 240), in image axes. */
static void pose_mesh(struct liveness_mesh *m, double yaw, double pitch, double roll)
{
	double r[3][3];
	rot(r, yaw, pitch, roll);
	for (int i = 0; i < LIVENESS_MESH_POINTS; i++) {
		double p[3];
		for (int a = 0; a < 3; a++)
			p[a] = 12 * (r[a][0] * verts[3 * i] + r[a][1] * verts[3 * i + 1] +
				     r[a][2] * verts[3 * i + 2]);
		m->pt[i][0] = (float)(320 + p[0]);
		m->pt[i][1] = (float)(240 - p[1]);
		m->pt[i][2] = (float)-p[2];
	}
}

static void test_pose(void)
{
	static const double cases[][3] = {{0, 0, 0},	{25, 0, 0}, {-30, 0, 0}, {0, 15, 0},
					  {0, -20, 0},	{0, 0, 12}, {0, 0, -40}, {20, -10, 0},
					  {-15, 12, 0}, {0, 0, 170}};
	struct liveness_model *m;
	struct liveness_geometry *g;
	struct liveness_mesh mesh;
	struct liveness_face_info fi;

	make_geometry();
	REQUIRE(geometry(&m, &g) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pose_mesh(&mesh, cases[i][0], cases[i][1], cases[i][2]);
		liveness_face_measure(g, &mesh, &fi);
		CHECK(fabs(fi.yaw - cases[i][0]) < 0.01);
		CHECK(fabs(fi.pitch - cases[i][1]) < 0.01);
		CHECK(fabs(fi.roll - cases[i][2]) < 0.01);
		CHECK(fi.fit_rms < 1e-4f);
	}
	/* noise on the points: the fit residual grows, the angles stay close */
	pose_mesh(&mesh, 10, 5, 3);
	for (int i = 0; i < LIVENESS_MESH_POINTS; i++)
		mesh.pt[i][0] += (float)((i * 7) % 5 - 2);
	liveness_face_measure(g, &mesh, &fi);
	CHECK(fabs(fi.yaw - 10) < 3 && fabs(fi.pitch - 5) < 3 && fabs(fi.roll - 3) < 3);
	CHECK(fi.fit_rms > 1e-3f);
	liveness_geometry_free(g);
	liveness_geometry_free(NULL);
}

static void test_geometry_checks(void)
{
	struct liveness_model *m;
	struct liveness_geometry *g;

	make_geometry();
	ids[3] = 2.5f;
	CHECK_INT(geometry(&m, &g), -EBADMSG);
	make_geometry();
	ids[0] = 468;
	CHECK_INT(geometry(&m, &g), -EBADMSG);
	make_geometry();
	weights[5] = 0;
	CHECK_INT(geometry(&m, &g), -EBADMSG);
	make_geometry();
	struct lt_spec s[2] = {{"canonical/vertices", 2, {LIVENESS_MESH_POINTS, 3}, verts},
			       {"procrustes/landmarks", 1, {NB}, ids}};
	REQUIRE(lt_model_build(s, 2, 0, 0, 0, &m) == 0);
	CHECK_INT(liveness_geometry_new(m, &g), -ENOENT);
	liveness_model_free(m);
}

static void put(struct liveness_mesh *m, int i, float x, float y)
{
	m->pt[i][0] = x;
	m->pt[i][1] = y;
	m->pt[i][2] = 0;
}

static void test_openness(void)
{
	struct liveness_model *m;
	struct liveness_geometry *g;
	struct liveness_mesh mesh;
	struct liveness_face_info fi;
	const int *r = liveness_mesh_eye_right, *l = liveness_mesh_eye_left,
		  *lp = liveness_mesh_lips;
	/* outer, upper 1/3, upper 2/3, inner, lower 2/3, lower 1/3 */
	static const float eye[6][2] = {{0, 0}, {10, -5}, {20, -5}, {30, 0}, {20, 5}, {10, 5}};

	make_geometry();
	REQUIRE(geometry(&m, &g) == 0);
	memset(&mesh, 0, sizeof(mesh));
	for (int i = 0; i < 6; i++) {
		put(&mesh, r[i], 100 + eye[i][0], 100 + eye[i][1]);
		put(&mesh, l[i], 200 - eye[i][0], 100 + eye[i][1] * 0.5f);
	}
	put(&mesh, lp[0], 130, 150);
	put(&mesh, lp[1], 170, 150);
	for (int i = 0; i < 3; i++) {
		put(&mesh, lp[2 + i], 140 + 10 * (float)i, 148);
		put(&mesh, lp[5 + i], 140 + 10 * (float)i, 156);
	}
	liveness_face_measure(g, &mesh, &fi);
	CHECK(fabsf(fi.ear_right - 1.0f / 3) < 1e-5f);
	CHECK(fabsf(fi.ear_left - 1.0f / 6) < 1e-5f);
	CHECK(fabsf(fi.ear - 0.25f) < 1e-5f);
	CHECK(fabsf(fi.mar - 0.2f) < 1e-5f);
	CHECK(fabsf(fi.eye_right[0] - 115) < 1e-4f && fabsf(fi.eye_right[1] - 100) < 1e-4f);
	CHECK(fabsf(fi.iod - 70) < 1e-3f);
	liveness_geometry_free(g);
}

static void test_align(void)
{
	struct liveness_face_info fi = {0};
	float m[6];
	/* the template (right eye, left eye, mouth in a 150 chip), doubled, rotated 30 degrees
	 * and moved: the chip matrix must map the template points onto them */
	static const float t[3][2] = {{45.4f, 43.0f}, {104.6f, 43.0f}, {75.0f, 105.5f}};
	float *dst[3] = {fi.eye_right, fi.eye_left, fi.mouth};
	const float a = (float)M_PI / 6, c = 2 * cosf(a), s = 2 * sinf(a);

	for (int i = 0; i < 3; i++) {
		dst[i][0] = 400 + c * t[i][0] - s * t[i][1];
		dst[i][1] = 100 + s * t[i][0] + c * t[i][1];
	}
	REQUIRE(liveness_face_align_matrix(&fi, 150, m) == 0);
	for (int i = 0; i < 3; i++) {
		/* continuous chip point -> pixel-centre coordinates -> image continuous */
		float x = m[0] * (t[i][0] - 0.5f) + m[1] * (t[i][1] - 0.5f) + m[2] + 0.5f;
		float y = m[3] * (t[i][0] - 0.5f) + m[4] * (t[i][1] - 0.5f) + m[5] + 0.5f;
		CHECK(fabsf(x - dst[i][0]) < 1e-3f && fabsf(y - dst[i][1]) < 1e-3f);
	}
	/* another chip size scales the template */
	REQUIRE(liveness_face_align_matrix(&fi, 300, m) == 0);
	CHECK(fabsf(hypotf(m[0], m[3]) - 1.0f) < 1e-5f);
	memset(&fi, 0, sizeof(fi));
	CHECK_INT(liveness_face_align_matrix(&fi, 150, m), -EINVAL);
}

/* img warped about its centre: rotation by deg (clockwise on screen) or a left-right mirror */
static int transformed(const struct liveness_rgb *img, float deg, int mirror,
		       struct liveness_rgb *out)
{
	const float a = deg * (float)M_PI / 180, c = cosf(a), s = sinf(a);
	const float cx = (float)img->w / 2 - 0.5f, cy = (float)img->h / 2 - 0.5f;
	float m[6] = {c * (mirror ? -1 : 1), s, 0, -s * (mirror ? -1 : 1), c, 0};

	m[2] = cx - m[0] * cx - m[1] * cy;
	m[5] = cy - m[3] * cx - m[4] * cy;
	out->w = img->w;
	out->h = img->h;
	out->px = malloc((size_t)img->w * img->h * 3);
	if (!out->px)
		return -ENOMEM;
	liveness_chip_warp(img, m, out->px, (int)out->w, (int)out->h);
	return 0;
}

static void describe(struct lt_engine *e, const struct liveness_rgb *img,
		     const struct liveness_face_info *fi, const struct liveness_face *f,
		     float *aligned, float *box)
{
	static uint8_t chip[LIVENESS_EMBED_SIZE * LIVENESS_EMBED_SIZE * 3];
	if (liveness_face_chip(img, fi, LIVENESS_EMBED_SIZE, chip) == 0)
		liveness_embed_run(e->emb, e->ews, chip, aligned);
	liveness_chip_box(img, f->x, f->y, f->w, f->h, LIVENESS_EMBED_SIZE, chip);
	liveness_embed_run(e->emb, e->ews, chip, box);
}

static void test_real(void)
{
	struct lt_engine e;
	struct liveness_rgb img = {0}, mir = {0}, rot20 = {0};
	struct liveness_mesh mesh;
	struct liveness_face_info a, b, c;
	struct liveness_face f0, f1;
	float da[128], db[128], ra[128], rb[128];

	if (lt_engine_open(&e, "liveness_face.test_real") < 0) {
		CHECK(getenv("SHIREN_REQUIRE_MODELS") == NULL);
		return;
	}
	REQUIRE(lt_image(LT_HOPPER, &img) == 0);
	REQUIRE(transformed(&img, 0, 1, &mir) == 0 && transformed(&img, 20, 0, &rot20) == 0);
	REQUIRE(lt_face(&e, &img, &mesh, &a) == 0);
	CHECK(mesh.score > 0.9f);
	CHECK(fabsf(a.yaw) < 8 && fabsf(a.roll) < 8 && fabsf(a.pitch) < 15);
	CHECK(a.ear > 0.18f && a.ear < 0.45f && a.mar < 0.2f);
	CHECK(a.iod > 60 && a.iod < 120);
	REQUIRE(lt_face(&e, &mir, &mesh, &b) == 0);
	CHECK(fabsf(a.yaw + b.yaw) < 3 && fabsf(a.roll + b.roll) < 3 &&
	      fabsf(a.pitch - b.pitch) < 3);
	CHECK(b.eye_right[0] < b.eye_left[0]); /* still the subject's right eye on the left */
	REQUIRE(lt_face(&e, &rot20, &mesh, &c) == 0);
	CHECK(fabsf(c.roll - a.roll - 20) < 3 && fabsf(c.yaw - a.yaw) < 4);

	/* descriptors: the aligned chip barely moves under the 20 degree rotation */
	REQUIRE(liveness_detect_run(e.det, e.dws, &img, NULL, &f0, 1) == 1);
	REQUIRE(liveness_detect_run(e.det, e.dws, &rot20, NULL, &f1, 1) == 1);
	describe(&e, &img, &a, &f0, da, db);
	describe(&e, &rot20, &c, &f1, ra, rb);
	double d_al = liveness_embed_distance(da, ra), d_box = liveness_embed_distance(db, rb);
	CHECK(d_al < 0.25 && d_al < d_box);
	liveness_rgb_done(&img);
	free(mir.px);
	free(rot20.px);
	lt_engine_done(&e);
}

UNIT_MAIN("liveness_face", UNIT_CASE(test_pose), UNIT_CASE(test_geometry_checks),
	  UNIT_CASE(test_openness), UNIT_CASE(test_align), UNIT_CASE(test_real))
