/* check.h - the gate: saved profiles against the baselines of a commit (docs/baselines.md, §6)
 *
 * For each selected test: its profile (from one of the --from directories),
 * its baseline in the tree of the base commit (read through libgit2, never
 * from the work tree), and the baseline accepted in this change if any (the
 * work tree's, else HEAD's, when it differs from the base's: that one is
 * gated, and the deltas against the base are kept too).  A regression only
 * in figures that vary from run to run is measured again through the
 * caller's callback before it stands.  The outcome is a typed result; one
 * writer turns it into the check-result document (docs/check-result.md).
 * Prints nothing; not thread-safe.
 */
#ifndef MEMGATE_CORE_CHECK_H
#define MEMGATE_CORE_CHECK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "compare.h"
#include "suppress.h"

struct mg_config;
struct mg_error;
struct mg_git;
struct mg_test;

/* the verdict of one test */
struct mg_check_test {
	const char *name;           /* the config's */
	const char *dir;            /* the --from directory holding its profile */
	struct mg_verdict v;        /* against the baseline gated: accepted, else the base */
	int accepted;               /* a different baseline was accepted in this change */
	struct mg_verdict v_base;   /* when accepted: against the base, for its deltas */
	long stale;                 /* commits from the baseline's to the base commit; -1 unknown */
	int runs;                   /* measurements behind the profile */
	int confirmed;              /* a noisy regression re-run: 1 confirmed, 0 not; -1 no re-run */
	int threads;                /* a process of the test was multithreaded */
	uint64_t sup_bytes, sup_blocks, sup_stacks; /* leaks memgate.yml's suppressions hid */
	cJSON *warnings;            /* the profile's own (untraced children, unknown kinds...) */
	cJSON *untraced;            /* programs its processes started that ran untraced */
	int untraced_allowed;       /* memgate.yml says allow-untraced: true */
	int unmeasured;             /* some ran untraced, not allowed: not measured in full */
};

/*
 * Measures `test` once more into `dir` (a temporary directory: the profile
 * is dir/<test>.json).  MG_OK, or an error: the first verdict then stands.
 */
typedef int (*mg_check_remeasure_cb)(const struct mg_test *test, const char *dir, void *payload,
				     struct mg_error *err);

/*
 * docs/baselines.md, "The spread": how many runs accept wants behind the
 * baseline of a test whose profile is `profile`, given its `spread-runs`:
 * what it holds when no second thread allocated; else at least
 * `spread_runs`, and MG_SPREAD_WIDE_RUNS once those runs show a peak that
 * moves by MG_SPREAD_WIDE thousandths of its highest run or more (a peak set
 * by the threads' timing, whose rare highs few runs miss); `spread_runs` 1
 * measures nothing more.
 */
#define MG_SPREAD_WIDE      50
#define MG_SPREAD_WIDE_RUNS 20
unsigned mg_spread_runs_wanted(const cJSON *profile, unsigned spread_runs);

/*
 * Measures `test` again through `measure`, in a temporary directory, at least
 * `times` times and until the runs held, those of *profile first, number at
 * least `runs`; combines them all the way `repeat` does (mg_profile_combine),
 * writes the result to `path` and puts it in *profile (the old one freed).
 * MG_OK, or the error of the measurement that failed: *profile then stays.
 */
int mg_check_measure_more(cJSON **profile, const char *path, const struct mg_test *test,
			  unsigned times, unsigned runs, mg_check_remeasure_cb measure,
			  void *payload, struct mg_error *err);

/*
 * A test was judged: its profile (suppressions applied), the baseline gated
 * (NULL: none) and the verdict, for the caller's page of the test.  A test
 * whose regression re-runs did not confirm is judged twice.
 */
typedef void (*mg_check_judged_cb)(const struct mg_test *test, const char *dir,
				   const cJSON *profile, const cJSON *gated,
				   enum mg_status status, void *payload);

/* what the gate tells as it goes: `warning` 0 for a note */
typedef void (*mg_check_notify_cb)(int warning, const char *msg, void *payload);

struct mg_check_opts {
	struct mg_git *git;         /* the repository, opened once by the caller */
	const char *rev;            /* the ref as the user named it, for messages */
	const char *base_commit;    /* mg_git_merge_base() of rev; NULL: unborn, all new */
	const char *baselines_rel;  /* the baselines directory, relative to the work tree */
	const char *config_rel;     /* memgate.yml, relative to the work tree; NULL: unknown */
	const char *const *froms;   /* the profile directories (shards); at least one */
	size_t n_froms;
	const char *const *names;   /* the tests named; none: every test with a profile */
	size_t n_names;
	mg_check_remeasure_cb remeasure;  /* NULL: saved profiles are judged as they are */
	void *payload;              /* for the callbacks */
	mg_check_judged_cb judged;  /* may be NULL */
	mg_check_notify_cb notify;  /* may be NULL */
};

struct mg_check_result {
	struct mg_check_test *tests;
	size_t n_tests;
	size_t counts[MG_STATUS_OVER_BUDGET + 1];   /* tests per verdict */
	char **missing;             /* baselines at the base commit with no test in the config */
	size_t n_missing;
	struct mg_suppress_state sup;  /* how memgate.yml's suppressions were used */
	int failed;                 /* a regression or a figure over its limit */
	size_t n_unmeasured;        /* tests not measured in full (untraced programs) */
};

/*
 * Judges the selected tests.  Fills *out (the caller's; release it with
 * mg_check_result_release(), also after an error).  Errors: MG_ENOTMEASURED
 * (a test has no profile, or it cannot be read), MG_EINVALID (a corrupt or
 * foreign profile or baseline; profiles of one test in two shards),
 * MG_ENOTFOUND (a ref problem), MG_ERROR.
 */
int mg_check(struct mg_check_result *out, const struct mg_config *cfg,
	     const struct mg_check_opts *o, struct mg_error *err);
void mg_check_result_release(struct mg_check_result *r);

#endif
