/* The one way every Check suite runs (unit, integration, client, systemd, fuzz replay). */
#ifndef COORD_CHECKRUN_H
#define COORD_CHECKRUN_H

#include <check.h>

/* Ignores SIGPIPE (as the daemon does), runs suite (taken) and returns main's exit status. */
int checkrun(Suite *suite);

#endif
