/*
 * Config file parsing with libinih. A struct config owns every string and
 * array it points to; config_clear frees them.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <ini.h>

#include "cause.h"
#include "checkpointer.h"
#include "config.h"
#include "coordinator.h"
#include "log.h"
#include "strategy_kind.h"

#define CONFIG_MODE_PREFIX "mode:"

struct config_parse {
	struct config *cfg;
	char *error; /* the first error; inih gives its line */
};

static int config_add_mode(struct config *cfg, const char *name, struct config_mode **ret)
{
	struct config_mode *modes, *m;

	modes = realloc(cfg->modes, (cfg->mode_count + 1) * sizeof(*modes));
	if (!modes)
		return -ENOMEM;
	cfg->modes = modes;
	m = &modes[cfg->mode_count];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->strategy = strdup("async");
	m->queue_hot_tasks = STRATEGY_DEFAULT_QUEUE_HOT_TASKS;
	if (!m->name || !m->strategy) {
		free(m->name);
		free(m->strategy);
		return -ENOMEM;
	}
	cfg->mode_count++;
	*ret = m;
	return 0;
}

int config_init(struct config *cfg)
{
	struct config_mode *m;

	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_mode = 0660;
	cfg->log_level = LOG_INFO;
	cfg->max_connections = 1024;
	cfg->max_connections_per_uid = 128;
	cfg->max_line_bytes = 1024 * 1024;
	cfg->max_batch = 1000;
	cfg->max_answer_bytes = 8 * 1024 * 1024;
	cfg->max_pending_calls = 1024;
	cfg->max_pending_bytes = 16 * 1024 * 1024;
	cfg->subscriber_buffer_bytes = 8 * 1024 * 1024;
	cfg->notify_coalesce_ms = 20;
	cfg->shutdown_grace_sec = 10;
	cfg->max_wait_ids = 10000;
	cfg->max_waiting_task_bytes = 256 * 1024 * 1024;
	cfg->max_wait_answer_bytes = 64 * 1024 * 1024;
	cfg->max_status_task_bytes = 16 * 1024 * 1024;
	cfg->cancel_slice_ms = COORDINATOR_CANCEL_SLICE_MS;
	cfg->durability = HISTORY_DURABILITY_NORMAL;
	cfg->checkpoint_pages = CHECKPOINTER_DEFAULT_PAGES;
	cfg->wal_size_limit = CHECKPOINTER_DEFAULT_WAL_LIMIT;
	cfg->task_limits = TASK_LIMITS_DEFAULT;
	/* As root, do what at, cron and Slurm do; anyone else can only run tasks as itself. */
	cfg->run_as = geteuid() == 0 ? CONFIG_RUN_AS_SUBMITTER : CONFIG_RUN_AS_DAEMON;
	return config_add_mode(cfg, "async", &m);
}

void config_clear(struct config *cfg)
{
	free(cfg->socket_path);
	free(cfg->state_dir);
	free(cfg->exec_helper);
	free(cfg->allowed_uids);
	free(cfg->allowed_gids);
	for (size_t i = 0; i < cfg->mode_count; i++) {
		free(cfg->modes[i].name);
		free(cfg->modes[i].strategy);
		for (size_t j = 0; j < cfg->modes[i].setting_count; j++)
			free(cfg->modes[i].settings[j]);
		free(cfg->modes[i].settings);
	}
	free(cfg->modes);
	memset(cfg, 0, sizeof(*cfg));
}

const struct config_mode *config_find_mode(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->mode_count; i++)
		if (strcmp(cfg->modes[i].name, name) == 0)
			return &cfg->modes[i];
	return NULL;
}

static int config_fail(struct config_parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int config_fail(struct config_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error)
		return 0;
	va_start(ap, fmt);
	cause_setv(&p->error, 0, fmt, ap);
	va_end(ap);
	return 0;
}

