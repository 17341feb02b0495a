/* Check helpers shared by the coordctl suites: running programs and reading their JSON. */
#ifndef COORD_CTLTEST_H
#define COORD_CTLTEST_H

#include <stdarg.h>

#include <check.h>
#include <json-c/json.h>

#include "testd.h"

/* Runs argv0 with the arguments in ap (up to a NULL), stdin from input (NULL: none). */
void ctltest_run_v(struct testd_run *run, const char *input, const char *argv0, va_list ap);
/* Runs $COORDCTL with the arguments that follow (up to a NULL); output in *run. */
void ctltest_run(struct testd_run *run, const char *input, ...);
/* text parsed as JSON (a new reference); fails the test when it is not JSON. */
json_object *ctltest_parse(const char *text);
/* obj's member key (borrowed), or NULL. */
json_object *ctltest_get(json_object *obj, const char *key);
const char *ctltest_str(json_object *obj, const char *key);

#define ctl_run(run, ...) ctltest_run(run, NULL, __VA_ARGS__, NULL)

#endif
