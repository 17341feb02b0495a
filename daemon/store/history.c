/*
 * Job history and message log in SQLite. The history owns its database
 * handle and its cached statements, and a reference to every job and
 * message it has written until that write is committed (a failed commit's
 * writes are made again from them). Jobs it loads are new references the
 * caller owns; message texts it returns are the caller's to free.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <event2/event.h>

#include "cause.h"
#include "checkpointer.h"
#include "history.h"
#include "jsonutil.h"
#include "message.h"
#include "metrics.h"

/* "COOR": tells our database from any other SQLite file. */
#define HISTORY_APPLICATION_ID 0x434f4f52
#define HISTORY_SCHEMA_VERSION 9
/* While a commit cannot be made, the backlog is tried again this often. */
#define HISTORY_RETRY_MS 1000
/* Commit hooks at most: the daemon's and the coordinator's, and room for one more. */
#define HISTORY_HOOKS 3

/*
 * The jobs table's columns, in the order every SELECT of jobs here lists
 * them: a row's column number is its enum history_job_col, and the
 * parameter that writes a column is ':' and its name. One list for all
 * three, so they cannot drift apart.
 */
#define HISTORY_JOB_COLUMNS(COL, SEP)                                                              \
	COL(SEQ_NO, seq_no)                                                                        \
	SEP COL(REQUEST_ID, request_id)                                                            \
	SEP COL(PARENT_NODE_ID, parent_node_id)                                                    \
	SEP COL(CHILD_NODE_ID, child_node_id)                                                      \
	SEP COL(RUN_ID, run_id)                                                                    \
	SEP COL(NAME, name)                                                                        \
	SEP COL(MODE, mode)                                                                        \
	SEP COL(STATUS, status)                                                                    \
	SEP COL(PHASE, phase)                                                                      \
	SEP COL(RESULT, result)                                                                    \
	SEP COL(START_TIME, start_time)                                                            \
	SEP COL(END_TIME, end_time)                                                                \
	SEP COL(EXIT_CODE, exit_code)                                                              \
	SEP COL(ERROR_KIND, error_kind)                                                            \
	SEP COL(ERROR_MESSAGE, error_message)                                                      \
	SEP COL(OWNER_UID, owner_uid)                                                              \
	SEP COL(PID, pid)                                                                          \
	SEP COL(PID_STARTTIME, pid_starttime)                                                      \
	SEP COL(AFTER, after)                                                                      \
	SEP COL(RUN_START_TIME, run_start_time)                                                    \
	SEP COL(RERUN_OF, rerun_of)                                                                \
	SEP COL(TASK, task)                                                                        \
	SEP COL(STRATEGY_REF, strategy_ref)                                                        \
	SEP COL(STDOUT_BYTES, stdout_bytes)                                                        \
	SEP COL(STDERR_BYTES, stderr_bytes)

#define HISTORY_COMMA		    ,
#define HISTORY_SQL_COMMA	    ", "
#define HISTORY_COL_ENUM(id, name)  JOB_COL_##id
#define HISTORY_COL_NAME(id, name)  #name
#define HISTORY_COL_PARAM(id, name) ":" #name

enum history_job_col {
	HISTORY_JOB_COLUMNS(HISTORY_COL_ENUM, HISTORY_COMMA),
	JOB_COL_COUNT_,
};

static const char *const history_job_param[JOB_COL_COUNT_] = {
	HISTORY_JOB_COLUMNS(HISTORY_COL_PARAM, HISTORY_COMMA),
};

/* "seq_no, request_id, ..." and ":seq_no, :request_id, ...". */
#define HISTORY_JOB_NAMES  HISTORY_JOB_COLUMNS(HISTORY_COL_NAME, HISTORY_SQL_COMMA)
#define HISTORY_JOB_PARAMS HISTORY_JOB_COLUMNS(HISTORY_COL_PARAM, HISTORY_SQL_COMMA)
/* What a SELECT of whole jobs starts with. */
#define HISTORY_JOB_SELECT "SELECT " HISTORY_JOB_NAMES

/* The parameters of STMT_INSERT_MESSAGE (every message is one insert). */
enum history_msg_param {
	MSG_PARAM_SEQ,
	MSG_PARAM_TYPE,
	MSG_PARAM_REQUEST_ID,
	MSG_PARAM_RUN_ID,
	MSG_PARAM_TIME,
	MSG_PARAM_BODY,
	MSG_PARAM_COUNT_,
};

static const char *const history_msg_param[MSG_PARAM_COUNT_] = {
	[MSG_PARAM_SEQ] = ":seq",
	[MSG_PARAM_TYPE] = ":type",
	[MSG_PARAM_REQUEST_ID] = ":request_id",
	[MSG_PARAM_RUN_ID] = ":run_id",
	[MSG_PARAM_TIME] = ":time",
	[MSG_PARAM_BODY] = ":body",
};

/* Where a job row's request_creation finds its fields, in a statement's result row. */
enum history_log_col {
	LOG_COL_SEQ,
	LOG_COL_REQUEST_ID,
	LOG_COL_RUN_ID,
	LOG_COL_PARENT_NODE_ID,
	LOG_COL_CHILD_NODE_ID,
	LOG_COL_MODE,
	LOG_COL_TIME,
	LOG_COL_COUNT_,
};

/* The statements prepared once, at open. Parameters are named, never numbered. */
enum history_stmt {
	STMT_INSERT_JOB,
	STMT_UPDATE_JOB,
	STMT_UPDATE_OPEN_JOB,
	STMT_FIND_JOB,
	STMT_FIND_BY_NODE,
	STMT_OPEN_JOBS,
	STMT_INSERT_MESSAGE,
	STMT_FINAL_MESSAGE,
	STMT_MESSAGES_AFTER,
	STMT_FIRST_SEQ,
	STMT_LAST_SEQ,
	STMT_PRUNE_JOBS,
	STMT_PRUNE_MESSAGES,
	STMT_LAST_JOB_SEQ,
	STMT_CHILDREN,
	STMT_ID_IN_MESSAGES,
	STMT_CREATIONS_FROM,
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_COUNT_,
};

/*
 * The row of the job an update names: found by its seq_no (the rowid:
 * one B-tree descent, not the request_id index's and then the table's),
 * and by request_id when it has none (NULL); the request_id must match
 * too, so a seq_no a rolled-back insert gave out and a later row took
 * again is never the wrong row.
 */
#define HISTORY_WHERE_THE_JOB                                                                      \
	"WHERE seq_no = coalesce(:seq_no, (SELECT seq_no FROM jobs WHERE request_id = "            \
	":request_id)) AND request_id = :request_id"