static int config_parse_u64(const char *value, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!*value || *value == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int config_set_unsigned(struct config_parse *p, const char *key, const char *value,
			       uint64_t min, uint64_t max, uint64_t *ret)
{
	if (config_parse_u64(value, max, ret) < 0 || *ret < min)
		return config_fail(p, "%s must be a whole number from %llu to %llu, not \"%s\"",
				   key, (unsigned long long)min, (unsigned long long)max, value);
	return 1;
}

static int config_set_string(struct config_parse *p, char **dst, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return config_fail(p, "out of memory");
	free(*dst);
	*dst = copy;
	return 1;
}

static int config_add_user(struct config_parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct passwd *pw = getpwnam(name);
	uid_t *uids;

	if (!pw)
		return config_fail(p, "allowed_users: no such user \"%s\"", name);
	uids = realloc(cfg->allowed_uids, (cfg->allowed_uid_count + 1) * sizeof(*uids));
	if (!uids)
		return config_fail(p, "out of memory");
	uids[cfg->allowed_uid_count++] = pw->pw_uid;
	cfg->allowed_uids = uids;
	return 1;
}

static int config_add_group(struct config_parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct group *gr = getgrnam(name);
	gid_t *gids;

	if (!gr)
		return config_fail(p, "allowed_groups: no such group \"%s\"", name);
	gids = realloc(cfg->allowed_gids, (cfg->allowed_gid_count + 1) * sizeof(*gids));
	if (!gids)
		return config_fail(p, "out of memory");
	gids[cfg->allowed_gid_count++] = gr->gr_gid;
	cfg->allowed_gids = gids;
	return 1;
}

/* Splits a list on spaces and commas and adds each name. */
static int config_set_names(struct config_parse *p, const char *value,
			    int (*add)(struct config_parse *p, const char *name))
{
	char *copy = strdup(value), *save = NULL;
	int r = 1;

	if (!copy)
		return config_fail(p, "out of memory");
	for (char *tok = strtok_r(copy, " ,\t", &save); tok && r;
	     tok = strtok_r(NULL, " ,\t", &save))
		r = add(p, tok);
	free(copy);
	return r;
}

static int config_set_durability(struct config_parse *p, const char *value)
{
	if (strcmp(value, "normal") == 0)
		p->cfg->durability = HISTORY_DURABILITY_NORMAL;
	else if (strcmp(value, "full") == 0)
		p->cfg->durability = HISTORY_DURABILITY_FULL;
	else
		return config_fail(p, "durability must be \"normal\" or \"full\", not \"%s\"",
				   value);
	return 1;
}

static int config_set_log_level(struct config_parse *p, const char *value)
{
	int level = log_level_from_name(value);

	if (level < 0)
		return config_fail(p,
				   "log_level must be debug, info, notice, warning or error, "
				   "not \"%s\"",
				   value);
	p->cfg->log_level = level;
	return 1;
}

/* A whole-number key: where its value goes (struct config or struct config_mode), its range. */
struct config_number {
	const char *key;
	uint64_t min, max;
	size_t offset;
	size_t size; /* of the field: 4 or 8 bytes */
};

#define CONFIG_NUMBER(type, key, field, lo, hi)                                                    \
	{                                                                                          \
		key, lo, hi, offsetof(type, field), sizeof(((type *)NULL)->field)                  \
	}

static const struct config_number config_daemon_numbers[] = {
	CONFIG_NUMBER(struct config, "socket_mode", socket_mode, 0, 0777),
	CONFIG_NUMBER(struct config, "max_connections", max_connections, 1, 1000000),
	CONFIG_NUMBER(struct config, "max_connections_per_uid", max_connections_per_uid, 1,
		      1000000),
	CONFIG_NUMBER(struct config, "max_line_bytes", max_line_bytes, 1024, 1ULL << 30),
	CONFIG_NUMBER(struct config, "max_batch", max_batch, 1, 1000000),
	CONFIG_NUMBER(struct config, "max_answer_bytes", max_answer_bytes, 4096, 1ULL << 34),
	CONFIG_NUMBER(struct config, "max_pending_calls", max_pending_calls, 1, 1000000),
	CONFIG_NUMBER(struct config, "max_pending_bytes", max_pending_bytes, 4096, 1ULL << 36),
	CONFIG_NUMBER(struct config, "subscriber_buffer_bytes", subscriber_buffer_bytes, 4096,
		      1ULL << 34),
	CONFIG_NUMBER(struct config, "notify_coalesce_ms", notify_coalesce_ms, 0, 10000),
	CONFIG_NUMBER(struct config, "shutdown_grace_sec", shutdown_grace_sec, 0, 86400),
	CONFIG_NUMBER(struct config, "retention_max_jobs", retention_max_jobs, 0, UINT64_MAX),
	CONFIG_NUMBER(struct config, "max_wait_ids", max_wait_ids, 1, 1000000),
	CONFIG_NUMBER(struct config, "max_waiting_task_bytes", max_waiting_task_bytes, 4096,
		      1ULL << 40),
	CONFIG_NUMBER(struct config, "max_wait_answer_bytes", max_wait_answer_bytes, 4096,
		      1ULL << 36),
	CONFIG_NUMBER(struct config, "max_status_task_bytes", max_status_task_bytes, 1, 1ULL << 36),
	CONFIG_NUMBER(struct config, "cancel_slice_ms", cancel_slice_ms, 1, 10000),
	CONFIG_NUMBER(struct config, "checkpoint_pages", checkpoint_pages, 1, 1000000),
	CONFIG_NUMBER(struct config, "wal_size_limit", wal_size_limit, 0, 1ULL << 40),
	CONFIG_NUMBER(struct config, "max_task_argv", task_limits.max_argv, 1, 1000000),
	CONFIG_NUMBER(struct config, "max_task_argv_bytes", task_limits.max_argv_bytes, 2,
		      1ULL << 30),
	CONFIG_NUMBER(struct config, "max_task_env", task_limits.max_env, 0, 1000000),
	CONFIG_NUMBER(struct config, "max_task_env_bytes", task_limits.max_env_bytes, 0,
		      1ULL << 30),
	CONFIG_NUMBER(struct config, "max_task_stdin_bytes", task_limits.max_stdin_bytes, 0,
		      1ULL << 34),
	CONFIG_NUMBER(struct config, "max_task_cwd_bytes", task_limits.max_cwd_bytes, 1,
		      1ULL << 20),
	CONFIG_NUMBER(struct config, "max_task_after", task_limits.max_after, 0, 1000000),
};

static const struct config_number config_mode_numbers[] = {
	CONFIG_NUMBER(struct config_mode, "max_concurrency", max_concurrency, 1, 100000),
	CONFIG_NUMBER(struct config_mode, "max_queue", max_queue, 1, 100000000),
	CONFIG_NUMBER(struct config_mode, "output_limit_bytes", output_limit, 1, 1ULL << 30),
	CONFIG_NUMBER(struct config_mode, "kill_grace_ms", kill_grace_ms, 1, 3600000),
	CONFIG_NUMBER(struct config_mode, "queue_hot_tasks", queue_hot_tasks, 0, 100000000),
};

/* Sets key in base from table: 1 when set, 0 on a bad value, -1 when the table lacks it. */
static int config_set_number(struct config_parse *p, const struct config_number *table, size_t n,
			     void *base, const char *key, const char *value)
{
	for (size_t i = 0; i < n; i++) {
		const struct config_number *num = &table[i];
		uint64_t max = num->size < sizeof(uint64_t) && num->max > UINT32_MAX ? UINT32_MAX
										     : num->max;
		uint64_t v;
		uint32_t small;

		if (strcmp(key, num->key) != 0)
			continue;
		if (config_set_unsigned(p, key, value, num->min, max, &v) <= 0)
			return 0;
		small = (uint32_t)v;
		memcpy((char *)base + num->offset,
		       num->size < sizeof(uint64_t) ? (void *)&small : &v, num->size);
		return 1;
	}
	return -1;
}

static int config_set_run_as(struct config_parse *p, const char *value)
{
	if (strcmp(value, "submitter") == 0)
		p->cfg->run_as = CONFIG_RUN_AS_SUBMITTER;
	else if (strcmp(value, "daemon") == 0)
		p->cfg->run_as = CONFIG_RUN_AS_DAEMON;
	else
		return config_fail(p, "run_as must be \"submitter\" or \"daemon\", not \"%s\"",
				   value);
	return 1;
}

static int config_daemon_key(struct config_parse *p, const char *key, const char *value)
{
	struct config *cfg = p->cfg;
	uint64_t v = 0;
	int r;

	if (strcmp(key, "socket") == 0)
		return config_set_string(p, &cfg->socket_path, value);
	if (strcmp(key, "state_dir") == 0)
		return config_set_string(p, &cfg->state_dir, value);
	if (strcmp(key, "log_level") == 0)
		return config_set_log_level(p, value);
	if (strcmp(key, "durability") == 0)
		return config_set_durability(p, value);
	if (strcmp(key, "run_as") == 0)
		return config_set_run_as(p, value);
	if (strcmp(key, "exec_helper") == 0) {
		if (value[0] != '/')
			return config_fail(p, "exec_helper must be an absolute path, not \"%s\"",
					   value);
		return config_set_string(p, &cfg->exec_helper, value);
	}
	if (strcmp(key, "allowed_users") == 0)
		return config_set_names(p, value, config_add_user);
	if (strcmp(key, "allowed_groups") == 0)
		return config_set_names(p, value, config_add_group);
	if (strcmp(key, "retention_max_age_sec") == 0) {
		if ((r = config_set_unsigned(p, key, value, 0, UINT64_MAX, &v)) > 0)
			cfg->retention_max_age_sec = (double)v;
		return r;
	}
	r = config_set_number(p, config_daemon_numbers,
			      sizeof(config_daemon_numbers) / sizeof(config_daemon_numbers[0]), cfg,
			      key, value);
	if (r < 0)
		return config_fail(p, "unknown key \"%s\" in [daemon]", key);
	return r;
}

/* Keeps a strategy's own setting; the strategy checks it when the mode is built. */
static int config_add_setting(struct config_parse *p, struct config_mode *m, const char *key,
			      const char *value)
{
	char **settings = realloc(m->settings, (m->setting_count + 1) * sizeof(*settings));

	if (!settings)
		return config_fail(p, "out of memory");
	m->settings = settings;
	if (asprintf(&settings[m->setting_count], "%s=%s", key, value) < 0)
		return config_fail(p, "out of memory");
	m->setting_count++;
	return 1;
}

static int config_set_bool(struct config_parse *p, const char *key, const char *value, bool *ret)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
		*ret = false;
	else
		return config_fail(p, "%s must be true or false, not \"%s\"", key, value);
	return 1;
}

