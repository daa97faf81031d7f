/* fuzz_config.c - libFuzzer target: memgate.yml reader and the unit parsers
 *
 * Feeds the input to mg_config_parse() (in memory: no file, no ctest) and,
 * NUL-terminated, to the size/duration/tolerance parsers, the run:
 * splitter and the gtest list reader, and checks invariants, abort()ing
 * when one breaks:
 *  - an error has code MG_EINVALID (or MG_ERROR for out of memory), leaves
 *    *out NULL, and its message is one line starting with "fuzz.yml:";
 *  - a parsed config answers every query, and each test's name follows the
 *    name rules;
 *  - a tolerance that parses formats to text that parses back to it;
 *  - the names read from a --gtest_list_tests output are "Suite.Test"
 *    names: not empty, one line (seed: corpus/gtest-list.txt).
 * Built with -fsanitize=fuzzer by MEMGATE_LIBFUZZER, or linked with
 * fuzz_driver.c to run under ctest without clang (tests/fuzz/README.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/discover.h"
#include "core/lsan_match.h"
#include "core/shellwords.h"
#include "core/suppress.h"
#include "core/units.h"
#include "util/error.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_message(const struct mg_error *err)
{
	check(err->code == MG_EINVALID || err->code == MG_ERROR);
	check(strchr(err->msg, '\n') == NULL);
	check(err->msg[0] != '\0');
}

static void exercise(struct mg_config *cfg)
{
	struct mg_settings eff;
	struct mg_frame_names fr = { "main", "/bin/x", "x.c" };
	size_t i;
	int m;
	uint64_t max;

	mg_config_effective(&eff, cfg, NULL);
	check(eff.set == MG_SET_ALL && eff.repeat >= 1 && eff.stack_depth <= 256);   /* 0: no stacks */
	for (i = 0; i < cfg->n_tests; i++) {
		const struct mg_test *t = &cfg->tests[i];
		const char *p;
		check(t->name && *t->name && t->name[0] != '-' && strcmp(t->name, ".") && strcmp(t->name, ".."));
		for (p = t->name; *p; p++)
			check(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p) != NULL);
		check(t->argc >= 1 && t->argv[0] && t->argv[0][0] && t->argv[t->argc] == NULL);
		check(t->cwd && t->env);
		check(mg_config_find_test(cfg, t->name) == t);
		mg_config_effective(&eff, cfg, t);
		for (m = 0; m < MG_METRIC_COUNT; m++) {
			mg_config_tolerance(cfg, t, (enum mg_metric)m);
			mg_config_limit(&max, cfg, t, (enum mg_metric)m);
		}
	}
	struct mg_suppress_state st;
	if (mg_suppress_init(&st, cfg) < 0)
		return;
	mg_suppress_begin_test(&st);
	for (i = 0; i < cfg->n_suppressions; i++) {
		check(cfg->suppressions[i].pattern && cfg->suppressions[i].pattern[0]);
		fr.function = cfg->suppressions[i].pattern;
		mg_suppress_stack(&st, &fr, 1, 1);
	}
	mg_suppress_release(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_config *cfg = (struct mg_config *)1;
	struct mg_error err = { 0, "" };
	struct mg_tolerance t, back;
	uint64_t v;
	char *s, **argv = NULL, buf[128];
	size_t argc;
	int rc;

	rc = mg_config_parse(&cfg, "fuzz.yml", (const char *)data, size, &err);
	if (rc == MG_OK) {
		check(cfg != NULL);
		exercise(cfg);
		mg_config_free(cfg);
	} else {
		check(cfg == NULL && rc == err.code);
		check_message(&err);
		check(!strncmp(err.msg, "fuzz.yml:", 9));
	}

	if (size > 4096)
		return 0;
	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (mg_parse_size(&v, s, &err) == MG_OK) {
		uint64_t v2 = 0;
		check(mg_parse_size(&v2, mg_format_size(buf, sizeof(buf), v), &err) == MG_OK && v2 == v);
	} else {
		check_message(&err);
	}
	if (mg_parse_duration_ms(&v, s, &err) == MG_OK)
		check(v <= 365ULL * 24 * 3600 * 1000);
	else
		check_message(&err);
	for (int bytes = 0; bytes < 2; bytes++) {
		if (mg_tolerance_parse(&t, s, bytes, &err) == MG_OK) {
			mg_tolerance_format(buf, sizeof(buf), &t, bytes);
			check(mg_tolerance_parse(&back, buf, bytes, &err) == MG_OK);
			check(back.ppb == t.ppb && back.abs == t.abs);
			check(mg_tolerance_allowed(&t, 1000) >= 1000);
		} else {
			check_message(&err);
		}
	}
	if (mg_shellwords_split(&argv, &argc, s, &err) == MG_OK) {
		check(argv[argc] == NULL);
		mg_strv_free(argv);
	} else {
		check_message(&err);
	}
	mg_lsan_match(s, "CRYPTO_malloc");
	mg_lsan_match("C*lloc$", s);
	/* a test binary's --gtest_list_tests output: "Suite.Test" names */
	char **names = NULL;
	if (mg_discover_gtest_parse(&names, s) == MG_OK) {
		for (char **n = names; *n; n++)
			check(**n && !strchr(*n, '\n') && strchr(*n, '.'));
		mg_strv_free(names);
	}
	free(s);
	return 0;
}
