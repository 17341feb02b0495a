/*
 * The id index: linear probing with deletion by backward shift (no
 * tombstones). The map owns its slot array only; records and their ids
 * belong to the caller.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

#define IDMAP_MIN_SIZE 64

void idmap_init(struct idmap *m, idmap_id_fn id_of)
{
	*m = (struct idmap){.id_of = id_of};
}

void idmap_init_keyed(struct idmap *m, idmap_key_fn key_of)
{
	*m = (struct idmap){.key_of = key_of};
}

void idmap_clear(struct idmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->size = 0;
	m->count = 0;
}

static uint64_t idmap_record_hash(const struct idmap *m, const void *record)
{
	return m->key_of ? reqkey_hash(m->key_of(record)) : reqkey_hash_text(m->id_of(record));
}

static size_t idmap_home(const struct idmap *m, const void *record)
{
	return (size_t)idmap_record_hash(m, record) & (m->size - 1);
}

/* Puts record in the first empty slot from its home (there is one). */
static void idmap_place(void **slots, size_t size, size_t home, void *record)
{
	size_t i = home;

	while (slots[i])
		i = (i + 1) & (size - 1);
	slots[i] = record;
}

static int idmap_grow(struct idmap *m)
{
	size_t size = m->size ? m->size * 2 : IDMAP_MIN_SIZE;
	void **slots = calloc(size, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->size; i++)
		if (m->slots[i])
			idmap_place(slots, size,
				    (size_t)idmap_record_hash(m, m->slots[i]) & (size - 1),
				    m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->size = size;
	return 0;
}

int idmap_insert(struct idmap *m, void *record)
{
	int r;

	if ((m->count + 1) * 2 > m->size && (r = idmap_grow(m)) < 0)
		return r;
	idmap_place(m->slots, m->size, idmap_home(m, record), record);
	m->count++;
	return 0;
}

/* The slot holding the record keyed k, or m->size when none does. */
static size_t idmap_slot_keyed(const struct idmap *m, const struct reqkey *k)
{
	size_t i;

	for (i = (size_t)reqkey_hash(k) & (m->size - 1); m->slots[i]; i = (i + 1) & (m->size - 1))
		if (reqkey_equal(m->key_of(m->slots[i]), k))
			return i;
	return m->size;
}

/* The slot holding id, or m->size when none does. */
static size_t idmap_slot(const struct idmap *m, const char *id)
{
	struct reqkey probe;
	size_t i;

	if (m->size == 0)
		return 0;
	if (m->key_of) {
		probe = reqkey_probe(id);
		return idmap_slot_keyed(m, &probe);
	}
	for (i = (size_t)reqkey_hash_text(id) & (m->size - 1); m->slots[i];
	     i = (i + 1) & (m->size - 1))
		if (strcmp(m->id_of(m->slots[i]), id) == 0)
			return i;
	return m->size;
}

void *idmap_find(const struct idmap *m, const char *id)
{
	size_t i = idmap_slot(m, id);

	return i < m->size ? m->slots[i] : NULL;
}

bool idmap_shift_keeps(size_t hole, size_t home, size_t j)
{
	return hole <= j ? hole < home && home <= j : hole < home || home <= j;
}

void idmap_remove(struct idmap *m, const void *record)
{
	size_t hole, j;

	if (m->size == 0)
		return;
	hole = m->key_of ? idmap_slot_keyed(m, m->key_of(record)) : idmap_slot(m, m->id_of(record));
	if (hole == m->size || m->slots[hole] != record)
		return;
	m->slots[hole] = NULL;
	m->count--;
	/* Shift back the records after it that the hole would hide from their home. */
	for (j = (hole + 1) & (m->size - 1); m->slots[j]; j = (j + 1) & (m->size - 1)) {
		if (idmap_shift_keeps(hole, idmap_home(m, m->slots[j]), j))
			continue;
		m->slots[hole] = m->slots[j];
		m->slots[j] = NULL;
		hole = j;
	}
}

void idmap_foreach(struct idmap *m, void (*cb)(void *record, void *ctx), void *ctx)
{
	size_t start, i, n;

	if (m->count == 0)
		return;
	/*
	 * Start after an empty slot: a removal shifts records only back
	 * within their run of full slots, so none that was visited comes
	 * again, and the one that moves into the current slot is seen next.
	 */
	for (start = 0; m->slots[start]; start++)
		;
	for (i = (start + 1) & (m->size - 1), n = 1; n < m->size;) {
		void *record = m->slots[i];

		if (record) {
			cb(record, ctx);
			if (m->slots[i] && m->slots[i] != record)
				continue;
		}
		i = (i + 1) & (m->size - 1);
		n++;
	}
}
