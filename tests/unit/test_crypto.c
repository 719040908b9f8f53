/* Unit tests for common/crypto: digest and HMAC known answers, hex, strict Base64, AES-GCM
 * sealing (format, tampering, AAD binding), UUIDs, constant-time compare, key parsing. */
#include "common/crypto.h"

#include <errno.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "unit.h"

/* Hex of the digest or MAC of `h` over `data` ("" on error), in a static buffer. */
static const char *hash_hex(enum crypto_hash h, const void *data, size_t len)
{
	static char hex[2 * 64 + 1];
	uint8_t md[64];
	if (crypto_hash(h, data, len, md) != 0)
		return "";
	crypto_hex(md, crypto_hash_len(h), hex);
	return hex;
}

static const char *hmac_hex(enum crypto_hash h, const void *key, size_t keylen, const void *data,
			    size_t len)
{
	static char hex[2 * 64 + 1];
	uint8_t md[64];
	if (crypto_hmac(h, key, keylen, data, len, md) != 0)
		return "";
	crypto_hex(md, crypto_hash_len(h), hex);
	return hex;
}

static void test_hash_known_answers(void)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	CHECK_INT(crypto_hash_len(CRYPTO_HASH_SHA1), 20);
	CHECK_INT(crypto_hash_len(CRYPTO_HASH_SHA256), 32);
	CHECK_INT(crypto_hash_len(CRYPTO_HASH_SM3), 32);
	CHECK_INT(crypto_hash_len((enum crypto_hash)99), 0);

	/* FIPS 180-2 examples */
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA1, "abc", 3), "a9993e364706816aba3e25717850c26c9cd0d89d");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA1, "", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA1, NULL, 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA1, two_blocks, sizeof(two_blocks) - 1),
		  "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA256, "abc", 3),
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA256, "", 0),
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK_STR(hash_hex(CRYPTO_HASH_SHA256, two_blocks, sizeof(two_blocks) - 1),
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_hash_errors(void)
{
	uint8_t md[32];
	CHECK_INT(crypto_hash((enum crypto_hash)99, "abc", 3, md), -EINVAL);
	CHECK_INT(crypto_hash(CRYPTO_HASH_SHA256, NULL, 1, md), -EINVAL);
	CHECK_INT(crypto_hash(CRYPTO_HASH_SHA256, "abc", 3, NULL), -EINVAL);
	CHECK_INT(crypto_hmac((enum crypto_hash)99, "k", 1, "abc", 3, md), -EINVAL);
	CHECK_INT(crypto_hmac(CRYPTO_HASH_SHA256, NULL, 1, "abc", 3, md), -EINVAL);
	CHECK_INT(crypto_hmac(CRYPTO_HASH_SHA256, "k", 1, NULL, 3, md), -EINVAL);
}

static void test_sm3(void)
{
	uint8_t md[32];
	if (!crypto_have_sm3()) {
		fprintf(stderr, "  note: OpenSSL offers no SM3, checking -ENOTSUP only\n");
		CHECK_INT(crypto_hash(CRYPTO_HASH_SM3, "abc", 3, md), -ENOTSUP);
		CHECK_INT(crypto_hmac(CRYPTO_HASH_SM3, "k", 1, "abc", 3, md), -ENOTSUP);
		return;
	}
	/* GB/T 32905-2016, examples 1 and 2 */
	CHECK_STR(hash_hex(CRYPTO_HASH_SM3, "abc", 3),
		  "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
	static const char abcd16[] =
		"abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";
	CHECK_STR(hash_hex(CRYPTO_HASH_SM3, abcd16, 64),
		  "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
	CHECK_INT(crypto_hmac(CRYPTO_HASH_SM3, "k", 1, "abc", 3, md), 0);
}

static void test_hmac_sha1_rfc2202(void)
{
	uint8_t k0b[20], kaa[80], ddd[50];
	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa, 0xaa, sizeof(kaa));
	memset(ddd, 0xdd, sizeof(ddd));
	static const char big_key[] = "Test Using Larger Than Block-Size Key - Hash Key First";

	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA1, k0b, 20, "Hi There", 8),
		  "b617318655057264e28bc0b6fb378c8ef146be00");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA1, "Jefe", 4, "what do ya want for nothing?", 28),
		  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA1, kaa, 20, ddd, 50),
		  "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA1, kaa, 80, big_key, sizeof(big_key) - 1),
		  "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

