package engine

import (
	"net"
	"net/netip"
	"time"

	"github.com/wsplex/wsplex/internal/logline"
)

// Config is everything the daemon needs to run. cmd/wsplex builds it from
// websocketd-compatible flags; tests build it directly.
type Config struct {
	// Listening.
	Addresses []string // host parts to bind; empty means all interfaces. IPv6 bracketed ("[::1]").
	Port      int      // TCP port

	// What runs per connection: single-command mode.
	Command     string   // absolute path of COMMAND (resolved by cmd/wsplex via PATH)
	CommandName string   // COMMAND as given on the command line (for log lines)
	Args        []string // arguments after COMMAND, verbatim

	// Child environment and I/O.
	PassEnv       []string // parent variables copied to the child (only if set and non-empty)
	Binary        bool     // binary frames, raw bytes both ways
	PassStderr    bool     // stdout and stderr lines go to the client as JSON
	ReverseLookup bool     // REMOTE_HOST from reverse DNS (lookup.go)
	// Resolver answers --reverselookup's queries; nil is net.DefaultResolver.
	// cmd/wsplex sets one from WSPLEX_DNS (tests point it at their own DNS
	// server).
	Resolver *net.Resolver
	PTY      bool   // --pty: each child on a pseudo-terminal (endpoint_pty.go)
	Term     string // --pty: TERM of the children; "" = DefaultTerm

	// Limits.
	MaxForks     int           // concurrent children; <= 0 unlimited
	PreFork      int           // --prefork: children of Command kept started and waiting (prefork.go); 0 = off
	MaxFrameSize int64         // largest inbound message in bytes; 0 unlimited
	CloseExtra   time.Duration // added to each wait of the termination ladder
	PingInterval time.Duration // 0 = off; a peer silent for 2x is dropped
	OutBuffer    int           // bytes of child output queued for a slow client before the child is paused
	InBuffer     int           // bytes from a client its child has not taken before the client is closed with 1008

	// Extra response headers, "Name: value".
	Headers   []string // on every response
	HeadersWS []string // only on the 101

	// Observability.
	LogLevel    logline.Level
	Log         *logline.Logger
	MetricsAddr string // "" = off; else serve Prometheus text at http://ADDR/metrics

	// ServerSoftware is SERVER_SOFTWARE for children, e.g. "wsplex/0.1.0".
	ServerSoftware string

	// The rest of websocketd's flags, validated by cmd/wsplex.

	// Directory modes. Dir is absolute (like websocketd's ScriptDir);
	// StaticDir and CGIDir are as given, relative to the daemon's working
	// directory, which never changes.
	Dir        string // --dir: URL paths map to executables in it; no Command then
	StaticDir  string // --staticdir: static files over plain HTTP
	CGIDir     string // --cgidir: CGI/1.1 scripts over plain HTTP
	DevConsole bool   // --devconsole: console page on every non-upgrade request

	// --staticdir refuses directory listings and dotfiles unless these ask
	// for them (websocketd lists directories and serves dotfiles).
	StaticList     bool // --staticlist
	StaticDotfiles bool // --staticdotfiles

	// TLS: SSL implies SSLCert and SSLKey are set; Port defaults to 443.
	SSL     bool
	SSLCert string // PEM certificate file
	SSLKey  string // PEM private key file
	SSLCA   string // "" = no client certificates; else require ones signed by this CA (mutual TLS)

	RedirPort  int    // 0 = off; else a plain-HTTP listener per address answering 301 to the main port
	UnixSocket string // "" = off; else also listen on this Unix socket path
	// UnixOnly: --unixsocket was the only listen option given (no --port,
	// --address or --redirport), so no TCP listener is started.
	UnixOnly bool

	// Origin checks on the upgrade (403 when they fail).
	SameOrigin bool     // Origin host:port must equal Host host:port
	Origins    []string // --origin list, split on ",", spaces trimmed; empty = any

	HeadersHTTP []string // "Name: value", only on plain HTTP (non-101) responses

	// The handshake (issue 12).

	// Subprotocols (--subprotocol) are the subprotocols the server speaks,
	// in no particular order: the client's first offer in the list is
	// chosen, an offer with none of them is refused (400). Empty: the
	// client's first offer is answered, whatever it is.
	Subprotocols []string
	// ProtoDir (--protodir, absolute) replaces Command: the chosen
	// subprotocol names the program, an executable in ProtoDir; without an
	// offer it is ProtoDir/default.
	ProtoDir string
	// SignedURLs (--signed-urls) is the key file: every upgrade must carry
	// an unexpired HMAC-SHA256 signature of its target (signed.go).
	SignedURLs string
	// ProxyProtocol (--proxy-protocol): connections from these networks
	// start with a PROXY protocol header, v1 or v2 (proxyproto.go); other
	// connections must not send one.
	ProxyProtocol []netip.Prefix
	// TrustedProxies (--trusted-proxy): from these peers REMOTE_ADDR is
	// taken from X-Forwarded-For, its rightmost address not itself trusted.
	TrustedProxies []netip.Prefix

	// Rooms (issue 14, room.go).

	// Broadcast (--broadcast): the clients of one route (the URL path; with
	// --dir, the script and its PATH_INFO) share one child, a room.
	Broadcast bool
	// BroadcastLinger (--broadcast-linger): how long a room's child outlives
	// its last client; a client that comes meanwhile keeps it.
	BroadcastLinger time.Duration
	// BroadcastQueue (--broadcast-queue): bytes of the room's output a
	// client may be behind before --slow applies; 0 = DefaultBroadcastQueue.
	BroadcastQueue int
	// SlowDrop (--slow=drop): a client too far behind skips to the newest
	// messages; false (--slow=close) closes it with 1008 "slow consumer".
	SlowDrop bool
	// Envelope (--envelope=json): the room's child reads and writes JSON
	// lines (join, message, leave in; data, to, close out); "" = plain.
	Envelope string
	// RoomMax (--room-max): clients of one room; over it, 429. 0 = no limit.
	RoomMax int

	// Socket backends (issue 13): instead of a child, each WebSocket is
	// bridged to a connection of its own to Backend (endpoint_socket.go).

	// Backend (--backend) replaces Command: a *net.TCPAddr (cmd/wsplex
	// resolves a name at startup: no DNS on a loop) or a *net.UnixAddr;
	// nil = off.
	Backend    net.Addr
	BackendURL string // --backend as given, for the log
	// BackendTimeout (--backend-timeout) bounds the connect; <= 0 is
	// DefaultBackendTimeout.
	BackendTimeout time.Duration
	// BackendProxyProtocol (--backend-proxy-protocol): 1 or 2 sends the
	// backend a PROXY header of that version naming the client; 0 = off.
	BackendProxyProtocol int
}

// Defaults used by cmd/wsplex and by tests that build a Config directly.
const (
	DefaultMaxForks     = 1024
	DefaultMaxFrameSize = 1 << 20
	DefaultOutBuffer    = 256 << 10
	DefaultInBuffer     = 4 << 20
	HeadTimeout         = 10 * time.Second
	MaxHeadSize         = 16 << 10

	DefaultBackendTimeout = 5 * time.Second
)
