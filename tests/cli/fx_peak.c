/* fx_peak.c - the same allocations with a high or a low peak, for check's re-runs
 *
 * usage: fx_peak high|low|once FILE
 *   high: 64 blocks of 1 KiB live together (peak 65536 bytes), then freed
 *   low:  the same 64 blocks, each freed at once (peak 1024 bytes)
 *   once FILE: high when FILE does not exist (and creates it), else low
 * allocs, frees and total_bytes are the same in every mode (64, 64, 65536):
 * only the peak moves, as it does with timing in real programs.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 64

static void *volatile keep[N];

static void high(void)
{
	for (int i = 0; i < N; i++)
		keep[i] = malloc(1024);   /* @high */
	for (int i = 0; i < N; i++)
		free(keep[i]);
}

static void low(void)
{
	for (int i = 0; i < N; i++) {
		keep[i] = malloc(1024);
		free(keep[i]);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "high")) {
		high();
	} else if (argc >= 2 && !strcmp(argv[1], "low")) {
		low();
	} else if (argc >= 3 && !strcmp(argv[1], "once")) {
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0) {
			close(fd);
			high();
		} else {
			low();
		}
	} else {
		return 2;
	}
	return 0;
}
