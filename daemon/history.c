/*
 * Job history and message log in SQLite. The history owns its database
 * handle and its cached statements. Jobs it loads are new references the
 * caller owns; message texts it returns are the caller's to free.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <event2/event.h>

#include "history.h"
#include "jsonutil.h"
#include "message.h"

/* "COOR": tells our database from any other SQLite file. */
#define HISTORY_APPLICATION_ID 0x434f4f52
#define HISTORY_SCHEMA_VERSION 1

enum history_stmt {
	STMT_INSERT_JOB,
	STMT_UPDATE_JOB,
	STMT_FIND_JOB,
	STMT_FIND_BY_NODE,
	STMT_INSERT_MESSAGE,
	STMT_FINAL_MESSAGE,
	STMT_MESSAGES_AFTER,
	STMT_CHILDREN,
	STMT_COUNT_,
};

#define HISTORY_JOB_COLUMNS                                                                        \
	"seq_no, request_id, parent_node_id, child_node_id, run_id, name, mode, status, phase, "   \
	"result, start_time, end_time, exit_code, error_kind, error_message, owner_uid, pid, "     \
	"pid_starttime"

static const char *const history_stmt_sql[STMT_COUNT_] = {
	[STMT_INSERT_JOB] =
		"INSERT INTO jobs (request_id, parent_node_id, child_node_id, run_id, "
		"name, mode, status, phase, result, start_time, end_time, exit_code, "
		"error_kind, error_message, owner_uid, pid, pid_starttime) VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[STMT_UPDATE_JOB] = "UPDATE jobs SET status = ?7, phase = ?8, result = ?9, end_time = ?11, "
			    "exit_code = ?12, error_kind = ?13, error_message = ?14, pid = ?16, "
			    "pid_starttime = ?17 WHERE request_id = ?1",
	[STMT_FIND_JOB] = "SELECT " HISTORY_JOB_COLUMNS " FROM jobs WHERE request_id = ?1",
	[STMT_FIND_BY_NODE] = "SELECT " HISTORY_JOB_COLUMNS " FROM jobs WHERE child_node_id = ?1 "
			      "ORDER BY seq_no DESC LIMIT 1",
	[STMT_INSERT_MESSAGE] = "INSERT INTO messages (seq, type, request_id, run_id, time, body) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_FINAL_MESSAGE] = "SELECT body FROM messages WHERE request_id = ?1 AND type IN "
			       "('request_success', 'request_failure') ORDER BY seq DESC LIMIT 1",
	[STMT_MESSAGES_AFTER] = "SELECT seq, type, request_id, run_id, body FROM messages "
				"WHERE seq > ?1 ORDER BY seq LIMIT ?2",
	[STMT_CHILDREN] = "SELECT seq_no, request_id, child_node_id, owner_uid FROM jobs "
			  "WHERE parent_node_id = ?1 AND run_id = ?2 AND seq_no > ?3 AND "
			  "seq_no <= ?4 ORDER BY seq_no LIMIT ?5",
};

static const char history_schema_v1[] =
	"CREATE TABLE jobs ("
	" seq_no INTEGER PRIMARY KEY,"
	" request_id TEXT NOT NULL UNIQUE,"
	" parent_node_id TEXT,"
	" child_node_id TEXT NOT NULL,"
	" run_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" mode TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" phase TEXT NOT NULL,"
	" result TEXT,"
	" start_time REAL NOT NULL,"
	" end_time REAL,"
	" exit_code INTEGER,"
	" error_kind TEXT,"
	" error_message TEXT,"
	" owner_uid INTEGER NOT NULL,"
	" pid INTEGER,"
	" pid_starttime INTEGER);"
	"CREATE INDEX jobs_by_status ON jobs (status, seq_no);"
	"CREATE INDEX jobs_by_run ON jobs (run_id, seq_no);"
	"CREATE INDEX jobs_by_parent ON jobs (parent_node_id, seq_no);"
	"CREATE INDEX jobs_by_node ON jobs (child_node_id, seq_no);"
	"CREATE INDEX jobs_by_mode ON jobs (mode, seq_no);"
	"CREATE INDEX jobs_by_end ON jobs (end_time) WHERE status = 'closed';"
	"CREATE TABLE messages ("
	" seq INTEGER PRIMARY KEY,"
	" type TEXT NOT NULL,"
	" request_id TEXT,"
	" run_id TEXT,"
	" time REAL NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX messages_by_request ON messages (request_id, seq);";

