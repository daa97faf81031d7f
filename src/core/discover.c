/* discover.c - the cases of a GoogleTest binary or a cargo package, one test each */
#define _GNU_SOURCE                 /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dirent.h>

#include "config.h"
#include "discover.h"
#include "units.h"
#include "../util/error.h"
#include "../util/glob.h"
#include "../util/strv.h"
#include "subprocess.h"
#include "../util/fs.h"
#include "../util/hash.h"

#define MAX_OUTPUT (64u << 20)
#define LIST_TIMEOUT_MS 120000           /* a listing: gtest, libtest */
#define BUILD_TIMEOUT_MS 3600000         /* cargo test --no-run: a whole build */
#define MAX_NAME 200

/* ---- names -------------------------------------------------------------- */

static int name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

/* the rules of a test name (config.c's name_problem), as a yes/no */
static int name_valid(const char *s)
{
	size_t n = strlen(s), i;
	if (!n || n > MAX_NAME || !strcmp(s, ".") || !strcmp(s, "..") || s[0] == '-' ||
	    !strncmp(s, "memgate-", 8))
		return 0;
	for (i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

void mg_name_encode(char out[201], const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = 0, i;
	int hex_first;
	char *buf;

	if (name_valid(name) || !*name) {
		snprintf(out, MAX_NAME + 1, "%s", *name ? name : "-");
		return;
	}
	/* the first byte escaped too when the plain escaping would leave a
	 * reserved name, or when it is a "_" that the prefix would make ambiguous */
	hex_first = !strcmp(name, ".") || !strcmp(name, "..") || !strncmp(name, "memgate", 7) ||
		    name[0] == '_';
	if (!(buf = malloc(strlen(name) * 3 + 2))) {
		snprintf(out, MAX_NAME + 1, "-");
		return;
	}
	for (i = 0; name[i]; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '/') {
			buf[len++] = '-';
			buf[len++] = '-';
		} else if (name_char(ch) && ch != '-' && !(i == 0 && hex_first)) {
			buf[len++] = (char)ch;
		} else {
			buf[len++] = '-';
			buf[len++] = hex[ch >> 4];
			buf[len++] = hex[ch & 15];
		}
	}
	buf[len] = '\0';
	if (buf[0] == '-') {
		memmove(buf + 1, buf, len + 1);
		buf[0] = '_';
		len++;
	}
	if (len > MAX_NAME) {
		uint64_t h = mg_fnv1a_str(name, MG_FNV_OFFSET);
		snprintf(buf + 182, len + 1 - 182, "-h%016llx", (unsigned long long)h);
	}
	snprintf(out, MAX_NAME + 1, "%s", buf);
	free(buf);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int mg_name_decode(char *out, size_t size, const char *enc)
{
	size_t len = 0;
	int escaped = 0;
	if (!strchr(enc, '-'))
		return -1;
	if (enc[0] == '_' && enc[1] == '-')
		enc++;
	while (*enc) {
		int ch = (unsigned char)*enc++;
		if (ch == '-') {
			if (*enc == '-') {
				ch = '/';
				enc++;
			} else if (hexval(enc[0]) >= 0 && hexval(enc[1]) >= 0) {
				ch = hexval(enc[0]) << 4 | hexval(enc[1]);
				enc += 2;
			} else {
				return -1;      /* "-h<hash>": a cut name; or not a mapping */
			}
			escaped = 1;
		}
		if (len + 1 >= size)
			return -1;
		out[len++] = (char)ch;
	}
	out[len] = '\0';
	return escaped ? 0 : -1;
}

/* ---- lists of strings and tests ----------------------------------------- */

struct strs {
	char **v;
	size_t n, cap;
};

/* appends s (taken: freed on failure), keeps v NULL-terminated */
static int strs_push(struct strs *a, char *s)
{
	if (!s)
		return -1;
	if (a->n + 2 > a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		char **nv = realloc(a->v, ncap * sizeof(*nv));
		if (!nv) {
			free(s);
			return -1;
		}
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

/* an empty, NULL-terminated list */
static int strs_init(struct strs *a)
{
	memset(a, 0, sizeof(*a));
	if (!(a->v = calloc(2, sizeof(*a->v))))
		return -1;
	a->cap = 2;
	return 0;
}

struct tests {
	struct mg_test *v;
	size_t n, cap;
};

static char **strv_dup(char *const *v)
{
	struct strs a;
	if (strs_init(&a) < 0)           /* never NULL, even when v is empty */
		return NULL;
	for (; v && *v; v++)
		if (strs_push(&a, strdup(*v)) < 0) {
			mg_strv_free(a.v);
			return NULL;
		}
	return a.v;
}

/* a test for case `cname`: takes argv (a struct strs' array) */
static int tests_add(struct tests *t, const char *name, const char *cname, char **argv,
		     size_t argc, const char *cwd, char *const *env)
{
	struct mg_test *x;
	char enc[MAX_NAME + 1];
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct mg_test *nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv) {
			mg_strv_free(argv);
			return -1;
		}
		t->v = nv;
		t->cap = ncap;
	}
	x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->ctest = -1;
	x->argv = argv;
	x->argc = argc;
	mg_name_encode(enc, name);
	t->n++;
	if (!(x->name = strdup(enc)) || !(x->case_name = strdup(cname)) ||
	    !(x->cwd = strdup(cwd)) || !(x->env = strv_dup(env)))
		return -1;
	return 0;
}

int mg_discover_fail(struct mg_error *err, int code, const char *what, const char *fmt, ...)
{
	char msg[400], q[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mg_error_set(err, code, "cannot list the tests of \"%s\": %s",
			    mg_quote_value(q, sizeof(q), what), msg);
}

/* the line of a tool's stderr that explains a failure: its first "error"
 * line, else its first line; trimmed, in place */
static const char *why_line(char *s)
{
	char *p = s, *nl;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		if (!strncmp(p, "error", 5)) {
			s = p;
			break;
		}
		if (!(p = strpbrk(p, "\r\n")))
			break;
	}
	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	if ((nl = strpbrk(s, "\r\n")))
		*nl = '\0';
	return *s ? s : "no message";
}

static int excluded(const struct mg_ctest_import *im, const char *a, const char *b)
{
	for (char *const *g = im->exclude; g && *g; g++)
		if (mg_glob(*g, a) || (b && mg_glob(*g, b)))
			return 1;
	return 0;
}

int mg_test_selected(const char *name, const char *const *names, size_t n_names)
{
	char orig[1024];
	int mapped;
	if (!n_names)
		return 1;
	/* a glob on the test's name, or on the case name it maps (docs/config.md) */
	mapped = mg_name_decode(orig, sizeof(orig), name) == 0;
	for (size_t k = 0; k < n_names; k++)
		if (!strcmp(names[k], name) || mg_glob(names[k], name) ||
		    (mapped && (!strcmp(names[k], orig) || mg_glob(names[k], orig))))
			return 1;
	return 0;
}

/* ---- GoogleTest --------------------------------------------------------- */

/* cuts a "  # GetParam() = 8" comment and trailing blanks, in place */
static void cut_comment(char *s)
{
	char *c = strstr(s, "  #");
	size_t n;
	if (c)
		*c = '\0';
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

int mg_discover_gtest_parse(char ***names, const char *text)
{
	struct strs a = { 0 };
	char *copy = strdup(text), *line, *next, *suite = NULL;

	*names = NULL;
	if (!copy || strs_init(&a) < 0)
		goto oom;
	for (line = copy; line && *line; line = next) {
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (line[0] != ' ') {
			/* "Suite." or "Prefix/Suite.  # TypeParam = int"; anything
			 * else ("Running main() from ...") ends the suite */
			size_t n;
			cut_comment(line);
			n = strlen(line);
			suite = n > 1 && line[n - 1] == '.' && !strchr(line, ' ') ? line : NULL;
			continue;
		}
		if (!suite || strncmp(line, "  ", 2) || line[2] == ' ')
			continue;
		cut_comment(line + 2);
		if (!line[2] || strchr(line + 2, ' '))
			continue;
		if (!strncmp(suite, "DISABLED_", 9) || strstr(suite, "/DISABLED_") ||
		    !strncmp(line + 2, "DISABLED_", 9))
			continue;
		{
			char *full = malloc(strlen(suite) + strlen(line + 2) + 1);
			if (!full)
				goto oom;
			sprintf(full, "%s%s", suite, line + 2);
			if (strs_push(&a, full) < 0)
				goto oom;
		}
	}
	free(copy);
	*names = a.v;
	return MG_OK;
oom:
	free(copy);
	mg_strv_free(a.v);
	return MG_ERROR;
}

static int gtest_list(struct tests *t, const struct mg_ctest_import *im, struct mg_error *err)
{
	struct strs argv = { 0 };
	char *text = NULL, errtext[4096], **cases = NULL, *binary = NULL, here[4096];
	size_t len, k;
	int status = 0, rc = MG_OK;
	const char *why;
	struct stat st;

	if (stat(im->dir, &st) < 0 || !S_ISREG(st.st_mode) || access(im->dir, X_OK) < 0)
		return mg_discover_fail(err, MG_EINVALID, im->dir,
				 "expected a GoogleTest program there (%s: build it first)",
				 stat(im->dir, &st) < 0 ? "no such file" : "not an executable file");
	/* the program runs in `cwd`: a relative path would be looked up there */
	if (im->dir[0] == '/') {
		binary = strdup(im->dir);
	} else if (getcwd(here, sizeof(here)) && (binary = malloc(strlen(here) + strlen(im->dir) + 2))) {
		sprintf(binary, "%s/%s", here, !strncmp(im->dir, "./", 2) ? im->dir + 2 : im->dir);
	}
	if (!binary || strs_push(&argv, strdup(binary)) < 0)
		goto oom;
	for (char *const *a = im->args; a && *a; a++)
		if (strs_push(&argv, strdup(*a)) < 0)
			goto oom;
	if (strs_push(&argv, strdup("--gtest_list_tests")) < 0)
		goto oom;
	if (mg_run_capture(&text, &len, errtext, sizeof(errtext), &status, im->cwd, argv.v,
			   MAX_OUTPUT, LIST_TIMEOUT_MS, &why) < 0) {
		rc = mg_discover_fail(err, MG_ERROR, im->dir, "%s", why);
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = mg_discover_fail(err, WIFEXITED(status) && WEXITSTATUS(status) == 126 ? MG_EINVALID
										      : MG_ERROR,
			       im->dir, "--gtest_list_tests failed (%s %d): %s",
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       WIFEXITED(status) && WEXITSTATUS(status) == 126 ?
				       "cannot enter its working directory" : why_line(errtext));
		goto done;
	}
	if (mg_discover_gtest_parse(&cases, text) < 0)
		goto oom;
	if (!cases[0] && !strstr(text, ".\n")) {
		rc = mg_discover_fail(err, MG_EINVALID, im->dir,
			       "expected a GoogleTest program (--gtest_list_tests listed nothing)");
		goto done;
	}
	for (k = 0; cases[k]; k++) {
		struct strs cmd = { 0 };
		char *filter;
		if (excluded(im, cases[k], NULL))
			continue;
		if (!(filter = malloc(strlen(cases[k]) + 16)))
			goto oom;
		sprintf(filter, "--gtest_filter=%s", cases[k]);
		if (strs_push(&cmd, strdup(binary)) < 0 || strs_push(&cmd, filter) < 0) {
			mg_strv_free(cmd.v);
			goto oom;
		}
		for (char *const *a = im->args; a && *a; a++)
			if (strs_push(&cmd, strdup(*a)) < 0) {
				mg_strv_free(cmd.v);
				goto oom;
			}
		if (tests_add(t, cases[k], cases[k], cmd.v, cmd.n, im->cwd, NULL) < 0)
			goto oom;
	}
	goto done;
oom:
	rc = mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
done:
	mg_strv_free(cases);
	mg_strv_free(argv.v);
	free(binary);
	free(text);
	return rc;
}

/* ---- cargo -------------------------------------------------------------- */

/* `exe --list --format terse [--ignored]`: the "NAME: test" lines */
static int libtest_list(struct strs *out, const char *exe, const char *cwd, int ignored,
			struct mg_error *err)
{
	char *argv[] = { (char *)exe, (char *)"--list", (char *)"--format", (char *)"terse",
			 (char *)(ignored ? "--ignored" : NULL), NULL };
	char *text = NULL, errtext[4096], *line, *next;
	size_t len;
	int status = 0, rc = MG_OK;
	const char *why;

	if (mg_run_capture(&text, &len, errtext, sizeof(errtext), &status, cwd, argv,
			   MAX_OUTPUT, LIST_TIMEOUT_MS, &why) < 0)
		return mg_discover_fail(err, MG_ERROR, exe, "%s", why);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = mg_discover_fail(err, MG_ERROR, exe, "--list failed (%s %d): %s",
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       why_line(errtext));
		goto done;
	}
	for (line = text; line && *line; line = next) {
		size_t n;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		n = strlen(line);
		if (n > 6 && !strcmp(line + n - 6, ": test")) {
			line[n - 6] = '\0';
			if (strs_push(out, strdup(line)) < 0) {
				rc = mg_discover_fail(err, MG_ERROR, exe, "out of memory");
				goto done;
			}
		}
	}
done:
	free(text);
	return rc;
}

static int in_list(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return 1;
	return 0;
}

/*
 * One test executable of cargo's messages: its cases, each run alone.
 * The test's name is TARGET.PATH ("::" as "."); a bin, example or bench
 * target is TARGET-KIND, so that a package's lib and bin of the same name
 * stay apart.
 */
static int cargo_exe(struct tests *t, const struct mg_ctest_import *im, const cJSON *msg,
		     struct mg_error *err)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(msg, "target");
	const cJSON *exe = cJSON_GetObjectItemCaseSensitive(msg, "executable");
	const cJSON *manifest = cJSON_GetObjectItemCaseSensitive(msg, "manifest_path");
	const cJSON *tname = cJSON_GetObjectItemCaseSensitive(target, "name");
	const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(target, "kind");
	const cJSON *kind0 = cJSON_GetArrayItem(kinds, 0);
	struct strs cases = { 0 }, ignored = { 0 }, env = { 0 };
	char *pkgdir = NULL, *slash, prefix[300];
	int rc;

	if (!cJSON_IsString(exe) || !cJSON_IsString(manifest) || !cJSON_IsString(tname) ||
	    !cJSON_IsString(kind0))
		return mg_discover_fail(err, MG_ERROR, im->dir, "expected cargo's compiler-artifact messages");
	if (!strcmp(kind0->valuestring, "bin") || !strcmp(kind0->valuestring, "example") ||
	    !strcmp(kind0->valuestring, "bench"))
		snprintf(prefix, sizeof(prefix), "%s-%s", tname->valuestring, kind0->valuestring);
	else
		snprintf(prefix, sizeof(prefix), "%s", tname->valuestring);
	if (!(pkgdir = strdup(manifest->valuestring)))
		return mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
	if ((slash = strrchr(pkgdir, '/')))
		*slash = '\0';
	/* cargo test runs each executable in its package's directory, with
	 * CARGO_MANIFEST_DIR set: so does memgate, and im->env comes after */
	{
		char *e = malloc(strlen(pkgdir) + 32);
		if (e)
			sprintf(e, "CARGO_MANIFEST_DIR=%s", pkgdir);
		if (strs_push(&env, e) < 0) {
			rc = mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
			goto done;
		}
		for (char *const *x = im->env; x && *x; x++)
			if (strs_push(&env, strdup(*x)) < 0) {
				rc = mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
				goto done;
			}
	}
	if ((rc = libtest_list(&cases, exe->valuestring, pkgdir, 0, err)) < 0 ||
	    (rc = libtest_list(&ignored, exe->valuestring, pkgdir, 1, err)) < 0)
		goto done;
	for (size_t k = 0; k < cases.n; k++) {
		const char *c = cases.v[k];
		struct strs cmd = { 0 };
		char *name;
		size_t j = 0;
		if (in_list(ignored.v, c))
			continue;      /* #[ignore]: cargo test does not run it either */
		if (!(name = malloc(strlen(prefix) + strlen(c) + 2)))
			goto oom;
		j = (size_t)sprintf(name, "%s.", prefix);
		for (const char *p = c; *p; p++) {
			if (p[0] == ':' && p[1] == ':') {
				name[j++] = '.';
				p++;
			} else {
				name[j++] = *p;
			}
		}
		name[j] = '\0';
		if (excluded(im, name, c)) {
			free(name);
			continue;
		}
		if (strs_push(&cmd, strdup(exe->valuestring)) < 0 || strs_push(&cmd, strdup("--exact")) < 0 ||
		    strs_push(&cmd, strdup(c)) < 0 || strs_push(&cmd, strdup("--test-threads=1")) < 0) {
			mg_strv_free(cmd.v);
			free(name);
			goto oom;
		}
		rc = tests_add(t, name, c, cmd.v, cmd.n, pkgdir, env.v);
		free(name);
		if (rc < 0)
			goto oom;
	}
	rc = MG_OK;
	goto done;
oom:
	rc = mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
done:
	mg_strv_free(cases.v);
	mg_strv_free(ignored.v);
	mg_strv_free(env.v);
	free(pkgdir);
	return rc;
}

/* the first error of rustc in cargo's JSON messages (they go to stdout, not
 * to stderr): "src/lib.rs:1:21: error[E0308]: mismatched types" */
static int first_compile_error(char *out, size_t size, const char *text)
{
	const char *line = text;
	int found = 0;
	while (line && *line && !found) {
		const char *end = strchr(line, '\n');
		cJSON *msg = line[0] == '{' ? cJSON_ParseWithLength(line, end ? (size_t)(end - line)
									     : strlen(line))
					    : NULL;
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "message");
		const cJSON *level = cJSON_GetObjectItemCaseSensitive(m, "level");
		const cJSON *text_ = cJSON_GetObjectItemCaseSensitive(m, "message");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(m, "code"), "code");
		const cJSON *span = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "spans"), 0);
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(span, "file_name");
		const cJSON *ln = cJSON_GetObjectItemCaseSensitive(span, "line_start");
		const cJSON *col = cJSON_GetObjectItemCaseSensitive(span, "column_start");
		if (cJSON_IsString(reason) && !strcmp(reason->valuestring, "compiler-message") &&
		    cJSON_IsString(level) && !strcmp(level->valuestring, "error") &&
		    cJSON_IsString(text_)) {
			char where[200] = "";
			if (cJSON_IsString(file) && cJSON_IsNumber(ln) && cJSON_IsNumber(col))
				snprintf(where, sizeof(where), "%.150s:%d:%d: ", file->valuestring,
					 ln->valueint, col->valueint);
			snprintf(out, size, "%serror%s%s%s: %s", where, cJSON_IsString(code) ? "[" : "",
				 cJSON_IsString(code) ? code->valuestring : "",
				 cJSON_IsString(code) ? "]" : "", text_->valuestring);
			found = 1;
		}
		cJSON_Delete(msg);
		line = end ? end + 1 : NULL;
	}
	return found;
}

