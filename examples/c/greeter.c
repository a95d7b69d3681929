/*
 * Replies "Hello, <line>!" to every line read from stdin (every WebSocket text
 * message), and exits when stdin closes (the client went away). Lines may be
 * of any length.
 *
 *   make examples && wsplex --port=8080 bin/examples/greeter
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		fputs("Hello, ", stdout);
		fwrite(line, 1, (size_t)len, stdout);
		fputs("!\n", stdout);
		/* stdout is a pipe, so stdio buffers it fully: flush every line. */
		if (fflush(stdout) != 0)
			break; /* the client went away */
	}
	free(line);
	return 0;
}
