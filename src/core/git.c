/* git.c - the commit checked out, the tree's state and files at other commits, through libgit2 */
#define _GNU_SOURCE
#include <git2.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"
#include "../util/lazylib.h"
#include "git.h"

/*
 * libgit2 is loaded on first use, like libcurl (github/api.c).  Linked, its
 * chain of dependencies (mbedtls, libssh2, krb5, http-parser...) cost every
 * memgate command about 5 ms of dynamic loading (an empty program: 2.3 ms
 * with memgate's other libraries, 7.1 ms with libgit2 too), `memgate trace`
 * and `report` included, which never touch git.  The functions come from
 * the library of the soname memgate was built against (MG_LIBGIT2_SONAME),
 * typed by its own headers.
 */
#define LIBGIT2_FUNCS(X) \
	X(git_blob_free) \
	X(git_blob_lookup) \
	X(git_blob_rawcontent) \
	X(git_blob_rawsize) \
	X(git_commit_free) \
	X(git_commit_lookup) \
	X(git_commit_parent_id) \
	X(git_commit_parentcount) \
	X(git_commit_tree) \
	X(git_diff_free) \
	X(git_diff_get_delta) \
	X(git_diff_num_deltas) \
	X(git_diff_tree_to_tree) \
	X(git_error_last) \
	X(git_graph_ahead_behind) \
	X(git_libgit2_init) \
	X(git_libgit2_shutdown) \
	X(git_merge_base) \
	X(git_object_free) \
	X(git_object_id) \
	X(git_object_peel) \
	X(git_oid_cmp) \
	X(git_oid_equal) \
	X(git_oid_fromstr) \
	X(git_oid_tostr) \
	X(git_reference_name_to_id) \
	X(git_repository_free) \
	X(git_repository_head_unborn) \
	X(git_repository_is_bare) \
	X(git_repository_is_shallow) \
	X(git_repository_open_ext) \
	X(git_repository_workdir) \
	X(git_revparse_single) \
	X(git_revwalk_free) \
	X(git_revwalk_hide) \
	X(git_revwalk_new) \
	X(git_revwalk_next) \
	X(git_revwalk_push) \
	X(git_status_foreach) \
	X(git_tree_entry_byindex) \
	X(git_tree_entry_bypath) \
	X(git_tree_entry_filemode) \
	X(git_tree_entry_free) \
	X(git_tree_entry_id) \
	X(git_tree_entry_name) \
	X(git_tree_entry_type) \
	X(git_tree_entrycount) \
	X(git_tree_free) \
	X(git_tree_lookup)

static struct {
	void *lib;
#define X(f) __typeof__(f) *f;
	LIBGIT2_FUNCS(X)
#undef X
} lg;

/* loads libgit2 once; MG_OK, or MG_ERROR with the reason in err (may be NULL) */
static int git_load(struct mg_error *err)
{
	/* (the POSIX idiom for a function pointer from dlsym) */
	static const struct mg_lazy_sym syms[] = {
#define X(f) { #f, (void **)&lg.f },
		LIBGIT2_FUNCS(X)
#undef X
	};
	return mg_lazy_load(&lg.lib, MG_LIBGIT2_SONAME, "libgit2 (" MG_LIBGIT2_SONAME
			    ", Debian's libgit2-1.5)", syms, sizeof(syms) / sizeof(syms[0]), err);
}

