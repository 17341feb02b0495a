/*
 * Output storage. Each stream of a job is a file "<request_id>.stdout" or
 * ".stderr": a fixed header (the limits and the count of bytes written),
 * then the head (the first bytes, straight), then the tail as a ring of
 * the last bytes. Below the limit the file is the stream itself after the
 * header. Data is written before the count, so after a kill -9 the count
 * never names bytes that are not there. The store owns its writers'
 * files and its watches; a writer and a watch are freed by whoever asked
 * for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cause.h"
#include "log.h"
#include "output_store.h"

#define OUTPUT_MAGIC "COORDOU1"

struct output_header {
	char magic[8];
	uint64_t head_cap;
	uint64_t tail_cap;
	uint64_t written;
};

#define OUTPUT_DATA_START ((off_t)sizeof(struct output_header))

struct output_file {
	int fd;
	struct output_header hdr;
	bool failed; /* a write failed: said once */
};

struct output_writer {
	LIST_ENTRY(output_writer) entry;
	struct output_store *store;
	char *request_id;
	size_t limit;
	struct output_file files[OUTPUT_STREAM_COUNT]; /* each made at its first byte */
};

struct output_watch {
	TAILQ_ENTRY(output_watch) entry;
	struct output_store *store;
	char *request_id;
	output_watch_cb cb;
	void *userdata;
	bool dead; /* freed while the store was calling watchers */
	bool gone; /* the output watched was removed */
};

struct output_store {
	int dirfd;
	LIST_HEAD(, output_writer) writers;
	TAILQ_HEAD(, output_watch) watches;
	unsigned dispatching;
	bool dead_watches;
};

static const char *const output_stream_names[OUTPUT_STREAM_COUNT] = {
	[OUTPUT_STDOUT] = "stdout",
	[OUTPUT_STDERR] = "stderr",
};

const char *output_stream_name(enum output_stream s)
{
	return output_stream_names[s];
}

int output_stream_from_name(const char *name, enum output_stream *ret)
{
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		if (strcmp(name, output_stream_names[s]) == 0) {
			*ret = (enum output_stream)s;
			return 0;
		}
	}
	return -EINVAL;
}

