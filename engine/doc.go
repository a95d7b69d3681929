// Package engine is the wsplex daemon: the per-connection state machine
// that carries each connection from its HTTP request head to a WebSocket
// with an endpoint behind it (a child process, by default), and back to
// closed, on the loops of package reactor, without a goroutine per
// connection.
//
// # Where to start
//
// A conn (conn.go) is the client side: the socket, the WebSocket protocol,
// the output framing and the close handshake. What the WebSocket is
// connected to is an endpoint (endpoint.go), one small interface: start,
// input, resumeOutput, hangup, sweep; the endpoint talks back through the
// conn's sink methods started, output, ended, released, inputResumed. A
// child on pipes is endpoint_child.go, a child on a terminal
// endpoint_pty.go, a TCP or Unix socket backend (--backend)
// endpoint_socket.go; a new kind of endpoint is a new file, and conn does
// not change.
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
// the endpoint; the read pause while it takes no more) -> endpoint.go
// (the seam) -> endpoint_child.go (the child's stdin, its output read on
// its pipe's event, paused while the client is behind and resumed on the
// socket's Writable, its exit and the termination ladder) -> outbound.go
// (output framed and written) -> lifecycle.go (close handshake, release).
// Then:
//
//   - conn.go: the per-connection state machine (head -> open -> closing
//     -> gone) and the reasons each transition happens;
//   - accept.go: our own accept loop, which hands sockets to the loops
//     and refuses connections cleanly at the fd limit;
//   - sock.go: a client socket on a loop: input read into the loop's
//     buffer (an idle connection holds none), output through
//     reactor.Outbuf with the socket's Writable for the rest;
//   - upgrade.go: plain HTTP answers and the WebSocket handshake; the
//     endpoint is chosen (newEndpoint) and started without the loop
//     waiting for it (a child: endpoint_child.go, spawn.SpawnOn, whose
//     answer is read on the same loop), and started takes the connection
//     up again;
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
//   - inbound.go: client frames -> the endpoint, with the TCP read pause
//     (Watch.PauseRead) while it takes no more (a child not reading),
//     resumed when it says so (inputResumed); inputbatch.go: the messages
//     of one read go to the child's stdin (or the backend) in one writev;
//   - endpoint.go: the seam: the endpoint interface, where an endpoint is
//     as the conn sees it (far: none, starting, up, ended, released), and
//     the sink methods;
//   - endpoint_child.go: a child on pipes for one connection: its stdin,
//     its output framed for the client, paused while the client is behind
//     (back on at the socket's Writable once the backlog is half drained);
//   - child.go: a process the daemon runs, for a connection or a room: its
//     slot and fds, its start, its pipes and exit on the loop, the read
//     pause, the termination ladder; life.go is where it is in its life,
//     one state (none, starting, running, laddering, orphans, group
//     ladder, reaped);
//   - endpoint_pty.go: --pty, children on terminals (control messages,
//     the hangup);
//   - endpoint_socket.go: --backend, each WebSocket bridged to its own
//     TCP or Unix socket connection on its loop: a non-blocking connect
//     under --backend-timeout (1014 when it fails), the socket's read
//     interest off while the client is behind, the client's reads paused
//     while the backend's socket takes no more, a half-close when the
//     client goes, the PROXY header of --backend-proxy-protocol;
//   - endpoint_room.go, room.go, room_frames.go, room_envelope.go:
//     --broadcast, one child for the clients of a route: the room (its
//     child on the loop of the client that made it, its clients on their
//     own loops), its shared list of frames encoded once, each client's
//     cursor written with conn.writeShared, --envelope=json;
//   - outbound.go: the far side's output -> frames -> the socket, through
//     the one choke point conn.add;
//   - framer.go: output to frames, one framer per output mode (text
//     lines, --binary, --passstderr JSON, --pty), chosen once at the
//     upgrade (newFramer); a new output mode is a new framer there, and
//     outbound.go does not change;
//   - lifecycle.go: the close handshake, the socket's end, release;
//   - sweep.go: at shutdown, the children the stopped loops can no longer
//     reach;
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
// status. The one choke point is conn.add (outbound.go), and for a room's
// shared frames conn.writeShared (endpoint_room.go).
//
// Every field of conn is owned by the connection's loop goroutine, and
// every method that touches one runs there: the socket's and the child's
// watch handlers, the timer, and the work posted with Loop.Post
// (conn.exec). Posts are for what arrives from other goroutines, once per
// connection or child, never per message: the --reverselookup query,
// shutdown, and the events of a --prefork child, which waits on the
// spawner's loop until it is taken. A spawner child's start answer and
// exit report are read on the loop that started it (spawn.SpawnOn), with
// no post; handChild (sweep.go) then posts the answer to that same loop
// once, for the shutdown bookkeeping.
// A room (room.go) spans loops: it posts one delivery per loop with
// clients after a read of its child, and a client posts whole messages to
// the room's loop; its registry has a mutex, taken when a client joins or
// leaves.
// Once the loops have stopped at shutdown, the sweep (sweep.go) is the
// owner that is left. That single owner is why there are no locks in the
// data path.
package engine
