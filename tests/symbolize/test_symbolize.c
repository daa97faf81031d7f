/*
 * test_symbolize.c - resolve the fixtures' call sites and compare with the
 * lines their @site markers are on (run_symbolize.sh drives it)
 *
 *   test_symbolize sites SITES SRCDIR VARIANT [FROM=TO ...]
 *       VARIANT full|nodebug|stripped|badid|missing: what the files at the
 *       paths (after the FROM=TO substitutions) still hold; see sites[] below
 *   test_symbolize api SITES SRCDIR        caching, truncation, bad input
 *   test_symbolize debuginfod SITES FROM=TO   no network unless MEMGATE_DEBUGINFOD=1
 *   test_symbolize libc                    libc with libc6-dbg (exit 77: not installed)
 *   test_symbolize versions LIB            names of versioned symbols (fixtures/sym_versions.c)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/symbolize.h"
#include "../../src/util/error.h"
#include "fixtures/sites.h"

#include "../harness.h"

struct exp_frame {
	const char *function;
	const char *marker;     /* @site:marker in src: the frame's line */
	int inlined;
};

/* What each site resolves to, by what is left of its file */
static const struct exp_site {
	const char *site;
	const char *src;
	struct exp_frame full[4];   /* DWARF, in the file or a debug file */
	const char *symtab;         /* .symtab only: one frame, this name, no line */
	const char *dynsym;         /* stripped: .dynsym's name, or NULL: 0 frames */
} sites[] = {
	{ "exe", "sym_main.c", { { "exe_func", "exe", 0 } }, "exe_func", NULL },
	{ "inlined", "sym_main.c",
	  { { "inl_inner", "inl_inner", 1 }, { "inl_outer", "inl_outer", 1 },
	    { "inl_caller", "inl_caller", 0 } }, "inl_caller", NULL },
	{ "lib", "sym_lib.c", { { "lib_func", "lib", 0 } }, "lib_func", "lib_func" },
	{ "cxx_template", "sym_cxx.cpp", { { "int add_one<int>(int)", "cxx_template", 0 } },
	  "int add_one<int>(int)", NULL },
	{ "cxx_method", "sym_cxx.cpp", { { "fx::widget::poke()", "cxx_method", 0 } },
	  "fx::widget::poke()", NULL },
};
#define N_SITES (sizeof(sites) / sizeof(sites[0]))

struct site {
	char name[64];
	char path[4096];
	unsigned long offset;
	unsigned char id[64];
	size_t id_len;
};

static struct site got[16];
static size_t n_got;

static void read_sites(const char *file)
{
	FILE *f = fopen(file, "r");
	char id[160];

	if (!f) {
		perror(file);
		exit(1);
	}
	while (n_got < 16 && fscanf(f, "%63s %4095s %lx %159s", got[n_got].name, got[n_got].path,
				    &got[n_got].offset, id) == 4) {
		struct site *s = &got[n_got++];

		for (s->id_len = 0; id[2 * s->id_len] && id[2 * s->id_len] != '-'; s->id_len++)
			sscanf(id + 2 * s->id_len, "%2hhx", &s->id[s->id_len]);
	}
	fclose(f);
}

static const struct site *find_site(const char *name)
{
	size_t i;

	for (i = 0; i < n_got; i++)
		if (!strcmp(got[i].name, name))
			return &got[i];
	fprintf(stderr, "no site '%s' in the fixtures' output\n", name);
	exit(1);
}

/* the line of "@site:marker" in file */
static int marker_line(const char *file, const char *marker)
{
	char buf[1024], tag[128];
	FILE *f = fopen(file, "r");
	int line = 0;

	if (!f) {
		perror(file);
		exit(1);
	}
	snprintf(tag, sizeof(tag), "/* @site:%s */", marker);
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (strstr(buf, tag)) {
			fclose(f);
			return line;
		}
	}
	fprintf(stderr, "no '%s' in %s\n", tag, file);
	exit(1);
}

/* the path to open for the module at `path`: FROM=TO substitutions, by real path */
static const char *mapped(const char *path, char **map, int n_map)
{
	static char out[4096];
	char rp[4096], rfrom[4096];
	int i;

	if (!realpath(path, rp))
		snprintf(rp, sizeof(rp), "%s", path);
	for (i = 0; i < n_map; i++) {
		const char *eq = strchr(map[i], '=');
		char from[4096];

		snprintf(from, sizeof(from), "%.*s", (int)(eq - map[i]), map[i]);
		if (!realpath(from, rfrom))
			snprintf(rfrom, sizeof(rfrom), "%s", from);
		if (!strcmp(rfrom, rp)) {
			snprintf(out, sizeof(out), "%s", eq + 1);
			return out;
		}
	}
	return path;
}

