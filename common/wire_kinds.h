/*
 * The names of a failure's kind on the wire (error.kind of a job and of a
 * request_failure message): the daemon writes them, the clients read them.
 */
#ifndef COORD_WIRE_KINDS_H
#define COORD_WIRE_KINDS_H

#define WIRE_KIND_EXIT	     "exit"
#define WIRE_KIND_SIGNAL     "signal"
#define WIRE_KIND_TIMEOUT    "timeout"
#define WIRE_KIND_CANCELLED  "cancelled"
#define WIRE_KIND_SPAWN	     "spawn"
#define WIRE_KIND_LOST	     "lost"
#define WIRE_KIND_INVALID    "invalid"
#define WIRE_KIND_DEPENDENCY "dependency"

#endif