static void test_hmac_sha256_rfc4231(void)
{
	uint8_t k0b[20], kaa[131], ddd[50];
	memset(k0b, 0x0b, sizeof(k0b));
	memset(kaa, 0xaa, sizeof(kaa));
	memset(ddd, 0xdd, sizeof(ddd));
	static const char t6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char t7[] = "This is a test using a larger than block-size key and a larger "
				 "than block-size data. The key needs to be hashed before being "
				 "used by the HMAC algorithm.";

	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, k0b, 20, "Hi There", 8),
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, "Jefe", 4, "what do ya want for nothing?", 28),
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, kaa, 20, ddd, 50),
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, kaa, 131, t6, sizeof(t6) - 1),
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, kaa, 131, t7, sizeof(t7) - 1),
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
	/* Empty key and empty message: a NULL key must not mean "no key set" */
	CHECK_STR(hmac_hex(CRYPTO_HASH_SHA256, NULL, 0, NULL, 0),
		  "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_hex(void)
{
	static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(in) + 1];
	crypto_hex(in, sizeof(in), out);
	CHECK_STR(out, "00017f80abff");
	out[0] = 'x';
	crypto_hex(in, 0, out);
	CHECK_STR(out, "");
}

/* RFC 4648 section 10 */
static const struct {
	const char *raw, *b64;
} rfc4648[] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void test_b64_rfc4648(void)
{
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const char *raw = rfc4648[i].raw, *b64 = rfc4648[i].b64;
		size_t rlen = strlen(raw), blen = strlen(b64);
		char enc[16];
		uint8_t dec[16];

		CHECK_INT(crypto_b64_enc_len(rlen), blen + 1);
		crypto_b64_encode((const uint8_t *)raw, rlen, enc);
		CHECK_STR(enc, b64);

		CHECK(crypto_b64_dec_max(blen) >= rlen);
		memset(dec, 0xee, sizeof(dec));
		long n = crypto_b64_decode(b64, blen, dec, sizeof(dec));
		CHECK_INT(n, rlen);
		CHECK(memcmp(dec, raw, rlen) == 0);
		CHECK(dec[rlen] == 0xee);
		/* exactly enough room */
		CHECK_INT(crypto_b64_decode(b64, blen, dec, rlen), rlen);
	}
	CHECK_INT(crypto_b64_decode(NULL, 0, NULL, 0), 0);
}

static void test_b64_all_bytes(void)
{
	uint8_t raw[256], dec[256];
	char enc[345];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)i;
	for (size_t len = 0; len <= sizeof(raw); len += 1) {
		REQUIRE(crypto_b64_enc_len(len) <= sizeof(enc));
		crypto_b64_encode(raw, len, enc);
		CHECK_INT(strlen(enc), crypto_b64_enc_len(len) - 1);
		CHECK_INT(crypto_b64_decode(enc, strlen(enc), dec, sizeof(dec)), len);
		CHECK(memcmp(dec, raw, len) == 0);
	}
	crypto_b64_encode((const uint8_t *)"\xfb\xff\xbf", 3, enc);
	CHECK_STR(enc, "+/+/");
}

