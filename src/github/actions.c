/* actions.c - the runner's files ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT) and workflow commands */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/error.h"
#include "actions.h"

size_t mg_actions_summary_room(const char *path)
{
	struct stat st;
	size_t used = 0;
	if (stat(path, &st) == 0 && st.st_size > 0)
		used = (size_t)st.st_size;
	if (used + 1024 >= MG_ACTIONS_SUMMARY_MAX)
		return 0;
	return MG_ACTIONS_SUMMARY_MAX - used - 1024;
}

/* appends len bytes with one write per chunk, O_APPEND: other tools of the step may append too */
static int append(const char *path, const char *data, size_t len, struct mg_error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			close(fd);
			return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path,
					    strerror(saved));
		}
		data += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		return mg_error_set(err, MG_ERROR, "cannot write '%s': %s", path, strerror(errno));
	return MG_OK;
}

int mg_actions_append_summary(const char *path, const char *text, size_t len,
			      struct mg_error *err)
{
	struct stat st;
	struct mg_buf b;
	int ret;
	mg_buf_init(&b, len + 4);
	/* a blank line first, so earlier content (a table, say) does not swallow ours */
	if (stat(path, &st) == 0 && st.st_size > 0)
		mg_buf_puts(&b, "\n");
	mg_buf_add(&b, text, len);
	if (len && text[len - 1] != '\n')
		mg_buf_puts(&b, "\n");
	ret = b.failed ? mg_error_set(err, MG_ERROR, "out of memory")
		       : append(path, mg_buf_str(&b), b.len, err);
	mg_buf_release(&b);
	return ret;
}

static int random_delimiter(char *out, size_t size, struct mg_error *err)
{
	unsigned char r[16];
	size_t got = 0;
	static const char hex[] = "0123456789abcdef";
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mg_error_set(err, MG_ERROR, "getrandom: %s", strerror(errno));
		got += (size_t)n;
	}
	if (size < sizeof("ghadelimiter_") + 2 * sizeof(r))
		return mg_error_set(err, MG_ERROR, "delimiter buffer too small");
	memcpy(out, "ghadelimiter_", 13);
	for (size_t i = 0; i < sizeof(r); i++) {
		out[13 + 2 * i] = hex[r[i] >> 4];
		out[14 + 2 * i] = hex[r[i] & 15];
	}
	out[13 + 2 * sizeof(r)] = '\0';
	return MG_OK;
}

int mg_actions_set_output(const char *path, const char *name, const char *value,
			  struct mg_error *err)
{
	char delim[64];
	struct mg_buf b;
	int ret, tries = 0;

	if (!name[0] || strpbrk(name, "=<\r\n"))
		return mg_error_set(err, MG_EINVALID, "bad output name '%s'", name);
	do {
		if ((ret = random_delimiter(delim, sizeof(delim), err)) != MG_OK)
			return ret;
		/* 128 random bits: a second draw is already astronomically unlikely */
	} while (strstr(value, delim) && ++tries < 8);
	if (strstr(value, delim))
		return mg_error_set(err, MG_ERROR, "output '%s': no delimiter found outside the value",
				    name);
	mg_buf_init(&b, strlen(value) + strlen(name) + 2 * sizeof(delim) + 8);
	/* the newline before the closing delimiter is the runner's, not the value's */
	mg_buf_printf(&b, "%s<<%s\n%s\n%s\n", name, delim, value, delim);
	ret = b.failed ? mg_error_set(err, MG_ERROR, "out of memory")
		       : append(path, mg_buf_str(&b), b.len, err);
	mg_buf_release(&b);
	return ret;
}

static int escape(struct mg_buf *b, const char *s, int property)
{
	for (; *s; s++) {
		switch (*s) {
		case '%': mg_buf_puts(b, "%25"); break;
		case '\r': mg_buf_puts(b, "%0D"); break;
		case '\n': mg_buf_puts(b, "%0A"); break;
		case ':': mg_buf_puts(b, property ? "%3A" : ":"); break;
		case ',': mg_buf_puts(b, property ? "%2C" : ","); break;
		default: mg_buf_add(b, s, 1);
		}
	}
	return b->failed ? -1 : 0;
}

int mg_actions_escape_data(struct mg_buf *b, const char *s)
{
	return escape(b, s, 0);
}

int mg_actions_escape_property(struct mg_buf *b, const char *s)
{
	return escape(b, s, 1);
}

int mg_actions_annotation(struct mg_buf *b, const char *kind, const char *title,
			  const char *message)
{
	mg_buf_printf(b, "::%s", kind);
	if (title) {
		mg_buf_puts(b, " title=");
		escape(b, title, 1);
	}
	mg_buf_puts(b, "::");
	escape(b, message, 0);
	mg_buf_puts(b, "\n");
	return b->failed ? -1 : 0;
}
