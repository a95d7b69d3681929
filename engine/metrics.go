package engine

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the daemon's Prometheus series. They are always counted (a
// counter increment is a few atomic adds) and served only with --metrics.
type metrics struct {
	reg *prometheus.Registry

	conns, children       prometheus.Gauge
	paused                prometheus.Counter
	msgsIn, msgsOut       prometheus.Counter
	bytesIn, bytesOut     prometheus.Counter
	spawnFail             prometheus.Counter
	dropped               prometheus.Counter
	handshakeFail, closes *prometheus.CounterVec
	protocolErr, refused  *prometheus.CounterVec

	backendConnects prometheus.Counter     // socket backends (endpoint_socket.go)
	backendFail     *prometheus.CounterVec // by reason
	backendOpen     prometheus.Gauge
	// Rooms (room.go).
	rooms                           prometheus.Gauge
	roomClients, roomDelivery       prometheus.Histogram
	roomDeliveries, roomDrops       prometheus.Counter
	roomSlowCloses, envelopeInvalid prometheus.Counter
	roomInputPauses                 prometheus.Counter

	srv  *http.Server
	addr string
}

func newMetrics(e *Engine) (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry()}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "wsplex", Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "wsplex", Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "wsplex", Name: name, Help: help}, []string{label})
		m.reg.MustRegister(c)
		return c
	}
	m.conns = gauge("open_connections", "Client sockets currently open.")
	m.children = gauge("running_children", "Children started and not yet reaped.")
	m.paused = counter("child_pauses_total", "Times a child's output was paused because its client was behind.")
	m.msgsIn = counter("messages_received_total", "WebSocket messages received from clients and forwarded to children.")
	m.msgsOut = counter("messages_sent_total", "WebSocket messages sent to clients.")
	m.bytesIn = counter("received_bytes_total", "Message payload bytes received from clients and forwarded to children.")
	m.bytesOut = counter("sent_bytes_total", "Message payload bytes sent to clients.")
	m.dropped = counter("dropped_output_bytes_total", "Bytes of child output not sent because the connection was closing (our close frame was out) or gone.")
	m.spawnFail = counter("spawn_failures_total", "Children that could not be started.")
	m.handshakeFail = vec("handshake_failures_total", "Requests refused before or during the WebSocket handshake, by HTTP status.", "status")
	m.closes = vec("closes_total", "Close frames sent, by close code.", "code")
	m.protocolErr = vec("protocol_errors_total", "Connections closed for a protocol violation, by close code.", "code")
	m.refused = vec("refused_connections_total", "Connections refused at accept, by reason.", "reason")
	m.backendConnects = counter("backend_connects_total", "Backend connections opened (--backend).")
	m.backendFail = vec("backend_failures_total", "Backend connections that failed, by reason: refused, unreachable, timeout, busy (a full Unix listen queue), reset (after it opened), error.", "reason")
	m.backendOpen = gauge("backend_open", "Backend connections open now.")
	m.rooms = gauge("rooms", "Rooms (--broadcast) whose child is not yet released.")
	m.roomClients = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "wsplex", Name: "room_clients",
		Help: "Clients of a room, observed as each client joins (the room's size with it).", Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	m.roomDelivery = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "wsplex", Name: "room_delivery_seconds",
		Help:    "Time from the read of a room's child output to its write to a client's socket (the oldest message of each write).",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16)})
	m.reg.MustRegister(m.roomClients, m.roomDelivery)
	m.roomDeliveries = counter("room_deliveries_total", "Room messages written to clients (one per client per message).")
	m.roomDrops = counter("room_drops_total", "Room messages skipped for clients too far behind (--slow=drop).")
	m.roomSlowCloses = counter("room_slow_closes_total", "Room clients closed with 1008 for being too far behind (--slow=close).")
	m.roomInputPauses = counter("room_input_pauses_total", "Times a room client's input was paused because the room's queue for its child was full.")
	m.envelopeInvalid = counter("room_envelope_invalid_total", "Output lines of --envelope=json children that were not valid and were skipped.")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "wsplex", Name: "fd_limit", Help: "RLIMIT_NOFILE in force."},
		func() float64 { return float64(e.nofile) }))
	return m, nil
}

// serve starts the metrics endpoint. It is plain net/http: a scrape now and
// then does not need the reactor.
func (m *metrics) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	m.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return nil
}

func (m *metrics) close() {
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.srv.Shutdown(ctx)
	}
}
