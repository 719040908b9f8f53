/* crypto — hashes, HMAC, strict Base64, AES-256-GCM sealing, CSPRNG and constant-time helpers
 * on OpenSSL 3 (see crypto.h). Every OpenSSL call is bracketed by an error-queue mark so that a
 * failure here never leaves stale entries behind for a later SSL_get_error() on the same thread. */
#include "common/crypto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SEAL_VERSION   0x01
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_HDR_LEN   (1 + SEAL_NONCE_LEN)

/* EVP lengths are int: longer inputs are fed in chunks of this size. */
#define EVP_CHUNK ((size_t)1 << 30)

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- hashes and HMAC ---- */

static const char *hash_name(enum crypto_hash h)
{
	switch (h) {
	case CRYPTO_HASH_SHA1:
		return "SHA1";
	case CRYPTO_HASH_SHA256:
		return "SHA256";
	case CRYPTO_HASH_SM3:
		return "SM3";
	}
	return NULL;
}

size_t crypto_hash_len(enum crypto_hash h)
{
	switch (h) {
	case CRYPTO_HASH_SHA1:
		return CRYPTO_SHA1_LEN;
	case CRYPTO_HASH_SHA256:
		return CRYPTO_SHA256_LEN;
	case CRYPTO_HASH_SM3:
		return CRYPTO_SM3_LEN;
	}
	return 0;
}

/* The caller owns the result (EVP_MD_free). NULL when the provider lacks the algorithm. */
static EVP_MD *hash_fetch(enum crypto_hash h)
{
	const char *name = hash_name(h);
	return name ? EVP_MD_fetch(NULL, name, NULL) : NULL;
}

bool crypto_have_sm3(void)
{
	ERR_set_mark();
	EVP_MD *md = hash_fetch(CRYPTO_HASH_SM3);
	ERR_pop_to_mark();
	EVP_MD_free(md);
	return md != NULL;
}

int crypto_hash(enum crypto_hash h, const void *data, size_t len, uint8_t *out)
{
	EVP_MD *md;
	int r;

	if (!crypto_hash_len(h) || !out || (!data && len))
		return -EINVAL;
	ERR_set_mark();
	md = hash_fetch(h);
	if (!md)
		r = -ENOTSUP;
	else
		r = EVP_Digest(len ? data : "", len, out, NULL, md, NULL) ? 0 : -EIO;
	EVP_MD_free(md);
	ERR_pop_to_mark();
	return r;
}

int crypto_hmac(enum crypto_hash h, const void *key, size_t keylen, const void *data, size_t len,
		uint8_t *out)
{
	static const uint8_t no_key;
	size_t hlen = crypto_hash_len(h);
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	EVP_MD *md = NULL;
	size_t outlen = 0;
	int r;

	if (!hlen || !out || (!key && keylen) || (!data && len))
		return -EINVAL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)hash_name(h), 0),
		OSSL_PARAM_construct_end(),
	};
	ERR_set_mark();
	md = hash_fetch(h); /* only to tell a missing digest (-ENOTSUP) from a failure */
	if (!md) {
		r = -ENOTSUP;
		goto out;
	}
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx) {
		r = -EIO;
		goto out;
	}
	/* A NULL key means "keep the previous key" to EVP_MAC_init(): an empty key needs a
	 * non-NULL pointer. */
	if (!EVP_MAC_init(ctx, keylen ? key : &no_key, keylen, params)) {
		r = -EIO;
		goto out;
	}
	if (len && !EVP_MAC_update(ctx, data, len)) {
		r = -EIO;
		goto out;
	}
	r = EVP_MAC_final(ctx, out, &outlen, hlen) && outlen == hlen ? 0 : -EIO;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	EVP_MD_free(md);
	ERR_pop_to_mark();
	return r;
}

/* ---- hex ---- */

int crypto_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void crypto_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* ---- Base64 ---- */

size_t crypto_b64_enc_len(size_t len)
{
	return (len + 2) / 3 * 4 + 1;
}

void crypto_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

size_t crypto_b64_dec_max(size_t len)
{
	return len / 4 * 3;
}

/* Branch-free character classification: the text decoded here may be key material, so the
 * work done must not depend on its value. Each mask is 0xff when the relation holds, else 0. */
static unsigned ct_ge(unsigned a, unsigned b)
{
	return (unsigned)(((int)b - (int)a - 1) >> 8) & 0xff;
}

