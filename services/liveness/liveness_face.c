/* liveness_face — head pose by weighted absolute orientation (Horn 1987, unit quaternions)
 * between the canonical face and the mesh, openness ratios, and chip alignment. */
#include "liveness/liveness_face.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "liveness/liveness_chip.h"

#define MAX_BASIS LIVENESS_MESH_POINTS
#define RAD2DEG	  57.29577951308232

/* Eye and lip points: the mesh points nearest to face-api's 68-point landmarks over the test
 * faces (tests/liveness/mesh_map.py), the subject's right side, mirrored through the canonical
 * face for the left side; the eye corners are the canonical vertices at the horizontal ends of
 * the eye opening (docs/liveness.md, "Face mesh"). Order per eye: outer corner, upper lid at
 * 1/3 and 2/3 from the outer corner, inner corner, lower lid at 2/3 and 1/3 (68-point order). */
const int liveness_mesh_eye_right[6] = {33, 160, 158, 133, 153, 144};
const int liveness_mesh_eye_left[6] = {263, 387, 385, 362, 380, 373};
/* outer mouth corners R, L; inner upper lip R, mid, L; inner lower lip R, mid, L */
const int liveness_mesh_lips[8] = {76, 306, 38, 12, 268, 87, 14, 317};

struct liveness_geometry {
	int n;
	int ids[MAX_BASIS];
	double w[MAX_BASIS];
	double ref[MAX_BASIS][3]; /* canonical vertices of the basis, centred */
	double ref_norm;	  /* sum w |ref|^2 */
};

int liveness_geometry_new(const struct liveness_model *model, struct liveness_geometry **ret_geom)
{
	const uint32_t vs[2] = {LIVENESS_MESH_POINTS, 3};
	const float *verts, *ids, *w;
	struct liveness_tensor t;
	struct liveness_geometry *g;
	double c[3] = {0, 0, 0}, wsum = 0;
	int rc;

	*ret_geom = NULL;
	if ((rc = liveness_model_expect(model, "canonical/vertices", 2, vs, &verts)) < 0 ||
	    (rc = liveness_model_find(model, "procrustes/landmarks", &t)) < 0)
		return rc;
	if (t.ndim != 1 || t.count < 3 || t.count > MAX_BASIS)
		return -EBADMSG;
	const uint32_t ns[1] = {(uint32_t)t.count};
	ids = t.data;
	if ((rc = liveness_model_expect(model, "procrustes/weights", 1, ns, &w)) < 0)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->n = (int)t.count;
	for (int i = 0; i < g->n; i++) {
		if (!(ids[i] >= 0.0f && ids[i] < LIVENESS_MESH_POINTS) ||
		    ids[i] != floorf(ids[i]) || !(w[i] > 0.0f)) {
			free(g);
			return -EBADMSG;
		}
		g->ids[i] = (int)ids[i];
		g->w[i] = w[i];
		wsum += w[i];
		for (int k = 0; k < 3; k++) {
			g->ref[i][k] = verts[3 * g->ids[i] + k];
			c[k] += w[i] * g->ref[i][k];
		}
	}
	for (int i = 0; i < g->n; i++)
		for (int k = 0; k < 3; k++) {
			g->ref[i][k] -= c[k] / wsum;
			g->ref_norm += g->w[i] * g->ref[i][k] * g->ref[i][k];
		}
	*ret_geom = g;
	return 0;
}

void liveness_geometry_free(struct liveness_geometry *g)
{
	free(g);
}

/* Eigenvector of the largest eigenvalue of a symmetric 4x4 matrix (cyclic Jacobi). */
static void jacobi4_top(double a[4][4], double ret_v[4])
{
	double v[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};

	for (int sweep = 0; sweep < 50; sweep++) {
		double off = 0;
		for (int p = 0; p < 4; p++)
			for (int q = p + 1; q < 4; q++)
				off += a[p][q] * a[p][q];
		if (off < 1e-22)
			break;
		for (int p = 0; p < 4; p++) {
			for (int q = p + 1; q < 4; q++) {
				if (fabs(a[p][q]) < 1e-300)
					continue;
				double th = (a[q][q] - a[p][p]) / (2 * a[p][q]);
				double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
				double c = 1 / sqrt(t * t + 1), s = t * c;
				for (int k = 0; k < 4; k++) {
					double akp = a[k][p], akq = a[k][q];
					a[k][p] = c * akp - s * akq;
					a[k][q] = s * akp + c * akq;
				}
				for (int k = 0; k < 4; k++) {
					double apk = a[p][k], aqk = a[q][k];
					a[p][k] = c * apk - s * aqk;
					a[q][k] = s * apk + c * aqk;
				}
				for (int k = 0; k < 4; k++) {
					double vkp = v[k][p], vkq = v[k][q];
					v[k][p] = c * vkp - s * vkq;
					v[k][q] = s * vkp + c * vkq;
				}
			}
		}
	}
	int best = 0;
	for (int i = 1; i < 4; i++)
		if (a[i][i] > a[best][best])
			best = i;
	for (int k = 0; k < 4; k++)
		ret_v[k] = v[k][best];
}

