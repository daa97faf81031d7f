/* git.c - the commit checked out and the tree's state, through libgit2 */
#include <git2.h>
#include <string.h>

#include "../util/error.h"
#include "git.h"

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

int mg_git_head(char sha[41], int *dirty, const char *path, struct mg_error *err)
{
	git_repository *repo = NULL;
	git_oid oid;
	int ret = MG_ENOTFOUND, r;

	git_libgit2_init();
	r = git_repository_open_ext(&repo, path, 0, NULL);
	if (r < 0) {
		ret = mg_error_set(err, MG_ENOTFOUND, "'%s' is not in a git repository", path);
		goto done;
	}
	r = git_reference_name_to_id(&oid, repo, "HEAD");
	if (r < 0) {
		ret = mg_error_set(err, MG_ENOTFOUND, "the repository of '%s' has no commit yet",
				   path);
		goto done;
	}
	git_oid_tostr(sha, 41, &oid);
	*dirty = 0;
	if (!git_repository_is_bare(repo))
		git_status_foreach(repo, dirty_cb, dirty);
	ret = MG_OK;
done:
	git_repository_free(repo);
	git_libgit2_shutdown();
	return ret;
}
