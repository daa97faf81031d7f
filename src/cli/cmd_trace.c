/* cmd_trace.c - `memgate trace [-o FILE] -- COMMAND [ARG...]`: profile any command ad hoc */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/measure.h"
#include "../core/profile.h"
#include "../core/units.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"

static const char usage_text[] =
	"usage: memgate trace [-o FILE] [--depth N | --no-stacks] [--unwind cfi|fp]\n"
	"                     [--grace S] [--keep-raw] [--allow-untraced] [--whole-stacks]\n"
	"                     -- COMMAND [ARG...]\n"
	"\n"
	"Runs COMMAND under memgate's tracer, follows every process it starts, prints\n"
	"a summary per process on stderr and writes the profile JSON (docs/profile-schema.md).\n"
	"\n"
	"  -o, --output FILE   where to write the profile (default: memgate-trace.json)\n"
	"  --depth N           call-stack frames kept per allocation (default 64, max 256)\n"
	"  --no-stacks         exact figures only, no call stacks: the cheapest mode\n"
	"  --unwind cfi|fp     walk call stacks by the call-frame information (default),\n"
	"                      or by frame pointers only: faster, but code built without\n"
	"                      them loses its callers\n"
	"  --grace SECONDS     wait this long for processes left running by COMMAND, then\n"
	"                      end them (default 10)\n"
	"  --keep-raw          keep the raw per-process trace files and print their directory\n"
	"  --allow-untraced    a program COMMAND starts that cannot be traced (static,\n"
	"                      32-bit, or started without LD_PRELOAD) is expected: exit 0\n"
	"  --whole-stacks      keep the stacks of the runtime's own blocks whole (by\n"
	"                      default they end where the runtime was called) and long\n"
	"                      function names with their generic arguments\n"
	"\n"
	"exit status: 0 when COMMAND was measured, whatever its own exit status (printed);\n"
	"2 for a usage error; 3 when it could not be traced (missing, static, setuid),\n"
	"a program it started ran untraced (without --allow-untraced), it was killed\n"
	"by a signal, or the profile could not be written.\n";

static void print_summary(const struct mg_trace *t, const struct mg_spawn_result *sr)
{
	char b1[32], b2[32], b3[32], b4[32];
	uint64_t allocs = 0, frees = 0, total = 0, peak = 0, leaked = 0, lblocks = 0;

	fprintf(stderr, "\nmemgate: %zu process%s traced in %.1f ms\n", t->n_procs,
		t->n_procs == 1 ? "" : "es", sr->duration_ms);
	fprintf(stderr, "%8s %8s %10s %10s %12s %12s %12s %11s  %-12s %s\n", "pid", "parent",
		"allocs", "frees", "total", "peak", "leaked", "rss peak", "end", "command");
	for (size_t i = 0; i < t->n_procs; i++) {
		const struct mg_proc *p = &t->procs[i];
		const struct mgt_header *h = p->images[p->n_images - 1]->hdr;
		char end[32];
		switch (p->end) {
		case MG_END_EXITED:
			snprintf(end, sizeof(end), "exit %d%s", p->exit_code,
				 p->via_underscore_exit ? " (_exit)" : "");
			break;
		case MG_END_SIGNALED:
			snprintf(end, sizeof(end), "signal %d", p->signal);
			break;
		case MG_END_UNTRACED:
			snprintf(end, sizeof(end), "exec, untraced");
			break;
		default:
			snprintf(end, sizeof(end), "died");
		}
		const char *cmd = h->argv_len ? h->argv : h->exe;
		fprintf(stderr, "%8d %8d %10llu %10llu %12s %12s %12s %11s  %-12s %s\n", p->pid,
			p->ppid, (unsigned long long)p->f.allocs, (unsigned long long)p->f.frees,
			mg_fmt_size(b1, sizeof(b1), p->f.total_bytes), mg_fmt_size(b2, sizeof(b2), p->f.peak_bytes),
			mg_fmt_size(b3, sizeof(b3), p->f.leaked_bytes), mg_fmt_size(b4, sizeof(b4), p->f.rss_peak_bytes), end,
			cmd);
		allocs += p->f.allocs;
		frees += p->f.frees;
		total += p->f.total_bytes;
		leaked += p->f.leaked_bytes;
		lblocks += p->f.leaked_blocks;
		if (p->f.peak_bytes > peak)
			peak = p->f.peak_bytes;
	}
	fprintf(stderr, "memgate: %llu allocations, %llu frees, %llu bytes allocated; "
		"peak %llu bytes; %llu bytes in %llu blocks live at exit\n",
		(unsigned long long)allocs, (unsigned long long)frees, (unsigned long long)total,
		(unsigned long long)peak, (unsigned long long)leaked, (unsigned long long)lblocks);
}

/* frames shown per stack on stderr: the summary's lists, the leaks */
enum { SHOWN_FRAMES = 4, SHOWN_LEAK_FRAMES = 6 };

