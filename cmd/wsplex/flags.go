package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wsplex/wsplex/engine"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// Exit codes, websocketd's: scripts that supervise websocketd tell a usage
// error from a port in use by them, so wsplex keeps every one.
const (
	exitOK         = 0 // served and shut down, or --help/--version/--license
	exitInvalid    = 1 // a command-line check failed (message on stderr)
	exitUsage      = 2 // the flag package refused a flag or value
	exitListen     = 3 // a listener could not be opened ("Can't start server: ...")
	exitDevConsole = 4 // --devconsole together with --staticdir or --cgidir
	continueRun    = -1
)

// Defaults of wsplex's own flags, mirrored from the engine so that --help
// and the flag definitions cannot disagree with it.
const (
	defaultOutBuffer = engine.DefaultOutBuffer
	defaultInBuffer  = engine.DefaultInBuffer
)

// defaultPassEnv is websocketd's (borrowed there from net/http/cgi): the
// variables a dynamically linked program needs to be found and to start.
func defaultPassEnv() string {
	if runtime.GOOS == "darwin" {
		return "PATH,DYLD_LIBRARY_PATH"
	}
	return "PATH,LD_LIBRARY_PATH"
}

// options holds the raw flag values before validation.
type options struct {
	port          int
	addresses     listFlag
	unixSocket    string
	ssl           bool
	sslCert       string
	sslKey        string
	sslCA         string
	redirPort     int
	sameOrigin    bool
	origin        string
	passEnv       string
	binary        bool
	passStderr    bool
	pty           bool
	term          string
	reverseLookup bool
	dir           string
	staticDir     string
	cgiDir        string
	devConsole    bool
	staticList    bool
	staticDots    bool
	maxForks      int
	preFork       int
	maxFrameSize  byteCount
	closeMs       msFlag
	pingMs        msFlag
	headers       listFlag
	headersWS     listFlag
	headersHTTP   listFlag
	logLevel      string
	version       bool
	license       bool
	metrics       addrFlag
	outBuffer     byteCount
	inBuffer      byteCount
	hs            handshakeOptions // handshake.go
	be            backendOptions   // backend.go
	rooms         roomOptions      // rooms.go
}

