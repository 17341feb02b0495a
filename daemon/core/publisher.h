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
 * never calls a subscriber itself. Takes a reference of its own. Returns 0,
 * -ESHUTDOWN after publisher_shutdown, or the store's refusal.
 */
int publisher_publish(struct publisher *pub, struct message *msg);

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
 * Delivers now the messages queued so far that may go out (what their
 * delivery publishes waits for the next turn, as usual); for a caller that
 * wants the subscribers' reactions before something else happens.
 */
void publisher_deliver_pending(struct publisher *pub);

#endif
