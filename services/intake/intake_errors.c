/* intake_errors — the gateway error table (API.md §5.4) and its bounded renderer. Statuses are
 * 4xx for every authentication error: the cloudauth SDK treats a 2xx body as success whatever
 * its Code (§5.5). Where Alibaba's pages disagree we take §5.4's first value; the SDKs only look
 * at the 4xx/5xx class and at Code. */
#include "intake/intake_errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct intake_err_info err_table[INTAKE_ERR__COUNT] = {
	[INTAKE_ERR_NONE] = {200, "200", "success"},
	[INTAKE_ERR_INCOMPLETE_SIGNATURE] = {400, "IncompleteSignature",
					     "The request signature does not conform to Aliyun "
					     "standards."},
	[INTAKE_ERR_SIGNATURE_DOES_NOT_MATCH] = {400, "SignatureDoesNotMatch",
						 "Specified signature is not matched with our "
						 "calculation."},
	[INTAKE_ERR_INVALID_SIGNATURE_METHOD] = {400, "InvalidSignatureMethod",
						 "Specified signature method is not supported."},
	[INTAKE_ERR_INVALID_TIMESTAMP_FORMAT] = {400, "InvalidTimeStamp.Format",
						 "Specified time stamp or date value is not well "
						 "formatted."},
	[INTAKE_ERR_INVALID_TIMESTAMP_EXPIRED] = {400, "InvalidTimeStamp.Expired",
						  "Specified time stamp or date value is expired."},
	[INTAKE_ERR_SECURITY_TOKEN_UNSUPPORTED] = {400, "InvalidSecurityToken.Malformed",
						   "Specified SecurityToken is not supported: this "
						   "server accepts AccessKey pairs only, not STS "
						   "tokens."},
	[INTAKE_ERR_MISSING_PARAMETER] = {400, "MissingParameter",
					  "A required parameter is not supplied."},
	[INTAKE_ERR_INVALID_PARAMETER] = {400, "InvalidParameter",
					  "The specified parameter is not valid."},
	[INTAKE_ERR_INVALID_ACCESS_KEY_ID_NOT_FOUND] = {404, "InvalidAccessKeyId.NotFound",
							"Specified access key is not found."},
	[INTAKE_ERR_INVALID_ACCESS_KEY_ID_INACTIVE] = {400, "InvalidAccessKeyId.Inactive",
						       "Specified access key is disabled."},
	[INTAKE_ERR_SIGNATURE_NONCE_USED] = {400, "SignatureNonceUsed",
					     "Specified signature nonce was used already."},
	[INTAKE_ERR_UNSUPPORTED_HTTP_METHOD] = {400, "UnsupportedHTTPMethod",
						"Specified HTTP method is not supported."},
	[INTAKE_ERR_INVALID_ACTION_NOT_FOUND] = {404, "InvalidAction.NotFound",
						 "Specified api is not found, please check your "
						 "url and method."},
	[INTAKE_ERR_INVALID_VERSION] = {400, "InvalidVersion",
					"Specified parameter Version is not valid."},
	[INTAKE_ERR_FORBIDDEN_RAM] = {403, "Forbidden.RAM",
				      "User not authorized to operate on the specified resource."},
	[INTAKE_ERR_THROTTLING_USER] = {400, "Throttling.User",
					"Request was denied due to user flow control."},
	[INTAKE_ERR_INTERNAL_ERROR] = {500, "InternalError",
				       "The request processing has failed due to some unknown "
				       "error."},
	[INTAKE_ERR_SERVICE_UNAVAILABLE] = {503, "ServiceUnavailable",
					    "The request has failed due to a temporary failure of "
					    "the server."},
};

const struct intake_err_info *intake_err_info(enum intake_err e)
{
	if ((unsigned)e >= INTAKE_ERR__COUNT)
		return &err_table[INTAKE_ERR_INTERNAL_ERROR];
	return &err_table[e];
}

static bool printable_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '"' || i >= 128)
			return false;
	}
	return true;
}

/* snprintf into `buf`, reporting truncation. */
__attribute__((format(printf, 3, 4))) static int put(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cap == 0)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf[0] = '\0';
		return -EINVAL;
	}
	return (size_t)n >= cap ? -ENOSPC : 0;
}

int intake_err_render(enum intake_err e, const char *param, const char *detail, char *code,
		      size_t code_cap, char *msg, size_t msg_cap)
{
	const struct intake_err_info *info = intake_err_info(e);
	bool named = printable_name(param);
	const char *sep = detail && *detail ? " " : "";
	const char *tail = detail ? detail : "";
	int rc1, rc2;

	if (e == INTAKE_ERR_MISSING_PARAMETER && named) {
		rc1 = put(code, code_cap, "Missing%s", param);
		rc2 = put(msg, msg_cap, "%s is mandatory for this action.%s%s", param, sep, tail);
	} else if (e == INTAKE_ERR_INVALID_PARAMETER && named) {
		rc1 = put(code, code_cap, "%s", info->code);
		rc2 = put(msg, msg_cap, "The specified parameter \"%s\" is not valid.%s%s", param,
			  sep, tail);
	} else {
		rc1 = put(code, code_cap, "%s", info->code);
		rc2 = put(msg, msg_cap, "%s%s%s", info->message, sep, tail);
	}
	return rc1 ? rc1 : rc2;
}
