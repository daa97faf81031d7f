/* (2) realloc growth: buffers grown by +1 byte steps (string building) and by
 * doubling (vector growth), with a few buffers alive at once so realloc has
 * to move blocks sometimes.  Default: 12,000 rounds, each grows 4 buffers by
 * +1 steps to 256 B and 2 buffers by doubling 16 B -> 64 KiB. */
#include <string.h>
#include "bench_common.h"

int main(int argc, char **argv)
{
	long rounds = (long)(12000 * bench_scale(argc, argv));
	uintptr_t acc = 0;
	for (long r = 0; r < rounds; r++) {
		char *s[4] = {0, 0, 0, 0};
		for (size_t len = 1; len <= 256; len++) {
			for (int j = 0; j < 4; j++) {
				s[j] = realloc(s[j], len);
				s[j][len - 1] = (char)len;
			}
		}
		for (int j = 0; j < 4; j++) {
			acc += (unsigned char)s[j][100];
			free(s[j]);
		}
		char *v[2] = {0, 0};
		for (size_t cap = 16; cap <= 65536; cap *= 2) {
			for (int j = 0; j < 2; j++) {
				v[j] = realloc(v[j], cap);
				v[j][cap - 1] = (char)cap;
			}
		}
		for (int j = 0; j < 2; j++) {
			acc += (unsigned char)v[j][15];
			free(v[j]);
		}
	}
	bench_sink = acc;
	return 0;
}
