/*
 * An in-process coordinatord for fuzzing: one real daemon (a temporary
 * state directory, the real SQLite history, real async modes whose tasks
 * are made harmless by fuzzspawn.c) in this process, fed each input as
 * bytes over a real client connection to its socket. fuzzd owns the
 * daemon and its temporary directory.
 */
#ifndef COORD_FUZZD_H
#define COORD_FUZZD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sends data as one client would, half-closes, reads every answer, hangs
 * up and lets the daemon settle. Aborts, with a reason on stderr, when an
 * invariant breaks: an answer line that is not a well-formed JSON-RPC
 * message, a daemon that no longer answers ping, a job in the history that
 * did not end exactly once, a gap in seq, or a daemon that cannot restart
 * on its own state after a shutdown. Starts the daemon if needed.
 * With FUZZD_VERBOSE set in the environment, the answers go to stderr.
 */
void fuzzd_feed(const uint8_t *data, size_t len);

/* Stops the daemon (if any) and removes its directory; the next feed starts afresh. */
void fuzzd_stop(void);

#endif
