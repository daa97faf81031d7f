/* discover.h - one test per case: the cases of a GoogleTest binary or of a
 * cargo package, and the names of discovered tests
 *
 * A `- gtest: BINARY` or `- cargo: DIR` entry of memgate.yml stands for the
 * test cases its harness lists (docs/config.md, "Discovered tests"); the
 * config's import (mg_config_import_ctest()) calls the functions here and
 * puts each case in tests[] as a test of its own, run alone in its own
 * process: `BINARY --gtest_filter=CASE`, `EXE --exact CASE --test-threads=1`.
 *
 * A case name that is not a valid test name (a TEST_P instance
 * `Sizes/JoinP.RoundTrip/1`, a ctest name with a space) is mapped to one by
 * mg_name_encode(), reversibly.  Nothing here prints or exits.
 */
#ifndef MEMGATE_CORE_DISCOVER_H
#define MEMGATE_CORE_DISCOVER_H

#include <stddef.h>

struct mg_error;
struct mg_test;
struct mg_ctest_import;
struct mg_config;

/*
 * The test name for case `name` (docs/config.md, "Names of discovered
 * tests"): `name` itself when it is a valid test name; else each "/" becomes
 * "--" and every other byte outside [A-Za-z0-9._] (the "-" included) becomes
 * "-XX" (two lower-case hex digits); when that result would still be
 * refused ("." or "..", or starting with "memgate-") its first byte is
 * written "-XX" too, and a result that starts with "-" gets a "_" in front
 * (a leading "_" of such a name is written "-5f", so the "_" is never
 * ambiguous).  A result over 200 characters keeps its first 182 and ends
 * with "-h" and 16 hex digits of a hash of the whole name (FNV-1a 64): the
 * one mapping that cannot be undone.  The empty name maps to "-" and is
 * refused by the caller.  `out` gets at most 201 bytes.
 */
void mg_name_encode(char out[201], const char *name);

/*
 * The case name that mg_name_encode() mapped to `enc`, into `out` (`size`
 * bytes, NUL-terminated): 0, or -1 when `enc` is not the mapping of an
 * invalid name (no escape in it, a malformed escape, a cut name) or does not
 * fit.
 */
int mg_name_decode(char *out, size_t size, const char *enc);

/*
 * Whether test `name` is among `names` as given on the command line (all
 * tests when n_names is 0): each is the test's name or an fnmatch(3) glob
 * on it, or, for a mapped name, the case name or a glob on it
 * (docs/config.md, "Selecting tests on the command line").
 */
int mg_test_selected(const char *name, const char *const *names, size_t n_names);

/*
 * The cases listed by `BINARY --gtest_list_tests` (its stdout, `text`), as
 * "Suite.Test" names in the listed order, parametrized and typed tests
 * included ("Sizes/JoinP.RoundTrip/1", "Typed/0.Works"); lines that are not
 * part of the list ("Running main() from ...") and DISABLED_ tests are
 * left out.  *names: malloc'd NULL-terminated array of malloc'd strings
 * (mg_strv_free, util/strv.h).  MG_OK or MG_ERROR (out of memory).
 */
int mg_discover_gtest_parse(char ***names, const char *text);

/*
 * The tests of a gtest or cargo entry: *out is an array of *n tests (name,
 * case_name, argv, cwd, env; over unset, ctest = -1, pos zero), freed with
 * mg_config_tests_free().  `tool`: the program that lists (gtest: unused;
 * cargo: the cargo to run, NULL for "cargo" from PATH, then
 * $HOME/.cargo/bin/cargo).  An entry with saved tests (see below, any kind)
 * gets a copy of them, and nothing runs.  Messages have no position and name the entry:
 * `cannot list the tests of "DIR": ...`.  MG_EINVALID: the entry points at
 * nothing usable (no such binary, not a GoogleTest binary, no Cargo.toml);
 * MG_ERROR: the tool is missing, the build failed, a listing failed.
 */
int mg_discover_list(struct mg_test **out, size_t *n, const struct mg_ctest_import *im,
		     const char *tool, struct mg_error *err);

/*
 * The tests a run measured come from the entries' listings; `memgate check
 * --from DIR` and `memgate accept` must judge the same tests without building
 * or listing again (the gate's job may have no build at all).  `memgate run`
 * saves the imported tests of every ctest, gtest and cargo entry in
 * DIR/memgate-tests.json, or for shard I of N (shard_n > 1) in
 * DIR/memgate-tests.I-of-N.json, so that the shards of a CI matrix
 * downloaded into one directory keep their lists; saving removes DIR's lists
 * of other shard layouts (mg_discover_save()).  mg_discover_use_saved() reads
 * every such file of each of `dirs` (in order; in a directory the unsharded
 * list, then the shards') and hands an entry's saved tests to the import
 * (struct mg_ctest_import.saved), when the entry is the same (index, kind,
 * directory) as when they were saved: the union of the lists, a test listed
 * twice taken from the first list that names it.  An entry no file lists is
 * listed again by the import.  Saving: MG_ERROR when the file cannot be written.
 * Reading: a missing file is no error; MG_EINVALID for a file that is not
 * such a list (`DIR/memgate-tests.json: ...`).
 */
#define MG_DISCOVER_SAVED "memgate-tests.json"
int mg_discover_save(const struct mg_config *cfg, const char *dir, unsigned shard_i,
		     unsigned shard_n, struct mg_error *err);
int mg_discover_use_saved(struct mg_config *cfg, const char *const *dirs, size_t n_dirs,
			  struct mg_error *err);

/* Sets err to `cannot list the tests of "WHAT": <fmt...>` (WHAT quoted as in
 * the config's messages) and returns `code`; shared with the ctest import. */
int mg_discover_fail(struct mg_error *err, int code, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
