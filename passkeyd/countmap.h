/*
 * Counts by key, in O(1): how many pending ceremonies one user, one
 * client address or one (user, address) pair holds, and how many HTTP
 * connections one address holds.  A key lives only while its count is
 * above zero, so the map is as big as what is being counted: 16 bytes a
 * slot, at most half full, no allocation per key (a key is kept as its
 * 64-bit hash).  Keys come from clients, so the hash is keyed with a
 * random seed: nobody can choose keys that collide.
 */
#ifndef PASSKEYD_COUNTMAP_H
#define PASSKEYD_COUNTMAP_H

#include <stddef.h>

struct countmap;

struct countmap *countmap_new(void);
void countmap_free(struct countmap *m);
/* The count of key (len bytes; may hold NULs), 0 when absent. */
unsigned countmap_get(const struct countmap *m, const void *key, size_t len);
/* Adds 1; -1 when out of memory (nothing changed). */
int countmap_inc(struct countmap *m, const void *key, size_t len);
/* Takes 1 away; a key at 0 is forgotten.  A key not present is left alone. */
void countmap_dec(struct countmap *m, const void *key, size_t len);
/* How many keys are present. */
size_t countmap_size(const struct countmap *m);

#endif
