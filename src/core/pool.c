/* pool.c - measure configured tests, several at once, each in a worker process (pool.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util/error.h"
#include "../util/fs.h"
#include "config.h"
#include "measure.h"
#include "pool.h"
#include "profile.h"
#include "suppress.h"

/* what a worker sends back: one write, under PIPE_BUF, so rows never interleave */
struct wire {
	enum mg_pool_outcome outcome;
	double allocs, total_bytes, peak_bytes, leaked_bytes;
	char end[64];
	int passed;
	uint64_t output_bytes, output_cut;
	char error[512];
};
_Static_assert(sizeof(struct wire) <= 4096, "a worker's result fits one pipe write");

void mg_pool_log_path(char *buf, size_t n, const char *outdir, const struct mg_test *test)
{
	snprintf(buf, n, "%s/%s.log", outdir, test->name);
}

/* the log of a test's output, truncated (pool.h, `capture`): a descriptor
 * above 2 (0 means inherited), or -1 */
static int open_log(const char *path, struct mg_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && fd <= 2) {             /* memgate started with a standard fd closed */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		fd = high;
	}
	if (fd < 0)
		mg_error_set(err, MG_ERROR, "cannot create '%s': %s", path, strerror(errno));
	return fd;
}

/* One test, in a worker process: measured `repeat` times into one profile. */
static void run_one(struct wire *w, const struct mg_config *cfg, const struct mg_test *test,
		    const struct mg_pool_opts *o, struct mg_symbolizer *sym)
{
	struct mg_settings s;
	struct mg_error err = { 0 };
	char path[4096], log[4096];
	cJSON **docs = NULL, *doc = NULL;
	unsigned n = 0;
	int log_fd = -1;

	w->outcome = MG_POOL_FAILED;
	mg_config_effective(&s, cfg, test);
	struct mg_measure_opts mo = {
		.argv = test->argv, .name = test->name, .cwd = test->cwd, .env = test->env,
		.depth = (int)s.stack_depth, .unwind_fp = s.unwind_fp,
		.timeout_s = (double)s.timeout_ms / 1000.0,
		.grace_s = 10, .own_pgrp = 1, .commit = o->commit, .dirty = o->dirty,
		.root_only = !s.follow_children,
	};
	snprintf(path, sizeof(path), "%s/%s.json", o->outdir, test->name);
	mg_pool_log_path(log, sizeof(log), o->outdir, test);
	w->passed = 1;
	if (o->capture) {
		if ((log_fd = open_log(log, &err)) < 0)
			goto fail;
		mo.log_fd = log_fd;
	} else if (unlink(log) < 0 && errno != ENOENT) {
		mg_error_set(&err, MG_ERROR, "cannot remove the stale log '%s': %s", log,
			     strerror(errno));
		goto fail;
	}
	if (!(docs = calloc(s.repeat, sizeof(*docs)))) {
		mg_error_set(&err, MG_ERROR, "out of memory");
		goto fail;
	}
	mo.sym = sym;
	for (n = 0; n < s.repeat; n++) {
		struct mg_measurement m;
		char head[64];
		if (log_fd >= 0 && n > 0) {   /* runs after the first told apart in the log */
			int len = snprintf(head, sizeof(head), "[memgate: run %u of %u]\n", n + 1,
					   s.repeat);
			mg_write_all(log_fd, head, (size_t)len);
		}
		int r = mg_measure(&m, &mo, &err);
		w->output_bytes += m.sr.output_bytes;   /* what it printed, measured or not */
		w->output_cut += m.sr.output_cut;
		if (r != MG_OK) {
			w->passed = 0;
			mg_measurement_release(&m);
			goto fail;
		}
		if (m.sr.timed_out || !WIFEXITED(m.sr.root_status) || WEXITSTATUS(m.sr.root_status))
			w->passed = 0;
		docs[n] = m.doc;               /* kept; the rest of the measurement goes */
		m.doc = NULL;
		mg_measurement_release(&m);
	}
	if (!(doc = n == 1 ? docs[0] : mg_profile_combine(docs, n))) {
		mg_error_set(&err, MG_ERROR, "out of memory");
		goto fail;
	}
	if (mg_profile_write(path, doc, &err) != MG_OK ||
	    (o->written && o->written(test, o->outdir, doc, o->payload, &err) != MG_OK))
		goto fail;
	const cJSON *sum = cJSON_GetObjectItem(doc, "summary");
	const cJSON *ex = cJSON_GetObjectItem(doc, "exit");
	const cJSON *sig = cJSON_GetObjectItem(ex, "signal"), *code = cJSON_GetObjectItem(ex, "code");
	int timed_out = cJSON_IsTrue(cJSON_GetObjectItem(ex, "timed_out"));
	if (timed_out)
		snprintf(w->end, sizeof(w->end), "timed out");
	else if (cJSON_IsNumber(sig))
		snprintf(w->end, sizeof(w->end), "signal %d", sig->valueint);
	else
		snprintf(w->end, sizeof(w->end), "exit %d", cJSON_IsNumber(code) ? code->valueint : -1);
	if (n > 1)
		snprintf(w->end + strlen(w->end), sizeof(w->end) - strlen(w->end), ", %u runs", n);
	w->allocs = cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "allocs"));
	w->total_bytes = cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "total_bytes"));
	w->peak_bytes = cJSON_GetNumberValue(cJSON_GetObjectItem(sum, "peak_bytes"));
	/* leaked: the program's own, without the runtime's blocks (docs/profile-schema.md) */
	uint64_t leaked = 0;
	mg_gated_figure(&leaked, doc, "leaked_bytes");
	w->leaked_bytes = (double)leaked;
	w->outcome = (timed_out || cJSON_IsNumber(sig)) && !s.allow_crash ? MG_POOL_CRASHED
									  : MG_POOL_MEASURED;
	const cJSON *untraced = cJSON_GetObjectItem(doc, "untraced");
	int n_untraced = cJSON_GetArraySize(untraced);
	if (n_untraced && !s.allow_untraced && w->outcome == MG_POOL_MEASURED) {
		w->outcome = MG_POOL_UNTRACED;
		snprintf(w->error, sizeof(w->error), "%d program%s ran untraced (%s%s): the figures "
			 "leave %s out (allow-untraced: true if that is expected)", n_untraced,
			 n_untraced == 1 ? "" : "s",
			 cJSON_GetStringValue(cJSON_GetArrayItem(untraced, 0)),
			 n_untraced > 1 ? ", ..." : "", n_untraced == 1 ? "it" : "them");
	}
	goto out;
