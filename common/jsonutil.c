/* json-c helpers. Returned json_object pointers hand over one reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonutil.h"

double time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
}

/* Writes the decimal digits of v backwards, ending at end; returns where they start. */
static char *json_time_digits(char *end, uint64_t v, int min_digits)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
		min_digits--;
	} while (v || min_digits > 0);
	return end;
}

/*
 * What snprintf "%.6f" writes for t, without printf (which costs some
 * thousand instructions a time, and every job and message carries
 * several): exact, rounding the binary value to microseconds half to
 * even as printf does. Only for 0 <= t < 2^53, which every time is; the
 * length, or -1 for anything else.
 */
static int json_time_format(double t, char *buf, size_t size)
{
#ifdef __SIZEOF_INT128__
	char tmp[32], *end = tmp + sizeof(tmp), *p;
	uint64_t bits, mant, ip, frac, micro;
	int shift;

	if (!(t >= 0 && t < 9007199254740992.0))
		return -1;
	/* t = mant / 2^shift exactly (IEEE 754 double: 52 stored bits, exponent bias 1075). */
	memcpy(&bits, &t, sizeof(bits));
	mant = bits & ((UINT64_C(1) << 52) - 1);
	shift = 1075 - (int)(bits >> 52);
	if (bits >> 52)
		mant |= UINT64_C(1) << 52;
	else
		shift = 1074; /* subnormal (or zero) */
	if (shift <= 0) {
		ip = mant << -shift;
		micro = 0;
	} else if (shift >= 75) {
		/* t < 2^-22: less than half a microsecond. */
		ip = 0;
		micro = 0;
	} else {
		unsigned __int128 one = 1, scaled;
		unsigned __int128 rest, half = one << (shift - 1);

		ip = shift >= 64 ? 0 : mant >> shift;
		frac = shift >= 64 ? mant : mant & ((UINT64_C(1) << shift) - 1);
		scaled = (unsigned __int128)frac * 1000000;
		micro = (uint64_t)(scaled >> shift);
		rest = scaled & ((one << shift) - 1);
		if (rest > half || (rest == half && (micro & 1)))
			micro++;
		if (micro == 1000000) {
			ip++;
			micro = 0;
		}
	}
	p = json_time_digits(end, micro, 6);
	*--p = '.';
	p = json_time_digits(p, ip, 1);
	if ((size_t)(end - p) >= size)
		return -1;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return (int)(end - p);
#else
	(void)t, (void)buf, (void)size;
	return -1;
#endif
}

size_t json_time_text(double t, char buf[JSON_TIME_TEXT_MAX])
{
	int n = json_time_format(t, buf, JSON_TIME_TEXT_MAX);

	if (n < 0)
		n = snprintf(buf, JSON_TIME_TEXT_MAX, "%.6f", t);
	return (size_t)n;
}

json_object *json_time_new(double t)
{
	char buf[JSON_TIME_TEXT_MAX];

	json_time_text(t, buf);
	return json_object_new_double_s(t, buf);
}

json_object *json_string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if invalid. */
static size_t utf8_valid_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Whether bytes hold no byte past 0x7f: one OR a word, no branch until
 * the end (it runs on every request line).
 */
static bool utf8_all_ascii(const unsigned char *p, size_t len)
{
	uint64_t acc = 0;
	size_t i = 0;

	for (; len - i >= 4 * sizeof(uint64_t); i += 4 * sizeof(uint64_t)) {
		uint64_t w[4];

		memcpy(w, p + i, sizeof(w));
		acc |= w[0] | w[1] | w[2] | w[3];
	}
	for (; len - i >= sizeof(uint64_t); i += sizeof(uint64_t)) {
		uint64_t w;

		memcpy(&w, p + i, sizeof(w));
		acc |= w;
	}
	for (; i < len; i++)
		acc |= p[i];
	return !(acc & UINT64_C(0x8080808080808080));
}

bool utf8_valid(const char *bytes, size_t len)
{
	const unsigned char *p = (const unsigned char *)bytes;

	if (utf8_all_ascii(p, len))
		return true;
	for (size_t i = 0, n; i < len; i += n) {
		n = utf8_valid_len(p + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

size_t utf8_whole_len(const char *bytes, size_t len)
{
	const unsigned char *p = (const unsigned char *)bytes;

	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = p[len - back];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (c >= 0xc2 && c <= 0xdf)
			need = 2;
		else if (c >= 0xe0 && c <= 0xef)
			need = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 4;
		else
			return len; /* ASCII or a byte no sequence starts with */
		return need > back ? len - back : len;
	}
	return len;
}

json_object *json_string_from_bytes(const char *bytes, size_t len)
{
	const unsigned char *p = (const unsigned char *)bytes;
	size_t i = 0, out_len = 0;
	json_object *obj;
	char *out;

	if (utf8_valid(bytes, len))
		return json_object_new_string_len(bytes, (int)len);

	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < len;) {
		size_t n = utf8_valid_len(p + i, len - i);

		if (n == 0) {
			memcpy(out + out_len, "\xef\xbf\xbd", 3);
			out_len += 3;
			i++;
			continue;
		}
		memcpy(out + out_len, p + i, n);
		out_len += n;
		i += n;
	}
	obj = json_object_new_string_len(out, (int)out_len);
	free(out);
	return obj;
}

const char *json_get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* What one value costs besides its contents: json-c's object, malloc's header, a pointer to it. */
#define JSON_FOOTPRINT_VALUE 64

size_t json_footprint(json_object *obj)
{
	size_t total = JSON_FOOTPRINT_VALUE;

	switch (json_object_get_type(obj)) {
	case json_type_null:
		return sizeof(void *);
	case json_type_string:
		return total + (size_t)json_object_get_string_len(obj);
	case json_type_array:
		for (size_t i = 0, n = json_object_array_length(obj); i < n; i++)
			total += json_footprint(json_object_array_get_idx(obj, i));
		return total;
	case json_type_object: {
		json_object_object_foreach (obj, key, value)
			total += JSON_FOOTPRINT_VALUE + strlen(key) + json_footprint(value);
		return total;
	}
	case json_type_boolean:
	case json_type_double:
	case json_type_int:
		return total;
	}
	return total;
}

json_object *json_raw_new(char *text)
{
	json_object *o = text ? json_object_new_object() : NULL;

	if (!o) {
		free(text);
		return NULL;
	}
	json_object_set_serializer(o, json_object_userdata_to_json_string, text,
				   json_object_free_userdata);
	return o;
}

size_t json_raw_len(json_object *raw)
{
	const char *text = json_object_get_userdata(raw);

	return text ? strlen(text) : 0;
}

const char *json_to_wire(json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}