static int config_mode_key(struct config_parse *p, struct config_mode *m, const char *key,
			   const char *value)
{
	int r;

	if (strcmp(key, "strategy") == 0) {
		if (!strategy_kind_known(value))
			return config_fail(p, "unknown strategy \"%s\" (known: async, slurm)",
					   value);
		return config_set_string(p, &m->strategy, value);
	}
	if (strcmp(key, "paused") == 0)
		return config_set_bool(p, key, value, &m->paused);
	if (strategy_kind_setting_known(key))
		return config_add_setting(p, m, key, value);
	r = config_set_number(p, config_mode_numbers,
			      sizeof(config_mode_numbers) / sizeof(config_mode_numbers[0]), m, key,
			      value);
	if (r < 0)
		return config_fail(p, "unknown key \"%s\" in [mode:%s]", key, m->name);
	return r;
}

static bool config_mode_name_valid(const char *name)
{
	if (!*name || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			return false;
	return true;
}

static int config_handler(void *user, const char *section, const char *key, const char *value)
{
	struct config_parse *p = user;
	struct config_mode *m;
	const char *name;

	if (p->error)
		return 0;
	if (strcmp(section, "daemon") == 0)
		return config_daemon_key(p, key, value);
	if (strncmp(section, CONFIG_MODE_PREFIX, strlen(CONFIG_MODE_PREFIX)) != 0)
		return config_fail(p, "unknown section [%s] (expected [daemon] or [mode:NAME])",
				   section);
	name = section + strlen(CONFIG_MODE_PREFIX);
	if (!config_mode_name_valid(name))
		return config_fail(p, "bad mode name \"%s\": 1-64 of A-Z a-z 0-9 - _ .", name);
	m = (struct config_mode *)config_find_mode(p->cfg, name);
	if (!m && config_add_mode(p->cfg, name, &m) < 0)
		return config_fail(p, "out of memory");
	return config_mode_key(p, m, key, value);
}

/*
 * run_as = submitter needs root: anyone else cannot change a task's uid.
 * It is harmless only when nobody but root and us may submit (root's and
 * our own tasks run as us anyway).
 */
static int config_check_run_as(const struct config *cfg, char **error)
{
	uid_t self = geteuid();
	bool others = cfg->allowed_gid_count > 0;

	for (size_t i = 0; i < cfg->allowed_uid_count; i++)
		others |= cfg->allowed_uids[i] != self;
	if (cfg->run_as != CONFIG_RUN_AS_SUBMITTER || self == 0 || !others)
		return 0;
	return cause_set(
		error, -EINVAL,
		"run_as = submitter needs coordinatord to run as root (it runs as uid %u), "
		"and allowed_users/allowed_groups let others submit; set run_as = daemon "
		"to run their tasks as uid %u",
		(unsigned)self, (unsigned)self);
}

/* The config file as inih reads it, with what C strings would hide. */
struct config_file {
	FILE *f;
	unsigned newlines; /* read so far */
	unsigned nul_line; /* the first line holding a NUL byte, 0 if none */
};

/*
 * fgets for inih that ends the parse at a NUL byte: inih would take the
 * line to end there, and a file of zeros (a crash during a write) would
 * read as an empty config.
 */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_file *cf = stream;
	int i = 0, c = EOF;

	if (cf->nul_line)
		return NULL;
	while (i < num - 1 && (c = getc(cf->f)) != EOF) {
		if (c == '\0') {
			cf->nul_line = cf->newlines + 1;
			return NULL;
		}
		str[i++] = (char)c;
		if (c == '\n') {
			cf->newlines++;
			break;
		}
	}
	if (i == 0)
		return NULL;
	str[i] = '\0';
	return str;
}

