/* The slurm strategy's settings: parsed, checked, defaulted. A struct slurm_settings owns its
 * strings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cause.h"
#include "slurm_settings.h"
#include "slurm_spool.h"

struct slurm_setting_key {
	const char *key;
	int (*set)(struct slurm_settings *s, const char *mode, const char *key, const char *value,
		   char **error);
};

static int slurm_set_ms(const char *mode, const char *key, const char *value, unsigned min,
			unsigned max, unsigned *ret, char **error)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 10);
	if (!*value || *value == '-' || errno || *end || v < min || v > max)
		return cause_set(error, -EINVAL,
				 "mode \"%s\": %s = \"%s\" is not a number of "
				 "milliseconds from %u to %u",
				 mode, key, value, min, max);
	*ret = (unsigned)v;
	return 0;
}

static int slurm_set_poll_ms(struct slurm_settings *s, const char *mode, const char *key,
			     const char *value, char **error)
{
	return slurm_set_ms(mode, key, value, 10, 3600000, &s->poll_ms, error);
}

static int slurm_set_command_timeout_ms(struct slurm_settings *s, const char *mode, const char *key,
					const char *value, char **error)
{
	return slurm_set_ms(mode, key, value, 100, 3600000, &s->command_timeout_ms, error);
}

static int slurm_set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static int slurm_set_partition(struct slurm_settings *s, const char *mode, const char *key,
			       const char *value, char **error)
{
	if (!*value || strpbrk(value, " \t\n"))
		return cause_set(error, -EINVAL, "mode \"%s\": %s = \"%s\" is not a partition name",
				 mode, key, value);
	return slurm_set_string(&s->partition, value);
}

/* Paths of directories: absolute, so that they mean the same to the Slurm nodes. */
static int slurm_set_dir(char **field, const char *mode, const char *key, const char *value,
			 char **error)
{
	if (value[0] != '/')
		return cause_set(error, -EINVAL, "mode \"%s\": %s = \"%s\" is not an absolute path",
				 mode, key, value);
	return slurm_set_string(field, value);
}

static int slurm_set_spool_dir(struct slurm_settings *s, const char *mode, const char *key,
			       const char *value, char **error)
{
	return slurm_set_dir(&s->spool_dir, mode, key, value, error);
}

static int slurm_set_bin_dir(struct slurm_settings *s, const char *mode, const char *key,
			     const char *value, char **error)
{
	return slurm_set_dir(&s->bin_dir, mode, key, value, error);
}

static const struct slurm_setting_key slurm_setting_keys[] = {
	{.key = "slurm_partition", .set = slurm_set_partition},
	{.key = "slurm_poll_ms", .set = slurm_set_poll_ms},
	{.key = "slurm_command_timeout_ms", .set = slurm_set_command_timeout_ms},
	{.key = "slurm_spool_dir", .set = slurm_set_spool_dir},
	{.key = "slurm_bin_dir", .set = slurm_set_bin_dir},
};

static int slurm_settings_set(struct slurm_settings *s, const char *mode, const char *setting,
			      char **error)
{
	size_t n = strcspn(setting, "=");
	char key[64];

	snprintf(key, sizeof(key), "%.*s", (int)n, setting);
	for (size_t i = 0; i < sizeof(slurm_setting_keys) / sizeof(slurm_setting_keys[0]); i++)
		if (strcmp(slurm_setting_keys[i].key, key) == 0)
			return slurm_setting_keys[i].set(s, mode, key,
							 setting[n] ? setting + n + 1 : "", error);
	return cause_set(error, -EINVAL,
			 "mode \"%s\": unknown setting \"%.*s\" for strategy slurm "
			 "(known: slurm_partition, slurm_poll_ms, slurm_command_timeout_ms, "
			 "slurm_spool_dir, slurm_bin_dir)",
			 mode, (int)n, setting);
}

