/* Unit tests for liveness_model: a small .shnn built in memory loads (from memory and through
 * mmap), and each kind of damage to header, table or data is refused with the right code. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "liveness/liveness_model.h"
#include "unit.h"

#define NT 3

static const char *const tnames[NT] = {"conv/filters", "conv/bias", "fc"};
static const uint32_t tdims[NT][4] = {{3, 3, 2, 4}, {4, 0, 0, 0}, {5, 7, 0, 0}};
static const uint32_t tndim[NT] = {4, 1, 2};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t align64(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* Builds the test model; *ret_len is its size. Tensor i holds values i*1000 + k. */
static uint8_t *build(size_t *ret_len)
{
	size_t off = align64(128 + 128 * NT), len = off;
	size_t offs[NT], counts[NT];

	for (int i = 0; i < NT; i++) {
		counts[i] = 1;
		for (uint32_t d = 0; d < tndim[i]; d++)
			counts[i] *= tdims[i][d];
		offs[i] = len;
		len = align64(len + counts[i] * 4);
	}
	uint8_t *b = calloc(1, len);
	if (!b)
		abort();
	memcpy(b, "SHNN\r\n\x1a\n", 8);
	put32(b + 8, 1);
	put32(b + 12, NT);
	put64(b + 16, off);
	put64(b + 24, len);
	memcpy(b + 32, "unit_model", 10);
	for (int i = 0; i < NT; i++) {
		uint8_t *e = b + 128 + 128 * i;
		memcpy(e, tnames[i], strlen(tnames[i]));
		put32(e + 64, 1);
		put32(e + 68, tndim[i]);
		for (int d = 0; d < 4; d++)
			put32(e + 72 + 4 * d, tdims[i][d]);
		put64(e + 88, offs[i]);
		put64(e + 96, counts[i] * 4);
		for (size_t k = 0; k < counts[i]; k++) {
			float v = (float)(i * 1000) + (float)k;
			memcpy(b + offs[i] + 4 * k, &v, 4);
		}
	}
	*ret_len = len;
	return b;
}

static int load(const uint8_t *b, size_t len)
{
	struct liveness_model *m = (struct liveness_model *)1;
	int rc = liveness_model_load_mem(b, len, &m);
	if (rc < 0 && m != NULL)
		return -9999; /* must be NULL on failure */
	liveness_model_free(m);
	return rc;
}

static void test_valid(void)
{
	size_t len;
	uint8_t *b = build(&len);
	struct liveness_model *m;
	struct liveness_tensor t;
	const float *data;
	static const uint32_t want_fc[2] = {5, 7}, wrong_fc[2] = {7, 5};

	REQUIRE(liveness_model_load_mem(b, len, &m) == 0);
	CHECK_STR(liveness_model_name(m), "unit_model");
	CHECK_INT(liveness_model_count(m), NT);
	REQUIRE(liveness_model_find(m, "fc", &t) == 0);
	CHECK(t.ndim == 2 && t.dims[0] == 5 && t.dims[1] == 7 && t.count == 35);
	CHECK(t.data[0] == 2000.0f && t.data[34] == 2034.0f);
	CHECK(((uintptr_t)t.data & 63) == 0);
	CHECK_INT(liveness_model_find(m, "nope", &t), -ENOENT);
	CHECK_INT(liveness_model_find(m, "conv/bia", &t), -ENOENT);
	REQUIRE(liveness_model_find(m, "conv/bias", &t) == 0);
	CHECK(t.count == 4 && t.data[3] == 1003.0f);
	CHECK_INT(liveness_model_expect(m, "fc", 2, want_fc, &data), 0);
	CHECK_INT(liveness_model_expect(m, "fc", 2, wrong_fc, &data), -EBADMSG);
	CHECK_INT(liveness_model_expect(m, "fc", 1, want_fc, &data), -EBADMSG);
	CHECK_INT(liveness_model_at(m, 0, &t), 0);
	CHECK_STR(t.name, "conv/filters");
	CHECK_INT(liveness_model_at(m, NT, &t), -ENOENT);
	liveness_model_free(m);
	liveness_model_free(NULL);
	free(b);
}

static void test_open_file(void)
{
	char path[] = "/tmp/test_liveness_model.XXXXXX";
	size_t len;
	uint8_t *b = build(&len);
	struct liveness_model *m;
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, b, len) == (ssize_t)len);
	close(fd);
	REQUIRE(liveness_model_open(path, &m) == 0);
	CHECK_INT(liveness_model_count(m), NT);
	liveness_model_free(m);
	/* the same file cut short: the size no longer matches the header */
	REQUIRE(truncate(path, (off_t)len - 64) == 0);
	CHECK_INT(liveness_model_open(path, &m), -EBADMSG);
	CHECK(m == NULL);
	unlink(path);
	CHECK_INT(liveness_model_open(path, &m), -ENOENT);
	free(b);
}

/* Applies one mutation to a fresh copy and returns the load result. */
static int mutated(void (*fn)(uint8_t *b, size_t *len))
{
	size_t len;
	uint8_t *b = build(&len);
	fn(b, &len);
	int rc = load(b, len);
	free(b);
	return rc;
}