/* Migrations: history_migrations[v] takes a database from version v to v + 1. */
static const char *const history_migrations[HISTORY_SCHEMA_VERSION] = {
	[0] = history_schema_v1,
};

struct history {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT_];
	struct event *commit_ev;
	bool in_transaction;
	bool explicit_transaction; /* opened by history_begin: only history_commit ends it */
	void (*commit_hook)(int result, void *userdata);
	void *commit_hook_data;
	char last_error[256];
};

static int history_fail(struct history *h, int rc, const char *what)
{
	snprintf(h->last_error, sizeof(h->last_error), "%.80s: %.160s", what,
		 sqlite3_errmsg(h->db));
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	default:
		return -EIO;
	}
}

const char *history_last_error(const struct history *h)
{
	return h->last_error;
}

static int history_exec(struct history *h, const char *sql)
{
	int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : history_fail(h, rc, sql);
}

static int history_pragma_int(struct history *h, const char *pragma, int *ret)
{
	sqlite3_stmt *st;
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
	rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return history_fail(h, rc, "cannot read the database");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return history_fail(h, rc, "cannot read the database");
	}
	*ret = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Brings the schema to HISTORY_SCHEMA_VERSION, refusing databases that are not ours. */
static int history_migrate(struct history *h, char **error)
{
	int app_id, version, tables, r;
	char sql[96];

	if ((r = history_pragma_int(h, "application_id", &app_id)) < 0 ||
	    (r = history_pragma_int(h, "user_version", &version)) < 0)
		goto fail;
	if (app_id == 0 && version == 0) {
		if ((r = history_pragma_int(h, "schema_version", &tables)) < 0)
			goto fail;
		if (tables != 0) {
			asprintf(error,
				 "it is an SQLite database of another program (no coordinatord "
				 "application id); move it away or choose another state directory");
			return -EINVAL;
		}
	} else if (app_id != HISTORY_APPLICATION_ID) {
		asprintf(error, "it belongs to another program (application id 0x%x)", app_id);
		return -EINVAL;
	}
	if (version > HISTORY_SCHEMA_VERSION) {
		asprintf(error,
			 "its schema version %d is newer than this coordinatord supports (%d)",
			 version, HISTORY_SCHEMA_VERSION);
		return -EINVAL;
	}
	for (; version < HISTORY_SCHEMA_VERSION; version++) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 HISTORY_APPLICATION_ID, version + 1);
		if ((r = history_exec(h, "BEGIN IMMEDIATE")) < 0)
			goto fail;
		if ((r = history_exec(h, history_migrations[version])) < 0 ||
		    (r = history_exec(h, sql)) < 0 || (r = history_exec(h, "COMMIT")) < 0) {
			history_exec(h, "ROLLBACK");
			goto fail;
		}
	}
	return 0;
fail:
	*error = strdup(h->last_error);
	return r;
}

static void history_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	history_commit(arg);
}

static int history_configure(struct history *h, enum history_durability durability, char **error)
{
	int r;

	if ((r = history_exec(h, "PRAGMA journal_mode = WAL")) < 0 ||
	    (r = history_exec(h, durability == HISTORY_DURABILITY_FULL
					 ? "PRAGMA synchronous = FULL"
					 : "PRAGMA synchronous = NORMAL")) < 0 ||
	    (r = history_exec(h, "PRAGMA foreign_keys = OFF")) < 0) {
		*error = strdup(h->last_error);
		return r;
	}
	return 0;
}

