/* intake_params — strict parsing of an RPC request's parameters: the raw query string and an
 * application/x-www-form-urlencoded body, merged into one ordered list. Pure logic, no I/O.
 *
 * Rules (docs/signatures.md has the table):
 *   - pairs are split on '&' (empty segments are skipped), then on the first '=' (a pair with no
 *     '=' is a key with an empty value);
 *   - '%XX' is decoded (either hex case); a '%' not followed by two hex digits is an error;
 *   - '+' decodes to a space in the body and, by default, in the query too (servlet style; no
 *     SDK sends a literal '+', they send %2B);
 *   - a key must be non-empty printable ASCII (0x21-0x7e) after decoding; a value must be valid
 *     UTF-8 (no overlongs, no surrogates) without NUL bytes;
 *   - counts and lengths are capped (struct intake_params_limits);
 *   - a key that appears twice (in the query, the body or across both) is an error unless
 *     limits.allow_duplicates is set. */
#ifndef SHIREN_INTAKE_PARAMS_H
#define SHIREN_INTAKE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "intake/intake_errors.h"

#define INTAKE_PARAMS_DEFAULT_MAX_PARAMS    256
#define INTAKE_PARAMS_DEFAULT_MAX_KEY_LEN   128
#define INTAKE_PARAMS_DEFAULT_MAX_VALUE_LEN (8u * 1024 * 1024)
/* Longest key echoed back in an error (longer or unprintable keys are not echoed). */
#define INTAKE_PARAMS_NAME_ECHO_MAX 64

enum intake_params_src {
	INTAKE_PARAMS_SRC_QUERY = 0,
	INTAKE_PARAMS_SRC_BODY,
};

struct intake_param {
	const char *key;   /* decoded, NUL-terminated; owned by the list */
	const char *value; /* decoded, NUL-terminated; owned by the list */
	size_t key_len;
	size_t value_len;
	enum intake_params_src src;
};

/* The list. Zero-initialise or fill with intake_params_parse; release with intake_params_done. */
struct intake_params {
	struct intake_param *items; /* in arrival order: query pairs first, then body pairs */
	size_t count;
	char *arena; /* backing store of every key and value */
};

struct intake_params_limits {
	size_t max_params;    /* pairs over query + body */
	size_t max_key_len;   /* decoded bytes */
	size_t max_value_len; /* decoded bytes */
	bool query_plus_is_space;
	bool allow_duplicates;
};

enum intake_params_status {
	INTAKE_PARAMS_OK = 0,
	INTAKE_PARAMS_BAD_ESCAPE,     /* '%' not followed by two hex digits */
	INTAKE_PARAMS_BAD_UTF8,	      /* a decoded value is not valid UTF-8 */
	INTAKE_PARAMS_NUL_BYTE,	      /* %00 in a value */
	INTAKE_PARAMS_BAD_KEY,	      /* empty key or a byte outside 0x21-0x7e */
	INTAKE_PARAMS_DUPLICATE,      /* a key given twice */
	INTAKE_PARAMS_TOO_MANY,	      /* more than max_params pairs */
	INTAKE_PARAMS_KEY_TOO_LONG,   /* decoded key over max_key_len */
	INTAKE_PARAMS_VALUE_TOO_LONG, /* decoded value over max_value_len */
	INTAKE_PARAMS_NO_MEMORY,
};

/* Why a parse failed. `name` holds the offending key when it is printable and short enough
 * to echo, else "". `detail` is static text. `err` is the API error to answer with
 * (InvalidParameter, or InternalError for NO_MEMORY). */
struct intake_params_error {
	enum intake_params_status status;
	enum intake_err err;
	enum intake_params_src src;
	size_t offset; /* byte offset of the offending pair within its source */
	char name[INTAKE_PARAMS_NAME_ECHO_MAX + 1];
	const char *detail;
};

/* Defaults: 256 pairs, 128-byte keys, 8 MiB values, '+' is a space in the query, duplicates
 * rejected. */
void intake_params_limits_default(struct intake_params_limits *ret);

/* Parses `query` (raw text after '?', without the '#fragment'; may be NULL) and `form` (the
 * exact body bytes when the Content-Type is form-urlencoded, else NULL) into `ret`, replacing
 * nothing: `ret` must be empty. `lim` may be NULL for the defaults. Inputs need not be
 * NUL-terminated and may contain any bytes.
 * Returns 0; -EINVAL on bad input or -ENOMEM, with `ret_err` (may be NULL) filled and `ret`
 * left empty. On success the caller owns `ret` and frees it with intake_params_done. */
int intake_params_parse(struct intake_params *ret, const char *query, size_t query_len,
			const char *form, size_t form_len, const struct intake_params_limits *lim,
			struct intake_params_error *ret_err) __attribute__((warn_unused_result));

/* Frees the list and zeroes it. Accepts NULL and an already-done list. */
void intake_params_done(struct intake_params *p);

/* The first pair named `key` (case-sensitive), or NULL. */
const struct intake_param *intake_params_find(const struct intake_params *p, const char *key);
/* Its value, or NULL when absent. The pointer lives as long as the list. */
const char *intake_params_get(const struct intake_params *p, const char *key);
/* The first key that occurs more than once, or NULL (only useful with allow_duplicates). */
const char *intake_params_find_duplicate(const struct intake_params *p);

/* True when a Content-Type value selects form decoding of the body:
 * "application/x-www-form-urlencoded", any case, optionally followed by ';' parameters. */
bool intake_params_is_form(const char *content_type);

/* Stable lower-case name of a status, for logs and tests ("bad_escape", ...). */
const char *intake_params_status_name(enum intake_params_status s);

/* Code + Message for a parse failure (see intake_err_render). */
int intake_params_error_render(const struct intake_params_error *e, char *code, size_t code_cap,
			       char *msg, size_t msg_cap) __attribute__((warn_unused_result));

#endif
