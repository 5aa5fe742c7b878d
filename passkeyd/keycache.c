#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "keycache.h"

#define BUCKETS 8192u	/* a power of two, twice KEYCACHE_MAX */

struct entry {
	struct entry *hash_next;
	struct entry *prev, *next;	/* age order: head is the oldest */
	rp_pubkey_t *key;
	uint8_t *cose;
	size_t cose_len, id_len;
	uint64_t hash;
	uint8_t id[];
};

struct keycache {
	struct entry *bucket[BUCKETS];
	struct entry *head, *tail;
	size_t count;
	uint64_t seed;
};

/* Credential IDs come from browsers: a keyed hash, so none can be aimed. */
static uint64_t
hash_of(const struct keycache *k, const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ k->seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 31;
	h *= 0x7fb5d329728ea185ULL;
	return h ^ (h >> 27);
}

struct keycache *
keycache_new(void)
{
	struct keycache *k = calloc(1, sizeof(*k));

	if (k != NULL && getrandom(&k->seed, sizeof(k->seed), 0) != sizeof(k->seed)) {
		free(k);
		k = NULL;
	}
	return k;
}

static struct entry **
slot(struct keycache *k, const uint8_t *id, size_t n, uint64_t h)
{
	struct entry **pp = &k->bucket[h & (BUCKETS - 1)];

	for (; *pp != NULL; pp = &(*pp)->hash_next)
		if ((*pp)->hash == h && (*pp)->id_len == n && memcmp((*pp)->id, id, n) == 0)
			break;
	return pp;
}

static void
drop(struct keycache *k, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hash_next;
	if (e->prev)
		e->prev->next = e->next;
	else
		k->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		k->tail = e->prev;
	rp_pubkey_free(&e->key);
	free(e->cose);
	free(e);
	k->count--;
}

void
keycache_forget(struct keycache *k, const uint8_t *id, size_t id_len)
{
	struct entry **pp;

	if (k == NULL)
		return;
	pp = slot(k, id, id_len, hash_of(k, id, id_len));
	if (*pp != NULL)
		drop(k, pp);
}

static void
evict_oldest(struct keycache *k)
{
	struct entry *e = k->head;

	drop(k, slot(k, e->id, e->id_len, e->hash));
}

int
keycache_get(struct keycache *k, const uint8_t *id, size_t id_len,
    const uint8_t *cose, size_t cose_len, const rp_pubkey_t **out)
{
	uint64_t h = hash_of(k, id, id_len);
	struct entry **pp = slot(k, id, id_len, h), *e = *pp;
	rp_pubkey_t *key = NULL;
	int rc;

	if (e != NULL && e->cose_len == cose_len && memcmp(e->cose, cose, cose_len) == 0) {
		*out = e->key;
		return RP_OK;
	}
	if (e != NULL)
		drop(k, pp);	/* the credential's key changed: parse it anew */
	if ((rc = rp_pubkey_from_cose(cose, cose_len, &key)) != RP_OK)
		return rc;
	if (k->count >= KEYCACHE_MAX)
		evict_oldest(k);
	if ((e = calloc(1, sizeof(*e) + id_len)) == NULL ||
	    (e->cose = malloc(cose_len)) == NULL) {
		free(e);
		rp_pubkey_free(&key);
		return RP_ERR_NO_MEMORY;
	}
	memcpy(e->id, id, id_len);
	memcpy(e->cose, cose, cose_len);
	e->id_len = id_len;
	e->cose_len = cose_len;
	e->key = key;
	e->hash = h;
	pp = slot(k, id, id_len, h);
	e->hash_next = *pp;
	*pp = e;
	e->prev = k->tail;
	if (k->tail)
		k->tail->next = e;
	else
		k->head = e;
	k->tail = e;
	k->count++;
	*out = key;
	return RP_OK;
}

size_t
keycache_size(const struct keycache *k)
{
	return k->count;
}

void
keycache_free(struct keycache *k)
{
	if (k == NULL)
		return;
	while (k->head != NULL)
		evict_oldest(k);
	free(k);
}
