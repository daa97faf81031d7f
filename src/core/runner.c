/* runner.c - run a command under the tracer, reap its process tree, enforce a timeout */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/error.h"
#include "../util/clock.h"
#include "../util/fs.h"
#include "../util/proc.h"
#include "capture.h"
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

static void child(const struct mg_spawn_opts *o, int errfd, pid_t shepherd, int outfd)
{
	char num[32];
	const char *old = getenv("LD_PRELOAD");
	char *pre = NULL;
	int e;

	/* the shepherd gone (killed itself): so is the command (docs/limits.md) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != shepherd)
		_exit(127);
	if (o->own_pgrp)
		setpgid(0, 0);
	/* captured: both to the one pipe, so the log keeps the order they were written in */
	if (outfd >= 0 && (dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)) {
		e = errno;
		if (write(errfd, &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
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
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&o->dfl, sig) == 1)
			signal(sig, SIG_DFL);
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
		if (n < 0 && r->root_pid > 0) /* no /proc: the group is what we can reach */
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

/*
 * The read end of the capture pipe drained into the log, at most `rounds`
 * reads (the loop must get back to its timeouts); closed at its end, when
 * every writer is gone.
 */
static void drain(int *rfd, struct mg_capture *cap, int rounds)
{
	char buf[65536];
	while (*rfd >= 0 && rounds-- > 0) {
		ssize_t got = read(*rfd, buf, sizeof(buf));
		if (got > 0) {
			mg_capture_add(cap, buf, (size_t)got);
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return;
		close(*rfd);                  /* end of file, or an error: no more to read */
		*rfd = -1;
	}
}

/*
 * Waits up to `wait` seconds for one of the blocked signals of `set`: its
 * number, or 0 / -1 when none came.  While the capture pipe is open the wait
 * is a poll on it and on the signalfd `sfd` (for the same set), the output
 * drained as it comes: the command never waits on a full pipe.
 */
static int next_signal(const sigset_t *set, int sfd, int *rfd, struct mg_capture *cap,
		       double wait)
{
	if (*rfd < 0 || sfd < 0) {
		struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		return sigtimedwait(set, NULL, &ts);
	}
	struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = *rfd, .events = POLLIN } };
	double ms = wait * 1000.0 + 1.0;
	if (poll(pfd, 2, ms > 60000.0 ? 60000 : (int)ms) <= 0)
		return 0;
	if (pfd[1].revents)
		drain(rfd, cap, 16);
	if (pfd[0].revents & POLLIN) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			return (int)si.ssi_signo;
	}
	return 0;
}

/*
 * The shepherd's work: the command started as its child, its whole tree
 * reaped (the shepherd is their subreaper), the timeout and the grace.
 * SIGTERM, which the shepherd gets when whoever started it dies, ends the
 * tree even when that process ignores SIGTERM: blocked, it is queued.
 */
static int shepherd_run(struct mg_spawn_result *res, const struct mg_spawn_opts *o,
			struct mg_error *err)
{
	int pipefd[2], out[2] = { -1, -1 }, sfd = -1, e = 0;
	sigset_t chld, old;
	double start = now_s(), root_end = 0;
	int root_done = 0;
	struct mg_capture cap;