/* from here on, every libgit2 call goes through the table */
#define git_blob_free (lg.git_blob_free)
#define git_blob_lookup (lg.git_blob_lookup)
#define git_blob_rawcontent (lg.git_blob_rawcontent)
#define git_blob_rawsize (lg.git_blob_rawsize)
#define git_commit_free (lg.git_commit_free)
#define git_commit_lookup (lg.git_commit_lookup)
#define git_commit_parent_id (lg.git_commit_parent_id)
#define git_commit_parentcount (lg.git_commit_parentcount)
#define git_commit_tree (lg.git_commit_tree)
#define git_diff_free (lg.git_diff_free)
#define git_diff_get_delta (lg.git_diff_get_delta)
#define git_diff_num_deltas (lg.git_diff_num_deltas)
#define git_diff_tree_to_tree (lg.git_diff_tree_to_tree)
#define git_error_last (lg.git_error_last)
#define git_graph_ahead_behind (lg.git_graph_ahead_behind)
#define git_libgit2_init (lg.git_libgit2_init)
#define git_libgit2_shutdown (lg.git_libgit2_shutdown)
#define git_merge_base (lg.git_merge_base)
#define git_object_free (lg.git_object_free)
#define git_object_id (lg.git_object_id)
#define git_object_peel (lg.git_object_peel)
#define git_oid_cmp (lg.git_oid_cmp)
#define git_oid_equal (lg.git_oid_equal)
#define git_oid_fromstr (lg.git_oid_fromstr)
#define git_oid_tostr (lg.git_oid_tostr)
#define git_reference_name_to_id (lg.git_reference_name_to_id)
#define git_repository_free (lg.git_repository_free)
#define git_repository_head_unborn (lg.git_repository_head_unborn)
#define git_repository_is_bare (lg.git_repository_is_bare)
#define git_repository_is_shallow (lg.git_repository_is_shallow)
#define git_repository_open_ext (lg.git_repository_open_ext)
#define git_repository_workdir (lg.git_repository_workdir)
#define git_revparse_single (lg.git_revparse_single)
#define git_revwalk_free (lg.git_revwalk_free)
#define git_revwalk_hide (lg.git_revwalk_hide)
#define git_revwalk_new (lg.git_revwalk_new)
#define git_revwalk_next (lg.git_revwalk_next)
#define git_revwalk_push (lg.git_revwalk_push)
#define git_status_foreach (lg.git_status_foreach)
#define git_tree_entry_byindex (lg.git_tree_entry_byindex)
#define git_tree_entry_bypath (lg.git_tree_entry_bypath)
#define git_tree_entry_filemode (lg.git_tree_entry_filemode)
#define git_tree_entry_free (lg.git_tree_entry_free)
#define git_tree_entry_id (lg.git_tree_entry_id)
#define git_tree_entry_name (lg.git_tree_entry_name)
#define git_tree_entry_type (lg.git_tree_entry_type)
#define git_tree_entrycount (lg.git_tree_entrycount)
#define git_tree_free (lg.git_tree_free)
#define git_tree_lookup (lg.git_tree_lookup)

/* an open repository; libgit2 is initialised while one is open */
struct mg_git {
	git_repository *repo;
	/* mg_git_distance()'s last answer: every test of a check asks the same */
	git_oid dist_from, dist_to;
	uint64_t dist_key;          /* the paths it did not count */
	long dist;                  /* -1: none yet */
};

int mg_git_open(struct mg_git **out, const char *path, struct mg_error *err)
{
	struct mg_git *g;

	*out = NULL;
	if (git_load(err) != MG_OK)
		return MG_ERROR;
	if (!(g = calloc(1, sizeof(*g))))
		return mg_error_set(err, MG_ERROR, "out of memory");
	g->dist = -1;
	/* once per handle: the set-up reads the TLS trust store, among others */
	git_libgit2_init();
	if (git_repository_open_ext(&g->repo, path, 0, NULL) < 0) {
		git_libgit2_shutdown();
		free(g);
		return mg_error_set(err, MG_ENOTFOUND, "'%s' is not in a git repository", path);
	}
	*out = g;
	return MG_OK;
}

void mg_git_close(struct mg_git *g)
{
	if (!g)
		return;
	git_repository_free(g->repo);
	git_libgit2_shutdown();
	free(g);
}

