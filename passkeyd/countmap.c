/*
 * Open addressing over (hash, count) slots: no allocation per key, 16
 * bytes a slot, at most half full.  A key is kept as its 64-bit keyed
 * hash only: two keys can share a count only by a collision of a hash
 * whose seed nobody outside knows (for 100,000 keys, about 1 in 3 * 10^9),
 * and then the worst that happens is a limit reached early.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "countmap.h"

struct slot {
	uint64_t hash;		/* 0: empty (a real hash of 0 is stored as 1) */
	uint32_t count;
	uint32_t tomb;		/* emptied: probes go on past it */
};

struct countmap {
	struct slot *slot;
	size_t cap;		/* a power of two */
	size_t used;		/* live keys */
	size_t filled;		/* live keys and tombstones */
	uint64_t seed;
};

static uint64_t
hash_of(const struct countmap *m, const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ m->seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h != 0 ? h : 1;
}

struct countmap *
countmap_new(void)
{
	struct countmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 64;
	if ((m->slot = calloc(m->cap, sizeof(*m->slot))) == NULL ||
	    getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed)) {
		free(m->slot);
		free(m);
		return NULL;
	}
	return m;
}

void
countmap_free(struct countmap *m)
{
	if (m == NULL)
		return;
	free(m->slot);
	free(m);
}

/* The key's slot, or the first free one on its probe path (NULL: none). */
static struct slot *
probe(const struct countmap *m, uint64_t h, struct slot **free_slot)
{
	size_t i = h & (m->cap - 1);

	*free_slot = NULL;
	for (size_t n = 0; n < m->cap; n++, i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slot[i];

		if (s->hash == h && !s->tomb)
			return s;
		if (s->hash == 0) {
			if (*free_slot == NULL)
				*free_slot = s;
			return NULL;
		}
		if (s->tomb && *free_slot == NULL)
			*free_slot = s;
	}
	return NULL;
}

/* Rebuilds the table at cap (dropping tombstones); -1 when out of memory. */
static int
rehash(struct countmap *m, size_t cap)
{
	struct slot *old = m->slot, *f;
	size_t oldcap = m->cap;

	if ((m->slot = calloc(cap, sizeof(*m->slot))) == NULL) {
		m->slot = old;
		return -1;
	}
	m->cap = cap;
	m->filled = m->used;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].hash != 0 && !old[i].tomb) {
			probe(m, old[i].hash, &f);
			*f = old[i];
		}
	free(old);
	return 0;
}

unsigned
countmap_get(const struct countmap *m, const void *key, size_t len)
{
	struct slot *f, *s = probe(m, hash_of(m, key, len), &f);

	return s != NULL ? s->count : 0;
}

int
countmap_inc(struct countmap *m, const void *key, size_t len)
{
	uint64_t h = hash_of(m, key, len);
	struct slot *f, *s = probe(m, h, &f);

	if (s != NULL) {
		s->count++;
		return 0;
	}
	/* at most half full, tombstones included */
	if ((m->filled + 1) * 2 > m->cap) {
		if (rehash(m, m->used * 4 > m->cap ? m->cap * 2 : m->cap) != 0)
			return -1;
		probe(m, h, &f);
	}
	if (f->hash == 0)
		m->filled++;
	*f = (struct slot){ .hash = h, .count = 1 };
	m->used++;
	return 0;
}

void
countmap_dec(struct countmap *m, const void *key, size_t len)
{
	struct slot *f, *s = probe(m, hash_of(m, key, len), &f);

	if (s == NULL)
		return;
	if (--s->count == 0) {
		s->tomb = 1;
		m->used--;
	}
}

size_t
countmap_size(const struct countmap *m)
{
	return m->used;
}
