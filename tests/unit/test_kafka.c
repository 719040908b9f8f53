/* Unit tests for common/kafka: the clients are configured the way DESIGN §5 needs (idempotent
 * producer with acks=all and compression; consumer with manual commits), extra properties are
 * applied or refused clearly. No broker is contacted: the bootstrap address is a closed
 * loopback port and nothing is produced. */
#include "common/kafka.h"

#include "common/log.h"
#include "unit.h"

static const char *conf_get(rd_kafka_t *rk, const char *key, char *buf, size_t cap)
{
	size_t len = cap;
	const rd_kafka_conf_t *c = rd_kafka_conf(rk);
	if (rd_kafka_conf_get(c, key, buf, &len) != RD_KAFKA_CONF_OK)
		return "";
	return buf;
}

static void test_producer_is_idempotent(void)
{
	char err[256], v[128];
	struct kafka_opts o = {
		.brokers = "127.0.0.1:1", .client_id = "unit", .compression = "zstd"};
	rd_kafka_t *rk = kafka_producer_new(&o, NULL, err, sizeof(err));
	REQUIRE(rk != NULL);
	CHECK_STR(conf_get(rk, "enable.idempotence", v, sizeof(v)), "true");
	CHECK_STR(conf_get(rk, "acks", v, sizeof(v)), "-1");
	CHECK_STR(conf_get(rk, "compression.codec", v, sizeof(v)), "zstd");
	CHECK_STR(conf_get(rk, "client.id", v, sizeof(v)), "unit");
	rd_kafka_destroy(rk);
}

static void test_consumer_commits_manually(void)
{
	char err[256], v[128];
	struct kafka_opts o = {.brokers = "127.0.0.1:1"};
	rd_kafka_t *rk = kafka_consumer_new(&o, "unit-group", NULL, err, sizeof(err));
	REQUIRE(rk != NULL);
	CHECK_STR(conf_get(rk, "enable.auto.commit", v, sizeof(v)), "false");
	CHECK_STR(conf_get(rk, "enable.auto.offset.store", v, sizeof(v)), "false");
	CHECK_STR(conf_get(rk, "auto.offset.reset", v, sizeof(v)), "smallest");
	CHECK_STR(conf_get(rk, "group.id", v, sizeof(v)), "unit-group");
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

static void test_extra_properties(void)
{
	char err[256] = "", v[64];
	const char *good[] = {"linger.ms=42", NULL};
	struct kafka_opts o = {.brokers = "127.0.0.1:1", .extra = good};
	rd_kafka_t *rk = kafka_producer_new(&o, NULL, err, sizeof(err));
	REQUIRE(rk != NULL);
	CHECK_STR(conf_get(rk, "linger.ms", v, sizeof(v)), "42");
	rd_kafka_destroy(rk);

	const char *malformed[] = {"no-equals-sign", NULL};
	o.extra = malformed;
	CHECK(kafka_producer_new(&o, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no-equals-sign") != NULL);

	const char *unknown[] = {"no.such.property=1", NULL};
	o.extra = unknown;
	err[0] = '\0';
	CHECK(kafka_producer_new(&o, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no.such.property") != NULL);
}

UNIT_MAIN("kafka", UNIT_CASE(test_producer_is_idempotent),
	  UNIT_CASE(test_consumer_commits_manually), UNIT_CASE(test_extra_properties))
