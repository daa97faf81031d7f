/* proc.c - signal a process's descendants, walking /proc (proc.h) */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

struct entry {
	pid_t pid, ppid;
	int live;               /* not a zombie */
	int below;              /* root is among its ancestors */
};

/* pid, parent and state from /proc/PID/stat ("pid (comm) S ppid ..."; comm may hold ')') */
static int read_stat(int procfd, const char *name, struct entry *e)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "%s/stat", name);
	int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *close_paren = strrchr(buf, ')'), state;
	int ppid;
	if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	e->pid = (pid_t)atoi(buf);
	e->ppid = (pid_t)ppid;
	e->live = state != 'Z' && state != 'X';
	e->below = 0;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

int mg_proc_signal_descendants(pid_t root, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct entry *e = NULL;
	size_t n = 0, cap = 0;
	int count = 0, changed;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			struct entry *ne = realloc(e, (cap = cap ? 2 * cap : 512) * sizeof(*e));
			if (!ne) {
				free(e);
				closedir(d);
				return -1;
			}
			e = ne;
		}
		if (read_stat(dirfd(d), de->d_name, &e[n]) == 0)
			n++;
	}
	closedir(d);
	if (n)
		qsort(e, n, sizeof(*e), by_pid);
	/* below root: its children, then theirs, until nothing changes (depth passes) */
	do {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (e[i].below)
				continue;
			struct entry key = { .pid = e[i].ppid }, *parent;
			if (e[i].ppid == root ||
			    ((parent = bsearch(&key, e, n, sizeof(*e), by_pid)) && parent->below)) {
				e[i].below = 1;
				changed = 1;
			}
		}
	} while (changed);
	for (size_t i = 0; i < n; i++)
		if (e[i].below && e[i].live && e[i].pid != root && kill(e[i].pid, sig) == 0)
			count++;
	free(e);
	return count;
}