// newFlagSet defines every flag. It uses the standard flag package, as
// websocketd does, so the syntax is exactly the same: -x and --x, "--x=v"
// and "--x v", bools only as --x or --x=false, parsing stops at the first
// argument that is not a flag (or after "--"). --help/-h are not defined:
// the flag package reports them as flag.ErrHelp. The usage text is ours
// (help.go), so Usage is silenced.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wsplex", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}

	o.maxFrameSize = byteCount{n: engine.DefaultMaxFrameSize, min: 0}
	o.outBuffer = byteCount{n: defaultOutBuffer, min: 1}
	o.inBuffer = byteCount{n: defaultInBuffer, min: 1}

	fs.IntVar(&o.port, "port", 0, "HTTP port to listen on (default 80, or 443 with --ssl)")
	fs.Var(&o.addresses, "address", "Interfaces to bind to (e.g. 127.0.0.1 or [::1]); repeatable")
	fs.StringVar(&o.unixSocket, "unixsocket", "", "Also listen on this Unix socket path")
	fs.BoolVar(&o.ssl, "ssl", false, "Use TLS on listening socket (see also --sslcert and --sslkey)")
	fs.StringVar(&o.sslCert, "sslcert", "", "Certificate PEM file when --ssl is used")
	fs.StringVar(&o.sslKey, "sslkey", "", "Private key PEM file when --ssl is used")
	fs.StringVar(&o.sslCA, "sslca", "", "Require client certificates signed by this CA (with --ssl)")
	fs.IntVar(&o.redirPort, "redirport", 0, "HTTP port to redirect to canonical --port address")
	fs.BoolVar(&o.sameOrigin, "sameorigin", false, "Restrict upgrades if origin and host headers differ")
	fs.StringVar(&o.origin, "origin", "", "Restrict upgrades if origin does not match the list")
	fs.StringVar(&o.passEnv, "passenv", defaultPassEnv(), "List of envvars to pass to subprocesses")
	fs.BoolVar(&o.binary, "binary", false, "Binary mode (default is line by line)")
	fs.BoolVar(&o.passStderr, "passstderr", false, "Send stderr lines to the client as JSON along with stdout")
	fs.BoolVar(&o.pty, "pty", false, "Run each process on a pseudo-terminal (raw binary frames; JSON resize messages)")
	fs.StringVar(&o.term, "term", engine.DefaultTerm, "TERM of the processes with --pty")
	fs.BoolVar(&o.reverseLookup, "reverselookup", false, "Perform reverse DNS lookups on remote clients")
	fs.StringVar(&o.dir, "dir", "", "Base directory for WebSocket scripts")
	fs.StringVar(&o.staticDir, "staticdir", "", "Serve static content from this directory over HTTP")
	fs.StringVar(&o.cgiDir, "cgidir", "", "Serve CGI scripts from this directory over HTTP")
	fs.BoolVar(&o.devConsole, "devconsole", false, "Enable development console")
	fs.BoolVar(&o.staticList, "staticlist", false, "List directories without index.html under --staticdir")
	fs.BoolVar(&o.staticDots, "staticdotfiles", false, "Serve dotfiles (.git, .env, ...) under --staticdir")
	fs.IntVar(&o.maxForks, "maxforks", engine.DefaultMaxForks, "Max concurrent children, 0 or less means unlimited")
	fs.IntVar(&o.preFork, "prefork", 0, "Keep N children of COMMAND started and waiting; they get their environment as a first line of input")
	fs.Var(&o.maxFrameSize, "maxframesize", "Largest inbound message in bytes, 0 means unlimited")
	fs.Var(&o.closeMs, "closems", "Extra milliseconds before each termination signal")
	fs.Var(&o.pingMs, "pingms", "Ping interval in milliseconds, 0 means off")
	fs.Var(&o.headers, "header", "Custom header for any response; repeatable")
	fs.Var(&o.headersWS, "header-ws", "Custom header for WebSocket upgrade responses; repeatable")
	fs.Var(&o.headersHTTP, "header-http", "Custom header for plain HTTP responses; repeatable")
	fs.StringVar(&o.logLevel, "loglevel", "access", "Log level: debug, trace, access, info, error, fatal, none")
	fs.BoolVar(&o.version, "version", false, "Print version and exit")
	fs.BoolVar(&o.license, "license", false, "Print license and exit")
	fs.Var(&o.metrics, "metrics", "Serve Prometheus metrics at http://ADDR/metrics")
	fs.Var(&o.outBuffer, "outbuffer", "Child output bytes queued for a slow client before the child is paused")
	fs.Var(&o.inBuffer, "inbuffer", "Client bytes not yet read by the child before the client is closed with 1008")
	defineHandshakeFlags(fs, &o.hs)
	defineBackendFlags(fs, &o.be)
	defineRoomFlags(fs, &o.rooms)
	return fs
}