static int dirty_cb(const char *path, unsigned int flags, void *payload)
{
	(void)path;
	/* untracked files do not make a measurement dirty; changed tracked ones do */
	if (flags & ~(unsigned)(GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)) {
		*(int *)payload = 1;
		return 1;                     /* stop at the first */
	}
	return 0;
}

int mg_git_head(struct mg_git *g, char sha[41], int *dirty, struct mg_error *err)
{
	git_oid oid;

	if (git_reference_name_to_id(&oid, g->repo, "HEAD") < 0)
		return mg_error_set(err, MG_ENOTFOUND, "the repository has no commit yet");
	git_oid_tostr(sha, 41, &oid);
	*dirty = 0;
	if (!git_repository_is_bare(g->repo))
		git_status_foreach(g->repo, dirty_cb, dirty);
	return MG_OK;
}

int mg_git_unborn(struct mg_git *g)
{
	return git_repository_head_unborn(g->repo) == 1;
}

/* git_error_last() may be NULL in libgit2 1.5 */
static const char *git_msg(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown error";
}

/* a set of commit ids, kept sorted */
struct oidset {
	git_oid *v;
	size_t n, cap;
};

static int oid_cmp(const void *a, const void *b) { return git_oid_cmp(a, b); }

static int oidset_has(const struct oidset *s, const git_oid *id)
{
	return s && s->n && bsearch(id, s->v, s->n, sizeof(*s->v), oid_cmp) != NULL;
}

