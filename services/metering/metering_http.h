/* metering_http — metering's query routes on the admin HTTP server:
 *   GET /v1/balance?tenant=UUID[&product=N|NAME]
 * answers the tenant's balance per product and package with its as_of watermark (JSON from the
 * SQL function metering_balance, the same as `shirenctl metering balance`). The query runs on a
 * small pg_pool off the event loop; the reply is sent from its done callback. */
#ifndef SHIREN_METERING_HTTP_H
#define SHIREN_METERING_HTTP_H

#include <stdint.h>

struct service;
struct log;

struct mt_http;

/* Register the routes on `s` and start the pool. `pg_dsn` and `lg` are borrowed. NULL on
 * failure. */
struct mt_http *mt_http_new(struct service *s, const char *pg_dsn, struct log *lg);
/* Finish queries in flight (their clients get no reply if the admin server is gone) and stop
 * the pool. Accepts NULL. Loop thread only. */
void mt_http_free(struct mt_http *h);

/* Product by number ("8") or name ("PV_FC", common/product.h): 1..MT_PRODUCT_MAX, or
 * -EINVAL. */
int mt_product_parse(const char *s);

#endif