// parseArgs turns the command line (without the program name) into an
// engine.Config. It returns continueRun (-1) to go on, or the exit code the
// process must end with after it has printed what websocketd prints in that
// case: --help on stderr, --version/--license on stdout, errors on stderr
// (mostly followed by the short usage), and the --devconsole conflict as a
// FATAL log line on stdout.
//
// The checks run in websocketd's order, so that a command line with several
// mistakes gets the same first complaint. Messages are websocketd's, except
// where the behaviour reference (websocketd's main branch) says otherwise.
func parseArgs(args []string, stdout, stderr io.Writer) (engine.Config, int) {
	var o options
	fs := newFlagSet(&o, stderr)
	fail := func(code int, short bool, format string, a ...any) (engine.Config, int) {
		fmt.Fprintf(stderr, format+"\n", a...)
		if short {
			printShortHelp(stderr)
		}
		return engine.Config{}, code
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stderr)
			return engine.Config{}, exitOK
		}
		// The flag package has printed the error ("flag provided but not
		// defined: -x", `invalid value "y" for flag -port: parse error`).
		printShortHelp(stderr)
		return engine.Config{}, exitUsage
	}

	if len(args) == 0 {
		return fail(exitInvalid, true, "Command line arguments are missing.")
	}
	level, err := logline.ParseLevel(o.logLevel)
	if err != nil {
		return fail(exitInvalid, true, "Incorrect loglevel flag '%s'. Use --help to see allowed values.", o.logLevel)
	}
	if o.version {
		fmt.Fprintln(stdout, versionLine())
		return engine.Config{}, exitOK
	}
	if o.license {
		fmt.Fprintf(stdout, "%s\n\n%s", versionLine(), licenseText)
		return engine.Config{}, exitOK
	}

	if o.ssl {
		if o.sslCert == "" || o.sslKey == "" {
			return fail(exitInvalid, false, "Please specify both --sslcert and --sslkey when requesting --ssl.")
		}
	} else if o.sslCert != "" || o.sslKey != "" || o.sslCA != "" {
		return fail(exitInvalid, false, "You should not be using --ssl* flags when there is no --ssl option.")
	}
	if o.binary && o.passStderr {
		// Binary mode sends raw chunks; --passstderr wraps lines in JSON.
		// There is no meaningful combination of the two.
		return fail(exitInvalid, true, "--binary and --passstderr cannot be used together. Please only specify just one.")
	}

	if o.pty && (o.binary || o.passStderr || o.preFork > 0) {
		// A terminal has one output stream of raw bytes and its own
		// framing (endpoint_pty.go in engine); pre-started children have pipes.
		return fail(exitInvalid, true, "--pty cannot be used with --binary, --passstderr or --prefork: a terminal always sends raw binary frames and has no separate stderr.")
	}

	rest := fs.Args()
	if len(rest) == 0 && o.dir == "" && o.staticDir == "" && o.cgiDir == "" && o.hs.protoDir == "" && o.be.url == "" {
		return fail(exitInvalid, true, "Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.")
	}

	var cfg engine.Config
	if msg := applyBackendFlags(&o, len(rest) > 0, &cfg); msg != "" {
		return fail(exitInvalid, true, "%s", msg)
	}
	if len(rest) > 0 {
		if o.dir != "" {
			return fail(exitInvalid, true, "Ambiguous. Provided COMMAND and --dir argument. Please only specify just one.")
		}
		// Resolved now, with the daemon's PATH, as websocketd does: a typo
		// fails at startup rather than on the first connection, and the
		// children (whose PATH is only what --passenv lets through) run the
		// program by absolute path.
		path, err := exec.LookPath(rest[0])
		if err == nil {
			path, err = filepath.Abs(path)
		}
		if err != nil {
			// websocketd's words (and exit code), plus the cause when the
			// file is there: "... in OS path: f is not executable".
			why := ""
			if strings.ContainsRune(rest[0], '/') {
				if _, serr := os.Stat(rest[0]); serr == nil {
					if d := spawn.Diagnose(rest[0]); d != "" {
						why = ": " + d
					}
				}
			}
			return fail(exitInvalid, true, "unable to locate specified COMMAND '%s' in OS path%s", rest[0], why)
		}
		// websocketd starts and fails every connection when the #! line
		// names a missing interpreter; a daemon that can run nothing had
		// better not start.
		if why := spawn.Diagnose(path); why != "" {
			return fail(exitInvalid, true, "cannot run COMMAND '%s': %s", rest[0], why)
		}
		cfg.Command = path
		cfg.CommandName = rest[0]
		cfg.Args = append([]string{}, rest[1:]...)
	}

	if o.dir != "" {
		dir, err := filepath.Abs(o.dir)
		if err != nil {
			return fail(exitInvalid, true, "Could not resolve absolute path to dir '%s'.", o.dir)
		}
		st, err := os.Stat(dir)
		if err != nil {
			return fail(exitInvalid, true, "Could not find your script dir '%s'.", o.dir)
		}
		if !st.IsDir() {
			return fail(exitInvalid, true, "Did you mean to specify COMMAND instead of --dir '%s'?", o.dir)
		}
		cfg.Dir = dir
	}
	if o.cgiDir != "" && !isDir(o.cgiDir) {
		return fail(exitInvalid, true, "Your CGI dir '%s' is not pointing to an accessible directory.", o.cgiDir)
	}
	if o.staticDir != "" && !isDir(o.staticDir) {
		return fail(exitInvalid, true, "Your static dir '%s' is not pointing to an accessible directory.", o.staticDir)
	}

	for _, l := range []struct {
		flag string
		list []string
	}{{"--header", o.headers}, {"--header-ws", o.headersWS}, {"--header-http", o.headersHTTP}} {
		for _, h := range l.list {
			if msg := checkHeader(h); msg != "" {
				return fail(exitInvalid, false, "Invalid %s %q: %s.", l.flag, h, msg)
			}
		}
	}

	if msg := applyHandshakeFlags(&o, len(rest) > 0, &cfg); msg != "" {
		return fail(exitInvalid, true, "%s", msg)
	}

	if msg := applyRoomFlags(&o, fs, &cfg); msg != "" {
		return fail(exitInvalid, true, "%s", msg)
	}
	if cfg.Broadcast && cfg.Command == "" && cfg.Dir == "" && cfg.ProtoDir == "" {
		return fail(exitInvalid, true, "--broadcast needs COMMAND, --dir or --protodir: a room is a program.")
	}

	if o.devConsole && (o.staticDir != "" || o.cgiDir != "") {
		// websocketd reports this one through its logger, as a FATAL line
		// on stdout, and with its own exit code.
		other := "--staticdir"
		if o.staticDir == "" {
			other = "--cgidir"
		}
		lg := logline.NewLogger(stdout, level)
		lg.Log(logline.LevelFatal, "server", nil, "Invalid parameters: --devconsole cannot be used with %s. Pick one.", other)
		_ = lg.Close()
		return engine.Config{}, exitDevConsole
	}

	portGiven := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "port" {
			portGiven = true
		}
	})
	cfg.Port = o.port
	if cfg.Port == 0 {
		cfg.Port = 80
		if o.ssl {
			cfg.Port = 443
		}
	}
	cfg.Addresses = append([]string(nil), o.addresses...)
	cfg.UnixSocket = o.unixSocket
	cfg.UnixOnly = o.unixSocket != "" && !portGiven && len(o.addresses) == 0 && o.redirPort == 0
	cfg.RedirPort = o.redirPort
	cfg.SSL = o.ssl
	cfg.SSLCert = o.sslCert
	cfg.SSLKey = o.sslKey
	cfg.SSLCA = o.sslCA

	cfg.StaticDir = o.staticDir
	cfg.CGIDir = o.cgiDir
	cfg.DevConsole = o.devConsole
	cfg.StaticList = o.staticList
	cfg.StaticDotfiles = o.staticDots

	cfg.PassEnv = parsePassEnv(o.passEnv)
	cfg.Binary = o.binary
	cfg.PassStderr = o.passStderr
	if o.pty {
		cfg.PTY, cfg.Term = true, o.term
	}
	cfg.ReverseLookup = o.reverseLookup
	if addr := os.Getenv("WSPLEX_DNS"); addr != "" && o.reverseLookup {
		cfg.Resolver = dnsResolver(addr)
	}

	cfg.MaxForks = o.maxForks
	cfg.PreFork = max(o.preFork, 0)
	cfg.MaxFrameSize = o.maxFrameSize.n
	cfg.CloseExtra = o.closeMs.d
	cfg.PingInterval = o.pingMs.d
	cfg.OutBuffer = clampInt(o.outBuffer.n)
	cfg.InBuffer = clampInt(o.inBuffer.n)

	cfg.SameOrigin = o.sameOrigin
	cfg.Origins = splitList(o.origin)
	cfg.Headers = append([]string(nil), o.headers...)
	cfg.HeadersWS = append([]string(nil), o.headersWS...)
	cfg.HeadersHTTP = append([]string(nil), o.headersHTTP...)

	cfg.LogLevel = level
	cfg.MetricsAddr = o.metrics.addr
	cfg.ServerSoftware = "wsplex/" + Version
	return cfg, continueRun
}

