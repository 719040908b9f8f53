/* liveness_model — maps a .shnn weight file read-only and validates every header field, table
 * entry and value before handing out tensor pointers. The format is in docs/liveness.md. */
#include "liveness/liveness_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL_MAX_FILE ((size_t)1 << 30) /* 1 GiB: far above any face model */

struct model_entry {
	const char *name;
	uint32_t ndim;
	uint32_t dims[4];
	size_t count;
	const float *data;
};

struct liveness_model {
	uint8_t *base;
	size_t len;
	bool mapped; /* munmap vs free */
	char name[32];
	size_t count;
	struct model_entry *entries; /* table order */
	uint32_t *by_name;	     /* indices sorted by name, for lookup */
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A NUL-terminated printable ASCII string inside a fixed field; empty allowed if may_empty. */
static bool field_str_ok(const uint8_t *p, size_t n, bool may_empty)
{
	size_t i = 0;
	while (i < n && p[i] != 0) {
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
		i++;
	}
	if (i == n || (i == 0 && !may_empty))
		return false;
	return all_zero(p + i, n - i);
}

static int parse_entry(struct liveness_model *m, const uint8_t *e, uint64_t *pos)
{
	struct model_entry *out = &m->entries[m->count];
	uint32_t dtype = rd32(e + 64);
	uint32_t ndim = rd32(e + 68);
	uint64_t off = rd64(e + 88);
	uint64_t nbytes = rd64(e + 96);
	size_t count = 1;

	if (!field_str_ok(e, LIVENESS_MODEL_NAME_MAX, false) || !all_zero(e + 104, 24))
		return -EBADMSG;
	if (dtype != LIVENESS_MODEL_DT_F32 || ndim < 1 || ndim > 4)
		return -EBADMSG;
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t d = rd32(e + 72 + 4 * i);
		if (i >= ndim) {
			if (d != 0)
				return -EBADMSG;
			out->dims[i] = 0;
			continue;
		}
		if (d < 1 || d > LIVENESS_MODEL_MAX_DIM || count > m->len / 4 / d)
			return -EBADMSG;
		count *= d;
		out->dims[i] = d;
	}
	if (nbytes != (uint64_t)count * 4 || off % LIVENESS_MODEL_ALIGN != 0 || off < *pos ||
	    off > m->len || nbytes > m->len - off)
		return -EBADMSG;
	out->name = (const char *)e;
	out->ndim = ndim;
	out->count = count;
	out->data = (const float *)(m->base + off);
	for (size_t i = 0; i < count; i++)
		if (!isfinite(out->data[i]))
			return -EBADMSG;
	*pos = off + nbytes;
	return 0;
}

static int index_names(struct liveness_model *m)
{
	m->by_name = calloc(m->count, sizeof(*m->by_name));
	if (!m->by_name)
		return -ENOMEM;
	for (size_t i = 0; i < m->count; i++)
		m->by_name[i] = (uint32_t)i;
	return 0;
}

/* Insertion sort of the name index: no shared comparator context (qsort would need one), and
 * counts are small (<= 4096, ~120 in practice). */
static void sort_names(struct liveness_model *m)
{
	for (size_t i = 1; i < m->count; i++) {
		uint32_t v = m->by_name[i];
		size_t j = i;
		while (j > 0 &&
		       strcmp(m->entries[m->by_name[j - 1]].name, m->entries[v].name) > 0) {
			m->by_name[j] = m->by_name[j - 1];
			j--;
		}
		m->by_name[j] = v;
	}
}

