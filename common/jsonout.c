/* JSON text written into a growing buffer (see jsonout.h); the buffer is the jsonout's. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "jsonutil.h"

void jsonout_init(struct jsonout *out)
{
	out->buf = out->inline_buf;
	out->len = 0;
	out->cap = sizeof(out->inline_buf);
	out->failed = false;
}

void jsonout_free(struct jsonout *out)
{
	if (out->buf != out->inline_buf)
		free(out->buf);
	jsonout_init(out);
}

char *jsonout_take(struct jsonout *out)
{
	char *text = NULL;

	jsonout_raw(out, "", 1);
	if (!out->failed && out->buf == out->inline_buf) {
		text = malloc(out->len);
		if (text)
			memcpy(text, out->buf, out->len);
	} else if (!out->failed) {
		text = out->buf;
		out->buf = out->inline_buf;
	}
	jsonout_free(out);
	return text;
}

/* Room for n more bytes; false (and failed) when there is none to be had. */
static bool jsonout_reserve(struct jsonout *out, size_t n)
{
	if (out->failed)
		return false;
	return n <= out->cap - out->len || jsonout_grow(out, n);
}

bool jsonout_grow(struct jsonout *out, size_t n)
{
	size_t cap = out->cap;
	char *buf;

	if (out->failed)
		return false;
	while (cap - out->len < n) {
		if (cap > SIZE_MAX / 2) {
			out->failed = true;
			return false;
		}
		cap *= 2;
	}
	if (cap == out->cap)
		return true;
	buf = out->buf == out->inline_buf ? malloc(cap) : realloc(out->buf, cap);
	if (!buf) {
		out->failed = true;
		return false;
	}
	if (out->buf == out->inline_buf)
		memcpy(buf, out->inline_buf, out->len);
	out->buf = buf;
	out->cap = cap;
	return true;
}

/* The escape of byte c inside a JSON string, as json-c writes it (no "\/"); NULL: none. */
static const char *jsonout_escape(unsigned char c, char tmp[7])
{
	static const char hex[] = "0123456789abcdef";

	switch (c) {
	case '\b':
		return "\\b";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	case '\f':
		return "\\f";
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	}
	if (c >= 0x20)
		return NULL;
	memcpy(tmp, "\\u00", 4);
	tmp[4] = hex[c >> 4];
	tmp[5] = hex[c & 0xf];
	tmp[6] = '\0';
	return tmp;
}

#define JSONOUT_ONES  UINT64_C(0x0101010101010101)
#define JSONOUT_HIGHS UINT64_C(0x8080808080808080)

/* Whether any byte of w is below 0x20, '"' or '\\' (each needs an escape). */
static bool jsonout_word_needs_escape(uint64_t w)
{
	uint64_t quote = w ^ (JSONOUT_ONES * '"'), backslash = w ^ (JSONOUT_ONES * '\\');

	/* (x - 0x01..) & ~x & 0x80..: some byte of x is zero (or below the subtrahend). */
	return (((w - JSONOUT_ONES * 0x20) & ~w) | ((quote - JSONOUT_ONES) & ~quote) |
		((backslash - JSONOUT_ONES) & ~backslash)) &
	       JSONOUT_HIGHS;
}

void jsonout_string(struct jsonout *out, const char *s)
{
	size_t len, i;
	char tmp[7], *p;

	if (!s) {
		jsonout_lit(out, "null");
		return;
	}
	len = strlen(s);
	/* Room for the worst case (every byte a \u00XX) once, then no checks per byte. */
	if (len > (SIZE_MAX - 2) / 6) {
		out->failed = true;
		return;
	}
	if (!jsonout_reserve(out, len * 6 + 2))
		return;
	p = out->buf + out->len;
	*p++ = '"';
	for (i = 0; i < len; i++) {
		/* Eight plain bytes at a time: the common case, ids and names. */
		while (len - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (jsonout_word_needs_escape(w))
				break;
			memcpy(p, &w, 8);
			p += 8;
			i += 8;
		}
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i];
		const char *esc;
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\') {
			*p++ = (char)c;
			continue;
		}
		esc = jsonout_escape(c, tmp);
		n = strlen(esc);
		memcpy(p, esc, n);
		p += n;
	}
	*p++ = '"';
	out->len = (size_t)(p - out->buf);
}

void jsonout_int64(struct jsonout *out, int64_t v)
{
	char buf[24], *end = buf + sizeof(buf), *p = end;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	jsonout_raw(out, p, (size_t)(end - p));
}

void jsonout_time(struct jsonout *out, double t)
{
	char buf[JSON_TIME_TEXT_MAX];

	jsonout_raw(out, buf, json_time_text(t, buf));
}

void jsonout_int64_or_null(struct jsonout *out, bool present, int64_t v)
{
	if (present)
		jsonout_int64(out, v);
	else
		jsonout_lit(out, "null");
}

void jsonout_time_or_null(struct jsonout *out, bool present, double t)
{
	if (present)
		jsonout_time(out, t);
	else
		jsonout_lit(out, "null");
}

void jsonout_value(struct jsonout *out, json_object *o)
{
	const char *text;
	size_t len;

	if (!o) {
		jsonout_lit(out, "null");
		return;
	}
	text = json_to_wire(o, &len);
	if (!text) {
		out->failed = true;
		return;
	}
	jsonout_raw(out, text, len);
}
