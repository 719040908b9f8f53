/* Unit tests for intake_image: the JPEG/PNG header probe (types, dimensions, damaged and
 * truncated headers, every prefix of a valid header) and the FaceContrastPicture decoder. */
#include "intake/intake_image.h"

#include "unit.h"

/* A JPEG header: SOI, APP0 (JFIF), DQT stub, SOF0 640x480, SOS. */
static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',	 'F',  'I',  'F',  0x00,
			       0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xDB,
			       0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0,
			       0x02, 0x80, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
			       0x01, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00};

/* A PNG header: signature and IHDR 96x128 RGB. */
static const uint8_t png[] = {0x89, 'P',  'N',	'G',  0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00,
			      0x0D, 'I',  'H',	'D',  'R',  0x00, 0x00, 0x00, 0x60, 0x00, 0x00,
			      0x00, 0x80, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static void test_probe_valid(void)
{
	struct intake_image_info i;
	CHECK_INT(intake_image_probe(jpeg, sizeof(jpeg), &i), 0);
	CHECK_INT(i.type, INTAKE_IMAGE_JPEG);
	CHECK_STR(i.mime, "image/jpeg");
	CHECK_INT(i.width, 640);
	CHECK_INT(i.height, 480);
	CHECK_INT(intake_image_probe(png, sizeof(png), &i), 0);
	CHECK_INT(i.type, INTAKE_IMAGE_PNG);
	CHECK_INT(i.width, 96);
	CHECK_INT(i.height, 128);
}

static void test_probe_refusals(void)
{
	struct intake_image_info i;
	static const uint8_t text[] = "GIF89a not an image we take";
	CHECK_INT(intake_image_probe(text, sizeof(text), &i), -EINVAL);
	CHECK_INT(intake_image_probe(text, 0, &i), -EINVAL);
	/* Every prefix that cuts the frame header is refused, never read past; the frame header
	 * (SOF0 ends at byte 45) is all the probe needs. */
	for (size_t n = 3; n < 45; n++)
		CHECK(intake_image_probe(jpeg, n, &i) < 0);
	for (size_t n = 45; n <= sizeof(jpeg); n++)
		CHECK_INT(intake_image_probe(jpeg, n, &i), 0);
	for (size_t n = 8; n < 24; n++)
		CHECK_INT(intake_image_probe(png, n, &i), -EBADMSG);
	uint8_t bad[sizeof(jpeg)];
	memcpy(bad, jpeg, sizeof(jpeg));
	bad[31] = bad[32] = 0; /* height 0 */
	CHECK_INT(intake_image_probe(bad, sizeof(bad), &i), -EBADMSG);
	memcpy(bad, jpeg, sizeof(jpeg));
	bad[4] = 0xFF; /* segment length beyond the data */
	CHECK_INT(intake_image_probe(bad, sizeof(bad), &i), -EBADMSG);
	memcpy(bad, jpeg, sizeof(jpeg));
	bad[26] = 0x00; /* not a marker */
	CHECK_INT(intake_image_probe(bad, sizeof(bad), &i), -EBADMSG);
	/* Scan data before any frame header. */
	static const uint8_t sos_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0x00};
	CHECK_INT(intake_image_probe(sos_first, sizeof(sos_first), &i), -EBADMSG);
	uint8_t pbad[sizeof(png)];
	memcpy(pbad, png, sizeof(png));
	pbad[12] = 'X'; /* first chunk is not IHDR */
	CHECK_INT(intake_image_probe(pbad, sizeof(pbad), &i), -EBADMSG);
}

static void test_b64(void)
{
	uint8_t *out;
	size_t n;
	CHECK_INT(intake_image_b64_decode("aGVsbG8=", 8, 100, &out, &n), INTAKE_B64_OK);
	CHECK_INT(n, 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	free(out);
	/* MIME line breaks are dropped; a space is an unencoded '+'. */
	CHECK_INT(intake_image_b64_decode("aGVs\r\nbG8=", 10, 100, &out, &n), INTAKE_B64_OK);
	CHECK_INT(n, 5);
	free(out);
	CHECK_INT(intake_image_b64_decode("+/+/", 4, 100, &out, &n), INTAKE_B64_OK);
	uint8_t *out2;
	CHECK_INT(intake_image_b64_decode(" / /", 4, 100, &out2, &n), INTAKE_B64_OK);
	CHECK(memcmp(out, out2, 3) == 0);
	free(out);
	free(out2);
	CHECK_INT(intake_image_b64_decode("aGVsbG8", 7, 100, &out, &n), INTAKE_B64_INVALID);
	CHECK(out == NULL);
	CHECK_INT(intake_image_b64_decode("aGVs*G8=", 8, 100, &out, &n), INTAKE_B64_INVALID);
	CHECK_INT(intake_image_b64_decode("\r\n", 2, 100, &out, &n), INTAKE_B64_EMPTY);
	CHECK_INT(intake_image_b64_decode("data:image/png;base64,AAAA", 26, 100, &out, &n),
		  INTAKE_B64_DATA_URL);
	CHECK_INT(intake_image_b64_decode("aGVsbG8=", 8, 4, &out, &n), INTAKE_B64_TOO_LARGE);
	CHECK_INT(intake_image_b64_decode("aGVsbG8=", 8, 5, &out, &n), INTAKE_B64_OK);
	free(out);
	/* Far too long is refused before decoding. */
	char big[4096];
	memset(big, 'A', sizeof(big));
	CHECK_INT(intake_image_b64_decode(big, sizeof(big), 100, &out, &n), INTAKE_B64_TOO_LARGE);
}

UNIT_MAIN("intake_image", UNIT_CASE(test_probe_valid), UNIT_CASE(test_probe_refusals),
	  UNIT_CASE(test_b64))
