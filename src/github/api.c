/* api.c - GitHub REST calls with libcurl: the sticky comment, the event's pull request */
#define _GNU_SOURCE
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "version.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/clock.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "../util/lazylib.h"
#include "api.h"

/*
 * libcurl is loaded on first use.  Linked, it made every memgate command -
 * `memgate trace` of a short program included - pay about 8 ms of dynamic
 * loading (libcurl brings 30-odd libraries), for the one command that posts.
 */
static struct {
	void *lib;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

static int curl_load(struct mg_error *err)
{
	/* (the POSIX idiom for a function pointer from dlsym) */
#define CURL_SYM(f) { "curl_" #f, (void **)&cu.f }
	static const struct mg_lazy_sym syms[] = {
		CURL_SYM(global_init), CURL_SYM(global_cleanup), CURL_SYM(easy_init),
		CURL_SYM(easy_cleanup), CURL_SYM(easy_reset), CURL_SYM(easy_perform),
		CURL_SYM(easy_getinfo), CURL_SYM(easy_setopt), CURL_SYM(easy_strerror),
		CURL_SYM(slist_append), CURL_SYM(slist_free_all),
	};
#undef CURL_SYM
	return mg_lazy_load(&cu.lib, "libcurl.so.4", "libcurl (libcurl.so.4, Debian's libcurl4)",
			    syms, sizeof(syms) / sizeof(syms[0]), err);
}

#define MAX_BODY (16u << 20)    /* one response body */
#define MAX_PAGES 200           /* 20,000 comments at 100 a page */

struct mg_gh {
	CURL *curl;
	struct curl_slist *headers;     /* holds the token: freed with care, never printed */
	char *base;                     /* api_url without a trailing '/' */
	char *origin;                   /* scheme://host[:port]/ of base: where the token may go */
	char *repo;
	char *token;                    /* for scrubbing messages only */
	char *author;
	struct mg_gh_options o;
	uint64_t start_ns;              /* mg_monotonic_ns() at the start */
};

struct resp {
	long status;
	struct mg_buf body;
	char next[4096];                /* Link rel="next", "" if none */
	long retry_after;               /* seconds, -1 when absent */
	long remaining;                 /* x-ratelimit-remaining, -1 when absent */
	long long reset;                /* x-ratelimit-reset, epoch seconds, -1 when absent */
};

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *s = getenv(name);
	char *end;
	long v;
	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return def;
	return v;
}

void mg_gh_options_from_env(struct mg_gh_options *o)
{
	const char *token = getenv("MEMGATE_GITHUB_TOKEN");
	memset(o, 0, sizeof(*o));
	o->api_url = getenv("GITHUB_API_URL");
	o->repository = getenv("GITHUB_REPOSITORY");
	o->token = token && *token ? token : getenv("GITHUB_TOKEN");
	o->author = getenv("MEMGATE_COMMENT_AUTHOR");
	o->max_attempts = (int)env_long("MEMGATE_GH_ATTEMPTS", 4, 1, 10);
	o->timeout_ms = env_long("MEMGATE_GH_TIMEOUT_MS", 30000, 1, 600000);
	o->connect_timeout_ms = env_long("MEMGATE_GH_CONNECT_TIMEOUT_MS", 10000, 1, 600000);
	o->deadline_ms = env_long("MEMGATE_GH_DEADLINE_MS", 120000, 1, 3600000);
	o->backoff_ms = env_long("MEMGATE_GH_BACKOFF_MS", 1000, 0, 600000);
	o->max_wait_ms = env_long("MEMGATE_GH_MAX_WAIT_MS", 60000, 0, 3600000);
}

/* ---- time ---- */

static long elapsed_ms(const struct mg_gh *gh)
{
	return (long)((mg_monotonic_ns() - gh->start_ns) / 1000000);
}

