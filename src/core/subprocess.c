/* subprocess.c - run a helper program and capture its output, under a time limit (subprocess.h) */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/clock.h"
#include "subprocess.h"

static long long now_ms(void)
{
	return (long long)(mg_monotonic_ns() / 1000000);
}

int mg_run_capture(char **out, size_t *outlen, char *errbuf, size_t errsize, int *status,
		   const char *dir, char *const argv[], size_t max_out, long long timeout_ms,
		   const char **why)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, ret = -1, i;
	size_t len = 0, cap = 0, elen = 0;
	char *buf = NULL;
	pid_t pid = -1;
	long long deadline = now_ms() + timeout_ms;
	struct pollfd fds[2];

	*why = "cannot start it";
	errbuf[0] = '\0';
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		goto done;
	pid = fork();
	if (pid < 0)
		goto done;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (chdir(dir) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	fds[0].fd = po[0];
	fds[1].fd = pe[0];
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		long long left = deadline - now_ms();
		int r;
		if (left <= 0) {
			/* the ctest listing's 120 s, or a cargo build's hour */
			*why = timeout_ms >= 3600000 ? "it did not finish within an hour" :
							"it did not finish within 120 s";
			goto done;
		}
		fds[0].events = fds[1].events = POLLIN;
		r = poll(fds, 2, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = "poll failed";
			goto done;
		}
		for (i = 0; i < 2; i++) {
			char tmp[65536];
			ssize_t n;
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			n = read(fds[i].fd, tmp, sizeof(tmp));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				fds[i].fd = -1;   /* closed below, through po/pe */
				continue;
			}
			if (i == 1) {
				size_t k = (size_t)n < errsize - 1 - elen ? (size_t)n : errsize - 1 - elen;
				memcpy(errbuf + elen, tmp, k);
				elen += k;
				errbuf[elen] = '\0';
				continue;
			}
			if (len + (size_t)n > max_out) {
				*why = "its output exceeds 64 MiB";
				goto done;
			}
			if (len + (size_t)n + 1 > cap) {
				size_t ncap = cap ? cap : 65536;
				char *nb;
				while (ncap < len + (size_t)n + 1)
					ncap *= 2;
				if (!(nb = realloc(buf, ncap))) {
					*why = "out of memory";
					goto done;
				}
				buf = nb;
				cap = ncap;
			}
			memcpy(buf + len, tmp, (size_t)n);
			len += (size_t)n;
		}
	}
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!buf && !(buf = malloc(1))) {
		*why = "out of memory";
		goto done;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	ret = 0;
done:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	}
	for (i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(buf);
	return ret;
}
