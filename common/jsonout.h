/*
 * Writing JSON text straight into a buffer, for the hot answers and
 * messages that would otherwise be built as json-c trees only to be
 * serialized and freed again. What it writes is what json-c's
 * json_to_wire writes for the same values, byte for byte (strings escaped
 * the same way, times through json_time_text). The buffer belongs to the
 * struct jsonout; jsonout_free releases it.
 */
#ifndef COORD_JSONOUT_H
#define COORD_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <json-c/json.h>

/* Texts up to this size need no allocation. */
#define JSONOUT_INLINE 1024

struct jsonout {
	char *buf; /* inline_buf, or a heap buffer once the text outgrew it */
	size_t len;
	size_t cap;
	bool failed; /* out of memory: the text is incomplete and must not be used */
	char inline_buf[JSONOUT_INLINE];
};

void jsonout_init(struct jsonout *out);
void jsonout_free(struct jsonout *out);
/*
 * The text as a NUL-terminated string of the caller's (the heap buffer
 * itself when there is one), or NULL when it failed or memory ran out.
 * Leaves out empty, as jsonout_init made it.
 */
char *jsonout_take(struct jsonout *out);

/* Room for n more bytes than there is; false (and failed) when there is none to be had. */
bool jsonout_grow(struct jsonout *out, size_t n);

/*
 * Appends len bytes of JSON text as they are. Inline: a literal's copy is
 * then a few moves rather than two calls (a submit writes ~50, issue 13).
 */
static inline void jsonout_raw(struct jsonout *out, const char *text, size_t len)
{
	if (len > out->cap - out->len && !jsonout_grow(out, len))
		return;
	memcpy(out->buf + out->len, text, len);
	out->len += len;
}
/* Appends a string literal of JSON text (keys, punctuation) as it is. */
#define jsonout_lit(out, lit) jsonout_raw((out), "" lit, sizeof(lit) - 1)

/* Appends s as a JSON string (escaped as json-c escapes it), or null when s is NULL. */
void jsonout_string(struct jsonout *out, const char *s);
void jsonout_int64(struct jsonout *out, int64_t v);
/* A time as json_time_new prints it (six decimals). */
void jsonout_time(struct jsonout *out, double t);
/* v, or null when it is not present. */
void jsonout_int64_or_null(struct jsonout *out, bool present, int64_t v);
void jsonout_time_or_null(struct jsonout *out, bool present, double t);
/* Any json-c value as json_to_wire writes it; NULL is null. */
void jsonout_value(struct jsonout *out, json_object *o);

#endif
