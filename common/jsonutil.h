/* Small json-c helpers shared by the daemon and the clients. */
#ifndef COORD_JSONUTIL_H
#define COORD_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

/* Seconds since the epoch with microsecond precision. */
double time_now(void);

/* A JSON number printed with exactly six decimals (new reference). */
json_object *json_time_new(double t);

/* Room for the text of any time: "%.6f" of the largest double and its NUL. */
#define JSON_TIME_TEXT_MAX 352

/* The text json_time_new's number is printed as, into buf; its length. */
size_t json_time_text(double t, char buf[JSON_TIME_TEXT_MAX]);

/* A JSON string, or JSON null when s is NULL (new reference, NULL is null). */
json_object *json_string_or_null(const char *s);

/*
 * A JSON string from arbitrary bytes: invalid UTF-8 sequences become
 * U+FFFD, so what goes on the wire is always valid JSON text.
 */
json_object *json_string_from_bytes(const char *bytes, size_t len);

/*
 * Whether bytes are valid UTF-8 (RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing past U+10FFFF). All-ASCII text is told in one
 * branch-free pass.
 */
bool utf8_valid(const char *bytes, size_t len);

/*
 * How much of bytes to take so that it does not end inside a UTF-8
 * sequence that more bytes could still complete: len, or len less the (at
 * most 3) bytes of such an unfinished sequence at its end.
 */
size_t utf8_whole_len(const char *bytes, size_t len);

/* The string value of key in obj, or NULL when absent, null or not a string. */
const char *json_get_string(json_object *obj, const char *key);

/*
 * Roughly the bytes obj takes in memory once parsed (json-c's objects, the
 * strings, and what a handler copies out of them), to budget what a
 * client's requests may hold. Grows with every value, string byte and key.
 */
size_t json_footprint(json_object *obj);

/*
 * An object that json-c writes out as text, exactly (text: one JSON value,
 * taken over; freed on failure). It has no members: only for writing out.
 * A new reference, or NULL when out of memory.
 */
json_object *json_raw_new(char *text);

/* The length of the text a json_raw_new object writes out. */
size_t json_raw_len(json_object *raw);

/* Serializes obj compactly, with no raw newline: the daemon's framing. */
const char *json_to_wire(json_object *obj, size_t *len);

#endif
