/*
 * A writer of the Prometheus text exposition format (version 0.0.4):
 * families with their HELP and TYPE lines, samples with escaped labels.
 */
#ifndef COORD_EXPOSITION_H
#define COORD_EXPOSITION_H

#include <stdint.h>
#include <stdio.h>

struct exposition {
	FILE *out;
	char *text;
	size_t len;
};

/* A label of a sample; a list of them ends with a NULL name. */
struct exposition_label {
	const char *name;
	const char *value;
};

/* Starts an empty text. 0 or -ENOMEM. */
int exposition_open(struct exposition *e);
/* The text written so far, handed over in *ret (caller frees). 0 or -ENOMEM. */
int exposition_close(struct exposition *e, char **ret);

/* HELP and TYPE ("counter", "gauge", "histogram") lines of the family name. */
void exposition_family(struct exposition *e, const char *name, const char *type, const char *help);
/* One sample; labels may be NULL. Whole numbers are written without a point. */
void exposition_sample(struct exposition *e, const char *name,
		       const struct exposition_label *labels, double value);
void exposition_sample_u64(struct exposition *e, const char *name,
			   const struct exposition_label *labels, uint64_t value);

#endif
