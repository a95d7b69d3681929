package main

import (
	"fmt"
	"io"
	"strings"
)

// helpText is --help, laid out like websocketd's (help.go) so that people
// who know websocketd find every option where they expect it; the flag
// package's generated usage is not used, for the same reason websocketd
// does not use it. Keep it in step with newFlagSet.
const helpText = `
{{version}}

wsplex is a command line tool that will allow any executable program
that accepts input on stdin and produces output on stdout to be turned into
a WebSocket server. It is a drop-in replacement for websocketd.

Usage:

  Export a single executable program a WebSocket server:
    wsplex [options] COMMAND [command args]

  Or, export an entire directory of executables as WebSocket endpoints:
    wsplex [options] --dir=SOMEDIR

Options:

  --port=PORT                    HTTP port to listen on.
                                 Default: 80, or 443 with --ssl

  --address=ADDRESS              Address to bind to (multiple options allowed)
                                 Use square brackets to specify IPv6 address.
                                 Default: "" (all)

  --unixsocket=PATH              Also listen on a Unix domain socket at PATH.
                                 If it is the only listen option given (no
                                 --port, --address or --redirport), no TCP
                                 listener is started.

  --sameorigin={true,false}      Restrict (HTTP 403) protocol upgrades if the
                                 Origin header does not match to requested HTTP
                                 Host. Default: false.

  --origin=host[:port][,host[:port]...]
                                 Restrict (HTTP 403) protocol upgrades if the
                                 Origin header does not match to one of the host
                                 and port combinations listed. If the port is not
                                 specified, any port number will match.
                                 Default: "" (allow any origin)

  --ssl                          Listen for HTTPS socket instead of HTTP.
  --sslcert=FILE                 All three options must be used or all of
  --sslkey=FILE                  them should be omitted.

  --sslca=FILE                   With --ssl, require client certificates
                                 signed by the CA in FILE (mutual TLS).

  --redirport=PORT               Open alternative port and redirect HTTP traffic
                                 from it to canonical address (mostly useful
                                 for HTTPS-only configurations to redirect HTTP
                                 traffic)

  --passenv VAR[,VAR...]         Lists environment variables allowed to be
                                 passed to executed scripts.
                                 Default: {{passenv}}

  --binary={true,false}          Switches communication to binary, process reads
                                 send to browser as blobs and all reads from the
                                 browser are immediately flushed to the process.
                                 Default: false

  --passstderr={true,false}      Send the process's stderr lines to the client
                                 too: every message becomes JSON,
                                 {"stream":"stdout"|"stderr","data":"..."}.
                                 Cannot be used with --binary. Default: false

  --pty                          Run each process on a pseudo-terminal (its
                                 stdin, stdout and stderr; it is a session
                                 leader). Output goes to the client as binary
                                 frames of raw bytes, client binary messages
                                 are input, and a text message
                                 {"type":"resize","cols":N,"rows":M} resizes
                                 the terminal. Initial size from ?cols=&rows=
                                 (default 80x24). Cannot be used with
                                 --binary, --passstderr or --prefork.
                                 With --devconsole, pages are a terminal.

  --term=NAME                    TERM of processes run with --pty.
                                 Default: xterm-256color

  --reverselookup={true,false}   Perform DNS reverse lookups on remote clients.
                                 Default: false

  --dir=DIR                      Allow all scripts in the local directory
                                 to be accessed as WebSockets. If using this,
                                 option, then the standard program and args
                                 options should not be specified.

  --staticdir=DIR                Serve static files in this directory over HTTP.
                                 Never outside it (no "..", no symlinks out);
                                 no directory listings and no dotfiles unless
                                 asked for with the next two options.

  --staticlist                   List the files of a directory that has no
                                 index.html (under --staticdir). Default: false

  --staticdotfiles               Serve files and directories whose name starts
                                 with a dot (under --staticdir). Default: false

  --cgidir=DIR                   Serve CGI scripts in this directory over HTTP.

  --maxforks=N                   Limit number of processes that wsplex is
                                 able to execute with WS and CGI handlers.
                                 When maxforks reached the server will be
                                 rejecting requests that require executing
                                 another process (unlimited when 0 or negative).
                                 Default: 1024

  --prefork=N                    Keep N children of COMMAND started and waiting
                                 (single-command mode only), so a slow-starting
                                 program serves a connection at once. Such a
                                 child starts before its connection exists: it
                                 sees WSPLEX_PREFORK=1 and gets its environment
                                 as its first line of input, a JSON object.
                                 Default: 0 (off)

  --maxframesize=BYTES           Largest message accepted from a client; a
                                 bigger one closes the connection with 1009.
                                 0 means unlimited. Default: 1048576

  --closems=milliseconds         Specifies additional time process needs to gracefully
                                 finish before wsplex will send termination signals
                                 to it. Default: 0 (signals sent after 100ms, 250ms,
                                 and 500ms of waiting)

  --pingms=milliseconds          Send a ping to every client this often and drop
                                 a client that has not answered for twice as
                                 long. Default: 0 (no pings)

  --header="..."                 Set custom HTTP header to each answer. For
                                 example: --header="Server: someserver/0.0.1"

  --header-ws="...."             Same as --header, just applies to only those
                                 responses that indicate upgrade of TCP connection
                                 to a WebSockets protocol.

  --header-http="...."           Same as --header, just applies to only to plain
                                 HTTP responses that do not indicate WebSockets
                                 upgrade

  --outbuffer=BYTES              Process output queued for a slow client before
                                 the process is paused (its output is no longer
                                 read, so it blocks writing). Default: {{outbuffer}}

  --inbuffer=BYTES               Client data the process has not read yet that
                                 is held for it; beyond that the client is
                                 closed with 1008. Default: {{inbuffer}}

  --metrics=ADDR                 Serve Prometheus metrics at http://ADDR/metrics
                                 (e.g. --metrics=127.0.0.1:9100).
                                 Default: "" (off)

  --subprotocol=NAME[,NAME...]   Subprotocols this server speaks (repeatable).
                                 The client's first offer in the list is
                                 answered; an offer with none of them gets
                                 HTTP 400; a client offering none is served
                                 without. Default: answer the client's first
                                 offer. The process sees it in
                                 WEBSOCKET_PROTOCOL.

  --protodir=DIR                 Instead of COMMAND: run DIR/NAME for the
                                 first subprotocol NAME offered that has an
                                 executable there (DIR/default when none is
                                 offered); else HTTP 400. Never outside DIR.
{{handshake}}{{backend}}
{{rooms}}

  --help                         Print help and exit.

  --version                      Print version and exit.

  --license                      Print license and exit.

  --devconsole                   Enable interactive development console.
                                 This enables you to access the wsplex
                                 server with a web-browser and use a
                                 user interface to quickly test WebSocket
                                 endpoints. For example, to test an
                                 endpoint at ws://[host]/foo, you can
                                 visit http://[host]/foo in your browser.
                                 This flag cannot be used in conjunction
                                 with --staticdir or --cgidir.

  --loglevel=LEVEL               Log level to use (default access).
                                 From most to least verbose:
                                 debug, trace, access, info, error, fatal
                                 (none disables logging)

Copyright 2026 the wsplex authors. websocketd is Copyright 2013 Joe Walnes
and the websocketd team. BSD license: Run 'wsplex --license' for details.
`

// shortHelp is printed on stderr after most command-line errors, as
// websocketd does, to point at the two ways to run the program.
const shortHelp = `
Usage:

  Export a single executable program a WebSocket server:
    wsplex [options] COMMAND [command args]

  Or, export an entire directory of executables as WebSocket endpoints:
    wsplex [options] --dir=SOMEDIR

  Or, show extended help message using:
    wsplex --help
`

// printHelp writes --help to w (stderr, exit 0, like websocketd).
func printHelp(w io.Writer) {
	msg := strings.Trim(helpText, " \n")
	msg = strings.NewReplacer(
		"{{version}}", versionLine(),
		"{{passenv}}", defaultPassEnv(),
		"{{outbuffer}}", fmt.Sprint(defaultOutBuffer),
		"{{inbuffer}}", fmt.Sprint(defaultInBuffer),
		"{{handshake}}", handshakeHelp,
		"{{backend}}", backendHelp,
		"{{rooms}}", roomHelp,
	).Replace(msg)
	fmt.Fprintf(w, "%s\n", msg)
}

// printShortHelp writes the short usage websocketd shows after an error:
// a blank line, then the usage.
func printShortHelp(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", strings.Trim(shortHelp, " \n"))
}
