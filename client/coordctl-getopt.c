/* coordctl's option parser: getopt_long without guessed abbreviations, with errors naming the
 * option. Writes only ctl->optname. */
#include <string.h>

#include "coordctl.h"

/* The argument that held the long option opts[idx] getopt_long just returned. */
static const char *getopt_long_text(char **argv, const struct option *opt)
{
	/* "--opt value": optarg is the word after the option; "--opt=value" is one word. */
	if (opt->has_arg == required_argument && optind >= 2 && optarg == argv[optind - 1])
		return argv[optind - 2];
	return argv[optind - 1];
}

/* Reports an option getopt_long refused (c is '?' or ':'); returns COORDCTL_OPT_BAD. */
static int getopt_refused(struct coordctl *ctl, char **argv, int c)
{
	const char *text = optind >= 1 ? argv[optind - 1] : "?";
	size_t len = strcspn(text, "=");

	if (optopt > 0 && optopt < 0x100 && strncmp(text, "--", 2) != 0) {
		if (c == ':')
			coordctl_usage_error(ctl, "option '-%c' needs a value", optopt);
		else
			coordctl_usage_error(ctl, "unknown option '-%c'", optopt);
	} else if (c == ':') {
		coordctl_usage_error(ctl, "option '%.*s' needs a value", (int)len, text);
	} else if (optopt && text[len] == '=') {
		coordctl_usage_error(ctl, "option '%.*s' takes no value", (int)len, text);
	} else {
		coordctl_usage_error(ctl, "unknown option '%.*s'", (int)len, text);
	}
	return COORDCTL_OPT_BAD;
}

int coordctl_getopt(struct coordctl *ctl, int argc, char **argv, const char *shortopts,
		    const struct option *opts)
{
	const char *text;
	size_t len;
	int idx = -1, c;

	opterr = 0;
	optopt = 0;
	c = getopt_long(argc, argv, shortopts, opts, &idx);
	if (c == -1)
		return -1;
	if (c == '?' || c == ':')
		return getopt_refused(ctl, argv, c);
	if (idx < 0) {
		snprintf(ctl->optname, sizeof(ctl->optname), "-%c", c);
		return c;
	}
	/* getopt_long takes "--ti" for "--timeout": a guess we do not make. */
	text = getopt_long_text(argv, &opts[idx]);
	len = strcspn(text, "=");
	if (strncmp(text, "--", 2) != 0 || len - 2 != strlen(opts[idx].name) ||
	    strncmp(text + 2, opts[idx].name, len - 2) != 0) {
		coordctl_usage_error(ctl, "unknown option '%.*s' (did you mean '--%s'?)", (int)len,
				     text, opts[idx].name);
		return COORDCTL_OPT_BAD;
	}
	snprintf(ctl->optname, sizeof(ctl->optname), "--%s", opts[idx].name);
	return c;
}