// checkHeader says what is wrong with a --header value, "" if nothing.
// The value goes verbatim into responses, so a CR or LF in it would end the
// header early and let the rest be read as more headers or as the body
// (response splitting); it is refused at startup instead. The name must be
// an RFC 9110 token; the value may hold no control character but HTAB.
// Like websocketd, "Name" without a colon is a header with an empty value.
func checkHeader(h string) string {
	name, value, _ := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if name == "" {
		return "want \"Name: value\" with a header name"
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Sprintf("the header name %q may only contain letters, digits and !#$%%&'*+-.^_`|~", name)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Sprintf("the value contains the control character %q (CR and LF would split the response)", string(c))
		}
	}
	return ""
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// dnsResolver asks the DNS server at addr (HOST:PORT, from WSPLEX_DNS)
// instead of the system's. It is not a flag: it exists so that tests can
// give --reverselookup a resolver of their own, for instance one that
// never answers.
func dnsResolver(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// parsePassEnv splits --passenv. HTTPS is never taken from the parent, as
// in websocketd: in the child it must mean "this connection is TLS".
func parsePassEnv(s string) []string {
	out := []string{}
	for _, name := range splitList(s) {
		if name != "HTTPS" {
			out = append(out, name)
		}
	}
	return out
}

// splitList splits a comma list, trimming spaces and dropping empty items
// ("a, b," is a and b).
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func clampInt(n int64) int {
	if n > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}

// The flag package's own wording for bad numbers, so that our custom flags
// fail like --port does: `invalid value "x" for flag -closems: parse error`.
var (
	errParse = errors.New("parse error")
	errRange = errors.New("value out of range")
)

// listFlag is a repeatable string flag (--address, --header...).
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// byteCount is a size in bytes with a lower bound.
type byteCount struct {
	n, min int64
}

func (b *byteCount) String() string {
	if b == nil {
		return "0"
	}
	return strconv.FormatInt(b.n, 10)
}

func (b *byteCount) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return errRange
		}
		return errParse
	}
	if n < b.min {
		return fmt.Errorf("must be at least %d", b.min)
	}
	b.n = n
	return nil
}

// msFlag is a non-negative number of milliseconds (websocketd's --closems
// is a uint), kept as a Duration; values that overflow one are refused.
type msFlag struct{ d time.Duration }

func (m *msFlag) String() string {
	if m == nil {
		return "0"
	}
	return strconv.FormatInt(m.d.Milliseconds(), 10)
}

func (m *msFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return errRange
		}
		return errParse
	}
	if n > uint64(math.MaxInt64/int64(time.Millisecond)) {
		return errRange
	}
	m.d = time.Duration(n) * time.Millisecond
	return nil
}

// addrFlag is a HOST:PORT listen address, checked at parse time so that a
// forgotten colon ("--metrics=9100") is a usage error, not a listen error.
type addrFlag struct{ addr string }

func (a *addrFlag) String() string {
	if a == nil {
		return ""
	}
	return a.addr
}

func (a *addrFlag) Set(s string) error {
	if s != "" {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("want HOST:PORT, e.g. :9100 or 127.0.0.1:9100")
		}
	}
	a.addr = s
	return nil
}
