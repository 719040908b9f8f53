/* shiren-intake — the Cloudauth-compatible public API (InitFaceVerify, DescribeFaceVerify, ...).
 * main() only declares the configuration and wires the shared service runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/crypto.h"
#include "common/service.h"

struct intake_cfg {
	struct service_cfg svc;
	char *master_key;
};

static const struct cfg_item intake_items[] = {
	SERVICE_CFG_ITEMS(struct intake_cfg, svc, "127.0.0.1:9101"),
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, true, true, NULL,
	 offsetof(struct intake_cfg, master_key),
	 "AES-256 master key (Base64 of 32 bytes or 64 hex digits) for data at rest."},
};

static const char *const intake_topics[] = {TOPIC_LIVENESS_JOBS, TOPIC_VERIFY_REQUESTED,
					    TOPIC_USAGE, TOPIC_VERIFY_COMPLETED, TOPIC_DLQ};

static int intake_validate(void *p, char *err, size_t errlen)
{
	struct intake_cfg *c = p;
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
	static struct intake_cfg cfg;
	const struct service_def def = {
		.name = "shiren-intake",
		.summary = "the Cloudauth-compatible public API (InitFaceVerify, "
			   "DescribeFaceVerify, ...)",
		.items = intake_items,
		.nitems = sizeof(intake_items) / sizeof(intake_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct intake_cfg, svc),
		.topics = intake_topics,
		.ntopics = sizeof(intake_topics) / sizeof(intake_topics[0]),
		.validate = intake_validate,
	};
	return service_main(argc, argv, &def);
}
