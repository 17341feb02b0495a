/*
 * An index of records by the string id each record holds, in one flat
 * array (open addressing, linear probing, at most half full): 8 to 16
 * bytes a record, where a json-c linkhash takes 60 to 120. It is what
 * keeps a long queue small (issue 13). A record gives its id as a string
 * (idmap_init) or as a struct reqkey (idmap_init_keyed), which need not
 * hold the id's text.
 */
#ifndef COORD_IDMAP_H
#define COORD_IDMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "reqkey.h"

/* A record's id: it must not change while the record is in a map. */
typedef const char *(*idmap_id_fn)(const void *record);
typedef const struct reqkey *(*idmap_key_fn)(const void *record);

struct idmap {
	void **slots; /* NULL: empty */
	size_t size;  /* a power of two, or 0 before the first insert */
	size_t count;
	idmap_id_fn id_of; /* one of these two */
	idmap_key_fn key_of;
};

void idmap_init(struct idmap *m, idmap_id_fn id_of);
void idmap_init_keyed(struct idmap *m, idmap_key_fn key_of);
/* Frees the map's array; the records are the caller's. */
void idmap_clear(struct idmap *m);

/* Adds record (whose id the map must not hold yet). 0 or -ENOMEM. */
int idmap_insert(struct idmap *m, void *record);
/* The record with id, or NULL. */
void *idmap_find(const struct idmap *m, const char *id);
/* Takes record out (nothing when it is not in). */
void idmap_remove(struct idmap *m, const void *record);

/*
 * Whether a record at slot j whose home slot is home stays when slot hole
 * empties (home lies cyclically in (hole, j]); else it moves back into the
 * hole. For maps like this one that delete by backward shift.
 */
bool idmap_shift_keeps(size_t hole, size_t home, size_t j);

/* Calls cb for every record, in no order; cb may remove the record it is given, nothing else. */
void idmap_foreach(struct idmap *m, void (*cb)(void *record, void *ctx), void *ctx);

#endif