static int history_prepare_all(struct history *h, char **error)
{
	for (int i = 0; i < STMT_COUNT_; i++) {
		int rc = sqlite3_prepare_v3(h->db, history_stmt_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT, &h->stmts[i], NULL);

		if (rc != SQLITE_OK) {
			*error = strdup(sqlite3_errmsg(h->db));
			return -EIO;
		}
	}
	return 0;
}

int history_open(const char *path, struct event_base *base, enum history_durability durability,
		 struct history **ret, char **error)
{
	struct history *h = calloc(1, sizeof(*h));
	int rc, r;

	*error = NULL;
	if (!h)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		r = history_fail(h, rc, "cannot open");
		*error = strdup(h->last_error);
		history_close(h);
		return r;
	}
	sqlite3_extended_result_codes(h->db, 1);
	sqlite3_busy_timeout(h->db, 5000);
	/* Migrating first refuses a foreign database before anything changes it. */
	r = history_migrate(h, error);
	if (r == 0)
		r = history_configure(h, durability, error);
	if (r == 0)
		r = history_prepare_all(h, error);
	if (r == 0 && base && !(h->commit_ev = event_new(base, -1, 0, history_commit_cb, h)))
		r = -ENOMEM;
	if (r < 0) {
		history_close(h);
		return r;
	}
	*ret = h;
	return 0;
}

void history_close(struct history *h)
{
	if (!h)
		return;
	history_commit(h);
	for (int i = 0; i < STMT_COUNT_; i++)
		sqlite3_finalize(h->stmts[i]);
	if (h->commit_ev)
		event_free(h->commit_ev);
	sqlite3_close(h->db);
	free(h);
}

int history_commit(struct history *h)
{
	int r;

	if (!h->in_transaction)
		return 0;
	h->in_transaction = false;
	h->explicit_transaction = false;
	r = history_exec(h, "COMMIT");
	if (r < 0 && !sqlite3_get_autocommit(h->db))
		history_exec(h, "ROLLBACK");
	if (h->commit_hook)
		h->commit_hook(r, h->commit_hook_data);
	return r;
}

bool history_in_transaction(const struct history *h)
{
	return h->in_transaction;
}

void history_set_commit_hook(struct history *h, void (*hook)(int result, void *userdata),
			     void *userdata)
{
	h->commit_hook = hook;
	h->commit_hook_data = userdata;
}

/*
 * Opens the turn's transaction on the first write. The commit runs from an
 * event activated now, so it happens before the loop polls again, and so
 * before any reply written during this turn reaches its socket.
 */
static int history_write_begin(struct history *h)
{
	int r;

	if (h->in_transaction)
		return 0;
	r = history_exec(h, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	h->in_transaction = true;
	if (h->commit_ev)
		event_active(h->commit_ev, EV_TIMEOUT, 0);
	return 0;
}

static int history_write_end(struct history *h)
{
	return h->commit_ev || h->explicit_transaction ? 0 : history_commit(h);
}

int history_begin(struct history *h)
{
	int r = history_write_begin(h);

	if (r == 0)
		h->explicit_transaction = true;
	return r;
}

static sqlite3_stmt *history_stmt(struct history *h, enum history_stmt which)
{
	sqlite3_stmt *st = h->stmts[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static void history_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static void history_bind_job(sqlite3_stmt *st, const struct job *job)
{
	history_bind_text(st, 1, job->request_id);
	history_bind_text(st, 2, job->parent_node_id);
	history_bind_text(st, 3, job->child_node_id);
	history_bind_text(st, 4, job->run_id);
	history_bind_text(st, 5, job->name);
	history_bind_text(st, 6, job->mode);
	history_bind_text(st, 7, job_status_name(job->status));
	history_bind_text(st, 8, job_phase_name(job->phase));
	history_bind_text(st, 9, job_result_name(job->result));
	sqlite3_bind_double(st, 10, job->start_time);
	if (job->status == JOB_CLOSED)
		sqlite3_bind_double(st, 11, job->end_time);
	if (job->has_exit_code)
		sqlite3_bind_int(st, 12, job->exit_code);
	history_bind_text(st, 13, error_kind_name(job->error_kind));
	history_bind_text(st, 14, job->error_message);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)job->owner_uid);
	if (job->pid > 0) {
		sqlite3_bind_int64(st, 16, job->pid);
		sqlite3_bind_int64(st, 17, (sqlite3_int64)job->pid_starttime);
	}
}

static int history_step_done(struct history *h, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	/* Some errors (a full disk) roll the whole transaction back by themselves. */
	if (h->in_transaction && sqlite3_get_autocommit(h->db)) {
		h->in_transaction = false;
		if (h->commit_hook)
			h->commit_hook(-EIO, h->commit_hook_data);
	}
	return history_fail(h, rc, what);
}

int history_insert_job(struct history *h, struct job *job)
{
	sqlite3_stmt *st;
	int r = history_write_begin(h);

	if (r < 0)
		return r;
	st = history_stmt(h, STMT_INSERT_JOB);
	history_bind_job(st, job);
	r = history_step_done(h, st, "cannot store the job");
	if (r < 0)
		return r;
	job->seq_no = sqlite3_last_insert_rowid(h->db);
	return history_write_end(h);
}

int history_update_job(struct history *h, const struct job *job)
{
	sqlite3_stmt *st;
	int r = history_write_begin(h);

	if (r < 0)
		return r;
	st = history_stmt(h, STMT_UPDATE_JOB);
	history_bind_job(st, job);
	r = history_step_done(h, st, "cannot update the job");
	if (r < 0)
		return r;
	return history_write_end(h);
}

static char *history_column_dup(sqlite3_stmt *st, int col, bool *failed)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	char *out;

	if (!s)
		return NULL;
	out = strdup((const char *)s);
	if (!out)
		*failed = true;
	return out;
}

