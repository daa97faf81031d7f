/* measure.h - run one command under the tracer and build its profile
 *
 * The common path of `memgate trace` and `memgate run`: check the command can
 * be traced, run it with the tracer preloaded in a fresh trace directory,
 * read the traces and build the profile document (src/core/profile.c).
 * Prints nothing; not thread-safe (the runner reaps every child).
 */
#ifndef MEMGATE_CORE_MEASURE_H
#define MEMGATE_CORE_MEASURE_H

#include <cjson/cJSON.h>
#include <signal.h>

#include "runner.h"
#include "symbolize.h"
#include "trace.h"

struct mg_error;

struct mg_measure_opts {
	char *const *argv;          /* the command; argv[0] is looked up in PATH */
	const char *name;           /* the test's name in the profile */
	const char *cwd;            /* NULL: ours */
	char *const *env;           /* extra NAME=VALUE, NULL-terminated; may be NULL */
	int depth;                  /* -1: tracer default (64); 0: no stacks */
	int unwind_fp;              /* frame pointers only (stack-unwind: fp) */
	double timeout_s;           /* 0: none; the command's process group is killed */
	double grace_s;             /* wait for processes the command left running */
	int own_pgrp;               /* run in a new process group (needed for timeouts) */
	int root_only;              /* follow-children: false - trace the command's process only */
	int log_fd;                 /* > 2: the command's output into this file (runner.h) */
	int keep_raw;               /* keep the trace directory: m->raw_dir */
	int whole_stacks;           /* the runtime's stacks and long names whole */
	unsigned list_frames;       /* mg_run_info's: frames kept on the lists' entries; 0: all */
	sigset_t dfl;               /* set back to SIG_DFL in the command (runner.h) */
	struct mg_symbolizer *sym;  /* NULL: frames as module + offset */
	const char *commit;         /* the commit the test was built from; NULL: unknown */
	int dirty;                  /* -1: unknown */
};

struct mg_measurement {
	cJSON *doc;                 /* the profile; cJSON_Delete via release */
	struct mg_trace *trace;
	struct mg_spawn_result sr;
	char *raw_dir;              /* the trace directory, when kept */
};

/*
 * Measures the command.  MG_ENOTFOUND: it does not exist; MG_EUNTRACEABLE:
 * static, setuid, 32-bit, or it never loaded the tracer; MG_ERROR: I/O.  A
 * command that crashes or times out is measured (see the profile's "exit").
 */
int mg_measure(struct mg_measurement *m, const struct mg_measure_opts *o, struct mg_error *err);
void mg_measurement_release(struct mg_measurement *m);

/* Writes a profile atomically, indented, with a trailing newline. */
int mg_profile_write(const char *path, const cJSON *doc, struct mg_error *err);

#endif