static void test_b64_malformed(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
	} bad[] = {
		{"Z", 0},	 {"Zg", 0},	  {"Zg=", 0},	  {"Zm9", 0},	    {"Zm9vY", 0},
		{"Zg===", 0},	 {"Zh==", 0}, /* non-zero trailing bits; "Zg==" is the canonical "f" */
		{"Zm9=", 0},		      /* ditto for "fo" ("Zm8=") */
		{"Zm9vYmF=", 0}, {"Zg==Zg==", 0}, /* '=' in the middle */
		{"Zm9v====", 0}, {"Zg=A", 0},	  {"Z=g=", 0},	  {"=Zg=", 0},	    {"Z===", 0},
		{"====", 0},	 {"Zm-v", 0}, /* URL-safe alphabet */
		{"Zm_v", 0},	 {"Zm9v\n", 0},	  {" Zm9v", 0},	  {"Zm9v YmFy", 0}, {"Zm9\r", 0},
		{"Zm.v", 0},	 {"Zm9\xff", 0},  {"Zm9\x80", 0}, {"Zm\0v", 4}, /* embedded NUL */
	};
	uint8_t out[16];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		long n = crypto_b64_decode(bad[i].in, len, out, sizeof(out));
		if (n != -EINVAL)
			fprintf(stderr, "  bad[%zu] \"%s\" decoded to %ld\n", i, bad[i].in, n);
		CHECK_INT(n, -EINVAL);
		/* a short buffer does not hide malformed input */
		CHECK_INT(crypto_b64_decode(bad[i].in, len, out, 0), -EINVAL);
	}
	CHECK_INT(crypto_b64_decode("Zg==", 4, out, sizeof(out)), 1);
	CHECK_INT(out[0], 'f');
}

static void test_b64_enospc(void)
{
	uint8_t out[8];
	memset(out, 0xee, sizeof(out));
	CHECK_INT(crypto_b64_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	for (size_t i = 5; i < sizeof(out); i++)
		CHECK(out[i] == 0xee);
	CHECK_INT(crypto_b64_decode("Zm9vYmFy", 8, out, 0), -ENOSPC);
	CHECK_INT(crypto_b64_decode("Zm9vYg==", 8, out, 3), -ENOSPC);
	memset(out, 0xee, sizeof(out));
	CHECK_INT(crypto_b64_decode("Zm9vYg==", 8, out, 4), 4);
	CHECK(out[4] == 0xee);
	CHECK_INT(crypto_b64_dec_max(0), 0);
	CHECK_INT(crypto_b64_dec_max(8), 6);
}

static const uint8_t test_key[CRYPTO_AES_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
	0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
	0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const char test_aad[] = "certify:42";
static const char test_msg[] = "110101199003071234";

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_seal_round_trip(void)
{
	size_t mlen = sizeof(test_msg) - 1, alen = sizeof(test_aad) - 1;
	uint8_t blob[64], out[64];

	long n = crypto_seal(test_key, test_aad, alen, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n == (long)(mlen + CRYPTO_SEAL_OVERHEAD));
	CHECK_INT(blob[0], 0x01);
	CHECK(memcmp(blob + 13, test_msg, mlen) != 0);
	CHECK_INT(crypto_open(test_key, test_aad, alen, blob, (size_t)n, out, sizeof(out)), mlen);
	CHECK(memcmp(out, test_msg, mlen) == 0);
	/* exact capacity on both sides */
	CHECK_INT(crypto_seal(test_key, test_aad, alen, test_msg, mlen, blob, (size_t)n), n);
	CHECK_INT(crypto_open(test_key, test_aad, alen, blob, (size_t)n, out, mlen), mlen);

	/* no AAD, empty plaintext */
	n = crypto_seal(test_key, NULL, 0, NULL, 0, blob, sizeof(blob));
	CHECK_INT(n, CRYPTO_SEAL_OVERHEAD);
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n, NULL, 0), 0);
	CHECK_INT(crypto_open(test_key, "x", 1, blob, (size_t)n, NULL, 0), -EBADMSG);
}

static void test_seal_large(void)
{
	size_t len = 100000;
	uint8_t *msg = malloc(len), *blob = malloc(len + CRYPTO_SEAL_OVERHEAD), *out = malloc(len);
	REQUIRE(msg && blob && out);
	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	long n = crypto_seal(test_key, "t", 1, msg, len, blob, len + CRYPTO_SEAL_OVERHEAD);
	CHECK_INT(n, len + CRYPTO_SEAL_OVERHEAD);
	CHECK_INT(crypto_open(test_key, "t", 1, blob, (size_t)n, out, len), len);
	CHECK(memcmp(msg, out, len) == 0);
	free(msg);
	free(blob);
	free(out);
}