static long left_ms(const struct mg_gh *gh)
{
	return gh->o.deadline_ms - elapsed_ms(gh);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- errors: never the token ---- */

static void scrub(struct mg_gh *gh, struct mg_error *err)
{
	char *p;
	size_t n;
	if (!err || !gh || !gh->token || !(n = strlen(gh->token)))
		return;
	while ((p = strstr(err->msg, gh->token))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

/* ---- setup ---- */

static int valid_repo(const char *r)
{
	const char *slash = r ? strchr(r, '/') : NULL;
	if (!slash || slash == r || !slash[1] || strchr(slash + 1, '/'))
		return 0;
	for (; *r; r++)
		if (!isalnum((unsigned char)*r) && !strchr("._-/", *r))
			return 0;
	return 1;
}

int mg_gh_open(struct mg_gh **out, const struct mg_gh_options *o, struct mg_error *err)
{
	struct mg_gh *gh;
	const char *url = o->api_url && *o->api_url ? o->api_url : "https://api.github.com";
	const char *host;
	struct mg_buf auth;
	char ua[64];
	size_t n;

	*out = NULL;
	if (!o->token || !*o->token)
		return mg_error_set(err, MG_EINVALID, "no GitHub token: set GITHUB_TOKEN (the action "
				    "passes its github-token input)");
	if (!valid_repo(o->repository))
		return mg_error_set(err, MG_EINVALID, "GITHUB_REPOSITORY: expected 'owner/name', got '%s'",
				    o->repository ? o->repository : "");
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))
		return mg_error_set(err, MG_EINVALID, "GITHUB_API_URL: expected an http(s) URL, got '%s'",
				    url);
	if (curl_load(err) != MG_OK)
		return MG_ERROR;
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mg_error_set(err, MG_ERROR, "cannot start libcurl");
	if (!(gh = calloc(1, sizeof(*gh))))
		goto oom;
	gh->o = *o;
	gh->start_ns = mg_monotonic_ns();
	n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	host = strstr(url, "://") + 3;
	host += strcspn(host, "/");
	if (!(gh->base = strndup(url, n)) || !(gh->origin = calloc(1, (size_t)(host - url) + 2)) ||
	    !(gh->repo = strdup(o->repository)) || !(gh->token = strdup(o->token)) ||
	    !(gh->author = strdup(o->author && *o->author ? o->author : "github-actions[bot]")))
		goto oom;
	memcpy(gh->origin, url, (size_t)(host - url));  /* "scheme://host[:port]/" */
	gh->origin[host - url] = '/';
	if (!(gh->curl = cu.easy_init()))
		goto oom;
	/* libcurl sends no User-Agent and accepts anything: GitHub wants both set */
	mg_buf_init(&auth, 64 * 1024);
	mg_buf_printf(&auth, "Authorization: Bearer %s", o->token);
	snprintf(ua, sizeof(ua), "User-Agent: memgate/%s", MEMGATE_VERSION);
	struct curl_slist *h = NULL, *t;
	const char *lines[] = { ua, "Accept: application/vnd.github+json",
				"X-GitHub-Api-Version: 2022-11-28", mg_buf_str(&auth),
				"Content-Type: application/json", "Expect:" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!(t = cu.slist_append(h, lines[i]))) {
			cu.slist_free_all(h);
			h = NULL;
			break;
		}
		h = t;
	}
	explicit_bzero(auth.ptr ? auth.ptr : (char *)"", auth.len);
	mg_buf_release(&auth);
	if (!h)
		goto oom;
	gh->headers = h;
	*out = gh;
	return MG_OK;
oom:
	mg_gh_close(gh);
	return mg_error_set(err, MG_ERROR, "out of memory");
}

void mg_gh_close(struct mg_gh *gh)
{
	if (!gh)
		return;
	if (gh->curl)
		cu.easy_cleanup(gh->curl);
	cu.slist_free_all(gh->headers);
	if (gh->token)
		explicit_bzero(gh->token, strlen(gh->token));
	free(gh->token);
	free(gh->base);
	free(gh->origin);
	free(gh->repo);
	free(gh->author);
	free(gh);
	cu.global_cleanup();
}

int mg_comment_mode_parse(enum mg_comment_mode *out, const char *s, struct mg_error *err)
{
	static const char *const names[] = { "auto", "always", "on-regression", "never" };
	for (int i = 0; i < 4; i++)
		if (s && !strcmp(s, names[i])) {
			*out = (enum mg_comment_mode)i;
			return MG_OK;
		}
	return mg_error_set(err, MG_EINVALID, "comment mode: expected auto, always, on-regression "
			    "or never, got '%s'", s ? s : "");
}