fail:
	snprintf(w->error, sizeof(w->error), "%s", err.msg);
out:
	if (log_fd >= 0) {
		close(log_fd);
		if (!w->output_bytes)
			unlink(log);          /* printed nothing: no log */
	}
	if (doc && (n != 1 || doc != docs[0]))
		cJSON_Delete(doc);
	for (unsigned k = 0; docs && k < n; k++)
		cJSON_Delete(docs[k]);
	free(docs);
}

/*
 * Workers.  Each is a process of its own that measures one test after
 * another: a test's index comes on its `cmd` pipe, the result goes back on
 * its `row` pipe, and the end of `cmd` ends it.  A worker keeps its
 * symbolizer from one test to the next, so the cases of one test binary (a
 * cargo or GoogleTest suite: hundreds of tests, one binary) have its
 * debugging information indexed once per worker instead of once per case,
 * most of what a case cost after its run (bench/README.md, "Session 11:
 * many tests of one binary").  A worker that dies fails the test it was
 * measuring, and the next test gets a new one.
 */
#define WORKER_MODULES 64            /* past these, a worker's symbolizer starts afresh */

struct worker {
	pid_t pid;
	int cmd, row;                 /* our ends: the tests to measure, their results */
	const struct mg_test *test;   /* measuring it; NULL: idle */
};

