#!/usr/bin/env python3
"""FizzBuzz as a service: answers every number read on stdin."""


def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)


while True:
    try:
        line = input()
    except EOFError:
        break
    try:
        n = int(line)
    except ValueError:
        print("error: cannot process input", flush=True)
        continue
    # flush: stdout is a pipe, and Python would hold the answers back.
    print("{0} => {1}".format(n, fizzbuzz(n)), flush=True)
