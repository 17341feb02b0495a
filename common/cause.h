/* Setup errors: a negative errno for the code, and a sentence for the person (tmux's "cause"). */
#ifndef COORD_CAUSE_H
#define COORD_CAUSE_H

/*
 * Sets *cause to the formatted reason (the caller frees it; NULL if even
 * that cannot be allocated) and returns r, so a failing function can end
 * with `return cause_set(error, -EINVAL, "...", ...);`.
 */
int cause_set(char **cause, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
