/* JSON text scanning (see jsontext.h). Allocates nothing; every offset points into the text. */
#include <string.h>

#include "jsontext.h"

/* Deeper than any parser here lets through; past it keys are no longer told from values. */
#define JSONTEXT_MAX_DEPTH 256

static bool jsontext_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t jsontext_skip_space(const char *text, size_t len, size_t off)
{
	while (off < len && jsontext_is_space(text[off]))
		off++;
	return off;
}

/* Past the string whose opening quote is at off; *ret_nul (if not NULL) set if it has \u0000. */
static size_t jsontext_skip_string(const char *text, size_t len, size_t off, bool *ret_nul)
{
	for (off++; off < len && text[off] != '"'; off++) {
		if (text[off] != '\\')
			continue;
		if (ret_nul && len - off >= 6 && memcmp(text + off + 1, "u0000", 5) == 0)
			*ret_nul = true;
		off++; /* the escaped character; the digits of \uXXXX need no care */
	}
	return off < len ? off + 1 : len;
}

void jsontext_outline(const char *text, size_t len, struct jsontext_outline *ret)
{
	bool object[JSONTEXT_MAX_DEPTH];
	size_t depth = 0, commas = 0, off = jsontext_skip_space(text, len, 0);
	bool expect_key = false, nonempty = false;

	memset(ret, 0, sizeof(*ret));
	ret->array = off < len && text[off] == '[';
	/* Most lines: one request with no escape at all, so no \u0000 either (issue 13). */
	if (!ret->array && !memchr(text + off, '\\', len - off))
		return;
	while (off < len) {
		char c = text[off];
		bool in_object = depth > 0 && depth <= JSONTEXT_MAX_DEPTH && object[depth - 1];

		if (depth == 1 && !jsontext_is_space(c) && c != ',' && c != ']')
			nonempty = true;
		if (c == '"') {
			bool nul = false;

			off = jsontext_skip_string(text, len, off,
						   expect_key && in_object ? &nul : NULL);
			ret->nul_in_key |= nul;
			expect_key = false;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth < JSONTEXT_MAX_DEPTH)
				object[depth] = c == '{';
			depth++;
			expect_key = c == '{';
		} else if (c == '}' || c == ']') {
			depth -= depth > 0;
			expect_key = false;
		} else if (c == ',') {
			commas += depth == 1;
			expect_key = in_object;
		} else if (c == ':') {
			expect_key = false;
		}
		off++;
	}
	if (ret->array)
		ret->elements = nonempty ? commas + 1 : 0;
}

/* Past the value at off (valid JSON): a string, a container, or a bare literal or number. */
static size_t jsontext_skip_value(const char *text, size_t len, size_t off)
{
	size_t depth = 0;

	while (off < len) {
		char c = text[off];

		if (c == '"') {
			off = jsontext_skip_string(text, len, off, NULL);
			if (depth == 0)
				return off;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return off;
			if (--depth == 0)
				return off + 1;
		} else if (depth == 0 && (c == ',' || jsontext_is_space(c))) {
			return off;
		}
		off++;
	}
	return len;
}

size_t jsontext_array_first(const char *text, size_t len, size_t off)
{
	off = jsontext_skip_space(text, len, off + 1);
	return off < len && text[off] != ']' ? off : len;
}

size_t jsontext_array_next(const char *text, size_t len, size_t off)
{
	off = jsontext_skip_space(text, len, jsontext_skip_value(text, len, off));
	if (off >= len || text[off] != ',')
		return len;
	return jsontext_skip_space(text, len, off + 1);
}

static int jsontext_hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

/* The character of the escape at raw[*i] (a backslash), moving *i past it; -1 if malformed. */
static long jsontext_unescape(const char *raw, size_t n, size_t *i)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned cp;

	if (*i + 1 >= n)
		return -1;
	if (raw[*i + 1] == 'u') {
		if (*i + 6 > n || jsontext_hex4(raw + *i + 2, &cp) < 0)
			return -1;
		*i += 6;
		return cp;
	}
	hit = strchr(from, raw[*i + 1]);
	if (!hit || !*hit)
		return -1;
	*i += 2;
	return (unsigned char)to[hit - from];
}

/* Whether the raw string contents (n bytes, escapes and all) spell key. */
static bool jsontext_key_equals(const char *raw, size_t n, const char *key)
{
	size_t i = 0, k = 0;

	while (i < n) {
		long c = raw[i] == '\\' ? jsontext_unescape(raw, n, &i) : (unsigned char)raw[i++];

		if (c < 0 || key[k] == '\0' || c != (unsigned char)key[k])
			return false;
		k++;
	}
	return key[k] == '\0';
}

bool jsontext_member(const char *text, size_t len, size_t off, const char *key, size_t *ret_start,
		     size_t *ret_len)
{
	bool found = false;

	off = jsontext_skip_space(text, len, off + 1);
	while (off < len && text[off] == '"') {
		size_t key_start = off + 1, key_end, value;

		off = jsontext_skip_string(text, len, off, NULL);
		if (off >= len)
			break;
		key_end = off - 1;
		off = jsontext_skip_space(text, len, off);
		if (off >= len || text[off] != ':')
			break;
		value = jsontext_skip_space(text, len, off + 1);
		off = jsontext_skip_value(text, len, value);
		if (jsontext_key_equals(text + key_start, key_end - key_start, key)) {
			*ret_start = value;
			*ret_len = off - value;
			found = true;
		}
		off = jsontext_skip_space(text, len, off);
		if (off >= len || text[off] != ',')
			break;
		off = jsontext_skip_space(text, len, off + 1);
	}
	return found;
}
