/*
 * Counts from 1 to N (default 10), one number per line, pausing 0.1 s between
 * lines. Each line becomes one WebSocket text message.
 *
 *   make examples && wsplex --port=8080 bin/examples/count [N]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = 10;
	if (argc > 1) {
		char *end;
		n = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || n < 0) {
			fprintf(stderr, "usage: %s [count]\n", argv[0]);
			return 2;
		}
	}
	struct timespec pause = {0, 100 * 1000 * 1000};
	for (long i = 1; i <= n; i++) {
		/* stdout is a pipe, so stdio buffers it fully: flush every line. */
		if (printf("%ld\n", i) < 0 || fflush(stdout) != 0)
			return 1; /* the client went away */
		if (i < n) {
			struct timespec left = pause;
			while (nanosleep(&left, &left) != 0 && errno == EINTR)
				;
		}
	}
	return 0;
}