static bool slurm_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* dir/name if it is an executable file: 0 and the path in *ret, or -ENOENT. */
static int slurm_program_in(const char *dir, size_t dir_len, const char *name, char **ret)
{
	char *path;

	if (asprintf(&path, "%.*s/%s", (int)dir_len, dir, name) < 0)
		return -ENOMEM;
	if (!slurm_executable(path)) {
		free(path);
		return -ENOENT;
	}
	*ret = path;
	return 0;
}

/* name looked up in the daemon's PATH, as a shell would. */
static int slurm_program_in_path(const char *name, char **ret)
{
	const char *path = getenv("PATH"), *p;
	int r = -ENOENT;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; r == -ENOENT; p += strcspn(p, ":") + 1) {
		size_t n = strcspn(p, ":");

		r = slurm_program_in(n ? p : ".", n ? n : 1, name, ret);
		if (!p[n])
			break;
	}
	return r;
}

static int slurm_find_program(const struct slurm_settings *s, const char *mode, const char *name,
			      char **ret, char **error)
{
	int r = s->bin_dir ? slurm_program_in(s->bin_dir, strlen(s->bin_dir), name, ret)
			   : slurm_program_in_path(name, ret);

	if (r == -ENOENT && s->bin_dir)
		return cause_set(error, r,
				 "mode \"%s\": slurm_bin_dir = \"%s\" has no executable "
				 "%s (is the Slurm client installed there?)",
				 mode, s->bin_dir, name);
	if (r == -ENOENT)
		return cause_set(error, r,
				 "mode \"%s\": %s is not in PATH (install the Slurm "
				 "client or set slurm_bin_dir)",
				 mode, name);
	return r;
}

static int slurm_settings_default_spool(struct slurm_settings *s,
					const struct strategy_config *config, char **error)
{
	if (s->spool_dir)
		return 0;
	if (!config->state_dir || config->state_dir[0] != '/')
		return cause_set(error, -EINVAL,
				 "mode \"%s\": set slurm_spool_dir (an absolute path: "
				 "there is no absolute state directory to default to)",
				 config->mode);
	if (asprintf(&s->spool_dir, "%s/slurm", config->state_dir) < 0) {
		s->spool_dir = NULL;
		return -ENOMEM;
	}
	return 0;
}

int slurm_settings_parse(const struct strategy_config *config, struct slurm_settings *ret,
			 char **error)
{
	struct slurm_settings s = {
		.poll_ms = SLURM_DEFAULT_POLL_MS,
		.command_timeout_ms = SLURM_DEFAULT_COMMAND_TIMEOUT_MS,
	};
	int r = 0;

	*error = NULL;
	for (size_t i = 0; r == 0 && i < config->setting_count; i++)
		r = slurm_settings_set(&s, config->mode, config->settings[i], error);
	if (r == 0)
		r = slurm_settings_default_spool(&s, config, error);
	if (r == 0)
		r = slurm_find_program(&s, config->mode, "sbatch", &s.sbatch, error);
	if (r == 0)
		r = slurm_find_program(&s, config->mode, "squeue", &s.squeue, error);
	if (r == 0)
		r = slurm_find_program(&s, config->mode, "scancel", &s.scancel, error);
	if (r == 0 && slurm_find_program(&s, config->mode, "sacct", &s.sacct, error) < 0) {
		/* Optional: without it, a job the controller forgot is lost. */
		free(*error);
		*error = NULL;
		s.sacct = NULL;
	}
	/* Only root can submit jobs as another user (sbatch --uid). */
	s.run_as_submitter = config->run_as_submitter && geteuid() == 0;
	if (r == 0)
		r = slurm_spool_prepare(s.spool_dir, s.run_as_submitter, config->mode, error);
	if (r == 0 && s.run_as_submitter &&
	    slurm_spool_searchable(s.spool_dir, &s.unreachable) == -ENOMEM)
		r = -ENOMEM;
	if (r < 0) {
		slurm_settings_clear(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void slurm_settings_clear(struct slurm_settings *s)
{
	free(s->partition);
	free(s->spool_dir);
	free(s->bin_dir);
	free(s->sbatch);
	free(s->squeue);
	free(s->unreachable);
	free(s->scancel);
	free(s->sacct);
	memset(s, 0, sizeof(*s));
}
