package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/wsplex/wsplex/engine"
)

// backendOptions are the flags of socket backends (issue 13): each
// WebSocket bridged to a TCP or Unix socket instead of a child.
type backendOptions struct {
	url     string
	timeout time.Duration
	proxy   proxyVersionFlag
}

func defineBackendFlags(fs *flag.FlagSet, o *backendOptions) {
	fs.StringVar(&o.url, "backend", "", "Bridge each WebSocket to tcp://HOST:PORT or unix:///PATH instead of running COMMAND")
	fs.DurationVar(&o.timeout, "backend-timeout", engine.DefaultBackendTimeout, "How long a backend connection may take to open")
	fs.Var(&o.proxy, "backend-proxy-protocol", "Send the backend a PROXY protocol header (v1 or v2) naming the client first")
}

// applyBackendFlags checks the backend flags and puts them in cfg. It
// returns the message of a refused command line, or "". It runs before
// COMMAND is looked up, so that "--backend=... cat" is called ambiguous
// rather than searched for.
func applyBackendFlags(o *options, haveCommand bool, cfg *engine.Config) string {
	b := &o.be
	if b.url == "" {
		if b.proxy.v != 0 {
			return "--backend-proxy-protocol needs --backend."
		}
		return ""
	}
	switch {
	case haveCommand:
		return "Ambiguous. Provided COMMAND and --backend argument. Please only specify just one."
	case o.dir != "":
		return "Ambiguous. Provided --dir and --backend argument. Please only specify just one."
	case o.hs.protoDir != "":
		return "Ambiguous. Provided --protodir and --backend argument. Please only specify just one."
	case o.pty || o.preFork > 0 || o.passStderr:
		return "--backend cannot be used with --pty, --prefork or --passstderr: a socket backend is not a process (no terminal, nothing to start ahead, no stderr)."
	case o.rooms.broadcast:
		return "--backend cannot be used with --broadcast: each WebSocket gets its own backend connection; the backend server is what they share."
	case b.timeout <= 0:
		return fmt.Sprintf("Incorrect --backend-timeout %v: want a positive duration such as 5s or 500ms.", b.timeout)
	}
	addr, err := parseBackend(b.url)
	if err != nil {
		return fmt.Sprintf("Incorrect --backend '%s': %v.", b.url, err)
	}
	cfg.Backend = addr
	cfg.BackendURL = b.url
	cfg.BackendTimeout = b.timeout
	cfg.BackendProxyProtocol = b.proxy.v
	return ""
}

// parseBackend reads tcp://HOST:PORT (HOST a name, an IPv4 address or a
// bracketed IPv6 one) or unix:///PATH. A name is resolved here, once, at
// startup: connecting then never waits for DNS on an event loop, and a
// name that does not resolve stops the daemon before it serves anything.
func parseBackend(s string) (net.Addr, error) {
	const want = "want tcp://HOST:PORT or unix:///PATH"
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s", want)
	}
	switch u.Scheme {
	case "tcp":
		if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("%s", want)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%s (a host and a port)", want)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port %q", port)
		}
		a, err := net.ResolveTCPAddr("tcp", u.Host)
		if err != nil {
			return nil, fmt.Errorf("cannot resolve %q: %v", host, err)
		}
		return a, nil
	case "unix":
		if u.Host != "" || u.Path == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("%s (an absolute path: three slashes)", want)
		}
		return &net.UnixAddr{Net: "unix", Name: u.Path}, nil
	}
	return nil, fmt.Errorf("%s", want)
}

// proxyVersionFlag is --backend-proxy-protocol: v1 or v2 (0 while unset).
type proxyVersionFlag struct{ v int }

func (p *proxyVersionFlag) String() string {
	if p == nil || p.v == 0 {
		return ""
	}
	return fmt.Sprintf("v%d", p.v)
}

func (p *proxyVersionFlag) Set(s string) error {
	switch s {
	case "v1", "1":
		p.v = 1
	case "v2", "2":
		p.v = 2
	default:
		return fmt.Errorf("want v1 or v2")
	}
	return nil
}

// backendHelp is the part of --help for socket backends.
const backendHelp = `
  --backend=tcp://HOST:PORT|unix:///PATH
                                 Instead of COMMAND: bridge each WebSocket to
                                 its own connection to this socket, opened
                                 without a process (text mode: each message
                                 is a line to the backend, each line back is
                                 a message; --binary: raw bytes both ways).
                                 A HOST name is resolved once, at startup; a
                                 name that does not resolve stops wsplex. An
                                 unreachable backend closes the WebSocket
                                 with 1014; the backend closing it, 1000.
                                 --maxforks counts backend connections.
                                 No CGI environment: the backend learns the
                                 client only through the next option.

  --backend-timeout=DURATION     How long opening a backend connection may
                                 take (e.g. 500ms). Default: 5s

  --backend-proxy-protocol=v1|v2 Send the backend a PROXY protocol header
                                 naming the client (the one a
                                 --proxy-protocol header named, if any)
                                 before anything else. Default: off`