/* Runs inih over path; its result (see ini_parse), with a NUL byte's line in *ret_nul_line. */
static int config_parse_file(const char *path, struct config_parse *p, unsigned *ret_nul_line)
{
	struct config_file cf = {.f = fopen(path, "re")};
	int line, e;

	*ret_nul_line = 0;
	if (!cf.f)
		return -1;
	line = ini_parse_stream(config_read_line, &cf, config_handler, p);
	e = ferror(cf.f) ? EIO : 0;
	fclose(cf.f);
	if (e) {
		errno = e;
		return -1;
	}
	*ret_nul_line = cf.nul_line;
	return line;
}

int config_load(struct config *cfg, const char *path, char **error)
{
	struct config_parse p = {.cfg = cfg};
	unsigned nul_line;
	int line, r;

	*error = NULL;
	line = config_parse_file(path, &p, &nul_line);
	if (line == -1) {
		int e = errno;

		free(p.error);
		return cause_set(error, -(e ? e : EIO), "%s: cannot read: %s", path, strerror(e));
	}
	if (nul_line > 0 && (line == 0 || (unsigned)line >= nul_line)) {
		free(p.error);
		return cause_set(error, -EINVAL,
				 "%s:%u: a NUL byte: the file is not text (truncated or corrupt?)",
				 path, nul_line);
	}
	if (line == -2) {
		free(p.error);
		return cause_set(error, -ENOMEM, "%s: out of memory", path);
	}
	if (line > 0) {
		r = cause_set(error, -EINVAL, "%s:%d: %s", path, line,
			      p.error ? p.error
				      : "syntax error (expected [section] or key = value)");
		free(p.error);
		return r;
	}
	if (config_check_run_as(cfg, &p.error) < 0) {
		r = cause_set(error, -EINVAL, "%s: %s", path, p.error ? p.error : "bad run_as");
		free(p.error);
		return r;
	}
	return 0;
}

