/* json_expect.c - check that a JSON document contains an expected subset
 *
 * usage: json_expect EXPECTED.json ACTUAL.json
 *
 * Every key of an expected object must be present in the actual one with a
 * matching value (extra actual keys are fine); arrays must have the same
 * length and match element by element; numbers, strings, booleans and null
 * must be equal.  A few string patterns make fixtures portable:
 *   "$any"        any value, but the key must exist
 *   "$nonzero"    a number > 0
 *   "$ge:N"       a number >= N        "$le:N"  a number <= N
 *   "$contains:S" a string containing S
 *   "$len:N"      an array of exactly N elements (any content)
 *   "$minlen:N"   an array of at least N elements
 *   "$line:NAME"  the number of the line holding the marker "@NAME" in a file
 *                 of the directory $JSON_EXPECT_SRC (fixture sources)
 * An object with the key "$each" applies its value to every element of the
 * actual array; "$some" requires at least one element to match; "$all" (an
 * array of patterns) requires each pattern to match some element; "$prefix"
 * (an array) must match the actual array's first elements, in order.
 * A profile's lists (peak_stacks ...) name their row of the stack table
 * rather than carry frames (docs/profile-schema.md); ACTUAL is matched as
 * memgate's own readers see it, with those frames put back
 * (mg_profile_expand).
 * Prints every mismatch with its JSON path; exit 0 when all match, else 1.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/profile.h"

static int failures;

static void fail(const char *path, const char *what, const cJSON *exp, const cJSON *act)
{
	char *e = exp ? cJSON_PrintUnformatted(exp) : NULL;
	char *a = act ? cJSON_PrintUnformatted(act) : NULL;
	fprintf(stderr, "mismatch at %s: %s (expected %s, got %.300s)\n", path, what,
		e ? e : "-", a ? a : "(missing)");
	free(e);
	free(a);
	failures++;
}

static int match(const cJSON *exp, const cJSON *act, const char *path, int quiet);

/* line of "@name" (then a non-identifier character) in a file of $JSON_EXPECT_SRC; 0: none */
static int marker_line(const char *name)
{
	const char *dir = getenv("JSON_EXPECT_SRC");
	char path[4096], line[4096], want[256];
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	int found = 0;
	snprintf(want, sizeof(want), "@%s", name);
	while (d && !found && (e = readdir(d))) {
		FILE *f;
		int n = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *at = strstr(line, want);
			n++;
			if (at) {
				char c = at[strlen(want)];
				if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (c >= '0' && c <= '9'))) {
					found = n;
					break;
				}
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

static int match_pattern(const char *pat, const cJSON *act, const char *path, int quiet,
			 const cJSON *exp)
{
	int ok = 1;
	if (!strcmp(pat, "$any"))
		ok = act != NULL;
	else if (!strcmp(pat, "$nonzero"))
		ok = cJSON_IsNumber(act) && act->valuedouble > 0;
	else if (!strncmp(pat, "$ge:", 4))
		ok = cJSON_IsNumber(act) && act->valuedouble >= atof(pat + 4);
	else if (!strncmp(pat, "$le:", 4))
		ok = cJSON_IsNumber(act) && act->valuedouble <= atof(pat + 4);
	else if (!strncmp(pat, "$contains:", 10))
		ok = cJSON_IsString(act) && strstr(act->valuestring, pat + 10);
	else if (!strncmp(pat, "$len:", 5))
		ok = cJSON_IsArray(act) && cJSON_GetArraySize(act) == atoi(pat + 5);
	else if (!strncmp(pat, "$minlen:", 8))
		ok = cJSON_IsArray(act) && cJSON_GetArraySize(act) >= atoi(pat + 8);
	else if (!strncmp(pat, "$line:", 6)) {
		int want = marker_line(pat + 6);
		if (!want) {
			fprintf(stderr, "%s: no marker @%s under $JSON_EXPECT_SRC\n", path, pat + 6);
			failures++;
			return 0;
		}
		ok = cJSON_IsNumber(act) && act->valueint == want;
	}
	else
		return -1;
	if (!ok && !quiet)
		fail(path, "pattern", exp, act);
	return ok;
}

static int match(const cJSON *exp, const cJSON *act, const char *path, int quiet)
{
	char sub[1024];
	int ok = 1;

	if (cJSON_IsString(exp) && exp->valuestring[0] == '$') {
		int r = match_pattern(exp->valuestring, act, path, quiet, exp);
		if (r >= 0)
			return r;
	}
	if (!act) {
		if (!quiet)
			fail(path, "missing", exp, act);
		return 0;
	}
	if (cJSON_IsObject(exp)) {
		const cJSON *each = cJSON_GetObjectItemCaseSensitive(exp, "$each");
		const cJSON *some = cJSON_GetObjectItemCaseSensitive(exp, "$some");
		const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(exp, "$prefix");
		const cJSON *all = cJSON_GetObjectItemCaseSensitive(exp, "$all");
		if (all) {
			const cJSON *want, *el;
			int k = 0;
			if (!cJSON_IsArray(act)) {
				if (!quiet)
					fail(path, "not an array", all, act);
				return 0;
			}
			cJSON_ArrayForEach(want, all) {
				int any = 0;
				cJSON_ArrayForEach(el, act)
					any |= match(want, el, path, 1);
				if (!any) {
					snprintf(sub, sizeof(sub), "%s$all[%d]", path, k);
					if (!quiet)
						fail(sub, "no element matches", want, act);
					ok = 0;
				}
				k++;
			}
			return ok;
		}
		if (prefix) {
			int n = cJSON_GetArraySize(prefix);
			if (!cJSON_IsArray(act) || cJSON_GetArraySize(act) < n) {
				if (!quiet)
					fail(path, "array shorter than $prefix", prefix, act);
				return 0;
			}
			for (int i = 0; i < n; i++) {
				snprintf(sub, sizeof(sub), "%s[%d]", path, i);
				ok &= match(cJSON_GetArrayItem(prefix, i), cJSON_GetArrayItem(act, i),
					    sub, quiet);
			}
			return ok;
		}
		if (each || some) {
			const cJSON *el;
			int i = 0, any = 0;
			if (!cJSON_IsArray(act)) {
				if (!quiet)
					fail(path, "not an array", exp, act);
				return 0;
			}
			cJSON_ArrayForEach(el, act) {
				snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
				if (each)
					ok &= match(each, el, sub, quiet);
				if (some)
					any |= match(some, el, sub, 1);
			}
			if (some && !any) {
				if (!quiet)
					fail(path, "no element matches $some", some, act);
				ok = 0;
			}
			return ok;
		}
		if (!cJSON_IsObject(act)) {
			if (!quiet)
				fail(path, "not an object", exp, act);
			return 0;
		}
		const cJSON *kv;
		cJSON_ArrayForEach(kv, exp) {
			snprintf(sub, sizeof(sub), "%s.%s", path, kv->string);
			ok &= match(kv, cJSON_GetObjectItemCaseSensitive(act, kv->string), sub, quiet);
		}
		return ok;
	}
	if (cJSON_IsArray(exp)) {
		if (!cJSON_IsArray(act) || cJSON_GetArraySize(act) != cJSON_GetArraySize(exp)) {
			if (!quiet)
				fail(path, "array length", exp, act);
			return 0;
		}
		for (int i = 0; i < cJSON_GetArraySize(exp); i++) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
			ok &= match(cJSON_GetArrayItem(exp, i), cJSON_GetArrayItem(act, i), sub, quiet);
		}
		return ok;
	}
	if (cJSON_Compare(exp, act, 1))
		return 1;
	if (!quiet)
		fail(path, "value", exp, act);
	return 0;
}

static cJSON *load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cJSON *j;
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: read error\n", path);
		exit(2);
	}
	buf[n] = '\0';
	fclose(f);
	j = cJSON_Parse(buf);
	if (!j) {
		fprintf(stderr, "%s: not valid JSON near '%.40s'\n", path, cJSON_GetErrorPtr());
		exit(2);
	}
	free(buf);
	return j;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: json_expect EXPECTED.json ACTUAL.json\n");
		return 2;
	}
	cJSON *exp = load(argv[1]), *act = load(argv[2]);
	if (mg_profile_expand(act) < 0) {
		fprintf(stderr, "%s: a list names a stack its stack table lacks\n", argv[2]);
		return 1;
	}
	match(exp, act, "$", 0);
	cJSON_Delete(exp);
	cJSON_Delete(act);
	if (failures)
		fprintf(stderr, "%d mismatch(es) between %s and %s\n", failures, argv[1], argv[2]);
	return failures ? 1 : 0;
}
