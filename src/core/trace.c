/* trace.c - map, validate and group the tracer's per-image files into processes */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tracer/count.h"
#include "../util/error.h"
#include "trace.h"

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* the batches region and how many batches were handed out; NULL: corrupt */
static const struct mgt_batch *batches_of(const struct mg_image *img, uint32_t *nb)
{
	*nb = load32(&img->hdr->n_batches);
	if (*nb > MGT_MAX_BATCHES)
		return NULL;
	return (const struct mgt_batch *)((const char *)img->map + MGT_BATCH_OFF);
}

/*
 * The count the tracer left pending (format.h, pend_stack: record.c,
 * "Pending counts"), into its stack's record, as the tracer would have
 * counted it at its next event.  An eviction a SIGKILL cut short is undone
 * first (thread_counts): the pending count was in neither copy.
 */
static int stash_count(struct mg_image *img, struct mgt_stack *stacks);

static int pending_count(struct mg_image *img, struct mgt_stack *stacks)
{
	const struct mgt_header *h = img->map;
	uint32_t pend = h->pend_stack;
	if (stash_count(img, stacks))
		return -1;
	if (!pend)
		return 0;
	uint32_t id = mgt_pend_id(pend);
	if (id >= img->n_stacks)
		return -1;
	mgt_count_pending(&stacks[id], pend, h->pend_size, h->epoch);
	return 0;
}

/* stack id has the stash's frames (innermost first) and cut */
static int same_frames(const struct mg_image *img, uint32_t id, const struct mgt_stash *st)
{
	uint32_t n = img->info[id].node, k = 0;
	if (img->info[id].flags != st->trunc)
		return 0;
	for (; n && k < st->depth; n = img->nodes[n].caller, k++)
		if ((img->nodes[n].ret_lo | (uint64_t)img->nodes[n].ret_hi << 32) != st->frames[k])
			return 0;
	return !n && k == st->depth;
}

/*
 * The allocation the tracer left in its stash (format.h, stash_at: record.c,
 * "The probe at the next event"), counted in its stack's record as the
 * tracer would have at its next event: the stack with its key and frames,
 * or, when the file does not hold it yet, a stack added after the others
 * with nodes of its own.  Called after check_stacks: what it adds is whole.
 */
static int stash_count(struct mg_image *img, struct mgt_stack *stacks)
{
	struct mgt_header *h = img->map;
	uint32_t at = h->stash_at, id;
	if (!at)
		return 0;
	if (at > 2 || h->stash[at - 1].depth > MGT_MAX_DEPTH || h->stash[at - 1].trunc > 1)
		return -1;
	const struct mgt_stash *st = &h->stash[at - 1];
	for (id = 1; id < img->n_stacks; id++)
		if (stacks[id].key == st->hash && same_frames(img, id, st))
			break;
	if (id == img->n_stacks) {
		struct mgt_node *nodes = (struct mgt_node *)img->nodes;
		struct mgt_stack_info *info = (struct mgt_stack_info *)&img->info[id];
		uint32_t caller = 0;
		if (id >= MGT_MAX_STACKS || img->n_nodes + st->depth > MGT_MAX_NODES)
			return -1;
		for (uint32_t k = st->depth; k--;) {   /* outermost first */
			struct mgt_node *n = &nodes[img->n_nodes];
			n->ret_lo = (uint32_t)st->frames[k];
			n->ret_hi = (uint32_t)(st->frames[k] >> 32);
			n->caller = caller;
			caller = img->n_nodes++;
		}
		memset(&stacks[id], 0, sizeof(stacks[id]));
		stacks[id].key = st->hash;
		memset((void *)&img->lost[id], 0, sizeof(img->lost[id]));
		info->node = caller;
		info->flags = st->trunc;
		info->mod_gen = h->mod_gen;
		h->truncated_stacks += st->trunc;
		img->n_stacks++;
	}
	mgt_count_pending(&stacks[id], id + 1, h->stash_size, h->epoch);
	return 0;
}

