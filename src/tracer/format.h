/* format.h - layout of the per-process trace file (.mgt), shared by tracer and reader
 *
 * One file per process image: `<MEMGATE_DIR>/<pid>.<seq>.mgt`.  The tracer
 * creates it sparse at its full size, maps it MAP_SHARED and closes the fd at
 * once, so the traced program cannot close it and a SIGKILL leaves on disk the
 * state after the last completed event.  Every table lives in the mapping; the
 * tracer never calls write().  Regions sit at fixed offsets; a region's
 * committed length in the header is stored with release order *after* the
 * record it covers, so a reader after a crash sees only whole records.
 *
 * All integers are native-endian (the reader runs on the machine that traced).
 * See FORMAT.md for the prose version and the invariants readers rely on.
 */
#ifndef MEMGATE_TRACER_FORMAT_H
#define MEMGATE_TRACER_FORMAT_H

#include <stdint.h>

#define MGT_MAGIC        "MGTRACE1"
#define MGT_VERSION      9

#define MGT_MAX_STACKS   (1u << 20)       /* distinct call stacks per image; beyond: stack 0 */
#define MGT_MAX_NODES    (1u << 24)       /* frame nodes, all stacks together (shared callers once) */
#define MGT_MAX_MODULES  4096u
#define MGT_TIMELINE     2048u            /* buckets; pairs merge when full */
#define MGT_MAX_CHILDREN 4096u            /* statuses of children this image reaped */
#define MGT_MAX_DEPTH    256u
#define MGT_PATH_MAX     1024u
#define MGT_MAX_BATCHES  2048u            /* threads with counters of their own; others apply at once */
#define MGT_BATCH_EVENTS 256u             /* a thread folds its live bytes in after this many events, ... */
#define MGT_BATCH_BYTES  4096u            /* ... or once they moved this many bytes */
#define MGT_BATCH_RECS   1024u            /* a thread's own stack records (direct-mapped by stack id) */
#define MGT_TREC_NONE    UINT32_MAX       /* a thread record that counts for no stack */
#define MGT_PEND_FREE    (1u << 31)       /* hdr.pend_stack: the pending event is a free */
#define MGT_ARGV_MAX     8192u

/* region offsets and sizes (bytes) */
#define MGT_HDR_OFF      0ull
#define MGT_HDR_SIZE     (64ull << 10)
#define MGT_MOD_OFF      (MGT_HDR_OFF + MGT_HDR_SIZE)
#define MGT_MOD_SIZE     ((uint64_t)MGT_MAX_MODULES * sizeof(struct mgt_module))
#define MGT_TL_OFF       (MGT_MOD_OFF + MGT_MOD_SIZE)
#define MGT_TL_SIZE      ((uint64_t)MGT_TIMELINE * sizeof(struct mgt_bucket))
#define MGT_CHILD_OFF    (MGT_TL_OFF + MGT_TL_SIZE)
#define MGT_CHILD_SIZE   ((uint64_t)MGT_MAX_CHILDREN * sizeof(struct mgt_child))
#define MGT_STK_OFF      (MGT_CHILD_OFF + MGT_CHILD_SIZE)
#define MGT_STK_SIZE     ((uint64_t)MGT_MAX_STACKS * MGT_STACK_REC)
#define MGT_INFO_OFF     (MGT_STK_OFF + MGT_STK_SIZE)
#define MGT_INFO_SIZE    ((uint64_t)MGT_MAX_STACKS * sizeof(struct mgt_stack_info))
#define MGT_NODE_OFF     (MGT_INFO_OFF + MGT_INFO_SIZE)
#define MGT_NODE_SIZE    ((uint64_t)MGT_MAX_NODES * sizeof(struct mgt_node))
#define MGT_LOST_OFF     (MGT_NODE_OFF + MGT_NODE_SIZE)
#define MGT_LOST_SIZE    ((uint64_t)MGT_MAX_STACKS * sizeof(struct mgt_stack_lost))
#define MGT_BATCH_OFF    (MGT_LOST_OFF + MGT_LOST_SIZE)
#define MGT_BATCH_SIZE   ((uint64_t)MGT_MAX_BATCHES * sizeof(struct mgt_batch))
#define MGT_FILE_SIZE    (MGT_BATCH_OFF + MGT_BATCH_SIZE)

