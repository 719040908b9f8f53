/* intake_dispatch — after authentication: the signed Action and Version, the per-tenant
 * throttle, and the action table. Actions not listed here answer InvalidAction.NotFound. */
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "intake/intake_server.h"
#include "intake/intake_sync.h"
#include "intake/intake_throttle.h"

static const struct intake_action actions[] = {
	{"InitFaceVerify", intake_init_handle},
	{"DescribeFaceVerify", intake_describe_handle},
	{"DeleteFaceVerifyResult", intake_delete_handle},
	{"DescribePageFaceVerifyData", intake_page_handle},
	{"ContrastFaceVerify", intake_contrast_handle},
	{"LivenessFaceVerify", intake_liveness_handle},
	{"CompareFaceVerify", intake_compare_handle},
};

const struct intake_action *intake_action_find(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

void intake_dispatch(struct intake_req *r)
{
	struct intake *s = r->srv;
	const char *action = r->parsed.action, *version = r->parsed.version;
	if (!action || !*action) {
		intake_reply_gateway(r, INTAKE_ERR_MISSING_PARAMETER, "Action", NULL);
		return;
	}
	if (!version || !*version) {
		intake_reply_gateway(r, INTAKE_ERR_MISSING_PARAMETER, "Version", NULL);
		return;
	}
	if (strcmp(version, INTAKE_VERSION) != 0) {
		intake_reply_gateway(r, INTAKE_ERR_INVALID_VERSION, NULL,
				     "This server implements Cloudauth 2019-03-07.");
		return;
	}
	r->action = intake_action_find(action);
	if (!r->action) {
		intake_reply_gateway(r, INTAKE_ERR_INVALID_ACTION_NOT_FOUND, NULL, NULL);
		return;
	}
	r->action_label = r->action->name;
	int64_t retry_ms = 0;
	switch (intake_throttle_take(s->throttle, r->tenant_id, intake_now_ms(), &retry_ms)) {
	case INTAKE_THROTTLE_DENY: {
		char v[24];
		snprintf(v, sizeof(v), "%lld", (long long)retry_ms);
		intake_req_set_header(r, "x-acs-retry-after", v);
		intake_reply_gateway(r, INTAKE_ERR_THROTTLING_USER, NULL, NULL);
		return;
	}
	case INTAKE_THROTTLE_ALLOW_UNTRACKED:
		metrics_counter_add(s->m_untracked, 1);
		break;
	case INTAKE_THROTTLE_ALLOW:
		break;
	}
	r->action->handle(r);
}
