/* The state directory: created if missing and locked, so one daemon owns it. */
#ifndef COORD_STATEDIR_H
#define COORD_STATEDIR_H

struct statedir;

/*
 * Creates dir (mode 0700) if needed and takes its lock. A second daemon on
 * the same directory gets -EBUSY and a reason naming the directory and the
 * pid that holds it. The reason is in *error (caller frees).
 */
int statedir_open(const char *dir, struct statedir **ret, char **error);

/* The path of a file inside the directory (caller frees), or NULL. */
char *statedir_file(const struct statedir *sd, const char *name);

/* Releases the lock. Accepts NULL. */
void statedir_close(struct statedir *sd);

#endif
