/* trace.h - reading a run's trace files (.mgt) into processes with their figures
 *
 * The tracer leaves one file per process image in a directory.  mg_trace_load
 * maps them read-only and validates them; mg_trace_resolve groups the images
 * into processes (an exec chain is one process), applies the exit statuses the
 * runner reaped, and computes each process's figures (docs/metrics.md).
 *
 * Not thread-safe; one struct mg_trace per run.
 */
#ifndef MEMGATE_CORE_TRACE_H
#define MEMGATE_CORE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "../tracer/format.h"

struct mg_error;

struct mg_image {
	char *file;                         /* name inside the directory */
	void *map;
	size_t map_len;
	const struct mgt_header *hdr;
	/* in the map, as the reader summed them (its private copy of the
	 * pages it wrote): each stack's counters; its live blocks are
	 * mgt_stack_blocks (tracer/count.h), its flags info[id].flags, its leak
	 * kinds mg_image_lost */
	const struct mgt_stack *stacks;
	const struct mgt_stack_info *info;  /* in the file: each stack's innermost node */
	const struct mgt_stack_lost *lost;  /* in the file: read through mg_image_lost */
	const struct mgt_node *nodes;       /* in the file: the frames, as nodes */
	const struct mgt_module *modules;
	const struct mgt_bucket *timeline;
	const struct mgt_child *children;
	uint32_t n_stacks, n_modules, n_children, tl_n;  /* validated against the file */
	uint32_t n_nodes;
	int have_open_bucket;               /* died with events in the open bucket */
};

/* stack id's leak kinds, or NULL: the leak check did not run, or the stack
 * held no block at the end (its record is then not written) */
static inline const struct mgt_stack_lost *mg_image_lost(const struct mg_image *img, uint32_t id)
{
	const struct mgt_stack *s = &img->stacks[id];
	if (!(img->hdr->flags & MGT_F_LEAKCHECK) || s->allocs == s->frees)
		return NULL;
	return &img->lost[id];
}

enum mg_end {
	MG_END_EXITED,      /* exit, return from main, _exit */
	MG_END_SIGNALED,    /* killed or crashed: figures up to that moment */
	MG_END_UNKNOWN,     /* ended without running exit code, cause not seen */
	MG_END_UNTRACED     /* exec'd into something that dropped the tracer */
};

/* The figures of docs/metrics.md, for an image, a process or a whole test. */
struct mg_figures {
	uint64_t allocs, frees, total_bytes;
	uint64_t peak_bytes, peak_blocks;
	uint64_t leaked_bytes, leaked_blocks;
	uint64_t rss_peak_bytes;
	int kinds_known;                    /* the leak kinds below were computed */
	uint64_t lost_bytes[4];             /* by enum mgt_leak_kind; sum = leaked_bytes */
	uint64_t lost_blocks[4];
};

/* Figures of one image (an exec'd image's live blocks are not leaks). */
void mg_image_figures(struct mg_figures *f, const struct mg_image *img);

/* Adds a process's figures into a test's: sums, but the peak is the largest.
 * Start `sum` from MG_FIGURES_INIT (kinds are known while known for all). */
#define MG_FIGURES_INIT { .kinds_known = 1 }
void mg_figures_add(struct mg_figures *sum, const struct mg_figures *p);

struct mg_proc {
	int pid, ppid;
	struct mg_image **images;           /* exec chain, oldest first */
	size_t n_images;
	const struct mg_image *peak_image;  /* the image that reached the peak */

	struct mg_figures f;
	uint64_t unknown_frees, inherited_frees;
	uint64_t start_ns, end_ns;          /* CLOCK_MONOTONIC */

	enum mg_end end;
	int exit_code;                      /* MG_END_EXITED */
	int signal;                         /* MG_END_SIGNALED */
	int via_underscore_exit;            /* ended by _exit(): no atexit handlers ran */
	int complete;                       /* whole life recorded, ended normally */
};

struct mg_trace {
	struct mg_image *images;
	size_t n_images;
	struct mg_proc *procs;              /* after mg_trace_resolve, by start time */
	size_t n_procs;
	uint64_t t0_ns;                     /* earliest image start */
};

/* Loads every *.mgt in dir.  Files that are not valid traces are an error. */
int mg_trace_load(struct mg_trace **out, const char *dir, struct mg_error *err);

/* A status the runner reaped itself (direct child, orphans); raw wait status. */
struct mg_reaped {
	int pid;
	int status;
};

/* Builds the processes.  `reaped` may be NULL.  `root_pid` is the command. */
int mg_trace_resolve(struct mg_trace *t, const struct mg_reaped *reaped, size_t n_reaped,
		     struct mg_error *err);

/* The process with this pid that started last, or NULL. */
const struct mg_proc *mg_trace_find(const struct mg_trace *t, int pid);

void mg_trace_free(struct mg_trace *t);

/* ---- stacks ---- */

struct mg_frame {
	uint64_t addr;                      /* return address as captured */
	const char *module;                 /* path, borrowed from the trace; NULL if unknown */
	uint64_t offset;                    /* addr - module base */
	const unsigned char *build_id;      /* of the module as it was loaded; borrowed */
	size_t build_id_len;
};

/*
 * Resolves stack `id` of `img` to frames, dropping memgate's own.  Returns the
 * number written to out (at most max).
 */
size_t mg_trace_frames(const struct mg_image *img, uint32_t id, struct mg_frame *out, size_t max);

/* The module of the frame looked at last, kept from one frame to the next by
 * mg_trace_node_frame (a stack's frames mostly lie in a few modules).  Start
 * it zeroed. */
struct mg_frame_cache {
	const struct mgt_module *m;
	const char *path;
	uint64_t gen;
	int self;
};

/*
 * Node nd (in [1, n_nodes)) of img as a frame of a stack captured at module
 * generation gen (its struct mgt_stack_info.mod_gen), into *out: 1, or 0 when
 * the frame is memgate's own (mg_trace_frames drops those).
 */
int mg_trace_node_frame(const struct mg_image *img, uint32_t nd, uint64_t gen,
			struct mg_frame_cache *c, struct mg_frame *out);

#endif
