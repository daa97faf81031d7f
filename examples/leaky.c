/* leaky.c - an example for `memgate trace`: a parser that forgets to free, and a fork
 *
 * usage: leaky N   (parses N records; every tenth name is leaked)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct record {
	char *name;
	int value;
};

static char *copy_name(int i)
{
	char *s = malloc(32);
	memcpy(s, "record-", 8);
	s[7] = (char)('0' + i % 10);
	s[8] = '\0';
	return s;
}

static struct record *parse(int n)
{
	struct record *r = calloc((size_t)n, sizeof(*r));
	for (int i = 0; i < n; i++) {
		r[i].name = copy_name(i);
		r[i].value = i;
	}
	return r;
}

static void release(struct record *r, int n)
{
	for (int i = 0; i < n; i++)
		if (i % 10)              /* the bug: every tenth name is never freed */
			free(r[i].name);
	free(r);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	pid_t pid = fork();
	struct record *r = parse(pid == 0 ? n / 2 : n);
	release(r, pid == 0 ? n / 2 : n);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return 0;
}
