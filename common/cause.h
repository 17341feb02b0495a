/* Setup errors: a negative errno for the code, and a sentence for the person (tmux's "cause"). */
#ifndef COORD_CAUSE_H
#define COORD_CAUSE_H

#include <stdarg.h>

/*
 * Sets *cause to the formatted reason (the caller frees it; NULL if even
 * that cannot be allocated) and returns r, so a failing function can end
 * with `return cause_set(error, -EINVAL, "...", ...);`. The one helper for
 * this idiom: no asprintf(error, ...) of its own anywhere else.
 */
int cause_set(char **cause, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* cause_set for a function that takes its own format and arguments. */
int cause_setv(char **cause, int r, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