enum mgt_state {
	MGT_RUNNING = 1,   /* still running, or died without running any exit code */
	MGT_EXITED  = 2,   /* exit(), return from main or _exit(): exit_code is valid */
	MGT_EXECED  = 3    /* set just before execve(); a failed exec sets RUNNING again.
	                    * The next image, if traced, has the same pid and seq + 1 */
};

enum mgt_flags {
	MGT_F_FORK_CHILD   = 1u << 0,  /* image began by fork() of a traced parent */
	MGT_F_ARGV_TRUNC   = 1u << 1,  /* argv did not fit MGT_ARGV_MAX */
	MGT_F_EXIT_CODE    = 1u << 2,  /* exit_code was observed (exit, main's return, _exit) */
	MGT_F_NOSPACE      = 1u << 3,  /* a page could not be reserved: recording stopped early */
	MGT_F_STACK_FULL   = 1u << 4,  /* MGT_MAX_STACKS/NODES reached: new stacks went to stack 0 */
	MGT_F_UNTRACED_EXEC = 1u << 5, /* an exec/spawn dropped LD_PRELOAD or MEMGATE_DIR */
	MGT_F_CHILD_FULL   = 1u << 6,  /* more reaped children than MGT_MAX_CHILDREN */
	MGT_F_HARD_EXIT    = 1u << 7,  /* ended by _exit()/_Exit(): no atexit handlers ran */
	MGT_F_LEAKCHECK    = 1u << 8,  /* the leak kinds were computed at exit */
	MGT_F_LEAKCHECK_INEXACT = 1u << 9, /* some memory could not be scanned (see FORMAT.md) */
	MGT_F_THREADS      = 1u << 10, /* a second thread allocated or freed: figures like the
	                                * peak may vary from run to run */
	MGT_F_LEAKCHECK_UNREADABLE = 1u << 11, /* the leak check could not read memory at all
	                                * (process_vm_readv and /proc/self/mem refused) */
	MGT_F_FSIZE        = 1u << 12  /* a page lay past the process's file size limit
	                                * (RLIMIT_FSIZE): recording stopped early */
};

/*
 * Per call stack counters, indexed by stack id (id 0 = "no stack": overflow,
 * and every event of an image traced without stacks, depth_max 0).
 * The at-peak pair uses the epoch rebase: the bytes/blocks this stack held at
 * the process peak are `epoch == hdr.epoch ? peak_* : cur_*`.
 *
 * The stacks region holds a record of MGT_STACK_REC bytes (a cache line)
 * per stack, its counters: written on every event, and the only part of a
 * stack the tracer writes after creating it.  An allocation adds to allocs,
 * total_bytes and cur_bytes, a free to frees and cur_bytes; a stack's live
 * blocks are allocs - frees (count.h, mgt_stack_blocks), not a field.  These
 * records are the image's counts: the header's allocs, frees, total_bytes
 * and live figures are their sums (the reader's, which reads the records in
 * place).  What else a stack has lives in regions of its own: its struct
 * mgt_stack_info, written once, and its struct mgt_stack_lost, written only
 * by the leak check at exit.
 */
struct mgt_stack {
	uint64_t allocs;        /* successful allocations attributed here */
	uint64_t total_bytes;   /* requested bytes of those allocations */
	uint64_t frees;         /* frees of blocks allocated here */
	uint64_t cur_bytes;     /* live requested bytes now */
	uint64_t key;           /* the stack's 64-bit hash, the depot's
	                         * (src/tracer/stack.c), written once before its id is
	                         * published; 0 for stack 0 */
	uint64_t peak_bytes;    /* live bytes at the process peak (see above) */
	uint64_t peak_blocks;
	uint64_t epoch;         /* hdr.epoch when peak_* was last rebased (stored last) */
};
#define MGT_STACK_REC    sizeof(struct mgt_stack) /* bytes per stack in the file */
_Static_assert(MGT_STACK_REC == 64, "a stack record: one cache line");