static const char *const history_stmt_sql[STMT_COUNT_] = {
	[STMT_INSERT_JOB] =
		"INSERT INTO jobs (" HISTORY_JOB_NAMES ") VALUES (" HISTORY_JOB_PARAMS ")",
	[STMT_UPDATE_JOB] =
		"UPDATE jobs SET status = :status, phase = :phase, result = :result, "
		"end_time = :end_time, exit_code = :exit_code, error_kind = :error_kind, "
		"error_message = :error_message, pid = :pid, pid_starttime = "
		":pid_starttime, run_start_time = :run_start_time, strategy_ref = :strategy_ref, "
		"stdout_bytes = :stdout_bytes, stderr_bytes = :stderr_bytes " HISTORY_WHERE_THE_JOB,
	/*
	 * While a job is opened only these change (the rest is set when it
	 * closes): not naming status and end_time spares the two indexes on
	 * them a needless delete and insert at every start.
	 */
	[STMT_UPDATE_OPEN_JOB] = "UPDATE jobs SET phase = :phase, pid = :pid, pid_starttime = "
				 ":pid_starttime, run_start_time = :run_start_time, strategy_ref = "
				 ":strategy_ref " HISTORY_WHERE_THE_JOB,
	[STMT_FIND_JOB] = HISTORY_JOB_SELECT " FROM jobs WHERE request_id = :request_id",
	[STMT_FIND_BY_NODE] = HISTORY_JOB_SELECT " FROM jobs WHERE child_node_id = :child_node_id "
						 "ORDER BY seq_no DESC LIMIT 1",
	[STMT_OPEN_JOBS] = HISTORY_JOB_SELECT " FROM jobs WHERE status = :status ORDER BY seq_no",
	[STMT_INSERT_MESSAGE] = "INSERT INTO messages (seq, type, request_id, run_id, time, body) "
				"VALUES (:seq, :type, :request_id, :run_id, :time, :body)",
	[STMT_FINAL_MESSAGE] = "SELECT body FROM messages WHERE request_id = :request_id AND type "
			       "IN (:success, :failure) ORDER BY seq DESC LIMIT 1",
	/*
	 * The message log: the messages table, and the job rows from
	 * :from on, each the request_creation of its job (seq = seq_no,
	 * time = start_time); merged in seq order, both in rowid order.
	 */
	[STMT_MESSAGES_AFTER] =
		"SELECT seq, type, request_id, run_id, body, NULL, NULL, NULL, time FROM messages "
		"WHERE seq > :after UNION ALL SELECT seq_no, :creation, request_id, run_id, NULL, "
		"parent_node_id, child_node_id, mode, start_time FROM jobs WHERE seq_no > :after "
		"AND seq_no >= :from ORDER BY 1 LIMIT :limit",
	[STMT_FIRST_SEQ] = "SELECT coalesce(min(s), 0) FROM (SELECT min(seq) AS s FROM messages "
			   "UNION ALL SELECT min(seq_no) FROM jobs WHERE seq_no >= :from)",
	/* Every job row counts, so that a new job's seq_no is never one already taken. */
	[STMT_LAST_SEQ] = "SELECT coalesce(max(s), 0) FROM (SELECT max(seq) AS s FROM messages "
			  "UNION ALL SELECT max(seq_no) FROM jobs)",
	/* Closed jobs past max_jobs (0: none) or that closed before :before (max_age 0: none). */
	[STMT_PRUNE_JOBS] =
		"DELETE FROM jobs WHERE seq_no IN (SELECT seq_no FROM jobs WHERE status = :closed "
		"AND ((:max_jobs > 0 AND seq_no <= (SELECT seq_no FROM jobs WHERE status = :closed "
		"ORDER BY seq_no DESC LIMIT 1 OFFSET :max_jobs)) OR (:max_age > 0 AND end_time < "
		":before)) ORDER BY seq_no LIMIT :batch) RETURNING result, request_id, seq_no, "
		"parent_node_id, child_node_id, run_id, mode, start_time",
	/*
	 * The message log is pruned as a prefix, so a replay never has a gap:
	 * everything before the first message of the oldest job still kept
	 * goes (with no job left, all but the newest message, so seq never
	 * goes back). A job from :from on starts with its own row; an older
	 * one with its request_creation in the messages table.
	 */
	[STMT_PRUNE_MESSAGES] =
		"DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE seq < "
		"coalesce((SELECT min(s) FROM (SELECT min(seq_no) AS s FROM jobs WHERE seq_no >= "
		":from UNION ALL SELECT min(seq) FROM messages WHERE request_id = (SELECT "
		"j.request_id FROM jobs j WHERE j.seq_no < :from AND EXISTS (SELECT 1 "
		"FROM messages m WHERE m.request_id = j.request_id) ORDER BY j.seq_no "
		"LIMIT 1))), (SELECT max(seq) FROM messages)) ORDER BY seq LIMIT :batch)",
	/*
	 * A refusal made no job, so its message does not use the id up. In seq
	 * order: the refusals a job's own messages come before are only those
	 * of tries before it was accepted (once it is, further tries are
	 * refused at the jobs table and never get here while it is kept).
	 */
	[STMT_ID_IN_MESSAGES] = "SELECT 1 FROM messages WHERE request_id = :request_id AND "
				"type <> :refused ORDER BY seq LIMIT 1",
	[STMT_CREATIONS_FROM] = "SELECT from_seq FROM creations_in_jobs",
	[STMT_LAST_JOB_SEQ] = "SELECT coalesce(max(seq_no), 0) FROM jobs",
	[STMT_CHILDREN] = "SELECT seq_no, request_id, child_node_id, owner_uid FROM jobs "
			  "WHERE parent_node_id = :node AND run_id = :run_id AND seq_no > :after "
			  "AND seq_no <= :upto ORDER BY seq_no LIMIT :limit",
	/* Prepared like the rest: sqlite3_exec would parse them on every transaction. */
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
};

/*
 * The filters of history_query and history_count. Each combination of the
 * filters a call sets is a statement shape with its own cached statement,
 * so that every shape uses the index of its most selective column (a
 * catch-all "(:mode IS NULL OR mode = :mode)" would scan the whole table).
 */
enum history_filter {
	FILTER_MODE,
	FILTER_RUN_ID,
	FILTER_PARENT,
	FILTER_CHILD,
	FILTER_OWNER,
	FILTER_STATUS,
	FILTER_RESULT,
	FILTER_NAME,
	FILTER_PREFIX,
	FILTER_SINCE,
	FILTER_UNTIL,
	FILTER_COUNT_,
};

#define HISTORY_SHAPES (1u << FILTER_COUNT_)
/* history_count ignores the status and result filters. */
#define HISTORY_COUNT_FILTERS (HISTORY_SHAPES - 1 - (1u << FILTER_STATUS) - (1u << FILTER_RESULT))

/* Each filter's condition, and the parameter in it. */
static const struct history_filter_def {
	const char *sql;
	const char *param;
} history_filters[FILTER_COUNT_] = {
	[FILTER_MODE] = {" AND mode = :mode", ":mode"},
	/*
	 * jobs_by_run holds only the jobs below a root (v8): the root of a run
	 * is the job whose request_id is the run_id, found by the request_id
	 * index. The run's seq_nos drive the page (in order, so no sort) and
	 * the count; there are as many as the run has jobs, whatever the size
	 * of the history.
	 */
	[FILTER_RUN_ID] = {" AND seq_no IN (SELECT seq_no FROM jobs WHERE run_id = :run_id AND "
			   "run_id <> request_id UNION ALL SELECT seq_no FROM jobs WHERE "
			   "request_id = :run_id AND run_id = request_id)",
			   ":run_id"},
	[FILTER_PARENT] = {" AND parent_node_id = :parent_node_id", ":parent_node_id"},
	[FILTER_CHILD] = {" AND child_node_id = :child_node_id", ":child_node_id"},
	[FILTER_OWNER] = {" AND owner_uid = :owner_uid", ":owner_uid"},
	[FILTER_STATUS] = {" AND status = :status", ":status"},
	[FILTER_RESULT] = {" AND result = :result", ":result"},
	[FILTER_NAME] = {" AND name = :name", ":name"},
	/*
	 * A range on the request_id index rather than LIKE (whose _ is a
	 * wildcard and which needs case-sensitive LIKE for the index): every
	 * valid request_id character sorts below char(127).
	 */
	[FILTER_PREFIX] = {" AND request_id >= :prefix AND request_id < :prefix || char(127)",
			   ":prefix"},
	[FILTER_SINCE] = {" AND start_time >= :since", ":since"},
	[FILTER_UNTIL] = {" AND start_time <= :until", ":until"},
};

enum history_shape_kind {
	SHAPE_QUERY,
	SHAPE_COUNT,
	SHAPE_KIND_COUNT_,
};

/* A shape's statement: head, then the set filters, then tail. */
static const char *const history_shape_head[SHAPE_KIND_COUNT_] = {
	[SHAPE_QUERY] = HISTORY_JOB_SELECT " FROM jobs WHERE seq_no < :cursor",
	[SHAPE_COUNT] = "SELECT status, result, count(*) FROM jobs WHERE 1",
};

static const char *const history_shape_tail[SHAPE_KIND_COUNT_] = {
	[SHAPE_QUERY] = " ORDER BY seq_no DESC LIMIT :limit",
	[SHAPE_COUNT] = " GROUP BY status, result",
};

/*
 * A page of a shape with a start_time window walks jobs_by_start from the
 * window's newest end, in (start_time, seq_no) order, so it reads no more
 * rows than it returns wherever the window lies (in seq_no order SQLite
 * would walk the whole table from its newest row down to the window). The
 * cursor stays a seq_no: the page goes on below the start_time of that job.
 * When retention pruned that job meanwhile, the oldest job kept that is
 * newer than it stands in (its start_time bounds every older job's, the
 * clock going forward; one of the same start_time is newer by seq_no and
 * stays out), else no bound: an empty page there would end the walk
 * before older jobs that still match (an opened one is never pruned).
 */
#define HISTORY_TIME_FILTERS ((1u << FILTER_SINCE) | (1u << FILTER_UNTIL))
#define HISTORY_CURSOR_TIME                                                                        \
	"(CASE WHEN :cursor = 9223372036854775807 THEN 1e999 ELSE coalesce("                       \
	"(SELECT c.start_time FROM jobs c WHERE c.seq_no = :cursor), "                             \
	"(SELECT n.start_time FROM jobs n WHERE n.seq_no > :cursor ORDER BY n.seq_no LIMIT 1), "   \
	"1e999) END)"
/* %s: the newest start_time a page may show (SQLite takes one upper bound as the range). */
#define HISTORY_TIME_QUERY_HEAD                                                                    \
	HISTORY_JOB_SELECT                                                                         \
	" FROM jobs WHERE start_time <= %s AND (start_time < " HISTORY_CURSOR_TIME                 \
	" OR seq_no < :cursor)"
#define HISTORY_TIME_BOUND	 HISTORY_CURSOR_TIME
#define HISTORY_TIME_UNTIL_BOUND "min(" HISTORY_CURSOR_TIME ", :until)"
#define HISTORY_TIME_QUERY_TAIL	 " ORDER BY start_time DESC, seq_no DESC LIMIT :limit"

