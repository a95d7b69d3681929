/*
 * lines COUNT SIZE: writes COUNT lines of SIZE bytes each (newline included)
 * to stdout. Line i (from 0) is i as 10 decimal digits, a space, then '.'
 * padding. Lines are written in 64 KiB batches with write(2), so a full
 * stdout pipe blocks the program in pipe_write and its write count (wchar in
 * /proc/PID/io) stops growing. Used by the flow-control tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int writeall(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s COUNT SIZE\n", argv[0]);
		return 2;
	}
	long count = atol(argv[1]), size = atol(argv[2]);
	if (count < 0 || size < 12 || size > 60000) {
		fprintf(stderr, "bad COUNT or SIZE\n");
		return 2;
	}
	enum { BATCH = 64 << 10 };
	static char buf[BATCH + 65536];
	size_t used = 0;
	for (long i = 0; i < count; i++) {
		char *line = buf + used;
		char num[24];
		snprintf(num, sizeof num, "%010ld", i % 10000000000L);
		memcpy(line, num, 10);
		line[10] = ' ';
		memset(line + 11, '.', (size_t)size - 12);
		line[size - 1] = '\n';
		used += (size_t)size;
		if (used >= BATCH) {
			if (writeall(buf, used) != 0)
				return 1;
			used = 0;
		}
	}
	if (used > 0 && writeall(buf, used) != 0)
		return 1;
	return 0;
}
