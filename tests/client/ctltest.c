/* Check helpers shared by the coordctl suites; every json_object returned by ctltest_parse is the
 * caller's. */
#include <stdlib.h>

#include "ctltest.h"

void ctltest_run_v(struct testd_run *run, const char *input, const char *argv0, va_list ap)
{
	char *argv[64];
	int argc = 0;

	ck_assert_ptr_nonnull(argv0);
	argv[argc++] = (char *)argv0;
	for (const char *a = va_arg(ap, const char *); a && argc < 63; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	argv[argc] = NULL;
	ck_assert_int_eq(testd_run(argv, input, run), 0);
}

void ctltest_run(struct testd_run *run, const char *input, ...)
{
	va_list ap;

	va_start(ap, input);
	ctltest_run_v(run, input, getenv("COORDCTL"), ap);
	va_end(ap);
}

json_object *ctltest_parse(const char *text)
{
	json_object *obj = json_tokener_parse(text);

	ck_assert_msg(obj != NULL, "not JSON: '%s'", text);
	return obj;
}

json_object *ctltest_get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(obj, key, &v);
	return v;
}

const char *ctltest_str(json_object *obj, const char *key)
{
	return json_object_get_string(ctltest_get(obj, key));
}