/*
 * What a stack is, written once when the depot creates it (stack id i ->
 * record i).  Its frames are the chain of nodes from `node` (the innermost
 * frame) through each node's caller; node 0 ends it, and a stack whose walk
 * found no frame has node 0.
 */
struct mgt_stack_info {
	uint32_t node;          /* innermost frame's node; 0: no frames */
	uint32_t flags;         /* 1 = truncated at MEMGATE_DEPTH */
	uint64_t mod_gen;       /* module generation when first captured */
};

/*
 * One frame of one or more stacks: a return address and the node of the
 * frame that called it (0: the outermost frame).  Stacks that share their
 * outer frames share their nodes, so a caller is stored once however many
 * stacks pass through it.  A node's caller always has a smaller id.  Three
 * 32-bit words: 12 bytes, not 16.
 */
struct mgt_node {
	uint32_t ret_lo, ret_hi; /* the return address, low and high halves */
	uint32_t caller;        /* node of the calling frame; 0: none */
};

/* A stack's leak kinds, stack id i -> record i, written only by the leak check */
struct mgt_stack_lost {
	uint64_t bytes[4];      /* live at exit, by enum mgt_leak_kind (MGT_F_LEAKCHECK) */
	uint32_t blocks[4];
};

/* memcheck's leak kinds: what a conservative scan of the roots at exit finds */
enum mgt_leak_kind {
	MGT_DEFINITELY = 0,     /* no pointer to it anywhere */
	MGT_INDIRECTLY = 1,     /* only pointed to from definitely or indirectly lost blocks */
	MGT_POSSIBLY = 2,       /* only pointers into its middle */
	MGT_REACHABLE = 3       /* a pointer to its start from the roots, directly or not */
};

struct mgt_module {
	uint64_t base;          /* load bias (dlpi_addr) */
	uint64_t lo, hi;        /* lowest and highest address of its PT_LOAD segments */
	uint64_t gen_loaded;    /* module generation at which it was first seen */
	uint64_t gen_unloaded;  /* generation at which it was gone; 0 = still loaded */
	uint32_t build_id_len;
	uint8_t  build_id[32];
	uint32_t pad;
	char     path[MGT_PATH_MAX]; /* "" for the main program: see hdr.exe */
};

/* Timeline bucket: `width` consecutive events (hdr.tl_width). */
struct mgt_bucket {
	uint64_t t_end_ns;      /* monotonic time at the bucket's last event */
	uint64_t live_end;      /* live bytes after its last event */
	uint64_t live_max;      /* max live bytes within the bucket */
	uint64_t event_end;     /* index of its last event + 1 */
};

/*
 * In a process with more than one thread, each thread counts its own events
 * in its batch, a part of the file no other thread writes, so threads do not
 * write a shared cache line per event (record.c, "Threads").  Its records
 * are its parts of the stacks' counters: the reader adds each to the shared
 * record of its stack (core/trace.c).  Without stacks (depth_max 0) the
 * thread counts in the batch's head instead, its part of stack 0.
 *
 * A thread record is a stack's record (struct mgt_stack's counters) with the
 * stack's id in place of key, at index id % MGT_BATCH_RECS.  Another
 * stack that needs the index first adds it to the shared record under the
 * event lock (an eviction, journalled in the header: evict_*).  Its counts
 * may be below 0 (the thread freed blocks another thread allocated).
 */
struct mgt_trec {
	uint64_t allocs, total_bytes, frees, cur_bytes;
	uint32_t stack;         /* its stack id; MGT_TREC_NONE: none (being evicted) */
	uint32_t pad;
	uint64_t peak_bytes, peak_blocks; /* its part of the stack at the peak: see epoch */
	uint64_t epoch;         /* as struct mgt_stack's */
};
_Static_assert(sizeof(struct mgt_trec) == 64, "a thread record: one cache line");

