/* config.h - memgate.yml: read, validate and query the configuration
 *
 * The loader reads memgate.yml with libyaml's event API, keeps the line and
 * column of every node, and validates everything it reads: an unknown key, a
 * wrong type, a bad size, percentage or duration, a duplicate or malformed
 * test name, a missing key or an empty command is an error with code
 * MG_EINVALID and the one-line message
 *
 *     FILE:LINE:COL: what was expected
 *
 * where FILE is the name given to the loader, LINE and COL are 1-based (COL
 * counts characters, as libyaml does) and point at the offending node (the
 * key for an unknown key, the value for a bad value, the mapping for a
 * missing key).  YAML syntax errors use libyaml's mark in the same format.
 * Errors that have no position (cannot read the file, file too large) are
 * `FILE: message`.  Every key, type, default and grammar is in docs/config.md.
 *
 * Relative paths in the file (profiles, baselines, cwd, ctest, gtest, cargo) are resolved
 * against the directory of the configuration file at load time; the
 * resolved strings are stored.
 *
 * Ownership: mg_config_load()/mg_config_parse() give the caller a
 * struct mg_config, freed with mg_config_free(); every string and array in
 * it is owned by the config.  Nothing here prints or exits.  Once loaded
 * (mg_config_import_ctest() is the last step of loading) a config is not
 * changed: what changes during a run lives apart (the suppressions' use:
 * suppress.h), and a config may be read from several threads at once.
 */
#ifndef MEMGATE_CORE_CONFIG_H
#define MEMGATE_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "metric.h"
#include "units.h"

struct mg_error;

struct mg_pos {
	unsigned line, col;         /* 1-based; 0 = not from the file (built in) */
};

enum mg_rule_state {
	MG_RULE_UNSET = 0,          /* not given at this level: inherit */
	MG_RULE_OFF,                /* "off": not gated (removes an inherited rule) */
	MG_RULE_ON
};

struct mg_tolerance_rule {
	unsigned char state;        /* enum mg_rule_state */
	struct mg_tolerance tol;
	struct mg_pos pos;          /* of the value */
};

struct mg_limit_rule {
	unsigned char state;        /* enum mg_rule_state */
	uint64_t max;               /* bytes or a count: pass while current <= max */
	struct mg_pos pos;
};

/* Which scalar settings a level gives (struct mg_settings.set). */
enum mg_settings_flags {
	MG_SET_TIMEOUT = (1 << 0),
	MG_SET_REPEAT = (1 << 1),
	MG_SET_FOLLOW_CHILDREN = (1 << 2),
	MG_SET_STACK_DEPTH = (1 << 3),
	MG_SET_ALLOW_CRASH = (1 << 4),
	MG_SET_CONFIRM = (1 << 5),
	MG_SET_ALLOW_UNTRACED = (1 << 6),
	MG_SET_STACK_UNWIND = (1 << 7),
	MG_SET_SPREAD_RUNS = (1 << 8),
	MG_SET_ALL = (1 << 9) - 1
};

/*
 * The settings of one level: `defaults:` (always complete: every flag set,
 * built-in values where the file is silent) or one test's overrides (only
 * what the test gives).
 */
struct mg_settings {
	unsigned set;               /* enum mg_settings_flags: fields given */
	uint64_t timeout_ms;        /* 0 = no timeout; default 300000 */
	unsigned repeat;            /* 1..1000; default 1 */
	int follow_children;        /* default 1 */
	unsigned stack_depth;       /* 0..256 (0: no stacks); default 64 */
	int unwind_fp;              /* stack-unwind: fp (frame pointers only); default 0: cfi */
	int allow_crash;            /* a crash or timeout is data, not exit 3; default 0 */
	unsigned confirm;           /* re-runs that confirm a noisy regression, 0..100; default 2 */
	int allow_untraced;         /* programs that run untraced are expected, not exit 3; default 0 */
	unsigned spread_runs;       /* runs accept measures of a multithreaded test, 1..1000; default 5 */
	struct mg_tolerance_rule tolerance[MG_METRIC_COUNT];
	struct mg_limit_rule limit[MG_METRIC_COUNT];
};

struct mg_test {
	char *name;                 /* [A-Za-z0-9._-]{1,200}, not "." or "..", no leading "-" */
	char *case_name;            /* a discovered case as its harness names it
				       ("Sizes/JoinP.RoundTrip/1", "tests::leak"), or NULL */
	char **argv;                /* NULL-terminated, argc >= 1, argv[0] non-empty */
	size_t argc;
	char *cwd;                  /* resolved; default: the config's directory (or ".") */
	char **env;                 /* NAME=VALUE to add, NULL-terminated, never NULL */
	struct mg_settings over;    /* this test's overrides (set/state say which) */
	struct mg_pos pos;          /* of the entry (a ctest test: of its ctest entry) */
	int ctest;                  /* index in config->imports, or -1 */
};

enum mg_import_kind {
	MG_IMPORT_CTEST,            /* - ctest: BUILD_DIR */
	MG_IMPORT_GTEST,            /* - gtest: BINARY (src/core/discover.h) */
	MG_IMPORT_CARGO             /* - cargo: DIR (src/core/discover.h) */
};

/* A `- ctest: DIR`, `- gtest: BINARY` or `- cargo: DIR` entry, until
 * mg_config_import_ctest() replaces it by tests. */
