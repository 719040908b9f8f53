/* intake_valid — the business-parameter checks of the public actions (API.md §3, §5.3): which
 * fields are required (Code 400), the format and enum of each field (Code 401), the cross-field
 * rules (420 image methods, 405 age, 410 OSS input), and the keyed fingerprint that makes
 * InitFaceVerify idempotent. Pure logic: `now` is passed in, nothing is stored.
 *
 * Every validate function fills a struct intake_biz with the Code and a one-sentence Message
 * on failure and returns -EINVAL; on success the request struct points into the parameter list
 * (borrowed: it lives as long as the intake_params it was built from). */
#ifndef SHIREN_INTAKE_VALID_H
#define SHIREN_INTAKE_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "intake/intake_params.h"

#define INTAKE_CERTIFY_ID_LEN 32
#define INTAKE_MIN_AGE	      14

/* A business outcome other than success: HTTP 200 with this Code and Message. */
struct intake_biz {
	const char *code; /* "400", "401", ... (static) */
	char message[320];
};

enum intake_ref_kind {
	INTAKE_REF_NONE = 0,
	INTAKE_REF_INLINE,     /* FaceContrastPicture (Base64) */
	INTAKE_REF_URL,	       /* FaceContrastPictureUrl */
	INTAKE_REF_CERTIFY_ID, /* CertifyId of an earlier passed verification */
	INTAKE_REF_OSS,	       /* OssBucketName + OssObjectName (refused: 410) */
};

struct intake_init_req {
	int64_t scene_id;
	const char *outer_order_no;
	const char *product_code;
	const char *model; /* NULL: the scene's model */
	const char *cert_type;
	const char *cert_name, *cert_no; /* NULL when absent */
	const char *meta_info;
	const char *mobile, *ip, *user_id, *auth_id;
	const char *callback_url, *callback_token, *return_url;
	const char *certify_url_type; /* NULL: no CertifyUrl */
	const char *certify_url_style;
	enum intake_ref_kind ref_kind;
	const char *picture;	 /* FaceContrastPicture (Base64 text) */
	size_t picture_len;	 /* its length */
	const char *picture_url; /* FaceContrastPictureUrl */
	const char *ref_certify_id;
	bool needs_authority; /* ID_PRO / ID_PLUS: VerifyRequested */
};

struct intake_valid_opts {
	bool callback_allow_http; /* accept http:// CallbackUrl (tests, private networks) */
};

int intake_valid_init(const struct intake_params *p, time_t now,
		      const struct intake_valid_opts *opts, struct intake_init_req *ret,
		      struct intake_biz *biz) __attribute__((warn_unused_result));

struct intake_describe_req {
	int64_t scene_id;
	const char *certify_id;
	bool want_picture; /* PictureReturnType absent, BASE64 or JPG */
};

int intake_valid_describe(const struct intake_params *p, struct intake_describe_req *ret,
			  struct intake_biz *biz) __attribute__((warn_unused_result));

struct intake_delete_req {
	const char *certify_id;
	bool after_query; /* DeleteAfterQuery=Y */
};

int intake_valid_delete(const struct intake_params *p, struct intake_delete_req *ret,
			struct intake_biz *biz) __attribute__((warn_unused_result));

#define INTAKE_PAGE_MAX_DAYS 90
#define INTAKE_PAGE_MAX_SIZE 100

struct intake_page_req {
	char start_date[11], end_date[11]; /* yyyy-mm-dd */
	int64_t scene_id;		   /* 0: all scenes */
	const char *product_code;	   /* NULL: all products */
	int64_t current_page, page_size;
};

int intake_valid_page(const struct intake_params *p, struct intake_page_req *ret,
		      struct intake_biz *biz) __attribute__((warn_unused_result));

/* ---- building blocks, exposed for tests and for the other actions ---- */

/* Mainland ID card number (GB 11643): 18 characters, 17 digits and a check character (digit or
 * 'X'), a real birth date not after `now`. 0 with the birth date in *ret_ymd (yyyymmdd), or
 * -EINVAL with a static reason in *ret_why. */
