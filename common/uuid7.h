/* UUID version 7 (RFC 9562): time-ordered ids, so indexes over them grow at their end. */
#ifndef COORD_UUID7_H
#define COORD_UUID7_H

#include <stdint.h>

/* "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx" and its NUL. */
#define UUID7_STR_LEN 37

/* The 16 bytes of one UUID v7. */
struct uuid7 {
	uint8_t b[16];
};

/*
 * Fills *ret with a UUID v7 for the time unix_ms: 48 bits of milliseconds,
 * the version, 12 bits of counter (rand_a), the variant and 62 random
 * bits. Within one millisecond of one process the counter goes up from a
 * random start, so ids made one after the other sort in the order they
 * were made; when it would wrap, the time is taken one millisecond ahead.
 * The random bits come from getrandom. 0, or a negative errno when no
 * randomness can be had.
 */
int uuid7_make(uint64_t unix_ms, struct uuid7 *ret);

/* uuid7_make for the current time (CLOCK_REALTIME). */
int uuid7_generate(struct uuid7 *ret);

/* Lower-case text form of u in out. */
void uuid7_format(const struct uuid7 *u, char out[UUID7_STR_LEN]);

/*
 * The 16 bytes of text in exactly the form uuid7_format writes (36
 * characters, lower-case hex, any version) whose variant is RFC 9562's.
 * 0, or -EINVAL for any other text (upper case, braces, another variant).
 */
int uuid7_parse(const char *text, struct uuid7 *ret);

/* The milliseconds since the epoch a UUID v7 carries. */
uint64_t uuid7_unix_ms(const struct uuid7 *u);

#endif
