/*
 * The fuzzer's guard (fuzzspawn.c): linked into an executable, it makes
 * every task the daemon spawns run echo with an empty environment, and
 * once armed refuses (aborts on) any signal to a process it did not spawn.
 */
#ifndef COORD_FUZZSPAWN_H
#define COORD_FUZZSPAWN_H

/* From now on kill() aborts on a target that is not one of our children. */
void fuzzspawn_arm(void);
/* How many tasks were spawned so far. */
unsigned long fuzzspawn_spawned(void);

#endif
