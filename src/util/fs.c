/* fs.c - atomic file writes and temporary directories */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fs.h"

int mg_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A target that is not a regular file (a FIFO, a device, /dev/stdout's pipe) is
 * written in place: renaming over it would replace the node itself. */
static int write_in_place(const char *path, const char *data, size_t len, struct mg_error *err)
{
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC), saved;
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	if (mg_write_all(fd, data, len) < 0) {
		saved = errno;
		close(fd);
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(saved));
	}
	if (close(fd) < 0 && errno != EINTR)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	return MG_OK;
}

/* The name the last component of a dangling symlink chain leads to (the file a
 * write through the link creates), in out; -1 with errno on a loop or error. */
static int dangling_target(const char *path, char out[PATH_MAX])
{
	char link[PATH_MAX], next[PATH_MAX];
	struct stat st;
	snprintf(out, PATH_MAX, "%s", path);
	for (int hops = 0; hops < 40; hops++) {
		if (lstat(out, &st) < 0)
			return errno == ENOENT ? 0 : -1;
		if (!S_ISLNK(st.st_mode)) {
			errno = EEXIST;         /* appeared meanwhile: the caller starts over */
			return -1;
		}
		ssize_t n = readlink(out, link, sizeof(link) - 1);
		if (n < 0)
			return -1;
		link[n] = '\0';
		const char *slash = strrchr(out, '/');
		if (link[0] == '/' || !slash)
			n = snprintf(next, sizeof(next), "%s", link);
		else
			n = snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - out), out, link);
		if (n >= (ssize_t)sizeof(next)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(out, next, (size_t)n + 1);
	}
	errno = ELOOP;
	return -1;
}

/* Temporary file next to `path`, fsync, rename over it, fsync of the directory. */
static int replace_atomic(const char *path, const char *data, size_t len, struct mg_error *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return mg_error_set(err, MG_ERROR, "cannot write '%s': path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	if (mg_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(saved));
	}
	/* a writer killed here leaves the old file intact (tests/cli/accept_test.sh) */
	/* mkstemp makes 0600; a profile or baseline is an ordinary file */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(saved));
	}
	if (slash) {
		size_t n = (size_t)(slash - path);
		memcpy(dir, path, n ? n : 1);
		dir[n ? n : 1] = '\0';
	} else {
		strcpy(dir, ".");
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);      /* make the rename itself durable */
		close(fd);
	}
	return MG_OK;
}