/* ---- one request ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	return mg_buf_add(&r->body, p, size * n) < 0 ? 0 : size * n;
}

/* `Link: <url>; rel="next", <url>; rel="last"` -> the next URL, as given */
static void parse_link(struct resp *r, const char *v, size_t len)
{
	const char *end = v + len, *p = v;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *gt, *stop;
		if (!lt || !(gt = memchr(lt, '>', (size_t)(end - lt))))
			return;
		stop = memchr(gt, ',', (size_t)(end - gt));
		if (!stop)
			stop = end;
		/* the parameters between '>' and the next ',' */
		for (const char *q = gt; q + 10 <= stop; q++)
			if (!strncasecmp(q, "rel=\"next\"", 10) || !strncasecmp(q, "rel=next", 8)) {
				size_t n = (size_t)(gt - lt - 1);
				if (n < sizeof(r->next)) {
					memcpy(r->next, lt + 1, n);
					r->next[n] = '\0';
				}
				return;
			}
		p = stop + 1;
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = size * n, klen;
	const char *colon, *v;
	char num[32];
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after a redirect or a 100): forget the last one's */
		r->next[0] = '\0';
		r->retry_after = r->remaining = r->reset = -1;
		return len;
	}
	if (!(colon = memchr(p, ':', len)))
		return len;
	klen = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	size_t vlen = (size_t)(p + len - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	snprintf(num, sizeof(num), "%.*s", (int)(vlen < 31 ? vlen : 31), v);
	if (klen == 4 && !strncasecmp(p, "link", 4))
		parse_link(r, v, vlen);
	else if (klen == 11 && !strncasecmp(p, "retry-after", 11))
		r->retry_after = isdigit((unsigned char)num[0]) ? strtol(num, NULL, 10) : -1;
	else if (klen == 21 && !strncasecmp(p, "x-ratelimit-remaining", 21))
		r->remaining = isdigit((unsigned char)num[0]) ? strtol(num, NULL, 10) : -1;
	else if (klen == 17 && !strncasecmp(p, "x-ratelimit-reset", 17))
		r->reset = isdigit((unsigned char)num[0]) ? strtoll(num, NULL, 10) : -1;
	return len;
}

static int transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/* the API's "message", else the first line of the body, else nothing */
static void api_message(char *out, size_t size, const struct resp *r)
{
	cJSON *doc = cJSON_ParseWithLength(mg_buf_str(&r->body), r->body.len);
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "message"));
	if (m)
		snprintf(out, size, ": %s", m);
	else
		out[0] = '\0';       /* an HTML error page says nothing useful */
	cJSON_Delete(doc);
}

static int is_rate_limited(const struct resp *r)
{
	if (r->status == 429)
		return 1;
	if (r->status != 403)
		return 0;
	return r->remaining == 0 || r->retry_after >= 0 ||
	       strcasestr(mg_buf_str(&r->body), "secondary rate limit") != NULL;
}

/* how long a rate limit asks to wait, in ms (GITHUB-NOTES §8) */
static long rate_wait_ms(const struct resp *r)
{
	if (r->retry_after >= 0)
		return r->retry_after * 1000;
	if (r->remaining == 0 && r->reset >= 0) {
		long long d = r->reset - (long long)time(NULL);
		return d > 0 ? (long)(d * 1000 + 500) : 1000;
	}
	return 60000;           /* a secondary limit without retry-after: at least a minute */
}

enum { R_OK, R_FAIL, R_TRANSIENT };

/*
 * One call: `method` on `url` (absolute), with `json` as the body when not
 * NULL.  Retries (when `retry`; rate limits always, the request did not
 * happen) as the header says.  R_OK: a 2xx in *r;
 * R_TRANSIENT: a failure worth another try later (retries exhausted or not
 * allowed); R_FAIL: a definite answer, err set.  r->status is the last status.
 */
