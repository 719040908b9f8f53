/* metering_decode — one Kafka payload of shiren.usage.v1 into a checked usage event, or the
 * reason it is rejected into the dead-letter topic. Pure: no I/O; the checks that need the
 * database (does the tenant exist) are the caller's. */
#ifndef SHIREN_METERING_DECODE_H
#define SHIREN_METERING_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/product.h"

#define MT_EVENT_ID_MAX	 128 /* bytes + NUL: CertifyId (<= 64) + ":" + action */
#define MT_CERTIFY_LEN	 32  /* a CertifyId: 32 hex digits (16 bytes) */
#define MT_ACTION_MAX	 65  /* an action name, [A-Za-z][A-Za-z0-9]{0,63}, + NUL */
#define MT_SUBCODE_MAX	 32767
#define MT_PARTITION_MAX 32767	     /* the ledger keeps src_partition in a smallint */
#define MT_TENANT_LEN	 36	     /* canonical lower-case UUID text */
#define MT_PRODUCT_MAX	 PRODUCT_MAX /* every shiren.v1.Product (common/product.h) */
#define MT_SUBCODE_BILL0 200	     /* SubCodes 200..206 are billable */
#define MT_SUBCODE_BILL1 206

/* A usage event that passed every check that needs no database. */
struct mt_event {
	char event_id[MT_EVENT_ID_MAX];	  /* canonical: certify ":" action */
	char certify[MT_CERTIFY_LEN + 1]; /* lower-case hex */
	char action[MT_ACTION_MAX];
	int16_t action_code; /* metering_actions.code, set by the caller (0 until then) */
	char tenant[MT_TENANT_LEN + 1];
	int32_t product;
	int64_t scene_id;
	int64_t quantity;
	bool billable; /* SubCode in 200..206 */
	int32_t sub_code;
	int64_t occurred_ms; /* event time: what the call is billed by */
	int64_t ingest_ms;   /* when it reached Kafka: the apply reference time */
	int32_t partition;
	int64_t offset;
};

struct mt_decode_limits {
	int64_t max_quantity;  /* >= 1 */
	int64_t max_future_ms; /* occurred_at may be at most this far after ingest */
};

/* Reasons (stable, lower-case; the DLQ `reason` and metering_rejects.reason). */
#define MT_REJECT_DECODE    "decode"	/* not a UsageEvent protobuf with an envelope */
#define MT_REJECT_EVENT_ID  "event_id"	/* not <32 hex>:<Action>, or disagrees with the fields */
#define MT_REJECT_ACTION    "action"	/* (set by the caller) the action cannot be numbered */
#define MT_REJECT_SUBCODE   "sub_code"	/* outside 0..MT_SUBCODE_MAX */
#define MT_REJECT_PARTITION "partition" /* read from a partition above MT_PARTITION_MAX */
#define MT_REJECT_TENANT    "tenant"	/* envelope tenant_id is not a canonical UUID */
#define MT_REJECT_UNKNOWN   "unknown_tenant" /* (set by the caller) no such tenant */
#define MT_REJECT_PRODUCT   "product"
#define MT_REJECT_QUANTITY  "quantity" /* < 1 or > max_quantity */
#define MT_REJECT_BILLABLE  "billable" /* flag disagrees with the SubCode */
#define MT_REJECT_TIME	    "time"     /* occurred_at missing or out of range */
#define MT_REJECT_FUTURE    "future"   /* occurred_at too far after ingest */
#define MT_REJECT_SCENE	    "scene"    /* negative scene id */

/* Decode `payload` read at (partition, offset) with broker timestamp `ingest_ms` (<= 0: the
 * envelope's produced_at is used). 0 with *ret filled, or -EBADMSG with *ret_reason (static)
 * and a one-line `err`. */
int mt_decode_usage(const void *payload, size_t len, int32_t partition, int64_t offset,
		    int64_t ingest_ms, const struct mt_decode_limits *lim, struct mt_event *ret,
		    const char **ret_reason, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* 8-4-4-4-12 lower-case hex. */
bool mt_uuid_canonical(const char *s);

/* Deterministic UUID (version 8, SHA-256 of `text`), e.g. a dead letter's message id. */
int mt_uuid_from(const char *text, char out[37]) __attribute__((warn_unused_result));

#endif
