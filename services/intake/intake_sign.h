/* intake_sign — request authentication for the public API: RPC HMAC-SHA1 (SignatureVersion
 * 1.0), ACS3-HMAC-SHA256 and ACS3-HMAC-SM3 (when OpenSSL has SM3). Pure logic: no sockets, no
 * clock (the caller passes `now`), no key store (the caller looks the key up between the two
 * steps). docs/signatures.md describes the rules.
 *
 *   struct intake_sign_result res;
 *   struct intake_sign_parsed p;
 *   intake_sign_result_init(&res);
 *   rc = intake_sign_parse(&req, &p, &res);      // scheme, key id, nonce, timestamp, token
 *   ...  -EINVAL: answer res.err; -EPERM: STS token (answer res.err or accept STS yourself)
 *   ...  look up p.access_key_id -> InvalidAccessKeyId.NotFound / .Inactive
 *   rc = intake_sign_check(&p, secret, secret_len, now, &res);   // window + signature
 *   ...  0: authenticated; then record p.nonce (SignatureNonceUsed is the caller's job)
 *   intake_sign_result_render(&res, code, sizeof(code), msg, sizeof(msg));
 *   intake_sign_result_done(&res);
 *
 * After a successful parse, take the action and version from `p.action` / `p.version`: they
 * are the signed ones (RPC: the Action/Version parameters; ACS3: the signed x-acs-action /
 * x-acs-version headers). In RPC mode the x-acs-* headers are not signed and must be ignored. */
#ifndef SHIREN_INTAKE_SIGN_H
#define SHIREN_INTAKE_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "intake/intake_errors.h"
#include "intake/intake_params.h"

#define INTAKE_SIGN_WINDOW_SECONDS	 (15 * 60)
#define INTAKE_SIGN_MAX_AKID		 128
#define INTAKE_SIGN_MAX_NONCE		 128
#define INTAKE_SIGN_MAX_SIGNED_HEADERS	 32
#define INTAKE_SIGN_MAX_SIGNED_HDRS_TEXT 1024
enum intake_sign_scheme {
	INTAKE_SIGN_SCHEME_NONE = 0,
	INTAKE_SIGN_SCHEME_RPC_HMAC_SHA1,
	INTAKE_SIGN_SCHEME_ACS3_HMAC_SHA256,
	INTAKE_SIGN_SCHEME_ACS3_HMAC_SM3,
};

/* One received header, NUL-terminated, exactly as received (any case, untrimmed). */
struct intake_sign_header {
	const char *name;
	const char *value;
};

/* Everything the verifier reads. Borrowed: it must outlive the parsed struct. */
struct intake_sign_request {
	const char *method; /* "GET", "POST", as on the request line; not NULL */
	const char *path;   /* raw path without the query; NULL or "" means "/" */
	const struct intake_sign_header *headers;
	size_t n_headers;
	/* Query pairs plus, when the Content-Type is form-urlencoded, body pairs; parsed by
	 * intake_params_parse (duplicates rejected). Not NULL. */
	const struct intake_params *params;
	const void *body; /* exact de-chunked body bytes; NULL when body_len is 0 */
	size_t body_len;
};

/* Output of intake_sign_parse. Pointers borrow from the request. */
struct intake_sign_parsed {
	enum intake_sign_scheme scheme;
	const struct intake_sign_request *req;
	char access_key_id[INTAKE_SIGN_MAX_AKID + 1];
	char nonce[INTAKE_SIGN_MAX_NONCE + 1];
	time_t timestamp;	 /* Timestamp / x-acs-date, UTC */
	bool has_security_token; /* SecurityToken parameter or x-acs-security-token header */
	const char *action;	 /* signed action, NULL when absent */
	const char *version;	 /* signed version, NULL when absent */
	/* private */
	char signature[65]; /* the client's: 64 lower-case hex (ACS3) or 28 Base64 (RPC) */
	char signed_headers[INTAKE_SIGN_MAX_SIGNED_HDRS_TEXT + 1];
};

