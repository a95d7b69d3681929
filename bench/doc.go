// Package bench is wsbench, wsplex's load generator for WebSocket servers,
// and the suite that compares wsplex with websocketd (make bench).
//
// Where to start: cli.go (Main, flags, --workers), then scenario.go (the
// Scenario interface and the echo scenarios), then run.go (a Run: counters,
// recorders, pacing of dials), then client.go (the connection engine).
//
// # Why it is built this way
//
// A load generator that needs a goroutine (and a stack) per connection
// measures itself as much as the server. Here one Engine runs a few event
// loops of package reactor (the daemon's loop package; loop.go keeps what
// wsbench adds per loop), each a goroutine owning a level-triggered epoll
// (kqueue on BSD/macOS) poller, the sockets registered on it and a timer
// heap. A
// connection is a small struct plus buffers that exist only while data is
// partial, so one process holds as many connections as its fd limit allows.
// Handlers run on their connection's loop, so they need no locks; only the
// run-wide counters read by the progress line are atomics, and latency
// histograms are kept per loop and merged at the end.
//
// Framing (frame.go, handshake.go) works on byte slices with gobwas/ws
// primitives, never with blocking readers: every client frame is masked,
// server frames are checked with ws.CheckHeader, fragments are reassembled,
// pings answered, and bytes that arrive in the same segment as the 101 are
// kept and decoded (a buffered reader over the handshake would lose them).
//
// Every echo payload carries its sequence number and send time (seq.go):
// "<seq> <ns> <padding>" for text (no '\n', since line-based servers split on
// it) and fixed-size records for binary, because a byte-stream echo such as
// websocketd --binary does not keep message boundaries; the binary checker
// re-cuts the stream into records. So order, loss, corruption and latency
// are all checked from the message itself.
//
// Latency goes into HDR histograms (hist.go) in microseconds. The latency
// scenario is open loop: message k is due at t0 + k/rate whatever the server
// does, and latency counts from that due time, so a stall shows up in the
// figures instead of quietly lowering the send rate (coordinated omission).
// Its clock starts once every connection has echoed one uncounted message
// (--cold: at once): a server that answers the upgrade before its child
// runs would otherwise carry the child's start-up in each connection's
// first message, and one whose upgrades are slow while children start
// would carry it in the opening, outside the figures. Start-up has its own
// scenarios (storm, churn).
//
// Scenarios: latency, throughput, storm, churn, hold, binary, slow, resume,
// broadcast, room (scenario*.go). The room scenario times lines a producer
// (wsbench room-child, roomchild.go) writes with their due time in them
// (roomline.go) to every client of one room, one histogram per rate phase;
// its clients steer the producer with control lines, so a ramp needs no
// side channel. --server-pid samples the server from /proc (sample.go).
// Output is a table, --json (one object per run, histograms included so runs
// can be merged) or --html (report, html.go: inline SVG, no script). Each
// result describes its run: the command line, the scenario's flags and the
// other settings, defaults included, which the HTML report shows above its
// charts. Flags out of their limits (a --size below what a message needs,
// a --rate of 0) are usage errors (exit 2) before anything connects. When one
// process's fd limit is not enough, --workers N re-executes the program N
// times and merges the results; --source spreads connections over loopback
// source addresses to pass the ephemeral port limit. Targets must be loopback
// unless --allow-remote is given.
//
// The suite (suite.go, wsbench suite) starts each daemon fresh per run in a
// sub-cgroup of its own when it can (its CPU and memory counters are then
// the whole server's: daemon, helper processes and children, exited ones
// included), runs every scenario against wsplex, optionally a wsplex built
// from an earlier commit (--prev, make bench BENCH_PREV=<rev>), and
// websocketd, interleaved, and measures idle cost and open rate at several
// numbers of held connections; it writes bench/results/<timestamp>/. The
// socket-backend and room jobs (suite_sockets.go) set each daemon up with
// helper processes (an echo backend; the talk's chat relay and nc per
// client for websocketd) and count the server-side ones in its cgroup.
package bench
