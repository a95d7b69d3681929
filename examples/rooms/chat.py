#!/usr/bin/env python3
"""The talk's chat (examples/talk/ex3) as one room: a single process for
every client, with --envelope=json. Each client is named (?name=... in its
URL, else clientN); its lines go to all with its name, arrivals and
departures are announced, and a newcomer is greeted alone.

    wsplex --port=8080 --broadcast --envelope=json \
        --staticdir=examples/talk/ex3 examples/rooms/chat.py
"""
import json
import sys
from urllib.parse import parse_qs

names = {}  # client id -> name
joined = 0


def send(data, to=None):
    msg = {"data": data} if to is None else {"to": to, "data": data}
    print(json.dumps(msg), flush=True)


for line in sys.stdin:
    m = json.loads(line)
    cid = m["id"]
    if m["type"] == "join":
        joined += 1
        query = parse_qs(m["env"].get("QUERY_STRING", ""))
        names[cid] = query.get("name", ["client%d" % joined])[0]
        send("welcome, %s (%d here)" % (names[cid], len(names)), to=cid)
        send(names[cid] + " connected")
    elif m["type"] == "message" and "data" in m:
        send("%s: %s" % (names[cid], m["data"]))
    elif m["type"] == "leave":
        send(names.pop(cid) + " disconnected")