static unsigned ct_range(unsigned c, unsigned lo, unsigned hi)
{
	return ct_ge(c, lo) & ct_ge(hi, c);
}

static unsigned ct_eq(unsigned a, unsigned b)
{
	return ct_ge(a, b) & ct_ge(b, a);
}

/* Value of a Base64 character, or 0xff. */
static unsigned b64_val(unsigned char c)
{
	unsigned x = (ct_range(c, 'A', 'Z') & (c - 'A')) |
		     (ct_range(c, 'a', 'z') & (c - 'a' + 26)) |
		     (ct_range(c, '0', '9') & (c - '0' + 52)) | (ct_eq(c, '+') & 62) |
		     (ct_eq(c, '/') & 63);
	/* x == 0 is either 'A' or an invalid character */
	return x | (ct_eq(x, 0) & (ct_eq(c, 'A') ^ 0xff));
}

/* Value of a hex digit (either case), or 0xff. */
static unsigned hex_val(unsigned char c)
{
	unsigned x = (ct_range(c, '0', '9') & (c - '0')) |
		     (ct_range(c, 'a', 'f') & (c - 'a' + 10)) |
		     (ct_range(c, 'A', 'F') & (c - 'A' + 10));
	return x | (ct_eq(x, 0) & (ct_eq(c, '0') ^ 0xff));
}

long crypto_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, o = 0;

	if (len % 4 || len > LONG_MAX || (!in && len))
		return -EINVAL;
	if (len) {
		if (s[len - 1] == '=')
			pad = s[len - 2] == '=' ? 2 : 1;
	}
	size_t outlen = len / 4 * 3 - pad;

	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		unsigned a = b64_val(s[i]), b = b64_val(s[i + 1]);
		unsigned c = last && pad == 2 ? 0 : b64_val(s[i + 2]);
		unsigned d = last && pad ? 0 : b64_val(s[i + 3]);
		if ((a | b | c | d) & 0xc0)
			return -EINVAL; /* bad character, including '=' before the end */
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		/* Canonical form only: the bits a padded group drops must be zero, so that every
		 * byte string has exactly one accepted encoding. */
		if (last && ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff))))
			return -EINVAL;
		uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
		size_t n = last ? 3 - pad : 3;
		for (size_t k = 0; k < n; k++, o++) {
			if (o < cap)
				out[o] = bytes[k];
		}
	}
	if (outlen > cap)
		return -ENOSPC;
	return (long)outlen;
}

/* ---- random ---- */

int crypto_random(void *out, size_t len)
{
	uint8_t *p = out;
	int r = 0;

	if (!out && len)
		return -EINVAL;
	ERR_set_mark();
	while (len) {
		size_t n = len < EVP_CHUNK ? len : EVP_CHUNK;
		if (RAND_bytes(p, (int)n) != 1) {
			r = -EIO;
			break;
		}
		p += n;
		len -= n;
	}
	ERR_pop_to_mark();
	return r;
}

int crypto_uuid4(char out[37])
{
	uint8_t b[16];
	int r = crypto_random(b, sizeof(b));
	if (r < 0)
		return r;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
	char hex[33];
	crypto_hex(b, sizeof(b), hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
	return 0;
}

/* ---- comparison and wiping ---- */

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return len == 0 || CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

/* ---- AES-256-GCM sealing ---- */

/* Feeds `len` bytes through EVP_CipherUpdate in int-sized chunks; `out` NULL feeds AAD. */
static int cipher_update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len) {
		int n = (int)(len < EVP_CHUNK ? len : EVP_CHUNK), outl = 0;
		if (!EVP_CipherUpdate(ctx, out, &outl, in, n) || outl != n)
			return -EIO;
		if (out)
			out += n;
		in += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sets up `ctx` for `enc` (1 seal, 0 open) with key, nonce and AAD = version byte || aad. */
static int gcm_start(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *key, const uint8_t *hdr,
		     const void *aad, size_t aadlen)
{
	if (!EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, hdr + 1, enc))
		return -EIO;
	if (cipher_update(ctx, NULL, hdr, 1) < 0 || cipher_update(ctx, NULL, aad, aadlen) < 0)
		return -EIO;
	return 0;
}