/* "function (file:line)", or the module and offset when unknown */
static void print_frame(const cJSON *f)
{
	const cJSON *fn = cJSON_GetObjectItem(f, "function"), *file = cJSON_GetObjectItem(f, "file");
	const cJSON *line = cJSON_GetObjectItem(f, "line"), *mod = cJSON_GetObjectItem(f, "module");
	const cJSON *off = cJSON_GetObjectItem(f, "offset");
	const char *base = cJSON_IsString(file) ? strrchr(file->valuestring, '/') : NULL;
	fprintf(stderr, "        %s", cJSON_IsString(fn) ? fn->valuestring : "??");
	if (cJSON_IsString(file))
		fprintf(stderr, " (%s:%d)", base ? base + 1 : file->valuestring,
			cJSON_IsNumber(line) ? line->valueint : 0);
	else if (cJSON_IsString(mod))
		fprintf(stderr, " (%s+%s)", strrchr(mod->valuestring, '/') ?
			strrchr(mod->valuestring, '/') + 1 : mod->valuestring,
			cJSON_IsString(off) ? off->valuestring : "?");
	if (cJSON_IsTrue(cJSON_GetObjectItem(f, "inlined")))
		fputs(" [inlined]", stderr);
	fputc('\n', stderr);
}

/* The stacks of one list of the process that peaked highest: live at the peak, or top by bytes. */
static void print_stacks(const cJSON *doc, const char *list, const char *title, int max_stacks,
			 int max_frames)
{
	const cJSON *p, *s, *best = NULL;
	int shown = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "processes"))
		if (!best || cJSON_GetObjectItem(p, "peak_bytes")->valuedouble >
			     cJSON_GetObjectItem(best, "peak_bytes")->valuedouble)
			best = p;
	if (!best)
		return;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(best, list)) {
		const cJSON *f, *bytes = cJSON_GetObjectItem(s, "bytes");
		int nf = 0;
		if (shown++ == max_stacks)
			break;
		if (shown == 1)
			fprintf(stderr, "memgate: %s, pid %d:\n", title,
				cJSON_GetObjectItem(best, "pid")->valueint);
		if (bytes)
			fprintf(stderr, "    %.0f bytes in %.0f blocks\n", bytes->valuedouble,
				cJSON_GetObjectItem(s, "blocks")->valuedouble);
		else
			fprintf(stderr, "    %.0f bytes in %.0f allocations\n",
				cJSON_GetObjectItem(s, "total_bytes")->valuedouble,
				cJSON_GetObjectItem(s, "allocs")->valuedouble);
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "frames"))
			if (nf++ < max_frames)
				print_frame(f);
	}
}

/* The largest leaks of the program itself (runtime-owned ones are only counted). */
static void print_leaks(const cJSON *doc, int max_stacks, int max_frames)
{
	const cJSON *p, *s;
	int shown = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "processes")) {
		cJSON_ArrayForEach(s, cJSON_GetObjectItem(p, "leak_stacks")) {
			const cJSON *f;
			int nf = 0;
			if (cJSON_GetObjectItem(s, "runtime") || shown == max_stacks)
				continue;
			if (!shown++)
				fputs("memgate: largest leaks by allocation stack:\n", stderr);
			const cJSON *def = cJSON_GetObjectItem(s, "definitely_lost_bytes");
			fprintf(stderr, "    %.0f bytes in %.0f blocks%s, pid %d\n",
				cJSON_GetObjectItem(s, "bytes")->valuedouble,
				cJSON_GetObjectItem(s, "blocks")->valuedouble,
				cJSON_IsNumber(def) && def->valuedouble > 0 ? " (some definitely lost)" :
				cJSON_IsNumber(def) ? " (still reachable or possibly lost)" : "",
				cJSON_GetObjectItem(p, "pid")->valueint);
			cJSON_ArrayForEach(f, cJSON_GetObjectItem(s, "frames"))
				if (nf++ < max_frames)
					print_frame(f);
		}
	}
	const cJSON *rt = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "summary"),
					      "leaked_runtime_bytes");
	if (cJSON_IsNumber(rt) && rt->valuedouble > 0)
		fprintf(stderr, "memgate: %.0f bytes live at exit belong to the runtime "
			"(stdio buffers, the exception pool, Rust std's thread data...): counted, not blamed\n",
			rt->valuedouble);
}

/* how the command ended, told on stderr, as an exit code */
static int how_it_ended(int st, const cJSON *doc, const char *cmd, int allow_untraced)
{
	int ret = MG_EXIT_PASS;
	if (WIFSIGNALED(st)) {
		mg_cli_note("'%s' was killed by signal %d (%s): figures up to that moment", cmd,
			    WTERMSIG(st), strsignal(WTERMSIG(st)));
		ret = MG_EXIT_ERROR;
	} else {
		fprintf(stderr, "memgate: '%s' exited with status %d\n", cmd, WEXITSTATUS(st));
	}
	/* figures without what ran untraced are not the command's: loud, exit 3 */
	int n_untraced = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "untraced"));
	if (n_untraced && !allow_untraced) {
		mg_cli_error("%d program%s started by '%s' ran untraced: the figures leave %s out "
			     "(--allow-untraced if that is expected)", n_untraced,
			     n_untraced == 1 ? "" : "s", cmd, n_untraced == 1 ? "it" : "them");
		ret = MG_EXIT_ERROR;
	}
	return ret;
}