/*
 * The filters on a range of an index. Counted as they are, SQLite would
 * rather walk all of jobs_by_status for the order of GROUP BY than the
 * range: "+status" tells it the grouping has no index to come from.
 */
#define HISTORY_RANGE_FILTERS	 ((1u << FILTER_PREFIX) | (1u << FILTER_SINCE) | (1u << FILTER_UNTIL))
#define HISTORY_RANGE_COUNT_TAIL " GROUP BY +status, +result"

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

/*
 * v2: the Task as submitted (minus wait, JSON text), so that a job that
 * never started runs after a restart; and its after (a JSON array of
 * request_ids, NULL without one), as the Job shows it.
 */
static const char history_schema_v2[] = "ALTER TABLE jobs ADD COLUMN after TEXT;"
					"ALTER TABLE jobs ADD COLUMN task TEXT;";

/*
 * v3: when its process started (so run time survives a restart), and the
 * job it was re-run from. The task column (v2) holds node.env and
 * node.stdin: it is shown to the job's owner and root only.
 */
static const char history_schema_v3[] = "ALTER TABLE jobs ADD COLUMN run_start_time REAL;"
					"ALTER TABLE jobs ADD COLUMN rerun_of TEXT;";

/* v4: status filters by name and by start_time use an index of their own. */
static const char history_schema_v4[] = "CREATE INDEX jobs_by_name ON jobs (name, seq_no);"
					"CREATE INDEX jobs_by_start ON jobs (start_time);";

/*
 * v6: jobs_by_parent holds only the jobs that have a parent. Every query
 * of it asks for parent_node_id = something, which SQLite knows is never
 * NULL, so it still uses the index; a root request (most of them) no
 * longer writes an entry that no query reads.
 */
static const char history_schema_v6[] =
	"DROP INDEX jobs_by_parent;"
	"CREATE INDEX jobs_by_parent ON jobs (parent_node_id, seq_no) "
	"WHERE parent_node_id IS NOT NULL;";

/*
 * v7: how much a closed job's task wrote to each stream in all, stored with
 * its close, so that showing the job opens no output file. NULL: unknown
 * (opened, closed before v7, or lost): the output store is asked instead.
 */
static const char history_schema_v7[] = "ALTER TABLE jobs ADD COLUMN stdout_bytes INTEGER;"
					"ALTER TABLE jobs ADD COLUMN stderr_bytes INTEGER;";

/*
 * v8: jobs_by_run holds only the jobs below a root, like jobs_by_parent
 * (v6). A root's run_id is its own request_id, which the request_id index
 * already finds (FILTER_RUN_ID), so a root request (most of them) no
 * longer writes an index entry that only repeats that one.
 */
static const char history_schema_v8[] =
	"DROP INDEX jobs_by_run;"
	"CREATE INDEX jobs_by_run ON jobs (run_id, seq_no) WHERE run_id <> request_id;";

/*
 * v9: a job's row is its request_creation message in the log: its seq_no
 * is that message's seq and its start_time the message's time, so the
 * message is not stored a second time. Jobs from creations_in_jobs.from_seq
 * on are written so; the older ones keep their request_creation rows in
 * messages. message_log shows the whole log as one table (for people and
 * tests; the daemon reads the same union itself, with what it needs to
 * write a creation's text).
 */
static const char history_schema_v9[] =
	"CREATE TABLE creations_in_jobs (from_seq INTEGER NOT NULL);"
	"INSERT INTO creations_in_jobs SELECT max(coalesce((SELECT max(seq) FROM messages), 0), "
	"coalesce((SELECT max(seq_no) FROM jobs), 0)) + 1;"
	"CREATE VIEW message_log (seq, type, request_id, run_id, time, body) AS SELECT seq, type, "
	"request_id, run_id, time, body FROM messages UNION ALL SELECT seq_no, "
	"'request_creation', request_id, run_id, start_time, NULL FROM jobs WHERE seq_no >= "
	"(SELECT from_seq FROM creations_in_jobs);";

/* Migrations: history_migrations[v] takes a database from version v to v + 1. */
static const char *const history_migrations[HISTORY_SCHEMA_VERSION] = {
	[0] = history_schema_v1,
	[1] = history_schema_v2,
	[2] = history_schema_v3,
	[3] = history_schema_v4,
	/* What a strategy needs to take a job back after a restart (slurm: job id, run name). */
	[4] = "ALTER TABLE jobs ADD COLUMN strategy_ref TEXT;",
	[5] = history_schema_v6,
	[6] = history_schema_v7,
	[7] = history_schema_v8,
	[8] = history_schema_v9,
};

/* A write the history may have to make again: a failed commit loses its whole transaction. */
enum history_op_kind {
	HISTORY_OP_INSERT_JOB,
	HISTORY_OP_UPDATE_JOB,
	HISTORY_OP_INSERT_MESSAGE,
};

struct history_op {
	enum history_op_kind kind;
	struct job *job;     /* a reference, for the job kinds */
	struct message *msg; /* a reference, for a message */
};

struct history_ops {
	struct history_op *v;
	size_t count;
	size_t cap;
};

struct history_hook {
	void (*fn)(int result, void *userdata);
	void *userdata;
};

struct history {
	sqlite3 *db;
	struct checkpointer *checkpointer; /* with an event base: WAL checkpoints off the loop */
	sqlite3_stmt *stmts[STMT_COUNT_];
	int job_param[STMT_COUNT_][JOB_COL_COUNT_]; /* a column's parameter number, or 0 */
	int msg_param[MSG_PARAM_COUNT_];	    /* numbered at open, as job_param */
	sqlite3_stmt *shapes[SHAPE_KIND_COUNT_][HISTORY_SHAPES]; /* prepared on first use */
	struct event *commit_ev;
	bool commit_yielded;	/* the commit event went to the back of the queue once */
	struct event *retry_ev; /* while failing: the next attempt to store the backlog */
	bool in_transaction;
	bool explicit_transaction;  /* opened by history_begin: only history_commit ends it */
	bool failing;		    /* a commit failed: writes wait in the backlog */
	int fail_error;		    /* why, as a negative errno */
	struct history_ops turn;    /* the writes of the open transaction (event loop only) */
	struct history_ops backlog; /* the writes a failed commit lost, oldest first */
	uint64_t turn_seq;	    /* the largest seq written in the open transaction */
	int64_t creations_from;	    /* job rows from this seq_no on are request_creations */
	uint64_t stored_seq;	    /* the largest seq committed */
	struct history_hook hooks[HISTORY_HOOKS]; /* after every commit; unused ones NULL */
	void (*before_commit)(void *userdata);	  /* the turn's last writes, before its commit */
	void *before_commit_data;
	char last_error[256];
	int last_error_code; /* the negative errno last_error explains, 0: none */
};

