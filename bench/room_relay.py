"""The chat server of the talk's recipe, as the room-recipe job runs it.

websocketd runs `nc 127.0.0.1 PORT` per WebSocket client; every nc is one
TCP client of this server, and so is the producer (wsbench room-child
--connect). Each line a client sends goes to every other client, as a
minimal asyncio chat server does it: written to each transport without
waiting (a client that does not read makes the server buffer, unbounded).

usage: python3 room_relay.py [PORT]   (0 or none: any free port)
Prints "listening <port>" once it listens; runs until killed.
"""
import asyncio
import sys

clients = set()


async def handle(reader, writer):
    clients.add(writer)
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            for w in clients:
                if w is not writer and not w.is_closing():
                    w.write(line)
    except (ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        clients.discard(writer)
        writer.close()


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
