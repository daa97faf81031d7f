/* strdup.c - the program's own leak through glibc's strdup: N (argv[1]) copies of 10 bytes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *names[1000];

__attribute__((noinline)) static char *copy_name(const char *s, int i)
{
	names[i] = strdup(s);
	return names[i];
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	for (int i = 0; i < n && i < 1000; i++)
		copy_name("some name", i);
	memset(names, 0, sizeof(names));    /* lost */
	printf("copied %d\n", n);
	return 0;
}
