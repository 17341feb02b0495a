/*
 * A set of request_ids, each held inline in 16 bytes (struct reqkey) in
 * one flat array: open addressing, linear probing, at most 3/4 full, so
 * 21 to 43 bytes an id, and none more for the ids the daemon makes. It
 * is what the state keeps of a queued job that lives in the history only
 * (issue 13).
 */
#ifndef COORD_IDSET_H
#define COORD_IDSET_H

#include <stdbool.h>
#include <stddef.h>

#include "reqkey.h"

struct idset {
	struct reqkey *slots; /* empty ones are all zero */
	size_t size;	      /* a power of two, or 0 before the first add */
	size_t count;
};

void idset_init(struct idset *set);
/* Frees the array and every id's copy; the set is empty after. */
void idset_clear(struct idset *set);

/* Adds id: 0, -EEXIST when it is in already, or -ENOMEM. */
int idset_add(struct idset *set, const char *id);
bool idset_has(const struct idset *set, const char *id);
/* Takes id out; whether it was in. */
bool idset_remove(struct idset *set, const char *id);

#endif
