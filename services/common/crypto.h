/* crypto — hashes, MACs, Base64, AES-256-GCM sealing, CSPRNG and constant-time compare,
 * on OpenSSL 3. Pure functions: no globals, no logging; every buffer size is explicit. */
#ifndef SHIREN_COMMON_CRYPTO_H
#define SHIREN_COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA1_LEN	   20
#define CRYPTO_SHA256_LEN  32
#define CRYPTO_SM3_LEN	   32
#define CRYPTO_AES_KEY_LEN 32
/* Sealed blob: 1 version byte (0x01) | 12-byte nonce | ciphertext | 16-byte tag. */
#define CRYPTO_SEAL_OVERHEAD (1 + 12 + 16)

enum crypto_hash { CRYPTO_HASH_SHA1, CRYPTO_HASH_SHA256, CRYPTO_HASH_SM3 };

/* Digest length of `h`, or 0 when `h` is not a known enum value (SM3 reports its length even
 * when the linked OpenSSL lacks it). */
size_t crypto_hash_len(enum crypto_hash h);
/* True when the linked OpenSSL offers SM3. */
bool crypto_have_sm3(void);

/* One-shot digest into `out` (crypto_hash_len(h) bytes). `data` may be NULL when `len` is 0.
 * 0, or -EINVAL (bad arguments), -ENOTSUP (algorithm not offered), -EIO (OpenSSL failure). */
int crypto_hash(enum crypto_hash h, const void *data, size_t len, uint8_t *out)
	__attribute__((warn_unused_result));
/* HMAC with `h` into `out` (crypto_hash_len(h) bytes). `key`/`data` may be NULL when their
 * length is 0. 0, or -EINVAL/-ENOTSUP/-EIO as crypto_hash(). */
int crypto_hmac(enum crypto_hash h, const void *key, size_t keylen, const void *data, size_t len,
		uint8_t *out) __attribute__((warn_unused_result));

/* Lower-case hex of `len` bytes into `out` (2*len+1 bytes, NUL-terminated). */
void crypto_hex(const uint8_t *in, size_t len, char *out);
/* The value of one hexadecimal digit (either case), or -1. */
int crypto_hex_digit(int c);

/* Standard Base64 with padding. Encode writes NUL-terminated text into `out`, which must hold
 * crypto_b64_enc_len(len) bytes. */
size_t crypto_b64_enc_len(size_t len);
void crypto_b64_encode(const uint8_t *in, size_t len, char *out);
/* Strict, canonical decode of `len` characters (no NUL needed): standard alphabet only, no
 * whitespace, length a multiple of 4, '=' only as 1 or 2 final padding characters, and the
 * bits dropped by padding must be zero ("Zg==" is accepted, "Zh==" is not), so every byte
 * string has exactly one accepted encoding. Writes at most `cap` bytes to `out`.
 * Returns the decoded length, or -EINVAL on any malformed input (checked first), -ENOSPC if
 * `cap` is short; on error `out` holds unspecified bytes. crypto_b64_dec_max(len) bytes always
 * suffice. */
size_t crypto_b64_dec_max(size_t len);
long crypto_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
	__attribute__((warn_unused_result));

/* `len` bytes from OpenSSL's CSPRNG (RAND_bytes, seeded by the OS, fork-safe). 0 or -EIO. */
int crypto_random(void *out, size_t len) __attribute__((warn_unused_result));
/* RFC 4122 version-4 UUID text (36 chars + NUL) into `out`. 0 or -EIO. */
int crypto_uuid4(char out[37]) __attribute__((warn_unused_result));

/* Constant-time equality of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* AES-256-GCM. `aad` (may be NULL with aadlen 0) binds the blob to its context, e.g. the
 * table and row it belongs to; it is not stored in the blob. The tag covers the version byte
 * and then `aad` (GCM AAD = 0x01 || aad), so neither can be changed. `in` and `out` must not
 * overlap.
 * seal writes len + CRYPTO_SEAL_OVERHEAD bytes into `out` (capacity `cap`) with a fresh random
 * 96-bit nonce; returns the blob length, or -EINVAL, -ENOSPC, -EMSGSIZE, -EIO. Random nonces
 * keep one key safe for about 2^32 seals; rotate keys well before that.
 * open writes len - CRYPTO_SEAL_OVERHEAD bytes; returns the plaintext length, -EBADMSG when the
 * tag does not verify or the blob is malformed (short, unknown version), -ENOSPC when `cap` is
 * short, -EINVAL/-EIO. On any error `out` holds no plaintext (it is wiped). */
long crypto_seal(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *aad, size_t aadlen,
		 const void *in, size_t len, uint8_t *out, size_t cap)
	__attribute__((warn_unused_result));
long crypto_open(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *aad, size_t aadlen,
		 const uint8_t *in, size_t len, uint8_t *out, size_t cap)
	__attribute__((warn_unused_result));

/* Parse a master key given as Base64 (44 chars, strict as above, decoding to 32 bytes) or 64
 * hex digits (either case); surrounding whitespace (e.g. a file's trailing newline) is ignored.
 * 0, or -EINVAL with `out` zeroed. */
int crypto_parse_key(const char *text, uint8_t out[CRYPTO_AES_KEY_LEN])
	__attribute__((warn_unused_result));

/* Wipe secrets (not optimised away). `p` may be NULL. */
void crypto_wipe(void *p, size_t len);

#endif
