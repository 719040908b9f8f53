/* cfg — typed environment configuration. A service declares one table of items; cfg_load reads
 * each from the environment (or NAME_FILE for secrets), checks type and bounds, and stores the
 * value at the item's offset in the service's config struct. No globals, no exit: the caller
 * logs the error message and exits 78 (EX_CONFIG). */
#ifndef SHIREN_COMMON_CFG_H
#define SHIREN_COMMON_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log;

#define CFG_EXIT_CONFIG 78

enum cfg_type {
	CFG_STR,  /* char * (heap copy, freed by cfg_free) */
	CFG_INT,  /* int64_t, bounds min..max */
	CFG_BOOL, /* bool: true/false/1/0/yes/no/on/off */
	CFG_ADDR, /* char *, "host:port" with a numeric port 1..65535 */
	CFG_ENUM, /* char *, one of the '|'-separated words in `choices` */
};

struct cfg_item {
	const char *name; /* environment variable */
	enum cfg_type type;
	const char *def;     /* default as text; NULL = no default */
	int64_t min, max;    /* CFG_INT bounds (inclusive) */
	bool required;	     /* must be set (or have a default) */
	bool secret;	     /* redacted in logs; NAME_FILE accepted */
	const char *choices; /* CFG_ENUM */
	size_t offset;	     /* offsetof(config struct, field) */
	const char *help;    /* one line for the README table and --help */
};

/* Load every item into `out`. On failure fills `err` with one sentence naming the variable
 * and the problem, leaves already-loaded strings for cfg_free, and returns -EINVAL. */
int cfg_load(const struct cfg_item *items, size_t n, void *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Free the CFG_STR/CFG_ADDR/CFG_ENUM strings of `out`. Accepts a partly loaded struct. */
void cfg_free(const struct cfg_item *items, size_t n, void *out);
/* One log line with the effective configuration, secrets shown as "<redacted>". */
void cfg_log_effective(struct log *lg, const struct cfg_item *items, size_t n, const void *cfg);
/* Print the table as Markdown rows (name | type | default | meaning) for docs. */
void cfg_print_markdown(const struct cfg_item *items, size_t n);

/* Split "host:port" into a NUL-terminated host (cap bytes) and port. 0 or -EINVAL. */
int cfg_split_addr(const char *addr, char *host, size_t cap, int *ret_port)
	__attribute__((warn_unused_result));

#endif
