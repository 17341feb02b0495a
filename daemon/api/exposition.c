/*
 * The Prometheus text format writer. The text grows in a memory stream
 * that exposition_close hands over; a failed write shows there.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "exposition.h"

int exposition_open(struct exposition *e)
{
	e->text = NULL;
	e->len = 0;
	e->out = open_memstream(&e->text, &e->len);
	return e->out ? 0 : -ENOMEM;
}

int exposition_close(struct exposition *e, char **ret)
{
	bool failed = ferror(e->out);

	if (fclose(e->out) != 0 || failed) {
		free(e->text);
		return -ENOMEM;
	}
	*ret = e->text;
	return 0;
}

/* HELP text escapes backslash and newline; label values a double quote too. */
static void exposition_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

void exposition_family(struct exposition *e, const char *name, const char *type, const char *help)
{
	fprintf(e->out, "# HELP %s ", name);
	exposition_escaped(e->out, help, false);
	fprintf(e->out, "\n# TYPE %s %s\n", name, type);
}

static void exposition_labels(FILE *out, const struct exposition_label *labels)
{
	if (!labels || !labels[0].name)
		return;
	fputc('{', out);
	for (size_t i = 0; labels[i].name; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", labels[i].name);
		exposition_escaped(out, labels[i].value, true);
		fputc('"', out);
	}
	fputc('}', out);
}

/* The shortest of %.15g and %.17g that reads back as value. */
static void exposition_number(FILE *out, double value)
{
	char text[32];

	snprintf(text, sizeof(text), "%.15g", value);
	if (strtod(text, NULL) != value)
		snprintf(text, sizeof(text), "%.17g", value);
	fprintf(out, " %s\n", text);
}

void exposition_sample(struct exposition *e, const char *name,
		       const struct exposition_label *labels, double value)
{
	fputs(name, e->out);
	exposition_labels(e->out, labels);
	if (isinf(value))
		fprintf(e->out, " %s\n", value > 0 ? "+Inf" : "-Inf");
	else if (isnan(value))
		fputs(" NaN\n", e->out);
	else
		exposition_number(e->out, value);
}

void exposition_sample_u64(struct exposition *e, const char *name,
			   const struct exposition_label *labels, uint64_t value)
{
	fputs(name, e->out);
	exposition_labels(e->out, labels);
	fprintf(e->out, " %llu\n", (unsigned long long)value);
}
