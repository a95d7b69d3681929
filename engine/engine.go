package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/engine/tlsbridge"
	"github.com/wsplex/wsplex/engine/web"
	"github.com/wsplex/wsplex/internal/confine"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/platform"
	"github.com/wsplex/wsplex/reactor"
	"github.com/wsplex/wsplex/spawn"
)

// Engine is one running daemon: listeners, the reactor's loops (one per
// core, each carrying its connections' sockets, children and timers), the
// spawner and the registry of live connections (kept only so shutdown can
// reach them).
type Engine struct {
	cfg     Config
	log     *logline.Logger
	group   *reactor.Group
	bufs    []*loopBufs // by loop ID
	spawner *spawn.Spawner
	pool    *spawn.Pool // --prefork; nil when off
	metrics *metrics

	hdrHTTP []codec.Header // --header + --header-http
	hdrWS   []codec.Header // --header + --header-ws

	listeners []net.Listener // TCP and Unix; all TLS with --ssl
	acceptWG  sync.WaitGroup
	tlsConf   *tls.Config     // nil without --ssl
	redirects []*web.Redirect // --redirport
	bridges   sync.WaitGroup  // TLS connections (tls.go)
	dirJail   confine.Jail    // --dir (route.go)
	protoJail confine.Jail    // --protodir (subprotocol.go)
	signer    *signer         // --signed-urls (signed.go); nil when off
	web       *web.Server     // plain HTTP served by net/http (package web); nil if only 404s

	nofile   int          // RLIMIT_NOFILE in force
	conns    atomic.Int64 // sockets held (one fd each)
	children atomic.Int64 // children not yet reaped
	fdsHeld  atomic.Int64 // fds held for children
	nextID   atomic.Uint64
	started  time.Time

	mu       sync.Mutex
	live     map[*conn]struct{}
	shutting bool
	drained  chan struct{} // closed when shutting and nothing is live

	// Children on their way to a loop, for the shutdown sweep (sweep.go).
	starts    atomic.Int64 // StartAsync calls not answered yet
	handMu    sync.Mutex
	handing   map[*spawn.Process]struct{} // answered, not yet taken by the loop
	late      []*spawn.Process            // answered after the loops were gone
	loopsGone bool                        // the loops have stopped: hand nothing more over
	swept     bool                        // the sweep is over: dispose of late children at once
	// leftBehind: children endpoints hand the sweep (endpoint.sweep); the
	// sweep's goroutine alone touches it, once the loops are gone.
	leftBehind []*spawn.Process

	rooms roomRegistry // --broadcast (room.go)
}

// New prepares an engine: it raises the fd limit and opens the listeners,
// so that a port in use is reported before anything else starts.
func New(cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = logline.NewLogger(discard{}, logline.LevelNone)
	}
	if cfg.OutBuffer <= 0 {
		cfg.OutBuffer = DefaultOutBuffer
	}
	if cfg.InBuffer <= 0 {
		cfg.InBuffer = DefaultInBuffer
	}
	if cfg.BroadcastQueue <= 0 {
		cfg.BroadcastQueue = DefaultBroadcastQueue
	}
	if cfg.ServerSoftware == "" {
		cfg.ServerSoftware = "wsplex"
	}
	e := &Engine{cfg: cfg, log: cfg.Log, live: make(map[*conn]struct{}), drained: make(chan struct{}), started: time.Now(),
		handing: make(map[*spawn.Process]struct{})}
	e.hdrHTTP = parseHeaders(cfg.Headers, cfg.HeadersHTTP)
	e.hdrWS = parseHeaders(cfg.Headers, cfg.HeadersWS)
	e.initRouting()
	if err := e.initSigner(); err != nil {
		return nil, err
	}
	lim, err := platform.RaiseNoFile()
	if err != nil {
		e.log.Log(logline.LevelError, "server", nil, "Could not raise the open-files limit: %v", err)
		lim = platform.NoFile()
	}
	e.nofile = int(lim)
	if err := e.listen(); err != nil {
		return nil, err
	}
	return e, nil
}

