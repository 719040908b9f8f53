/* lsvc_load — reads a job's input photos from PostgreSQL and opens them: photos.data_enc is
 * AES-256-GCM under the master key with AAD "photos:<id>" (deploy/sql/004_intake.sql, sealed by
 * intake). Only photos of verifications of the job's own tenant are read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "liveness/lsvc.h"
#include "liveness/lsvc_job.h"

static const char SQL_PHOTOS[] =
	"SELECT p.id, p.data_enc FROM photos p JOIN verifications v ON v.id = p.verification_id "
	"WHERE p.id = ANY($1::bigint[]) AND v.tenant_id = $2::uuid";

/* Opens one sealed photo into img. Errors other than -ENOMEM become img->load_err. */
static int open_photo(const struct lsvc *s, struct lsvc_image *img, const char *hex, size_t n)
{
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	char aad[48];
	int rc = pg_bytea_decode(hex, n, &sealed, &sealed_len);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || sealed_len < CRYPTO_SEAL_OVERHEAD) {
		free(sealed);
		img->load_err = -EBADMSG;
		return 0;
	}
	size_t cap = sealed_len - CRYPTO_SEAL_OVERHEAD;
	img->bytes = malloc(cap ? cap : 1);
	if (!img->bytes) {
		free(sealed);
		return -ENOMEM;
	}
	snprintf(aad, sizeof(aad), "photos:%lld", (long long)img->photo_id);
	long got = crypto_open(s->master, aad, strlen(aad), sealed, sealed_len, img->bytes, cap);
	free(sealed);
	if (got < 0) {
		free(img->bytes);
		img->bytes = NULL;
		img->load_err = got == -ENOMEM ? -ENOMEM : -EBADMSG;
		return img->load_err == -ENOMEM ? -ENOMEM : 0;
	}
	img->len = (size_t)got;
	return 0;
}

int lsvc_load_images(PGconn *c, const struct lsvc *s, struct lsvc_job *j, char *err, size_t errlen)
{
	if (j->nimages == 0)
		return 0;
	size_t cap = j->nimages * 21 + 3, off = 0;
	char *arr = malloc(cap);
	if (!arr)
		return -ENOMEM;
	arr[off++] = '{';
	for (size_t i = 0; i < j->nimages; i++) {
		off += (size_t)snprintf(arr + off, cap - off, "%s%lld", i ? "," : "",
					(long long)j->images[i].photo_id);
		j->images[i].load_err = -ENOENT;
	}
	snprintf(arr + off, cap - off, "}");
	const char *p[2] = {arr, j->tenant_id};
	PGresult *res = NULL;
	int rc = pg_exec(c, SQL_PHOTOS, 2, p, &res, err, errlen);
	free(arr);
	if (rc < 0)
		return rc;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		long long id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		for (size_t i = 0; i < j->nimages && rc == 0; i++) {
			struct lsvc_image *img = &j->images[i];
			if (img->photo_id != id || img->bytes)
				continue;
			img->load_err = 0;
			if (PQgetisnull(res, r, 1)) {
				img->load_err = -ESTALE;
				continue;
			}
			size_t n = (size_t)PQgetlength(res, r, 1);
			/* hex text: two characters a byte */
			if ((n - 2) / 2 > (size_t)s->cfg->max_image_bytes + CRYPTO_SEAL_OVERHEAD) {
				img->load_err = -EFBIG;
				continue;
			}
			rc = open_photo(s, img, PQgetvalue(res, r, 1), n);
		}
	}
	PQclear(res);
	if (rc < 0)
		snprintf(err, errlen, "opening photos: %s", strerror(-rc));
	return rc;
}
