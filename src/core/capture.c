/* capture.c - a command's output into a bounded log (capture.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/fs.h"
#include "capture.h"

void mg_capture_init(struct mg_capture *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->last = '\n';
}

static void put(struct mg_capture *c, const char *p, size_t n)
{
	if (n && !c->error && mg_write_all(c->fd, p, n) < 0)
		c->error = errno ? errno : EIO;
}

void mg_capture_add(struct mg_capture *c, const char *p, size_t n)
{
	if (c->bytes < MG_CAPTURE_HEAD) {
		size_t h = MG_CAPTURE_HEAD - (size_t)c->bytes;
		if (h > n)
			h = n;
		put(c, p, h);
		if (h)
			c->last = p[h - 1];
		c->bytes += h;
		p += h;
		n -= h;
	}
	if (!n)
		return;
	if (!c->tail && !(c->tail = malloc(MG_CAPTURE_TAIL))) {
		c->error = ENOMEM;      /* the bytes are counted as cut; the command goes on */
		c->bytes += n;
		return;
	}
	c->bytes += n;
	if (n >= MG_CAPTURE_TAIL) {     /* only the last MG_CAPTURE_TAIL bytes count */
		p += n - MG_CAPTURE_TAIL;
		n = MG_CAPTURE_TAIL;
	}
	size_t first = MG_CAPTURE_TAIL - c->tail_at;
	if (first > n)
		first = n;
	memcpy(c->tail + c->tail_at, p, first);
	memcpy(c->tail, p + first, n - first);
	c->tail_at = (c->tail_at + n) % MG_CAPTURE_TAIL;
}

uint64_t mg_capture_cut(const struct mg_capture *c)
{
	return c->bytes > MG_CAPTURE_HEAD + MG_CAPTURE_TAIL
		? c->bytes - MG_CAPTURE_HEAD - MG_CAPTURE_TAIL : 0;
}

int mg_capture_finish(struct mg_capture *c)
{
	uint64_t past = c->bytes > MG_CAPTURE_HEAD ? c->bytes - MG_CAPTURE_HEAD : 0;
	uint64_t cut = mg_capture_cut(c);

	if (c->tail) {
		if (cut) {
			char line[200];
			int len = snprintf(line, sizeof(line), "%s[memgate: %llu bytes of output cut "
					   "here; the log keeps the first %u KiB and the last %u KiB]\n",
					   c->last == '\n' ? "" : "\n", (unsigned long long)cut,
					   MG_CAPTURE_HEAD / 1024, MG_CAPTURE_TAIL / 1024);
			put(c, line, (size_t)len);
			/* the ring is full: its oldest byte is at tail_at */
			put(c, c->tail + c->tail_at, MG_CAPTURE_TAIL - c->tail_at);
			put(c, c->tail, c->tail_at);
		} else {
			put(c, c->tail, (size_t)past);  /* never wrapped: from its start */
		}
	}
	free(c->tail);
	c->tail = NULL;
	if (c->error) {
		errno = c->error;
		return -1;
	}
	return 0;
}
