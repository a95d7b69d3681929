#!/usr/bin/env node
// A scriptable WebSocket client for the wsplex integration tests.
//
//   node client.mjs [options] URL
//
// Options:
//   --protocol=a,b        offer these subprotocols (Sec-WebSocket-Protocol); ws
//                         fails the handshake ({"error"} then close 1006) if the
//                         server then selects none
//   --origin=ORIGIN       send this Origin header
//   --header='Name: v'    extra request header (repeatable)
//   --timeout=MS          handshake timeout (default 10000)
//
// Commands arrive on stdin, one JSON object per line:
//   {"send":"text"}               send a text message
//   {"sendBinary":"<base64>"}     send a binary message
//   {"ping":"text"}               send a ping (a pong event follows)
//   {"close":[code, "reason"]}    start the closing handshake ({"close":[]} = no code)
//   {"terminate":true}            drop the TCP connection without a close frame
//
// Events go to stdout, one JSON object per line, in the order they happen:
//   {"open":true,"protocol":"..."}
//   {"message":"text","binary":false}
//   {"message":"<base64>","binary":true}
//   {"pong":"text"}  {"ping":"text"}
//   {"unexpectedResponse":{"status":403,"headers":{...},"body":"..."}}   handshake refused
//   {"error":"..."}
//   {"close":{"code":1000,"reason":"..."}}    always the last event; then the process exits
//
// Commands that arrive before the handshake completes are queued until it does.
// When stdin reaches EOF the client closes the connection normally (1000), once
// it is open, and exits after the close event. stdout is a pipe, which
// node writes synchronously on Linux, so each event is flushed as it is written.

import { createInterface } from "node:readline";
import WebSocket from "ws";

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs [--protocol=a,b] [--origin=O] [--header='N: v'] [--timeout=MS] URL\n`);
  process.exit(2);
}

let url;
let protocols = [];
const headers = {};
let handshakeTimeout = 10000;
for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z]+)=(.*)$/s.exec(arg);
  if (m) {
    const [, name, value] = m;
    if (name === "protocol") {
      protocols = value.split(",").map((p) => p.trim()).filter((p) => p !== "");
    } else if (name === "origin") {
      headers["Origin"] = value;
    } else if (name === "header") {
      const i = value.indexOf(":");
      if (i <= 0) usage(`bad --header ${JSON.stringify(value)}`);
      headers[value.slice(0, i).trim()] = value.slice(i + 1).trim();
    } else if (name === "timeout") {
      handshakeTimeout = Number(value);
    } else {
      usage(`unknown option --${name}`);
    }
  } else if (url === undefined) {
    url = arg;
  } else {
    usage(`unexpected argument ${JSON.stringify(arg)}`);
  }
}
if (url === undefined) usage("missing URL");

const ws = new WebSocket(url, protocols, {
  headers,
  handshakeTimeout,
  perMessageDeflate: false,
  followRedirects: false,
});

let finished = false;
let stdinClosed = false;
const pending = []; // commands that arrived before the handshake completed
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });

function finish(event) {
  if (finished) return;
  finished = true;
  emit(event);
  lines.close();
  process.stdin.destroy();
  // Exit once stdout has taken the last event, whatever timers ws still holds
  // (an aborted handshake keeps its handshake timer alive).
  process.stdout.write("", () => process.exit(0));
}

ws.on("open", () => {
  emit({ open: true, protocol: ws.protocol });
  for (const cmd of pending.splice(0)) exec(cmd);
  if (stdinClosed && ws.readyState === WebSocket.OPEN) ws.close(1000);
});

ws.on("message", (data, isBinary) => {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  emit({ message: isBinary ? buf.toString("base64") : buf.toString("utf8"), binary: isBinary });
});

ws.on("ping", (data) => emit({ ping: data.toString("utf8") }));
ws.on("pong", (data) => emit({ pong: data.toString("utf8") }));

ws.on("unexpected-response", (req, res) => {
  const chunks = [];
  res.on("data", (c) => chunks.push(c));
  res.on("end", () => {
    finish({
      unexpectedResponse: {
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      },
    });
    req.destroy();
  });
  res.on("error", () => {});
});

ws.on("error", (err) => {
  if (!finished) emit({ error: String(err && err.message ? err.message : err) });
});

ws.on("close", (code, reason) => finish({ close: { code, reason: reason.toString("utf8") } }));

function exec(cmd) {
  try {
    run(cmd);
  } catch (err) {
    emit({ error: `command ${JSON.stringify(cmd)}: ${err.message}` });
  }
}

function run(cmd) {
  if ("send" in cmd) {
    ws.send(String(cmd.send), { binary: false });
  } else if ("sendBinary" in cmd) {
    ws.send(Buffer.from(String(cmd.sendBinary), "base64"), { binary: true });
  } else if ("ping" in cmd) {
    ws.ping(String(cmd.ping));
  } else if ("close" in cmd) {
    const [code, reason] = Array.isArray(cmd.close) ? cmd.close : [];
    ws.close(code, reason);
  } else if ("terminate" in cmd) {
    ws.terminate();
  } else {
    throw new Error(`unknown command ${JSON.stringify(cmd)}`);
  }
}

lines.on("line", (line) => {
  if (line.trim() === "" || finished) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    emit({ error: `command ${line}: ${err.message}` });
    return;
  }
  if (ws.readyState === WebSocket.CONNECTING) {
    pending.push(cmd);
  } else {
    exec(cmd);
  }
});

lines.on("close", () => {
  stdinClosed = true;
  if (!finished && ws.readyState === WebSocket.OPEN) ws.close(1000);
});