/* Verdict and diagnostics. Initialise with intake_sign_result_init, free with _done. */
struct intake_sign_result {
	enum intake_err err;
	char param[INTAKE_PARAMS_NAME_ECHO_MAX +
		   1];	    /* parameter/header the error is about, or "" */
	const char *detail; /* static: one sentence saying what was wrong, or NULL */
	enum intake_sign_scheme scheme;
	/* Owned heap copies, NULL until check() got that far. RPC: the canonicalized query
	 * string; ACS3: the canonical request. The string-to-sign is what SignatureDoesNotMatch
	 * echoes. */
	char *canonical;
	size_t canonical_len;
	char *string_to_sign;
	size_t string_to_sign_len;
};

void intake_sign_result_init(struct intake_sign_result *r);
/* Frees the owned strings; accepts NULL; leaves `r` re-usable (as after _init). */
void intake_sign_result_done(struct intake_sign_result *r);

/* Step 1, no secret needed: pick the scheme (an Authorization header means ACS3, else the
 * Signature parameter means RPC), extract and validate key id, nonce, timestamp format, the
 * signature's shape and, for ACS3, the SignedHeaders list (it must cover host, x-acs-action,
 * x-acs-version, x-acs-date, x-acs-signature-nonce and x-acs-content-sha256).
 * Returns 0; -EINVAL with ret_res->err set (IncompleteSignature, InvalidSignatureMethod,
 * InvalidTimeStamp.Format, Missing<Name>, InvalidParameter); -EPERM when everything parsed but a
 * security token is present (ret_res->err = SECURITY_TOKEN_UNSUPPORTED; `ret` is complete and
 * can still be checked). */
int intake_sign_parse(const struct intake_sign_request *req, struct intake_sign_parsed *ret,
		      struct intake_sign_result *ret_res) __attribute__((warn_unused_result));

/* Step 2: the ±15 min window against `now`, then the signature with `secret` (the raw
 * AccessKeySecret, `secret_len` bytes), compared in constant time. For ACS3 the body hash must
 * also equal x-acs-content-sha256. Fills ret->canonical and ret->string_to_sign.
 * Returns 0 (authenticated, ret->err NONE); -EACCES with ret->err InvalidTimeStamp.Expired or
 * SignatureDoesNotMatch; -ENOMEM/-E2BIG with ret->err InternalError. */
int intake_sign_check(const struct intake_sign_parsed *p, const char *secret, size_t secret_len,
		      time_t now, struct intake_sign_result *ret)
	__attribute__((warn_unused_result));

/* Code and Message for ret->err. SignatureDoesNotMatch echoes the server's string-to-sign:
 * RPC "... calculation. server string to sign is:<sts>" (what the old core SDKs parse), ACS3
 * "... server StringToSign is [<sts>], CanonicalRequest is [<creq>]". A message that does not
 * fit `msg_cap` is truncated (still NUL-terminated) and -ENOSPC is returned. */
int intake_sign_result_render(const struct intake_sign_result *r, char *code, size_t code_cap,
			      char *msg, size_t msg_cap) __attribute__((warn_unused_result));

/* ---- building blocks, exposed for tests and fuzzing (canonical text: intake_canon.h) ---- */

/* ISO 8601 UTC "YYYY-MM-DDThh:mm:ssZ", optionally with a ".fraction" before the Z (ignored).
 * Exactly `len` bytes are read. 0 or -EINVAL. */
int intake_sign_parse_time(const char *s, size_t len, time_t *ret)
	__attribute__((warn_unused_result));
/* |ts - now| <= INTAKE_SIGN_WINDOW_SECONDS. */
bool intake_sign_time_in_window(time_t ts, time_t now);

const char *intake_sign_scheme_name(enum intake_sign_scheme s);

#endif
