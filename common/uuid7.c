/*
 * UUID v7 generation (RFC 9562, section 5.7, with method 1 of section
 * 6.2: a 12-bit counter in rand_a, seeded at random each millisecond).
 * Keeps the last time, the counter and a pool of random bytes (filled by
 * one getrandom for many ids, not one per id) in static storage: the
 * daemon calls it from its one event loop thread only. A forked child
 * drops the pool it inherited. Allocates nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "uuid7.h"

#define UUID7_COUNTER_MAX 0xfffu

/* Random bytes for this many ids at a time. */
#define UUID7_POOL_IDS 32

static uint64_t uuid7_last_ms;
static unsigned uuid7_counter;
static uint8_t uuid7_pool[UUID7_POOL_IDS * 10];
static size_t uuid7_pool_left; /* the unused bytes, at the pool's end */
static pthread_once_t uuid7_once = PTHREAD_ONCE_INIT;

/* A child must not hand out the ids its parent's pool holds too. */
static void uuid7_pool_drop(void)
{
	uuid7_pool_left = 0;
}

static void uuid7_atfork(void)
{
	pthread_atfork(NULL, NULL, uuid7_pool_drop);
}

static int uuid7_fill(uint8_t *p, size_t len)
{

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* len (at most 10) random bytes from the pool, refilled when it runs out. */
static int uuid7_random(uint8_t *buf, size_t len)
{
	pthread_once(&uuid7_once, uuid7_atfork);
	if (uuid7_pool_left < len) {
		int r = uuid7_fill(uuid7_pool, sizeof(uuid7_pool));

		if (r < 0)
			return r;
		uuid7_pool_left = sizeof(uuid7_pool);
	}
	memcpy(buf, uuid7_pool + sizeof(uuid7_pool) - uuid7_pool_left, len);
	/* Used bytes are not kept around. */
	memset(uuid7_pool + sizeof(uuid7_pool) - uuid7_pool_left, 0, len);
	uuid7_pool_left -= len;
	return 0;
}

int uuid7_make(uint64_t unix_ms, struct uuid7 *ret)
{
	uint8_t rnd[10];
	uint64_t ms = unix_ms;
	unsigned counter;
	int r = uuid7_random(rnd, sizeof(rnd));

	if (r < 0)
		return r;
	if (ms <= uuid7_last_ms && uuid7_counter < UUID7_COUNTER_MAX) {
		/* Same millisecond (or the clock stepped back): count on. */
		ms = uuid7_last_ms;
		counter = uuid7_counter + 1;
	} else if (ms <= uuid7_last_ms) {
		/* The counter is spent: borrow the next millisecond. */
		ms = uuid7_last_ms + 1;
		counter = rnd[8] & 0x7fu; /* a small start leaves room to count */
	} else {
		/* A new millisecond: start low in the counter's range, at random. */
		counter = ((unsigned)(rnd[8] & 0x7) << 8 | rnd[9]) & 0x7ffu;
	}
	uuid7_last_ms = ms;
	uuid7_counter = counter;

	for (int i = 0; i < 6; i++)
		ret->b[i] = (uint8_t)(ms >> (8 * (5 - i)));
	ret->b[6] = (uint8_t)(0x70 | (counter >> 8));
	ret->b[7] = (uint8_t)counter;
	ret->b[8] = (uint8_t)(0x80 | (rnd[0] & 0x3f));
	memcpy(&ret->b[9], &rnd[1], 7);
	return 0;
}

int uuid7_generate(struct uuid7 *ret)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -errno;
	return uuid7_make((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, ret);
}

void uuid7_format(const struct uuid7 *u, char out[UUID7_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u->b[i] >> 4];
		*p++ = hex[u->b[i] & 0xf];
	}
	*p = '\0';
}

/* Each lower-case hex digit's value plus one; 0 for every other byte. */
static const uint8_t uuid7_hex1[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,
	['6'] = 7,  ['7'] = 8,	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* The bytes a dash comes before: 4, 6, 8 and 10. */
#define UUID7_DASHES (1u << 4 | 1u << 6 | 1u << 8 | 1u << 10)

/* A table, not a test per digit: every submit parses its request_id several times (issue 13). */
int uuid7_parse(const char *text, struct uuid7 *ret)
{
	const unsigned char *p = (const unsigned char *)text;
	struct uuid7 u;

	for (int i = 0; i < 16; i++) {
		unsigned hi, lo;

		if ((UUID7_DASHES >> i & 1) && *p++ != '-')
			return -EINVAL;
		/* A NUL (a short text) stops here, before the byte after it is read. */
		if (!(hi = uuid7_hex1[p[0]]) || !(lo = uuid7_hex1[p[1]]))
			return -EINVAL;
		u.b[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
		p += 2;
	}
	if (*p != '\0' || (u.b[8] & 0xc0) != 0x80)
		return -EINVAL;
	*ret = u;
	return 0;
}

uint64_t uuid7_unix_ms(const struct uuid7 *u)
{
	uint64_t ms = 0;

	for (int i = 0; i < 6; i++)
		ms = ms << 8 | u->b[i];
	return ms;
}