static int oidset_add(struct oidset *s, const git_oid *id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (git_oid_cmp(&s->v[mid], id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		git_oid *nv = realloc(s->v, (s->cap ? 2 * s->cap : 64) * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = s->cap ? 2 * s->cap : 64;
	}
	memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
	s->v[lo] = *id;
	s->n++;
	return 0;
}

/*
 * The commits reachable from `start` into *out, not going past commits in
 * `stop`; *missing when a parent is absent (the shallow boundary).
 */
static int ancestors(struct oidset *out, git_repository *repo, const git_oid *start,
		     const struct oidset *stop, int *missing)
{
	struct oidset todo = { 0 };
	int ret = -1;
	if (oidset_add(&todo, start) < 0)
		return -1;
	while (todo.n) {
		git_oid id = todo.v[--todo.n];
		git_commit *c;
		if (oidset_has(out, &id))
			continue;
		/* only commits the clone has: a missing one is nobody's ancestor here */
		if (git_commit_lookup(&c, repo, &id) < 0) {
			*missing = 1;
			continue;
		}
		if (oidset_add(out, &id) < 0) {
			git_commit_free(c);
			goto done;
		}
		if (oidset_has(stop, &id)) {
			git_commit_free(c);
			continue;
		}
		for (unsigned i = 0; i < git_commit_parentcount(c); i++)
			if (!oidset_has(out, git_commit_parent_id(c, i)) &&
			    oidset_add(&todo, git_commit_parent_id(c, i)) < 0) {
				git_commit_free(c);
				goto done;
			}
		git_commit_free(c);
	}
	ret = 0;
done:
	free(todo.v);
	return ret;
}

/*
 * In a shallow clone, whether the merge-base of `a` and `b` lies inside the
 * fetched history: some ancestor of `b` is an ancestor of `a`, and no path
 * from `b` to one leaves the clone.  git_merge_base() is not asked first: in
 * libgit2 1.5 it leaks when it meets a missing parent.
 */
static int shallow_has_base(git_repository *repo, const git_oid *a, const git_oid *b)
{
	struct oidset sa = { 0 }, sb = { 0 };
	int ma = 0, mb = 0, found = 0;
	if (ancestors(&sa, repo, a, NULL, &ma) == 0 && ancestors(&sb, repo, b, &sa, &mb) == 0)
		for (size_t i = 0; i < sb.n && !found; i++)
			found = oidset_has(&sa, &sb.v[i]);
	free(sa.v);
	free(sb.v);
	return found && !mb;
}

/* the commit `rev` names */
static int rev_commit(git_oid *out, git_repository *repo, const char *rev, struct mg_error *err)
{
	git_object *obj = NULL, *commit = NULL;
	int r = git_revparse_single(&obj, repo, rev), ret = MG_OK;

	if (r == GIT_ENOTFOUND || r == GIT_EAMBIGUOUS || r == GIT_EINVALIDSPEC)
		ret = mg_error_set(err, MG_ENOTFOUND, "no commit '%s' in the repository%s", rev,
				   git_repository_is_shallow(repo) ? " (the clone is shallow: fetch "
				   "it, or set fetch-depth: 0 in actions/checkout)" : "");
	else if (r < 0)
		ret = mg_error_set(err, MG_ERROR, "cannot resolve '%s': %s", rev, git_msg());
	else if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0)
		ret = mg_error_set(err, MG_ENOTFOUND, "'%s' does not name a commit", rev);
	else
		*out = *git_object_id(commit);
	git_object_free(commit);
	git_object_free(obj);
	return ret;
}

/* the commit to read baselines from; see mg_git_merge_base() */
static int base_commit(git_oid *out, git_repository *repo, const char *rev, struct mg_error *err)
{
	git_oid head, target;
	int r;

	if ((r = rev_commit(&target, repo, rev, err)) != MG_OK)
		return r;
	*out = target;
	/* an unborn HEAD has nothing to fork from: REV itself */
	if (git_reference_name_to_id(&head, repo, "HEAD") < 0 || git_oid_equal(&head, out))
		return MG_OK;
	/* a branch is compared with what it forked from, not with what landed since */
	if (git_repository_is_shallow(repo) && !shallow_has_base(repo, &head, &target))
		r = GIT_ENOTFOUND;
	else
		r = git_merge_base(out, repo, &head, &target);
	if (r == 0)
		return MG_OK;
	if (git_repository_is_shallow(repo))
		return mg_error_set(err, MG_EINVALID, "no merge-base of HEAD and '%s': the clone is "
				    "shallow: set fetch-depth: 0 in actions/checkout (or git fetch "
				    "--unshallow)", rev);
	if (r == GIT_ENOTFOUND)
		return mg_error_set(err, MG_EINVALID, "HEAD and '%s' have no common history", rev);
	return mg_error_set(err, MG_ERROR, "cannot find the merge-base of HEAD and '%s': %s",
			    rev, git_msg());
}

int mg_git_merge_base(struct mg_git *g, char sha_out[41], const char *rev,
		      struct mg_error *err)
{
	git_oid oid;
	int ret;

	if ((ret = base_commit(&oid, g->repo, rev, err)) == MG_OK)
		git_oid_tostr(sha_out, 41, &oid);
	return ret;
}

int mg_git_read_at(struct mg_git *g, char **text, size_t *len, const char *rev,
		   const char *file_in_repo, char sha_out[41], struct mg_error *err)
{
	git_repository *repo = g->repo;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_oid oid;
	int ret, r;

	*text = NULL;
	*len = 0;
	if ((ret = rev_commit(&oid, repo, rev, err)) != MG_OK)
		goto done;
	git_oid_tostr(sha_out, 41, &oid);
	if (git_commit_lookup(&commit, repo, &oid) < 0 || git_commit_tree(&tree, commit) < 0) {
		ret = mg_error_set(err, MG_ERROR, "cannot read the tree of %.12s: %s", sha_out,
				   git_msg());
		goto done;
	}
	r = git_tree_entry_bypath(&entry, tree, file_in_repo);
	if (r == GIT_ENOTFOUND || (r == 0 && git_tree_entry_type(entry) != GIT_OBJECT_BLOB)) {
		ret = mg_error_set(err, MG_ENOTFOUND, "no '%s' at %.12s", file_in_repo, sha_out);
		goto done;
	}
	/* a symlink is a blob of its target's name: never followed (out of the tree, maybe) */
	if (r == 0 && git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
		ret = mg_error_set(err, MG_EINVALID, "'%s' at %.12s is a symlink: baselines must "
				   "be regular files", file_in_repo, sha_out);
		goto done;
	}
	if (r < 0 || git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) < 0) {
		ret = mg_error_set(err, MG_ERROR, "cannot read '%s' at %.12s: %s", file_in_repo,
				   sha_out, git_msg());
		goto done;
	}
	size_t n = (size_t)git_blob_rawsize(blob);
	if (!(*text = malloc(n + 1))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	memcpy(*text, git_blob_rawcontent(blob), n);
	(*text)[n] = '\0';
	*len = n;
	ret = MG_OK;
done:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return ret;
}

int mg_git_relpath(struct mg_git *g, char *out, size_t size, const char *path,
		   struct mg_error *err)
{
	char abs[PATH_MAX], wd[PATH_MAX], parent[PATH_MAX];
	git_repository *repo = g->repo;
	const char *rel;

	if (!realpath(path, abs)) {
		/* a directory not created yet: its parent must exist */
		const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
		if (!slash)
			strcpy(parent, ".");
		else if (slash == path)
			strcpy(parent, "/");
		else
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
		if (!realpath(parent, abs))
			return mg_error_set(err, MG_ENOTFOUND, "no directory '%s'", parent);
		size_t al = strlen(abs);
		if ((size_t)snprintf(abs + al, sizeof(abs) - al, "/%s", base) >= sizeof(abs) - al)
			return mg_error_set(err, MG_ERROR, "path too long: '%s'", path);
	}
	if (git_repository_is_bare(repo) || !realpath(git_repository_workdir(repo), wd))
		return mg_error_set(err, MG_ENOTFOUND, "'%s' is not in a work tree", path);
	size_t wl = strlen(wd);
	if (strncmp(abs, wd, wl) || (abs[wl] != '/' && abs[wl] != '\0' && strcmp(wd, "/")))
		return mg_error_set(err, MG_EINVALID, "'%s' is outside the work tree '%s'", path, wd);
	rel = abs + wl;
	while (*rel == '/')
		rel++;
	if ((size_t)snprintf(out, size, "%s", rel) >= size)
		return mg_error_set(err, MG_ERROR, "path too long: '%s'", path);
	return MG_OK;
}

/* whether `path` is one of `only` (a file, or a directory and all below it),
 * or a .gitignore, which no build reads */
static int path_in(const char *path, const char *const *only, size_t n_only)
{
	const char *slash = strrchr(path, '/');
	if (!strcmp(slash ? slash + 1 : path, ".gitignore"))
		return 1;
	for (size_t k = 0; k < n_only; k++) {
		size_t l = strlen(only[k]);
		if (l && !strncmp(path, only[k], l) && (path[l] == '\0' || path[l] == '/'))
			return 1;
	}
	return 0;
}

/* whether commit c changed a path that is not one of `only`, against its
 * first parent (a root commit: against nothing); an unreadable commit counts */
static int changes_more(git_repository *repo, const git_oid *c, const char *const *only,
			size_t n_only)
{
	git_commit *commit = NULL, *parent = NULL;
	git_tree *tree = NULL, *ptree = NULL;
	git_diff *diff = NULL;
	int more = 1;

	if (git_commit_lookup(&commit, repo, c) < 0 || git_commit_tree(&tree, commit) < 0 ||
	    (git_commit_parentcount(commit) > 0 &&
	     (git_commit_lookup(&parent, repo, git_commit_parent_id(commit, 0)) < 0 ||
	      git_commit_tree(&ptree, parent) < 0)) ||
	    git_diff_tree_to_tree(&diff, repo, ptree, tree, NULL) < 0)
		goto done;
	more = 0;
	for (size_t k = 0, n = git_diff_num_deltas(diff); k < n && !more; k++) {
		const git_diff_delta *d = git_diff_get_delta(diff, k);
		more = !path_in(d->old_file.path, only, n_only) ||
		       !path_in(d->new_file.path, only, n_only);
	}
done:
	git_diff_free(diff);
	git_tree_free(ptree);
	git_tree_free(tree);
	git_commit_free(parent);
	git_commit_free(commit);
	return more;
}

int mg_git_distance(struct mg_git *g, long *out, const char *from, const char *to,
		    const char *const *only, size_t n_only)
{
	git_oid a, b, c;
	git_revwalk *walk = NULL;
	size_t ahead = 0, behind = 0;
	uint64_t key = 14695981039346656037ull;   /* FNV-1a of the paths */

	*out = -1;
	for (size_t k = 0; k < n_only; k++)
		for (const char *p = only[k]; ; p++) {
			key = (key ^ (unsigned char)*p) * 1099511628211ull;
			if (!*p)
				break;
		}
	if (git_oid_fromstr(&a, from) || git_oid_fromstr(&b, to))
		return MG_ENOTFOUND;
	if (g->dist >= 0 && g->dist_key == key && git_oid_equal(&g->dist_from, &a) &&
	    git_oid_equal(&g->dist_to, &b)) {
		*out = g->dist;
		return MG_OK;
	}
	if (git_graph_ahead_behind(&ahead, &behind, g->repo, &b, &a) < 0 || behind)
		return MG_ENOTFOUND;              /* `to` does not contain `from` */
	long n = 0;
	if (ahead && (git_revwalk_new(&walk, g->repo) < 0 || git_revwalk_push(walk, &b) < 0 ||
		      git_revwalk_hide(walk, &a) < 0)) {
		git_revwalk_free(walk);
		return MG_ENOTFOUND;
	}
	while (ahead && git_revwalk_next(&c, walk) == 0)
		n += changes_more(g->repo, &c, only, n_only);
	git_revwalk_free(walk);
	g->dist_from = a;
	g->dist_to = b;
	g->dist_key = key;
	g->dist = *out = n;
	return MG_OK;
}

int mg_git_list_at(struct mg_git *g, char ***names, size_t *n, const char *commit_sha,
		   const char *dir_in_repo, struct mg_error *err)
{
	git_repository *repo = g->repo;
	git_commit *commit = NULL;
	git_tree *tree = NULL, *dir = NULL;
	git_tree_entry *entry = NULL;
	git_oid oid;
	int ret;

	*names = NULL;
	*n = 0;
	if (git_oid_fromstr(&oid, commit_sha) < 0 || git_commit_lookup(&commit, repo, &oid) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		ret = mg_error_set(err, MG_ERROR, "cannot read the tree of %.12s: %s", commit_sha,
				   git_msg());
		goto done;
	}
	ret = MG_OK;
	if (!dir_in_repo[0]) {
		dir = tree;
		tree = NULL;
	} else if (git_tree_entry_bypath(&entry, tree, dir_in_repo) < 0 ||
		   git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
		   git_tree_lookup(&dir, repo, git_tree_entry_id(entry)) < 0) {
		goto done;                    /* no such directory there: nothing listed */
	}
	size_t count = git_tree_entrycount(dir);
	if (!(*names = calloc(count + 1, sizeof(**names)))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(dir, i);
		const char *name = git_tree_entry_name(e);
		size_t len = strlen(name);
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || len <= 5 ||
		    strcmp(name + len - 5, ".json"))
			continue;
		if (!((*names)[*n] = strndup(name, len - 5))) {
			ret = mg_error_set(err, MG_ERROR, "out of memory");
			goto done;
		}
		(*n)++;
	}
done:
	git_tree_entry_free(entry);
	git_tree_free(dir);
	git_tree_free(tree);
	git_commit_free(commit);
	return ret;
}
