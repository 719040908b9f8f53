/* intake_image — Base64 input decoding and JPEG/PNG header probing (intake_image.h). */
#include "intake/intake_image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int probe_png(const uint8_t *p, size_t n, struct intake_image_info *ret)
{
	/* signature(8) | length(4) | "IHDR" | width(4) | height(4) ... */
	if (n < 24 || be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0)
		return -EBADMSG;
	ret->width = be32(p + 16);
	ret->height = be32(p + 20);
	if (ret->width == 0 || ret->height == 0 || ret->width > 0x7fffffff ||
	    ret->height > 0x7fffffff)
		return -EBADMSG;
	return 0;
}

static bool jpeg_sof(uint8_t m)
{
	/* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int probe_jpeg(const uint8_t *p, size_t n, struct intake_image_info *ret)
{
	size_t i = 2;
	while (i + 4 <= n) {
		if (p[i] != 0xFF)
			return -EBADMSG;
		uint8_t m = p[i + 1];
		if (m == 0xFF) { /* fill byte */
			i++;
			continue;
		}
		if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
			i += 2;
			continue;
		}
		if (m == 0xD9 || m == 0xDA) /* end of image or scan data before any SOF */
			return -EBADMSG;
		size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
		if (len < 2 || i + 2 + len > n)
			return -EBADMSG;
		if (jpeg_sof(m)) {
			if (len < 7)
				return -EBADMSG;
			ret->height = (uint32_t)p[i + 5] << 8 | p[i + 6];
			ret->width = (uint32_t)p[i + 7] << 8 | p[i + 8];
			return ret->width && ret->height ? 0 : -EBADMSG;
		}
		i += 2 + len;
	}
	return -EBADMSG;
}

int intake_image_probe(const uint8_t *p, size_t n, struct intake_image_info *ret)
{
	static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
	*ret = (struct intake_image_info){0};
	if (n >= 8 && memcmp(p, png_sig, 8) == 0) {
		ret->type = INTAKE_IMAGE_PNG;
		ret->mime = "image/png";
		return probe_png(p, n, ret);
	}
	if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
		ret->type = INTAKE_IMAGE_JPEG;
		ret->mime = "image/jpeg";
		return probe_jpeg(p, n, ret);
	}
	return -EINVAL;
}

enum intake_b64_status intake_image_b64_decode(const char *s, size_t n, size_t max, uint8_t **ret,
					       size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	if (n >= 5 && strncmp(s, "data:", 5) == 0)
		return INTAKE_B64_DATA_URL;
	char *clean = malloc(n + 1);
	if (!clean)
		return INTAKE_B64_NO_MEMORY;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		clean[m++] = s[i] == ' ' ? '+' : s[i];
	}
	enum intake_b64_status st = INTAKE_B64_OK;
	uint8_t *out = NULL;
	if (m == 0) {
		st = INTAKE_B64_EMPTY;
		goto out;
	}
	size_t dmax = crypto_b64_dec_max(m);
	/* A valid encoding of more than `max` bytes is at least 4*ceil((max+1)/3) characters
	 * minus padding: checking the decoded length afterwards is exact, this bounds memory. */
	if (dmax > max + 3) {
		st = INTAKE_B64_TOO_LARGE;
		goto out;
	}
	out = malloc(dmax ? dmax : 1);
	if (!out) {
		st = INTAKE_B64_NO_MEMORY;
		goto out;
	}
	long dl = crypto_b64_decode(clean, m, out, dmax);
	if (dl < 0) {
		st = INTAKE_B64_INVALID;
	} else if ((size_t)dl > max) {
		st = INTAKE_B64_TOO_LARGE;
	} else {
		*ret = out;
		*ret_len = (size_t)dl;
		out = NULL;
	}
out:
	free(out);
	free(clean);
	return st;
}
