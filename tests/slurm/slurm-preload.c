/*
 * A library a task names in LD_PRELOAD, as a hostile submitter would. In a
 * process called sbatch it leaves a mark (SLURM_PRELOAD_MARKER) and, with
 * SLURM_PRELOAD_FAKE_ID, prints that job id as sbatch --parsable would and
 * exits without submitting anything. Anywhere else it does nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void slurm_preload_init(void)
{
	const char *marker = getenv("SLURM_PRELOAD_MARKER");
	const char *fake = getenv("SLURM_PRELOAD_FAKE_ID");
	char comm[64] = "";
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0 || strncmp(comm, "sbatch\n", 7) != 0)
		return;
	if (marker) {
		fd = open(marker, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (write(fd, "sbatch\n", 7) < 0)
				perror(marker);
			close(fd);
		}
	}
	if (fake) {
		printf("%s\n", fake);
		fflush(stdout);
		_exit(0);
	}
}
