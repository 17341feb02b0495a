/*
 * A request_id in 16 bytes, for what a long queue keeps of every task
 * (issue 13): an id in the form the daemon makes (a lower-case UUID, see
 * uuid7_parse) in binary, which needs no memory of its own; any other id
 * (a client's own) as a pointer to a copy the key owns.
 */
#ifndef COORD_REQKEY_H
#define COORD_REQKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "uuid7.h"

/*
 * b[8] is a UUID's variant byte (10xxxxxx) in binary form; 0 when b[0..7]
 * hold a char * instead. All zero: no id (the pointer is NULL).
 */
struct reqkey {
	unsigned char b[16];
};

/* Room for reqkey_str's text of a UUID. */
#define REQKEY_STR_LEN UUID7_STR_LEN

/* Sets *k to id (k holds none before). 0 or -ENOMEM. */
int reqkey_set(struct reqkey *k, const char *id);
/* reqkey_set for the id a probe borrows, which is then not read again. 0 or -ENOMEM. */
int reqkey_set_probe(struct reqkey *k, const struct reqkey *probe);
/* Frees what k owns; it holds no id after. */
void reqkey_clear(struct reqkey *k);
/* A key to look id up with: it borrows id, and must not be cleared. */
struct reqkey reqkey_probe(const char *id);

bool reqkey_empty(const struct reqkey *k);
bool reqkey_equal(const struct reqkey *a, const struct reqkey *b);
/* Equal keys hash alike; a key in text form hashes as reqkey_hash_text of its text. */
uint64_t reqkey_hash(const struct reqkey *k);
/* FNV-1a (64 bits) of a string. */
uint64_t reqkey_hash_text(const char *s);
/* The id k holds: its copy, or its text written into buf. */
const char *reqkey_str(const struct reqkey *k, char buf[REQKEY_STR_LEN]);

#endif
