#!/usr/bin/env bash
# A ticker for a room: one process, and every client of the room sees the
# same ticks (a client that joins late sees them from then on).
#
#   wsplex --port=8080 --broadcast examples/rooms/ticker.sh [SECONDS]
#
# ws://localhost:8080/eur and ws://localhost:8080/usd are two rooms, two
# tickers ($ROOM is the path). When the last client has gone, wsplex closes
# stdin and then signals the process group, as for any child.
set -u
interval=${1:-1}
n=0
cents=10000
while :; do
	n=$((n + 1))
	cents=$((cents + RANDOM % 201 - 100))
	printf '%s %s tick %d %d.%02d\n' "$(date +%T)" "${ROOM:-/}" "$n" $((cents / 100)) $((cents % 100))
	sleep "$interval"
done
