/*
 * coordctl-web: the executable behind "coordctl web", which coordctl execs
 * with the global options in force (see coordctl-web-launch.c). Its own
 * program, so that libevent's HTTP server is mapped only here.
 */
#include "coordctl.h"

int main(int argc, char **argv)
{
	struct coordctl ctl;

	coordctl_setup(&ctl);
	ctl.entry = &coordctl_web_entry;
	return coordctl_finish(&ctl,
			       coordctl_web_entry.exec(&ctl, &coordctl_web_entry, argc, argv));
}