static int cargo_list(struct tests *t, const struct mg_ctest_import *im, const char *cargo,
		      struct mg_error *err)
{
	struct strs argv = { 0 };
	char *text = NULL, *errtext = NULL, *line, *next, *home_cargo = NULL, *probe;
	size_t len;
	int status = 0, rc = MG_OK, r;
	const char *why, *home = getenv("HOME");
	struct stat st;
	const size_t errsize = 65536;

	if (!(probe = malloc(strlen(im->dir) + 16)))
		return mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
	sprintf(probe, "%s/Cargo.toml", im->dir);
	r = stat(probe, &st);
	free(probe);
	if (r < 0)
		return mg_discover_fail(err, MG_EINVALID, im->dir,
				 "expected a cargo package or workspace there (no Cargo.toml)");
	if (!(errtext = malloc(errsize)) || strs_push(&argv, strdup(cargo ? cargo : "cargo")) < 0 ||
	    strs_push(&argv, strdup("test")) < 0 || strs_push(&argv, strdup("--no-run")) < 0 ||
	    strs_push(&argv, strdup("--message-format=json")) < 0)
		goto oom;
	for (char *const *a = im->args; a && *a; a++)
		if (strs_push(&argv, strdup(*a)) < 0)
			goto oom;
	r = mg_run_capture(&text, &len, errtext, errsize, &status, im->dir, argv.v,
			   MAX_OUTPUT, BUILD_TIMEOUT_MS, &why);
	if (!cargo && r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127 && home && *home) {
		/* rustup's place, which a CI job's PATH may lack */
		free(text);
		text = NULL;
		if (!(home_cargo = malloc(strlen(home) + 20)))
			goto oom;
		sprintf(home_cargo, "%s/.cargo/bin/cargo", home);
		free(argv.v[0]);
		argv.v[0] = home_cargo;
		r = mg_run_capture(&text, &len, errtext, errsize, &status, im->dir, argv.v,
				   MAX_OUTPUT, BUILD_TIMEOUT_MS, &why);
	}
	if (r < 0) {
		rc = mg_discover_fail(err, MG_ERROR, im->dir, "cargo: %s", why);
		goto done;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		rc = mg_discover_fail(err, MG_ERROR, im->dir, "cannot run \"%s\" (not in PATH%s)",
			       cargo ? cargo : "cargo", cargo ? "" : " nor in ~/.cargo/bin");
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char first[300];
		rc = mg_discover_fail(err, MG_ERROR, im->dir, "cargo test --no-run failed (%s %d): %s",
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       first_compile_error(first, sizeof(first), text) ? first
									: why_line(errtext));
		goto done;
	}
	for (line = text; line && *line; line = next) {
		cJSON *msg;
		const cJSON *reason, *exe, *prof;
		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (line[0] != '{' || !(msg = cJSON_Parse(line)))
			continue;
		reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
		exe = cJSON_GetObjectItemCaseSensitive(msg, "executable");
		prof = cJSON_GetObjectItemCaseSensitive(msg, "profile");
		if (cJSON_IsString(reason) && !strcmp(reason->valuestring, "compiler-artifact") &&
		    cJSON_IsString(exe) &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(prof, "test")))
			rc = cargo_exe(t, im, msg, err);
		cJSON_Delete(msg);
		if (rc < 0)
			goto done;
	}
	goto done;