/* Rotation R (row-major) taking the centred canonical basis onto the centred observations. */
static void horn_rotation(const struct liveness_geometry *g, double (*obs)[3], double r[3][3])
{
	double s[3][3] = {{0}};
	double n[4][4], q[4];

	for (int i = 0; i < g->n; i++)
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				s[a][b] += g->w[i] * g->ref[i][a] * obs[i][b];
	n[0][0] = s[0][0] + s[1][1] + s[2][2];
	n[1][1] = s[0][0] - s[1][1] - s[2][2];
	n[2][2] = -s[0][0] + s[1][1] - s[2][2];
	n[3][3] = -s[0][0] - s[1][1] + s[2][2];
	n[0][1] = n[1][0] = s[1][2] - s[2][1];
	n[0][2] = n[2][0] = s[2][0] - s[0][2];
	n[0][3] = n[3][0] = s[0][1] - s[1][0];
	n[1][2] = n[2][1] = s[0][1] + s[1][0];
	n[1][3] = n[3][1] = s[2][0] + s[0][2];
	n[2][3] = n[3][2] = s[1][2] + s[2][1];
	jacobi4_top(n, q);
	double w = q[0], x = q[1], y = q[2], z = q[3];
	r[0][0] = w * w + x * x - y * y - z * z;
	r[0][1] = 2 * (x * y - w * z);
	r[0][2] = 2 * (x * z + w * y);
	r[1][0] = 2 * (x * y + w * z);
	r[1][1] = w * w - x * x + y * y - z * z;
	r[1][2] = 2 * (y * z - w * x);
	r[2][0] = 2 * (x * z - w * y);
	r[2][1] = 2 * (y * z + w * x);
	r[2][2] = w * w - x * x - y * y + z * z;
}

/* Mesh points -> a right-handed frame like the canonical face's (x right, y up, z toward the
 * camera), centred with the basis weights; fills pose and fit residual. */
static void measure_pose(const struct liveness_geometry *g, const struct liveness_mesh *m,
			 struct liveness_face_info *f)
{
	double obs[MAX_BASIS][3], c[3] = {0, 0, 0}, wsum = 0, r[3][3], dot = 0, res = 0, on = 0;

	for (int i = 0; i < g->n; i++) {
		const float *p = m->pt[g->ids[i]];
		obs[i][0] = p[0];
		obs[i][1] = -p[1];
		obs[i][2] = -p[2];
		for (int k = 0; k < 3; k++)
			c[k] += g->w[i] * obs[i][k];
		wsum += g->w[i];
	}
	for (int i = 0; i < g->n; i++)
		for (int k = 0; k < 3; k++)
			obs[i][k] -= c[k] / wsum;
	horn_rotation(g, obs, r);
	for (int i = 0; i < g->n; i++)
		for (int a = 0; a < 3; a++) {
			double ra = r[a][0] * g->ref[i][0] + r[a][1] * g->ref[i][1] +
				    r[a][2] * g->ref[i][2];
			dot += g->w[i] * ra * obs[i][a];
			on += g->w[i] * obs[i][a] * obs[i][a];
		}
	double scale = g->ref_norm > 0 ? dot / g->ref_norm : 0;
	for (int i = 0; i < g->n; i++)
		for (int a = 0; a < 3; a++) {
			double ra = r[a][0] * g->ref[i][0] + r[a][1] * g->ref[i][1] +
				    r[a][2] * g->ref[i][2];
			double d = scale * ra - obs[i][a];
			res += g->w[i] * d * d;
		}
	/* forward axis R.(0,0,1) and the head's x axis R.(1,0,0), in the camera frame */
	double fx = r[0][2], fy = r[1][2], fz = r[2][2], rx = r[0][0], ry = r[1][0];
	f->yaw = (float)(atan2(fx, fz) * RAD2DEG);
	f->pitch = (float)(atan2(fy, sqrt(fx * fx + fz * fz)) * RAD2DEG);
	f->roll = (float)(atan2(-ry, rx) * RAD2DEG);
	f->fit_rms = on > 0 ? (float)sqrt(res / on) : 0.0f;
}

static double dist3(const float *a, const float *b)
{
	double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
	return sqrt(dx * dx + dy * dy + dz * dz);
}

/* EAR of one eye; centre receives the mean of its six points (x, y, z). */
static float eye_ratio(const struct liveness_mesh *m, const int *e, float *centre)
{
	double w = dist3(m->pt[e[0]], m->pt[e[3]]);
	double h = dist3(m->pt[e[1]], m->pt[e[5]]) + dist3(m->pt[e[2]], m->pt[e[4]]);

	centre[0] = centre[1] = centre[2] = 0.0f;
	for (int i = 0; i < 6; i++)
		for (int k = 0; k < 3; k++)
			centre[k] += m->pt[e[i]][k] / 6.0f;
	return w > 1e-6 ? (float)(h / (2.0 * w)) : 0.0f;
}

