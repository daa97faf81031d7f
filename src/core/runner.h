/* runner.h - start a command under the tracer and wait for its whole process tree
 *
 * A shepherd process (a fork of the caller) becomes a child subreaper and
 * starts the command, so orphaned descendants are reaped there and their exit
 * statuses are known; it dies with the caller, even one killed by SIGKILL,
 * ending the tree first (docs/limits.md, "When memgate is killed").  The
 * command runs with LD_PRELOAD and MEMGATE_DIR set, every process it starts
 * inheriting them.  With a log (`log_fd`), its stdout and stderr are one pipe
 * that the shepherd drains into the log while it waits (capture.h), so the
 * command never blocks on a full pipe and the whole tree's output is kept.
 */
#ifndef MEMGATE_CORE_RUNNER_H
#define MEMGATE_CORE_RUNNER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct mg_error;

struct mg_spawn_opts {
	char *const *argv;          /* argv[0] resolved with mg_check_traceable() */
	const char *path;           /* the executable to run */
	const char *cwd;            /* NULL: memgate's */
	char *const *env;           /* extra NAME=VALUE, NULL-terminated; may be NULL */
	const char *preload;        /* absolute path of libmemgate.so */
	const char *trace_dir;      /* absolute, existing, empty */
	int depth;                  /* MEMGATE_DEPTH; -1 = tracer default (64), 0 = no stacks */
	int unwind_fp;              /* MEMGATE_UNWIND=fp: frame pointers only */
	double timeout_s;           /* 0 = none; on expiry the process group is killed */
	double grace_s;             /* how long to wait for descendants after the command */
	int own_pgrp;               /* run in a new process group (needed for timeouts) */
	int root_only;              /* follow-children: false - trace the command's process only */
	int log_fd;                 /* > 2: stdout and stderr of the whole tree go through a
				     * pipe into this file, bounded (capture.h); 0: inherited */
	sigset_t dfl;               /* signals set back to SIG_DFL in the command before it
				     * starts (zeroed: none): those the caller ignores only while
				     * it waits, as system() does with SIGINT and SIGQUIT */
};

struct mg_spawn_result {
	int root_pid;
	int root_status;            /* raw wait status of the command */
	int timed_out;
	int leftover;               /* descendants still running when we stopped waiting */
	double duration_ms;
	uint64_t output_bytes;      /* with log_fd: what the tree wrote to stdout and stderr */
	uint64_t output_cut;        /* of which this many are not in the log (capture.h) */
	struct mg_reaped *reaped;   /* every status memgate reaped; free() */
	size_t n_reaped;
};

/*
 * Checks that `cmd` can be traced and resolves it through PATH: exists, is
 * executable, is not setuid/setgid, is dynamically linked (scripts: their
 * interpreter).  *path is malloc'd.  MG_ENOTFOUND / MG_EUNTRACEABLE with a
 * one-line reason.
 */
int mg_check_traceable(char **path, const char *cmd, struct mg_error *err);

/* The tracer library: $MEMGATE_PRELOAD, else beside this executable, else
 * ../lib/memgate/ from it (the install layout).  malloc'd. */
int mg_find_preload(char **out, struct mg_error *err);

/* Runs and waits.  MG_ERROR when the command could not be started.  The
 * caller becomes a subreaper too (the shepherd's orphans, should it be
 * killed), and should have no other children meanwhile. */
int mg_spawn_traced(struct mg_spawn_result *res, const struct mg_spawn_opts *o,
		    struct mg_error *err);

void mg_spawn_result_release(struct mg_spawn_result *res);

#endif
