/* libcoord's subscriptions and queued notifications; notifications handed out are the caller's. */
#include "libcoord-private.h"

int coord_subscribe(struct coord_conn *conn, json_object *params, json_object **ret_result,
		    struct coord_error *err)
{
	json_object *empty = NULL;
	int r;

	if (!params)
		params = empty = json_object_new_object();
	if (!params)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	r = coord_call(conn, "subscribe", params, -1, ret_result, err);
	json_object_put(empty);
	return r;
}

int coord_unsubscribe(struct coord_conn *conn, json_object *subscription, struct coord_error *err)
{
	json_object *params = json_object_new_object();
	int r;

	if (!params)
		return coord_error_fail(conn, err, COORD_ERR_NOMEM, 0, "out of memory");
	json_object_object_add(params, "subscription", json_object_get(subscription));
	r = coord_call(conn, "unsubscribe", params, -1, NULL, err);
	json_object_put(params);
	return r;
}

static int coord_notify_ready(struct coord_conn *conn, void *arg)
{
	return !TAILQ_EMPTY(&conn->notifications);
}

int coord_notify_next(struct coord_conn *conn, int timeout_ms, json_object **ret_notification,
		      struct coord_error *err)
{
	struct coord_msg *msg;

	if (!conn)
		return coord_error_fail(conn, err, COORD_ERR_INVALID, 0, "conn is NULL");
	if (coord_wire_wait(conn, coord_notify_ready, NULL, timeout_ms, err) < 0)
		return -1;
	msg = TAILQ_FIRST(&conn->notifications);
	TAILQ_REMOVE(&conn->notifications, msg, entry);
	if (ret_notification)
		*ret_notification = json_object_get(msg->obj);
	coord_msg_free(msg);
	return 0;
}
