/* shiren-exporter — exports verification photos to tenants' OSS/S3 buckets under lifecycle rules.
 * main() only declares the configuration and wires the shared service runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/crypto.h"
#include "common/service.h"

struct exporter_cfg {
	struct service_cfg svc;
	char *master_key;
};

static const struct cfg_item exporter_items[] = {
	SERVICE_CFG_ITEMS(struct exporter_cfg, svc, "127.0.0.1:9104"),
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, true, true, NULL,
	 offsetof(struct exporter_cfg, master_key),
	 "AES-256 master key (Base64 of 32 bytes or 64 hex digits) for data at rest."},
};

static const char *const exporter_topics[] = {TOPIC_VERIFY_COMPLETED, TOPIC_PHOTOS_EXPORTED,
					      TOPIC_DLQ};

static int exporter_validate(void *p, char *err, size_t errlen)
{
	struct exporter_cfg *c = p;
	uint8_t key[CRYPTO_AES_KEY_LEN];
	int rc = crypto_parse_key(c->master_key, key);
	crypto_wipe(key, sizeof(key));
	if (rc < 0)
		snprintf(err, errlen,
			 "SHIREN_MASTER_KEY is not 32 bytes of Base64 or 64 hex digits");
	return rc;
}

int main(int argc, char **argv)
{
	static struct exporter_cfg cfg;
	const struct service_def def = {
		.name = "shiren-exporter",
		.summary = "exports verification photos to tenants' OSS/S3 buckets under lifecycle "
			   "rules",
		.items = exporter_items,
		.nitems = sizeof(exporter_items) / sizeof(exporter_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct exporter_cfg, svc),
		.topics = exporter_topics,
		.ntopics = sizeof(exporter_topics) / sizeof(exporter_topics[0]),
		.validate = exporter_validate,
	};
	return service_main(argc, argv, &def);
}
