/* Reading a JSON object by its spec (see jsonspec.h). Values written out are borrowed from obj. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cause.h"
#include "jsonspec.h"

/* A field's name as a person reads it ("node.argv", or "cascade"), made only for an error. */
struct jsonspec_field {
	const char *path; /* or NULL */
	const char *name;
	char text[160];
};

static void jsonspec_field_init(struct jsonspec_field *f, const struct jsonspec_where *where,
				const char *name)
{
	f->path = where ? where->path : NULL;
	f->name = name;
	f->text[0] = '\0';
}

static const char *jsonspec_field_text(struct jsonspec_field *f)
{
	if (!f->path)
		return f->name;
	if (!f->text[0])
		snprintf(f->text, sizeof(f->text), "%s.%s", f->path, f->name);
	return f->text;
}

static void *jsonspec_at(void *out, size_t offset)
{
	return (char *)out + offset;
}

static bool jsonspec_has_nul(json_object *string)
{
	return memchr(json_object_get_string(string), '\0',
		      (size_t)json_object_get_string_len(string)) != NULL;
}

/* "\"a\" or \"b\"", "one of \"a\", \"b\", \"c\"". */
static void jsonspec_choices_text(const char *const *choices, char *buf, size_t size)
{
	size_t n = 0, len = 0;

	while (choices[n])
		n++;
	buf[0] = '\0';
	if (n > 2)
		len = (size_t)snprintf(buf, size, "one of ");
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s\"%s\"",
					i == 0 ? "" : (n == 2 ? " or " : ", "), choices[i]);
}

static int jsonspec_check_choice(const struct jsonspec *e, struct jsonspec_field *field,
				 const char *value, char **error)
{
	char text[256];

	for (const char *const *c = e->choices; *c; c++)
		if (strcmp(*c, value) == 0)
			return 0;
	jsonspec_choices_text(e->choices, text, sizeof(text));
	return cause_set(error, -EINVAL, "%s must be %s, not \"%.64s\"", jsonspec_field_text(field),
			 text, value);
}

static int jsonspec_check_length(const struct jsonspec *e, struct jsonspec_field *field, size_t n,
				 const char *unit, char **error)
{
	if (n >= e->lmin && (e->lmax == 0 || n <= e->lmax))
		return 0;
	if (e->lmin == 1 && n == 0)
		return cause_set(error, -EINVAL, "%s must not be empty",
				 jsonspec_field_text(field));
	if (e->lmax == 0)
		return cause_set(error, -EINVAL, "%s must hold at least %zu %s",
				 jsonspec_field_text(field), e->lmin, unit);
	return cause_set(error, -EINVAL, "%s holds %zu %s; it must hold %zu to %zu",
			 jsonspec_field_text(field), n, unit, e->lmin, e->lmax);
}

static int jsonspec_string(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			   void *out, char **error)
{
	const char *s;
	int r;

	if (!json_object_is_type(v, json_type_string))
		return cause_set(error, -EINVAL, "%s must be a string%s",
				 jsonspec_field_text(field),
				 e->flags & JSONSPEC_NULLABLE ? " or null" : "");
	if (jsonspec_has_nul(v))
		return cause_set(error, -EINVAL, "%s must not hold a NUL character (\\u0000)",
				 jsonspec_field_text(field));
	s = json_object_get_string(v);
	if (e->choices && (r = jsonspec_check_choice(e, field, s, error)) < 0)
		return r;
	if ((r = jsonspec_check_length(e, field, strlen(s), "bytes", error)) < 0)
		return r;
	if (out)
		*(const char **)jsonspec_at(out, e->offset) = s;
	return 0;
}

static int jsonspec_bytes(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			  void *out, char **error)
{
	struct jsonspec_bytes b;

	if (!json_object_is_type(v, json_type_string))
		return cause_set(error, -EINVAL, "%s must be a string", jsonspec_field_text(field));
	b.data = json_object_get_string(v);
	b.len = (size_t)json_object_get_string_len(v);
	if (out)
		*(struct jsonspec_bytes *)jsonspec_at(out, e->offset) = b;
	return 0;
}

static int jsonspec_bool(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			 void *out, char **error)
{
	if (!json_object_is_type(v, json_type_boolean))
		return cause_set(error, -EINVAL, "%s must be true or false",
				 jsonspec_field_text(field));
	if (out)
		*(bool *)jsonspec_at(out, e->offset) = json_object_get_boolean(v);
	return 0;
}

