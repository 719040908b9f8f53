/* ctl_valid — what shirenctl accepts as names, ids, product codes, models, URLs and
 * endpoints. Pure predicates; the database enforces the same rules with CHECK constraints
 * (deploy/sql/001_core.sql), these give the clear message first. */
#ifndef SHIREN_CTL_VALID_H
#define SHIREN_CTL_VALID_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_KEY_ID_PREFIX "LTAI"
#define CTL_KEY_ID_LEN	  24 /* "LTAI" + 20 alphanumerics */
#define CTL_SECRET_LEN	  30 /* alphanumerics */
#define CTL_URL_MAX	  1024
#define CTL_HOST_MAX	  255

/* [A-Za-z0-9][A-Za-z0-9._-]{0,63} and not UUID-shaped (tenants are addressed by either). */
bool ctl_valid_tenant_name(const char *s);
/* 8-4-4-4-12 hex digits, either case. */
bool ctl_looks_like_uuid(const char *s);
/* "LTAI" + 20 ASCII alphanumerics. */
bool ctl_valid_key_id(const char *s);
/* 1-64 characters of valid UTF-8 with no control characters. */
bool ctl_valid_scene_name(const char *s);
/* [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
bool ctl_valid_oss_target(const char *s);

/* Product codes scenes may use (cloudauth API.md §3). */
bool ctl_valid_product(const char *s);
/* Liveness models (API.md §3.1 Model, §3.3 FRONT_CAMERA_LIVENESS). */
bool ctl_valid_model(const char *s);
/* Server-side products (ID_MIN, LR_FR_MIN, PV_FC) take FRONT_CAMERA_LIVENESS; the capture
 * flows take the interactive models. 0, or -EINVAL with the reason in `err`. */
int ctl_check_product_model(const char *product, const char *model, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* An http:// or https:// URL with a host, optional port 1-65535, no user info, no spaces or
 * control characters, at most CTL_URL_MAX bytes. 0 or -EINVAL with the reason in `err`. */
int ctl_check_url(const char *url, char *err, size_t errlen) __attribute__((warn_unused_result));

/* An API endpoint for SDK snippets: "HOST:PORT", or "http(s)://HOST[:PORT]" with an optional
 * trailing '/'. HOST is a DNS name, IPv4 address or [IPv6]. */
struct ctl_endpoint {
	bool https;
	char hostport[CTL_HOST_MAX + 8]; /* "HOST[:PORT]" as the SDKs' `endpoint` wants it */
};
int ctl_parse_endpoint(const char *s, struct ctl_endpoint *ret) __attribute__((warn_unused_result));

#endif