oom:
	rc = mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
done:
	mg_strv_free(argv.v);
	free(errtext);
	free(text);
	return rc;
}

/* ---- the tests a run listed ------------------------------------------- */

static const char *const kind_names[] = { "ctest", "gtest", "cargo" };

static cJSON *strv_json(char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; a && v && *v; v++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(*v))) {
			cJSON_Delete(a);
			return NULL;
		}
	return a;
}

/* "memgate-tests.json", or a shard's "memgate-tests.I-of-N.json"; *i, *n of a shard's name */
static int shard_list_name(const char *name, unsigned *i, unsigned *n)
{
	int end = 0;
	return sscanf(name, "memgate-tests.%u-of-%u.json%n", i, n, &end) == 2 && end > 0 &&
	       !name[end] && *i >= 1 && *i <= *n;
}

/* removes DIR's lists of other shard layouts than n (n = 1: unsharded) */
static void remove_other_lists(const char *dir, unsigned n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned fi, fn;
	if (!d)
		return;
	while ((de = readdir(d)))
		if ((shard_list_name(de->d_name, &fi, &fn) && fn != n) ||
		    (n > 1 && !strcmp(de->d_name, MG_DISCOVER_SAVED)))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

int mg_discover_save(const struct mg_config *cfg, const char *dir, unsigned shard_i,
		     unsigned shard_n, struct mg_error *err)
{
	cJSON *root = cJSON_CreateObject(), *entries = cJSON_AddArrayToObject(root, "entries");
	char *text = NULL, *path = NULL;
	int rc = MG_ERROR;

	if (!entries)
		goto done;
	for (size_t i = 0; i < cfg->n_imports; i++) {
		const struct mg_ctest_import *im = &cfg->imports[i];
		cJSON *e = cJSON_CreateObject(), *tests;
		if (!e || !cJSON_AddItemToArray(entries, e) ||
		    !cJSON_AddStringToObject(e, "kind", kind_names[im->kind]) ||
		    !cJSON_AddStringToObject(e, "dir", im->dir) ||
		    !(tests = cJSON_AddArrayToObject(e, "tests")))
			goto done;
		for (size_t k = 0; k < cfg->n_tests; k++) {
			const struct mg_test *t = &cfg->tests[k];
			cJSON *o;
			if (t->ctest != (int)i)
				continue;
			if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(tests, o) ||
			    !cJSON_AddStringToObject(o, "name", t->name) ||
			    (t->case_name && !cJSON_AddStringToObject(o, "case", t->case_name)) ||
			    !cJSON_AddItemToObject(o, "argv", strv_json(t->argv)) ||
			    !cJSON_AddStringToObject(o, "cwd", t->cwd) ||
			    !cJSON_AddItemToObject(o, "env", strv_json(t->env)))
				goto done;
		}
	}
	if (!(text = cJSON_PrintUnformatted(root)) || !(path = malloc(strlen(dir) + 64)))
		goto done;
	if (shard_n > 1)
		sprintf(path, "%s/memgate-tests.%u-of-%u.json", dir, shard_i, shard_n);
	else
		sprintf(path, "%s/%s", dir, MG_DISCOVER_SAVED);
	rc = mg_write_file_atomic(path, text, strlen(text), err);
	if (rc == MG_OK)
		remove_other_lists(dir, shard_n > 1 ? shard_n : 1);
done:
	if (rc == MG_ERROR && err && !err->msg[0])
		mg_error_set(err, MG_ERROR, "%s: out of memory", dir);
	cJSON_Delete(root);
	free(text);
	free(path);
	return rc;
}

