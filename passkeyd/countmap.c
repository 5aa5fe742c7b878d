#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "countmap.h"

struct entry {
	struct entry *next;
	uint64_t hash;
	unsigned count;
	size_t len;
	unsigned char key[];
};

struct countmap {
	struct entry **bucket;
	size_t nbuckets;	/* a power of two */
	size_t size;
	uint64_t seed;
};

/*
 * FNV-1a over a random seed, then a 64-bit finaliser (splitmix64): cheap,
 * and without the seed an attacker cannot aim keys at one bucket.
 */
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
	return h ^ (h >> 31);
}

struct countmap *
countmap_new(void)
{
	struct countmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->nbuckets = 64;
	if ((m->bucket = calloc(m->nbuckets, sizeof(*m->bucket))) == NULL ||
	    getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed)) {
		free(m->bucket);
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
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct entry *e = m->bucket[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->bucket);
	free(m);
}

static struct entry **
find(const struct countmap *m, const void *key, size_t len, uint64_t h)
{
	struct entry **pp = &m->bucket[h & (m->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->len == len &&
		    memcmp((*pp)->key, key, len) == 0)
			break;
	return pp;
}

/* Doubles the buckets when the map is fuller than one key per bucket. */
static void
grow(struct countmap *m)
{
	size_t n = m->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct entry *e = m->bucket[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->bucket);
	m->bucket = b;
	m->nbuckets = n;
}

unsigned
countmap_get(const struct countmap *m, const void *key, size_t len)
{
	struct entry *e = *find(m, key, len, hash_of(m, key, len));

	return e != NULL ? e->count : 0;
}

int
countmap_inc(struct countmap *m, const void *key, size_t len)
{
	uint64_t h = hash_of(m, key, len);
	struct entry **pp = find(m, key, len, h), *e;

	if (*pp != NULL) {
		(*pp)->count++;
		return 0;
	}
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return -1;
	e->hash = h;
	e->count = 1;
	e->len = len;
	memcpy(e->key, key, len);
	e->next = NULL;
	*pp = e;
	if (++m->size > m->nbuckets)
		grow(m);
	return 0;
}

void
countmap_dec(struct countmap *m, const void *key, size_t len)
{
	struct entry **pp = find(m, key, len, hash_of(m, key, len)), *e = *pp;

	if (e == NULL)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
		m->size--;
	}
}

size_t
countmap_size(const struct countmap *m)
{
	return m->size;
}
