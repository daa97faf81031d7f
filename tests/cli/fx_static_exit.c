/*
 * fx_static_exit.c - a statically linked program (LD_PRELOAD has no effect on it)
 *
 * usage: fx_static_exit BYTES CODE: allocates BYTES, keeps them, exits with CODE
 * (fx_spawn starts it as it starts fx_child: "1000 11", "2000 12", "3000 13")
 */
#include <stdlib.h>

static void *volatile keep;

int main(int argc, char **argv)
{
	keep = malloc(argc > 1 ? (size_t)atol(argv[1]) : 100);
	return argc > 2 ? atoi(argv[2]) : 0;
}
