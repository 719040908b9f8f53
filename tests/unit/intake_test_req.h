/* intake_test_req — shared by the intake signature tests: a request that owns copies of everything
 * intake_sign borrows, loaded from the capture text format, and access to the shared evidence
 * folder ($SHIREN_SHARED_DIR, default ../shared relative to the repo root). Include after
 * unit.h. */
#ifndef SHIREN_TESTS_INTAKE_TEST_REQ_H
#define SHIREN_TESTS_INTAKE_TEST_REQ_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intake/intake_params.h"
#include "intake/intake_sign.h"

#define SECRET "testAccessKeySecret"

static inline const char *shared_dir(void)
{
	const char *d = getenv("SHIREN_SHARED_DIR");
	return d && *d ? d : "../shared";
}

static inline char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, len = 0, n;
	char *buf = f ? malloc(cap + 1) : NULL;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, 2 * cap + 1) : NULL;
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (f)
		fclose(f);
	if (buf)
		buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* ---- a test request: owns copies of everything the verifier borrows ---- */

#define TREQ_MAX_HDRS 64

struct treq {
	char *method, *path, *query, *body;
	size_t query_len, body_len;
	char *hname[TREQ_MAX_HDRS], *hvalue[TREQ_MAX_HDRS];
	struct intake_sign_header hdrs[TREQ_MAX_HDRS];
	size_t nh;
	struct intake_params params;
	struct intake_sign_request req;
	struct intake_sign_parsed parsed;
	struct intake_sign_result res;
};

static inline char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static inline void treq_free(struct treq *t)
{
	free(t->method);
	free(t->path);
	free(t->query);
	free(t->body);
	for (size_t i = 0; i < t->nh; i++) {
		free(t->hname[i]);
		free(t->hvalue[i]);
	}
	intake_params_done(&t->params);
	intake_sign_result_done(&t->res);
	memset(t, 0, sizeof(*t));
}

static inline void treq_header(struct treq *t, const char *name, const char *value)
{
	if (t->nh == TREQ_MAX_HDRS)
		return;
	t->hname[t->nh] = strdup(name);
	t->hvalue[t->nh] = strdup(value);
	t->nh++;
}

static inline void treq_set_header(struct treq *t, const char *name, const char *value)
{
	for (size_t i = 0; i < t->nh; i++)
		if (!strcasecmp(t->hname[i], name)) {
			free(t->hvalue[i]);
			t->hvalue[i] = strdup(value);
			return;
		}
	treq_header(t, name, value);
}

static inline const char *treq_get_header(const struct treq *t, const char *name)
{
	for (size_t i = 0; i < t->nh; i++)
		if (!strcasecmp(t->hname[i], name))
			return t->hvalue[i];
	return NULL;
}

/* "METHOD /path?query HTTP/1.1" */
static inline bool treq_line(struct treq *t, const char *line, size_t n)
{
	const char *sp = memchr(line, ' ', n);
	if (!sp)
		return false;
	const char *target = sp + 1, *end = memchr(target, ' ', n - (size_t)(target - line));
	if (!end)
		end = line + n;
	const char *q = memchr(target, '?', (size_t)(end - target));
	t->method = dupn(line, (size_t)(sp - line));
	t->path = dupn(target, (size_t)((q ? q : end) - target));
	if (q) {
		t->query_len = (size_t)(end - q - 1);
		t->query = dupn(q + 1, t->query_len);
	}
	return true;
}

/* (Re)builds params and the request view after any edit. */
static inline int treq_ready(struct treq *t, struct intake_params_error *e)
{
	intake_params_done(&t->params);
	for (size_t i = 0; i < t->nh; i++)
		t->hdrs[i] = (struct intake_sign_header){t->hname[i], t->hvalue[i]};
	bool form = intake_params_is_form(treq_get_header(t, "content-type"));
	int rc = intake_params_parse(&t->params, t->query, t->query_len, form ? t->body : NULL,
				     form ? t->body_len : 0, NULL, e);
	t->req = (struct intake_sign_request){
		.method = t->method,
		.path = t->path,
		.headers = t->hdrs,
		.n_headers = t->nh,
		.params = &t->params,
		.body = t->body,
		.body_len = t->body_len,
	};
	return rc;
}

/* Capture format: request line, headers, blank line, body, blank line, "### meta". */
static inline bool treq_from_capture(struct treq *t, const char *text)
{
	const char *eol = strchr(text, '\n'), *hend = strstr(text, "\n\n");
	const char *meta = strstr(text, "\n\n### meta");
	if (!eol || !hend || !meta || hend > meta || !treq_line(t, text, (size_t)(eol - text)))
		return false;
	for (const char *l = eol + 1; l < hend + 1;) {
		const char *le = strchr(l, '\n'), *colon = memchr(l, ':', (size_t)(le - l));
		if (!colon)
			return false;
		char *name = dupn(l, (size_t)(colon - l));
		char *value = dupn(colon + 1, (size_t)(le - colon - 1));
		treq_header(t, name, value + strspn(value, " "));
		free(name);
		free(value);
		l = le + 1;
	}
	const char *body = hend + 2;
	t->body_len = meta > body ? (size_t)(meta - body) : 0;
	t->body = dupn(body, t->body_len);
	return treq_ready(t, NULL) == 0;
}

/* parse, then check at `now` (0: the request's own timestamp). Returns the first failing rc. */
static inline int treq_verify(struct treq *t, const char *secret, time_t now)
{
	intake_sign_result_done(&t->res);
	int rc = intake_sign_parse(&t->req, &t->parsed, &t->res);
	if (rc < 0 && rc != -EPERM)
		return rc;
	int rc2 = intake_sign_check(&t->parsed, secret, strlen(secret),
				    now ? now : t->parsed.timestamp, &t->res);
	return rc2 ? rc2 : rc;
}

/* ---- captures ---- */

typedef void (*capture_fn)(struct treq *t, const char *name);

static inline int for_each_capture(capture_fn fn)
{
	char dir[1024], path[2048];
	snprintf(dir, sizeof(dir), "%s/cloudauth/captures", shared_dir());
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "  cannot open %s (set SHIREN_SHARED_DIR)\n", dir);
		return -1;
	}
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name), len;
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".txt"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *text = slurp(path, &len);
		struct treq t = {0};
		bool ok = text && treq_from_capture(&t, text);
		if (!ok)
			fprintf(stderr, "  %s: unreadable capture\n", de->d_name);
		CHECK(ok);
		if (ok) {
			fn(&t, de->d_name);
			n++;
		}
		treq_free(&t);
		free(text);
	}
	closedir(d);
	return n;
}

static inline bool load_capture(const char *file, struct treq *t)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/cloudauth/captures/%s", shared_dir(), file);
	char *text = slurp(path, &len);
	bool ok = text && treq_from_capture(t, text);
	free(text);
	return ok;
}

#endif
