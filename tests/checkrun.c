/* Runs a Check suite; nothing is kept. */
#include <signal.h>
#include <stdlib.h>

#include "checkrun.h"

int checkrun(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