enum mgt_event_kind {
	MGT_EV_ALLOC = 1,       /* a new block: size, stack */
	MGT_EV_FREE = 2,        /* a block of this image freed: size, stack */
	MGT_EV_RESIZE = 3,      /* realloc: new size, stack; old_size, old_stack */
	MGT_EV_INHERITED = 4,   /* free of a block inherited over fork: size */
	MGT_EV_UNKNOWN = 5      /* free of an address never seen allocated */
};

struct mgt_batch {
	uint32_t pad0[3];
	uint32_t left;          /* MGT_BATCH_EVENTS less its events not yet in the timeline
	                         * (counted down: record.c, fold) */
	/*
	 * Counts only (depth_max 0): the thread counts its events here, in a
	 * cache line no other thread writes; these are its part of stack 0's
	 * counts: the reader adds every batch's to stack 0.  Only the live
	 * bytes are shared: the thread folds its net change into the
	 * header's room (the peak, the timeline) under the event lock when it
	 * leaves +-MGT_BATCH_BYTES or after MGT_BATCH_EVENTS events (record.c,
	 * fold).  With stacks the thread does the same with its records.
	 */
	uint64_t allocs, frees, total_bytes;
	uint64_t cur_bytes;     /* its allocations' bytes less its frees' (below 0 after
	                         * freeing blocks another thread allocated) */
	uint64_t pad[2];        /* the records start on their own cache line */
	struct mgt_trec rec[MGT_BATCH_RECS]; /* with stacks: its records (above) */
};
_Static_assert(__builtin_offsetof(struct mgt_batch, rec) == 64, "a batch's head: one cache line");

/*
 * The call stack of an allocation whose depot lookup waits for the next
 * event (record.c, "The probe at the next event"): its key and its frames,
 * walked while the stack was there to walk.
 */
struct mgt_stash {
	uint64_t hash;          /* the stack's key: the depot's 64-bit hash (mgt_stack.key) */
	uint32_t check;         /* and its 32-bit check */
	uint32_t depth;         /* frames[] used, innermost first */
	uint32_t trunc;         /* cut at depth_max */
	uint32_t pad;
	uint64_t frames[MGT_MAX_DEPTH]; /* return addresses */
};

struct mgt_child {
	int32_t  pid;
	int32_t  status;        /* raw wait status, as from waitpid() */
};

struct mgt_header {
	char     magic[8];
	uint32_t version;
	uint32_t header_size;   /* sizeof(struct mgt_header) */
	uint64_t file_size;     /* MGT_FILE_SIZE of the writer */
	int32_t  pid, ppid;
	uint32_t seq;           /* image sequence for this pid (exec chain order) */
	uint32_t fork_gen;      /* 0 for a fresh exec'd image, +1 per fork */
	uint32_t state;         /* enum mgt_state */
	int32_t  exit_code;     /* valid when MGT_F_EXIT_CODE */
	uint32_t flags;         /* enum mgt_flags */
	uint32_t depth_max;     /* MEMGATE_DEPTH in force; 0: no stacks, all in stack 0 */
	uint64_t start_realtime_ns, start_mono_ns, end_mono_ns;