/*
 * The threads of a threaded process counted their events in their own
 * batches (format.h): without stacks in the batch's head, their parts of
 * stack 0; with stacks in records of their own (struct mgt_trec), their
 * parts of each stack, added here to the stack's shared record together
 * with their shares of the peak.  Every stack is first brought to the
 * rebased form (epoch == hdr.epoch, peak_* its figures at the peak), so the
 * shares add up.  An eviction a SIGKILL cut short (the header's evict_*)
 * leaves the shared record as it was before it: the thread record still
 * counts.  *unfolded gets the events no bucket of the timeline has seen yet.
 */
static int thread_counts(struct mg_image *img, struct mgt_stack *stacks, uint64_t *unfolded)
{
	struct mgt_header *h = img->map;
	uint32_t nb;
	const struct mgt_batch *batches = batches_of(img, &nb);
	if (!batches)
		return -1;
	if (!nb)
		return pending_count(img, stacks);
	for (uint32_t i = 0; i < nb; i++)
		if (batches[i].left <= MGT_BATCH_EVENTS)
			*unfolded += MGT_BATCH_EVENTS - batches[i].left;
	if (h->depth_max == 0) {
		for (uint32_t i = 0; i < nb; i++) {
			const struct mgt_batch *b = &batches[i];
			stacks[0].allocs += b->allocs;
			stacks[0].frees += b->frees;
			stacks[0].total_bytes += b->total_bytes;
			stacks[0].cur_bytes += b->cur_bytes;
		}
		return pending_count(img, stacks);
	}
	if (h->evict_stack) {
		uint32_t sid = h->evict_stack - 1;
		if (sid >= img->n_stacks || h->evict_batch >= nb || h->evict_rec >= MGT_BATCH_RECS)
			return -1;
		if (batches[h->evict_batch].rec[h->evict_rec].stack == sid)
			memcpy(&stacks[sid], h->evict_old, MGT_STACK_REC);
	}
	if (pending_count(img, stacks))
		return -1;
	for (uint32_t i = 0; i < img->n_stacks; i++)
		mgt_rebase(&stacks[i], h->epoch);
	for (uint32_t i = 0; i < nb; i++) {
		for (uint32_t k = 0; k < MGT_BATCH_RECS; k++) {
			const struct mgt_trec *r = &batches[i].rec[k];
			if (r->stack == MGT_TREC_NONE)
				continue;
			if (r->stack >= img->n_stacks)
				return -1;
			struct mgt_stack *s = &stacks[r->stack];
			int rebased = r->epoch == h->epoch;
			s->allocs += r->allocs;
			s->total_bytes += r->total_bytes;
			s->frees += r->frees;
			s->cur_bytes += r->cur_bytes;
			s->peak_bytes += rebased ? r->peak_bytes : r->cur_bytes;
			s->peak_blocks += rebased ? r->peak_blocks : r->allocs - r->frees;
		}
	}
	/* a stack's share below 0: a free counted at the peak whose allocation
	 * was not (its thread saw the new epoch later); never below nothing */
	for (uint32_t i = 0; i < img->n_stacks; i++) {
		struct mgt_stack *s = &stacks[i];
		if ((int64_t)s->peak_bytes < 0)
			s->peak_bytes = 0;
		if ((int64_t)s->peak_blocks < 0)
			s->peak_blocks = 0;
	}
	return 0;
}

/*
 * With stacks, a threaded image's peak is the sum of the records' shares
 * (thread_counts), which may differ from the maximum of the live bytes the
 * tracer's timeline saw (the threads' folded counts) by what the threads had
 * not folded yet (docs/profile-schema.md, "Multithreaded processes"): the
 * timeline's highest point is set to the peak, and none is left above it.
 */
static void timeline_to_peak(struct mg_image *img, uint64_t peak)
{
	struct mgt_header *h = img->map;
	struct mgt_bucket *tl = (struct mgt_bucket *)img->timeline, *top = &h->tl_open;
	for (uint32_t b = 0; b < img->tl_n; b++)
		if (tl[b].live_max >= top->live_max)
			top = &tl[b];
	for (uint32_t b = 0; b < img->tl_n; b++)
		if (tl[b].live_max > peak)
			tl[b].live_max = peak;
	if (h->tl_open.live_max > peak)
		h->tl_open.live_max = peak;
	top->live_max = peak;
}

