/* ctl_out — prints query results for people (aligned table, "key: value" record) or for
 * programs (JSON Lines: one object per row, keys are the column names). */
#include "ctl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

/* Terminal columns of a code point: East Asian wide ranges count two. */
static int cp_width(unsigned long cp)
{
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
		return 2;
	return 1;
}

/* Display width of UTF-8 text; stray continuation bytes count as nothing. */
static size_t disp_width(const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned long cp = *p++;
		int more = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
		if (cp >= 0x80 && cp < 0xC0)
			continue;
		cp &= more == 3 ? 0x07 : more == 2 ? 0x0F : more == 1 ? 0x1F : 0x7F;
		for (; more > 0 && (*p & 0xC0) == 0x80; more--)
			cp = (cp << 6) | (*p++ & 0x3F);
		w += (size_t)cp_width(cp);
	}
	return w;
}

static const char *cell(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "-" : PQgetvalue(r, row, col);
}

static void pad(FILE *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fputc(' ', f);
}

static void put_upper(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, f);
}

static int out_table(FILE *f, const PGresult *r)
{
	int nf = PQnfields(r), nr = PQntuples(r);
	size_t *w = calloc((size_t)(nf ? nf : 1), sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (int j = 0; j < nf; j++) {
		w[j] = strlen(PQfname(r, j));
		for (int i = 0; i < nr; i++) {
			size_t cw = disp_width(cell(r, i, j));
			if (cw > w[j])
				w[j] = cw;
		}
	}
	for (int j = 0; j < nf; j++) {
		put_upper(f, PQfname(r, j));
		if (j + 1 < nf)
			pad(f, w[j] - strlen(PQfname(r, j)) + 2);
	}
	fputc('\n', f);
	for (int i = 0; i < nr; i++) {
		for (int j = 0; j < nf; j++) {
			fputs(cell(r, i, j), f);
			if (j + 1 < nf)
				pad(f, w[j] - disp_width(cell(r, i, j)) + 2);
		}
		fputc('\n', f);
	}
	free(w);
	return 0;
}

static void json_value(struct json_writer *jw, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col)) {
		json_null(jw);
		return;
	}
	const char *v = PQgetvalue(r, row, col);
	switch (PQftype(r, col)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		json_raw(jw, v, strlen(v));
		break;
	case OID_BOOL:
		json_bool(jw, v[0] == 't');
		break;
	default:
		json_str(jw, v);
	}
}

/* One row as a JSON object and a newline. The buffer is sized for the worst-case escaping. */
static int out_json_row(FILE *f, const PGresult *r, int row)
{
	int nf = PQnfields(r);
	size_t cap = 64;
	for (int j = 0; j < nf; j++)
		cap += 6 * strlen(PQfname(r, j)) + 6 * (size_t)PQgetlength(r, row, j) + 16;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	struct json_writer jw;
	json_writer_init(&jw, buf, cap);
	json_obj_begin(&jw);
	for (int j = 0; j < nf; j++) {
		json_key(&jw, PQfname(r, j));
		json_value(&jw, r, row, j);
	}
	json_obj_end(&jw);
	int rc = json_writer_truncated(&jw) ? -ENOMEM : 0;
	if (rc == 0) {
		fwrite(buf, 1, json_writer_len(&jw), f);
		fputc('\n', f);
	}
	free(buf);
	return rc;
}

int ctl_out_rows(FILE *f, const PGresult *r, bool json)
{
	int rc = 0;
	if (!json)
		rc = out_table(f, r);
	for (int i = 0; json && rc == 0 && i < PQntuples(r); i++)
		rc = out_json_row(f, r, i);
	if (rc == 0 && (fflush(f) != 0 || ferror(f)))
		rc = -EIO;
	return rc;
}

int ctl_out_record(FILE *f, const PGresult *r, bool json)
{
	int rc = 0;
	if (PQntuples(r) < 1)
		return -EINVAL;
	if (json) {
		rc = out_json_row(f, r, 0);
	} else {
		size_t kw = 0;
		for (int j = 0; j < PQnfields(r); j++)
			if (strlen(PQfname(r, j)) > kw)
				kw = strlen(PQfname(r, j));
		for (int j = 0; j < PQnfields(r); j++) {
			fprintf(f, "%s:", PQfname(r, j));
			pad(f, kw - strlen(PQfname(r, j)) + 1);
			fprintf(f, "%s\n", cell(r, 0, j));
		}
	}
	if (rc == 0 && (fflush(f) != 0 || ferror(f)))
		rc = -EIO;
	return rc;
}
