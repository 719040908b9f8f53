/* intake_sync_form — multipart/form-data reader (intake_sync_form.h). */
#include "intake/intake_sync_form.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static bool bchar(char c)
{
	/* RFC 2046 bcharsnospace (space allowed inside, not at the end) */
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr("'()+_,-./:=? ", c) != NULL;
}

int intake_form_boundary(const char *ct, char out[INTAKE_FORM_BOUNDARY_MAX + 1])
{
	static const char type[] = "multipart/form-data";
	out[0] = '\0';
	if (!ct || strncasecmp(ct, type, sizeof(type) - 1) != 0)
		return -EINVAL;
	const char *p = ct + sizeof(type) - 1;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ';')
			return -EINVAL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *eq = strchr(p, '=');
		if (!eq)
			return -EINVAL;
		bool is_boundary = (size_t)(eq - p) == 8 && strncasecmp(p, "boundary", 8) == 0;
		p = eq + 1;
		const char *v = p;
		size_t n;
		if (*p == '"') {
			v = ++p;
			const char *q = strchr(p, '"');
			if (!q)
				return -EINVAL;
			n = (size_t)(q - v);
			p = q + 1;
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t')
				p++;
			n = (size_t)(p - v);
		}
		if (!is_boundary)
			continue;
		if (n == 0 || n > INTAKE_FORM_BOUNDARY_MAX || v[n - 1] == ' ')
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (!bchar(v[i]))
				return -EINVAL;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -EINVAL;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	if (m == 0 || n < m)
		return NULL;
	const uint8_t *end = hay + n - m;
	for (const uint8_t *p = hay; p <= end; p++) {
		p = memchr(p, ((const uint8_t *)needle)[0], (size_t)(end - p) + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, m) == 0)
			return p;
	}
	return NULL;
}

/* The value of `key` ("name" / "filename") in a Content-Disposition value: quoted string
 * (no escapes; a '"' or control byte inside is refused). 1 found, 0 absent, -EINVAL. */
static int disposition_param(const char *v, size_t n, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl + 2 <= n; i++) {
		if ((i > 0 && v[i - 1] != ';' && v[i - 1] != ' ' && v[i - 1] != '\t') ||
		    strncasecmp(v + i, key, kl) != 0 || v[i + kl] != '=')
			continue;
		size_t j = i + kl + 1;
		if (j >= n || v[j] != '"')
			return -EINVAL;
		size_t k = ++j;
		while (k < n && v[k] != '"') {
			if ((unsigned char)v[k] < 0x20)
				return -EINVAL;
			k++;
		}
		if (k >= n || k - j > cap - 1)
			return -EINVAL;
		memcpy(out, v + j, k - j);
		out[k - j] = '\0';
		return 1;
	}
	return 0;
}

/* Parses one part's header block (without its final CRLF CRLF). */
static int part_headers(const char *h, size_t n, struct intake_form_part *p, const char **why)
{
	bool disposition = false;
	while (n > 0) {
		const char *eol = memchr(h, '\r', n);
		size_t ln = eol ? (size_t)(eol - h) : n;
		if (eol && (ln + 1 >= n || eol[1] != '\n')) {
			*why = "a part header line does not end in CRLF";
			return -EINVAL;
		}
		const char *colon = memchr(h, ':', ln);
		if (!colon) {
			*why = "a part header line has no colon";
			return -EINVAL;
		}
		size_t nl = (size_t)(colon - h);
		const char *v = colon + 1;
		size_t vl = ln - nl - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		if (nl == 19 && strncasecmp(h, "Content-Disposition", 19) == 0) {
			char dummy[256];
			if (vl < 9 || strncasecmp(v, "form-data", 9) != 0 ||
			    disposition_param(v, vl, "name", p->name, sizeof(p->name)) != 1) {
				*why = "a part's Content-Disposition is not form-data with a name";
				return -EINVAL;
			}
			int f = disposition_param(v, vl, "filename", dummy, sizeof(dummy));
			if (f < 0) {
				*why = "a part's filename is malformed or longer than 255 bytes";
				return -EINVAL;
			}
			p->has_filename = f == 1;
			disposition = true;
		}
		if (!eol)
			break;
		h += ln + 2;
		n -= ln + 2;
	}
	if (!disposition) {
		*why = "a part has no Content-Disposition";
		return -EINVAL;
	}
	return 0;
}

int intake_form_parse(const uint8_t *body, size_t len, const char *boundary,
		      struct intake_form_part *parts, int max, const char **ret_why)
{
	char delim[INTAKE_FORM_BOUNDARY_MAX + 5];
	const char *why = NULL;
	size_t bl = strlen(boundary);
	int n = 0, rc = -EINVAL;
	if (bl == 0 || bl > INTAKE_FORM_BOUNDARY_MAX) {
		why = "bad boundary";
		goto out;
	}
	/* "\r\n--boundary"; the first delimiter may start the body without its CRLF. */
	delim[0] = '\r';
	delim[1] = '\n';
	delim[2] = delim[3] = '-';
	memcpy(delim + 4, boundary, bl);
	size_t dl = bl + 4;
	const uint8_t *p = body, *end = body + len;
	if (len >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0) {
		p = body + dl - 2;
	} else {
		const uint8_t *d = find(body, len, delim, dl);
		if (!d) {
			why = "the body does not start with the boundary";
			goto out;
		}
		p = d + dl;
	}
	for (;;) {
		/* after a delimiter: "--" closes, CRLF opens a part */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			rc = n;
			goto out;
		}
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
			why = "a boundary is not followed by CRLF or --";
			goto out;
		}
		p += 2;
		size_t avail = (size_t)(end - p);
		const uint8_t *hend =
			find(p, avail < INTAKE_FORM_HEADERS_MAX ? avail : INTAKE_FORM_HEADERS_MAX,
			     "\r\n\r\n", 4);
		if (!hend && avail >= 2 && p[0] == '\r' && p[1] == '\n')
			hend = p - 2; /* no headers at all */
		if (!hend) {
			why = "a part's headers are too long or not terminated";
			goto out;
		}
		if (n >= max) {
			rc = -E2BIG;
			why = "too many parts";
			goto out;
		}
		struct intake_form_part *pt = &parts[n];
		memset(pt, 0, sizeof(*pt));
		if (part_headers((const char *)p, hend > p ? (size_t)(hend - p) : 0, pt, &why) < 0)
			goto out;
		const uint8_t *data = hend + 4;
		const uint8_t *d = find(data, (size_t)(end - data), delim, dl);
		if (!d) {
			why = "the body has no closing boundary";
			goto out;
		}
		pt->data = data;
		pt->len = (size_t)(d - data);
		n++;
		p = d + dl;
	}
out:
	if (ret_why)
		*ret_why = why ? why : "malformed multipart body";
	return rc;
}