int mg_write_file_atomic(const char *path, const char *data, size_t len, struct mg_error *err)
{
	char target[PATH_MAX];
	struct stat st, lst, rst;

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return write_in_place(path, data, len, err);
		if (lstat(path, &lst) == 0 && !S_ISLNK(lst.st_mode))
			return replace_atomic(path, data, len, err);
		/* a symlink to a regular file: that file is replaced, the link stays; a
		 * name that does not lead back to the same file (a deleted file
		 * behind /proc/self/fd/N) is written in place */
		if (!realpath(path, target) || stat(target, &rst) < 0 ||
		    rst.st_dev != st.st_dev || rst.st_ino != st.st_ino)
			return write_in_place(path, data, len, err);
		return replace_atomic(target, data, len, err);
	}
	if (errno != ENOENT)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return replace_atomic(path, data, len, err);
	/* a dangling symlink: the file it names is created, the link stays */
	if (dangling_target(path, target) < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	return replace_atomic(target, data, len, err);
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
	       S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int mg_is_regular(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mg_read_file(char **out, size_t *len, const char *path, size_t max, struct mg_error *err)
{
	/* O_NONBLOCK: a FIFO must not block the open before its type is seen */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;
	if (fd < 0)
		return mg_error_set(err, errno == ENOENT ? MG_ENOTFOUND : MG_ERROR,
				    "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return mg_error_set(err, MG_ERROR, "cannot read '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mg_error_set(err, MG_EINVALID, "cannot read '%s': it is %s, not a regular "
				    "file", path, file_kind(st.st_mode));
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return mg_error_set(err, MG_ERROR, "cannot read '%s': larger than %zu bytes", path,
				    max);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	buf = malloc((size_t)st.st_size + 1);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf)
		return mg_error_set(err, MG_ERROR, "out of memory");
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return MG_OK;
}

/* the work tree holding `path`: the nearest directory above it with a .git; 0 if none */
static int work_tree_of(const char *path, char root[PATH_MAX])
{
	char abs[PATH_MAX], probe[PATH_MAX + 8];
	struct stat st;
	if (path[0] == '/') {
		if (snprintf(abs, sizeof(abs), "%s", path) >= (int)sizeof(abs))
			return 0;
	} else {
		if (!getcwd(abs, sizeof(abs)) || strlen(abs) + 1 + strlen(path) >= sizeof(abs))
			return 0;
		strcat(strcat(abs, "/"), path);
	}
	for (char *slash = strrchr(abs, '/'); slash; slash = strrchr(abs, '/')) {
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/.git", abs[0] ? abs : "");
		if (lstat(probe, &st) == 0)
			return realpath(abs[0] ? abs : "/", root) != NULL;
	}
	return 0;
}

int mg_read_tree_file(char **out, size_t *len, const char *path, size_t max, struct mg_error *err)
{
	char root[PATH_MAX], real[PATH_MAX];
	size_t n;
	if (work_tree_of(path, root) && realpath(path, real) &&
	    (strncmp(real, root, n = strlen(root)) || (real[n] != '/' && strcmp(root, "/"))))
		return mg_error_set(err, MG_EINVALID, "cannot read '%s': it leads to '%s', outside "
				    "the repository '%s' (a symlink?): refused", path, real, root);
	return mg_read_file(out, len, path, max, err);
}

int mg_mkdirs(const char *dir)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

int mg_mkdtemp(char **out, const char *prefix, struct mg_error *err)
{
	const char *base = getenv("TMPDIR");
	char *path;
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/%s.XXXXXX", base, prefix) < 0)
		return mg_error_set(err, MG_ERROR, "out of memory");
	if (!mkdtemp(path)) {
		int saved = errno;
		mg_error_set(err, MG_ERROR, "cannot create a directory in '%s': %s", base,
			     strerror(saved));
		free(path);
		return MG_ERROR;
	}
	*out = path;
	return MG_OK;
}

void mg_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* NAME.tmp.XXXXXX, as mkstemp(3) fills the template of mg_write_file_atomic() */
static int is_atomic_tmp(const char *name)
{
	size_t len = strlen(name);
	if (len <= 11 || strncmp(name + len - 11, ".tmp.", 5))
		return 0;
	for (const char *t = name + len - 6; *t; t++)
		if (!isalnum((unsigned char)*t))
			return 0;
	return 1;
}

int mg_clean_stale_tmp(const char *dir, unsigned age_s, void (*removed)(const char *name))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!is_atomic_tmp(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < (time_t)age_s)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
			n++;
			if (removed)
				removed(e->d_name);
		}
	}
	closedir(d);
	return n;
}

int mg_lock_dir(int *fd_out, const char *dir, double wait_s, void (*waiting)(const char *dir),
		struct mg_error *err)
{
	struct timespec t0, now, step = { 0, 50 * 1000 * 1000 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot lock '%s': %s", dir, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int told = 0;; told = 1) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			*fd_out = fd;
			return MG_OK;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;
			close(fd);
			return mg_error_set(err, MG_ERROR, "cannot lock '%s': %s", dir, strerror(e));
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double waited = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (waited >= wait_s) {
			close(fd);
			return mg_error_set(err, MG_ERROR, "'%s' is locked by another memgate (an accept "
					    "at work?): gave up after %.0f s", dir, wait_s);
		}
		if (!told && waiting)
			waiting(dir);
		nanosleep(&step, NULL);
	}
}