int cmd_trace(int argc, char **argv)
{
	const char *output = "memgate-trace.json";
	int depth = -1, unwind_fp = 0, whole = 0;
	double grace = 10;
	int keep = 0, allow_untraced = 0, i, ret = MG_EXIT_ERROR;
	struct mg_error err = { 0 };
	struct mg_measurement m = { 0 };
	struct mg_symbolizer *sym = NULL;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return MG_EXIT_PASS;
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
			output = argv[++i];
		} else if (!strcmp(a, "--depth") && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || v == 0 || v > MGT_MAX_DEPTH) {
				mg_cli_error("--depth: expected a number from 1 to %u, got '%s'",
					   MGT_MAX_DEPTH, argv[i]);
				return MG_EXIT_USAGE;
			}
			depth = (int)v;
		} else if (!strcmp(a, "--no-stacks")) {
			depth = 0;
		} else if (!strcmp(a, "--unwind") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "cfi") && strcmp(argv[i], "fp")) {
				mg_cli_error("--unwind: expected cfi or fp, got '%s'", argv[i]);
				return MG_EXIT_USAGE;
			}
			unwind_fp = !strcmp(argv[i], "fp");
		} else if (!strcmp(a, "--grace") && i + 1 < argc) {
			char *end;
			grace = strtod(argv[++i], &end);
			if (*end || grace < 0) {
				mg_cli_error("--grace: expected seconds, got '%s'", argv[i]);
				return MG_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--keep-raw")) {
			keep = 1;
		} else if (!strcmp(a, "--allow-untraced")) {
			allow_untraced = 1;
		} else if (!strcmp(a, "--whole-stacks")) {
			whole = 1;
		} else if (a[0] == '-') {
			mg_cli_error("trace: unknown option '%s'\n%s", a, usage_text);
			return MG_EXIT_USAGE;
		} else {
			break;                        /* the command, without "--" */
		}
	}
	if (i >= argc) {
		mg_cli_error("trace: no command given\n%s", usage_text);
		return MG_EXIT_USAGE;
	}
	char **cmd = argv + i;

	const char *slash = strrchr(cmd[0], '/');
	struct mg_measure_opts mo = {
		.argv = cmd, .name = slash ? slash + 1 : cmd[0], .depth = depth, .unwind_fp = unwind_fp,
		.grace_s = grace,
		.keep_raw = keep, .dirty = -1, .whole_stacks = whole,
		/* the lists' frames are not in the file: only the few printed below */
		.list_frames = SHOWN_FRAMES > SHOWN_LEAK_FRAMES ? SHOWN_FRAMES : SHOWN_LEAK_FRAMES,
	};
	if (mg_symbolizer_new(&sym, &err) != MG_OK) {
		mg_cli_error("%s", err.msg);
		goto done;
	}
	mo.sym = sym;
	/* like system(): ^C goes to the command (which gets the dispositions we
	 * had back); we stay to report what it did */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigemptyset(&mo.dfl);
	if (old_int.sa_handler == SIG_DFL)
		sigaddset(&mo.dfl, SIGINT);
	if (old_quit.sa_handler == SIG_DFL)
		sigaddset(&mo.dfl, SIGQUIT);
	int r = mg_measure(&m, &mo, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (m.raw_dir)
		fprintf(stderr, "memgate: raw traces kept in %s\n", m.raw_dir);
	if (r != MG_OK || mg_profile_write(output, m.doc, &err) != MG_OK) {
		mg_cli_error("%s", err.msg);
		goto done;
	}
	const struct mg_trace *t = m.trace;
	const struct mg_spawn_result *sr = &m.sr;
	cJSON *doc = m.doc;

	print_summary(t, sr);
	print_stacks(doc, "peak_stacks", "live at the peak", 3, SHOWN_FRAMES);
	print_stacks(doc, "top_stacks_by_bytes", "most bytes allocated", 3, SHOWN_FRAMES);
	print_leaks(doc, 5, SHOWN_LEAK_FRAMES);
	cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItem(doc, "warnings"))
		mg_cli_warning("%s", w->valuestring);
	if (sr->leftover)
		mg_cli_warning("processes were still running %.0f s after the command ended; "
			   "they were ended, their figures are partial", grace);
	fprintf(stderr, "memgate: profile written to %s\n", output);

	ret = how_it_ended(sr->root_status, doc, cmd[0], allow_untraced);
done:
	mg_measurement_release(&m);
	mg_symbolizer_free(sym);
	return ret;
}