/* The blob format is a contract with anything else that opens these blobs: decrypt with raw
 * EVP calls, AAD = version byte || aad. */
static void test_seal_format(void)
{
	size_t mlen = sizeof(test_msg) - 1, alen = sizeof(test_aad) - 1;
	uint8_t blob[64], out[64], aad[64];
	int l1 = 0, l2 = 0;

	long n = crypto_seal(test_key, test_aad, alen, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n == (long)(mlen + CRYPTO_SEAL_OVERHEAD));
	aad[0] = 0x01;
	memcpy(aad + 1, test_aad, alen);

	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	REQUIRE(ctx);
	CHECK(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, test_key, blob + 1) == 1);
	CHECK(EVP_DecryptUpdate(ctx, NULL, &l1, aad, (int)alen + 1) == 1);
	CHECK(EVP_DecryptUpdate(ctx, out, &l1, blob + 13, (int)mlen) == 1);
	CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, blob + 13 + mlen) == 1);
	CHECK(EVP_DecryptFinal_ex(ctx, out + l1, &l2) == 1);
	EVP_CIPHER_CTX_free(ctx);
	CHECK_INT(l1 + l2, mlen);
	CHECK(memcmp(out, test_msg, mlen) == 0);
}

static void test_seal_tamper(void)
{
	size_t mlen = sizeof(test_msg) - 1, alen = sizeof(test_aad) - 1;
	uint8_t blob[64], bad[64], out[64];

	long n = crypto_seal(test_key, test_aad, alen, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n == (long)(mlen + CRYPTO_SEAL_OVERHEAD));
	for (size_t i = 0; i < (size_t)n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(bad, blob, (size_t)n);
			bad[i] ^= (uint8_t)(1u << bit);
			memset(out, 0xa5, sizeof(out));
			long r = crypto_open(test_key, test_aad, alen, bad, (size_t)n, out,
					     sizeof(out));
			if (r != -EBADMSG)
				fprintf(stderr, "  byte %zu bit %u: %ld\n", i, bit, r);
			CHECK_INT(r, -EBADMSG);
			/* no unauthenticated plaintext is left behind */
			if (i > 0)
				CHECK(all_zero(out, mlen));
		}
	}
	/* still opens untouched */
	CHECK_INT(crypto_open(test_key, test_aad, alen, blob, (size_t)n, out, sizeof(out)), mlen);
}

static void test_seal_wrong_context(void)
{
	size_t mlen = sizeof(test_msg) - 1, alen = sizeof(test_aad) - 1;
	uint8_t blob[64], out[64], key2[CRYPTO_AES_KEY_LEN];

	long n = crypto_seal(test_key, test_aad, alen, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n > 0);
	CHECK_INT(crypto_open(test_key, "certify:43", alen, blob, (size_t)n, out, sizeof(out)),
		  -EBADMSG);
	CHECK_INT(crypto_open(test_key, test_aad, alen - 1, blob, (size_t)n, out, sizeof(out)),
		  -EBADMSG);
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n, out, sizeof(out)), -EBADMSG);
	memcpy(key2, test_key, sizeof(key2));
	key2[31] ^= 0x80;
	CHECK_INT(crypto_open(key2, test_aad, alen, blob, (size_t)n, out, sizeof(out)), -EBADMSG);
	/* an AAD-less blob does not open under an AAD */
	n = crypto_seal(test_key, NULL, 0, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n > 0);
	CHECK_INT(crypto_open(test_key, "", 0, blob, (size_t)n, out, sizeof(out)), mlen);
	CHECK_INT(crypto_open(test_key, test_aad, alen, blob, (size_t)n, out, sizeof(out)),
		  -EBADMSG);
}

static void test_seal_truncated(void)
{
	size_t mlen = sizeof(test_msg) - 1;
	uint8_t blob[64], out[64];

	long n = crypto_seal(test_key, NULL, 0, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n == (long)(mlen + CRYPTO_SEAL_OVERHEAD));
	for (size_t len = 0; len < (size_t)n; len++)
		CHECK_INT(crypto_open(test_key, NULL, 0, blob, len, out, sizeof(out)), -EBADMSG);
	/* dropping the first byte instead of the last */
	CHECK_INT(crypto_open(test_key, NULL, 0, blob + 1, (size_t)n - 1, out, sizeof(out)),
		  -EBADMSG);
	/* one byte too many */
	blob[n] = 0;
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n + 1, out, sizeof(out)), -EBADMSG);
}