static int validate(struct liveness_model *m)
{
	const uint8_t *h = m->base;
	uint64_t pos;
	uint32_t n;
	int rc;

	if (m->len < LIVENESS_MODEL_HDR_SIZE || memcmp(h, LIVENESS_MODEL_MAGIC, 8) != 0)
		return -EBADMSG;
	if (rd32(h + 8) != LIVENESS_MODEL_VERSION)
		return -EPROTONOSUPPORT;
	n = rd32(h + 12);
	if (n < 1 || n > LIVENESS_MODEL_MAX_TENSORS)
		return -EBADMSG;
	pos = LIVENESS_MODEL_HDR_SIZE + (uint64_t)n * LIVENESS_MODEL_ENTRY_SIZE;
	pos = (pos + LIVENESS_MODEL_ALIGN - 1) / LIVENESS_MODEL_ALIGN * LIVENESS_MODEL_ALIGN;
	if (rd64(h + 16) != pos || pos > m->len || rd64(h + 24) != m->len ||
	    m->len % LIVENESS_MODEL_ALIGN != 0)
		return -EBADMSG;
	if (!field_str_ok(h + 32, 32, true) || !all_zero(h + 96, 32))
		return -EBADMSG;
	memcpy(m->name, h + 32, sizeof(m->name));
	m->entries = calloc(n, sizeof(*m->entries));
	if (!m->entries)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		rc = parse_entry(
			m, h + LIVENESS_MODEL_HDR_SIZE + (size_t)i * LIVENESS_MODEL_ENTRY_SIZE,
			&pos);
		if (rc < 0)
			return rc;
		m->count++;
	}
	rc = index_names(m);
	if (rc < 0)
		return rc;
	sort_names(m);
	for (size_t i = 1; i < m->count; i++)
		if (strcmp(m->entries[m->by_name[i - 1]].name, m->entries[m->by_name[i]].name) == 0)
			return -EBADMSG;
	return 0;
}

int liveness_model_open(const char *path, struct liveness_model **ret_model)
{
	struct liveness_model *m = NULL;
	struct stat st;
	void *p;
	int fd, rc;

	*ret_model = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < LIVENESS_MODEL_HDR_SIZE ||
	    (uint64_t)st.st_size > MODEL_MAX_FILE) {
		rc = -EBADMSG;
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto fail;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	m->base = p;
	m->len = (size_t)st.st_size;
	m->mapped = true;
	rc = validate(m);
	if (rc < 0)
		goto fail;
	close(fd);
	*ret_model = m;
	return 0;
fail:
	liveness_model_free(m);
	close(fd);
	return rc;
}

int liveness_model_load_mem(const void *buf, size_t len, struct liveness_model **ret_model)
{
	struct liveness_model *m;
	int rc;

	*ret_model = NULL;
	if (len < LIVENESS_MODEL_HDR_SIZE || len > MODEL_MAX_FILE)
		return -EBADMSG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = aligned_alloc(LIVENESS_MODEL_ALIGN, (len + LIVENESS_MODEL_ALIGN - 1) /
							      LIVENESS_MODEL_ALIGN *
							      LIVENESS_MODEL_ALIGN);
	if (!m->base) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->base, buf, len);
	m->len = len;
	rc = validate(m);
	if (rc < 0) {
		liveness_model_free(m);
		return rc;
	}
	*ret_model = m;
	return 0;
}

void liveness_model_free(struct liveness_model *m)
{
	if (!m)
		return;
	if (m->mapped)
		munmap(m->base, m->len);
	else
		free(m->base);
	free(m->entries);
	free(m->by_name);
	free(m);
}

const char *liveness_model_name(const struct liveness_model *m)
{
	return m->name;
}

size_t liveness_model_count(const struct liveness_model *m)
{
	return m->count;
}

static void fill(const struct model_entry *e, struct liveness_tensor *ret)
{
	ret->name = e->name;
	ret->ndim = e->ndim;
	memcpy(ret->dims, e->dims, sizeof(ret->dims));
	ret->count = e->count;
	ret->data = e->data;
}

int liveness_model_at(const struct liveness_model *m, size_t i, struct liveness_tensor *ret)
{
	if (i >= m->count)
		return -ENOENT;
	fill(&m->entries[i], ret);
	return 0;
}

int liveness_model_find(const struct liveness_model *m, const char *name,
			struct liveness_tensor *ret)
{
	size_t lo = 0, hi = m->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct model_entry *e = &m->entries[m->by_name[mid]];
		int c = strcmp(e->name, name);
		if (c == 0) {
			fill(e, ret);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int liveness_model_expect(const struct liveness_model *m, const char *name, uint32_t ndim,
			  const uint32_t *want, const float **ret_data)
{
	struct liveness_tensor t;
	int rc = liveness_model_find(m, name, &t);
	if (rc < 0)
		return rc;
	if (t.ndim != ndim)
		return -EBADMSG;
	for (uint32_t i = 0; i < ndim; i++)
		if (t.dims[i] != want[i])
			return -EBADMSG;
	*ret_data = t.data;
	return 0;
}