static int request(struct mg_gh *gh, const char *method, const char *url, const char *json,
		   int retry, struct resp *r, struct mg_error *err)
{
	CURL *c = gh->curl;
	const char *path = url;
	char msg[300];
	long backoff = gh->o.backoff_ms;

	if (!strncmp(url, gh->origin, strlen(gh->origin)))
		path = url + strlen(gh->origin) - 1;
	for (int attempt = 1;; attempt++) {
		long left = left_ms(gh), wait = -1;
		CURLcode rc;
		char cerr[CURL_ERROR_SIZE] = "";
		if (left <= 0)
			return mg_error_set(err, MG_ERROR, "GitHub API: %s %s: gave up after %ld ms",
					    method, path, gh->o.deadline_ms), R_TRANSIENT;
		mg_buf_clear(&r->body);
		r->status = 0;
		r->next[0] = '\0';
		r->retry_after = r->remaining = r->reset = -1;
		cu.easy_reset(c);
		cu.easy_setopt(c, CURLOPT_URL, url);
		cu.easy_setopt(c, CURLOPT_HTTPHEADER, gh->headers);
		cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		cu.easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		cu.easy_setopt(c, CURLOPT_WRITEDATA, r);
		cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		cu.easy_setopt(c, CURLOPT_HEADERDATA, r);
		cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 gh->o.connect_timeout_ms < left ? gh->o.connect_timeout_ms : left);
		cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, gh->o.timeout_ms < left ? gh->o.timeout_ms : left);
		/* renamed repositories answer 301/307 (GITHUB-NOTES §7); keep the method and body,
		 * and libcurl drops our Authorization header if the host changes */
		cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		cu.easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		cu.easy_setopt(c, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
#if LIBCURL_VERSION_NUM >= 0x075500
		cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
		cu.easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
		cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
		if (json) {
			cu.easy_setopt(c, CURLOPT_POSTFIELDS, json);
			cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
		}
		if (strcmp(method, json ? "POST" : "GET"))
			cu.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		/*
		 * A create goes on a connection of its own: on a reused keep-alive
		 * connection that dies before any answer, libcurl sends the request
		 * again by itself, and a POST whose comment landed would make a
		 * second one.  The caller lists the comments again instead.
		 */
		if (!strcmp(method, "POST"))
			cu.easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		rc = cu.easy_perform(c);
		if (rc == CURLE_OK) {
			cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
			if (r->status >= 200 && r->status < 300)
				return R_OK;
			api_message(msg, sizeof(msg), r);
			mg_error_set(err, MG_ERROR, "GitHub API: %s %s: HTTP %ld%s", method, path,
				     r->status, msg);
			if (is_rate_limited(r)) {
				wait = rate_wait_ms(r);
				if (wait > gh->o.max_wait_ms || wait >= left_ms(gh)) {
					mg_error_set(err, MG_ERROR, "GitHub API: %s %s: rate limited "
						     "(HTTP %ld%s) for %ld s more: not waiting", method,
						     path, r->status, msg, (wait + 999) / 1000);
					scrub(gh, err);
					return R_TRANSIENT;
				}
			} else if (r->status < 500 || r->status > 599) {
				scrub(gh, err);
				return R_FAIL;
			}
		} else {
			if (rc == CURLE_WRITE_ERROR && r->body.failed)
				return mg_error_set(err, MG_ERROR, "GitHub API: %s %s: answer larger "
						    "than %u bytes", method, path, MAX_BODY), R_FAIL;
			mg_error_set(err, MG_ERROR, "GitHub API: %s %s: %s", method, path,
				     cerr[0] ? cerr : cu.easy_strerror(rc));
			if (!transient_curl(rc)) {
				scrub(gh, err);
				return R_FAIL;
			}
		}
		scrub(gh, err);
		/* a rate-limited request did not happen: even a create may be sent again */
		if ((!retry && wait < 0) || attempt >= gh->o.max_attempts)
			return R_TRANSIENT;
		if (wait < 0) {
			/* exponential, with up to 25% jitter so that parallel jobs spread out */
			wait = backoff + backoff * (long)(mg_monotonic_ns() % 250) / 1000;
			backoff *= 2;
		}
		if (wait >= left_ms(gh))
			return R_TRANSIENT;
		sleep_ms(wait);
	}
}