static void test_seal_nonce_random(void)
{
	size_t mlen = sizeof(test_msg) - 1;
	uint8_t a[64], b[64];
	long na = crypto_seal(test_key, NULL, 0, test_msg, mlen, a, sizeof(a));
	long nb = crypto_seal(test_key, NULL, 0, test_msg, mlen, b, sizeof(b));
	REQUIRE(na > 0 && na == nb);
	CHECK(memcmp(a, b, (size_t)na) != 0);
	CHECK(memcmp(a + 1, b + 1, 12) != 0);
	CHECK(memcmp(a + 13, b + 13, mlen) != 0);
}

static void test_seal_errors(void)
{
	size_t mlen = sizeof(test_msg) - 1;
	uint8_t blob[64], out[64];

	CHECK_INT(crypto_seal(test_key, NULL, 0, test_msg, mlen, blob, mlen + 28), -ENOSPC);
	CHECK_INT(crypto_seal(test_key, NULL, 0, test_msg, mlen, blob, 0), -ENOSPC);
	CHECK_INT(crypto_seal(NULL, NULL, 0, test_msg, mlen, blob, sizeof(blob)), -EINVAL);
	CHECK_INT(crypto_seal(test_key, NULL, 1, test_msg, mlen, blob, sizeof(blob)), -EINVAL);
	CHECK_INT(crypto_seal(test_key, NULL, 0, NULL, 1, blob, sizeof(blob)), -EINVAL);
	CHECK_INT(crypto_seal(test_key, NULL, 0, test_msg, mlen, NULL, sizeof(blob)), -EINVAL);

	long n = crypto_seal(test_key, NULL, 0, test_msg, mlen, blob, sizeof(blob));
	REQUIRE(n > 0);
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n, out, mlen - 1), -ENOSPC);
	CHECK_INT(crypto_open(NULL, NULL, 0, blob, (size_t)n, out, sizeof(out)), -EINVAL);
	CHECK_INT(crypto_open(test_key, NULL, 0, NULL, 0, out, sizeof(out)), -EBADMSG);
	blob[0] = 0x02; /* unknown version */
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n, out, sizeof(out)), -EBADMSG);
}

/* Failures must not leave entries on OpenSSL's per-thread error queue, where a later
 * SSL_get_error() on the same thread would misread them. */
