/* pool.h - measure configured tests, several at once, each in a worker process
 *
 * Each test runs under the tracer (measure.h) in one of `jobs` worker
 * processes, which measure one test after another: a worker is the child
 * subreaper of its test's process tree, so several tests can run at once
 * without reaping each other's children, and keeps its symbolizer from one
 * test to the next.  A worker that dies fails only the test it measured.  A
 * test is measured `repeat` times into one profile, written atomically to
 * <outdir>/<test>.json (the caller's `written` adds its page); what it
 * prints goes to <outdir>/<test>.log (`capture`).  Prints
 * nothing: each ending test is reported through a callback.  Not
 * thread-safe; SIGPIPE is ignored while it runs.
 */
#ifndef MEMGATE_CORE_POOL_H
#define MEMGATE_CORE_POOL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct mg_config;
struct mg_error;
struct mg_test;

enum mg_pool_outcome {
	MG_POOL_MEASURED,           /* a profile was written, the test ended as allowed */
	MG_POOL_CRASHED,            /* measured, but it crashed or timed out without allow-crash */
	MG_POOL_UNTRACED,           /* measured, but programs it started ran untraced
				     * without allow-untraced: `error` names them */
	MG_POOL_FAILED              /* not measured: `error` says why */
};

/* how one test went, as its worker tells it */
struct mg_pool_result {
	const struct mg_test *test;
	enum mg_pool_outcome outcome;
	double allocs, total_bytes, peak_bytes, leaked_bytes;   /* when measured; leaked: the program's own */
	char end[64];               /* "exit 0", "signal 11", "timed out", ", 3 runs" appended */
	int passed;                 /* the program exited 0 in every run */
	uint64_t output_bytes;      /* captured: what it printed (<outdir>/<test>.log) */
	uint64_t output_cut;        /* of which this many bytes are not in the log */
	char error[512];            /* when failed */
};

struct mg_pool_opts {
	const char *outdir;         /* created when missing */
	unsigned jobs;              /* tests at once; 0 counts as 1 */
	/* each test's stdout and stderr (its whole tree's) into <outdir>/<test>.log,
	 * bounded (capture.h), removed when it printed nothing; 0: inherited, as
	 * `memgate trace` does, and a stale log removed */
	int capture;
	const char *commit;         /* the commit the tests were built from; NULL unknown */
	int dirty;
	/* called in the worker once the profile is written (its page, say); an
	 * error fails the test */
	int (*written)(const struct mg_test *test, const char *outdir, const cJSON *profile,
		       void *payload, struct mg_error *err);
	/* called in the calling process as each test ends */
	void (*done)(const struct mg_pool_result *r, void *payload);
	/* when set, called about every 100 ms while tests run */
	void (*tick)(size_t done, size_t total, const struct mg_test *const *running,
		     size_t n_running, void *payload);
	void *payload;
};

/* <outdir>/<test>.log, where a test's output is captured: n bytes at most in buf */
void mg_pool_log_path(char *buf, size_t n, const char *outdir, const struct mg_test *test);

struct mg_pool_counts {
	size_t measured, failed, crashed, untraced;
};

/*
 * Measures `tests` (n of them, entries of cfg->tests).  MG_OK with the
 * counts when every test was started (some may have failed: see counts);
 * MG_ERROR when outdir cannot be created or out of memory.
 */
int mg_pool_measure(struct mg_pool_counts *counts, const struct mg_config *cfg,
		    const struct mg_test *const *tests, size_t n, const struct mg_pool_opts *o,
		    struct mg_error *err);

#endif
