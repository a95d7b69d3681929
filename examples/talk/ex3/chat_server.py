#!/usr/bin/env python3
"""The chat server of example 3: every line a client sends goes to every
client, prefixed with the sender's name; arrivals and departures are
announced. Usage: chat_server.py [PORT] (default 7777), on 127.0.0.1."""
import asyncio
import sys

clients = {}  # writer -> name
counter = 0


def broadcast(text):
    for writer in list(clients):
        writer.write((text + "\n").encode())


async def handle(reader, writer):
    global counter
    counter += 1
    name = "client%d" % counter
    clients[writer] = name
    broadcast(name + " connected")
    try:
        while line := await reader.readline():
            broadcast("%s: %s" % (name, line.decode(errors="replace").rstrip("\r\n")))
    finally:
        del clients[writer]
        broadcast(name + " disconnected")
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("listening on 127.0.0.1:%d" % port, flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7777))
