/* runner.c - run a command under the tracer, reap its process tree, enforce a timeout */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/error.h"
#include "../util/clock.h"
#include "../util/fs.h"
#include "../util/proc.h"
#include "runner.h"

static double now_s(void)
{
	return (double)mg_monotonic_ns() / 1e9;
}

static char *search_path(const char *cmd)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = (int)(end - path);
		snprintf(buf, sizeof(buf), "%.*s/%s", n ? n : 1, n ? path : ".", cmd);
		struct stat st;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return strdup(buf);
		path = *end ? end + 1 : end;
	}
	return NULL;
}

/* Why an executable cannot be traced, or NULL. */
static int check_file(const char *path, const char *shown, int depth, struct mg_error *err)
{
	struct stat st;
	unsigned char head[256];
	int fd;
	ssize_t n;

	if (stat(path, &st) < 0)
		return mg_error_set(err, MG_ENOTFOUND, "cannot run '%s': %s", shown, strerror(errno));
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return mg_error_set(err, MG_ENOTFOUND, "cannot run '%s': not an executable file",
				    shown);
	if (st.st_mode & (S_ISUID | S_ISGID))
		return mg_error_set(err, MG_EUNTRACEABLE,
				    "cannot trace '%s': it is setuid/setgid, and the loader ignores "
				    "LD_PRELOAD for such programs", shown);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_error_set(err, MG_ENOTFOUND, "cannot read '%s': %s", shown, strerror(errno));
	n = read(fd, head, sizeof(head) - 1);
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		close(fd);
		head[n] = '\0';
		char *p = (char *)head + 2, *end;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, " \t\n");
		*end = '\0';
		if (depth > 4 || !*p)
			return MG_OK;         /* let the kernel judge odd scripts */
		return check_file(p, p, depth + 1, err);
	}
	if (n < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(head, ELFMAG, SELFMAG)) {
		close(fd);
		return MG_OK;                 /* not ELF: the kernel may know it (binfmt_misc) */
	}
	const Elf64_Ehdr *eh = (const void *)head;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64) {
		close(fd);
		return mg_error_set(err, MG_EUNTRACEABLE,
				    "cannot trace '%s': it is a 32-bit program and memgate's tracer "
				    "is 64-bit", shown);
	}
	int interp = 0;
	for (unsigned i = 0; i < eh->e_phnum && !interp; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + i * (uint64_t)eh->e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			break;
		interp = ph.p_type == PT_INTERP;
	}
	close(fd);
	if (!interp)
		return mg_error_set(err, MG_EUNTRACEABLE,
				    "cannot trace '%s': it is statically linked, so LD_PRELOAD has "
				    "no effect (link it dynamically)", shown);
	return MG_OK;
}

int mg_check_traceable(char **path, const char *cmd, struct mg_error *err)
{
	char *p = strchr(cmd, '/') ? strdup(cmd) : search_path(cmd);
	int ret;
	if (!p)
		return mg_error_set(err, MG_ENOTFOUND, "cannot run '%s': command not found", cmd);
	ret = check_file(p, cmd, 0, err);
	if (ret != MG_OK) {
		free(p);
		return ret;
	}
	*path = p;
	return MG_OK;
}

int mg_find_preload(char **out, struct mg_error *err)
{
	const char *env = getenv("MEMGATE_PRELOAD");
	char self[PATH_MAX], buf[PATH_MAX + 64];
	ssize_t n;

	if (env && *env) {
		if (access(env, R_OK) < 0)
			return mg_error_set(err, MG_ERROR, "cannot use MEMGATE_PRELOAD '%s': %s", env,
					    strerror(errno));
		return (*out = strdup(env)) ? MG_OK : MG_ERROR;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return mg_error_set(err, MG_ERROR, "cannot find memgate's own path: %s",
				    strerror(errno));
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	static const char *const rel[] = { "/libmemgate.so", "/../lib/memgate/libmemgate.so",
					   "/../lib64/memgate/libmemgate.so" };
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", self, rel[i]);
		char *real = realpath(buf, NULL);
		if (real) {
			if (strpbrk(real, " :")) {
				mg_error_set(err, MG_ERROR, "cannot preload '%s': LD_PRELOAD paths "
					     "must not contain spaces or colons", real);
				free(real);
				return MG_ERROR;
			}
			*out = real;
			return MG_OK;
		}
	}
	return mg_error_set(err, MG_ERROR, "cannot find libmemgate.so beside '%s' or in "
			    "'%s/../lib/memgate' (set MEMGATE_PRELOAD)", self, self);
}

