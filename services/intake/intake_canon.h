/* intake_canon — canonical text for request signatures: Alibaba percent-encoding (API.md §4.0),
 * the sorted parameter strings of the RPC and ACS3 schemes, and a capped growable buffer.
 * Pure logic; used by intake_sign. */
#ifndef SHIREN_INTAKE_CANON_H
#define SHIREN_INTAKE_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include "intake/intake_params.h"

/* Cap on any canonical text or string-to-sign (an 8 MiB form body needs ~40 MiB: every byte
 * may become "%25XX" once percent-encoded twice). */
#define INTAKE_CANON_MAX_TEXT (64u * 1024 * 1024)

/* Growable NUL-terminated text. Zero-initialise; after the first failure `err` holds -ENOMEM or
 * -E2BIG (over INTAKE_CANON_MAX_TEXT) and further appends do nothing. The caller owns `p` and
 * releases it with intake_canon_buf_free (or takes it over and sets the struct to zero). */
struct intake_canon_buf {
	char *p;
	size_t len, cap;
	int err;
};

void intake_canon_buf_add(struct intake_canon_buf *b, const char *s, size_t n);
void intake_canon_buf_str(struct intake_canon_buf *b, const char *s);
/* Appends pct(s): bytes A-Z a-z 0-9 - _ . ~ kept, every other byte %XX upper-case. */
void intake_canon_buf_pct(struct intake_canon_buf *b, const char *s, size_t n);
void intake_canon_buf_free(struct intake_canon_buf *b);

/* Appends "pct(k)=pct(v)&..." over `params` sorted by raw key (byte order; keys are ASCII and
 * unique), optionally only the query pairs and/or without the "Signature" pair. An empty set
 * still allocates an empty string. Returns b->err (0 or negative). */
int intake_canon_pairs(struct intake_canon_buf *b, const struct intake_params *params,
		       bool query_only, bool skip_signature) __attribute__((warn_unused_result));

/* pct() of `len` bytes into `out` (cap bytes, NUL-terminated). Returns the encoded length, or
 * -ENOSPC (3*len+1 always suffices). */
long intake_canon_pct(const char *in, size_t len, char *out, size_t cap)
	__attribute__((warn_unused_result));

/* The RPC canonicalized query string (every parameter but Signature, sorted) and the ACS3
 * canonical query string (query pairs only, sorted). A heap string into *ret that the caller
 * frees; 0, -ENOMEM or -E2BIG. */
int intake_canon_rpc_query(const struct intake_params *params, char **ret, size_t *ret_len)
	__attribute__((warn_unused_result));
int intake_canon_acs3_query(const struct intake_params *params, char **ret, size_t *ret_len)
	__attribute__((warn_unused_result));

#endif
