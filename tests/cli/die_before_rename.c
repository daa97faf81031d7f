/*
 * die_before_rename.c - LD_PRELOAD'ed into memgate by accept_test.sh: the
 * process dies where rename(2) would put a written file in place, as a
 * writer killed at the worst moment would.  Built for the tests only.
 */
#include <stdlib.h>

int rename(const char *from, const char *to)
{
	(void)from;
	(void)to;
	abort();
}
