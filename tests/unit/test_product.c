/* Unit tests for common/product: names and numbers of shiren.v1.Product, from the enum. */
#include "common/product.h"

#include <errno.h>
#include <string.h>

#include "shiren/v1/verify.pb-c.h"
#include "unit.h"

/* PRODUCT_MAX is the enum's highest value: a product added to the proto must raise it (and
 * metering, which sizes tables by it, must know). */
static void test_max_is_the_enums(void)
{
	int hi = 0;
	const ProtobufCEnumDescriptor *d = &shiren__v1__product__descriptor;
	for (unsigned i = 0; i < d->n_values; i++)
		if (d->values[i].value > hi)
			hi = d->values[i].value;
	CHECK_INT(hi, PRODUCT_MAX);
}

static void test_parse(void)
{
	CHECK_INT(product_parse("ID_PRO"), 1);
	CHECK_INT(product_parse("PV_FV"), 4);
	CHECK_INT(product_parse("LR_FR_MIN"), 7);
	CHECK_INT(product_parse("PV_FC"), 8);
	CHECK_INT(product_parse("8"), 8);
	CHECK_INT(product_parse("1"), 1);
	static const char *const bad[] = {"",
					  "0",
					  "9",
					  "-1",
					  "4x",
					  "pv_fc",
					  "PRODUCT_PV_FC",
					  "UNSPECIFIED",
					  "PV_FC ",
					  " PV_FC",
					  "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(product_parse(bad[i]), -EINVAL);
	CHECK_INT(product_parse(NULL), -EINVAL);
}

static void test_names(void)
{
	for (int v = 1; v <= PRODUCT_MAX; v++) {
		const char *n = product_name(v);
		REQUIRE(n != NULL);
		CHECK_INT(product_parse(n), v);
	}
	CHECK(product_name(0) == NULL);
	CHECK(product_name(PRODUCT_MAX + 1) == NULL);
	CHECK_STR(product_names(), "ID_PRO, ID_MIN, LR_FR, PV_FV, ID_PLUS, MFVC, LR_FR_MIN, PV_FC");
}

UNIT_MAIN("product", UNIT_CASE(test_max_is_the_enums), UNIT_CASE(test_parse), UNIT_CASE(test_names))