struct mg_ctest_import {
	int kind;                   /* enum mg_import_kind */
	char *dir;                  /* resolved build directory, binary or cargo directory */
	char *cwd;                  /* gtest: resolved working directory; else NULL */
	char **args;                /* gtest: added to each case's command; cargo: to
				       `cargo test --no-run`; NULL-terminated, never NULL */
	char **exclude;             /* fnmatch(3) globs on the ctest name, NULL-terminated */
	char **env;                 /* added to every imported test (wins over ctest's) */
	struct mg_settings over;    /* applied to every imported test */
	struct mg_pos pos;          /* of the entry */
	struct mg_pos dir_pos;      /* of DIR */
	size_t at;                  /* place: index in tests[] it stands before */
	int imported;               /* its tests are in tests[] */
	struct mg_test *saved;      /* the tests a run listed (mg_discover_use_saved()):
				       imported instead of listing again; else NULL */
	size_t n_saved;
};

struct mg_suppression {
	char *pattern;              /* LSan `leak:` pattern: see lsan_match.h */
	int has_max;                /* max_bytes given */
	uint64_t max_bytes;         /* hide at most this many leaked bytes per test */
	struct mg_pos pos;
};

/* `html:` (docs/config.md): which tests get profiles/<test>.html */
enum mg_html_policy {
	MG_HTML_REGRESSIONS = 0,    /* default: `memgate check` writes the page of a failing test */
	MG_HTML_ALWAYS,             /* `memgate run` writes every test's page */
	MG_HTML_NEVER               /* no page; `memgate report --html` on request */
};

struct mg_config {
	char *path;                 /* as given to the loader, used in messages */
	char *dir;                  /* its directory; "" for the current one */
	int version;                /* 1 */
	char *profiles;             /* resolved; default "profiles" */
	char *baselines;            /* resolved; default "baselines" */
	enum mg_html_policy html;
	struct mg_settings defaults;
	struct mg_test *tests;      /* in file order (ctest entries: once imported) */
	size_t n_tests;
	struct mg_ctest_import *imports;
	size_t n_imports;
	struct mg_suppression *suppressions;
	size_t n_suppressions;
	char **skip_frames;         /* `defaults: skip-frames:` globs, NULL-terminated; NULL: none */
};

/*
 * Reads and validates the file at `path` (at most 4 MiB).  The file name in
 * messages is `path` as given.  Expected errors: MG_ENOTFOUND (no such
 * file: `PATH: no such file`), MG_EINVALID (invalid configuration, see
 * above); MG_ERROR for other I/O errors.  ctest entries are not run here:
 * call mg_config_import_ctest() before using tests[].
 */
int mg_config_load(struct mg_config **out, const char *path, struct mg_error *err);

/*
 * Same from memory: `len` bytes of `text` (need not be NUL-terminated),
 * named `path` in messages and for resolving relative paths.  Touches no
 * file.  MG_EINVALID or MG_ERROR (out of memory).
 */
int mg_config_parse(struct mg_config **out, const char *path, const char *text, size_t len,
		    struct mg_error *err);

/* Frees the config, its tests and everything in them; NULL is a no-op. */
void mg_config_free(struct mg_config *cfg);

/*
 * Runs `ctest --show-only=json-v1` in each ctest entry's directory (`ctest`:
 * the program, NULL for "ctest" from PATH), drops disabled tests, tests
 * without a command and those an `exclude` glob matches, and puts the rest
 * into tests[] in place of their entry, with their ctest command, working
 * directory and ENVIRONMENT.  gtest and cargo entries are replaced the same
 * way by their cases (mg_discover_list(), src/core/discover.h; `ctest` is
 * then unused: cargo comes from PATH).  A name that is not a valid test name
 * is mapped to one (mg_name_encode()); names must be unique across all
 * tests.  Idempotent: an entry is imported once.  Errors (positioned at the
 * entry): MG_EINVALID: no build tree there, ctest failed, unreadable output,
 * a duplicate name, a missing gtest binary or Cargo.toml; MG_ERROR: cannot
 * start ctest or cargo, a cargo build or a listing failed.  On error tests[]
 * is unchanged.
 */
int mg_config_import_ctest(struct mg_config *cfg, const char *ctest, struct mg_error *err);

/*
 * The tests ctest knows in build directory `dir`: *out is an array of *n
 * tests (name, argv, cwd, env; over unset, ctest = -1, pos zero), freed with
 * mg_config_tests_free().  Messages have no position: `cannot list the tests of
 * "DIR": ...`.  ctest output is capped at 64 MiB and its run at 120 s.
 */
int mg_config_ctest_list(struct mg_test **out, size_t *n, const char *dir, const char *ctest,
		  struct mg_error *err);
void mg_config_tests_free(struct mg_test *tests, size_t n);

/* The test named `name`, or NULL; borrowed from cfg. */
const struct mg_test *mg_config_find_test(const struct mg_config *cfg, const char *name);

/*
 * The effective settings of `test` (NULL: the defaults alone): the defaults
 * with the test's overrides applied, per field and per metric.  Every
 * `set` flag is set in *out; tolerance and limit rules are ON or OFF, never
 * UNSET.
 */
void mg_config_effective(struct mg_settings *out, const struct mg_config *cfg,
			 const struct mg_test *test);

/*
 * The tolerance that gates metric `m` of `test` (NULL: defaults), or NULL
 * when the metric is not gated.  Borrowed from cfg.  A metric is gated when
 * the test, else defaults.tolerance, else the built-in defaults give it a
 * tolerance that is not "off"; the built-ins are those of docs/config.md:
 * peak_bytes "2% + 4KiB", leaked_bytes "0", definitely_lost_bytes "0",
 * allocs "0.5%", total_bytes "0.5%".
 */
const struct mg_tolerance *mg_config_tolerance(const struct mg_config *cfg,
					       const struct mg_test *test, enum mg_metric m);

/* The limit of metric `m` for `test` (NULL: defaults): 1 and *max, or 0 when none. */
int mg_config_limit(uint64_t *max, const struct mg_config *cfg, const struct mg_test *test,
		    enum mg_metric m);

#endif
