#!/usr/bin/env python3
"""Replies "Hello, <line>!" to every line read from stdin (every WebSocket
text message), and exits when stdin closes (the client went away).

    wsplex --port=8080 examples/python/greeter.py
"""
import signal
import sys


def main() -> None:
    # Die quietly like a C program when wsplex stops us (SIGINT) or the
    # client is gone (SIGPIPE), instead of printing a Python traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # readline() rather than iterating sys.stdin: iteration reads ahead in
    # blocks and would hold lines back.
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        if line.endswith("\n"):
            line = line[:-1]
        print(f"Hello, {line}!", flush=True)


if __name__ == "__main__":
    main()
