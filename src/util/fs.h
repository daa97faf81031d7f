/* fs.h - file helpers: atomic writes, temporary directories */
#ifndef MEMGATE_UTIL_FS_H
#define MEMGATE_UTIL_FS_H

#include <stddef.h>

struct mg_error;

/*
 * Writes `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  An interrupted write
 * leaves the old file (or none), never a partial one.  Only a regular file
 * (or an absent one) is replaced so: a FIFO, device or other non-regular
 * target is written in place, and a symlink is followed, the regular file it
 * leads to (or the one a dangling link names) being the one replaced
 * (README.md, "Files memgate writes and reads").
 */
int mg_write_file_atomic(const char *path, const char *data, size_t len, struct mg_error *err);

/*
 * Removes the temporary files mg_write_file_atomic() left in `dir` when it
 * was killed mid-write (NAME.tmp.XXXXXX) and that are older than `age_s`
 * seconds (younger ones may belong to a writer at work).  Returns how many
 * were removed; each name is passed to `removed` (may be NULL).
 */
#define MG_TMP_STALE_S 60       /* a temporary file older than this is no writer's at work */
int mg_clean_stale_tmp(const char *dir, unsigned age_s, void (*removed)(const char *name));

/* the largest profile, baseline or result read whole: a profile with every
 * stack (100k stacks at depth 20 is about 7 MB) stays far below it */
#define MG_MAX_DOC ((size_t)1 << 30)

/* 1 when path names a regular file (symlinks followed), else 0: what may be
 * opened and read without waiting, where a FIFO or a device would block */
int mg_is_regular(const char *path);

/* Reads a whole file of at most max bytes (NUL-terminated); *out is malloc'd.
 * Its type is checked before anything is read, a FIFO never waited for.
 * MG_ENOTFOUND: no such file; MG_EINVALID: not a regular file (a FIFO, a
 * directory...); MG_ERROR: unreadable or larger than max. */
int mg_read_file(char **out, size_t *len, const char *path, size_t max, struct mg_error *err);

/* mg_read_file() for a file of the repository's work tree (a baseline): when
 * `path` is inside a git work tree (a .git above it), a path that resolves
 * outside it, through a symlink, is refused (MG_EINVALID). */
int mg_read_tree_file(char **out, size_t *len, const char *path, size_t max, struct mg_error *err);

/*
 * Takes the exclusive lock of directory `dir` (flock(2) on the directory
 * itself: no lock file, nothing for git to see), waiting up to wait_s
 * seconds; `waiting` (may be NULL) is told once when it has to wait.  *fd_out
 * holds it until closed (or the process ends).  MG_ERROR when it cannot be
 * had in time.
 */
int mg_lock_dir(int *fd_out, const char *dir, double wait_s, void (*waiting)(const char *dir),
		struct mg_error *err);

/* Writes all len bytes to fd (again after EINTR and short writes); -1 with errno. */
int mg_write_all(int fd, const char *p, size_t len);

/* Creates dir and its missing parents, like mkdir -p; -1 with errno set on failure. */
int mg_mkdirs(const char *dir);

/* Creates a fresh private directory under $TMPDIR (or /tmp); *out is malloc'd. */
int mg_mkdtemp(char **out, const char *prefix, struct mg_error *err);

/* Removes a directory and the plain files in it (not recursive beyond one level). */
void mg_rmtree(const char *dir);

#endif
