/* liveness_model — read-only access to a converted weight file in shiren's flat .shnn format
 * (written by deploy/models/convert, specified in docs/liveness.md). The file is memory-mapped
 * read-only and validated completely before use: a hostile or truncated file yields an error,
 * never a crash. A loaded model is immutable and may be shared by any number of threads. */
#ifndef SHIREN_LIVENESS_MODEL_H
#define SHIREN_LIVENESS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define LIVENESS_MODEL_MAGIC	   "SHNN\r\n\x1a\n"
#define LIVENESS_MODEL_VERSION	   1
#define LIVENESS_MODEL_HDR_SIZE	   128
#define LIVENESS_MODEL_ENTRY_SIZE  128
#define LIVENESS_MODEL_ALIGN	   64
#define LIVENESS_MODEL_MAX_TENSORS 4096
#define LIVENESS_MODEL_NAME_MAX	   64 /* bytes in the name field, NUL included */
#define LIVENESS_MODEL_MAX_DIM	   (1u << 24)
#define LIVENESS_MODEL_DT_F32	   1

struct liveness_model;

struct liveness_tensor {
	const char *name;  /* points into the model; valid while the model lives */
	uint32_t ndim;	   /* 1..4 */
	uint32_t dims[4];  /* unused trailing dims are 0 */
	size_t count;	   /* product of dims */
	const float *data; /* 64-byte aligned, read-only, valid while the model lives */
};

/* Maps and validates the file at path. Errors: -ENOENT/-EACCES/... from open, -EBADMSG for a
 * malformed file (bad magic, sizes, offsets, names, non-finite values), -EPROTONOSUPPORT for
 * another version, -ENOMEM. On success *ret_model is owned by the caller
 * (liveness_model_free). */
__attribute__((warn_unused_result)) int liveness_model_open(const char *path,
							    struct liveness_model **ret_model);

/* Same checks on bytes in memory, which are copied (the caller keeps buf). For tests and
 * fuzzing. */
__attribute__((warn_unused_result)) int liveness_model_load_mem(const void *buf, size_t len,
								struct liveness_model **ret_model);

/* Accepts NULL. */
void liveness_model_free(struct liveness_model *m);

/* The model name from the header (e.g. "face_recognition"). */
const char *liveness_model_name(const struct liveness_model *m);
size_t liveness_model_count(const struct liveness_model *m);

/* Tensor by index (0..count-1) or by name. -ENOENT when absent. */
__attribute__((warn_unused_result)) int liveness_model_at(const struct liveness_model *m, size_t i,
							  struct liveness_tensor *ret);
__attribute__((warn_unused_result)) int
liveness_model_find(const struct liveness_model *m, const char *name, struct liveness_tensor *ret);

/* Finds a tensor and checks its shape: ndim dims, each equal to want[i]. Returns the data or
 * -ENOENT (absent) / -EBADMSG (wrong shape). */
__attribute__((warn_unused_result)) int liveness_model_expect(const struct liveness_model *m,
							      const char *name, uint32_t ndim,
							      const uint32_t *want,
							      const float **ret_data);

#endif