int output_store_open(const char *dir, struct output_store **ret, char **error)
{
	struct output_store *store;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cause_set(error, -errno, "cannot create %s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cause_set(error, -errno, "cannot open %s: %s", dir, strerror(errno));
	store = calloc(1, sizeof(*store));
	if (!store) {
		close(fd);
		return cause_set(error, -ENOMEM, "out of memory");
	}
	store->dirfd = fd;
	LIST_INIT(&store->writers);
	TAILQ_INIT(&store->watches);
	*ret = store;
	return 0;
}

void output_store_free(struct output_store *store)
{
	struct output_watch *w;

	if (!store)
		return;
	while (!LIST_EMPTY(&store->writers))
		output_writer_free(LIST_FIRST(&store->writers));
	while ((w = TAILQ_FIRST(&store->watches))) {
		TAILQ_REMOVE(&store->watches, w, entry);
		free(w->request_id);
		free(w);
	}
	close(store->dirfd);
	free(store);
}

static int output_file_name(char *buf, size_t size, const char *request_id, enum output_stream s)
{
	int n = snprintf(buf, size, "%s.%s", request_id, output_stream_name(s));

	/* A request_id never holds one, but a name with a '/' must not reach outside. */
	if (strchr(request_id, '/'))
		return -EINVAL;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int output_file_create(struct output_store *store, const char *request_id,
			      enum output_stream s, size_t limit, struct output_file *f)
{
	char name[256];
	int r = output_file_name(name, sizeof(name), request_id, s);

	if (r < 0)
		return r;
	f->fd = openat(store->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return -errno;
	memcpy(f->hdr.magic, OUTPUT_MAGIC, sizeof(f->hdr.magic));
	f->hdr.head_cap = limit / 2;
	f->hdr.tail_cap = limit - limit / 2;
	f->hdr.written = 0;
	if (pwrite(f->fd, &f->hdr, sizeof(f->hdr), 0) != (ssize_t)sizeof(f->hdr))
		return errno ? -errno : -EIO;
	return 0;
}

int output_store_writer(struct output_store *store, const char *request_id, size_t limit,
			struct output_writer **ret)
{
	struct output_writer *w;
	char name[256];
	int r = output_file_name(name, sizeof(name), request_id, OUTPUT_STDOUT);

	if (r < 0)
		return r; /* refused now rather than at the first byte */
	w = calloc(1, sizeof(*w));
	if (!w || !(w->request_id = strdup(request_id))) {
		free(w);
		return -ENOMEM;
	}
	w->store = store;
	w->limit = limit;
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		w->files[s].fd = -1;
		w->files[s].hdr.head_cap = limit / 2;
		w->files[s].hdr.tail_cap = limit - limit / 2;
	}
	LIST_INSERT_HEAD(&store->writers, w, entry);
	*ret = w;
	return 0;
}

uint64_t output_writer_written(const struct output_writer *w, enum output_stream s)
{
	return w->files[s].hdr.written;
}

void output_writer_free(struct output_writer *w)
{
	if (!w)
		return;
	LIST_REMOVE(w, entry);
	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++)
		if (w->files[s].fd >= 0)
			close(w->files[s].fd);
	free(w->request_id);
	free(w);
}

static struct output_writer *output_store_find_writer(struct output_store *store,
						      const char *request_id)
{
	struct output_writer *w;

	LIST_FOREACH (w, &store->writers, entry)
		if (strcmp(w->request_id, request_id) == 0)
			return w;
	return NULL;
}

static int output_pwrite_all(int fd, const char *data, size_t len, off_t at)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		data += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

/* Where stream byte pos lies in the file (pos is kept: in the head or the tail's ring). */
static off_t output_file_pos(const struct output_header *h, uint64_t pos)
{
	if (pos < h->head_cap)
		return OUTPUT_DATA_START + (off_t)pos;
	return OUTPUT_DATA_START + (off_t)(h->head_cap + (pos - h->head_cap) % h->tail_cap);
}

static int output_file_append(struct output_file *f, const char *data, size_t len)
{
	struct output_header *h = &f->hdr;
	uint64_t pos = h->written;
	int r = 0;

	if (pos < h->head_cap) {
		size_t n = len < h->head_cap - pos ? len : (size_t)(h->head_cap - pos);

		r = output_pwrite_all(f->fd, data, n, output_file_pos(h, pos));
		pos += n, data += n, len -= n;
	}
	if (h->tail_cap > 0 && len > h->tail_cap) {
		/* Only its end can be kept. */
		pos += len - h->tail_cap;
		data += len - h->tail_cap;
		len = (size_t)h->tail_cap;
	}
	while (r == 0 && len > 0 && h->tail_cap > 0) {
		uint64_t ring = (pos - h->head_cap) % h->tail_cap;
		size_t n = len < h->tail_cap - ring ? len : (size_t)(h->tail_cap - ring);

		r = output_pwrite_all(f->fd, data, n, output_file_pos(h, pos));
		pos += n, data += n, len -= n;
	}
	h->written = pos + len; /* with no tail, what is left is dropped */
	if (r == 0)
		r = output_pwrite_all(f->fd, (const char *)&h->written, sizeof(h->written),
				      (off_t)offsetof(struct output_header, written));
	return r;
}

static void output_store_sweep_watches(struct output_store *store)
{
	struct output_watch *w, *next;

	for (w = TAILQ_FIRST(&store->watches); w; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!w->dead)
			continue;
		TAILQ_REMOVE(&store->watches, w, entry);
		free(w->request_id);
		free(w);
	}
	store->dead_watches = false;
}

static void output_store_notify(struct output_store *store, const char *request_id)
{
	struct output_watch *w;

	store->dispatching++;
	TAILQ_FOREACH (w, &store->watches, entry)
		if (!w->dead && strcmp(w->request_id, request_id) == 0)
			w->cb(w->userdata);
	if (--store->dispatching == 0 && store->dead_watches)
		output_store_sweep_watches(store);
}

void output_writer_append(struct output_writer *w, enum output_stream s, const char *data,
			  size_t len)
{
	struct output_file *f = &w->files[s];
	int r = 0;

	if (len == 0)
		return;
	/* A task that writes nothing costs no file. */
	if (f->fd < 0 && !f->failed)
		r = output_file_create(w->store, w->request_id, s, w->limit, f);
	if (r == 0 && f->fd >= 0)
		r = output_file_append(f, data, len);
	else
		f->hdr.written += len; /* counted all the same */
	if (r < 0 && !f->failed) {
		f->failed = true;
		log_warning("cannot keep the %s of %s: %s; what follows is counted, not all kept",
			    output_stream_name(s), w->request_id, strerror(-r));
	}
	output_store_notify(w->store, w->request_id);
}

static void output_extent_of(const struct output_header *h, struct output_extent *ret)
{
	ret->written = h->written;
	if (h->written <= h->head_cap + h->tail_cap) {
		ret->head = ret->tail_start = h->written;
		return;
	}
	ret->head = h->head_cap;
	ret->tail_start = h->written - h->tail_cap;
}