static int history_errno(int rc)
{
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

static int history_fail(struct history *h, int rc, const char *what)
{
	snprintf(h->last_error, sizeof(h->last_error), "%.80s: %.160s", what,
		 sqlite3_errmsg(h->db));
	h->last_error_code = history_errno(rc);
	return h->last_error_code;
}

const char *history_last_error(const struct history *h)
{
	return h->last_error;
}

const char *history_strerror(const struct history *h, int r)
{
	return r < 0 && r == h->last_error_code ? h->last_error : strerror(-r);
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
			return cause_set(
				error, -EINVAL,
				"it is an SQLite database of another program (no coordinatord "
				"application id); move it away or choose another state "
				"directory");
		}
	} else if (app_id != HISTORY_APPLICATION_ID) {
		return cause_set(error, -EINVAL,
				 "it belongs to another program (application id 0x%x)", app_id);
	}
	if (version > HISTORY_SCHEMA_VERSION) {
		return cause_set(
			error, -EINVAL,
			"its schema version %d is newer than this coordinatord supports (%d)",
			version, HISTORY_SCHEMA_VERSION);
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

/* The number of the parameter called name in a statement of ours (there must be one). */
static int history_param(sqlite3_stmt *st, const char *name)
{
	int i = sqlite3_bind_parameter_index(st, name);

	assert(i > 0);
	return i;
}

/* Prepares every statement and numbers the parameters the hot writes bind (no lookup by name). */
static int history_prepare_all(struct history *h, char **error)
{
	for (int i = 0; i < STMT_COUNT_; i++) {
		int rc = sqlite3_prepare_v3(h->db, history_stmt_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT, &h->stmts[i], NULL);

		if (rc != SQLITE_OK) {
			*error = strdup(sqlite3_errmsg(h->db));
			return -EIO;
		}
		for (int col = 0; col < JOB_COL_COUNT_; col++)
			h->job_param[i][col] =
				sqlite3_bind_parameter_index(h->stmts[i], history_job_param[col]);
	}
	for (int i = 0; i < MSG_PARAM_COUNT_; i++)
		h->msg_param[i] =
			history_param(h->stmts[STMT_INSERT_MESSAGE], history_msg_param[i]);
	return 0;
}

/* ---- statements ---- */

static sqlite3_stmt *history_stmt(struct history *h, enum history_stmt which)
{
	sqlite3_stmt *st = h->stmts[which];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/*
 * Binds s to parameter i of a statement history_stmt cleared, where NULL
 * stays SQL NULL; i 0 is a column the statement does not write.
 */
static void history_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (i > 0 && s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void history_bind_int64(sqlite3_stmt *st, int i, bool present, int64_t v)
{
	if (i > 0 && present)
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static void history_bind_double(sqlite3_stmt *st, int i, bool present, double v)
{
	if (i > 0 && present)
		sqlite3_bind_double(st, i, v);
}

/*
 * Binds every column of job that statement which writes. Absent values
 * stay NULL: an insert of a job without a seq_no gets the next one.
 */
static sqlite3_stmt *history_bind_job(struct history *h, enum history_stmt which,
				      const struct job *job)
{
	sqlite3_stmt *st = history_stmt(h, which);
	const int *p = h->job_param[which];

	/* An insert takes its creation's seq; an update finds the row by it. */
	history_bind_int64(st, p[JOB_COL_SEQ_NO], job->seq_no > 0, job->seq_no);
	history_bind_text(st, p[JOB_COL_REQUEST_ID], job->request_id);
	history_bind_text(st, p[JOB_COL_PARENT_NODE_ID], job->parent_node_id);
	history_bind_text(st, p[JOB_COL_CHILD_NODE_ID], job->child_node_id);
	history_bind_text(st, p[JOB_COL_RUN_ID], job->run_id);
	history_bind_text(st, p[JOB_COL_NAME], job->name);
	history_bind_text(st, p[JOB_COL_MODE], job->mode);
	history_bind_text(st, p[JOB_COL_STATUS], job_status_name(job->status));
	history_bind_text(st, p[JOB_COL_PHASE], job_phase_name(job->phase));
	history_bind_text(st, p[JOB_COL_RESULT], job_result_name(job->result));
	history_bind_double(st, p[JOB_COL_START_TIME], true, job->start_time);
	history_bind_double(st, p[JOB_COL_END_TIME], job->status == JOB_CLOSED, job->end_time);
	history_bind_int64(st, p[JOB_COL_EXIT_CODE], job->has_exit_code, job->exit_code);
	history_bind_text(st, p[JOB_COL_ERROR_KIND], error_kind_name(job->error_kind));
	history_bind_text(st, p[JOB_COL_ERROR_MESSAGE], job->error_message);
	history_bind_int64(st, p[JOB_COL_OWNER_UID], true, (int64_t)job->owner_uid);
	history_bind_int64(st, p[JOB_COL_PID], job->pid > 0, job->pid);
	history_bind_int64(st, p[JOB_COL_PID_STARTTIME], job->pid > 0, (int64_t)job->pid_starttime);
	/* Only an insert writes after: no serialization for an update. */
	history_bind_text(
		st, p[JOB_COL_AFTER],
		p[JOB_COL_AFTER] && job->after
			? json_object_to_json_string_ext(job->after, JSON_C_TO_STRING_PLAIN)
			: NULL);
	history_bind_text(st, p[JOB_COL_TASK], job->task);
	history_bind_double(st, p[JOB_COL_RUN_START_TIME], job->run_start_time > 0,
			    job->run_start_time);
	history_bind_text(st, p[JOB_COL_RERUN_OF], job->rerun_of);
	history_bind_text(st, p[JOB_COL_STRATEGY_REF], job->strategy_ref);
	history_bind_int64(st, p[JOB_COL_STDOUT_BYTES], job->stdout_bytes >= 0, job->stdout_bytes);
	history_bind_int64(st, p[JOB_COL_STDERR_BYTES], job->stderr_bytes >= 0, job->stderr_bytes);
	return st;
}

static int history_step_done(struct history *h, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, what);
}

/* BEGIN IMMEDIATE, COMMIT or ROLLBACK, with the statement prepared at open. */
static int history_exec_stmt(struct history *h, enum history_stmt which)
{
	return history_step_done(h, h->stmts[which], history_stmt_sql[which]);
}

/* COMMIT, timed for the commit-latency histogram. */
static int history_exec_commit(struct history *h)
{
	double start = metrics_clock();
	int r = history_exec_stmt(h, STMT_COMMIT);

	metrics_commit_observe(metrics_clock() - start);
	return r;
}

/* Ends what is left of a transaction a statement or its commit lost (if anything is). */
static void history_rollback(struct history *h)
{
	if (!sqlite3_get_autocommit(h->db))
		sqlite3_step(h->stmts[STMT_ROLLBACK]);
	sqlite3_reset(h->stmts[STMT_ROLLBACK]);
}

static int history_exec_insert_job(struct history *h, struct job *job)
{
	sqlite3_stmt *st = history_bind_job(h, STMT_INSERT_JOB, job);
	int r = history_step_done(h, st, "cannot store the job");
	if (r == 0)
		job->seq_no = sqlite3_last_insert_rowid(h->db);
	return r;
}

static int history_exec_update_job(struct history *h, const struct job *job)
{
	sqlite3_stmt *st = history_bind_job(
		h, job->status == JOB_OPENED ? STMT_UPDATE_OPEN_JOB : STMT_UPDATE_JOB, job);

	return history_step_done(h, st, "cannot update the job");
}

static int history_exec_insert_message(struct history *h, struct message *msg)
{
	const int *p;
	sqlite3_stmt *st;
	const char *text;
	size_t len;

	text = message_wire(msg, &len);
	if (!text)
		return -ENOMEM;
	st = history_stmt(h, STMT_INSERT_MESSAGE);
	p = h->msg_param;
	sqlite3_bind_int64(st, p[MSG_PARAM_SEQ], (sqlite3_int64)msg->seq);
	history_bind_text(st, p[MSG_PARAM_TYPE], message_type_name(msg->type));
	history_bind_text(st, p[MSG_PARAM_REQUEST_ID], msg->request_id);
	history_bind_text(st, p[MSG_PARAM_RUN_ID], msg->run_id);
	sqlite3_bind_double(st, p[MSG_PARAM_TIME], msg->time);
	sqlite3_bind_text(st, p[MSG_PARAM_BODY], text, (int)len, SQLITE_STATIC);
	return history_step_done(h, st, "cannot store the message");
}

static int history_run_op(struct history *h, const struct history_op *op)
{
	switch (op->kind) {
	case HISTORY_OP_INSERT_JOB:
		return history_exec_insert_job(h, op->job);
	case HISTORY_OP_UPDATE_JOB:
		return history_exec_update_job(h, op->job);
	case HISTORY_OP_INSERT_MESSAGE:
		return history_exec_insert_message(h, op->msg);
	}
	return -EINVAL;
}

/*
 * seq, or the seq of the message op stores if that is larger: a message's,
 * or a new job's request_creation (its row).
 */
static uint64_t history_seq_after(uint64_t seq, const struct history_op *op)
{
	uint64_t op_seq = op->msg ? op->msg->seq : 0;

	if (!op->msg && op->kind == HISTORY_OP_INSERT_JOB && op->job->seq_no > 0)
		op_seq = (uint64_t)op->job->seq_no;
	return op_seq > seq ? op_seq : seq;
}

/* ---- writes that a failed commit lost ---- */

/* Room for one more op, so that recording a write that was made cannot fail. */
static int history_ops_reserve(struct history_ops *ops)
{
	struct history_op *v;
	size_t cap;

	if (ops->count < ops->cap)
		return 0;
	cap = ops->cap ? ops->cap * 2 : 64;
	v = realloc(ops->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ops->v = v;
	ops->cap = cap;
	return 0;
}

static void history_ops_push(struct history_ops *ops, const struct history_op *op)
{
	ops->v[ops->count++] = (struct history_op){
		.kind = op->kind,
		.job = op->job ? job_ref(op->job) : NULL,
		.msg = op->msg ? message_ref(op->msg) : NULL,
	};
}

static void history_ops_clear(struct history_ops *ops)
{
	for (size_t i = 0; i < ops->count; i++) {
		job_unref(ops->v[i].job);
		message_unref(ops->v[i].msg);
	}
	ops->count = 0;
	/* A long backlog once is no reason to keep its memory. */
	if (ops->cap > 4096) {
		free(ops->v);
		ops->v = NULL;
		ops->cap = 0;
	}
}

/* Tells every commit hook how a commit went (0 or its negative errno). */
static void history_run_hooks(struct history *h, int result)
{
	for (size_t i = 0; i < HISTORY_HOOKS; i++)
		if (h->hooks[i].fn)
			h->hooks[i].fn(result, h->hooks[i].userdata);
}

/*
 * The turn's transaction is lost (a statement or its commit failed): roll
 * back what is left of it and keep its writes in the backlog, to be made
 * again once the database can take them. From now on every write waits
 * there too, and new jobs are refused (history_failing).
 */
static void history_turn_failed(struct history *h, int r)
{
	struct history_ops lost = h->turn;
	struct timeval retry = {HISTORY_RETRY_MS / 1000, (HISTORY_RETRY_MS % 1000) * 1000};

	history_rollback(h);
	h->in_transaction = false;
	h->explicit_transaction = false;
	h->turn_seq = 0;
	/* Only a history that is not failing opens a transaction: the backlog is empty. */
	h->turn = h->backlog;
	h->backlog = lost;
	h->failing = true;
	h->fail_error = r;
	evtimer_add(h->retry_ev, &retry);
	history_run_hooks(h, r);
}

/* Makes a backlog write again; one that turns out to be stored already is brought up to date. */
static int history_replay_op(struct history *h, const struct history_op *op)
{
	int r = history_run_op(h, op);

	if (r == -EEXIST && op->kind == HISTORY_OP_INSERT_JOB)
		return history_exec_update_job(h, op->job);
	if (r == -EEXIST && op->kind == HISTORY_OP_INSERT_MESSAGE)
		return 0;
	return r;
}

/* Stores the whole backlog in one transaction; on failure tries again later. */
static int history_retry(struct history *h)
{
	struct timeval retry = {HISTORY_RETRY_MS / 1000, (HISTORY_RETRY_MS % 1000) * 1000};
	uint64_t seq = h->stored_seq;
	int r = history_exec_stmt(h, STMT_BEGIN);

	for (size_t i = 0; r == 0 && i < h->backlog.count; i++) {
		const struct history_op *op = &h->backlog.v[i];

		r = history_replay_op(h, op);
		seq = history_seq_after(seq, op);
	}
	if (r == 0)
		r = history_exec_commit(h);
	if (r < 0) {
		history_rollback(h);
		if (h->retry_ev)
			evtimer_add(h->retry_ev, &retry);
		return r;
	}
	history_ops_clear(&h->backlog);
	h->stored_seq = seq;
	h->failing = false;
	h->fail_error = 0;
	if (h->retry_ev)
		evtimer_del(h->retry_ev);
	history_run_hooks(h, 0);
	return 0;
}

size_t history_cache_bytes(struct history *h)
{
	int now = 0, high = 0;

	if (sqlite3_db_status(h->db, SQLITE_DBSTATUS_CACHE_USED, &now, &high, 0) != SQLITE_OK)
		return 0;
	return now > 0 ? (size_t)now : 0;
}

size_t history_release_memory(struct history *h)
{
	size_t before = history_cache_bytes(h);

	sqlite3_db_release_memory(h->db);
	return before;
}

bool history_failing(const struct history *h)
{
	return h->failing;
}

size_t history_backlog_count(const struct history *h)
{
	return h->backlog.count;
}

uint64_t history_stored_seq(const struct history *h)
{
	return h->stored_seq;
}

/* ---- transactions ---- */

/* Whether writes are grouped per loop turn and kept for a retry (the daemon's case). */
static bool history_grouped(const struct history *h)
{
	return h->commit_ev && !h->explicit_transaction;
}

int history_commit(struct history *h)
{
	int r;

	if (h->failing)
		return history_retry(h);
	if (!h->in_transaction)
		return 0;
	if (history_grouped(h)) {
		r = history_exec_commit(h);
		if (r < 0) {
			history_turn_failed(h, r);
			return r;
		}
		h->in_transaction = false;
		if (h->turn_seq > h->stored_seq)
			h->stored_seq = h->turn_seq;
		h->turn_seq = 0;
		history_ops_clear(&h->turn);
		history_run_hooks(h, 0);
		return 0;
	}
	h->in_transaction = false;
	h->explicit_transaction = false;
	r = history_exec_commit(h);
	if (r < 0)
		history_rollback(h);
	history_run_hooks(h, r);
	return r;
}

bool history_in_transaction(const struct history *h)
{
	return h->in_transaction;
}

int history_add_commit_hook(struct history *h, void (*hook)(int result, void *userdata),
			    void *userdata)
{
	for (size_t i = 0; i < HISTORY_HOOKS; i++)
		if (!h->hooks[i].fn) {
			h->hooks[i] = (struct history_hook){.fn = hook, .userdata = userdata};
			return 0;
		}
	return -ENOSPC;
}

void history_remove_commit_hook(struct history *h, void (*hook)(int result, void *userdata),
				void *userdata)
{
	for (size_t i = 0; i < HISTORY_HOOKS; i++)
		if (h->hooks[i].fn == hook && h->hooks[i].userdata == userdata)
			h->hooks[i] = (struct history_hook){0};
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
	r = history_exec_stmt(h, STMT_BEGIN);
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

/* ---- writes ---- */

/*
 * While failing, a write waits in the backlog (it is part of what happened
 * and will be stored), except a new job: that one is refused.
 */
static int history_defer(struct history *h, const struct history_op *op)
{
	int r;

	if (op->kind == HISTORY_OP_INSERT_JOB) {
		snprintf(h->last_error, sizeof(h->last_error),
			 "the history cannot be written (%s) and takes no new jobs until it can",
			 strerror(-h->fail_error));
		h->last_error_code = h->fail_error;
		return h->fail_error;
	}
	r = history_ops_reserve(&h->backlog);
	if (r < 0)
		return r;
	history_ops_push(&h->backlog, op);
	return 0;
}

/*
 * Makes one write within the turn's transaction and remembers it until
 * the commit. A write whose transaction is lost is kept for later (see
 * history_turn_failed): only a refused new job, or a request_id already
 * taken, is an error for the caller.
 */
static int history_write(struct history *h, const struct history_op *op)
{
	int r;

	if (h->failing)
		return history_defer(h, op);
	if (history_grouped(h) && (r = history_ops_reserve(&h->turn)) < 0)
		return r;
	r = history_write_begin(h);
	if (r == 0)
		r = history_run_op(h, op);
	if (r == -EEXIST || (r < 0 && !history_grouped(h)))
		return r;
	if (r < 0) {
		history_turn_failed(h, r);
		return history_defer(h, op);
	}
	if (history_grouped(h)) {
		history_ops_push(&h->turn, op);
		h->turn_seq = history_seq_after(h->turn_seq, op);
	}
	return history_write_end(h);
}

int history_insert_job(struct history *h, struct job *job)
{
	return history_write(h, &(struct history_op){.kind = HISTORY_OP_INSERT_JOB, .job = job});
}

int history_update_job(struct history *h, struct job *job)
{
	return history_write(h, &(struct history_op){.kind = HISTORY_OP_UPDATE_JOB, .job = job});
}

int history_insert_message(struct history *h, struct message *msg)
{
	size_t len;

	/* Its job's row, written with the seq and time this message has, stands for it. */
	if (msg->type == MESSAGE_REQUEST_CREATION && msg->request_id && msg->seq > 0 &&
	    (int64_t)msg->seq >= h->creations_from)
		return 0;

	/* Made (and kept) now: running out of memory here is no storage failure. */
	if (!message_wire(msg, &len))
		return -ENOMEM;
	return history_write(h,
			     &(struct history_op){.kind = HISTORY_OP_INSERT_MESSAGE, .msg = msg});
}

/* ---- reads ---- */

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

	if ((s = (const char *)sqlite3_column_text(st, JOB_COL_STATUS)))
		job_status_from_name(s, &job->status);
	if ((s = (const char *)sqlite3_column_text(st, JOB_COL_PHASE)))
		job_phase_from_name(s, &job->phase);
	if ((s = (const char *)sqlite3_column_text(st, JOB_COL_RESULT)))
		job_result_from_name(s, &job->result);
	if ((s = (const char *)sqlite3_column_text(st, JOB_COL_ERROR_KIND)))
		error_kind_from_name(s, &job->error_kind);
}

/* The after column back to the array it was stored from; NULL stays NULL. */
static json_object *history_column_after(sqlite3_stmt *st, bool *failed)
{
	const char *s = (const char *)sqlite3_column_text(st, JOB_COL_AFTER);
	json_object *after;

	if (!s)
		return NULL;
	after = json_tokener_parse(s);
	if (!after || !json_object_is_type(after, json_type_array)) {
		json_object_put(after);
		*failed = true;
		return NULL;
	}
	return after;
}

/* Column i of the current row, or absent when it is NULL. */
static int64_t history_column_int64_or(sqlite3_stmt *st, int i, int64_t absent)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return absent;
	return (int64_t)sqlite3_column_int64(st, i);
}

/*
 * A new job from the current row of a statement selecting
 * HISTORY_JOB_SELECT; its stored task (which may be large) only with_task.
 */
static struct job *history_row_to_job(sqlite3_stmt *st, bool with_task)
{
	struct job *job = job_new_empty();
	bool failed = false;

	if (!job)
		return NULL;
	job->seq_no = sqlite3_column_int64(st, JOB_COL_SEQ_NO);
	job->request_id = history_column_dup(st, JOB_COL_REQUEST_ID, &failed);
	job->parent_node_id = history_column_dup(st, JOB_COL_PARENT_NODE_ID, &failed);
	job->child_node_id = history_column_dup(st, JOB_COL_CHILD_NODE_ID, &failed);
	job->run_id = history_column_dup(st, JOB_COL_RUN_ID, &failed);
	job->name = history_column_dup(st, JOB_COL_NAME, &failed);
	job->mode = history_column_dup(st, JOB_COL_MODE, &failed);
	history_column_enums(st, job);
	job->start_time = sqlite3_column_double(st, JOB_COL_START_TIME);
	job->end_time = sqlite3_column_double(st, JOB_COL_END_TIME);
	job->has_exit_code = sqlite3_column_type(st, JOB_COL_EXIT_CODE) != SQLITE_NULL;
	job->exit_code = sqlite3_column_int(st, JOB_COL_EXIT_CODE);
	job->error_message = history_column_dup(st, JOB_COL_ERROR_MESSAGE, &failed);
	job->owner_uid = (uid_t)sqlite3_column_int64(st, JOB_COL_OWNER_UID);
	job->pid = (pid_t)sqlite3_column_int64(st, JOB_COL_PID);
	job->pid_starttime = (uint64_t)sqlite3_column_int64(st, JOB_COL_PID_STARTTIME);
	job->after = history_column_after(st, &failed);
	job->run_start_time = sqlite3_column_double(st, JOB_COL_RUN_START_TIME);
	job->rerun_of = history_column_dup(st, JOB_COL_RERUN_OF, &failed);
	if (with_task)
		job->task = history_column_dup(st, JOB_COL_TASK, &failed);
	job->strategy_ref = history_column_dup(st, JOB_COL_STRATEGY_REF, &failed);
	job->stdout_bytes = history_column_int64_or(st, JOB_COL_STDOUT_BYTES, -1);
	job->stderr_bytes = history_column_int64_or(st, JOB_COL_STDERR_BYTES, -1);
	if (failed || !job->request_id || !job->child_node_id || !job->run_id || !job->name ||
	    !job->mode)
		return job_unref(job);
	return job;
}

/* The first row of st, bound already, as a job: 0 and *ret, -ENOENT, or an error. */
static int history_first_job(struct history *h, sqlite3_stmt *st, struct job **ret)
{
	int rc = sqlite3_step(st), r = 0;

	if (rc == SQLITE_ROW) {
		*ret = history_row_to_job(st, true);
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
	sqlite3_stmt *st = history_stmt(h, STMT_FIND_JOB);

	history_bind_text(st, h->job_param[STMT_FIND_JOB][JOB_COL_REQUEST_ID], request_id);
	return history_first_job(h, st, ret);
}

int history_find_by_node(struct history *h, const char *node_id, struct job **ret)
{
	sqlite3_stmt *st = history_stmt(h, STMT_FIND_BY_NODE);

	history_bind_text(st, h->job_param[STMT_FIND_BY_NODE][JOB_COL_CHILD_NODE_ID], node_id);
	return history_first_job(h, st, ret);
}

int history_foreach_child(struct history *h, const char *run_id, const char *node,
			  int64_t after_seq, int64_t upto_seq, size_t limit,
			  void (*cb)(const struct history_child *child, void *userdata),
			  void *userdata, size_t *ret_count)
{
	sqlite3_stmt *st = history_stmt(h, STMT_CHILDREN);
	size_t count = 0;
	int rc;

	history_bind_text(st, history_param(st, ":node"), node);
	history_bind_text(st, history_param(st, ":run_id"), run_id);
	sqlite3_bind_int64(st, history_param(st, ":after"), after_seq);
	sqlite3_bind_int64(st, history_param(st, ":upto"), upto_seq);
	sqlite3_bind_int64(st, history_param(st, ":limit"), (sqlite3_int64)limit);
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

/* The text filter f sets for which, or NULL when it does not filter on it (or it is a number). */
static const char *history_filter_text(const struct job_filter *f, enum history_filter which)
{
	switch (which) {
	case FILTER_MODE:
		return f->mode;
	case FILTER_RUN_ID:
		return f->run_id;
	case FILTER_PARENT:
		return f->parent_node_id;
	case FILTER_CHILD:
		return f->child_node_id;
	case FILTER_STATUS:
		return f->has_status ? job_status_name(f->status) : NULL;
	case FILTER_RESULT:
		return f->has_result ? job_result_name(f->result) : NULL;
	case FILTER_NAME:
		return f->name;
	case FILTER_PREFIX:
		return f->request_id_prefix;
	case FILTER_OWNER:
	case FILTER_SINCE:
	case FILTER_UNTIL:
	case FILTER_COUNT_:
		break;
	}
	return NULL;
}

static bool history_filter_set(const struct job_filter *f, enum history_filter which)
{
	switch (which) {
	case FILTER_OWNER:
		return f->has_owner;
	case FILTER_SINCE:
		return f->has_since;
	case FILTER_UNTIL:
		return f->has_until;
	case FILTER_MODE:
	case FILTER_RUN_ID:
	case FILTER_PARENT:
	case FILTER_CHILD:
	case FILTER_STATUS:
	case FILTER_RESULT:
	case FILTER_NAME:
	case FILTER_PREFIX:
	case FILTER_COUNT_:
		break;
	}
	return history_filter_text(f, which) != NULL;
}

static void history_filter_bind(sqlite3_stmt *st, const struct job_filter *f,
				enum history_filter which)
{
	int i = history_param(st, history_filters[which].param);

	if (which == FILTER_OWNER)
		sqlite3_bind_int64(st, i, (sqlite3_int64)f->owner_uid);
	else if (which == FILTER_SINCE)
		sqlite3_bind_double(st, i, f->since);
	else if (which == FILTER_UNTIL)
		sqlite3_bind_double(st, i, f->until);
	else
		history_bind_text(st, i, history_filter_text(f, which));
}

/* Prepares the statement of one shape: head, each filter in shape, tail. */
static int history_prepare_shape(struct history *h, enum history_shape_kind kind, unsigned shape,
				 sqlite3_stmt **ret)
{
	bool by_time = kind == SHAPE_QUERY && (shape & HISTORY_TIME_FILTERS);
	char sql[2048];
	size_t n;
	int rc;

	if (by_time) {
		n = (size_t)snprintf(sql, sizeof(sql), HISTORY_TIME_QUERY_HEAD,
				     (shape & (1u << FILTER_UNTIL)) ? HISTORY_TIME_UNTIL_BOUND
								    : HISTORY_TIME_BOUND);
		shape &= ~(1u << FILTER_UNTIL); /* in the bound already */
	} else {
		n = (size_t)snprintf(sql, sizeof(sql), "%s", history_shape_head[kind]);
	}
	for (int f = 0; f < FILTER_COUNT_; f++)
		if (shape & (1u << f))
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s",
					      history_filters[f].sql);
	if (by_time)
		snprintf(sql + n, sizeof(sql) - n, "%s", HISTORY_TIME_QUERY_TAIL);
	else if (kind == SHAPE_COUNT && (shape & HISTORY_RANGE_FILTERS))
		snprintf(sql + n, sizeof(sql) - n, "%s", HISTORY_RANGE_COUNT_TAIL);
	else
		snprintf(sql + n, sizeof(sql) - n, "%s", history_shape_tail[kind]);
	rc = sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);
	return rc == SQLITE_OK ? 0 : history_fail(h, rc, "cannot query jobs");
}

/*
 * The cached statement of the shape of filter (limited to the filters in
 * mask), with the filter's values bound.
 */
static int history_shape_stmt(struct history *h, enum history_shape_kind kind,
			      const struct job_filter *filter, unsigned mask, sqlite3_stmt **ret)
{
	unsigned shape = 0;
	sqlite3_stmt **slot;
	int r;

	for (int f = 0; f < FILTER_COUNT_; f++)
		if ((mask & (1u << f)) && history_filter_set(filter, (enum history_filter)f))
			shape |= 1u << f;
	slot = &h->shapes[kind][shape];
	if (!*slot && (r = history_prepare_shape(h, kind, shape, slot)) < 0)
		return r;
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	for (int f = 0; f < FILTER_COUNT_; f++)
		if (shape & (1u << f))
			history_filter_bind(*slot, filter, (enum history_filter)f);
	*ret = *slot;
	return 0;
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
	struct job **jobs;
	size_t count = 0, task_bytes = 0;
	bool cut = false;
	sqlite3_stmt *st;
	int rc, r;

	if (limit == 0)
		return -EINVAL;
	r = history_shape_stmt(h, SHAPE_QUERY, filter, HISTORY_SHAPES - 1, &st);
	if (r < 0)
		return r;
	jobs = calloc(limit + 1, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	sqlite3_bind_int64(st, history_param(st, ":cursor"), cursor > 0 ? cursor : INT64_MAX);
	sqlite3_bind_int64(st, history_param(st, ":limit"), (sqlite3_int64)limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		task_bytes += (size_t)sqlite3_column_bytes(st, JOB_COL_TASK);
		if (filter->max_task_bytes && count > 0 && count < limit &&
		    task_bytes > filter->max_task_bytes) {
			cut = true;
			break;
		}
		if (!(jobs[count] = history_row_to_job(st, true))) {
			r = -ENOMEM;
			break;
		}
		count++;
	}
	if (r == 0 && !cut && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot query jobs");
	sqlite3_reset(st);
	if (r < 0) {
		history_free_jobs(jobs, count);
		return r;
	}
	*ret_next = cut ? jobs[count - 1]->seq_no : 0;
	if (count > limit) {
		job_unref(jobs[limit]);
		count = limit;
		*ret_next = jobs[limit - 1]->seq_no;
	}
	*ret_jobs = jobs;
	*ret_count = count;
	return 0;
}

/* Adds n jobs of a row's status and result (as stored: their names) to counts. */
static void history_count_row(struct job_counts *counts, const char *status_name,
			      const char *result_name, uint64_t n)
{
	enum job_status status = JOB_CLOSED;
	enum job_result result = JOB_RESULT_NONE;

	if (status_name)
		job_status_from_name(status_name, &status);
	if (result_name)
		job_result_from_name(result_name, &result);
	switch (status) {
	case JOB_OPENED:
		counts->opened += n;
		break;
	case JOB_CLOSED:
		counts->closed += n;
		break;
	}
	switch (result) {
	case JOB_SUCCESS:
		counts->success += n;
		break;
	case JOB_FAILURE:
		counts->failure += n;
		break;
	case JOB_RESULT_NONE:
		break;
	}
}

int history_count(struct history *h, const struct job_filter *filter, struct job_counts *ret)
{
	sqlite3_stmt *st;
	int rc, r = history_shape_stmt(h, SHAPE_COUNT, filter, HISTORY_COUNT_FILTERS, &st);

	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		history_count_row(ret, (const char *)sqlite3_column_text(st, 0),
				  (const char *)sqlite3_column_text(st, 1),
				  (uint64_t)sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot count jobs");
}

int history_foreach_open(struct history *h, int (*cb)(struct job *job, void *userdata),
			 void *userdata)
{
	sqlite3_stmt *st = history_stmt(h, STMT_OPEN_JOBS);
	int rc = SQLITE_DONE, r = 0;

	history_bind_text(st, history_param(st, ":status"), job_status_name(JOB_OPENED));
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct job *job = history_row_to_job(st, true);

		if (!job) {
			r = -ENOMEM;
			break;
		}
		r = cb(job, userdata);
		job_unref(job);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot read opened jobs");
	sqlite3_reset(st);
	return r;
}

static int history_select_u64(struct history *h, enum history_stmt which, uint64_t *ret)
{
	sqlite3_stmt *st = history_stmt(h, which);
	int from = sqlite3_bind_parameter_index(st, ":from"), rc;

	if (from > 0)
		sqlite3_bind_int64(st, from, h->creations_from);
	rc = sqlite3_step(st);

	*ret = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot read seq");
}

int history_last_seq(struct history *h, uint64_t *ret)
{
	return history_select_u64(h, STMT_LAST_SEQ, ret);
}

int history_last_job_seq(struct history *h, int64_t *ret)
{
	uint64_t seq;
	int r = history_select_u64(h, STMT_LAST_JOB_SEQ, &seq);

	if (r == 0)
		*ret = (int64_t)seq;
	return r;
}

int history_first_seq(struct history *h, uint64_t *ret)
{
	return history_select_u64(h, STMT_FIRST_SEQ, ret);
}

/* The request_creation a job row of the log stands for, read from the columns col names. */
static struct message *history_creation_of_row(sqlite3_stmt *st, const int col[LOG_COL_COUNT_])
{
	struct message_ids ids = {
		.request_id = (const char *)sqlite3_column_text(st, col[LOG_COL_REQUEST_ID]),
		.parent_node_id =
			(const char *)sqlite3_column_text(st, col[LOG_COL_PARENT_NODE_ID]),
		.child_node_id = (const char *)sqlite3_column_text(st, col[LOG_COL_CHILD_NODE_ID]),
		.run_id = (const char *)sqlite3_column_text(st, col[LOG_COL_RUN_ID]),
		.mode = (const char *)sqlite3_column_text(st, col[LOG_COL_MODE]),
	};
	struct message *msg = message_new(MESSAGE_REQUEST_CREATION, &ids, NULL);

	if (msg) {
		msg->seq = (uint64_t)sqlite3_column_int64(st, col[LOG_COL_SEQ]);
		msg->time = sqlite3_column_double(st, col[LOG_COL_TIME]);
	}
	return msg;
}

/* Passes one row of STMT_MESSAGES_AFTER to cb: a stored text, or a job row's creation. */
static int history_pass_message(sqlite3_stmt *st,
				int (*cb)(uint64_t seq, const char *type, const char *request_id,
					  const char *run_id, const char *text, size_t len,
					  void *userdata),
				void *userdata)
{
	static const int col[LOG_COL_COUNT_] = {
		[LOG_COL_SEQ] = 0,	     [LOG_COL_REQUEST_ID] = 2,
		[LOG_COL_RUN_ID] = 3,	     [LOG_COL_PARENT_NODE_ID] = 5,
		[LOG_COL_CHILD_NODE_ID] = 6, [LOG_COL_MODE] = 7,
		[LOG_COL_TIME] = 8,
	};
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	const char *type = (const char *)sqlite3_column_text(st, 1);
	const char *request_id = (const char *)sqlite3_column_text(st, 2);
	const char *run_id = (const char *)sqlite3_column_text(st, 3);
	struct message *msg;
	const char *text;
	size_t len;
	int r;

	if (sqlite3_column_type(st, 4) != SQLITE_NULL)
		return cb(seq, type, request_id, run_id, (const char *)sqlite3_column_text(st, 4),
			  (size_t)sqlite3_column_bytes(st, 4), userdata);
	msg = history_creation_of_row(st, col);
	text = msg ? message_wire(msg, &len) : NULL;
	r = text ? cb(seq, type, request_id, run_id, text, len, userdata) : -ENOMEM;
	message_unref(msg);
	return r;
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
	sqlite3_bind_int64(st, history_param(st, ":after"), (sqlite3_int64)after_seq);
	sqlite3_bind_int64(st, history_param(st, ":limit"), (sqlite3_int64)limit);
	sqlite3_bind_int64(st, history_param(st, ":from"), h->creations_from);
	history_bind_text(st, history_param(st, ":creation"),
			  message_type_name(MESSAGE_REQUEST_CREATION));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);

		r = history_pass_message(st, cb, userdata);
		*ret_last = seq;
		if (r != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = history_fail(h, rc, "cannot read messages");
	sqlite3_reset(st);
	return r < 0 ? r : 0;
}

int history_id_in_messages(struct history *h, const char *request_id)
{
	sqlite3_stmt *st = history_stmt(h, STMT_ID_IN_MESSAGES);
	int rc;

	history_bind_text(st, history_param(st, ":request_id"), request_id);
	history_bind_text(st, history_param(st, ":refused"),
			  message_type_name(MESSAGE_REQUEST_CREATION_FAILURE));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot read the message log");
}

int history_final_message(struct history *h, const char *request_id, char **ret_text)
{
	sqlite3_stmt *st = history_stmt(h, STMT_FINAL_MESSAGE);
	int rc, r = 0;

	history_bind_text(st, history_param(st, ":request_id"), request_id);
	history_bind_text(st, history_param(st, ":success"),
			  message_type_name(MESSAGE_REQUEST_SUCCESS));
	history_bind_text(st, history_param(st, ":failure"),
			  message_type_name(MESSAGE_REQUEST_FAILURE));
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

/* ---- retention ---- */

/*
 * A removed job's row was its request_creation in the log: the messages
 * table takes it over, so that the log keeps no gap where later messages
 * stay (the next step drops it again with the prefix it falls in).
 */
static int history_keep_creation(struct history *h, sqlite3_stmt *st)
{
	static const int col[LOG_COL_COUNT_] = {
		[LOG_COL_SEQ] = 2,	     [LOG_COL_REQUEST_ID] = 1,
		[LOG_COL_RUN_ID] = 5,	     [LOG_COL_PARENT_NODE_ID] = 3,
		[LOG_COL_CHILD_NODE_ID] = 4, [LOG_COL_MODE] = 6,
		[LOG_COL_TIME] = 7,
	};
	struct message *msg;
	int r;

	if (sqlite3_column_int64(st, col[LOG_COL_SEQ]) < h->creations_from)
		return 0;
	msg = history_creation_of_row(st, col);
	r = msg ? history_exec_insert_message(h, msg) : -ENOMEM;
	message_unref(msg);
	return r;
}

/* Deletes up to batch closed jobs past the limits; counts what it removed by result. */
static int history_prune_jobs(struct history *h, uint64_t max_jobs, double max_age, size_t batch,
			      history_removed_fn removed_cb, void *userdata,
			      struct job_counts *removed)
{
	sqlite3_stmt *st = history_stmt(h, STMT_PRUNE_JOBS);
	int rc, r = 0;

	history_bind_text(st, history_param(st, ":closed"), job_status_name(JOB_CLOSED));
	sqlite3_bind_int64(st, history_param(st, ":max_jobs"), (sqlite3_int64)max_jobs);
	sqlite3_bind_double(st, history_param(st, ":max_age"), max_age);
	sqlite3_bind_double(st, history_param(st, ":before"), time_now() - max_age);
	sqlite3_bind_int64(st, history_param(st, ":batch"), (sqlite3_int64)batch);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		history_count_row(removed, job_status_name(JOB_CLOSED),
				  (const char *)sqlite3_column_text(st, 0), 1);
		if (removed_cb)
			removed_cb((const char *)sqlite3_column_text(st, 1), userdata);
		r = history_keep_creation(h, st);
	}
	sqlite3_reset(st);
	if (r < 0)
		return r;
	return rc == SQLITE_DONE ? 0 : history_fail(h, rc, "cannot prune");
}

static int history_prune_messages(struct history *h, size_t batch)
{
	sqlite3_stmt *st = history_stmt(h, STMT_PRUNE_MESSAGES);

	sqlite3_bind_int64(st, history_param(st, ":batch"), (sqlite3_int64)batch);
	sqlite3_bind_int64(st, history_param(st, ":from"), h->creations_from);
	return history_step_done(h, st, "cannot prune messages");
}

int history_prune(struct history *h, uint64_t max_jobs, double max_age, size_t batch,
		  history_removed_fn removed_cb, void *userdata, struct job_counts *ret_removed)
{
	int r;

	memset(ret_removed, 0, sizeof(*ret_removed));
	/* Pruning waits while the backlog does: it is done again later anyway. */
	if ((max_jobs == 0 && max_age <= 0) || h->failing)
		return 0;
	r = history_write_begin(h);
	if (r == 0)
		r = history_prune_jobs(h, max_jobs, max_age, batch, removed_cb, userdata,
				       ret_removed);
	/* A job has a few messages: the log may need more steps than the jobs. */
	if (r == 0)
		r = history_prune_messages(h, batch * 4);
	if (r < 0 && history_grouped(h) && r != -EEXIST)
		history_turn_failed(h, r);
	if (r < 0)
		return r;
	return history_write_end(h);
}

/* ---- open and close ---- */

static void history_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct history *h = arg;

	/*
	 * Once, the commit goes to the back of the turn's queue: what the
	 * turn set going meanwhile (a task's start after its submit) joins it.
	 */
	if (!h->commit_yielded) {
		h->commit_yielded = true;
		event_active(h->commit_ev, EV_TIMEOUT, 0);
		return;
	}
	h->commit_yielded = false;
	if (h->before_commit)
		h->before_commit(h->before_commit_data);
	history_commit(h);
}

void history_set_before_commit(struct history *h, void (*hook)(void *userdata), void *userdata)
{
	h->before_commit = hook;
	h->before_commit_data = userdata;
}

static void history_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	history_commit(arg);
}

/*
 * Mode 0600 for the database and its WAL files (SQLite gives new ones the
 * database's mode): the stored Tasks hold env and stdin, which may be
 * secrets. A file not there yet is fine.
 */
static int history_make_private(const char *path, char **error)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		char file[4096];

		if ((size_t)snprintf(file, sizeof(file), "%s%s", path, suffixes[i]) >= sizeof(file))
			return cause_set(error, -ENAMETOOLONG, "%s: path too long", path);
		int e = chmod(file, 0600) < 0 ? errno : 0;

		if (e && e != ENOENT)
			return cause_set(error, -e, "cannot make %s private (mode 0600): %s", file,
					 strerror(e));
	}
	return 0;
}

/*
 * No count of SQLite's memory (nothing reads it): each of its allocations
 * would take a global mutex for it. Only before SQLite's first use in the
 * process (in the daemon: this open); later it changes nothing.
 */
static void history_tune_sqlite(void)
{
	static bool done;

	if (!done)
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	done = true;
}

static int history_wal_cb(void *arg, sqlite3 *db, const char *name, int frames)
{
	checkpointer_note(arg, db, frames);
	return SQLITE_OK;
}

/*
 * With an event base, the loop's commits never checkpoint (SQLite's
 * autocheckpoint would, inside the commit that crosses 1000 pages): a
 * thread does, woken by the WAL hook. Started once the database is in
 * WAL mode, so that its connection finds it so; what the loop writes
 * before (migrations) is checkpointed at the first wake-up.
 */
static int history_start_checkpointer(struct history *h, const char *path,
				      enum history_durability durability, char **error)
{
	int r = checkpointer_start(path, durability == HISTORY_DURABILITY_FULL,
				   CHECKPOINTER_DEFAULT_PAGES, &h->checkpointer, error);

	if (r < 0)
		return r;
	sqlite3_wal_autocheckpoint(h->db, 0);
	/* Replaces the autocheckpoint's hook: it runs after every commit of the loop's connection.
	 */
	sqlite3_wal_hook(h->db, history_wal_cb, h->checkpointer);
	return 0;
}

void history_set_checkpoint_pages(struct history *h, unsigned pages)
{
	if (h->checkpointer)
		checkpointer_set_pages(h->checkpointer, pages);
}

void history_set_wal_size_limit(struct history *h, uint64_t bytes)
{
	if (h->checkpointer)
		checkpointer_set_wal_limit(h->checkpointer, bytes);
}

bool history_checkpoint_stats(struct history *h, struct checkpointer_stats *ret)
{
	if (!h->checkpointer)
		return false;
	checkpointer_stats(h->checkpointer, ret);
	return true;
}

int history_open(const char *path, struct event_base *base, enum history_durability durability,
		 struct history **ret, char **error)
{
	struct history *h = calloc(1, sizeof(*h));
	uint64_t from = 0;
	int rc, r;

	*error = NULL;
	if (!h)
		return -ENOMEM;
	history_tune_sqlite();
	/* Only the event loop's thread uses the handle: no mutex around every call. */
	rc = sqlite3_open_v2(path, &h->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		r = history_fail(h, rc, "cannot open");
		*error = strdup(h->last_error);
		history_close(h);
		return r;
	}
	sqlite3_extended_result_codes(h->db, 1);
	sqlite3_busy_timeout(h->db, 5000);
	r = history_make_private(path, error);
	if (r < 0) {
		history_close(h);
		return r;
	}
	/* Migrating first refuses a foreign database before anything changes it. */
	r = history_migrate(h, error);
	if (r == 0)
		r = history_configure(h, durability, error);
	if (r == 0)
		r = history_prepare_all(h, error);
	if (r == 0 && ((r = history_select_u64(h, STMT_CREATIONS_FROM, &from)) < 0 ||
		       (r = history_last_seq(h, &h->stored_seq)) < 0))
		*error = strdup(h->last_error);
	h->creations_from = (int64_t)from;
	if (r == 0 && base &&
	    (!(h->commit_ev = event_new(base, -1, 0, history_commit_cb, h)) ||
	     !(h->retry_ev = evtimer_new(base, history_retry_cb, h))))
		r = -ENOMEM;
	if (r == 0 && base)
		r = history_start_checkpointer(h, path, durability, error);
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
	/*
	 * The thread goes first (ending the checkpoint it may be making), so
	 * that the loop's connection is the last one: closing it checkpoints
	 * the whole WAL and removes it.
	 */
	if (h->checkpointer) {
		sqlite3_wal_hook(h->db, NULL, NULL);
		checkpointer_stop(h->checkpointer);
	}
	history_ops_clear(&h->turn);
	history_ops_clear(&h->backlog);
	free(h->turn.v);
	free(h->backlog.v);
	for (int i = 0; i < STMT_COUNT_; i++)
		sqlite3_finalize(h->stmts[i]);
	for (int kind = 0; kind < SHAPE_KIND_COUNT_; kind++)
		for (unsigned shape = 0; shape < HISTORY_SHAPES; shape++)
			sqlite3_finalize(h->shapes[kind][shape]);
	if (h->commit_ev)
		event_free(h->commit_ev);
	if (h->retry_ev)
		event_free(h->retry_ev);
	sqlite3_close(h->db);
	free(h);
}
