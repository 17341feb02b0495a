/* Setup errors with a reason (see cause.h). The reason is allocated for the caller. */
#include <stdarg.h>
#include <stdio.h>

#include "cause.h"

int cause_setv(char **cause, int r, const char *fmt, va_list ap)
{
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	return r;
}

int cause_set(char **cause, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cause_setv(cause, r, fmt, ap);
	va_end(ap);
	return r;
}