/*
 * The figures the tracer does not keep (format.h), into the private copy of
 * the header: the counts and the live figures are the sums of the stacks'
 * (each stack's live blocks its allocs - frees), and the peak is the sum of
 * what each stack held at it, so the stacks add up to the image by
 * construction, whatever instant a SIGKILL chose.  An image that died
 * (still RUNNING) may have its last events past the last bucket and the
 * peak: the peak is then at least what was live at its death, and when that
 * reaches it, every stack's bytes at the peak are its live bytes (a new
 * epoch), by the tracer's rule; the open bucket ends with those events.
 */
static void derive_figures(struct mg_image *img, const struct mgt_stack *stacks, uint64_t pending)
{
	int threads = img->hdr->depth_max && img->hdr->n_batches;
	struct mgt_header *h = img->map;
	uint64_t peak = 0, peak_blocks = 0;
	h->allocs = h->frees = h->total_bytes = h->cur_bytes = 0;
	for (uint32_t i = 0; i < img->n_stacks; i++) {
		const struct mgt_stack *s = &stacks[i];
		h->allocs += s->allocs;
		h->frees += s->frees;
		h->total_bytes += s->total_bytes;
		h->cur_bytes += s->cur_bytes;
		int rebased = s->epoch == h->epoch;
		peak += rebased ? s->peak_bytes : s->cur_bytes;
		peak_blocks += rebased ? s->peak_blocks : mgt_stack_blocks(s);
	}
	h->cur_blocks = h->allocs - h->frees;
	if (threads)
		timeline_to_peak(img, peak);
	h->peak_bytes = peak;
	h->peak_blocks = peak_blocks;
	/* events: those before the open bucket, those in it, those pending */
	h->events += (h->tl_left <= h->tl_width ? h->tl_width - h->tl_left : 0) + pending;
	if (h->state != MGT_RUNNING)
		return;
	if ((int64_t)h->cur_bytes >= (int64_t)h->peak_bytes) {
		h->peak_bytes = h->cur_bytes;
		h->peak_blocks = h->cur_blocks;
		h->epoch++;
	}
	if ((int64_t)h->cur_bytes > (int64_t)h->tl_open.live_max)
		h->tl_open.live_max = h->cur_bytes;
	h->tl_open.live_end = h->cur_bytes;
	h->tl_open.event_end = h->events;
}

/*
 * Checks that the frames are whole: each node's caller comes before it, each
 * stack's innermost node was committed, and no chain is deeper than
 * MGT_MAX_DEPTH.  The stacks themselves are read in place (the private map):
 * a copy of 262k deep stacks' records was 31 MB of fresh pages to fault in
 * (bench/README.md, "Session 10: deep stacks, after the run").  Returns 1
 * when whole, 0 when corrupt, -1 when out of memory.
 */
static int check_stacks(const struct mg_image *img)
{
	const struct mgt_node *nodes = img->nodes;
	uint16_t *depth = malloc(((size_t)img->n_nodes + 1) * sizeof(*depth));
	int whole = 0;

	if (!depth)
		return -1;
	depth[0] = 0;
	for (uint32_t i = 1; i < img->n_nodes; i++) {
		uint32_t c = nodes[i].caller;
		if (c >= i || depth[c] >= MGT_MAX_DEPTH)
			goto out;
		depth[i] = (uint16_t)(depth[c] + 1);
	}
	for (uint32_t i = 0; i < img->n_stacks; i++)
		if (img->info[i].node >= (i ? img->n_nodes : 1))
			goto out;
	whole = 1;
out:
	free(depth);
	return whole;
}

/*
 * The strings and build-ids the reader hands on, made safe to read: the file
 * lives in the traced program's memory, and a program that writes through a
 * stray pointer may have left a path without its NUL or a build-id longer
 * than its field.  Strings are cut at their field's end (the reader's private
 * copy: never the file); a build-id length the tracer never writes makes the
 * image corrupt (-1).
 */
