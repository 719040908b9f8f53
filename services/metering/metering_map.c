/* metering_map — open addressing with linear probing, FNV-1a hashes (metering_map.h). */
#include "metering/metering_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

void mt_map_init(struct mt_map *m)
{
	memset(m, 0, sizeof(*m));
}

void mt_map_clear(struct mt_map *m)
{
	if (m->slots)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void mt_map_free(struct mt_map *m)
{
	free(m->slots);
	mt_map_init(m);
}

static struct mt_map_slot *probe(const struct mt_map *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct mt_map_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

bool mt_map_get(const struct mt_map *m, const char *key, uint32_t *ret_val)
{
	if (!m->cap)
		return false;
	const struct mt_map_slot *s = probe(m, key, hash_str(key));
	if (!s->key)
		return false;
	if (ret_val)
		*ret_val = s->val;
	return true;
}

static int grow(struct mt_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct mt_map_slot *old = m->slots;
	size_t old_cap = m->cap;
	if (cap > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*probe(m, old[i].key, old[i].hash) = old[i];
	free(old);
	return 0;
}

int mt_map_put(struct mt_map *m, const char *key, uint32_t val, uint32_t *ret_existing)
{
	if ((m->n + 1) * 2 > m->cap) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	uint32_t h = hash_str(key);
	struct mt_map_slot *s = probe(m, key, h);
	if (s->key) {
		if (ret_existing)
			*ret_existing = s->val;
		return -EEXIST;
	}
	s->key = key;
	s->hash = h;
	s->val = val;
	m->n++;
	return 0;
}

/* ---- arena ---- */

#define ARENA_CHUNK (256u << 10)
#define ARENA_MAX   (1u << 30)

struct mt_arena_chunk {
	struct mt_arena_chunk *next;
	size_t cap, off;
	_Alignas(16) unsigned char data[];
};

void mt_arena_init(struct mt_arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void *mt_arena_alloc(struct mt_arena *a, size_t size)
{
	if (size > ARENA_MAX)
		return NULL;
	size = (size + 15) & ~(size_t)15;
	struct mt_arena_chunk *c = a->head;
	if (!c || c->cap - c->off < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->off;
	c->off += size;
	a->used += size;
	memset(p, 0, size);
	return p;
}

void mt_arena_reset(struct mt_arena *a)
{
	struct mt_arena_chunk *c = a->head;
	while (c && c->next) {
		struct mt_arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	/* Keep the oldest chunk only when it is the standard size (large ones go). */
	if (c && c->cap != ARENA_CHUNK) {
		free(c);
		c = NULL;
	}
	if (c)
		c->off = 0;
	a->head = c;
	a->used = 0;
}

void mt_arena_free(struct mt_arena *a)
{
	mt_arena_reset(a);
	free(a->head);
	a->head = NULL;
}