static void print_frames(const char *what, const struct mg_sym_frame *f, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s: %zu frames\n", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "    %s at %s:%d%s\n", f[i].function ? f[i].function : "?",
			f[i].file ? f[i].file : "?", f[i].line, f[i].inlined ? " (inlined)" : "");
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int cmd_sites(const char *srcdir, const char *variant, char **map, int n_map)
{
	struct mg_symbolizer *s;
	struct mg_error err;
	size_t i, j;

	if (mg_symbolizer_new(&s, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (i = 0; i < N_SITES; i++) {
		const struct exp_site *e = &sites[i];
		const struct site *g = find_site(e->site);
		struct mg_sym_frame want[4] = { { 0 } }, out[8];
		unsigned char id[64];
		size_t n_want = 0, n;
		char src[4096];
		int ok;

		snprintf(src, sizeof(src), "%s/%s", srcdir, e->src);
		memcpy(id, g->id, g->id_len);
		if (!strcmp(variant, "full")) {
			for (; n_want < 4 && e->full[n_want].function; n_want++)
				want[n_want] = (struct mg_sym_frame){ e->full[n_want].function, src,
					marker_line(src, e->full[n_want].marker), e->full[n_want].inlined };
		} else if (!strcmp(variant, "nodebug")) {
			want[n_want++].function = e->symtab;
		} else if (!strcmp(variant, "stripped")) {
			if (e->dynsym)
				want[n_want++].function = e->dynsym;
		} else if (!strcmp(variant, "badid")) {
			id[0] ^= 0xff;      /* the binary was rebuilt since the run */
		} else if (strcmp(variant, "missing")) {
			fprintf(stderr, "unknown variant '%s'\n", variant);
			return 2;
		}
		n = mg_symbolize(s, mapped(g->path, map, n_map), id, g->id_len, g->offset, out, 8);
		ok = n == n_want;
		for (j = 0; ok && j < n; j++)
			ok = same_str(out[j].function, want[j].function) && same_str(out[j].file, want[j].file) &&
				out[j].line == want[j].line && out[j].inlined == want[j].inlined;
		CHECKF(ok, "site '%s' (%s)", e->site, variant);
		if (!ok) {
			print_frames("expected", want, n_want);
			print_frames("got", out, n);
		}
	}
	mg_symbolizer_free(s);
	return 0;
}

static int cmd_api(const char *srcdir)
{
	struct mg_symbolizer *s;
	struct mg_error err;
	const struct site *inl = find_site("inlined"), *exe = find_site("exe");
	struct mg_sym_frame a[8], b[8];
	char src[4096];
	size_t n, i;

	CHECKF(mg_symbolizer_new(&s, &err) == MG_OK, "%s", err.msg);
	snprintf(src, sizeof(src), "%s/sym_main.c", srcdir);

	/* twice, from the cache: the same frames, the same strings */
	n = mg_symbolize(s, inl->path, inl->id, inl->id_len, inl->offset, a, 8);
	CHECKF(n == 3, "%zu frames", n);
	CHECKF(mg_symbolize(s, inl->path, inl->id, inl->id_len, inl->offset, b, 8) == n, "cached count");
	for (i = 0; i < n; i++)
		CHECKF(a[i].function == b[i].function && a[i].file == b[i].file && a[i].line == b[i].line,
		      "cached frame %zu", i);

	/* max cuts from the outside: the innermost frames come first */
	CHECKF(mg_symbolize(s, inl->path, inl->id, inl->id_len, inl->offset, b, 1) == 1, "max 1");
	CHECKF(same_str(b[0].function, "inl_inner") && b[0].inlined == 1, "innermost first");
	CHECKF(mg_symbolize(s, inl->path, inl->id, inl->id_len, inl->offset, b, 0) == 0, "max 0");

	/* no build-id given: not checked */
	n = mg_symbolize(s, exe->path, NULL, 0, exe->offset, b, 8);
	CHECKF(n == 1 && same_str(b[0].function, "exe_func") &&
	      b[0].line == marker_line(src, "exe"), "no build-id: %zu frames", n);

	/* strings outlive further lookups */
	CHECKF(!strcmp(a[0].function, "inl_inner") && !strcmp(a[2].function, "inl_caller"), "strings");

	/* not ELF, a directory, missing, offset 0, an address in no function */
	CHECKF(mg_symbolize(s, src, NULL, 0, 0x1000, b, 8) == 0, "not ELF");
	CHECKF(mg_symbolize(s, srcdir, NULL, 0, 0x1000, b, 8) == 0, "a directory");
	CHECKF(mg_symbolize(s, "/nonexistent/memgate/x.so", NULL, 0, 0x1000, b, 8) == 0, "missing");
	CHECKF(mg_symbolize(s, exe->path, exe->id, exe->id_len, 0, b, 8) == 0, "offset 0");
	CHECKF(mg_symbolize(s, exe->path, exe->id, exe->id_len, 0x7fffffff, b, 8) == 0, "no function");
	/* and again: failures are cached too */
	CHECKF(mg_symbolize(s, "/nonexistent/memgate/x.so", NULL, 0, 0x1000, b, 8) == 0, "missing again");
	/* a FIFO or a character device where a module was: a trace the program
	 * scribbled over can name any path, and opening or reading them would
	 * wait for a writer (the watchdog fails the test instead of hanging) */
	char fifo[] = "/tmp/memgate-symbolize-XXXXXX";
	int d = mkdtemp(fifo) ? 0 : -1;
	char fpath[64];
	snprintf(fpath, sizeof(fpath), "%s/fifo", fifo);
	CHECKF(d == 0 && mkfifo(fpath, 0600) == 0, "mkfifo %s", fpath);
	alarm(20);
	CHECKF(mg_symbolize(s, fpath, NULL, 0, 0x1000, b, 8) == 0, "a FIFO");
	CHECKF(mg_symbolize(s, "/dev/zero", NULL, 0, 0x1000, b, 8) == 0, "a device");
	alarm(0);
	unlink(fpath);
	rmdir(fifo);
	mg_symbolizer_free(s);
	mg_symbolizer_free(NULL);
	return 0;
}

/* a socket on loopback standing in for a debuginfod server; *port gets its port */
static int listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("listener");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int connected(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static int cmd_debuginfod(char **map, int n_map)
{
	const struct site *g = find_site("exe");
	const char *path = mapped(g->path, map, n_map);
	struct mg_symbolizer *s;
	struct mg_sym_frame out[8];
	struct mg_error err;
	char urls[64], cache[] = "/tmp/memgate-sym-XXXXXX";
	int port, fd = listener(&port);

	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", port);
	if (!mkdtemp(cache)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("DEBUGINFOD_URLS", urls, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "1", 1);
	setenv("DEBUGINFOD_RETRY_LIMIT", "0", 1);
	unsetenv("DEBUGINFOD_PROGRESS");    /* any value turns it on */
	unsetenv("MEMGATE_DEBUGINFOD");

	CHECKF(mg_symbolizer_new(&s, &err) == MG_OK, "%s", err.msg);
	CHECKF(mg_symbolize(s, path, g->id, g->id_len, g->offset, out, 8) == 0, "stripped: no frames");
	CHECKF(!connected(fd), "debuginfod was contacted without MEMGATE_DEBUGINFOD=1");
	/* not even loaded: it brings libcurl and twenty libraries, 20-40 ms */
	CHECKF(!dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_NOLOAD),
	      "libdebuginfod.so was loaded without MEMGATE_DEBUGINFOD=1");
	CHECKF(getenv("DEBUGINFOD_URLS") && !strcmp(getenv("DEBUGINFOD_URLS"), urls),
	      "DEBUGINFOD_URLS restored");
	mg_symbolizer_free(s);

	/* the control: with MEMGATE_DEBUGINFOD=1 the same lookup does ask (if libdw can) */
	if (dlopen("libdebuginfod.so.1", RTLD_LAZY)) {
		setenv("MEMGATE_DEBUGINFOD", "1", 1);
		CHECKF(mg_symbolizer_new(&s, &err) == MG_OK, "%s", err.msg);
		CHECKF(mg_symbolize(s, path, g->id, g->id_len, g->offset, out, 8) == 0, "no server: no frames");
		CHECKF(connected(fd), "MEMGATE_DEBUGINFOD=1 did not reach debuginfod");
		mg_symbolizer_free(s);
	} else {
		fprintf(stderr, "no libdebuginfod.so.1: control skipped\n");
	}
	close(fd);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", cache);
	}
	return 0;
}

static int cmd_libc(void)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	struct fx_find f = { 0 };
	struct mg_symbolizer *s;
	struct mg_sym_frame out[8];
	struct mg_error err;
	char dbg[256];
	size_t n, i;
	int len;

	if (!h || !(f.addr = (unsigned long)dlsym(h, "malloc")) || !dl_iterate_phdr(fx_phdr, &f) ||
	    f.id_len < 2) {
		fprintf(stderr, "cannot find malloc in libc.so.6\n");
		return 1;
	}
	len = snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%02x/", f.id[0]);
	for (i = 1; i < f.id_len; i++)
		len += snprintf(dbg + len, sizeof(dbg) - (size_t)len, "%02x", f.id[i]);
	snprintf(dbg + len, sizeof(dbg) - (size_t)len, ".debug");
	if (access(dbg, R_OK)) {
		fprintf(stderr, "no %s (libc6-dbg): skipped\n", dbg);
		return 77;
	}
	/* system libraries give lines only when asked (symbolize.c) */
	setenv("MEMGATE_SYSTEM_LINES", "1", 1);
	CHECKF(mg_symbolizer_new(&s, &err) == MG_OK, "%s", err.msg);
	/* +1: a "return address" just after malloc's entry, so its first line */
	n = mg_symbolize(s, f.name, f.id, f.id_len, f.addr - f.bias + 1, out, 8);
	CHECKF(n >= 1 && out[n - 1].function && strstr(out[n - 1].function, "malloc") &&
	      out[n - 1].file && strstr(out[n - 1].file, "malloc.c") && out[n - 1].line > 0,
	      "malloc in %s: %zu frames", f.name, n);
	print_frames("libc malloc", out, n);
	mg_symbolizer_free(s);
	return 0;
}

/* each versioned function of LIB (no DWARF: its .symtab names it) by the name it is shown by */
static int cmd_versions(const char *lib)
{
	static const struct { const char *sym, *version, *shown; } want[] = {
		{ "foo", "V2", "foo" },                 /* the default version: foo@@V2 */
		{ "foo", "V1", "foo@V1" },              /* an old one beside it: told apart */
		{ "gone", "V1", "gone" },               /* an old one alone */
		{ "bar", "V1", "bar" },
		{ "_ZN2ns6cxx_fnEi", "V2", "ns::cxx_fn(int)" },
		{ "_ZN2ns6cxx_fnEi", "V1", "ns::cxx_fn(int)@V1" },
	};
	void *h = dlopen(lib, RTLD_NOW);
	struct mg_symbolizer *s;
	struct mg_error err;

	CHECKF(h != NULL, "cannot load %s: %s", lib, dlerror());
	if (!h)
		return 1;
	CHECKF(mg_symbolizer_new(&s, &err) == MG_OK, "%s", err.msg);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct fx_find f = { 0 };
		struct mg_sym_frame out[8];
		size_t n = 0;

		f.addr = (unsigned long)dlvsym(h, want[i].sym, want[i].version);
		CHECKF(f.addr && dl_iterate_phdr(fx_phdr, &f), "%s@%s not found", want[i].sym,
		       want[i].version);
		if (f.addr)
			n = mg_symbolize(s, f.name, f.id, f.id_len, f.addr - f.bias + 1, out, 8);
		CHECKF(n == 1 && out[0].function && !strcmp(out[0].function, want[i].shown),
		       "%s@%s: expected '%s', got '%s'", want[i].sym, want[i].version,
		       want[i].shown, n ? out[0].function : "(nothing)");
	}
	mg_symbolizer_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	int ret = 2;

	if (argc >= 5 && !strcmp(argv[1], "sites")) {
		read_sites(argv[2]);
		ret = cmd_sites(argv[3], argv[4], argv + 5, argc - 5);
	} else if (argc == 4 && !strcmp(argv[1], "api")) {
		read_sites(argv[2]);
		ret = cmd_api(argv[3]);
	} else if (argc >= 3 && !strcmp(argv[1], "debuginfod")) {
		read_sites(argv[2]);
		ret = cmd_debuginfod(argv + 3, argc - 3);
	} else if (argc == 2 && !strcmp(argv[1], "libc")) {
		ret = cmd_libc();
	} else if (argc == 3 && !strcmp(argv[1], "versions")) {
		ret = cmd_versions(argv[2]);
	} else {
		fprintf(stderr, "usage: test_symbolize sites|api|debuginfod|libc|versions ...\n");
	}
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : ret;
}