static int check_modules(struct mg_image *img)
{
	struct mgt_header *h = img->map;
	h->exec_target[sizeof(h->exec_target) - 1] = '\0';
	h->untraced[sizeof(h->untraced) - 1] = '\0';
	h->exe[sizeof(h->exe) - 1] = '\0';          /* (argv is read by argv_len, bounded) */
	struct mgt_module *m = (struct mgt_module *)((char *)img->map + MGT_MOD_OFF);
	for (uint32_t i = 0; i < img->n_modules; i++) {
		if (m[i].build_id_len > sizeof(m[i].build_id))
			return -1;
		m[i].path[sizeof(m[i].path) - 1] = '\0';
	}
	return 0;
}

static int open_image(struct mg_image *img, const char *dir, const char *name,
		      struct mg_error *err)
{
	char path[4096];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot read trace '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < MGT_FILE_SIZE) {
		close(fd);
		return mg_error_set(err, MG_ERROR, "trace '%s' is truncated", path);
	}
	/* private and writable: the reader's sums go to its own copy, never the file */
	img->map = mmap(NULL, MGT_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
			fd, 0);
	close(fd);
	if (img->map == MAP_FAILED) {
		img->map = NULL;
		return mg_error_set(err, MG_ERROR, "cannot map trace '%s': %s", path, strerror(errno));
	}
	/* no readahead: each fault would fill the page cache with megabytes of the
	 * sparse file's zeros (large folios), and unlinking the file then has to
	 * drop them all (perf: a third of `memgate trace -- /bin/true`) */
	madvise(img->map, MGT_FILE_SIZE, MADV_RANDOM);
	img->map_len = MGT_FILE_SIZE;
	img->file = strdup(name);
	const struct mgt_header *h = img->map;
	if (memcmp(h->magic, MGT_MAGIC, 8) != 0 || h->version != MGT_VERSION ||
	    h->header_size != sizeof(*h) || h->file_size != MGT_FILE_SIZE)
		return mg_error_set(err, MG_ERROR,
				    "trace '%s' is not a memgate trace of this version", path);
	img->hdr = h;
	img->info = (const void *)((const char *)h + MGT_INFO_OFF);
	img->nodes = (const void *)((const char *)h + MGT_NODE_OFF);
	img->modules = (const void *)((const char *)h + MGT_MOD_OFF);
	img->timeline = (const void *)((const char *)h + MGT_TL_OFF);
	img->children = (const void *)((const char *)h + MGT_CHILD_OFF);
	img->lost = (const void *)((const char *)h + MGT_LOST_OFF);

	/* committed lengths, clamped: a corrupt count must not send us off the map */
	img->n_stacks = load32(&h->n_stacks);
	img->n_modules = load32(&h->n_modules);
	img->n_children = load32(&h->n_children);
	img->tl_n = load32(&h->tl_n);
	img->n_nodes = load32(&h->n_nodes);
	if (img->n_stacks > MGT_MAX_STACKS || img->n_modules > MGT_MAX_MODULES ||
	    img->n_children > MGT_MAX_CHILDREN || img->tl_n > MGT_TIMELINE ||
	    img->n_nodes > MGT_MAX_NODES)
		return mg_error_set(err, MG_ERROR, "trace '%s' is corrupt", path);
	if (check_modules(img))
		return mg_error_set(err, MG_ERROR, "trace '%s' is corrupt (modules)", path);
	struct mgt_stack *stacks = (struct mgt_stack *)((char *)img->map + MGT_STK_OFF);
	int whole = check_stacks(img);
	if (whole < 0)
		return mg_error_set(err, MG_ERROR, "out of memory");
	if (!whole)
		return mg_error_set(err, MG_ERROR, "trace '%s' is corrupt (call stacks)", path);
	img->stacks = stacks;
	uint64_t unfolded = 0;
	if (thread_counts(img, stacks, &unfolded))
		return mg_error_set(err, MG_ERROR, "trace '%s' is corrupt (thread counts)", path);
	derive_figures(img, stacks, h->state == MGT_RUNNING ? unfolded : 0);
	uint64_t closed = img->tl_n ? img->timeline[img->tl_n - 1].event_end : 0;
	img->have_open_bucket = h->events > closed;
	return MG_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_trace(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 4 && !strcmp(e->d_name + n - 4, ".mgt");
}

