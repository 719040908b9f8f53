/* intake_json — a strict JSON syntax check (RFC 8259) for the parameters that carry JSON text
 * (MetaInfo, VoluntaryCustomizedContent). Pure; no allocation; bounded nesting. */
#ifndef SHIREN_INTAKE_JSON_H
#define SHIREN_INTAKE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define INTAKE_JSON_MAX_DEPTH 32

/* True when `s` (n bytes) is one JSON value whose first character is `top` ('{' or '['), with
 * optional surrounding whitespace, at most INTAKE_JSON_MAX_DEPTH levels deep. */
bool intake_json_valid(const char *s, size_t n, char top);

#endif