static bool config_same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool config_same_ids(const void *a, size_t a_count, const void *b, size_t b_count,
			    size_t size)
{
	return a_count == b_count && (a_count == 0 || memcmp(a, b, a_count * size) == 0);
}

void config_diff_daemon(const struct config *a, const struct config *b,
			void (*cb)(const char *key, void *userdata), void *userdata)
{
	size_t n = sizeof(config_daemon_numbers) / sizeof(config_daemon_numbers[0]);

	if (!config_same_string(a->socket_path, b->socket_path))
		cb("socket", userdata);
	if (!config_same_string(a->state_dir, b->state_dir))
		cb("state_dir", userdata);
	if (!config_same_string(a->exec_helper, b->exec_helper))
		cb("exec_helper", userdata);
	if (a->log_level != b->log_level)
		cb("log_level", userdata);
	if (a->durability != b->durability)
		cb("durability", userdata);
	if (a->run_as != b->run_as)
		cb("run_as", userdata);
	if (a->retention_max_age_sec != b->retention_max_age_sec)
		cb("retention_max_age_sec", userdata);
	if (!config_same_ids(a->allowed_uids, a->allowed_uid_count, b->allowed_uids,
			     b->allowed_uid_count, sizeof(uid_t)))
		cb("allowed_users", userdata);
	if (!config_same_ids(a->allowed_gids, a->allowed_gid_count, b->allowed_gids,
			     b->allowed_gid_count, sizeof(gid_t)))
		cb("allowed_groups", userdata);
	for (size_t i = 0; i < n; i++) {
		const struct config_number *num = &config_daemon_numbers[i];

		if (memcmp((const char *)a + num->offset, (const char *)b + num->offset,
			   num->size) != 0)
			cb(num->key, userdata);
	}
}

bool config_mode_same_strategy(const struct config_mode *a, const struct config_mode *b)
{
	if (strcmp(a->strategy, b->strategy) != 0 || a->setting_count != b->setting_count)
		return false;
	for (size_t i = 0; i < a->setting_count; i++)
		if (strcmp(a->settings[i], b->settings[i]) != 0)
			return false;
	return true;
}