static void test_error_queue_clean(void)
{
	uint8_t blob[64], out[64], md[32];
	ERR_clear_error();
	(void)crypto_have_sm3();
	long n = crypto_seal(test_key, NULL, 0, "x", 1, blob, sizeof(blob));
	REQUIRE(n > 0);
	blob[n - 1] ^= 1;
	CHECK_INT(crypto_open(test_key, NULL, 0, blob, (size_t)n, out, sizeof(out)), -EBADMSG);
	int r = crypto_hash(CRYPTO_HASH_SM3, "abc", 3, md);
	CHECK(r == 0 || r == -ENOTSUP);
	CHECK(ERR_peek_error() == 0);
	ERR_clear_error();
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_uuid4(void)
{
	char prev[37] = "";
	for (int i = 0; i < 200; i++) {
		char u[37];
		memset(u, 'x', sizeof(u));
		REQUIRE(crypto_uuid4(u) == 0);
		CHECK_INT(strlen(u), 36);
		for (int j = 0; j < 36; j++) {
			if (j == 8 || j == 13 || j == 18 || j == 23)
				CHECK(u[j] == '-');
			else
				CHECK(is_lower_hex(u[j]));
		}
		CHECK(u[14] == '4');
		CHECK(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
		CHECK(strcmp(u, prev) != 0);
		memcpy(prev, u, sizeof(prev));
	}
}

static void test_random(void)
{
	uint8_t a[32], b[32];
	CHECK_INT(crypto_random(a, sizeof(a)), 0);
	CHECK_INT(crypto_random(b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK_INT(crypto_random(NULL, 0), 0);
}

static void test_equal(void)
{
	uint8_t a[32], b[32];
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(crypto_equal(a, b, sizeof(a)));
	b[31] ^= 1;
	CHECK(!crypto_equal(a, b, sizeof(a)));
	CHECK(crypto_equal(a, b, 31));
	b[0] ^= 0x80;
	CHECK(!crypto_equal(a, b, 31));
	CHECK(crypto_equal(a, b, 0));
	CHECK(crypto_equal(NULL, NULL, 0));
}

static void test_wipe(void)
{
	uint8_t k[32];
	memset(k, 0xff, sizeof(k));
	crypto_wipe(k, sizeof(k));
	CHECK(all_zero(k, sizeof(k)));
	crypto_wipe(NULL, 0);
	crypto_wipe(NULL, 16);
}

static void test_parse_key_good(void)
{
	/* test_key in hex and Base64 */
	static const char hex[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	static const char hex_uc[] =
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
	static const char b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	const char *good[] = {
		hex,
		hex_uc,
		"  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		b64,
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"\t AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t k[CRYPTO_AES_KEY_LEN];
		memset(k, 0xee, sizeof(k));
		CHECK_INT(crypto_parse_key(good[i], k), 0);
		CHECK(memcmp(k, test_key, sizeof(k)) == 0);
	}
	/* the Base64 above is what the encoder produces */
	char enc[45];
	crypto_b64_encode(test_key, sizeof(test_key), enc);
	CHECK_STR(enc, b64);
}

static void test_parse_key_bad(void)
{
	static const char *const bad[] = {
		"",
		"   \n",
		/* 63 and 65 hex digits */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
		/* non-hex digit, inner space */
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
		"000102030405060708090a0b0c0d0e0f 01112131415161718191a1b1c1d1e1f",
		"0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		/* Base64 of 31 and 33 bytes (both 44 characters), of 32 with non-zero trailing
		 * bits, with a bad character, unpadded, URL-safe */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd_h8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX GBkaGxwdHh8=",
		/* 16-byte key */
		"AAECAwQFBgcICQoLDA0ODw==",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t k[CRYPTO_AES_KEY_LEN];
		memset(k, 0xee, sizeof(k));
		int r = crypto_parse_key(bad[i], k);
		if (r != -EINVAL)
			fprintf(stderr, "  bad[%zu] \"%s\" parsed\n", i, bad[i]);
		CHECK_INT(r, -EINVAL);
		CHECK(all_zero(k, sizeof(k)));
	}
	uint8_t k[CRYPTO_AES_KEY_LEN];
	CHECK_INT(crypto_parse_key(NULL, k), -EINVAL);
}

UNIT_MAIN("crypto", UNIT_CASE(test_hash_known_answers), UNIT_CASE(test_hash_errors),
	  UNIT_CASE(test_sm3), UNIT_CASE(test_hmac_sha1_rfc2202),
	  UNIT_CASE(test_hmac_sha256_rfc4231), UNIT_CASE(test_hex), UNIT_CASE(test_b64_rfc4648),
	  UNIT_CASE(test_b64_all_bytes), UNIT_CASE(test_b64_malformed), UNIT_CASE(test_b64_enospc),
	  UNIT_CASE(test_seal_round_trip), UNIT_CASE(test_seal_large), UNIT_CASE(test_seal_format),
	  UNIT_CASE(test_seal_tamper), UNIT_CASE(test_seal_wrong_context),
	  UNIT_CASE(test_seal_truncated), UNIT_CASE(test_seal_nonce_random),
	  UNIT_CASE(test_seal_errors), UNIT_CASE(test_error_queue_clean), UNIT_CASE(test_uuid4),
	  UNIT_CASE(test_random), UNIT_CASE(test_equal), UNIT_CASE(test_wipe),
	  UNIT_CASE(test_parse_key_good), UNIT_CASE(test_parse_key_bad))
