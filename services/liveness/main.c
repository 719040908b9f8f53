/* shiren-liveness — face pipeline workers: detection, quality, embedding, comparison, liveness.
 * main() only declares the configuration and wires the shared service runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/crypto.h"
#include "common/service.h"

struct liveness_cfg {
	struct service_cfg svc;
	char *master_key;
};

static const struct cfg_item liveness_items[] = {
	SERVICE_CFG_ITEMS(struct liveness_cfg, svc, "127.0.0.1:9103"),
	{"SHIREN_MASTER_KEY", CFG_STR, NULL, 0, 0, true, true, NULL,
	 offsetof(struct liveness_cfg, master_key),
	 "AES-256 master key (Base64 of 32 bytes or 64 hex digits) for data at rest."},
};

static const char *const liveness_topics[] = {TOPIC_LIVENESS_JOBS, TOPIC_VERIFY_COMPLETED,
					      TOPIC_USAGE, TOPIC_DLQ};

static int liveness_validate(void *p, char *err, size_t errlen)
{
	struct liveness_cfg *c = p;
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
	static struct liveness_cfg cfg;
	const struct service_def def = {
		.name = "shiren-liveness",
		.summary = "face pipeline workers: detection, quality, embedding, comparison, "
			   "liveness",
		.items = liveness_items,
		.nitems = sizeof(liveness_items) / sizeof(liveness_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct liveness_cfg, svc),
		.topics = liveness_topics,
		.ntopics = sizeof(liveness_topics) / sizeof(liveness_topics[0]),
		.validate = liveness_validate,
	};
	return service_main(argc, argv, &def);
}
