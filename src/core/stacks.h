/* stacks.h - the profile's stack table, written compactly and read back
 *
 * Internal to core/ (profile.c builds with it; the public half, expanding
 * and printing a document, is in profile.h).  The format is
 * docs/profile-schema.md, "Every stack": a document-wide string table, and
 * per process its modules, its distinct frames, the stacks as a tree of
 * nodes (each a frame and its caller's node) and one row of figures per
 * recorded stack.
 */
#ifndef MEMGATE_CORE_STACKS_H
#define MEMGATE_CORE_STACKS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "symbolize.h"
#include "trace.h"
#include "../tracer/count.h"
#include "../util/buf.h"

/* bytes/blocks a stack held at its image's peak (epoch rebase, format.h) */
static inline void mg_stack_at_peak(const struct mg_image *img, const struct mgt_stack *s,
				    uint64_t *bytes, uint64_t *blocks)
{
	int rebased = s->epoch == img->hdr->epoch;
	*bytes = rebased ? s->peak_bytes : s->cur_bytes;
	*blocks = rebased ? s->peak_blocks : mgt_stack_blocks(s);
}

/* The document's strings: function names, source files and module paths. */
struct mg_strtab {
	struct mg_strslot { char *s; uint32_t idx; } *slot;
	size_t cap, used;               /* cap: a power of two */
	struct mg_buf text;             /* the JSON array being written, without its ']' */
};

#define MG_NO_ROW UINT32_MAX

/* frames one return address gives at most (symbolize.c's own cap: a chain cut
 * here would lose the function that holds the code, C++ containers inline
 * eight deep and more); the lists and the table alike */
#define MG_MAX_INLINE 64

/*
 * Adds "modules", "frames", "nodes" and "stacks" to process object `o` for
 * every stack of `p` with an allocation, bytes live at the peak or a leak
 * (a runtime-owned block's summarised to where the runtime was called, unless
 * `whole`);
 * rows[i][id] gets the row of stack `id` of image i (MG_NO_ROW: none).  The
 * three tables are raw JSON nodes.  0, or -1 when out of memory (then the
 * optional tables are left out, and rows is NULL).
 */
int mg_stacks_write(cJSON *o, const struct mg_proc *p, struct mg_symbolizer *sym,
		    struct mg_strtab *st, int whole, uint32_t ***rows);
void mg_stacks_rows_free(uint32_t **rows, size_t n_images);

/*
 * A function name for the profile (docs/profile-schema.md, "Long names"):
 * while longer than 128 bytes, its most deeply nested generic argument lists
 * become "<…>", so "<Enumerate<IntoIter<u16>> as Iterator>::try_fold::<(),
 * …>" keeps its path and loses what it was instantiated with.  Brackets that
 * do not pair (C++'s operator<, operator<<) leave the name whole.  Returns
 * fn, or the shorter name, malloc'd, also in *owned (else NULL there); NULL:
 * out of memory.
 */
const char *mg_short_name(const char *fn, char **owned);

/* The "strings" array (a raw node, NULL when out of memory); releases st. */
cJSON *mg_strtab_finish(struct mg_strtab *st);

#endif
