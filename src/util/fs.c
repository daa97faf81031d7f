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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fs.h"

static int write_all(int fd, const char *p, size_t len)
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

int mg_write_file_atomic(const char *path, const char *data, size_t len, struct mg_error *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return mg_error_set(err, MG_ERROR, "cannot write '%s': path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
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

int mg_read_file(char **out, size_t *len, const char *path, size_t max, struct mg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;
	if (fd < 0)
		return mg_error_set(err, errno == ENOENT ? MG_ENOTFOUND : MG_ERROR,
				    "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		close(fd);
		return mg_error_set(err, MG_ERROR, "cannot read '%s': not a regular file of at "
				    "most %zu bytes", path, max);
	}
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
