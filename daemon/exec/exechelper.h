/*
 * The daemon's side of coordinatord-exec, the helper that starts a task as
 * its submitter: where the helper is, the command line it takes, and what
 * it reports through its status pipe. The helper itself is
 * coordinatord-exec.c; the two share the constants below.
 */
#ifndef COORD_EXECHELPER_H
#define COORD_EXECHELPER_H

#include <stdbool.h>
#include <sys/types.h>

#define EXECHELPER_NAME "coordinatord-exec"

/* The helper's fd for its status pipe (the daemon's posix_spawn puts it there). */
#define EXECHELPER_STATUS_FD 3

/* What the helper writes just before it execs the task ... */
#define EXECHELPER_STATUS_EXEC "exec\n"
/* ... and what starts its reason when it cannot. */
#define EXECHELPER_STATUS_ERROR "error: "

/*
 * The helper to use: configured (an absolute path) when set; else
 * coordinatord-exec next to the running coordinatord when it is there (a
 * build tree); else the one installed in libexecdir. NULL on ENOMEM.
 */
char *exechelper_path(const char *configured);

/* Whether a task of the submitter uid runs through the helper: not for root or us. */
bool exechelper_needed(uid_t submitter);

/*
 * The helper's argv: HELPER --uid=UID [--cwd=DIR] -- ARGV... Its items are
 * borrowed from the arguments except the two options: free the array with
 * exechelper_argv_free. NULL on ENOMEM.
 */
char **exechelper_argv(const char *helper, uid_t uid, const char *cwd, char *const *argv);
void exechelper_argv_free(char **argv);

/*
 * What the status pipe (read end, non-blocking, the helper gone) says:
 * NULL when the task was started, else why it was not (caller frees).
 * helper names the helper in the message of one that never reported.
 */
char *exechelper_read_status(int fd, const char *helper);

#endif