void liveness_face_measure(const struct liveness_geometry *g, const struct liveness_mesh *mesh,
			   struct liveness_face_info *ret)
{
	const int *l = liveness_mesh_lips;
	float cr[3], cl[3];

	memset(ret, 0, sizeof(*ret));
	ret->ear_right = eye_ratio(mesh, liveness_mesh_eye_right, cr);
	ret->ear_left = eye_ratio(mesh, liveness_mesh_eye_left, cl);
	memcpy(ret->eye_right, cr, sizeof(ret->eye_right));
	memcpy(ret->eye_left, cl, sizeof(ret->eye_left));
	ret->ear = (ret->ear_right + ret->ear_left) / 2.0f;
	double mw = dist3(mesh->pt[l[0]], mesh->pt[l[1]]);
	double mo = dist3(mesh->pt[l[2]], mesh->pt[l[5]]) + dist3(mesh->pt[l[3]], mesh->pt[l[6]]) +
		    dist3(mesh->pt[l[4]], mesh->pt[l[7]]);
	ret->mar = mw > 1e-6 ? (float)(mo / (3.0 * mw)) : 0.0f;
	ret->mouth[0] =
		(mesh->pt[l[0]][0] + mesh->pt[l[1]][0] + mesh->pt[l[3]][0] + mesh->pt[l[6]][0]) /
		4.0f;
	ret->mouth[1] =
		(mesh->pt[l[0]][1] + mesh->pt[l[1]][1] + mesh->pt[l[3]][1] + mesh->pt[l[6]][1]) /
		4.0f;
	ret->nose[0] = mesh->pt[LIVENESS_MESH_NOSE_TIP][0];
	ret->nose[1] = mesh->pt[LIVENESS_MESH_NOSE_TIP][1];
	ret->iod = (float)dist3(cr, cl);
	measure_pose(g, mesh, ret);
}

/* Template positions in a 150x150 chip (right eye centre, left eye centre, mouth centre),
 * continuous coordinates, from the face-api box crops of the 19 parity faces our detector and
 * mesh find: mean eye midpoint (75.2, 43.0) -> (75, 43), mean inter-ocular distance 59.1 px,
 * mouth centre 1.057 inter-ocular distances below the eye midpoint (docs/liveness.md,
 * "Aligned chip"). */
#define TEMPLATE_SIZE 150.0
static const double align_template[3][2] = {
	{45.4, 43.0},
	{104.6, 43.0},
	{75.0, 105.5},
};

int liveness_face_align_matrix(const struct liveness_face_info *f, int size, float ret_m[6])
{
	const float *src[3] = {f->eye_right, f->eye_left, f->mouth};
	double ms[2] = {0, 0}, mt[2] = {0, 0}, sxx = 0, a = 0, b = 0;
	const double k = (double)size / TEMPLATE_SIZE;

	/* least-squares similarity template -> image: p = [a -b; b a] t + c */
	for (int i = 0; i < 3; i++)
		for (int d = 0; d < 2; d++) {
			ms[d] += src[i][d] / 3.0;
			mt[d] += k * align_template[i][d] / 3.0;
		}
	for (int i = 0; i < 3; i++) {
		double tx = k * align_template[i][0] - mt[0], ty = k * align_template[i][1] - mt[1];
		double px = src[i][0] - ms[0], py = src[i][1] - ms[1];
		sxx += tx * tx + ty * ty;
		a += tx * px + ty * py;
		b += tx * py - ty * px;
	}
	if (!(sxx > 0) || !isfinite(a) || !isfinite(b) || !(a * a + b * b > 1e-12))
		return -EINVAL;
	a /= sxx;
	b /= sxx;
	/* chip pixel centre (x + 0.5) -> image continuous -> image pixel-centre coordinates */
	double cx = ms[0] - (a * mt[0] - b * mt[1]), cy = ms[1] - (b * mt[0] + a * mt[1]);
	ret_m[0] = (float)a;
	ret_m[1] = (float)-b;
	ret_m[2] = (float)(cx + 0.5 * a - 0.5 * b - 0.5);
	ret_m[3] = (float)b;
	ret_m[4] = (float)a;
	ret_m[5] = (float)(cy + 0.5 * b + 0.5 * a - 0.5);
	return 0;
}

int liveness_face_chip(const struct liveness_rgb *img, const struct liveness_face_info *f, int size,
		       uint8_t *out)
{
	float m[6];
	int rc = liveness_face_align_matrix(f, size, m);

	if (rc < 0)
		return rc;
	float scale = hypotf(m[0], m[3]);
	liveness_chip_warp_aa(img, m, out, size, size, (int)ceilf(scale - 0.25f));
	return 0;
}
