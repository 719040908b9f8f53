/* libFuzzer harness for common/crypto's strict Base64 decoder. Whatever decodes must re-encode
 * to exactly the input (the decoder accepts only canonical text); any input, taken as raw
 * bytes, must survive an encode/decode round trip; a one-byte-short buffer gives -ENOSPC. */
#include "common/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t size)
{
	fprintf(stderr, "fuzz_base64: %s (input %zu bytes)\n", what, size);
	abort();
}

static void check_decode(const uint8_t *data, size_t size)
{
	size_t max = crypto_b64_dec_max(size);
	/* malloc exactly: ASan catches any write past `cap` */
	uint8_t *dec = malloc(max ? max : 1);
	if (!dec)
		return;
	long n = crypto_b64_decode((const char *)data, size, dec, max);
	if (n < 0) {
		if (n != -EINVAL)
			fail("decode failed with something other than -EINVAL", size);
		free(dec);
		return;
	}
	if ((size_t)n > max)
		fail("decoded length exceeds crypto_b64_dec_max", size);
	if (n > 0 && crypto_b64_decode((const char *)data, size, dec, (size_t)n - 1) != -ENOSPC)
		fail("short buffer not reported as -ENOSPC", size);

	char *enc = malloc(crypto_b64_enc_len((size_t)n));
	if (!enc)
		fail("out of memory", size);
	crypto_b64_encode(dec, (size_t)n, enc);
	if (strlen(enc) != size || memcmp(enc, data, size) != 0)
		fail("decode then encode does not reproduce the input", size);
	free(enc);
	free(dec);
}

static void check_encode(const uint8_t *data, size_t size)
{
	size_t elen = crypto_b64_enc_len(size);
	char *enc = malloc(elen);
	uint8_t *dec = malloc(size ? size : 1);
	if (!enc || !dec)
		fail("out of memory", size);
	crypto_b64_encode(data, size, enc);
	if (strlen(enc) != elen - 1)
		fail("encoded length differs from crypto_b64_enc_len", size);
	if (crypto_b64_decode(enc, elen - 1, dec, size) != (long)size || memcmp(dec, data, size))
		fail("encode then decode does not reproduce the input", size);
	free(enc);
	free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	return 0;
}
