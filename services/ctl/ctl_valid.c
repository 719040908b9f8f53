/* ctl_valid — input rules for shirenctl (ctl_valid.h). Pure; ASCII rules spelt out by hand so
 * the locale never matters. */
#include "ctl/ctl_valid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const capture_products[] = {"ID_PRO", "ID_PLUS", "PV_FV", "LR_FR", "MFVC"};
static const char *const server_products[] = {"ID_MIN", "LR_FR_MIN", "PV_FC"};
static const char *const capture_models[] = {"LIVENESS",    "PHOTINUS_LIVENESS", "MULTI_ACTION",
					     "MOVE_ACTION", "MOVE_PHOTINUS",	 "MULTI_FAPTCHA"};
static const char SERVER_MODEL[] = "FRONT_CAMERA_LIVENESS";

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static bool is_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
static bool valid_word(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64 || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool ctl_looks_like_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

bool ctl_valid_tenant_name(const char *s)
{
	return valid_word(s) && !ctl_looks_like_uuid(s);
}

bool ctl_valid_oss_target(const char *s)
{
	return valid_word(s);
}

bool ctl_valid_key_id(const char *s)
{
	size_t pl = strlen(CTL_KEY_ID_PREFIX);
	if (strlen(s) != CTL_KEY_ID_LEN || strncmp(s, CTL_KEY_ID_PREFIX, pl) != 0)
		return false;
	for (size_t i = pl; i < CTL_KEY_ID_LEN; i++)
		if (!is_alnum(s[i]))
			return false;
	return true;
}

/* Length of the UTF-8 sequence at `p` (shortest form, no surrogates, <= U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if ((p[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = p[0] & 0x1F;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = p[0] & 0x0F;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cp >= 0x80 && cp <= 0x9F) /* C1 controls */
		return 0;
	return n;
}

bool ctl_valid_scene_name(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;
	while (*p) {
		if (*p < 0x20 || *p == 0x7F)
			return false;
		size_t n = utf8_seq(p);
		if (!n)
			return false;
		p += n;
		chars++;
	}
	return chars >= 1 && chars <= 64;
}

bool ctl_valid_product(const char *s)
{
	return in_list(s, capture_products, N_OF(capture_products)) ||
	       in_list(s, server_products, N_OF(server_products));
}

bool ctl_valid_model(const char *s)
{
	return in_list(s, capture_models, N_OF(capture_models)) || strcmp(s, SERVER_MODEL) == 0;
}

int ctl_check_product_model(const char *product, const char *model, char *err, size_t errlen)
{
	if (!ctl_valid_product(product)) {
		snprintf(err, errlen,
			 "unknown product code '%s' (expected ID_PRO, ID_PLUS, PV_FV, LR_FR, MFVC, "
			 "ID_MIN, LR_FR_MIN or PV_FC)",
			 product);
		return -EINVAL;
	}
	if (!ctl_valid_model(model)) {
		snprintf(err, errlen,
			 "unknown model '%s' (expected LIVENESS, PHOTINUS_LIVENESS, MULTI_ACTION, "
			 "MOVE_ACTION, MOVE_PHOTINUS, MULTI_FAPTCHA or FRONT_CAMERA_LIVENESS)",
			 model);
		return -EINVAL;
	}
	bool server = in_list(product, server_products, N_OF(server_products));
	if (server && strcmp(model, SERVER_MODEL) != 0) {
		snprintf(err, errlen, "product %s is called server-side and takes model %s, not %s",
			 product, SERVER_MODEL, model);
		return -EINVAL;
	}
	if (!server && strcmp(model, SERVER_MODEL) == 0) {
		snprintf(err, errlen,
			 "model %s is for server-side products (ID_MIN, LR_FR_MIN, PV_FC); %s is "
			 "a capture flow and takes an interactive model such as LIVENESS",
			 SERVER_MODEL, product);
		return -EINVAL;
	}
	return 0;
}

static bool valid_port(const char *p, size_t n)
{
	if (n < 1 || n > 5)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* A DNS name / IPv4 address, or "[...]" with hex digits, ':' and '.' inside. */
static bool valid_host(const char *h, size_t n)
{
	if (n < 1 || n > CTL_HOST_MAX)
		return false;
	if (h[0] == '[') {
		if (n < 4 || h[n - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!is_hex(h[i]) && h[i] != ':' && h[i] != '.')
				return false;
		return true;
	}
	if (h[0] == '.' || h[0] == '-' || h[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(h[i]) && h[i] != '.' && h[i] != '-')
			return false;
	return true;
}

/* Split "HOST[:PORT]" of length n; *ret_hostlen is the host's length. */
static bool split_authority(const char *a, size_t n, bool need_port, size_t *ret_hostlen)
{
	const char *colon = NULL;
	const char *close = a[0] == '[' ? memchr(a, ']', n) : NULL;
	const char *from = close ? close : a;
	colon = memchr(from, ':', n - (size_t)(from - a));
	size_t hl = colon ? (size_t)(colon - a) : n;
	if (colon && !valid_port(colon + 1, n - hl - 1))
		return false;
	if (need_port && !colon)
		return false;
	*ret_hostlen = hl;
	return valid_host(a, hl);
}

int ctl_check_url(const char *url, char *err, size_t errlen)
{
	size_t n = strlen(url);
	const char *rest;
	if (n > CTL_URL_MAX) {
		snprintf(err, errlen, "URL is longer than %d bytes", CTL_URL_MAX);
		return -EINVAL;
	}
	if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else {
		snprintf(err, errlen, "'%s' is not an http:// or https:// URL", url);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7F) {
			snprintf(err, errlen,
				 "URL contains a space, a control or a non-ASCII character "
				 "(percent-encode it)");
			return -EINVAL;
		}
	}
	size_t al = strcspn(rest, "/?#");
	if (memchr(rest, '@', al)) {
		snprintf(err, errlen, "URL must not carry user info (user:password@)");
		return -EINVAL;
	}
	size_t hl;
	if (!split_authority(rest, al, false, &hl)) {
		snprintf(err, errlen, "'%s' has no valid host[:port]", url);
		return -EINVAL;
	}
	return 0;
}

int ctl_parse_endpoint(const char *s, struct ctl_endpoint *ret)
{
	memset(ret, 0, sizeof(*ret));
	bool scheme = true;
	if (strncmp(s, "https://", 8) == 0) {
		ret->https = true;
		s += 8;
	} else if (strncmp(s, "http://", 7) == 0) {
		s += 7;
	} else {
		scheme = false;
	}
	size_t n = strlen(s);
	if (scheme && n > 0 && s[n - 1] == '/')
		n--;
	size_t hl;
	if (n >= sizeof(ret->hostport) || !split_authority(s, n, !scheme, &hl))
		return -EINVAL;
	memcpy(ret->hostport, s, n);
	ret->hostport[n] = '\0';
	return 0;
}
