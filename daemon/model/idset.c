/*
 * The id set: linear probing with deletion by backward shift (no
 * tombstones), as in idmap.c, over keys held in the slots themselves.
 * The set owns its array and the keys' copies of ids that are not UUIDs.
 */
#include <errno.h>
#include <stdlib.h>

#include "idmap.h"
#include "idset.h"

#define IDSET_MIN_SIZE 64

void idset_init(struct idset *set)
{
	*set = (struct idset){0};
}

void idset_clear(struct idset *set)
{
	for (size_t i = 0; i < set->size; i++)
		reqkey_clear(&set->slots[i]);
	free(set->slots);
	*set = (struct idset){0};
}

static size_t idset_home(const struct idset *set, const struct reqkey *k)
{
	return (size_t)reqkey_hash(k) & (set->size - 1);
}

/* The slot holding k, or the empty one where it would go. */
static size_t idset_slot(const struct idset *set, const struct reqkey *k)
{
	size_t i = idset_home(set, k);

	while (!reqkey_empty(&set->slots[i]) && !reqkey_equal(&set->slots[i], k))
		i = (i + 1) & (set->size - 1);
	return i;
}

static int idset_grow(struct idset *set)
{
	struct idset bigger = {.size = set->size ? set->size * 2 : IDSET_MIN_SIZE,
			       .count = set->count};

	bigger.slots = calloc(bigger.size, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->size; i++)
		if (!reqkey_empty(&set->slots[i]))
			bigger.slots[idset_slot(&bigger, &set->slots[i])] = set->slots[i];
	free(set->slots);
	*set = bigger;
	return 0;
}

int idset_add(struct idset *set, const char *id)
{
	struct reqkey probe = reqkey_probe(id);
	size_t i = 0;
	int r;

	/* One probe finds it, or the empty slot where it goes unless the set must grow first. */
	if (set->size > 0 && !reqkey_empty(&set->slots[i = idset_slot(set, &probe)]))
		return -EEXIST;
	if ((set->count + 1) * 4 > set->size * 3) {
		if ((r = idset_grow(set)) < 0)
			return r;
		i = idset_slot(set, &probe);
	}
	r = reqkey_set_probe(&set->slots[i], &probe);
	if (r < 0)
		return r;
	set->count++;
	return 0;
}

bool idset_has(const struct idset *set, const char *id)
{
	struct reqkey probe = reqkey_probe(id);

	return set->count > 0 && !reqkey_empty(&set->slots[idset_slot(set, &probe)]);
}

bool idset_remove(struct idset *set, const char *id)
{
	struct reqkey probe = reqkey_probe(id);
	size_t hole, j;

	if (set->count == 0)
		return false;
	hole = idset_slot(set, &probe);
	if (reqkey_empty(&set->slots[hole]))
		return false;
	reqkey_clear(&set->slots[hole]);
	set->count--;
	/* Shift back the keys after it that the hole would hide from their home. */
	for (j = (hole + 1) & (set->size - 1); !reqkey_empty(&set->slots[j]);
	     j = (j + 1) & (set->size - 1)) {
		if (idmap_shift_keeps(hole, idset_home(set, &set->slots[j]), j))
			continue;
		set->slots[hole] = set->slots[j];
		set->slots[j] = (struct reqkey){0};
		hole = j;
	}
	return true;
}