/* a NULL-terminated copy of a JSON array of strings, or NULL */
static char **json_strv(const cJSON *a)
{
	struct strs v;
	const cJSON *it;
	if (!cJSON_IsArray(a) || strs_init(&v) < 0)
		return NULL;
	cJSON_ArrayForEach(it, a)
		if (!cJSON_IsString(it) || strs_push(&v, strdup(it->valuestring)) < 0) {
			mg_strv_free(v.v);
			return NULL;
		}
	return v.v;
}

/* an entry's tests from one saved list, added to those of the lists read before */
static int saved_entry(struct mg_ctest_import *im, const cJSON *e)
{
	const cJSON *jt, *tests = cJSON_GetObjectItemCaseSensitive(e, "tests");
	struct tests t = { im->saved, im->n_saved, im->n_saved };
	size_t before = t.n;
	if (!cJSON_IsArray(tests))
		return -1;
	im->saved = NULL;
	im->n_saved = 0;
	cJSON_ArrayForEach(jt, tests) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(jt, "name");
		const cJSON *cname = cJSON_GetObjectItemCaseSensitive(jt, "case");
		const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(jt, "cwd");
		char **argv = json_strv(cJSON_GetObjectItemCaseSensitive(jt, "argv")), **env;
		size_t argc = 0;
		while (argv && argv[argc])
			argc++;
		if (!cJSON_IsString(name) || !cJSON_IsString(cwd) || !argc || !*argv[0] ||
		    !(env = json_strv(cJSON_GetObjectItemCaseSensitive(jt, "env")))) {
			mg_strv_free(argv);
			mg_config_tests_free(t.v, t.n);
			return -1;
		}
		/* another shard's list names it too: the first list's is kept */
		size_t k = 0;
		while (k < before && strcmp(t.v[k].name, name->valuestring))
			k++;
		if (k < before) {
			mg_strv_free(argv);
			mg_strv_free(env);
			continue;
		}
		/* tests_add maps the name: a saved name is already valid, kept */
		if (tests_add(&t, name->valuestring,
			      cJSON_IsString(cname) ? cname->valuestring : name->valuestring, argv,
			      argc, cwd->valuestring, env) < 0) {
			mg_strv_free(env);
			mg_config_tests_free(t.v, t.n);
			return -1;
		}
		if (!cJSON_IsString(cname)) {
			free(t.v[t.n - 1].case_name);
			t.v[t.n - 1].case_name = NULL;
		}
		mg_strv_free(env);
	}
	mg_config_tests_free(im->saved, im->n_saved);
	im->saved = t.v ? t.v : calloc(1, sizeof(*t.v));   /* an entry may list no test */
	im->n_saved = t.n;
	return im->saved ? 0 : -1;
}

