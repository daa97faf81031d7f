/* measure - run a command, report its wall time and resource usage.
 *
 *   measure RESULT_FILE TIMEOUT_S CMD [ARG...]
 *
 * Forks, execs CMD in its own process group (stdin/stdout/stderr inherited),
 * waits with wait4() and writes one line to RESULT_FILE:
 *   wall_s maxrss_kib user_s sys_s exit_code timed_out
 * exit_code is the exit status, or 128+signal.  After TIMEOUT_S seconds the
 * whole process group gets SIGKILL.
 *
 * Why not subprocess + wait4 in Python: ru_maxrss is the high-water mark of
 * the child across exec, so the fork copy of a 50 MB Python driver would be
 * reported as the program's RSS.  This wrapper is linked statically and is
 * tiny, so the floor it adds to ru_maxrss is a few hundred KiB.
 * Built by run.sh (not a microbenchmark: it lives in bench/tools/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(-child, SIGKILL);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: measure RESULT_FILE TIMEOUT_S CMD [ARG...]\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	unsigned timeout = (unsigned)atoi(argv[2]);
	double t0 = now();
	child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		setpgid(0, 0);
		execvp(argv[3], argv + 3);
		fprintf(stderr, "measure: cannot run %s\n", argv[3]);
		_exit(127);
	}
	setpgid(child, child);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	if (timeout)
		alarm(timeout);
	int status;
	struct rusage ru;
	while (wait4(child, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("wait4");
			return 2;
		}
	double wall = now() - t0;
	alarm(0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(out, "%.6f %ld %.6f %.6f %d %d\n", wall, ru.ru_maxrss,
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6,
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6, code, (int)timed_out);
	fclose(out);
	return 0;
}
