/* (5) Mostly compute, few allocations: repeated 160x160 double matrix
 * multiplications with one allocation per product (~400 allocations in
 * total).  Shows the tracer's fixed cost: should be close to 1.0x. */
#include "bench_common.h"

#define N 160

static void matmul(const double *a, const double *b, double *c)
{
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < N; k++)
				s += a[i * N + k] * b[k * N + j];
			c[i * N + j] = s;
		}
}

int main(int argc, char **argv)
{
	long reps = (long)(100 * bench_scale(argc, argv));
	double *a = malloc(sizeof(double) * N * N);
	double *b = malloc(sizeof(double) * N * N);
	for (int i = 0; i < N * N; i++) {
		a[i] = (i % 7) * 0.25;
		b[i] = (i % 5) * 0.5;
	}
	double acc = 0;
	for (long r = 0; r < reps; r++) {
		double *c = malloc(sizeof(double) * N * N);
		matmul(a, b, c);
		acc += c[r % (N * N)];
		double *t = a; /* feed the result back so nothing is hoisted */
		a = c;
		for (int i = 0; i < N * N; i++)
			a[i] = a[i] * 1e-3 + t[i] * 0.5;
		free(t);
		char *small[3];
		for (int j = 0; j < 3; j++)
			small[j] = malloc(64 + j);
		for (int j = 0; j < 3; j++) {
			small[j][0] = (char)j;
			bench_sink += (uintptr_t)small[j][0];
			free(small[j]);
		}
	}
	bench_sink += (uintptr_t)acc;
	free(a);
	free(b);
	return 0;
}
