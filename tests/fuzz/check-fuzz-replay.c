/*
 * Replays the fuzzer's seed corpus and every regression input through the
 * fuzz target's code (fuzzd.c) without libFuzzer, so they run in every
 * build, gcc included. Arguments: directories (or files) of inputs. Each
 * input runs on a fresh daemon ("each"), then all of them in order on one
 * daemon, as the fuzzer would ("all"). A broken invariant aborts, which
 * Check reports as a failure of that input.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>

#include "checkrun.h"
#include "fuzzd.h"

static char **replay_files;
static size_t replay_count;

static void replay_add(const char *path)
{
	char **files = realloc(replay_files, (replay_count + 1) * sizeof(*files));

	if (!files || !(files[replay_count] = strdup(path))) {
		perror("replay");
		exit(EXIT_FAILURE);
	}
	replay_files = files;
	replay_count++;
}

static int replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or every regular file in it (not recursing, skipping dot files). */
static void replay_collect(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(EXIT_FAILURE);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_add(path);
		return;
	}
	dir = opendir(path);
	while (dir && (e = readdir(dir))) {
		char *file;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
			continue;
		if (asprintf(&file, "%s/%s", path, e->d_name) < 0)
			exit(EXIT_FAILURE);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
			replay_add(file);
		free(file);
	}
	if (dir)
		closedir(dir);
}

static void replay_one(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, n;

	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			data = realloc(data, cap);
			ck_assert_ptr_nonnull(data);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	ck_assert_int_eq(ferror(f), 0);
	fclose(f);
	fprintf(stderr, "replaying %s (%zu bytes)\n", path, len);
	fuzzd_feed(data, len);
	free(data);
}

START_TEST(test_each)
{
	replay_one(replay_files[_i]);
	fuzzd_stop();
}
END_TEST

START_TEST(test_all)
{
	for (size_t i = 0; i < replay_count; i++)
		replay_one(replay_files[i]);
	fuzzd_stop();
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("fuzz-replay");
	TCase *each = tcase_create("each");
	TCase *all = tcase_create("all");
	int r;

	for (int i = 1; i < argc; i++)
		replay_collect(argv[i]);
	if (replay_count == 0) {
		fprintf(stderr, "usage: %s DIR|FILE...: no inputs\n", argv[0]);
		return EXIT_FAILURE;
	}
	qsort(replay_files, replay_count, sizeof(*replay_files), replay_cmp);
	tcase_set_timeout(each, 60);
	tcase_add_loop_test(each, test_each, 0, (int)replay_count);
	tcase_set_timeout(all, 600);
	tcase_add_test(all, test_all);
	suite_add_tcase(s, each);
	suite_add_tcase(s, all);
	r = checkrun(s);
	for (size_t i = 0; i < replay_count; i++)
		free(replay_files[i]);
	free(replay_files);
	return r;
}