static int jsonspec_uint(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			 void *out, char **error)
{
	uint64_t u;

	/* A negative number reads as a negative int64; a big one only as a uint64. */
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
	    (u = json_object_get_uint64(v)) < e->umin || u > e->umax)
		return cause_set(error, -EINVAL,
				 "%s must be a whole number from %" PRIu64 " to %" PRIu64,
				 jsonspec_field_text(field), e->umin, e->umax);
	if (out)
		*(uint64_t *)jsonspec_at(out, e->offset) = u;
	return 0;
}

static int jsonspec_int(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			void *out, char **error)
{
	int64_t i;

	/* int64 clamps a bigger number to INT64_MAX; uint64 shows it was bigger. */
	if (!json_object_is_type(v, json_type_int) || (i = json_object_get_int64(v)) < e->imin ||
	    i > e->imax || (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX))
		return cause_set(error, -EINVAL,
				 "%s must be a whole number from %" PRId64 " to %" PRId64,
				 jsonspec_field_text(field), e->imin, e->imax);
	if (out)
		*(int64_t *)jsonspec_at(out, e->offset) = i;
	return 0;
}

static int jsonspec_number(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			   void *out, char **error)
{
	double d;

	/* Bounds in 15 digits, as the source writes them: 1e300, not 1.0000000000000001e+300. */
	if ((!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) ||
	    !isfinite(d = json_object_get_double(v)) || d < e->dmin || d > e->dmax)
		return cause_set(error, -EINVAL, "%s must be a number from %.15g to %.15g",
				 jsonspec_field_text(field), e->dmin, e->dmax);
	if (out)
		*(double *)jsonspec_at(out, e->offset) = d;
	return 0;
}

