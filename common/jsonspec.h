/*
 * Declarative reading of a JSON object: a spec lists every key the object
 * may hold (name, type, required or default, bounds); jsonspec_read checks
 * them all in one place, fills a struct of typed values and refuses any
 * key the spec does not name. The wire's method params use it through
 * params.h; the Task and its node use it directly.
 *
 * Example: the params of cancel.
 *
 *	struct cancel_params {
 *		const char *request_id;
 *		bool cascade;
 *	};
 *	static const struct jsonspec cancel_spec[] = {
 *		JSONSPEC_STRING(struct cancel_params, request_id, JSONSPEC_REQUIRED),
 *		JSONSPEC_BOOL(struct cancel_params, cascade, 0, true),
 *		{0},
 *	};
 *	struct cancel_params p;
 *	r = jsonspec_read(cancel_spec, obj, &where, &p, &error);
 *
 * The key is the field's name. Strings, arrays and objects written to the
 * struct are borrowed from obj. A wrong field type in a spec is a compile
 * error (-Werror): JSONSPEC_BOOL wants a bool field, JSONSPEC_UINT a
 * uint64_t, and so on. The arguments are the struct, the field, the flags,
 * then the bounds and the default where the type has them. Extra designators after the last
 *argument go into the entry, e.g. JSONSPEC_SEEN(struct x, has_since) to learn whether an optional
 *key was given.
 */
#ifndef COORD_JSONSPEC_H
#define COORD_JSONSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

enum jsonspec_type {
	JSONSPEC_T_END = 0, /* the {0} that ends a spec */
	JSONSPEC_T_STRING,  /* const char *; no NUL inside; optional choices, length bounds */
	JSONSPEC_T_BYTES,   /* struct jsonspec_bytes: a string that may hold NUL bytes */
	JSONSPEC_T_BOOL,    /* bool */
	JSONSPEC_T_UINT,    /* uint64_t, a whole number in [umin, umax] */
	JSONSPEC_T_INT,	    /* int64_t, a whole number in [imin, imax] */
	JSONSPEC_T_NUMBER,  /* double, any finite number in [dmin, dmax] (times) */
	JSONSPEC_T_STRINGS, /* json_object *: an array of strings, lmin..lmax items */
	JSONSPEC_T_OBJECT,  /* json_object *: an object, checked by the caller */
};

/* Entry flags. */
#define JSONSPEC_REQUIRED (1u << 0) /* absent is an error */
#define JSONSPEC_NULLABLE (1u << 1) /* null counts as absent */

struct jsonspec_bytes {
	const char *data; /* NULL when absent */
	size_t len;
};

struct jsonspec {
	const char *name;
	enum jsonspec_type type;
	unsigned flags;
	size_t offset; /* of the value in the output struct */
	size_t seen;   /* 1 + offset of a bool set when the key was given; 0: none */
	union {
		const char *s;
		bool b;
		uint64_t u;
		int64_t i;
		double d;
	} def; /* written when the key is absent (strings: NULL unless given) */
	uint64_t umin, umax;
	int64_t imin, imax;
	double dmin, dmax;
	size_t lmin, lmax;	    /* string length or array items; lmax 0: no limit */
	const char *const *choices; /* strings: the values allowed, NULL-terminated */
};

/* Where the object sits, for messages. */
struct jsonspec_where {
	const char *path; /* prefix of field names ("node" gives "node.argv"), or NULL */
	const char *what; /* the object as a person calls it: "params of cancel", "node" */
	bool null_absent; /* a null value counts as absent for every key */
};

/* offsetof(st, f), and a compile error (distinct pointer types) unless f has type T. */
#define JSONSPEC_OFFSET(st, f, T) (offsetof(st, f) + 0 * sizeof(&((st *)0)->f == (T *)0))

/* clang-format off */
#define JSONSPEC_ENTRY(st, f, T, t, fl) \
	.name = #f, .type = (t), .flags = (fl), .offset = JSONSPEC_OFFSET(st, f, T)

#define JSONSPEC_STRING(st, f, fl, ...) \
	{ JSONSPEC_ENTRY(st, f, const char *, JSONSPEC_T_STRING, fl), __VA_ARGS__ }
#define JSONSPEC_CHOICE(st, f, fl, list, ...) \
	{ JSONSPEC_ENTRY(st, f, const char *, JSONSPEC_T_STRING, fl), .choices = (list), \
	  __VA_ARGS__ }
/* The key is given apart: a field cannot be called stdin. */
#define JSONSPEC_BYTES(key, st, f, fl, ...) \
	{ .name = (key), .type = JSONSPEC_T_BYTES, .flags = (fl), \
	  .offset = JSONSPEC_OFFSET(st, f, struct jsonspec_bytes), __VA_ARGS__ }
#define JSONSPEC_BOOL(st, f, fl, dflt, ...) \
	{ JSONSPEC_ENTRY(st, f, bool, JSONSPEC_T_BOOL, fl), .def.b = (dflt), __VA_ARGS__ }
#define JSONSPEC_UINT(st, f, fl, lo, hi, dflt, ...) \
	{ JSONSPEC_ENTRY(st, f, uint64_t, JSONSPEC_T_UINT, fl), .umin = (lo), .umax = (hi), \
	  .def.u = (dflt), __VA_ARGS__ }
#define JSONSPEC_INT(st, f, fl, lo, hi, dflt, ...) \
	{ JSONSPEC_ENTRY(st, f, int64_t, JSONSPEC_T_INT, fl), .imin = (lo), .imax = (hi), \
	  .def.i = (dflt), __VA_ARGS__ }
#define JSONSPEC_NUMBER(st, f, fl, lo, hi, dflt, ...) \
	{ JSONSPEC_ENTRY(st, f, double, JSONSPEC_T_NUMBER, fl), .dmin = (lo), .dmax = (hi), \
	  .def.d = (dflt), __VA_ARGS__ }
#define JSONSPEC_STRINGS(st, f, fl, lo, hi, ...) \
	{ JSONSPEC_ENTRY(st, f, json_object *, JSONSPEC_T_STRINGS, fl), .lmin = (lo), \
	  .lmax = (hi), __VA_ARGS__ }
#define JSONSPEC_OBJECT(st, f, fl, ...) \
	{ JSONSPEC_ENTRY(st, f, json_object *, JSONSPEC_T_OBJECT, fl), __VA_ARGS__ }
/* clang-format on */

/* An extra designator: the bool field f is set when the key was given. */
#define JSONSPEC_SEEN(st, f) .seen = JSONSPEC_OFFSET(st, f, bool) + 1

/* The most entries a spec may list. */
#define JSONSPEC_MAX_KEYS 64

/*
 * Reads obj by spec into out (NULL: only checks). Refuses a key the spec
 * does not name, a missing required key, a value of the wrong type or out
 * of its bounds: returns -EINVAL and a sentence naming the key and what
 * was wrong in *error (the caller frees it); out may then be partly
 * written. 0 or -EINVAL.
 */
int jsonspec_read(const struct jsonspec *spec, json_object *obj, const struct jsonspec_where *where,
		  void *out, char **error);

/* Reads one key by entry (its value at out + entry->offset), ignoring the others. */
int jsonspec_read_one(const struct jsonspec *entry, json_object *obj,
		      const struct jsonspec_where *where, void *out, char **error);

/* The first key of obj that spec does not name, or NULL. */
const char *jsonspec_unknown_key(const struct jsonspec *spec, json_object *obj);

#endif
