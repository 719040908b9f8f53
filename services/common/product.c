/* product — shiren.v1.Product names (product.h). */
#include "common/product.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shiren/v1/verify.pb-c.h"

#define PREFIX "PRODUCT_"

const char *product_name(int v)
{
	const ProtobufCEnumValue *e =
		protobuf_c_enum_descriptor_get_value(&shiren__v1__product__descriptor, v);
	if (v < 1 || v > PRODUCT_MAX || !e || strncmp(e->name, PREFIX, strlen(PREFIX)) != 0)
		return NULL;
	return e->name + strlen(PREFIX);
}

int product_parse(const char *s)
{
	char full[64];
	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v < 1 || v > PRODUCT_MAX ? -EINVAL : (int)v;
	}
	if (snprintf(full, sizeof(full), PREFIX "%s", s) >= (int)sizeof(full))
		return -EINVAL;
	const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value_by_name(
		&shiren__v1__product__descriptor, full);
	return e && e->value >= 1 && e->value <= PRODUCT_MAX ? e->value : -EINVAL;
}

static char names_buf[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void)
{
	size_t o = 0;
	for (int v = 1; v <= PRODUCT_MAX; v++) {
		const char *n = product_name(v);
		int k = snprintf(names_buf + o, sizeof(names_buf) - o, "%s%s", v > 1 ? ", " : "",
				 n ? n : "?");
		if (k < 0 || (size_t)k >= sizeof(names_buf) - o)
			break;
		o += (size_t)k;
	}
}

const char *product_names(void)
{
	(void)pthread_once(&names_once, names_init);
	return names_buf;
}