static int jsonspec_strings(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			    void *out, char **error)
{
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return cause_set(error, -EINVAL, "%s must be an array of strings",
				 jsonspec_field_text(field));
	n = json_object_array_length(v);
	if ((r = jsonspec_check_length(e, field, n, "items", error)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(v, i);

		if (!json_object_is_type(item, json_type_string))
			return cause_set(error, -EINVAL, "%s[%zu] must be a string",
					 jsonspec_field_text(field), i);
		if (jsonspec_has_nul(item))
			return cause_set(error, -EINVAL,
					 "%s[%zu] must not hold a NUL character (\\u0000)",
					 jsonspec_field_text(field), i);
	}
	if (out)
		*(json_object **)jsonspec_at(out, e->offset) = v;
	return 0;
}

static int jsonspec_object(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			   void *out, char **error)
{
	if (!json_object_is_type(v, json_type_object))
		return cause_set(error, -EINVAL, "%s must be an object",
				 jsonspec_field_text(field));
	if (out)
		*(json_object **)jsonspec_at(out, e->offset) = v;
	return 0;
}

/* The value of an absent key. */
static void jsonspec_default(const struct jsonspec *e, void *out)
{
	void *p = jsonspec_at(out, e->offset);

	switch (e->type) {
	case JSONSPEC_T_STRING:
		*(const char **)p = e->def.s;
		break;
	case JSONSPEC_T_BYTES:
		*(struct jsonspec_bytes *)p = (struct jsonspec_bytes){0};
		break;
	case JSONSPEC_T_BOOL:
		*(bool *)p = e->def.b;
		break;
	case JSONSPEC_T_UINT:
		*(uint64_t *)p = e->def.u;
		break;
	case JSONSPEC_T_INT:
		*(int64_t *)p = e->def.i;
		break;
	case JSONSPEC_T_NUMBER:
		*(double *)p = e->def.d;
		break;
	case JSONSPEC_T_STRINGS:
	case JSONSPEC_T_OBJECT:
		*(json_object **)p = NULL;
		break;
	case JSONSPEC_T_END:
		break;
	}
}

static int jsonspec_value(const struct jsonspec *e, struct jsonspec_field *field, json_object *v,
			  void *out, char **error)
{
	switch (e->type) {
	case JSONSPEC_T_STRING:
		return jsonspec_string(e, field, v, out, error);
	case JSONSPEC_T_BYTES:
		return jsonspec_bytes(e, field, v, out, error);
	case JSONSPEC_T_BOOL:
		return jsonspec_bool(e, field, v, out, error);
	case JSONSPEC_T_UINT:
		return jsonspec_uint(e, field, v, out, error);
	case JSONSPEC_T_INT:
		return jsonspec_int(e, field, v, out, error);
	case JSONSPEC_T_NUMBER:
		return jsonspec_number(e, field, v, out, error);
	case JSONSPEC_T_STRINGS:
		return jsonspec_strings(e, field, v, out, error);
	case JSONSPEC_T_OBJECT:
		return jsonspec_object(e, field, v, out, error);
	case JSONSPEC_T_END:
		break;
	}
	return cause_set(error, -EINVAL, "%s is not a key", jsonspec_field_text(field));
}

/* Reads one key by entry, found in the object or not (v: its value, NULL for null). */
static int jsonspec_read_found(const struct jsonspec *e, bool found, json_object *v,
			       const struct jsonspec_where *where, void *out, char **error)
{
	struct jsonspec_field f;
	bool null_absent = (e->flags & JSONSPEC_NULLABLE) || (where && where->null_absent);
	bool given = found && (v || !null_absent);

	jsonspec_field_init(&f, where, e->name);
	if (out && e->seen)
		*(bool *)jsonspec_at(out, e->seen - 1) = given;
	if (given)
		return jsonspec_value(e, &f, v, out, error);
	if (e->flags & JSONSPEC_REQUIRED)
		return cause_set(error, -EINVAL, "%s is required", jsonspec_field_text(&f));
	if (out)
		jsonspec_default(e, out);
	return 0;
}

int jsonspec_read_one(const struct jsonspec *e, json_object *obj,
		      const struct jsonspec_where *where, void *out, char **error)
{
	json_object *v = NULL;
	bool found = json_object_object_get_ex(obj, e->name, &v);

	return jsonspec_read_found(e, found, v, where, out, error);
}

/* The entry of spec for key, or NULL. */
static const struct jsonspec *jsonspec_find(const struct jsonspec *spec, const char *key)
{
	for (; spec->name; spec++)
		if (strcmp(spec->name, key) == 0)
			return spec;
	return NULL;
}

const char *jsonspec_unknown_key(const struct jsonspec *spec, json_object *obj)
{
	json_object_object_foreach (obj, key, v) {
		(void)v;
		if (!jsonspec_find(spec, key))
			return key;
	}
	return NULL;
}

/* "request_id, cascade", or "none" for an empty spec. */
static void jsonspec_known_text(const struct jsonspec *spec, char *buf, size_t size)
{
	size_t len = 0;

	snprintf(buf, size, "none");
	for (const struct jsonspec *e = spec; e->name && len < size; e++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", e == spec ? "" : ", ",
					e->name);
}

/* The error for key, which spec does not name. */
static int jsonspec_refuse_unknown(const struct jsonspec *spec, const char *key,
				   const struct jsonspec_where *where, char **error)
{
	const char *what = where && where->what ? where->what : "the object";
	struct jsonspec_field f;
	char known[512];

	jsonspec_known_text(spec, known, sizeof(known));
	jsonspec_field_init(&f, where, key);
	return cause_set(error, -EINVAL, "unknown key \"%.64s\" in %s (known keys: %s)",
			 jsonspec_field_text(&f), what, known);
}

int jsonspec_read(const struct jsonspec *spec, json_object *obj, const struct jsonspec_where *where,
		  void *out, char **error)
{
	json_object *values[JSONSPEC_MAX_KEYS];
	uint64_t found = 0;
	int r;

	*error = NULL;
	if (!json_object_is_type(obj, json_type_object))
		return cause_set(error, -EINVAL, "%s must be an object",
				 where && where->what ? where->what : "the value");
	/*
	 * One walk over the members finds each one's entry (and refuses an
	 * unknown key): a lookup per entry would hash every name again.
	 */
	json_object_object_foreach (obj, key, v) {
		const struct jsonspec *e = jsonspec_find(spec, key);

		if (!e)
			return jsonspec_refuse_unknown(spec, key, where, error);
		assert(e - spec < JSONSPEC_MAX_KEYS);
		values[e - spec] = v;
		found |= UINT64_C(1) << (e - spec);
	}
	for (size_t i = 0; spec[i].name; i++) {
		bool has = found >> i & 1;

		assert(i < JSONSPEC_MAX_KEYS);
		if ((r = jsonspec_read_found(&spec[i], has, has ? values[i] : NULL, where, out,
					     error)) < 0)
			return r;
	}
	return 0;
}
