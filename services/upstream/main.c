/* shiren-upstream — signed outbound calls: identity authority lookups and customer callbacks.
 * main() only declares the configuration and wires the shared service runtime. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/service.h"

struct upstream_cfg {
	struct service_cfg svc;
};

static const struct cfg_item upstream_items[] = {
	SERVICE_CFG_ITEMS(struct upstream_cfg, svc, "127.0.0.1:9102"),
};

static const char *const upstream_topics[] = {TOPIC_VERIFY_REQUESTED, TOPIC_VERIFY_COMPLETED,
					      TOPIC_LIVENESS_JOBS, TOPIC_DLQ};

int main(int argc, char **argv)
{
	static struct upstream_cfg cfg;
	const struct service_def def = {
		.name = "shiren-upstream",
		.summary =
			"signed outbound calls: identity authority lookups and customer callbacks",
		.items = upstream_items,
		.nitems = sizeof(upstream_items) / sizeof(upstream_items[0]),
		.cfg = &cfg,
		.common_offset = offsetof(struct upstream_cfg, svc),
		.topics = upstream_topics,
		.ntopics = sizeof(upstream_topics) / sizeof(upstream_topics[0]),
		.validate = NULL,
	};
	return service_main(argc, argv, &def);
}