struct list_file {
	char *name;
	unsigned i, n;
};

static int list_file_cmp(const void *pa, const void *pb)
{
	const struct list_file *a = pa, *b = pb;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* DIR's saved lists: memgate-tests.json, then the shards' by count and index */
static int list_files(struct list_file **out, size_t *n, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct list_file *v = NULL;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct list_file f = { 0 };
		if (!strcmp(de->d_name, MG_DISCOVER_SAVED))
			f.n = f.i = 0;
		else if (!shard_list_name(de->d_name, &f.i, &f.n))
			continue;
		if (*n == cap) {
			struct list_file *nv = realloc(v, (cap = cap ? 2 * cap : 8) * sizeof(*v));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(f.name = strdup(de->d_name)))
			goto oom;
		v[(*n)++] = f;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), list_file_cmp);
	*out = v;
	return 0;
oom:
	closedir(d);
	while (*n)
		free(v[--*n].name);
	free(v);
	return -1;
}

/* one saved list's entries, each to the import it was saved for (unless it changed since) */
static int use_list(struct mg_config *cfg, const char *path, struct mg_error *err)
{
	char *text = NULL;
	size_t len = 0, i = 0;
	const cJSON *e, *entries;
	cJSON *root;
	struct mg_error rerr = { 0 };

	if (mg_read_file(&text, &len, path, 256u << 20, &rerr) != MG_OK) {
		if (rerr.code == MG_ENOTFOUND)
			return MG_OK;
		return mg_error_set(err, rerr.code == MG_EINVALID ? MG_EINVALID : MG_ERROR,
				    "%s", rerr.msg);
	}
	root = cJSON_ParseWithLength(text, len);
	free(text);
	entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
	if (!cJSON_IsArray(entries)) {
		cJSON_Delete(root);
		return mg_error_set(err, MG_EINVALID,
				    "%s: expected the list of tests memgate run saved", path);
	}
	cJSON_ArrayForEach(e, entries) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "kind");
		const cJSON *dir = cJSON_GetObjectItemCaseSensitive(e, "dir");
		struct mg_ctest_import *im = i < cfg->n_imports ? &cfg->imports[i] : NULL;
		i++;
		/* the configuration changed since: list this entry again */
		if (!im || im->imported || !cJSON_IsString(kind) || !cJSON_IsString(dir) ||
		    strcmp(kind->valuestring, kind_names[im->kind]) ||
		    strcmp(dir->valuestring, im->dir))
			continue;
		if (saved_entry(im, e) < 0) {
			cJSON_Delete(root);
			return mg_error_set(err, MG_EINVALID,
					    "%s: expected the list of tests memgate run saved", path);
		}
	}
	cJSON_Delete(root);
	return MG_OK;
}