int intake_valid_id_card(const char *s, time_t now, int *ret_ymd, const char **ret_why)
	__attribute__((warn_unused_result));
/* Whole years between birth date `ymd` and `now` (UTC calendar). */
int intake_valid_age(int ymd, time_t now);
/* "yyyy-mm-dd" with a real calendar date; *ret_days (may be NULL) = days since 1970-01-01. */
bool intake_valid_date(const char *s, long *ret_days);
/* http(s) URL: scheme, a host, no whitespace or control bytes, at most `max` bytes. */
bool intake_valid_http_url(const char *s, size_t max, bool allow_http);
/* Decimal integer 1..10^18-1 without sign or leading '+'. */
bool intake_valid_pos_int(const char *s, int64_t *ret);
/* One of the '|'-separated words of `choices`, exactly. */
bool intake_valid_enum(const char *s, const char *choices);
bool intake_valid_certify_id(const char *s);

/* Keyed fingerprint of an InitFaceVerify request (`p` already validated): HMAC-SHA256 under
 * `key` over every business field by name, each length-prefixed, absent fields marked, the
 * picture by its SHA-256 (unknown and signature parameters are not part of it, so a
 * retry through another SDK or signature scheme matches). `ret` gets 32 bytes. */
int intake_valid_init_fingerprint(const struct intake_params *p, const uint8_t key[32],
				  uint8_t ret[32]) __attribute__((warn_unused_result));

/* Keyed fingerprint of any action's request: HMAC-SHA256 under `key` over `tag`, then each of
 * `fields` by name and value (absent: a 0xff marker), then each of `pictures` by name and the
 * SHA-256 of its value, everything length-prefixed. The InitFaceVerify one above and the
 * synchronous actions' (intake_sync_valid.c) are this with their own lists. */
int intake_valid_fingerprint(const char *tag, const struct intake_params *p,
			     const char *const *fields, size_t n_fields,
			     const char *const *pictures, size_t n_pictures, const uint8_t key[32],
			     uint8_t ret[32]) __attribute__((warn_unused_result));

/* The building blocks of every action's checks: a business refusal with its Code and Message
 * (they return -EINVAL), Code 400 for an empty required field, Code 401 for a bad one. */
__attribute__((format(printf, 3, 4))) int intake_biz_fail(struct intake_biz *b, const char *code,
							  const char *fmt, ...);
int intake_biz_missing(struct intake_biz *b, const char *name);
int intake_biz_invalid(struct intake_biz *b, const char *name, const char *why);
/* A parameter's value, or NULL when absent. An empty value counts as absent: the SDKs drop
 * unset fields, so "" only comes from hand-written requests and means "not given". */
const char *intake_param_value(const struct intake_params *p, const char *name);
/* Text of 1..max bytes without control characters. */
bool intake_valid_text(const char *s, size_t max);
/* CertName (when given: 1..64 characters without digits) and CertNo (when given: a mainland
 * ID card number of someone at least INTAKE_MIN_AGE (else Code 405), or for other types a
 * passport-style number). */
int intake_valid_person(const char *cert_type, const char *cert_name, const char *cert_no,
			time_t now, struct intake_biz *b) __attribute__((warn_unused_result));
/* SceneId (a positive decimal, into *scene_id) and OuterOrderNo (1..32 letters, digits, '-'
 * or '_'), both present: Code 401 otherwise. */
int intake_valid_order(const char *scene, const char *outer_order_no, int64_t *scene_id,
		       struct intake_biz *b) __attribute__((warn_unused_result));
/* Mobile (5..20 digits, optional '+'), Ip (IPv4 or IPv6), UserId (1..128 bytes of text), each
 * when given. */
int intake_valid_contact(const char *mobile, const char *ip, const char *user_id,
			 struct intake_biz *b) __attribute__((warn_unused_result));

/* Product code name -> shiren.v1.Product value (0 when unknown). */
int intake_valid_product_value(const char *code);

#endif
