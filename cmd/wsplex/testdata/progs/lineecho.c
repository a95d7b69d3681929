/*
 * lineecho: echoes every line of stdin to stdout at once; exits 0 after
 * echoing a line "quit", or at end of file. Used by the churn test, where
 * some connections end because the child exits first.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (fwrite(line, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0)
			return 1;
		if (n == 5 && memcmp(line, "quit\n", 5) == 0)
			return 0;
	}
	return 0;
}