static void history_column_enums(sqlite3_stmt *st, struct job *job)
{
	const char *s;

	if ((s = (const char *)sqlite3_column_text(st, 7)))
		job_status_from_name(s, &job->status);
	if ((s = (const char *)sqlite3_column_text(st, 8)))
		job_phase_from_name(s, &job->phase);
	if ((s = (const char *)sqlite3_column_text(st, 9)))
		job_result_from_name(s, &job->result);
	if ((s = (const char *)sqlite3_column_text(st, 13)))
		error_kind_from_name(s, &job->error_kind);
}

/* A new job from the current row of a statement selecting HISTORY_JOB_COLUMNS. */
static struct job *history_row_to_job(sqlite3_stmt *st)
{
	struct job *job = job_new_empty();
	bool failed = false;

	if (!job)
		return NULL;
	job->seq_no = sqlite3_column_int64(st, 0);
	job->request_id = history_column_dup(st, 1, &failed);
	job->parent_node_id = history_column_dup(st, 2, &failed);
	job->child_node_id = history_column_dup(st, 3, &failed);
	job->run_id = history_column_dup(st, 4, &failed);
	job->name = history_column_dup(st, 5, &failed);
	job->mode = history_column_dup(st, 6, &failed);
	history_column_enums(st, job);
	job->start_time = sqlite3_column_double(st, 10);
	job->end_time = sqlite3_column_double(st, 11);
	job->has_exit_code = sqlite3_column_type(st, 12) != SQLITE_NULL;
	job->exit_code = sqlite3_column_int(st, 12);
	job->error_message = history_column_dup(st, 14, &failed);
	job->owner_uid = (uid_t)sqlite3_column_int64(st, 15);
	job->pid = (pid_t)sqlite3_column_int64(st, 16);
	job->pid_starttime = (uint64_t)sqlite3_column_int64(st, 17);
	if (failed || !job->request_id || !job->child_node_id || !job->run_id || !job->name ||
	    !job->mode)
		return job_unref(job);
	return job;
}

static int history_find_one(struct history *h, enum history_stmt which, const char *key,
			    struct job **ret)
{
	sqlite3_stmt *st = history_stmt(h, which);
	int rc, r = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = history_row_to_job(st);
		if (!*ret)
			r = -ENOMEM;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = history_fail(h, rc, "cannot read a job");
	}
	sqlite3_reset(st);
	return r;
}

