/* metering_map — the per-batch containers: a small open-addressing hash map from borrowed
 * NUL-terminated keys to uint32_t values (event ids, accounts, months), and a bump arena whose
 * memory is released all at once when the batch is done. Map keys are not copied: they must
 * outlive the map's use (they point into the batch's own structs). */
#ifndef SHIREN_METERING_MAP_H
#define SHIREN_METERING_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mt_map_slot {
	const char *key; /* NULL: empty */
	uint32_t hash;
	uint32_t val;
};

struct mt_map {
	struct mt_map_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

/* An empty map (no allocation until the first put). */
void mt_map_init(struct mt_map *m);
/* Forget every key, keep the memory. */
void mt_map_clear(struct mt_map *m);
void mt_map_free(struct mt_map *m);

/* True with *ret_val when `key` is present. */
bool mt_map_get(const struct mt_map *m, const char *key, uint32_t *ret_val);
/* Insert `key` -> `val` when absent: 0; -EEXIST with *ret_existing (may be NULL) when present;
 * -ENOMEM. */
int mt_map_put(struct mt_map *m, const char *key, uint32_t val, uint32_t *ret_existing)
	__attribute__((warn_unused_result));

/* Bump allocator: zeroed, 16-byte aligned blocks; mt_arena_reset keeps the first chunk. */
struct mt_arena_chunk;
struct mt_arena {
	struct mt_arena_chunk *head;
	size_t used; /* bytes handed out since the last reset */
};

void mt_arena_init(struct mt_arena *a);
/* NULL on allocation failure or a size above 1 GiB. */
void *mt_arena_alloc(struct mt_arena *a, size_t size);
void mt_arena_reset(struct mt_arena *a);
void mt_arena_free(struct mt_arena *a);

#endif
