#!/bin/bash
# Counts from 1 to N (default 10), one number per line, pausing 0.1 s between
# lines. Each line becomes one WebSocket text message.
#
#   wsplex --port=8080 examples/bash/count.sh [N]
n=${1:-10}
for ((i = 1; i <= n; i++)); do
	echo "$i"
	if ((i < n)); then
		sleep 0.1
	fi
done
