#!/usr/bin/env python3
"""Counts from 1 to N (default 10), one number per line, pausing 0.1 s
between lines. Each line becomes one WebSocket text message.

    wsplex --port=8080 examples/python/count.py [N]
"""
import signal
import sys
import time


def main() -> None:
    # Die quietly like a C program when wsplex stops us (SIGINT) or the
    # client is gone (SIGPIPE), instead of printing a Python traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for i in range(1, n + 1):
        print(i, flush=True)
        if i < n:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