int mg_discover_use_saved(struct mg_config *cfg, const char *const *dirs, size_t n_dirs,
			  struct mg_error *err)
{
	for (size_t d = 0; d < n_dirs; d++) {
		struct list_file *files;
		size_t n;
		int rc = MG_OK;
		if (list_files(&files, &n, dirs[d]) < 0)
			return mg_error_set(err, MG_ERROR, "out of memory");
		for (size_t k = 0; k < n; k++) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s", dirs[d], files[k].name);
			if (rc == MG_OK)
				rc = use_list(cfg, path, err);
			free(files[k].name);
		}
		free(files);
		if (rc != MG_OK)
			return rc;
	}
	return MG_OK;
}

static int cmp_test_name(const void *a, const void *b)
{
	return strcmp(((const struct mg_test *)a)->name, ((const struct mg_test *)b)->name);
}

int mg_discover_list(struct mg_test **out, size_t *n, const struct mg_ctest_import *im,
		     const char *tool, struct mg_error *err)
{
	struct tests t = { 0 };
	int rc;

	*out = NULL;
	*n = 0;
	if (im->saved) {
		for (size_t k = 0; k < im->n_saved; k++) {
			const struct mg_test *s = &im->saved[k];
			char **argv = strv_dup(s->argv);
			if (!argv || tests_add(&t, s->name, s->case_name ? s->case_name : s->name,
					       argv, s->argc, s->cwd, s->env) < 0) {
				mg_config_tests_free(t.v, t.n);
				return mg_discover_fail(err, MG_ERROR, im->dir, "out of memory");
			}
			if (!s->case_name) {
				free(t.v[t.n - 1].case_name);
				t.v[t.n - 1].case_name = NULL;
			}
		}
		*out = t.v;
		*n = t.n;
		return MG_OK;
	}
	if (im->kind == MG_IMPORT_GTEST)
		rc = gtest_list(&t, im, err);
	else if (im->kind == MG_IMPORT_CARGO) {
		rc = cargo_list(&t, im, tool, err);
		/* cargo reports executables as their builds finish, in no fixed
		 * order: sorted, every job of a --shard matrix splits the same list */
		if (rc == MG_OK && t.n > 1)
			qsort(t.v, t.n, sizeof(*t.v), cmp_test_name);
	}
	else
		rc = mg_error_set(err, MG_ERROR, "not a discovery entry");
	if (rc < 0) {
		mg_config_tests_free(t.v, t.n);
		return rc;
	}
	*out = t.v;
	*n = t.n;
	return MG_OK;
}