static void child(const struct mg_spawn_opts *o, int errfd)
{
	char num[32];
	const char *old = getenv("LD_PRELOAD");
	char *pre = NULL;
	int e;

	if (o->own_pgrp)
		setpgid(0, 0);
	/* ours first: interposition goes to the first definition */
	if (old && *old) {
		if (asprintf(&pre, "%s:%s", o->preload, old) < 0)
			_exit(127);
	}
	setenv("LD_PRELOAD", pre ? pre : o->preload, 1);
	setenv("MEMGATE_DIR", o->trace_dir, 1);
	if (o->depth >= 0) {
		snprintf(num, sizeof(num), "%d", o->depth);
		setenv("MEMGATE_DEPTH", num, 1);
	}
	if (o->unwind_fp)
		setenv("MEMGATE_UNWIND", "fp", 1);
	if (o->root_only) {
		snprintf(num, sizeof(num), "%d", (int)getpid());
		setenv("MEMGATE_ROOT", num, 1);
	}
	for (char *const *kv = o->env; kv && *kv; kv++)
		putenv(*kv);
	if (o->cwd && chdir(o->cwd) < 0) {
		e = errno;
		if (write(errfd, &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	signal(SIGPIPE, SIG_DFL);
	execv(o->path, o->argv);
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int add_reaped(struct mg_spawn_result *r, int pid, int status)
{
	struct mg_reaped *n = realloc(r->reaped, (r->n_reaped + 1) * sizeof(*n));
	if (!n)
		return -1;
	r->reaped = n;
	n[r->n_reaped].pid = pid;
	n[r->n_reaped].status = status;
	r->n_reaped++;
	return 0;
}

/* reaps what has ended, without waiting; -1 with errno ECHILD once nothing is left */
static int reap(struct mg_spawn_result *r, int *root_done, double *root_end)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (add_reaped(r, p, st) < 0)
			return -1;
		if (p == r->root_pid) {
			r->root_status = st;
			*root_done = 1;
			*root_end = now_s();
		}
	}
	return p;
}

/*
 * Ends the whole tree: every descendant, whatever its process group or
 * session (setsid() leaves the group the timeout used to kill, not our
 * tree: as a subreaper we inherit its orphans), killed and reaped, again
 * until none is left (one may fork while we look).  Bounded: a process stuck
 * in the kernel may outlive us.
 */
static void end_tree(struct mg_spawn_result *r, int *root_done, double *root_end)
{
	double until = now_s() + 5;
	while (now_s() < until) {
		int n = mg_proc_signal_descendants(getpid(), SIGKILL);
		if (n < 0)                    /* no /proc: the group is what we can reach */
			kill(-r->root_pid, SIGKILL);
		if (reap(r, root_done, root_end) < 0 && errno != EINTR)
			return;               /* ECHILD: all reaped */
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* the signals that end memgate (those it does not ignore): they end the tree first */
static void fatal_signals(sigset_t *set)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
			sigaddset(set, sigs[i]);
	}
}

int mg_spawn_traced(struct mg_spawn_result *res, const struct mg_spawn_opts *o,
		    struct mg_error *err)
{
	int pipefd[2], e = 0;
	sigset_t chld, old;
	double start = now_s(), root_end = 0;
	int root_done = 0;

	memset(res, 0, sizeof(*res));
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return mg_error_set(err, MG_ERROR, "cannot create a pipe: %s", strerror(errno));
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	fatal_signals(&chld);
	sigprocmask(SIG_BLOCK, &chld, &old);

	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return mg_error_set(err, MG_ERROR, "cannot fork: %s", strerror(e));
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(pipefd[0]);
		child(o, pipefd[1]);
	}
	close(pipefd[1]);
	res->root_pid = pid;
	if (o->own_pgrp)
		setpgid(pid, pid);            /* both sides: no race with the child's exec */
	ssize_t got = read(pipefd[0], &e, sizeof(e));
	close(pipefd[0]);
	if (got == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return mg_error_set(err, MG_ENOTFOUND, "cannot run '%s': %s", o->argv[0], strerror(e));
	}

	for (;;) {
		if (reap(res, &root_done, &root_end) < 0)
			break;                        /* ECHILD: the whole tree is gone (or OOM) */
		double t = now_s(), deadline;
		if (!root_done && o->timeout_s > 0 && t - start >= o->timeout_s && !res->timed_out) {
			res->timed_out = 1;
			end_tree(res, &root_done, &root_end);
			continue;
		}
		if (root_done) {
			deadline = root_end + o->grace_s;
			if (t >= deadline) {
				/* daemons: reported incomplete, and ended with memgate */
				res->leftover = 1;
				end_tree(res, &root_done, &root_end);
				break;
			}
		} else {
			deadline = o->timeout_s > 0 ? start + o->timeout_s : t + 3600;
		}
		double wait = deadline - t;
		struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		int sig = sigtimedwait(&chld, NULL, &ts);
		if (sig > 0 && sig != SIGCHLD) {
			/* memgate itself is told to stop: nothing it started outlives it */
			end_tree(res, &root_done, &root_end);
			mg_rmtree(o->trace_dir);
			signal(sig, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			raise(sig);
			_exit(128 + sig);
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	res->duration_ms = ((root_done ? root_end : now_s()) - start) * 1000.0;
	return MG_OK;
}

void mg_spawn_result_release(struct mg_spawn_result *res)
{
	free(res->reaped);
	res->reaped = NULL;
	res->n_reaped = 0;
}