int history_find_job(struct history *h, const char *request_id, struct job **ret)
{
	return history_find_one(h, STMT_FIND_JOB, request_id, ret);
}

int history_find_by_node(struct history *h, const char *node_id, struct job **ret)
{
	return history_find_one(h, STMT_FIND_BY_NODE, node_id, ret);
}

int history_foreach_child(struct history *h, const char *run_id, const char *node,
			  int64_t after_seq, int64_t upto_seq, size_t limit,
			  void (*cb)(const struct history_child *child, void *userdata),
			  void *userdata, size_t *ret_count)
{
	sqlite3_stmt *st = history_stmt(h, STMT_CHILDREN);
	size_t count = 0;
	int rc;

	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, after_seq);
	sqlite3_bind_int64(st, 4, upto_seq);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct history_child child = {
			.seq_no = sqlite3_column_int64(st, 0),
			.request_id = (const char *)sqlite3_column_text(st, 1),
			.child_node_id = (const char *)sqlite3_column_text(st, 2),
			.owner_uid = (uid_t)sqlite3_column_int64(st, 3),
		};

		count++;
		if (child.request_id && child.child_node_id)
			cb(&child, userdata);
	}
	sqlite3_reset(st);
	*ret_count = count;
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot read the jobs below a node");
}

/* Appends " AND column = ?N" for each filter member that is set. */
static void history_filter_sql(const struct job_filter *f, bool with_status, char *sql, size_t size)
{
	size_t n = strlen(sql);

	if (f->mode)
		n += (size_t)snprintf(sql + n, size - n, " AND mode = ?1");
	if (f->run_id)
		n += (size_t)snprintf(sql + n, size - n, " AND run_id = ?2");
	if (f->parent_node_id)
		n += (size_t)snprintf(sql + n, size - n, " AND parent_node_id = ?3");
	if (f->child_node_id)
		n += (size_t)snprintf(sql + n, size - n, " AND child_node_id = ?8");
	if (f->has_owner)
		n += (size_t)snprintf(sql + n, size - n, " AND owner_uid = ?9");
	if (with_status && f->has_status)
		n += (size_t)snprintf(sql + n, size - n, " AND status = ?4");
	if (with_status && f->has_result)
		snprintf(sql + n, size - n, " AND result = ?5");
}

static void history_filter_bind(sqlite3_stmt *st, const struct job_filter *f)
{
	if (f->mode)
		sqlite3_bind_text(st, 1, f->mode, -1, SQLITE_STATIC);
	if (f->run_id)
		sqlite3_bind_text(st, 2, f->run_id, -1, SQLITE_STATIC);
	if (f->parent_node_id)
		sqlite3_bind_text(st, 3, f->parent_node_id, -1, SQLITE_STATIC);
	if (f->child_node_id)
		sqlite3_bind_text(st, 8, f->child_node_id, -1, SQLITE_STATIC);
	if (f->has_owner)
		sqlite3_bind_int64(st, 9, (sqlite3_int64)f->owner_uid);
	if (f->has_status)
		sqlite3_bind_text(st, 4, job_status_name(f->status), -1, SQLITE_STATIC);
	if (f->has_result)
		sqlite3_bind_text(st, 5, job_result_name(f->result), -1, SQLITE_STATIC);
}

static void history_free_jobs(struct job **jobs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		job_unref(jobs[i]);
	free(jobs);
}

int history_query(struct history *h, const struct job_filter *filter, int64_t cursor, size_t limit,
		  struct job ***ret_jobs, size_t *ret_count, int64_t *ret_next)
{
	char sql[640] = "SELECT " HISTORY_JOB_COLUMNS " FROM jobs WHERE seq_no < ?6";
	struct job **jobs;
	size_t count = 0;
	sqlite3_stmt *st;
	int rc, r = 0;

