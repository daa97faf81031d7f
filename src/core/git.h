/* git.h - what memgate asks of git (libgit2): the commit checked out, and whether the tree is dirty
 *
 * Baseline selection by ref, merge-base and ancestry (SPEC §5) will live here
 * too.  Not thread-safe.
 */
#ifndef MEMGATE_CORE_GIT_H
#define MEMGATE_CORE_GIT_H

struct mg_error;

/*
 * The commit HEAD points at in the repository containing `path`, as 40 hex
 * digits in sha (41 bytes), and whether tracked files differ from it
 * (*dirty).  MG_ENOTFOUND: not in a git repository, or HEAD is unborn.
 */
int mg_git_head(char sha[41], int *dirty, const char *path, struct mg_error *err);

#endif
