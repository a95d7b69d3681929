// Package engine is the wsplex daemon: a gnet event handler that carries
// each connection from its HTTP request head to a WebSocket with a child
// process behind it, and back to closed, without a goroutine per
// connection.
//
// Start with conn.go: the per-connection state machine (head -> open ->
// closing -> gone) and the reasons each transition happens. Then:
//
//   - accept.go: our own accept loop, which enrolls sockets into gnet's
//     event loops and refuses connections cleanly at the fd limit;
//   - upgrade.go: plain HTTP answers and the WebSocket handshake; the
//     child is started without the loop waiting for it (prefork.go,
//     spawn.StartAsync), and childStarted takes the connection up again;
//   - route.go, origin.go, confine.go: which program an upgrade runs
//     (--dir), whether its Origin may (--origin, --sameorigin), and how
//     URL paths are kept inside their directories;
//   - signed.go, subprotocol.go, proxyproto.go: the rest of the handshake:
//     signed expiring URLs (--signed-urls, checked first), the subprotocol
//     answered (--subprotocol, --protodir), and the client's address
//     behind a load balancer (--proxy-protocol, read before the head;
//     --trusted-proxy);
//   - handoff.go, web.go, static.go, cgi.go, console.go: plain HTTP leaves
//     the reactor for one shared net/http server (--staticdir, --cgidir,
//     --devconsole);
//   - inbound.go: client frames -> the child's stdin, with the TCP read
//     pause when the child is not reading;
//   - outbound.go: the child's stdout/stderr -> frames, paused while the
//     client is behind;
//   - lifecycle.go: child exit, the termination ladder, closing;
//   - sweep.go: at shutdown, the children the stopped event loops can no
//     longer reach;
//   - pty.go, term.go: --pty, children on terminals (control messages,
//     the hangup) and its --devconsole terminal page;
//   - timers.go: one timer per connection for every deadline it has;
//   - env.go, lookup.go: the CGI environment of the child, and
//     --reverselookup's query, made off the loop.
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
// Every field of conn is owned by the connection's event-loop goroutine,
// and every method that touches one runs there: gnet's callbacks, and the
// work that spawn's pollers, its start answers and timers hand over with
// EventLoop.Execute (conn.exec). The methods that run elsewhere only hand
// work over: Notify runs on a spawn poller, fire on the timer's goroutine
// (likewise the StartAsync answer, handChild, and the --reverselookup
// query's goroutine). Once the loops have stopped at shutdown, the sweep
// (sweep.go) is the owner that is left. That single owner is why there are
// no locks in the data path.
package engine
