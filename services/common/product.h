/* product — shiren.v1.Product by name or number, from the enum in proto/shiren/v1/verify.proto
 * (one list for every service and shirenctl: a product added there is known everywhere). */
#ifndef SHIREN_COMMON_PRODUCT_H
#define SHIREN_COMMON_PRODUCT_H

/* The highest Product value. A unit test checks it against the enum. */
#define PRODUCT_MAX 8

/* The product named `s` (its enum name without "PRODUCT_": "PV_FC"; case-sensitive) or given
 * by number ("8"): 1..PRODUCT_MAX, or -EINVAL. */
int product_parse(const char *s);

/* The name of product `v` without the prefix ("PV_FC"), or NULL outside 1..PRODUCT_MAX. */
const char *product_name(int v);

/* The names of every product, "ID_PRO, ID_MIN, ..." in enum order, for messages. */
const char *product_names(void);

#endif