long crypto_seal(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *aad, size_t aadlen,
		 const void *in, size_t len, uint8_t *out, size_t cap)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t fin[SEAL_TAG_LEN]; /* GCM's final step emits no bytes */
	int outl = 0;
	long r;

	if (!key || !out || (!aad && aadlen) || (!in && len))
		return -EINVAL;
	if (len > (size_t)LONG_MAX - CRYPTO_SEAL_OVERHEAD)
		return -EMSGSIZE;
	if (cap < len + CRYPTO_SEAL_OVERHEAD)
		return -ENOSPC;

	out[0] = SEAL_VERSION;
	r = crypto_random(out + 1, SEAL_NONCE_LEN);
	if (r < 0)
		return r;
	ERR_set_mark();
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || gcm_start(ctx, 1, key, out, aad, aadlen) < 0 ||
	    cipher_update(ctx, out + SEAL_HDR_LEN, in, len) < 0 ||
	    !EVP_CipherFinal_ex(ctx, fin, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
				 out + SEAL_HDR_LEN + len)) {
		crypto_wipe(out, len + CRYPTO_SEAL_OVERHEAD);
		r = -EIO;
		goto out;
	}
	r = (long)(len + CRYPTO_SEAL_OVERHEAD);
out:
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	ERR_pop_to_mark();
	return r;
}

long crypto_open(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *aad, size_t aadlen,
		 const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag[SEAL_TAG_LEN], fin[SEAL_TAG_LEN];
	int outl = 0;
	long r;

	if (!key || (!aad && aadlen) || (!in && len) || (!out && cap))
		return -EINVAL;
	if (len < CRYPTO_SEAL_OVERHEAD || len > LONG_MAX || in[0] != SEAL_VERSION)
		return -EBADMSG;
	size_t ctlen = len - CRYPTO_SEAL_OVERHEAD;
	if (cap < ctlen)
		return -ENOSPC;

	/* The tag is copied out because EVP_CTRL_GCM_SET_TAG takes a non-const pointer. */
	memcpy(tag, in + SEAL_HDR_LEN + ctlen, SEAL_TAG_LEN);
	ERR_set_mark();
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || gcm_start(ctx, 0, key, in, aad, aadlen) < 0 ||
	    cipher_update(ctx, out, in + SEAL_HDR_LEN, ctlen) < 0 ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag)) {
		r = -EIO;
		goto fail;
	}
	if (EVP_CipherFinal_ex(ctx, fin, &outl) != 1) {
		r = -EBADMSG;
		goto fail;
	}
	r = (long)ctlen;
	goto out;
fail:
	/* Never hand back plaintext that did not authenticate. */
	crypto_wipe(out, ctlen);
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_pop_to_mark();
	return r;
}

/* ---- key parsing ---- */

int crypto_parse_key(const char *text, uint8_t out[CRYPTO_AES_KEY_LEN])
{
	/* Base64 of 32 bytes is 44 characters and decodes to 32; hex is 64 digits. */
	uint8_t tmp[33];
	size_t b, e;
	int r = -EINVAL;

	if (!text || !out)
		return -EINVAL;
	for (b = 0; text[b] == ' ' || (text[b] >= '\t' && text[b] <= '\r'); b++)
		;
	for (e = b + strlen(text + b);
	     e > b && (text[e - 1] == ' ' || (text[e - 1] >= '\t' && text[e - 1] <= '\r')); e--)
		;

	if (e - b == 2 * CRYPTO_AES_KEY_LEN) {
		r = 0;
		for (size_t i = 0; i < CRYPTO_AES_KEY_LEN; i++) {
			unsigned hi = hex_val((unsigned char)text[b + 2 * i]);
			unsigned lo = hex_val((unsigned char)text[b + 2 * i + 1]);
			if ((hi | lo) & 0xf0)
				r = -EINVAL;
			tmp[i] = (uint8_t)(hi << 4 | lo);
		}
	} else if (e - b == 44) {
		long n = crypto_b64_decode(text + b, e - b, tmp, sizeof(tmp));
		r = n == CRYPTO_AES_KEY_LEN ? 0 : -EINVAL;
	}
	if (r == 0)
		memcpy(out, tmp, CRYPTO_AES_KEY_LEN);
	else
		crypto_wipe(out, CRYPTO_AES_KEY_LEN);
	crypto_wipe(tmp, sizeof(tmp));
	return r;
}