int mg_trace_load(struct mg_trace **out, const char *dir, struct mg_error *err)
{
	struct dirent **names = NULL;
	struct mg_trace *t = calloc(1, sizeof(*t));
	int n = scandir(dir, &names, is_trace, by_name), ret = MG_OK;

	if (!t)
		return mg_error_set(err, MG_ERROR, "out of memory");
	if (n < 0) {
		free(t);
		return mg_error_set(err, MG_ERROR, "cannot read '%s': %s", dir, strerror(errno));
	}
	t->images = calloc((size_t)n + 1, sizeof(*t->images));
	for (int i = 0; i < n; i++) {
		if (ret == MG_OK && t->images) {
			ret = open_image(&t->images[t->n_images], dir, names[i]->d_name, err);
			t->n_images++;
		}
		free(names[i]);
	}
	free(names);
	if (!t->images)
		ret = mg_error_set(err, MG_ERROR, "out of memory");
	if (ret != MG_OK) {
		mg_trace_free(t);
		return ret;
	}
	t->t0_ns = UINT64_MAX;
	for (size_t i = 0; i < t->n_images; i++)
		if (t->images[i].hdr->start_mono_ns < t->t0_ns)
			t->t0_ns = t->images[i].hdr->start_mono_ns;
	*out = t;
	return MG_OK;
}

void mg_trace_free(struct mg_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_images; i++) {
		if (t->images[i].map)
			munmap(t->images[i].map, t->images[i].map_len);
		free(t->images[i].file);
	}
	for (size_t i = 0; i < t->n_procs; i++)
		free(t->procs[i].images);
	free(t->images);
	free(t->procs);
	free(t);
}

/* images of one pid in exec order: by pid, then seq */
static int by_pid_seq(const void *a, const void *b)
{
	const struct mg_image *x = *(struct mg_image *const *)a, *y = *(struct mg_image *const *)b;
	if (x->hdr->pid != y->hdr->pid)
		return x->hdr->pid < y->hdr->pid ? -1 : 1;
	return x->hdr->seq < y->hdr->seq ? -1 : x->hdr->seq > y->hdr->seq;
}

static int by_start(const void *a, const void *b)
{
	const struct mg_proc *x = a, *y = b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->pid - y->pid;
}

static uint64_t image_end(const struct mg_image *img)
{
	const struct mgt_header *h = img->hdr;
	if (h->end_mono_ns)
		return h->end_mono_ns;
	return img->tl_n ? img->timeline[img->tl_n - 1].t_end_ns : h->start_mono_ns;
}

/* a raw wait status for pid: the runner's, else what a traced parent reaped */
static int find_status(const struct mg_trace *t, const struct mg_reaped *reaped, size_t n_reaped,
		       int pid, int *status)
{
	for (size_t i = 0; i < n_reaped; i++)
		if (reaped[i].pid == pid) {
			*status = reaped[i].status;
			return 1;
		}
	for (size_t i = 0; i < t->n_images; i++) {
		const struct mg_image *img = &t->images[i];
		for (uint32_t c = img->n_children; c--;)
			if (img->children[c].pid == pid) {
				*status = img->children[c].status;
				return 1;
			}
	}
	return 0;
}

void mg_image_figures(struct mg_figures *f, const struct mg_image *img)
{
	const struct mgt_header *h = img->hdr;
	memset(f, 0, sizeof(*f));
	f->allocs = h->allocs;
	f->frees = h->frees;
	f->total_bytes = h->total_bytes;
	f->peak_bytes = h->peak_bytes;
	f->peak_blocks = h->peak_blocks;
	f->rss_peak_bytes = h->rss_peak_bytes;
	/* blocks live when the image was replaced by exec died with it: not leaks */
	if (h->state == MGT_EXECED) {
		f->kinds_known = 1;
		return;
	}
	f->leaked_bytes = h->cur_bytes;
	f->leaked_blocks = h->cur_blocks;
	f->kinds_known = !!(h->flags & MGT_F_LEAKCHECK);
	if (f->kinds_known)
		for (int k = 0; k < 4; k++) {
			f->lost_bytes[k] = h->lost_bytes[k];
			f->lost_blocks[k] = h->lost_blocks[k];
		}
}

