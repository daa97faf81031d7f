/* git.h - what memgate asks of git (libgit2): the commit checked out, and whether the tree is dirty
 *
 * and baseline selection by ref, merge-base and ancestry (SPEC §5).  Not
 * thread-safe.
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

/* 1 when `path` is in a repository whose HEAD names a branch with no commit yet. */
int mg_git_unborn(const char *path);

/*
 * The commit whose tree holds the baselines for `rev` (SPEC §5), in the
 * repository containing `repo_path`: `rev` itself when HEAD is that commit
 * (or unborn), else the merge-base of HEAD and `rev`, so that a branch is
 * compared with what it forked from.  40 hex digits in sha_out.  Expected
 * errors: MG_ENOTFOUND (not a repository, or no such ref: the message names
 * it), MG_EINVALID (no merge-base: in a shallow clone the message says to set
 * `fetch-depth: 0`; else the histories are unrelated).
 */
int mg_git_merge_base(char sha_out[41], const char *repo_path, const char *rev,
		      struct mg_error *err);

/*
 * Reads the file at `file_in_repo` (relative to the repository's work tree,
 * '/'-separated) from the tree of the commit mg_git_merge_base() picks for
 * `rev`.  *text is malloc'd and NUL-terminated, *len its length; sha_out
 * gets the commit read.  Expected errors: those of mg_git_merge_base(), and
 * MG_ENOTFOUND with *text NULL when that tree has no such file (sha_out is
 * then set: a new test).
 */
int mg_git_read_at(char **text, size_t *len, const char *repo_path, const char *rev,
		   const char *file_in_repo, char sha_out[41], struct mg_error *err);

/*
 * Writes into out (`size` bytes) the path of `path` (absolute or relative to
 * the current directory; it, or at least its parent, must exist) relative to
 * the work tree of the repository containing it, symlinks resolved.
 * MG_ENOTFOUND: not in a repository or no such directory; MG_EINVALID: outside
 * the work tree; MG_ERROR: does not fit.
 */
int mg_git_relpath(char *out, size_t size, const char *path, struct mg_error *err);

/*
 * How many commits lie between commit `from` and its descendant `to` (40 hex
 * digits each), for a baseline's staleness (SPEC §5.3).  MG_ENOTFOUND, *out
 * -1: either is unknown here (a shallow clone, a rewritten history) or `to`
 * does not contain `from`.
 */
int mg_git_distance(long *out, const char *repo_path, const char *from, const char *to);

/*
 * The names (without ".json") of the JSON files directly in `dir_in_repo`
 * (relative to the work tree; "" for the top) in the tree of commit
 * `commit_sha`: the tests that have a baseline there.  *names is a malloc'd
 * array of *n malloc'd strings (free each, then the array); none when the
 * directory is absent.  MG_ERROR: the commit cannot be read.
 */
int mg_git_list_at(char ***names, size_t *n, const char *repo_path, const char *commit_sha,
		   const char *dir_in_repo, struct mg_error *err);

#endif
