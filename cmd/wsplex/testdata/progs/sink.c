/*
 * sink DELAY_MS: sleeps DELAY_MS milliseconds without reading stdin, then
 * reads lines until a line "END" (or end of file) and prints
 * "<lines> <bytes> <fnv1a-64 hex>" over everything before it, newlines
 * included. Used to check that client input reaches a slow child intact.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DELAY_MS\n", argv[0]);
		return 2;
	}
	long ms = atol(argv[1]);
	struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
	uint64_t h = 14695981039346656037ULL;
	unsigned long long lines = 0, bytes = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (n == 4 && memcmp(line, "END\n", 4) == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			h ^= (unsigned char)line[i];
			h *= 1099511628211ULL;
		}
		lines++;
		bytes += (unsigned long long)n;
	}
	printf("%llu %llu %016llx\n", lines, bytes, (unsigned long long)h);
	return fflush(stdout) == 0 ? 0 : 1;
}
