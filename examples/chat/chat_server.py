#!/usr/bin/env python3
"""The talk's chat server, for `wsplex --backend`: a plain TCP server on
127.0.0.1 that knows nothing of WebSockets. Every line a client sends goes
to every other client, prefixed with the sender's name; arrivals and
departures ("client3 connected", "client3 disconnected") go to everyone.

Usage: chat_server.py [PORT]   (default 7777)
"""
import asyncio
import sys

clients = {}  # writer -> name
counter = 0


def broadcast(text, but=None):
    data = (text + "\n").encode()
    for writer in list(clients):
        if writer is not but:
            writer.write(data)


async def handle(reader, writer):
    global counter
    counter += 1
    name = "client%d" % counter
    clients[writer] = name
    broadcast(name + " connected")
    print(name, "connected", flush=True)
    try:
        while line := await reader.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            broadcast("%s: %s" % (name, text), but=writer)
    except ConnectionError:
        pass
    finally:
        del clients[writer]
        broadcast(name + " disconnected")
        print(name, "disconnected", flush=True)
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("listening on 127.0.0.1:%d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7777))
    except KeyboardInterrupt:
        pass