	memset(res, 0, sizeof(*res));
	mg_capture_init(&cap, o->log_fd);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	fatal_signals(&chld);
	sigaddset(&chld, SIGTERM);
	sigprocmask(SIG_BLOCK, &chld, &old);
	/* captured output: a pipe (as ctest's), read here; a signalfd to wait on both */
	if (o->log_fd > 2 && (pipe2(out, O_CLOEXEC) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
			      (sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0))
		return mg_error_set(err, MG_ERROR, "cannot capture the output: %s", strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return mg_error_set(err, MG_ERROR, "cannot create a pipe: %s", strerror(errno));

	pid_t self = getpid(), pid = fork();
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
		child(o, pipefd[1], self, out[1]);
	}
	close(pipefd[1]);
	if (out[1] >= 0)
		close(out[1]);                /* EOF once the whole tree has closed it */
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
		int sig = next_signal(&chld, sfd, &out[0], &cap, deadline - t);
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
	if (o->log_fd <= 2)
		return MG_OK;
	/* the tree is gone: what is left in the pipe, without waiting for a writer
	 * that escaped it (a descriptor passed to another process): 256 MiB at most */
	drain(&out[0], &cap, 4096);
	if (out[0] >= 0)
		close(out[0]);
	close(sfd);
	res->output_bytes = cap.bytes;
	res->output_cut = mg_capture_cut(&cap);
	if (mg_capture_finish(&cap) < 0)
		return mg_error_set(err, MG_ERROR, "cannot write the test's output log: %s",
				    strerror(errno));
	return MG_OK;
}

/* what the shepherd sends back: this, then n_reaped struct mg_reaped */
struct wire {
	int ret;
	struct mg_error err;
	int root_pid, root_status, timed_out, leftover;
	double duration_ms;
	uint64_t output_bytes, output_cut;
	size_t n_reaped;
};

/* the shepherd: runs the command, tells the result on fd, never returns */
static void shepherd(const struct mg_spawn_opts *o, int fd, pid_t parent, const sigset_t *mask)
{
	struct mg_spawn_result r;
	struct wire w;

	/* whoever started us gone, even by SIGKILL: we end the tree (shepherd_run) */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(3);
	sigprocmask(SIG_SETMASK, mask, NULL);
	memset(&w, 0, sizeof(w));
	w.ret = shepherd_run(&r, o, &w.err);
	if (w.ret == MG_OK) {
		w.root_pid = r.root_pid;
		w.root_status = r.root_status;
		w.timed_out = r.timed_out;
		w.leftover = r.leftover;
		w.duration_ms = r.duration_ms;
		w.output_bytes = r.output_bytes;
		w.output_cut = r.output_cut;
		w.n_reaped = r.n_reaped;
	}
	_exit(mg_write_all(fd, (const char *)&w, sizeof(w)) < 0 ||
	      mg_write_all(fd, (const char *)r.reaped, w.n_reaped * sizeof(*r.reaped)) < 0 ? 3 : 0);
}

static int read_all(int fd, void *p, size_t n)
{
	for (char *c = p; n;) {
		ssize_t got = read(fd, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/*
 * The shepherd's pipe read to its end, while waiting for the signals that
 * end memgate on sfd: one of those is passed on to the shepherd, which ends
 * the tree and dies of it; then so do we.
 */
static int receive(struct wire *w, struct mg_reaped **reaped, int fd, int sfd, pid_t pid)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	for (;;) {
		if (poll(pfd, sfd < 0 ? 1 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				int sig = (int)si.ssi_signo;
				kill(pid, sig);
				while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
					;
				signal(sig, SIG_DFL);
				sigset_t one;
				sigemptyset(&one);
				sigaddset(&one, sig);
				raise(sig);
				sigprocmask(SIG_UNBLOCK, &one, NULL);
				_exit(128 + sig);
			}
		}
		if (pfd[0].revents)
			break;
	}
	if (read_all(fd, w, sizeof(*w)) < 0)
		return -1;
	if (!w->n_reaped)
		return 0;
	if (w->n_reaped > SIZE_MAX / sizeof(**reaped) ||
	    !(*reaped = malloc(w->n_reaped * sizeof(**reaped))))
		return -1;
	return read_all(fd, *reaped, w->n_reaped * sizeof(**reaped));
}

/*
 * The command is run by a shepherd, a child of ours that is the subreaper of
 * its tree and dies with us, even when we are killed with SIGKILL, ending
 * the tree first (prctl's parent-death signal; docs/limits.md).  We are a
 * subreaper too: should the shepherd itself be killed, its orphans come to
 * us and are ended here.
 */
int mg_spawn_traced(struct mg_spawn_result *res, const struct mg_spawn_opts *o,
		    struct mg_error *err)
{
	int fds[2], sfd, st = 0;
	sigset_t fatal, old;
	struct wire w;
	struct mg_reaped *reaped = NULL;
	pid_t self = getpid(), pid;

	memset(res, 0, sizeof(*res));
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mg_error_set(err, MG_ERROR, "cannot create a pipe: %s", strerror(errno));
	sigemptyset(&fatal);
	fatal_signals(&fatal);
	sigprocmask(SIG_BLOCK, &fatal, &old);
	sfd = signalfd(-1, &fatal, SFD_CLOEXEC);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		if (sfd >= 0)
			close(sfd);
		shepherd(o, fds[1], self, &old);
	}
	int e = errno;
	close(fds[1]);
	int got = pid < 0 ? -1 : receive(&w, &reaped, fds[0], sfd, pid);
	close(fds[0]);
	if (sfd >= 0)
		close(sfd);
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return mg_error_set(err, MG_ERROR, "cannot fork: %s", strerror(e));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (got < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		/* the shepherd died: its orphans are ours now */
		struct mg_spawn_result dead = { 0 };
		int done = 0;
		double end = 0;
		end_tree(&dead, &done, &end);
		free(dead.reaped);
		free(reaped);
		return mg_error_set(err, MG_ERROR, "the process that ran '%s' died (%s %d)",
				    o->argv[0], WIFSIGNALED(st) ? "signal" : "exit status",
				    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	if (w.ret != MG_OK) {
		free(reaped);
		if (err)
			*err = w.err;
		return w.ret;
	}
	res->root_pid = w.root_pid;
	res->root_status = w.root_status;
	res->timed_out = w.timed_out;
	res->leftover = w.leftover;
	res->duration_ms = w.duration_ms;
	res->output_bytes = w.output_bytes;
	res->output_cut = w.output_cut;
	res->reaped = reaped;
	res->n_reaped = w.n_reaped;
	return MG_OK;
}

void mg_spawn_result_release(struct mg_spawn_result *res)
{
	free(res->reaped);
	res->reaped = NULL;
	res->n_reaped = 0;
}
