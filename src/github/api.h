/* api.h - the GitHub REST API through libcurl: the sticky pull-request comment (docs/github.md)
 *
 * One comment per config on a pull request, found by its hidden marker
 * (markdown.h, mg_md_marker) AND its author, updated in place (PATCH) and
 * created (POST) only when absent.  Requests go to $GITHUB_API_URL as given
 * (GitHub Enterprise Server: https://HOST/api/v3) with the headers GitHub
 * requires (User-Agent, Accept, X-GitHub-Api-Version, Authorization: Bearer,
 * Content-Type), list pages are followed through `Link: rel="next"` exactly
 * as given, comment ids are 64-bit.
 *
 * Retries: only network errors, 5xx answers and rate limits (429, or 403 with
 * x-ratelimit-remaining: 0 or a secondary-limit message), waiting what
 * retry-after or x-ratelimit-reset says (else an exponential backoff from
 * backoff_ms), at most max_attempts tries per request and never past the
 * deadline; a rate-limit wait longer than max_wait_ms is not waited for.  A
 * create (POST) is never repeated blindly: after a failure the comments are
 * listed again first, so a create that did land is not made twice.
 *
 * The token goes only into the Authorization header: no message, error or
 * URL built here holds it (errors are scrubbed of it all the same).  Nothing
 * here prints.  Not thread-safe: one struct mg_gh per thread.
 */
#ifndef MEMGATE_GITHUB_API_H
#define MEMGATE_GITHUB_API_H

#include <cjson/cJSON.h>

struct mg_error;

/* The token may not write to the repository (403 "Resource not accessible by
 * integration": a pull request from a fork): a warning, not a failure. */
#define MG_GH_EREADONLY (-20)

struct mg_gh_options {
	const char *api_url;      /* base URL as given; NULL: https://api.github.com */
	const char *repository;   /* "owner/name" ($GITHUB_REPOSITORY) */
	const char *token;        /* required */
	const char *author;       /* login of our comments; NULL: "github-actions[bot]" */
	int max_attempts;         /* tries per request, 1..10 */
	long timeout_ms;          /* one request, connection included */
	long connect_timeout_ms;
	long deadline_ms;         /* every request of this struct mg_gh together */
	long backoff_ms;          /* first retry delay after a network error or 5xx, doubled */
	long max_wait_ms;         /* longest rate-limit wait accepted */
};

/*
 * The defaults, then the environment: GITHUB_API_URL, GITHUB_REPOSITORY,
 * MEMGATE_GITHUB_TOKEN (else GITHUB_TOKEN), MEMGATE_COMMENT_AUTHOR, and for
 * tests MEMGATE_GH_ATTEMPTS (4), MEMGATE_GH_TIMEOUT_MS (30000),
 * MEMGATE_GH_CONNECT_TIMEOUT_MS (10000), MEMGATE_GH_DEADLINE_MS (120000),
 * MEMGATE_GH_BACKOFF_MS (1000), MEMGATE_GH_MAX_WAIT_MS (60000).  The strings
 * are borrowed from the environment.
 */
void mg_gh_options_from_env(struct mg_gh_options *o);

struct mg_gh;

/* MG_EINVALID: no token, a repository that is not "owner/name", a base URL
 * that is not http(s); MG_ERROR: libcurl failed to start. */
int mg_gh_open(struct mg_gh **out, const struct mg_gh_options *o, struct mg_error *err);
void mg_gh_close(struct mg_gh *gh);

enum mg_comment_mode {
	MG_COMMENT_AUTO,          /* failing: create or update; passing: update an existing one */
	MG_COMMENT_ALWAYS,        /* create or update, every time */
	MG_COMMENT_ON_REGRESSION, /* failing: create or update; passing: delete an existing one */
	MG_COMMENT_NEVER
};

/* "auto", "always", "on-regression", "never" -> *out; MG_EINVALID otherwise. */
int mg_comment_mode_parse(enum mg_comment_mode *out, const char *s, struct mg_error *err);

enum mg_gh_done { MG_GH_NOTHING, MG_GH_CREATED, MG_GH_UPDATED, MG_GH_DELETED };

/*
 * Makes pull request `pr` carry `body` (which holds `marker`) as memgate's
 * one comment, per `mode` and whether the gate `failed`.  *done says what
 * was done and *id (may be NULL) the comment's id.  MG_GH_EREADONLY: the
 * token may not write; MG_ERROR: the API failed (message says how).
 */
int mg_gh_sticky_comment(struct mg_gh *gh, long long pr, const char *marker, const char *body,
			 enum mg_comment_mode mode, int failed, enum mg_gh_done *done,
			 long long *id, struct mg_error *err);

/*
 * The pull request of the event that started the workflow: event_name as
 * $GITHUB_EVENT_NAME, the payload at event_path ($GITHUB_EVENT_PATH):
 * pull_request and pull_request_target: `number`; workflow_run:
 * `workflow_run.pull_requests[0].number`; issue_comment on a pull request:
 * `issue.number`.  *head_sha (may be NULL; 41 bytes) gets the head commit
 * the event names, "" if none.  MG_ENOTFOUND: the event has no pull request
 * (a push, a fork's workflow_run); MG_EINVALID: unreadable payload.
 */
int mg_gh_event_pr(long long *pr, char *head_sha, const char *event_name, const char *event_path,
		   struct mg_error *err);

/* Checks that pull request `pr`'s head commit is `sha` (GET pulls/{n}): a
 * number read from an artifact must name the run's own pull request.
 * MG_ENOTFOUND: it does not (a warning: the PR may have moved on). */
int mg_gh_check_pr_head(struct mg_gh *gh, long long pr, const char *sha, struct mg_error *err);

/* Exposed for tests: JSON text with every integer of 16 digits or more made
 * a string, so that cJSON (doubles) keeps 64-bit ids exact; malloc'd. */
char *mg_gh_quote_big_ints(const char *json, size_t len);

#endif
