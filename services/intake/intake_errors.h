/* intake_errors — the POP gateway errors the public API returns (HTTP status, Code, Message),
 * as cloudauth/API.md §5.4/§5.5 lists them. Pure data plus a bounded renderer; no I/O.
 * Business outcomes (Code "200", "401", ...) are HTTP 200 bodies and are not in this table. */
#ifndef SHIREN_INTAKE_ERRORS_H
#define SHIREN_INTAKE_ERRORS_H

#include <stddef.h>

enum intake_err {
	INTAKE_ERR_NONE = 0,
	/* Detected by intake_sign / intake_params. */
	INTAKE_ERR_INCOMPLETE_SIGNATURE,
	INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH,
	INTAKE_ERR_INVALID_SIGNATURE_METHOD,
	INTAKE_ERR_INVALID_TIMESTAMP_FORMAT,
	INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED,
	INTAKE_ERR_SECURITY_TOKEN_UNSUPPORTED,
	INTAKE_ERR_MISSING_PARAMETER, /* Code "Missing<Name>" when a name is given */
	INTAKE_ERR_INVALID_PARAMETER,
	/* Detected by the caller (key store, nonce store, dispatcher, throttle). */
	INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND,
	INTAKE_ERR_INVALID_ACCESS_KEY_ID_INACTIVE,
	INTAKE_ERR_SIGNATURE_NONCE_USED,
	INTAKE_ERR_UNSUPPORTED_HTTP_METHOD,
	INTAKE_ERR_INVALID_ACTION_NOT_FOUND,
	INTAKE_ERR_INVALID_VERSION,
	INTAKE_ERR_FORBIDDEN_RAM,
	INTAKE_ERR_THROTTLING_USER,
	INTAKE_ERR_INTERNAL_ERROR,
	INTAKE_ERR_SERVICE_UNAVAILABLE,
	INTAKE_ERR__COUNT
};

struct intake_err_info {
	int http_status;
	const char *code;    /* e.g. "SignatureDoesNotMatch" */
	const char *message; /* the fixed part of Message */
};

/* Table row for `e`; never NULL (out-of-range values map to InternalError). */
const struct intake_err_info *intake_err_info(enum intake_err e);

/* Writes the response Code and Message for `e` into caller buffers (always NUL-terminated when
 * cap > 0). `param` (may be NULL) names the offending parameter: MissingParameter becomes
 * "Missing<param>" / "<param> is mandatory for this action.", InvalidParameter quotes it.
 * `detail` (may be NULL) is appended to the message after one space. A parameter name that is
 * not printable ASCII is left out. Returns 0, or -ENOSPC when either buffer was too short (the
 * text is then truncated but still terminated). */
int intake_err_render(enum intake_err e, const char *param, const char *detail, char *code,
		      size_t code_cap, char *msg, size_t msg_cap)
	__attribute__((warn_unused_result));

#endif
