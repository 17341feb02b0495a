/*
 * Reading JSON text without building objects, for what json-c's objects
 * lose or would cost too much to learn: how many requests a batch holds,
 * an object key cut short at a NUL character, the exact digits of a number
 * too big for 64 bits. Nothing here allocates; offsets point into the text.
 */
#ifndef COORD_JSONTEXT_H
#define COORD_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

struct jsontext_outline {
	bool array;	 /* the text starts with '[' */
	size_t elements; /* top-level elements of that array (an upper bound on invalid text) */
	bool nul_in_key; /* an object key holds \u0000 (json-c would cut it there) */
};

/* Outlines len bytes of text in one pass. Safe on any bytes; exact on valid JSON. */
void jsontext_outline(const char *text, size_t len, struct jsontext_outline *ret);

/* The offset of the first non-space byte at or after off (len if none). */
size_t jsontext_skip_space(const char *text, size_t len, size_t off);

/*
 * For the array whose '[' is at off: the offset of its first element. For an
 * element at off: the offset of the next one. len when there is none. The
 * text must be valid JSON (as json-c accepted it).
 */
size_t jsontext_array_first(const char *text, size_t len, size_t off);
size_t jsontext_array_next(const char *text, size_t len, size_t off);

/*
 * The raw text of the member key (compared after unescaping) of the object
 * whose '{' is at off; the last one when it repeats, as json-c keeps. The
 * text must be valid JSON. False when absent.
 */
bool jsontext_member(const char *text, size_t len, size_t off, const char *key, size_t *ret_start,
		     size_t *ret_len);

#endif