void mg_figures_add(struct mg_figures *sum, const struct mg_figures *p)
{
	sum->allocs += p->allocs;
	sum->frees += p->frees;
	sum->total_bytes += p->total_bytes;
	sum->leaked_bytes += p->leaked_bytes;
	sum->leaked_blocks += p->leaked_blocks;
	if (p->peak_bytes > sum->peak_bytes ||
	    (p->peak_bytes == sum->peak_bytes && p->peak_blocks > sum->peak_blocks)) {
		sum->peak_bytes = p->peak_bytes;
		sum->peak_blocks = p->peak_blocks;
	}
	if (p->rss_peak_bytes > sum->rss_peak_bytes)
		sum->rss_peak_bytes = p->rss_peak_bytes;
	/* the kinds of a test are known only if known for every process */
	sum->kinds_known &= p->kinds_known;
	for (int k = 0; k < 4; k++) {
		sum->lost_bytes[k] += p->lost_bytes[k];
		sum->lost_blocks[k] += p->lost_blocks[k];
	}
}

static void figures(struct mg_proc *p)
{
	struct mg_figures last;
	for (size_t i = 0; i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		const struct mgt_header *h = img->hdr;
		struct mg_figures f;
		mg_image_figures(&f, img);
		p->f.allocs += f.allocs;
		p->f.frees += f.frees;
		p->f.total_bytes += f.total_bytes;
		p->unknown_frees += h->unknown_frees;
		p->inherited_frees += h->inherited_frees;
		/* like within an image, the latest of equal peaks wins */
		if (!p->peak_image || f.peak_bytes >= p->f.peak_bytes) {
			p->f.peak_bytes = f.peak_bytes;
			p->f.peak_blocks = f.peak_blocks;
			p->peak_image = img;
		}
		if (f.rss_peak_bytes > p->f.rss_peak_bytes)
			p->f.rss_peak_bytes = f.rss_peak_bytes;
		last = f;
	}
	/* leaks are the last image's */
	p->f.leaked_bytes = last.leaked_bytes;
	p->f.leaked_blocks = last.leaked_blocks;
	p->f.kinds_known = last.kinds_known;
	memcpy(p->f.lost_bytes, last.lost_bytes, sizeof(last.lost_bytes));
	memcpy(p->f.lost_blocks, last.lost_blocks, sizeof(last.lost_blocks));
	p->start_ns = p->images[0]->hdr->start_mono_ns;
	p->end_ns = image_end(p->images[p->n_images - 1]);
}

int mg_trace_resolve(struct mg_trace *t, const struct mg_reaped *reaped, size_t n_reaped,
		     struct mg_error *err)
{
	struct mg_image **order = calloc(t->n_images + 1, sizeof(*order));
	t->procs = calloc(t->n_images + 1, sizeof(*t->procs));
	if (!order || !t->procs) {
		free(order);
		return mg_error_set(err, MG_ERROR, "out of memory");
	}
	for (size_t i = 0; i < t->n_images; i++)
		order[i] = &t->images[i];
	qsort(order, t->n_images, sizeof(*order), by_pid_seq);

	for (size_t i = 0; i < t->n_images;) {
		/* an exec chain: images of one pid, each but the last ended in exec */
		size_t j = i + 1;
		while (j < t->n_images && order[j]->hdr->pid == order[i]->hdr->pid &&
		       order[j - 1]->hdr->state == MGT_EXECED)
			j++;
		struct mg_proc *p = &t->procs[t->n_procs++];
		p->images = malloc((j - i) * sizeof(*p->images));
		if (!p->images) {
			free(order);
			return mg_error_set(err, MG_ERROR, "out of memory");
		}
		memcpy(p->images, order + i, (j - i) * sizeof(*p->images));
		p->n_images = j - i;
		p->pid = order[i]->hdr->pid;
		p->ppid = order[i]->hdr->ppid;
		figures(p);

		const struct mgt_header *lh = p->images[p->n_images - 1]->hdr;
		int st;
		int have = find_status(t, reaped, n_reaped, p->pid, &st);
		if (have && WIFSIGNALED(st)) {
			p->end = MG_END_SIGNALED;
			p->signal = WTERMSIG(st);
		} else if (lh->state == MGT_EXITED) {
			p->end = MG_END_EXITED;
			p->exit_code = have && WIFEXITED(st) ? WEXITSTATUS(st)
				     : (lh->flags & MGT_F_EXIT_CODE) ? lh->exit_code & 0xff : 0;
			p->via_underscore_exit = !!(lh->flags & MGT_F_HARD_EXIT);
		} else if (lh->state == MGT_EXECED) {
			p->end = MG_END_UNTRACED;
			if (have && WIFEXITED(st))
				p->exit_code = WEXITSTATUS(st);
		} else if (have && WIFEXITED(st)) {
			/* exited without running our exit step: exit_group(2) directly */
			p->end = MG_END_EXITED;
			p->exit_code = WEXITSTATUS(st);
		} else {
			p->end = MG_END_UNKNOWN;
		}
		/* exited, by whatever path: every event it made is recorded */
		p->complete = p->end == MG_END_EXITED && !(lh->flags & (MGT_F_NOSPACE | MGT_F_FSIZE));
		i = j;
	}
	free(order);
	qsort(t->procs, t->n_procs, sizeof(*t->procs), by_start);
	return MG_OK;
}