/* in the worker: measures the tests it is sent until its cmd pipe ends */
static void serve(int cmd, int row, const struct mg_config *cfg,
		  const struct mg_test *const *tests, size_t n, const struct mg_pool_opts *o)
{
	struct mg_symbolizer *sym = NULL;
	struct mg_error err = { 0 };
	size_t k;
	ssize_t got;

	for (;;) {
		while ((got = read(cmd, &k, sizeof(k))) < 0 && errno == EINTR)
			;
		if (got != (ssize_t)sizeof(k) || k >= n)
			break;
		struct wire w;
		memset(&w, 0, sizeof(w));
		if (sym)
			mg_symbolizer_recycle(sym, WORKER_MODULES);
		else if (mg_symbolizer_new(&sym, &err) != MG_OK)
			snprintf(w.error, sizeof(w.error), "%s", err.msg);
		if (sym)
			run_one(&w, cfg, tests[k], o, sym);
		else
			w.outcome = MG_POOL_FAILED;
		if (write(row, &w, sizeof(w)) != (ssize_t)sizeof(w))
			_exit(3);
	}
	mg_symbolizer_free(sym);
	_exit(0);
}

/* starts a worker into *wk (idle); -1 with errno when it cannot */
static int start(struct worker *wk, const struct worker *all, size_t n_all,
		 const struct mg_config *cfg, const struct mg_test *const *tests, size_t n,
		 const struct mg_pool_opts *o)
{
	int cmd[2], row[2];
	pid_t parent = getpid();

	fflush(NULL);
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(row, O_CLOEXEC) < 0) {
		int e = errno;
		close(cmd[0]);
		close(cmd[1]);
		errno = e;
		return -1;
	}
	if ((wk->pid = fork()) == 0) {
		/* the other workers' pipes: held here, their ends would never come */
		for (size_t i = 0; i < n_all; i++)
			if (all[i].pid > 0 && &all[i] != wk) {
				close(all[i].cmd);
				close(all[i].row);
			}
		close(cmd[1]);
		close(row[0]);
		/* memgate gone (killed): the worker ends its test's tree (runner.c) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(3);
		serve(cmd[0], row[1], cfg, tests, n, o);
	}
	int e = errno;
	close(cmd[0]);
	close(row[1]);
	if (wk->pid < 0) {
		close(cmd[1]);
		close(row[0]);
		errno = e;
		return -1;
	}
	wk->cmd = cmd[1];
	wk->row = row[0];
	wk->test = NULL;
	return 0;
}

/* the worker's end: its pipes closed, the process reaped; its status */
static int stop(struct worker *wk)
{
	int st = 0;
	close(wk->cmd);
	close(wk->row);
	while (waitpid(wk->pid, &st, 0) < 0 && errno == EINTR)
		;
	wk->pid = -1;
	return st;
}

/* the result of wk's test, into *r; 0, or -1 when the worker died (stopped) */
static int collect(struct mg_pool_result *r, struct worker *wk)
{
	struct wire w;
	ssize_t got;

	r->test = wk->test;
	wk->test = NULL;
	while ((got = read(wk->row, &w, sizeof(w))) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(w)) {
		r->outcome = w.outcome;
		r->allocs = w.allocs;
		r->total_bytes = w.total_bytes;
		r->peak_bytes = w.peak_bytes;
		r->leaked_bytes = w.leaked_bytes;
		memcpy(r->end, w.end, sizeof(r->end));
		r->passed = w.passed;
		r->output_bytes = w.output_bytes;
		r->output_cut = w.output_cut;
		memcpy(r->error, w.error, sizeof(r->error));
		r->end[sizeof(r->end) - 1] = r->error[sizeof(r->error) - 1] = '\0';
		return 0;
	}
	int st = stop(wk);
	r->outcome = MG_POOL_FAILED;
	snprintf(r->error, sizeof(r->error), "the worker died (%s %d)",
		 WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return -1;
}

/* k sent to an idle worker, started if need be; -1 with errno when none can take it */
static int dispatch(struct worker *ws, size_t jobs, size_t k, const struct mg_config *cfg,
		    const struct mg_test *const *tests, size_t n, const struct mg_pool_opts *o)
{
	struct worker *wk = NULL;
	for (size_t i = 0; i < jobs && !wk; i++)
		if (ws[i].pid > 0 && !ws[i].test)
			wk = &ws[i];
	for (size_t i = 0; i < jobs && !wk; i++)
		if (ws[i].pid <= 0) {
			if (start(&ws[i], ws, jobs, cfg, tests, n, o) < 0)
				return -1;
			wk = &ws[i];
		}
	if (!wk) {
		errno = EAGAIN;
		return -1;
	}
	/* a worker that died idle (killed) shows here: another one takes k */
	if (write(wk->cmd, &k, sizeof(k)) != (ssize_t)sizeof(k)) {
		int e = errno;
		stop(wk);
		errno = e;
		return dispatch(ws, jobs, k, cfg, tests, n, o);
	}
	wk->test = tests[k];
	return 0;
}

int mg_pool_measure(struct mg_pool_counts *counts, const struct mg_config *cfg,
		    const struct mg_test *const *tests, size_t n, const struct mg_pool_opts *o,
		    struct mg_error *err)
{
	size_t jobs = o->jobs ? o->jobs : 1;
	struct worker *ws = calloc(jobs, sizeof(*ws));
	const struct mg_test **running = calloc(jobs + 1, sizeof(*running));
	struct pollfd *pfd = calloc(jobs, sizeof(*pfd));
	size_t next = 0, busy = 0, done = 0;
	int ret = MG_OK;
	/* a worker killed between two tests must not kill us with SIGPIPE */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;

	memset(counts, 0, sizeof(*counts));
	if (!ws || !running || !pfd) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < jobs; i++)
		ws[i].pid = -1;
	if (mg_mkdirs(o->outdir) < 0) {
		ret = mg_error_set(err, MG_ERROR, "cannot create '%s': %s", o->outdir, strerror(errno));
		goto out;
	}
	mg_clean_stale_tmp(o->outdir, MG_TMP_STALE_S, NULL);  /* left by a run killed mid-write */
	sigaction(SIGPIPE, &ign, &old_pipe);
	while (next < n || busy) {
		if (next < n && busy < jobs) {
			if (dispatch(ws, jobs, next, cfg, tests, n, o) < 0) {
				struct mg_pool_result r = { .outcome = MG_POOL_FAILED };
				snprintf(r.error, sizeof(r.error), "cannot start a worker: %s",
					 strerror(errno));
				for (; next < n; next++, counts->failed++) {
					r.test = tests[next];
					if (o->done)
						o->done(&r, o->payload);
				}
				continue;             /* wait for those running */
			}
			next++;
			busy++;
			continue;
		}
		size_t n_pfd = 0, n_running = 0;
		for (size_t i = 0; i < jobs; i++)
			if (ws[i].pid > 0 && ws[i].test) {
				pfd[n_pfd++] = (struct pollfd){ .fd = ws[i].row, .events = POLLIN };
				running[n_running++] = ws[i].test;
			}
		int got = poll(pfd, n_pfd, o->tick ? 100 : -1);
		if (got == 0) {
			o->tick(done, n, running, n_running, o->payload);
			continue;
		}
		if (got < 0) {
			if (errno == EINTR)
				continue;
			ret = mg_error_set(err, MG_ERROR, "cannot wait for the workers: %s",
					   strerror(errno));
			break;
		}
		for (size_t i = 0; i < jobs; i++) {
			if (ws[i].pid <= 0 || !ws[i].test)
				continue;
			size_t p;
			for (p = 0; p < n_pfd && pfd[p].fd != ws[i].row; p++)
				;
			if (p == n_pfd || !pfd[p].revents)
				continue;
			struct mg_pool_result r = { 0 };
			collect(&r, &ws[i]);
			busy--;
			done++;
			if (r.outcome == MG_POOL_FAILED)
				counts->failed++;
			else if (r.outcome == MG_POOL_CRASHED)
				counts->crashed++;
			else if (r.outcome == MG_POOL_UNTRACED)
				counts->untraced++;
			else
				counts->measured++;
			if (o->done)
				o->done(&r, o->payload);
		}
	}
	sigaction(SIGPIPE, &old_pipe, NULL);
out:
	for (size_t i = 0; ws && i < jobs; i++)
		if (ws[i].pid > 0)
			stop(&ws[i]);
	free(ws);
	free(running);
	free(pfd);
	return ret;
}
