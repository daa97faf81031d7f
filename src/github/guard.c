/* guard.c - neutralise workflow commands in memgate's output inside Actions (guard.h) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/fs.h"
#include "guard.h"

struct guard {
	int fd;
	int line_start;         /* nothing but blanks (or non-ASCII bytes) since the line began */
	int hashes;             /* '#' just before */
};

static int trusted;             /* mg_guard_put_commands() at work */

/* a byte the runner may take for (part of) a blank before a command: .NET's TrimStart */
static int maybe_blank(unsigned char c)
{
	return c == ' ' || c < 0x20 || c >= 0x80;
}

static ssize_t guard_write(void *cookie, const char *buf, size_t size)
{
	struct guard *g = cookie;
	char out[4096];
	size_t o = 0;
	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)buf[i];
		const char *esc = NULL;
		if (c == '\n' || c == '\r') {
			g->line_start = 1;
		} else if (g->line_start && !maybe_blank(c)) {
			if (c == ':' && !trusted)
				esc = "%3A";
			g->line_start = 0;
		}
		if (c == '[' && g->hashes >= 2 && !trusted)
			esc = "%5B";
		g->hashes = c == '#' ? g->hashes + 1 : 0;
		if (o + 4 > sizeof(out)) {
			if (mg_write_all(g->fd, out, o) < 0)
				return -1;
			o = 0;
		}
		if (esc) {
			memcpy(out + o, esc, 3);
			o += 3;
		} else {
			out[o++] = (char)c;
		}
	}
	if (o && mg_write_all(g->fd, out, o) < 0)
		return -1;
	return (ssize_t)size;
}

static struct guard guards[2];  /* stdout's, stderr's: for the whole process */

static FILE *guarded(FILE *f, int fd, int mode)
{
	struct stat st;
	struct guard *g = &guards[fd == STDERR_FILENO];
	FILE *n;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return f;
	g->fd = fd;
	g->line_start = 1;
	cookie_io_functions_t io = { .write = guard_write };
	if (!(n = fopencookie(g, "w", io)))
		return f;
	setvbuf(n, NULL, mode, BUFSIZ);
	return n;
}

void mg_guard_stdio(void)
{
	const char *gha = getenv("GITHUB_ACTIONS");
	if (!gha || strcmp(gha, "true"))
		return;
	fflush(stdout);
	fflush(stderr);
	stdout = guarded(stdout, STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
	stderr = guarded(stderr, STDERR_FILENO, _IONBF);
}

void mg_guard_put_commands(const char *text)
{
	fflush(stdout);
	trusted = 1;
	fputs(text, stdout);
	fflush(stdout);
	trusted = 0;
}