	/*
	 * The image's running figures, written per event by the only thread, or
	 * under the event lock.  Per event the tracer writes only its stack's
	 * record, `room` and `tl_left`: the counts are the stacks' (below).
	 */
	int64_t  room;          /* tl_open.live_max - live bytes: an event that takes it to 0
	                         * or below reached the open bucket's maximum (and maybe the peak) */
	uint64_t tl_left;       /* events until the open bucket closes (tl_width when it opened) */
	uint64_t peak_bytes;    /* the peak (the latest of equal ones) */
	uint64_t epoch;         /* bumped at each new (or equal) peak, after peak_bytes */
	/*
	 * An event whose count in its stack's record is not done yet (record.c,
	 * "Pending counts"): the reader counts it, rebasing the record to
	 * `epoch` first.  pend_size is stored before pend_stack.
	 */
	uint64_t pend_size;     /* its bytes */
	uint32_t pend_stack;    /* its stack id + 1, | MGT_PEND_FREE for a free; 0: none */
	/*
	 * A thread record being added to its stack's shared record (record.c,
	 * evict), under the event lock: evict_old is the shared record before,
	 * stored before evict_stack.  If evict_stack is set and that record
	 * still names the stack, the addition may be half done: the reader
	 * takes evict_old as the shared record.
	 */
	uint32_t evict_stack;   /* stack id + 1; 0: no eviction under way */
	uint32_t evict_batch;   /* the batch, */
	uint32_t evict_rec;     /* and its record */
	uint32_t signal_lost;   /* signal handlers' calls that found their queue full
	                         * (record.c, defer_slot): not recorded */
	uint32_t pad1;
	uint64_t evict_old[MGT_STACK_REC / 8];
	/*
	 * Derived by the reader (core/trace.c) from the stacks region and the
	 * fields above; the tracer leaves them 0 in the file.  allocs, frees,
	 * total_bytes, cur_bytes: sums over the stacks; cur_blocks = allocs -
	 * frees; peak_blocks: the stacks' blocks at the peak, summed.
	 */
	uint64_t allocs, frees, total_bytes;
	uint64_t cur_bytes, cur_blocks, peak_blocks;
	uint64_t events;        /* tracer: events before the open bucket; reader: all of them */
	uint64_t unknown_frees; /* free() of pointers never seen allocated */
	uint64_t inherited_frees, inherited_bytes; /* frees of blocks inherited over fork */
	uint64_t truncated_stacks; /* distinct stacks cut at depth_max */
	uint64_t rss_peak_bytes;   /* getrusage ru_maxrss, sampled */
	uint64_t lost_bytes[4];    /* leak kinds over all stacks (MGT_F_LEAKCHECK) */
	uint64_t lost_blocks[4];
	uint64_t scanned_bytes;    /* roots and blocks the leak check read */

	/* committed lengths (release-stored after the records) */
	uint32_t n_stacks;      /* stacks [0, n_stacks) are valid: counters and info */
	uint32_t n_modules;
	uint32_t n_nodes;       /* nodes [1, n_nodes) are valid (node 0 is never written) */
	uint32_t pad0;
	uint32_t n_children;
	uint32_t tl_n;          /* buckets [0, tl_n) closed; bucket tl_n is open */
	uint64_t tl_width;      /* events per bucket */
	uint64_t mod_gen;       /* module generation now */
	uint32_t n_batches;     /* batches [0, n_batches) handed to threads */
	uint32_t pad;
	struct mgt_bucket tl_open; /* the open bucket (copied into the table when closed) */

	char     parent_file[64]; /* the traced parent's file name when MGT_F_FORK_CHILD */
	char     exec_target[MGT_PATH_MAX]; /* pending or last exec target */
	char     untraced[MGT_PATH_MAX];    /* last exec/spawn that dropped the tracer */
	char     exe[MGT_PATH_MAX];         /* /proc/self/exe */
	uint32_t argc;
	uint32_t argv_len;      /* bytes used in argv[] */
	char     argv[MGT_ARGV_MAX]; /* NUL-separated */
	/*
	 * An allocation counted in the figures above but not yet in its stack's
	 * record (record.c, "The probe at the next event"): stash_at is 1 + the
	 * stash[] that holds its stack, stored after stash_size and that stash;
	 * 0: none.  The reader counts it in the stack with that key and frames
	 * (a stack not in the file yet is added), rebasing to `epoch` first.
	 */
	uint64_t stash_size;    /* its bytes */
	uint32_t stash_at;
	uint32_t stash_pad;
	struct mgt_stash stash[2]; /* the other one: the next allocation's, being walked */
};

_Static_assert(sizeof(struct mgt_header) <= MGT_HDR_SIZE, "the header's region holds it");
/* the counters of a stack start on a cache line of their own */
_Static_assert(MGT_STK_OFF % 64 == 0, "stacks region must be cache-line aligned");

#endif
