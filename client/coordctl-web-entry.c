/*
 * coordctl web's entry, the same in coordctl (which execs coordctl-web) and in
 * coordctl-web (which serves): see coordctl_web_exec in coordctl.h.
 */
#include "coordctl.h"

const struct coordctl_entry coordctl_web_entry = {
	.name = "web",
	.usage = "[--listen ADDRESS:PORT] [--token-file FILE]",
	.summary = "Serve a read-only web view of the queue on a loopback address.",
	.help = "  --listen ADDRESS:PORT  where to listen (default 127.0.0.1:0, any free port);\n"
		"                         loopback addresses only\n"
		"  --token-file FILE      take the token from FILE (its first line), or create\n"
		"                         FILE (mode 0600) with a new one; default: a new\n"
		"                         token each time\n",
	.exec = coordctl_web_exec,
};