/* The header of a stream's file: fd open for reading (caller closes), or -ENOENT. */
static int output_file_open(struct output_store *store, const char *request_id,
			    enum output_stream s, struct output_header *h, int *ret_fd)
{
	char name[256];
	int fd, r = output_file_name(name, sizeof(name), request_id, s);

	if (r < 0)
		return r;
	fd = openat(store->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) ||
	    memcmp(h->magic, OUTPUT_MAGIC, sizeof(h->magic)) != 0) {
		close(fd);
		return -EBADMSG;
	}
	*ret_fd = fd;
	return 0;
}

int output_store_extent(struct output_store *store, const char *request_id, enum output_stream s,
			struct output_extent *ret)
{
	struct output_writer *w = output_store_find_writer(store, request_id);
	struct output_header h;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	if (w) {
		output_extent_of(&w->files[s].hdr, ret);
		return 0;
	}
	r = output_file_open(store, request_id, s, &h, &fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	close(fd);
	output_extent_of(&h, ret);
	return 0;
}

static int output_pread_all(int fd, char *buf, size_t len, off_t at, size_t *ret_len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, at + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* the file is shorter than its header says (a crash) */
		got += (size_t)n;
	}
	*ret_len = got;
	return 0;
}

static int output_read_at(int fd, const struct output_header *h, uint64_t offset, char *buf,
			  size_t max, uint64_t *ret_offset, size_t *ret_len)
{
	struct output_extent e;
	size_t first, got = 0, more = 0;
	uint64_t end;
	int r;

	output_extent_of(h, &e);
	if (offset >= e.head && offset < e.tail_start)
		offset = e.tail_start; /* in the dropped middle: the tail is next */
	end = offset < e.head ? e.head : e.written;
	*ret_offset = offset;
	*ret_len = 0;
	if (offset >= end)
		return 0;
	if (end - offset < max)
		max = (size_t)(end - offset);
	first = max;
	/* Past the ring's end the bytes go on at its start. */
	if (offset >= h->head_cap) {
		uint64_t ring = (offset - h->head_cap) % h->tail_cap;

		if (h->tail_cap - ring < first)
			first = (size_t)(h->tail_cap - ring);
	}
	r = output_pread_all(fd, buf, first, output_file_pos(h, offset), &got);
	if (r == 0 && got == first && first < max)
		r = output_pread_all(fd, buf + first, max - first,
				     output_file_pos(h, offset + first), &more);
	if (r < 0)
		return r;
	*ret_len = got + more;
	return 0;
}

int output_store_read(struct output_store *store, const char *request_id, enum output_stream s,
		      uint64_t offset, char *buf, size_t max, uint64_t *ret_offset, size_t *ret_len)
{
	struct output_writer *w = output_store_find_writer(store, request_id);
	struct output_header h;
	int fd, r;

	*ret_offset = offset;
	*ret_len = 0;
	if (w)
		return output_read_at(w->files[s].fd, &w->files[s].hdr, offset, buf, max,
				      ret_offset, ret_len);
	r = output_file_open(store, request_id, s, &h, &fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = output_read_at(fd, &h, offset, buf, max, ret_offset, ret_len);
	close(fd);
	return r;
}

int output_store_remove(struct output_store *store, const char *request_id)
{
	struct output_watch *w;
	int result = 0;

	for (int s = 0; s < OUTPUT_STREAM_COUNT; s++) {
		char name[256];
		int r = output_file_name(name, sizeof(name), request_id, (enum output_stream)s);

		if (r == 0 && unlinkat(store->dirfd, name, 0) < 0 && errno != ENOENT)
			r = -errno;
		if (r < 0)
			result = r;
	}
	/* Whoever watches it is told, before a new job may take the request_id. */
	TAILQ_FOREACH (w, &store->watches, entry)
		if (strcmp(w->request_id, request_id) == 0)
			w->gone = true;
	output_store_notify(store, request_id);
	return result;
}

bool output_watch_gone(const struct output_watch *watch)
{
	return watch->gone;
}

struct output_watch *output_store_watch(struct output_store *store, const char *request_id,
					output_watch_cb cb, void *userdata)
{
	struct output_watch *w = calloc(1, sizeof(*w));

	if (!w || !(w->request_id = strdup(request_id))) {
		free(w);
		return NULL;
	}
	w->store = store;
	w->cb = cb;
	w->userdata = userdata;
	TAILQ_INSERT_TAIL(&store->watches, w, entry);
	return w;
}

void output_watch_free(struct output_watch *watch)
{
	struct output_store *store;

	if (!watch)
		return;
	store = watch->store;
	if (store->dispatching > 0) {
		watch->dead = true;
		store->dead_watches = true;
		return;
	}
	TAILQ_REMOVE(&store->watches, watch, entry);
	free(watch->request_id);
	free(watch);
}
