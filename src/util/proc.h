/* proc.h - the processes below this one, found through /proc
 *
 * A child subreaper (runner.c) inherits every orphan of its tree, including
 * those that left its process group or session with setsid(): the process
 * group is not enough to end a tree, its parent links are.
 */
#ifndef MEMGATE_UTIL_PROC_H
#define MEMGATE_UTIL_PROC_H

#include <sys/types.h>

/*
 * Sends `sig` to every live (not zombie) process whose chain of parents
 * leads to `root` (root itself excluded), as /proc shows them now.  Returns
 * how many were signalled, or -1 when /proc cannot be read.  Processes
 * forked meanwhile are missed: call again until it returns 0.
 */
int mg_proc_signal_descendants(pid_t root, int sig);

#endif