static void resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	mg_buf_init(&r->body, MAX_BODY);
}

/* ---- JSON with exact 64-bit ids ---- */

char *mg_gh_quote_big_ints(const char *json, size_t len)
{
	struct mg_buf b;
	size_t i = 0;
	mg_buf_init(&b, len * 2 + 16);
	while (i < len) {
		char ch = json[i];
		if (ch == '"') {
			size_t j = i + 1;
			while (j < len && json[j] != '"')
				j += json[j] == '\\' ? 2 : 1;
			j = j < len ? j + 1 : len;
			mg_buf_add(&b, json + i, j - i);
			i = j;
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t j = i + (ch == '-'), digits = 0;
			int integral = 1;
			while (j < len && strchr("0123456789.eE+-", json[j])) {
				if (json[j] >= '0' && json[j] <= '9')
					digits++;
				else
					integral = 0;
				j++;
			}
			if (integral && digits >= 16) {
				mg_buf_add(&b, "\"", 1);
				mg_buf_add(&b, json + i, j - i);
				mg_buf_add(&b, "\"", 1);
			} else {
				mg_buf_add(&b, json + i, j - i);
			}
			i = j;
		} else {
			mg_buf_add(&b, json + i, 1);
			i++;
		}
	}
	return b.failed ? (mg_buf_release(&b), NULL) : mg_buf_detach(&b);
}

static cJSON *parse_json(const struct resp *r)
{
	char *q = mg_gh_quote_big_ints(mg_buf_str(&r->body), r->body.len);
	cJSON *doc = q ? cJSON_Parse(q) : NULL;
	free(q);
	return doc;
}

/* an id: a JSON integer, or a string of digits from mg_gh_quote_big_ints; 0 if neither */
static long long json_id(const cJSON *v)
{
	uint64_t n;
	if (mg_json_u64(&n, v) == 0 && n >= 1)
		return (long long)n;
	if (cJSON_IsString(v) && isdigit((unsigned char)v->valuestring[0])) {
		char *end;
		errno = 0;
		long long id = strtoll(v->valuestring, &end, 10);
		return errno || *end ? 0 : id;
	}
	return 0;
}

/* ---- the sticky comment ---- */

/* lists every comment; *id: the first (oldest) with the marker by our author, 0 if none */
static int find_comment(struct mg_gh *gh, long long pr, const char *marker, long long *id,
			struct mg_error *err)
{
	char url[4096];
	struct resp r;
	int ret = MG_OK, pages = 0, rc;

	*id = 0;
	resp_init(&r);
	snprintf(url, sizeof(url), "%s/repos/%s/issues/%lld/comments?per_page=100", gh->base,
		 gh->repo, pr);
	for (;;) {
		cJSON *doc, *c;
		if ((rc = request(gh, "GET", url, NULL, 1, &r, err)) != R_OK) {
			ret = MG_ERROR;
			goto done;
		}
		if (!(doc = parse_json(&r)) || !cJSON_IsArray(doc)) {
			cJSON_Delete(doc);
			ret = mg_error_set(err, MG_ERROR, "GitHub API: comments of #%lld: not a JSON "
					   "array", pr);
			goto done;
		}
		cJSON_ArrayForEach(c, doc) {
			const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "body"));
			const cJSON *user = cJSON_GetObjectItemCaseSensitive(c, "user");
			const char *login = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(user, "login"));
			/* the marker alone is not enough: anyone can quote it */
			if (!*id && body && login && strstr(body, marker) && !strcmp(login, gh->author))
				*id = json_id(cJSON_GetObjectItemCaseSensitive(c, "id"));
		}
		cJSON_Delete(doc);
		if (*id || !r.next[0])
			break;
		/* the next page exactly as GitHub gives it, but only where the token may go */
		if (strncmp(r.next, gh->origin, strlen(gh->origin))) {
			ret = mg_error_set(err, MG_ERROR, "GitHub API: the next page of the comments "
					   "is on another server than GITHUB_API_URL: not followed");
			goto done;
		}
		if (++pages >= MAX_PAGES) {
			ret = mg_error_set(err, MG_ERROR, "GitHub API: more than %d pages of comments "
					   "on #%lld", MAX_PAGES, pr);
			goto done;
		}
		snprintf(url, sizeof(url), "%s", r.next);
	}
