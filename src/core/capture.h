/* capture.h - a command's output (stdout and stderr of its whole tree) into a bounded log
 *
 * What the tests of `run`, `check` and `accept` print goes through a pipe
 * into a log file (docs/cli.md, "A test's output"): the first
 * MG_CAPTURE_HEAD bytes are written as they come, the last MG_CAPTURE_TAIL
 * bytes past them are kept in memory and written at the end, after one line
 * that says how many bytes were cut between.  So a log holds at most
 * MG_CAPTURE_HEAD + MG_CAPTURE_TAIL bytes of the command's output plus that
 * line, and memory stays bounded whatever the command prints.  Prints
 * nothing.
 */
#ifndef MEMGATE_CORE_CAPTURE_H
#define MEMGATE_CORE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define MG_CAPTURE_HEAD (64u * 1024)
#define MG_CAPTURE_TAIL (192u * 1024)

struct mg_capture {
	int fd;                     /* the log, open for writing */
	uint64_t bytes;             /* everything the command wrote */
	char *tail;                 /* ring of the bytes past the head; malloc'd on first use */
	size_t tail_at;             /* where the ring's next byte goes */
	char last;                  /* the last byte of the head written */
	int error;                  /* errno of the first failed write; 0 */
};

void mg_capture_init(struct mg_capture *c, int fd);

/* takes n more bytes of output; never fails (a failed write is kept in c->error) */
void mg_capture_add(struct mg_capture *c, const char *p, size_t n);

/* writes what the ring holds (after the line telling the cut, if any) and
 * frees it; 0, or -1 with errno when a write of the log failed */
int mg_capture_finish(struct mg_capture *c);

/* how many bytes of the output are not in the log */
uint64_t mg_capture_cut(const struct mg_capture *c);

#endif
