/* git.h - what memgate asks of git (libgit2): the commit checked out, and whether the tree is dirty
 *
 * and baseline selection by ref, merge-base and ancestry (docs/baselines.md).  A handle
 * is not thread-safe.
 */
#ifndef MEMGATE_CORE_GIT_H
#define MEMGATE_CORE_GIT_H

#include <stddef.h>

struct mg_error;

/*
 * An open repository.  libgit2 is loaded on the first open and initialised
 * while a handle is open: a command opens the repository once and passes the
 * handle to every call, whatever the number of tests (its set-up is most of
 * the cost of reading one baseline).
 */
struct mg_git;

/*
 * Opens the repository containing `path` (searching upwards).  MG_ENOTFOUND:
 * not in a git repository; MG_ERROR: libgit2 cannot be loaded.
 */
int mg_git_open(struct mg_git **repo, const char *path, struct mg_error *err);
void mg_git_close(struct mg_git *repo);

/*
 * The commit HEAD points at, as 40 hex digits in sha (41 bytes), and whether
 * tracked files differ from it (*dirty).  MG_ENOTFOUND: HEAD is unborn.
 */
int mg_git_head(struct mg_git *repo, char sha[41], int *dirty, struct mg_error *err);

/* 1 when HEAD names a branch with no commit yet. */
int mg_git_unborn(struct mg_git *repo);

/*
 * The commit whose tree holds the baselines for `rev` (docs/baselines.md): `rev` itself
 * when HEAD is that commit (or unborn), else the merge-base of HEAD and `rev`,
 * so that a branch is compared with what it forked from.  40 hex digits in
 * sha_out.  Expected errors: MG_ENOTFOUND (no such ref: the message names
 * it), MG_EINVALID (no merge-base: in a shallow clone the message says to set
 * `fetch-depth: 0`; else the histories are unrelated).
 */
int mg_git_merge_base(struct mg_git *repo, char sha_out[41], const char *rev,
		      struct mg_error *err);

/*
 * Reads the file at `file_in_repo` (relative to the repository's work tree,
 * '/'-separated) from the tree of the commit `rev` names (a sha from
 * mg_git_merge_base(), or "HEAD").  *text is malloc'd and NUL-terminated,
 * *len its length; sha_out gets the commit read.  MG_ENOTFOUND: no such
 * commit, or (sha_out then set: a new test) *text NULL when its tree has no
 * such file.
 */
int mg_git_read_at(struct mg_git *repo, char **text, size_t *len, const char *rev,
		   const char *file_in_repo, char sha_out[41], struct mg_error *err);

/*
 * Writes into out (`size` bytes) the path of `path` (absolute or relative to
 * the current directory; it, or at least its parent, must exist) relative to
 * the work tree of the repository, symlinks resolved.  MG_ENOTFOUND: a bare
 * repository or no such directory; MG_EINVALID: outside the work tree;
 * MG_ERROR: does not fit.
 */
int mg_git_relpath(struct mg_git *repo, char *out, size_t size, const char *path,
		   struct mg_error *err);

/*
 * How many commits after commit `from`, up to its descendant `to` (40 hex
 * digits each), change anything but the paths in `only` (relative to the
 * work tree: a file, or a directory and everything under it) and .gitignore
 * files, each against its first parent: a baseline's staleness
 * (docs/baselines.md, "Which baseline is gated"), where `only` is the
 * baselines directory and the config, so that the commit that records
 * baselines measured just before it does not make them stale.
 * MG_ENOTFOUND, *out -1: either commit is unknown here (a shallow clone, a
 * rewritten history) or `to` does not contain `from`.  The last answer is
 * kept on the handle.
 */
int mg_git_distance(struct mg_git *repo, long *out, const char *from, const char *to,
		    const char *const *only, size_t n_only);

/*
 * The names (without ".json") of the JSON files directly in `dir_in_repo`
 * (relative to the work tree; "" for the top) in the tree of commit
 * `commit_sha`: the tests that have a baseline there.  *names is a malloc'd
 * array of *n malloc'd strings (free each, then the array); none when the
 * directory is absent.  MG_ERROR: the commit cannot be read.
 */
int mg_git_list_at(struct mg_git *repo, char ***names, size_t *n, const char *commit_sha,
		   const char *dir_in_repo, struct mg_error *err);

#endif