static void m_magic(uint8_t *b, size_t *len)
{
	b[0] = 'X';
}
static void m_version(uint8_t *b, size_t *len)
{
	put32(b + 8, 2);
}
static void m_count0(uint8_t *b, size_t *len)
{
	put32(b + 12, 0);
}
static void m_count_huge(uint8_t *b, size_t *len)
{
	put32(b + 12, 0xffffffffu);
}
static void m_filesize(uint8_t *b, size_t *len)
{
	put64(b + 24, *len + 64);
}
static void m_short(uint8_t *b, size_t *len)
{
	*len -= 64;
}
static void m_unaligned_len(uint8_t *b, size_t *len)
{
	*len -= 1;
	put64(b + 24, *len);
}
static void m_name_no_nul(uint8_t *b, size_t *len)
{
	memset(b + 128 + 128, 'a', 64);
}
static void m_name_empty(uint8_t *b, size_t *len)
{
	memset(b + 128, 0, 64);
}
static void m_name_dup(uint8_t *b, size_t *len)
{
	memcpy(b + 128 + 128, "conv/filters\0", 13);
}
static void m_dtype(uint8_t *b, size_t *len)
{
	put32(b + 128 + 64, 2);
}
static void m_ndim(uint8_t *b, size_t *len)
{
	put32(b + 128 + 68, 5);
}
static void m_dim_zero(uint8_t *b, size_t *len)
{
	put32(b + 128 + 72, 0);
}
static void m_dim_trailing(uint8_t *b, size_t *len)
{
	put32(b + 128 + 128 + 76, 1); /* conv/bias is 1-D; dims[1] must be 0 */
}
static void m_dim_overflow(uint8_t *b, size_t *len)
{
	for (int d = 0; d < 4; d++)
		put32(b + 128 + 72 + 4 * d, 1u << 24);
}
static void m_nbytes(uint8_t *b, size_t *len)
{
	put64(b + 128 + 96, 4);
}
static void m_offset_misaligned(uint8_t *b, size_t *len)
{
	uint8_t *e = b + 128 + 128 * 2;
	put64(e + 88, (uint64_t)(e[88] | e[89] << 8) + 4);
}
static void m_offset_overlap(uint8_t *b, size_t *len)
{
	/* the second tensor starts where the first does */
	memcpy(b + 128 + 128 + 88, b + 128 + 88, 8);
}
static void m_offset_past_end(uint8_t *b, size_t *len)
{
	put64(b + 128 + 128 * 2 + 88, (uint64_t)*len);
}
static void m_offset_wrap(uint8_t *b, size_t *len)
{
	put64(b + 128 + 128 * 2 + 88, UINT64_MAX - 63);
}
static void m_nan(uint8_t *b, size_t *len)
{
	float nan = NAN;
	uint64_t off = 0; /* fc's data offset, from its table entry */
	for (int i = 0; i < 8; i++)
		off |= (uint64_t)b[128 + 256 + 88 + i] << (8 * i);
	memcpy(b + off + 8, &nan, 4);
}
static void m_reserved(uint8_t *b, size_t *len)
{
	b[100] = 1;
}
static void m_entry_reserved(uint8_t *b, size_t *len)
{
	b[128 + 127] = 1;
}
static void m_tiny(uint8_t *b, size_t *len)
{
	*len = 100;
}

static void test_hostile(void)
{
	CHECK_INT(mutated(m_magic), -EBADMSG);
	CHECK_INT(mutated(m_version), -EPROTONOSUPPORT);
	CHECK_INT(mutated(m_count0), -EBADMSG);
	CHECK_INT(mutated(m_count_huge), -EBADMSG);
	CHECK_INT(mutated(m_filesize), -EBADMSG);
	CHECK_INT(mutated(m_short), -EBADMSG);
	CHECK_INT(mutated(m_unaligned_len), -EBADMSG);
	CHECK_INT(mutated(m_name_no_nul), -EBADMSG);
	CHECK_INT(mutated(m_name_empty), -EBADMSG);
	CHECK_INT(mutated(m_name_dup), -EBADMSG);
	CHECK_INT(mutated(m_dtype), -EBADMSG);
	CHECK_INT(mutated(m_ndim), -EBADMSG);
	CHECK_INT(mutated(m_dim_zero), -EBADMSG);
	CHECK_INT(mutated(m_dim_trailing), -EBADMSG);
	CHECK_INT(mutated(m_dim_overflow), -EBADMSG);
	CHECK_INT(mutated(m_nbytes), -EBADMSG);
	CHECK_INT(mutated(m_offset_misaligned), -EBADMSG);
	CHECK_INT(mutated(m_offset_overlap), -EBADMSG);
	CHECK_INT(mutated(m_offset_past_end), -EBADMSG);
	CHECK_INT(mutated(m_offset_wrap), -EBADMSG);
	CHECK_INT(mutated(m_nan), -EBADMSG);
	CHECK_INT(mutated(m_reserved), -EBADMSG);
	CHECK_INT(mutated(m_entry_reserved), -EBADMSG);
	CHECK_INT(mutated(m_tiny), -EBADMSG);
}

UNIT_MAIN("liveness_model", UNIT_CASE(test_valid), UNIT_CASE(test_open_file),
	  UNIT_CASE(test_hostile))