// Addrs returns the addresses the engine listens on (useful with port 0).
func (e *Engine) Addrs() []net.Addr {
	out := make([]net.Addr, len(e.listeners))
	for i, ln := range e.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// Run serves until ctx is done, then shuts down gracefully: it stops
// accepting, closes every WebSocket with 1001, runs the termination ladder
// on every child, and returns once all are reaped.
func Run(ctx context.Context, cfg Config) error {
	e, err := New(cfg)
	if err != nil {
		return err
	}
	return e.Serve(ctx)
}

// Serve runs a prepared engine; see Run.
func (e *Engine) Serve(ctx context.Context) error {
	var err error
	if e.metrics, err = newMetrics(e); err != nil {
		e.closeListeners()
		return err
	}
	if e.cfg.MetricsAddr != "" {
		if err := e.metrics.serve(e.cfg.MetricsAddr); err != nil {
			e.closeListeners()
			return &ListenError{Err: err}
		}
	}
	if e.spawner, err = spawn.New(0); err != nil {
		e.closeListeners()
		return err
	}
	e.startPrefork()
	e.group, err = reactor.NewGroup(0)
	if err == nil {
		for range e.group.Loops() {
			e.bufs = append(e.bufs, &loopBufs{read: make([]byte, readBuf)})
		}
	}
	if err != nil {
		e.closeListeners()
		e.spawner.Close()
		return fmt.Errorf("event loops: %w", err)
	}
	e.logStartup()
	e.watchSIGHUP(ctx)
	for _, ln := range e.listeners {
		e.acceptWG.Add(1)
		go e.acceptLoop(ln)
	}
	e.serveRedirects()

	<-ctx.Done()
	e.shutdown()
	return nil
}

func (e *Engine) logStartup() {
	if e.cfg.Command != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving using application   : %s %s", e.cfg.Command, joinArgs(e.cfg.Args))
	}
	if e.cfg.Backend != nil {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving using backend       : %s (%s)", e.cfg.BackendURL, e.cfg.Backend)
	}
	if e.cfg.ProtoDir != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving subprotocols from   : %s", e.cfg.ProtoDir)
	}
	e.logWebStartup()
	e.logListeners()
	if e.cfg.MetricsAddr != "" {
		e.log.Log(logline.LevelInfo, "server", nil, "Serving metrics             : http://%s/metrics", e.metrics.addr)
	}
}

// shutdown is the SIGTERM path.
func (e *Engine) shutdown() {
	e.log.Log(logline.LevelInfo, "server", nil, "Shutting down: closing %d connections", e.conns.Load())
	e.closeListeners()
	e.closeRedirects()
	e.acceptWG.Wait()

	e.mu.Lock()
	e.shutting = true
	live := make([]*conn, 0, len(e.live))
	for c := range e.live {
		live = append(live, c)
	}
	e.checkDrained()
	e.mu.Unlock()
	for _, c := range live {
		c.exec((*conn).goingAway)
	}
	// Every child is SIGKILLed by the end of its ladder; the bound is only
	// a guard against a bug leaving the daemon hanging forever.
	limit := 850*time.Millisecond + 3*e.cfg.CloseExtra + 10*time.Second
	select {
	case <-e.drained:
	case <-time.After(limit):
		e.log.Log(logline.LevelError, "server", nil, "Shutdown: %d connections still open after %v; exiting anyway", e.conns.Load(), limit)
	}
	_ = e.group.Close()
	e.sweep()
	e.closeWeb()
	e.waitBridges(tlsbridge.Linger + time.Second)
	if e.pool != nil {
		e.pool.Close()
	}
	e.spawner.Close()
	e.metrics.close()
	e.log.Log(logline.LevelInfo, "server", nil, "Shutdown complete")
}

func (e *Engine) closeListeners() {
	for _, ln := range e.listeners {
		_ = ln.Close()
	}
}

// track and untrack keep the registry shutdown walks.
func (e *Engine) track(c *conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutting {
		return false
	}
	e.live[c] = struct{}{}
	return true
}

func (e *Engine) untrack(c *conn) {
	e.mu.Lock()
	delete(e.live, c)
	e.checkDrained()
	e.mu.Unlock()
}

// checkDrained closes drained once shutdown waits and nothing is live: no
// connection, and no room's child (rooms may outlive their clients on
// their ladder). Under e.mu.
func (e *Engine) checkDrained() {
	if !e.shutting || len(e.live) > 0 || e.rooms.live() > 0 {
		return
	}
	select {
	case <-e.drained:
	default:
		close(e.drained)
	}
}

// fdHeadroom reports whether one more connection with a child fits under
// the open-files limit, leaving a reserve for the listeners, the pollers,
// the log and the metrics server.
func (e *Engine) fdHeadroom(extra int) bool {
	const reserve = 64
	used := int(e.conns.Load()+e.fdsHeld.Load()) + reserve
	return used+extra <= e.nofile
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
