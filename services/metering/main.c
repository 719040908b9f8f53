/* shiren-metering — exactly-once usage metering, prepaid packages, ladder prices and quota alerts.
 * main() only declares the configuration and wires the shared service runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/service.h"

struct metering_cfg {
	struct service_cfg svc;
};

static const struct cfg_item metering_items[] = {
	SERVICE_CFG_ITEMS(struct metering_cfg, svc, "127.0.0.1:9105"),
};

static const char *const metering_topics[] = {TOPIC_USAGE, TOPIC_QUOTA_ALERTS, TOPIC_DLQ};

int main(int argc, char **argv)
{
	static struct metering_cfg cfg;
	const struct service_def def = {
		.name = "shiren-metering",
		.summary = "exactly-once usage metering, prepaid packages, ladder prices and quota "
			   "alerts",
		.items = metering_items,
		.nitems = sizeof(metering_items) / sizeof(metering_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct metering_cfg, svc),
		.topics = metering_topics,
		.ntopics = sizeof(metering_topics) / sizeof(metering_topics[0]),
		.validate = NULL,
	};
	return service_main(argc, argv, &def);
}