	if (limit == 0)
		return -EINVAL;
	jobs = calloc(limit + 1, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	history_filter_sql(filter, true, sql, sizeof(sql));
	strncat(sql, " ORDER BY seq_no DESC LIMIT ?7", sizeof(sql) - strlen(sql) - 1);
	rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		free(jobs);
		return history_fail(h, rc, "cannot query jobs");
	}
	history_filter_bind(st, filter);
	sqlite3_bind_int64(st, 6, cursor > 0 ? cursor : INT64_MAX);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(jobs[count] = history_row_to_job(st))) {
			r = -ENOMEM;
			break;
		}
		count++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot query jobs");
	sqlite3_finalize(st);
	if (r < 0) {
		history_free_jobs(jobs, count);
		return r;
	}
	*ret_next = 0;
	if (count > limit) {
		job_unref(jobs[limit]);
		count = limit;
		*ret_next = jobs[limit - 1]->seq_no;
	}
	*ret_jobs = jobs;
	*ret_count = count;
	return 0;
}

int history_count(struct history *h, const struct job_filter *filter, struct job_counts *ret)
{
	char sql[512] = "SELECT status, result, count(*) FROM jobs WHERE 1";
	sqlite3_stmt *st;
	int rc;

	history_filter_sql(filter, false, sql, sizeof(sql));
	strncat(sql, " GROUP BY status, result", sizeof(sql) - strlen(sql) - 1);
	rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return history_fail(h, rc, "cannot count jobs");
	history_filter_bind(st, &(struct job_filter){.mode = filter->mode,
						     .run_id = filter->run_id,
						     .parent_node_id = filter->parent_node_id,
						     .child_node_id = filter->child_node_id,
						     .has_owner = filter->has_owner,
						     .owner_uid = filter->owner_uid});
	memset(ret, 0, sizeof(*ret));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 0);
		const char *result = (const char *)sqlite3_column_text(st, 1);
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 2);

		if (status && strcmp(status, "opened") == 0)
			ret->opened += n;
		else
			ret->closed += n;
		if (result && strcmp(result, "success") == 0)
			ret->success += n;
		else if (result && strcmp(result, "failure") == 0)
			ret->failure += n;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot count jobs");
}

int history_foreach_open(struct history *h, int (*cb)(struct job *job, void *userdata),
			 void *userdata)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(h->db,
				"SELECT " HISTORY_JOB_COLUMNS " FROM jobs WHERE status = 'opened' "
				"ORDER BY seq_no",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return history_fail(h, rc, "cannot read opened jobs");
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job *job = history_row_to_job(st);

		if (!job) {
			r = -ENOMEM;
			break;
		}
		r = cb(job, userdata);
		job_unref(job);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot read opened jobs");
	sqlite3_finalize(st);
	return r;
}

int history_insert_message(struct history *h, struct message *msg)
{
	sqlite3_stmt *st;
	const char *text;
	size_t len;
	int r;

	text = message_wire(msg, &len);
	if (!text)
		return -ENOMEM;
	r = history_write_begin(h);
	if (r < 0)
		return r;
	st = history_stmt(h, STMT_INSERT_MESSAGE);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)msg->seq);
	sqlite3_bind_text(st, 2, message_type_name(msg->type), -1, SQLITE_STATIC);
	history_bind_text(st, 3, msg->request_id);
	history_bind_text(st, 4, msg->run_id);
	sqlite3_bind_double(st, 5, msg->time);
	sqlite3_bind_text(st, 6, text, (int)len, SQLITE_STATIC);
	r = history_step_done(h, st, "cannot store the message");
	if (r < 0)
		return r;
	return history_write_end(h);
}

static int history_select_u64(struct history *h, const char *sql, uint64_t *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return history_fail(h, rc, sql);
	rc = sqlite3_step(st);
	*ret = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : history_fail(h, rc, sql);
}

int history_last_seq(struct history *h, uint64_t *ret)
{
	return history_select_u64(h, "SELECT coalesce(max(seq), 0) FROM messages", ret);
}

int history_last_job_seq(struct history *h, int64_t *ret)
{
	uint64_t seq;
	int r = history_select_u64(h, "SELECT coalesce(max(seq_no), 0) FROM jobs", &seq);

	if (r == 0)
		*ret = (int64_t)seq;
	return r;
}

