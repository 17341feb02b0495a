/*
 * The publisher (the seed's RTPublisher): numbers messages and delivers
 * them, in order, to every subscriber from the event loop, holding back
 * those whose storage failed until they are stored.
 */
#ifndef COORD_PUBLISHER_H
#define COORD_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct message;
struct publisher;

/* A subscriber's callback. msg is borrowed: take a reference to keep it. */
typedef void (*publisher_cb)(struct message *msg, void *userdata);
/* A listener's filter: true when msg is the one it waits for. */
typedef bool (*publisher_filter)(const struct message *msg, void *userdata);

/*
 * Called inside publisher_publish once the message has its seq and time,
 * before publish returns (the history stores it there). Non-zero refuses
 * the message: publish then returns that value and the seq is not used.
 */
typedef int (*publisher_store_fn)(struct message *msg, void *userdata);

/* first_seq: the seq the next message gets (1 for a new history). NULL on ENOMEM. */
struct publisher *publisher_new(struct event_base *base, uint64_t first_seq);
/* Drops undelivered messages and every subscriber. Accepts NULL. */
void publisher_free(struct publisher *pub);

void publisher_set_store(struct publisher *pub, publisher_store_fn store, void *userdata);

/*
 * Adds a subscriber that receives every message published after this call,
 * in seq order. name is for logs. Returns 0 and the id in *ret_id.
 */
int publisher_subscribe(struct publisher *pub, publisher_cb cb, void *userdata, const char *name,
			uint64_t *ret_id);
/*
 * Like publisher_subscribe, but the subscriber also receives the messages
 * published and not delivered yet. A caller that has just read what the
 * subscribers made of the messages so far (the state, which the coordinator
 * updates as each is delivered) misses none of those that come after.
 */
int publisher_subscribe_undelivered(struct publisher *pub, publisher_cb cb, void *userdata,
				    const char *name, uint64_t *ret_id);
/*
 * Like publisher_subscribe, for the daemon's own bookkeeping: the
 * subscriber hears each message as soon as publisher_deliver_early runs,
 * before the other subscribers and before the message's commit.
 */
int publisher_subscribe_early(struct publisher *pub, publisher_cb cb, void *userdata,
			      const char *name, uint64_t *ret_id);
/* Removes a subscriber, also from inside a callback. -ENOENT for an unknown id. */
int publisher_unsubscribe(struct publisher *pub, uint64_t id);

/*
 * The seed's listener: a one-shot subscriber whose cb runs once, for the
 * first later message that filter accepts; then it is removed.
 */
int publisher_listen(struct publisher *pub, publisher_filter filter, publisher_cb cb,
		     void *userdata, uint64_t *ret_id);

/*
 * Numbers msg, stores it and queues it for delivery on the next loop turn;
 * never calls a subscriber itself. Takes a reference of its own. Its time
 * is now, unless the caller set one. Returns 0, -ESHUTDOWN after
 * publisher_shutdown, or the store's refusal.
 */
int publisher_publish(struct publisher *pub, struct message *msg);

/* The seq the next publisher_publish gives (a new job's row is written with it first). */
uint64_t publisher_next_seq(const struct publisher *pub);

/* The seq of the last published message that is not held (0 if none yet). */
uint64_t publisher_last_seq(const struct publisher *pub);

/*
 * Holds back every message with a larger seq than seq, published or still
 * to come, until publisher_release (their storage failed: nothing that is
 * not stored may be delivered). New subscribers start at seq.
 */
void publisher_hold_after(struct publisher *pub, uint64_t seq);
/* Delivers what was held, in order, from the next loop turn on. */
void publisher_release(struct publisher *pub);

/* Delivers everything already queued (and not held) right now, then refuses new messages. */
void publisher_shutdown(struct publisher *pub);

/*
 * From now on, the subscribers other than the early ones get a message
 * only once publisher_stored has said it is stored (its commit is done):
 * stored_seq is the last one stored now.
 */
void publisher_gate_on_store(struct publisher *pub, uint64_t stored_seq);
/* Every message up to seq is stored: those waiting for it may go out. */
void publisher_stored(struct publisher *pub, uint64_t seq);

/*
 * Hands the messages queued so far to the early subscribers now, before
 * the commit that stores them, so that what those do (the coordinator
 * closing jobs, the waiter answering waits) goes into the same
 * transaction. The other subscribers get each message on the loop turn's
 * delivery, and only once it may go out (stored, see
 * publisher_gate_on_store, and not held): a client never hears of a
 * message the history may yet lose.
 */
void publisher_deliver_early(struct publisher *pub);

#endif