done:
	mg_buf_release(&r.body);
	return ret;
}

static char *body_json(const char *body)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	if (o && cJSON_AddStringToObject(o, "body", body))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* the status of a failed write: 403 without a rate limit is a read-only token */
static int write_error(const struct resp *r, struct mg_gh *gh, long long pr, struct mg_error *err)
{
	if (r->status == 403 && !is_rate_limited(r)) {
		char msg[300];
		api_message(msg, sizeof(msg), r);
		mg_error_set(err, MG_GH_EREADONLY, "cannot comment on pull request #%lld: the token "
			     "may not write (HTTP 403%s), as in a pull request from a fork; see the "
			     "workflow_run recipe in docs/github.md", pr, msg);
		scrub(gh, err);
		return MG_GH_EREADONLY;
	}
	return MG_ERROR;
}

int mg_gh_sticky_comment(struct mg_gh *gh, long long pr, const char *marker, const char *body,
			 enum mg_comment_mode mode, int failed, enum mg_gh_done *done,
			 long long *id, struct mg_error *err)
{
	char url[4096];
	char *json = NULL;
	struct resp r;
	long long found = 0;
	int ret = MG_OK, rc;

	*done = MG_GH_NOTHING;
	if (id)
		*id = 0;
	if (mode == MG_COMMENT_NEVER)
		return MG_OK;
	if (pr <= 0)
		return mg_error_set(err, MG_EINVALID, "no pull request number");
	if (!strstr(body, marker))
		return mg_error_set(err, MG_EINVALID, "the comment does not hold its marker");
	resp_init(&r);
	if (!(json = body_json(body))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	for (int round = 1;; round++) {
		if ((ret = find_comment(gh, pr, marker, &found, err)) != MG_OK)
			goto done;
		if (found) {
			if (!failed && mode == MG_COMMENT_ON_REGRESSION) {
				snprintf(url, sizeof(url), "%s/repos/%s/issues/comments/%lld", gh->base,
					 gh->repo, found);
				/* 404 after the list found it: gone already, maybe by this very
				 * request, resent by libcurl after its answer was lost */
				if ((rc = request(gh, "DELETE", url, NULL, 1, &r, err)) != R_OK &&
				    !(rc == R_FAIL && r.status == 404)) {
					ret = write_error(&r, gh, pr, err);
					goto done;
				}
				*done = MG_GH_DELETED;
				goto done;
			}
			snprintf(url, sizeof(url), "%s/repos/%s/issues/comments/%lld", gh->base, gh->repo,
				 found);
			if ((rc = request(gh, "PATCH", url, json, 1, &r, err)) != R_OK) {
				ret = write_error(&r, gh, pr, err);
				goto done;
			}
			*done = MG_GH_UPDATED;
			if (id)
				*id = found;
			goto done;
		}
		if (!failed && mode != MG_COMMENT_ALWAYS)
			goto done;      /* passing: no comment to create (auto, on-regression) */
		snprintf(url, sizeof(url), "%s/repos/%s/issues/%lld/comments", gh->base, gh->repo, pr);
		rc = request(gh, "POST", url, json, 0, &r, err);
		if (rc == R_OK) {
			cJSON *doc = parse_json(&r);
			*done = MG_GH_CREATED;
			if (id)
				*id = json_id(cJSON_GetObjectItemCaseSensitive(doc, "id"));
			cJSON_Delete(doc);
			goto done;
		}
		if (rc == R_FAIL) {
			ret = write_error(&r, gh, pr, err);
			goto done;
		}
		/* the create may have landed (a timeout after sending): list again, then decide */
		if (round >= gh->o.max_attempts || left_ms(gh) <= gh->o.backoff_ms) {
			ret = MG_ERROR;
			goto done;
		}
		sleep_ms(gh->o.backoff_ms * round);
	}
done:
	cJSON_free(json);
	mg_buf_release(&r.body);
	scrub(gh, err);
	return ret;
}

/* ---- the event ---- */

static long long event_number(const cJSON *v)
{
	uint64_t n;
	return mg_json_u64(&n, v) == 0 && n >= 1 ? (long long)n : 0;
}

int mg_gh_event_pr(long long *pr, char *head_sha, const char *event_name, const char *event_path,
		   struct mg_error *err)
{
	char *text = NULL;
	size_t len;
	cJSON *ev = NULL;
	const cJSON *o;
	const char *sha = NULL;
	int ret;

	*pr = 0;
	if (head_sha)
		head_sha[0] = '\0';
	if (!event_path || !*event_path)
		return mg_error_set(err, MG_ENOTFOUND, "no GITHUB_EVENT_PATH: not in a workflow run");
	if ((ret = mg_read_file(&text, &len, event_path, 64u << 20, err)) != MG_OK)
		return ret == MG_ENOTFOUND ? mg_error_set(err, MG_EINVALID, "GITHUB_EVENT_PATH: no "
							  "such file '%s'", event_path) : ret;
	if (!(ev = cJSON_ParseWithLength(text, len))) {
		ret = mg_error_set(err, MG_EINVALID, "'%s': the event payload is not JSON", event_path);
		goto done;
	}
	ret = MG_OK;
	if (!event_name)
		event_name = "";
	if (!strcmp(event_name, "pull_request") || !strcmp(event_name, "pull_request_target")) {
		o = cJSON_GetObjectItemCaseSensitive(ev, "pull_request");
		*pr = event_number(cJSON_GetObjectItemCaseSensitive(ev, "number"));
		if (!*pr)
			*pr = event_number(cJSON_GetObjectItemCaseSensitive(o, "number"));
		sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(o, "head"), "sha"));
	} else if (!strcmp(event_name, "workflow_run")) {
		o = cJSON_GetObjectItemCaseSensitive(ev, "workflow_run");
		*pr = event_number(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "pull_requests"), 0),
			"number"));
		sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "head_sha"));
		if (!*pr && head_sha && sha)
			snprintf(head_sha, 41, "%s", sha);
		if (!*pr)
			ret = mg_error_set(err, MG_ENOTFOUND, "the workflow_run event names no pull "
					   "request (a fork's: pass its number with --pr, "
					   "it is checked against the run's head commit)");
	} else if (!strcmp(event_name, "issue_comment")) {
		o = cJSON_GetObjectItemCaseSensitive(ev, "issue");
		if (cJSON_GetObjectItemCaseSensitive(o, "pull_request"))
			*pr = event_number(cJSON_GetObjectItemCaseSensitive(o, "number"));
	}
	if (ret == MG_OK && !*pr)
		ret = mg_error_set(err, MG_ENOTFOUND, "the '%s' event is not about a pull request",
				   event_name);
	if (ret == MG_OK && head_sha && sha)
		snprintf(head_sha, 41, "%s", sha);
done:
	free(text);
	cJSON_Delete(ev);
	return ret;
}

int mg_gh_check_pr_head(struct mg_gh *gh, long long pr, const char *sha, struct mg_error *err)
{
	char url[4096];
	struct resp r;
	cJSON *doc = NULL;
	const char *head;
	int ret;

	resp_init(&r);
	snprintf(url, sizeof(url), "%s/repos/%s/pulls/%lld", gh->base, gh->repo, pr);
	if (request(gh, "GET", url, NULL, 1, &r, err) != R_OK) {
		ret = MG_ERROR;
		goto done;
	}
	doc = parse_json(&r);
	head = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(doc, "head"), "sha"));
	if (!head || !sha || strcmp(head, sha))
		ret = mg_error_set(err, MG_ENOTFOUND, "pull request #%lld's head is %.12s, not the "
				   "run's %.12s: not commenting", pr, head ? head : "unknown",
				   sha ? sha : "unknown");
	else
		ret = MG_OK;
done:
	cJSON_Delete(doc);
	mg_buf_release(&r.body);
	scrub(gh, err);
	return ret;
}
