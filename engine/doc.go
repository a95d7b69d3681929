// Package engine is the wsplex daemon: the per-connection state machine
// that carries each connection from its HTTP request head to a WebSocket
// with a child process behind it, and back to closed, on the loops of
// package reactor, without a goroutine per connection.
//
// One loop per core owns one poller. A connection and its child belong to
// one loop: the client socket, the child's stdin/stdout/stderr pipe ends
// or PTY master, its exit (a pidfd, EVFILT_PROC, or the spawner's report
// posted to the loop), and the connection's timer are all registered
// there, so their events are handled where they arrive, with no hop.
//
// The data path, in the order to read it: accept.go (a socket reaches its
// loop) -> conn.go (OnEvent, onReadable: one read into the loop's buffer)
// -> sock.go (the bytes read and not consumed, the bytes written and not
// yet taken, the read pause) -> inbound.go (frames decoded, payload to
// the child's stdin; the pause when its pipe is full) -> outbound.go (the
// child's output read on its pipe's event, framed, written; the child
// paused while the client is behind and resumed on the socket's Writable)
// -> lifecycle.go (exit, close handshake, ladder). Then:
//
//   - conn.go: the per-connection state machine (head -> open -> closing
//     -> gone) and the reasons each transition happens;
//   - accept.go: our own accept loop, which hands sockets to the loops
//     and refuses connections cleanly at the fd limit;
//   - sock.go: a client socket on a loop: input read into the loop's
//     buffer (an idle connection holds none), output through
//     reactor.Outbuf with the socket's Writable for the rest;
//   - upgrade.go: plain HTTP answers and the WebSocket handshake; the
//     child is started without the loop waiting for it (prefork.go,
//     spawn.SpawnOn, answered on the same loop), and childStarted takes
//     the connection up again;
//   - route.go, origin.go: which program an upgrade runs (--dir) and
//     whether its Origin may (--origin, --sameorigin); URL paths are kept
//     inside their directories by package internal/confine;
//   - signed.go, subprotocol.go, proxyproto.go: the rest of the handshake:
//     signed expiring URLs (--signed-urls, checked first), the subprotocol
//     answered (--subprotocol, --protodir), and the client's address
//     behind a load balancer (--proxy-protocol, read before the head;
//     --trusted-proxy);
//   - tls.go: --ssl, TLS terminated in Go and its plaintext handed to a
//     loop over a socketpair (package tlsbridge);
//   - handoff.go, web.go: plain HTTP leaves the reactor for one shared
//     net/http server, package web (static files, CGI, the dev console
//     and its --pty terminal page, --redirport);
//   - inbound.go: client frames -> the child's stdin, with the TCP read
//     pause (Watch.PauseRead) when the child is not reading, resumed on
//     the pipe's Writable;
//   - outbound.go: the child's stdout/stderr -> frames, its pipe's read
//     interest off while the client is behind, back on at the socket's
//     Writable once the backlog is half drained;
//   - framer.go: the child's output to frames, one framer per output mode
//     (text lines, --binary, --passstderr JSON, --pty), chosen once at the
//     upgrade (newFramer); a new output mode is a new framer there, and
//     outbound.go does not change;
//   - lifecycle.go: child exit, the termination ladder, closing;
//   - life.go: where the child is in its life, one state (none, starting,
//     running, laddering, group ladder, reaped) with its transitions;
//   - sweep.go: at shutdown, the children the stopped loops can no longer
//     reach;
//   - pty.go: --pty, children on terminals (control messages, the
//     hangup);
//   - timers.go: one loop timer (reactor.Timer, in the loop's heap) per
//     connection for every deadline it has;
//   - env.go, lookup.go: the CGI environment of the child, and
//     --reverselookup's query, made off the loop;
//
// The log (websocketd's line format, the levels, the non-blocking queue)
// is package internal/logline.
//
// # Nothing after the close frame
//
// RFC 6455 5.5.1: an endpoint that has sent a close frame sends no more
// data frames. The child's output may arrive at any moment, so wsplex's
// policy is: the close frame goes out at once (the answer to the client's
// close frame, or ours on a protocol error, an --inbuffer overflow, a ping
// timeout or shutdown), and from then on whatever the child writes is read
// and dropped, in every mode (text, --binary, --passstderr, --pty). It is
// drained rather than left in the pipe so that a child blocked writing can
// still exit on the termination ladder, and it is counted: the metric
// wsplex_dropped_output_bytes_total, and a debug line when the child ends.
// Its stderr is logged as it would be without --passstderr. Output written
// before the close frame goes out ahead of it, in order; a child that exits
// first has its last partial line sent, then the close frame with its exit
// status. The one choke point is conn.add (outbound.go).
//
// Every field of conn is owned by the connection's loop goroutine, and
// every method that touches one runs there: the socket's and the child's
// watch handlers, the timer, and the work posted with Loop.Post
// (conn.exec). Posts are for what arrives from other goroutines, once per
// connection or child, never per message: the spawner's start answer
// (handChild), a spawner child's exit report (spawn posts it to the
// child's loop), the --reverselookup query, shutdown, and the events of a
// --prefork child, which waits on the spawner's loop until it is taken.
// Once the loops have stopped at shutdown, the sweep (sweep.go) is the
// owner that is left. That single owner is why there are no locks in the
// data path.
package engine
