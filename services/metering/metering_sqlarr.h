/* metering_sqlarr — PostgreSQL array literals ("{1,2,NULL}", "{\"a\",\"b\"}") built in a
 * growable buffer, for set-based statements that take one array parameter per column and
 * unnest them. Text elements are always double-quoted with '"' and '\' escaped, so any byte
 * string (without NUL) round-trips. The buffer is capped at MT_ARR_MAX bytes. */
#ifndef SHIREN_METERING_SQLARR_H
#define SHIREN_METERING_SQLARR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MT_ARR_MAX (256u << 20)

struct mt_arr {
	char *buf; /* NUL-terminated after mt_arr_end */
	size_t len, cap;
	size_t n; /* elements */
	int err;  /* first error (-ENOMEM, -E2BIG); sticky */
};

void mt_arr_init(struct mt_arr *a);
/* Start a new literal, keeping the memory. */
void mt_arr_reset(struct mt_arr *a);
void mt_arr_free(struct mt_arr *a);

void mt_arr_text(struct mt_arr *a, const char *s); /* NULL adds NULL */
void mt_arr_int(struct mt_arr *a, int64_t v);
void mt_arr_bool(struct mt_arr *a, bool v);
void mt_arr_null(struct mt_arr *a);
/* Close the literal: 0 with a->buf ready, or the first error. */
int mt_arr_end(struct mt_arr *a) __attribute__((warn_unused_result));

/* ---- binary ----
 * The same arrays in PostgreSQL's binary format (array_send: header, then a 4-byte length and
 * the element's binary value each), sent as a binary parameter: the server copies values
 * instead of parsing text, which matters for wide batches. Also used to build COPY BINARY
 * rows (mt_bin_*). Capped at MT_ARR_MAX bytes. */
#define MT_OID_BOOL  16
#define MT_OID_BYTEA 17
#define MT_OID_INT8  20
#define MT_OID_INT2  21
#define MT_OID_INT4  23
#define MT_OID_TEXT  25
#define MT_OID_UUID  2950

struct mt_bin {
	uint8_t *buf;
	size_t len, cap;
	int err; /* sticky -ENOMEM / -E2BIG */
};
void mt_bin_init(struct mt_bin *b);
void mt_bin_reset(struct mt_bin *b);
void mt_bin_free(struct mt_bin *b);
void mt_bin_raw(struct mt_bin *b, const void *p, size_t n);
void mt_bin_u16(struct mt_bin *b, uint16_t v);
void mt_bin_u32(struct mt_bin *b, uint32_t v);
void mt_bin_u64(struct mt_bin *b, uint64_t v);
/* One field or element: 4-byte length, then the value in binary; NULL is length -1. */
void mt_bin_f_int8(struct mt_bin *b, int64_t v);
void mt_bin_f_int4(struct mt_bin *b, int32_t v);
void mt_bin_f_int2(struct mt_bin *b, int16_t v);
void mt_bin_f_bool(struct mt_bin *b, bool v);
void mt_bin_f_text(struct mt_bin *b, const char *s); /* NULL: NULL */
/* A canonical UUID text as 16 bytes; -EINVAL (sticky) when malformed. */
void mt_bin_f_uuid(struct mt_bin *b, const char *s);
void mt_bin_f_null(struct mt_bin *b);

/* A one-dimensional binary array of element type `oid`. */
struct mt_barr {
	struct mt_bin b;
	uint32_t oid;
	size_t n;
	bool has_null;
};
void mt_barr_init(struct mt_barr *a);
void mt_barr_reset(struct mt_barr *a, uint32_t oid);
void mt_barr_free(struct mt_barr *a);
void mt_barr_int8(struct mt_barr *a, int64_t v);
void mt_barr_int4(struct mt_barr *a, int32_t v);
void mt_barr_int2(struct mt_barr *a, int16_t v);
void mt_barr_bool(struct mt_barr *a, bool v);
void mt_barr_text(struct mt_barr *a, const char *s); /* NULL: NULL */
void mt_barr_uuid(struct mt_barr *a, const char *s);
void mt_barr_bytes(struct mt_barr *a, const void *p, size_t n);
void mt_barr_null(struct mt_barr *a);
/* Finish: ret and ret_len describe the array value to pass as a binary parameter. 0 or the first
 * error. The value stays valid until the next reset. */
int mt_barr_end(struct mt_barr *a, const char **ret, int *ret_len)
	__attribute__((warn_unused_result));

#endif
