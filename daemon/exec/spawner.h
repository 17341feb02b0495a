/*
 * The spawner thread: posix_spawn off the event loop. posix_spawn has vfork
 * semantics (the calling thread waits until the child has exec'd), so the
 * loop hands each spawn to one thread and goes on accepting, reaping and
 * publishing meanwhile (memcached's handoff: a locked queue there, a locked
 * queue and an eventfd back that the loop watches). The thread only calls
 * posix_spawn on what the request holds (or the request's own work around
 * it, such as its pipes: so the loop does not); it never touches jobs or
 * events.
 */
#ifndef COORD_SPAWNER_H
#define COORD_SPAWNER_H

#include <spawn.h>
#include <stdbool.h>
#include <sys/types.h>

struct event_base;
struct spawner;
struct spawner_req;

/* Called on the loop once the spawn is done: req->pid, or req->err (a positive errno). */
typedef void (*spawner_done_cb)(struct spawner_req *req);

/* Owned by the caller; untouched by the caller from spawner_submit until done. */
struct spawner_req {
	const char *path; /* looked up in PATH when search is set */
	bool search;
	char *const *argv;
	char *const *envp;
	const posix_spawn_file_actions_t *fa;
	const posix_spawnattr_t *attr;
	pid_t pid;
	int err;
	/*
	 * What the thread does with the request: NULL, spawner_run; else a
	 * function of the caller's that calls spawner_run itself, with what
	 * it prepares before and takes over after, off the loop.
	 */
	void (*work)(struct spawner_req *req);
	spawner_done_cb done;
	struct spawner_req *next; /* the spawner's */
};

/* Spawns req on the calling thread, now, without a spawner (done is not called). */
void spawner_run(struct spawner_req *req);

int spawner_new(struct event_base *base, struct spawner **ret);

/* Queues req; its done runs on the loop, later (never from inside this call). */
void spawner_submit(struct spawner *sp, struct spawner_req *req);

/* Spawns what is still queued, calls every done, stops the thread, frees. Accepts NULL. */
void spawner_free(struct spawner *sp);

#endif