const struct mg_proc *mg_trace_find(const struct mg_trace *t, int pid)
{
	const struct mg_proc *found = NULL;
	for (size_t i = 0; i < t->n_procs; i++)
		if (t->procs[i].pid == pid)
			found = &t->procs[i];
	return found;
}

/* m holds addr and was loaded in dlclose epoch gen */
static int module_holds(const struct mgt_module *m, uint64_t addr, uint64_t gen)
{
	return addr >= m->lo && addr < m->hi && m->gen_loaded <= gen &&
	       (!m->gen_unloaded || m->gen_unloaded > gen);
}

static const struct mgt_module *module_of(const struct mg_image *img, uint64_t addr, uint64_t gen)
{
	const struct mgt_module *late = NULL;
	for (uint32_t i = 0; i < img->n_modules; i++) {
		const struct mgt_module *m = &img->modules[i];
		if (addr < m->lo || addr >= m->hi)
			continue;
		if (module_holds(m, addr, gen))
			return m;
		/* captured inside dlopen, before the loader hook recorded the module */
		if (m->gen_loaded == gen + 1)
			late = m;
	}
	return late;
}

static int is_self(const char *path)
{
	size_t n = strlen(path);
	return n >= 14 && !strcmp(path + n - 14, "/libmemgate.so");
}

int mg_trace_node_frame(const struct mg_image *img, uint32_t nd, uint64_t gen,
			struct mg_frame_cache *c, struct mg_frame *out)
{
	const struct mgt_node *fr = &img->nodes[nd];
	uint64_t a = (uint64_t)fr->ret_hi << 32 | fr->ret_lo;
	/* Modules loaded at the same time never overlap, so a frame inside the
	 * last one found, which was loaded at this generation, is in it. */
	if (!c->m || c->gen != gen || !module_holds(c->m, a, gen)) {
		c->m = module_of(img, a, gen);
		c->gen = gen;
		/* nameless: the main program (the vdso never calls malloc) */
		c->path = c->m ? (c->m->path[0] ? c->m->path : img->hdr->exe) : NULL;
		c->self = c->path && is_self(c->path);
	}
	if (c->self)
		return 0;
	out->addr = a;
	out->module = c->path;
	out->offset = c->m ? a - c->m->base : a;
	out->build_id = c->m ? c->m->build_id : NULL;
	out->build_id_len = c->m ? c->m->build_id_len : 0;
	return 1;
}

size_t mg_trace_frames(const struct mg_image *img, uint32_t id, struct mg_frame *out, size_t max)
{
	size_t n = 0;
	if (id == 0 || id >= img->n_stacks)
		return 0;
	const struct mgt_stack_info *si = &img->info[id];
	/* the module of the frame before: a stack's frames mostly lie in a few
	 * modules, and a profile reads millions of frames */
	struct mg_frame_cache c = { 0 };
	/* innermost first: each node's caller is the next frame out (checked
	 * at load: callers come first, so the chain ends) */
	for (uint32_t nd = si->node; nd && n < max; nd = img->nodes[nd].caller)
		n += (size_t)mg_trace_node_frame(img, nd, si->mod_gen, &c, &out[n]);
	return n;
}