int history_first_seq(struct history *h, uint64_t *ret)
{
	return history_select_u64(h, "SELECT coalesce(min(seq), 0) FROM messages", ret);
}

int history_foreach_message(struct history *h, uint64_t after_seq, size_t limit,
			    int (*cb)(uint64_t seq, const char *type, const char *request_id,
				      const char *run_id, const char *text, size_t len,
				      void *userdata),
			    void *userdata, uint64_t *ret_last)
{
	sqlite3_stmt *st = history_stmt(h, STMT_MESSAGES_AFTER);
	int rc, r = 0;

	*ret_last = after_seq;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after_seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);

		r = cb(seq, (const char *)sqlite3_column_text(st, 1),
		       (const char *)sqlite3_column_text(st, 2),
		       (const char *)sqlite3_column_text(st, 3),
		       (const char *)sqlite3_column_text(st, 4),
		       (size_t)sqlite3_column_bytes(st, 4), userdata);
		*ret_last = seq;
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot read messages");
	sqlite3_reset(st);
	return r < 0 ? r : 0;
}

int history_final_message(struct history *h, const char *request_id, char **ret_text)
{
	sqlite3_stmt *st = history_stmt(h, STMT_FINAL_MESSAGE);
	int rc, r = 0;

	sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_text = strdup((const char *)sqlite3_column_text(st, 0));
		if (!*ret_text)
			r = -ENOMEM;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = history_fail(h, rc, "cannot read a message");
	}
	sqlite3_reset(st);
	return r;
}

/* Deletes up to batch closed jobs past the limits; counts what it removed by result. */
static int history_prune_jobs(struct history *h, uint64_t max_jobs, double max_age, size_t batch,
			      struct job_counts *removed)
{
	static const char sql[] =
		"DELETE FROM jobs WHERE seq_no IN (SELECT seq_no FROM jobs WHERE status = 'closed' "
		"AND ((?1 > 0 AND seq_no <= (SELECT seq_no FROM jobs WHERE status = 'closed' "
		"ORDER BY seq_no DESC LIMIT 1 OFFSET ?1)) OR (?2 > 0 AND end_time < ?3)) "
		"ORDER BY seq_no LIMIT ?4) "
		"RETURNING result";
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return history_fail(h, rc, "cannot prune");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max_jobs);
	sqlite3_bind_double(st, 2, max_age);
	sqlite3_bind_double(st, 3, time_now() - max_age);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)batch);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *result = (const char *)sqlite3_column_text(st, 0);

		removed->closed++;
		if (result && strcmp(result, "success") == 0)
			removed->success++;
		else
			removed->failure++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot prune");
}

/*
 * The message log is pruned as a prefix, so a replay never has a gap:
 * everything before the first message of the oldest job still kept goes
 * (with no job left, all but the newest message, so seq never goes back).
 */
static int history_prune_messages(struct history *h, size_t batch)
{
	static const char sql[] =
		"DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE seq < "
		"coalesce((SELECT min(seq) FROM messages WHERE request_id = (SELECT j.request_id "
		"FROM jobs j WHERE EXISTS (SELECT 1 FROM messages m WHERE m.request_id = "
		"j.request_id) ORDER BY j.seq_no LIMIT 1)), (SELECT max(seq) FROM messages)) "
		"ORDER BY seq LIMIT ?1)";
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return history_fail(h, rc, "cannot prune messages");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)batch);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot prune messages");
}

int history_prune(struct history *h, uint64_t max_jobs, double max_age, size_t batch,
		  struct job_counts *ret_removed)
{
	int r;

	memset(ret_removed, 0, sizeof(*ret_removed));
	if (max_jobs == 0 && max_age <= 0)
		return 0;
	r = history_write_begin(h);
	if (r == 0)
		r = history_prune_jobs(h, max_jobs, max_age, batch, ret_removed);
	/* A job has a few messages: the log may need more steps than the jobs. */
	if (r == 0)
		r = history_prune_messages(h, batch * 4);
	if (r < 0)
		return r;
	return history_write_end(h);
}
