/*
 * Request ids in 16 bytes. A key in text form owns its copy of the id
 * (reqkey_set), but for a probe (reqkey_probe), which borrows it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reqkey.h"

static bool reqkey_is_uuid(const struct reqkey *k)
{
	return (k->b[8] & 0xc0) == 0x80;
}

static const char *reqkey_text(const struct reqkey *k)
{
	const char *text;

	memcpy(&text, k->b, sizeof(text));
	return text;
}

int reqkey_set(struct reqkey *k, const char *id)
{
	struct reqkey probe = reqkey_probe(id);

	return reqkey_set_probe(k, &probe);
}

int reqkey_set_probe(struct reqkey *k, const struct reqkey *probe)
{
	char *copy;

	if (reqkey_is_uuid(probe)) {
		*k = *probe;
		return 0;
	}
	copy = strdup(reqkey_text(probe));
	if (!copy)
		return -ENOMEM;
	*k = (struct reqkey){0};
	memcpy(k->b, &copy, sizeof(copy));
	return 0;
}

void reqkey_clear(struct reqkey *k)
{
	if (!reqkey_is_uuid(k))
		free((char *)reqkey_text(k));
	*k = (struct reqkey){0};
}

/* The key of id: in binary when id is a UUID, else pointing at id itself. */
struct reqkey reqkey_probe(const char *id)
{
	struct reqkey k = {0};
	struct uuid7 u;

	if (uuid7_parse(id, &u) == 0) {
		memcpy(k.b, u.b, sizeof(k.b));
		return k;
	}
	memcpy(k.b, &id, sizeof(id));
	return k;
}

bool reqkey_empty(const struct reqkey *k)
{
	return !reqkey_is_uuid(k) && !reqkey_text(k);
}

bool reqkey_equal(const struct reqkey *a, const struct reqkey *b)
{
	if (reqkey_is_uuid(a) || reqkey_is_uuid(b))
		return memcmp(a->b, b->b, sizeof(a->b)) == 0;
	return strcmp(reqkey_text(a), reqkey_text(b)) == 0;
}

uint64_t reqkey_hash_text(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h ^ (h >> 32);
}

uint64_t reqkey_hash(const struct reqkey *k)
{
	uint64_t h, lo;

	if (reqkey_is_uuid(k)) {
		/* Every bit counts (a client's UUIDs may differ in a few): murmur3's finalizer. */
		memcpy(&h, k->b, sizeof(h));
		memcpy(&lo, k->b + 8, sizeof(lo));
		h ^= lo * UINT64_C(0x9e3779b97f4a7c15);
		h = (h ^ (h >> 33)) * UINT64_C(0xff51afd7ed558ccd);
		h = (h ^ (h >> 33)) * UINT64_C(0xc4ceb9fe1a85ec53);
		return h ^ (h >> 33);
	}
	return reqkey_hash_text(reqkey_text(k));
}

const char *reqkey_str(const struct reqkey *k, char buf[REQKEY_STR_LEN])
{
	struct uuid7 u;

	if (!reqkey_is_uuid(k))
		return reqkey_text(k);
	memcpy(u.b, k->b, sizeof(u.b));
	uuid7_format(&u, buf);
	return buf;
}
