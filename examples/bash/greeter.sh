#!/bin/bash
# Replies "Hello, <line>!" to every line read from stdin (every WebSocket text
# message), and exits when stdin closes (the client went away).
#
#   wsplex --port=8080 examples/bash/greeter.sh
while IFS= read -r line || [[ -n $line ]]; do
	echo "Hello, $line!"
done
