package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The test clients: Node's ws (a subprocess running testdata/node/client.mjs)
// and a Go client on a plain net.Conn (gobwas/ws frames), with the raw
// request and frame helpers the protocol tests use. harness_test.go says
// how the pieces fit together.

// ---------------------------------------------------------------------------
// The node client (testdata/node/client.mjs, the ws npm package)

// nodeConn is a running client.mjs: commands go to its stdin, events come
// back one JSON line each.
type nodeConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan nodeEvent // closed when client.mjs's stdout ends
	stderr bytes.Buffer   // read only after done
	done   chan struct{}  // closed once the process is reaped
}

// nodeEvent is one event line of client.mjs; exactly one field is set.
type nodeEvent struct {
	Open               bool              `json:"open"`
	Protocol           string            `json:"protocol"`
	Message            *string           `json:"message"` // text, or base64 when Binary
	Binary             bool              `json:"binary"`
	Ping               *string           `json:"ping"`
	Pong               *string           `json:"pong"`
	Close              *nodeClose        `json:"close"`
	Error              string            `json:"error"`
	UnexpectedResponse *nodeHTTPResponse `json:"unexpectedResponse"`
	Line               string            `json:"-"` // the JSON as printed
}

type nodeClose struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// nodeHTTPResponse is a refused handshake (no 101).
type nodeHTTPResponse struct {
	Status  int            `json:"status"`
	Headers map[string]any `json:"headers"` // lower-case names; set-cookie is a list
	Body    string         `json:"body"`
}

// data returns the message payload, decoding binary messages.
func (e nodeEvent) data() []byte {
	if e.Message == nil {
		return nil
	}
	if e.Binary {
		b, _ := base64.StdEncoding.DecodeString(*e.Message)
		return b
	}
	return []byte(*e.Message)
}

// nodeClient starts client.mjs against url. Options are client.mjs flags:
// "--protocol=a,b", "--origin=http://x", "--header=Name: value". The test is
// skipped if node or the installed ws package is missing (failed under CI).
func nodeClient(t testing.TB, url string, options ...string) *nodeConn {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws", "package.json")); err != nil {
		skipOrFail(t, "ws npm package not installed (run `make node-deps`): %v", err)
	}
	n := &nodeConn{events: make(chan nodeEvent, 64), done: make(chan struct{})}
	n.cmd = exec.Command(node, append(append([]string{filepath.Join(nodeDir, "client.mjs")}, options...), url)...)
	n.cmd.Stderr = &n.stderr
	n.cmd.WaitDelay = 2 * time.Second
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start node client: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			ev := nodeEvent{Line: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = nodeEvent{Error: fmt.Sprintf("unparsable event %q: %v", sc.Text(), err), Line: sc.Text()}
			}
			n.events <- ev
		}
		close(n.events)
		_ = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stdin.Close() // client.mjs closes the connection (1000) and exits
		timer := time.NewTimer(waitTimeout)
		defer timer.Stop()
		for {
			select {
			case _, ok := <-n.events:
				if ok {
					continue
				}
				<-n.done
				return
			case <-timer.C:
				t.Errorf("node client did not exit within %v; killing it", waitTimeout)
				_ = n.cmd.Process.Kill()
				<-n.done
				return
			}
		}
	})
	return n
}

func (n *nodeConn) command(t testing.TB, cmd any) {
	t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("node client command %s: %v", line, err)
	}
}

// send sends a text message.
func (n *nodeConn) send(t testing.TB, text string) {
	t.Helper()
	n.command(t, map[string]string{"send": text})
}

// sendBinary sends a binary message.
func (n *nodeConn) sendBinary(t testing.TB, data []byte) {
	t.Helper()
	n.command(t, map[string]string{"sendBinary": base64.StdEncoding.EncodeToString(data)})
}

// ping sends a ping; a pong event follows.
func (n *nodeConn) ping(t testing.TB, payload string) {
	t.Helper()
	n.command(t, map[string]string{"ping": payload})
}

// close starts the closing handshake with code and reason (code 0: no code).
func (n *nodeConn) close(t testing.TB, code int, reason string) {
	t.Helper()
	if code == 0 {
		n.command(t, map[string][]any{"close": {}})
		return
	}
	n.command(t, map[string][]any{"close": {code, reason}})
}

// terminate drops the TCP connection without a close frame.
func (n *nodeConn) terminate(t testing.TB) {
	t.Helper()
	n.command(t, map[string]bool{"terminate": true})
}

// next returns the next event, failing the test after timeout or if the
// client exited without one.
func (n *nodeConn) next(t testing.TB, timeout time.Duration) nodeEvent {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ev, ok := <-n.events:
		if !ok {
			<-n.done
			t.Fatalf("node client exited without another event (%v); stderr:\n%s", n.cmd.ProcessState, &n.stderr)
		}
		return ev
	case <-timer.C:
		t.Fatalf("no event from the node client within %v", timeout)
	}
	panic("unreachable")
}

// expectOpen waits for the next event, which must be the open event, and
// returns the negotiated subprotocol.
func (n *nodeConn) expectOpen(t testing.TB) string {
	t.Helper()
	ev := n.next(t, waitTimeout)
	if !ev.Open {
		t.Fatalf("node client: want open, got %s", ev.Line)
	}
	return ev.Protocol
}

// expectMessage waits for the next event, which must be the text message want.
func (n *nodeConn) expectMessage(t testing.TB, want string) {
	t.Helper()
	ev := n.next(t, waitTimeout)
	if ev.Message == nil || ev.Binary || *ev.Message != want {
		t.Fatalf("node client: want text message %q, got %s", want, ev.Line)
	}
}

// waitClose skips events until the close event (always the last) and returns it.
func (n *nodeConn) waitClose(t testing.TB) nodeClose {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ev := n.next(t, time.Until(deadline))
		if ev.Close != nil {
			return *ev.Close
		}
		if ev.UnexpectedResponse != nil {
			t.Fatalf("node client: handshake refused, no close event: %s", ev.Line)
		}
		t.Logf("node client (waiting for close): %s", ev.Line)
	}
}

// ---------------------------------------------------------------------------
// The Go client (gobwas/ws frames on a plain net.Conn)

// wsClient is a client-side WebSocket connection that sends and reads single
// frames, so a test can also send what a well-behaved client never would.
type wsClient struct {
	conn      net.Conn
	br        *bufio.Reader
	protocol  string // negotiated subprotocol
	closeSent bool
}

// wsDialOptions are the rarely needed knobs of dialWSWith.
type wsDialOptions struct {
	Header     http.Header // extra request headers (e.g. Origin)
	Protocols  []string    // offered subprotocols
	UnixSocket string      // connect to this Unix socket instead of the URL's host
}

// handshakeError is a handshake the server answered with something else than
// 101. errors.As(err, new(ws.StatusError)) also works.
type handshakeError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("handshake refused: HTTP %d: %q", e.Status, e.Body)
}
func (e *handshakeError) Unwrap() error { return ws.StatusError(e.Status) }

// dialWS connects and upgrades to url, failing the test on any error.
func dialWS(t testing.TB, url string) *wsClient {
	t.Helper()
	c, err := dialWSWith(t, url, wsDialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// dialWSWith connects and upgrades to url and returns the error instead of
// failing; a refused handshake is a *handshakeError. The connection is closed
// when the test ends.
func dialWSWith(t testing.TB, url string, opts wsDialOptions) (*wsClient, error) {
	t.Helper()
	var refused *handshakeError
	d := ws.Dialer{
		Timeout:   waitTimeout,
		Protocols: opts.Protocols,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = &handshakeError{Status: status}
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			defer r.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			refused.Header, refused.Body = r.Header, string(body)
		},
	}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	if opts.UnixSocket != "" {
		d.NetDial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", opts.UnixSocket)
		}
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		if refused != nil {
			return nil, refused
		}
		return nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &wsClient{conn: conn, br: br, protocol: hs.Protocol}
	t.Cleanup(func() { c.conn.Close() })
	return c, nil
}

// sendFrame masks a copy of f (clients must mask) and writes it.
func (c *wsClient) sendFrame(t testing.TB, f ws.Frame) {
	t.Helper()
	c.sendRaw(t, ws.MustCompileFrame(ws.MaskFrame(f)))
}

// writeFrame masks and writes one frame, for goroutines other than the test's.
func (c *wsClient) writeFrame(f ws.Frame) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	_, err := c.conn.Write(ws.MustCompileFrame(ws.MaskFrame(f)))
	return err
}

// sendRaw writes bytes as they are: for malformed frames.
func (c *wsClient) sendRaw(t testing.TB, b []byte) {
	t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.conn.Write(b); err != nil {
		t.Fatalf("write to %s: %v", c.conn.RemoteAddr(), err)
	}
}

// sendText sends one unfragmented text message.
func (c *wsClient) sendText(t testing.TB, s string) {
	t.Helper()
	c.sendFrame(t, ws.NewTextFrame([]byte(s)))
}

// sendBinary sends one unfragmented binary message.
func (c *wsClient) sendBinary(t testing.TB, b []byte) {
	t.Helper()
	c.sendFrame(t, ws.NewBinaryFrame(b))
}

// sendClose sends a close frame with code and reason (code 0: an empty body).
func (c *wsClient) sendClose(t testing.TB, code ws.StatusCode, reason string) {
	t.Helper()
	var body []byte
	if code != 0 {
		body = ws.NewCloseFrameBody(code, reason)
	}
	c.sendFrame(t, ws.NewCloseFrame(body))
	c.closeSent = true
}

// maxTestFrame bounds the payload readFrame accepts.
const maxTestFrame = 64 << 20

// readFrame reads the next frame, unmasked, waiting at most timeout.
func (c *wsClient) readFrame(timeout time.Duration) (ws.Frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxTestFrame {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes is over the test limit", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(f.Payload, h.Mask, 0)
		f.Header.Masked = false
	}
	return f, nil
}

// wsMessage is a whole message, or the end of the connection: Op is
// ws.OpClose with Code and Reason from the close frame, 1005
// (ws.StatusNoStatusRcvd) for an empty one, 1006 (ws.StatusAbnormalClosure)
// when the connection ended without one.
type wsMessage struct {
	Op     ws.OpCode // ws.OpText, ws.OpBinary or ws.OpClose
	Data   []byte
	Code   ws.StatusCode
	Reason string
}

// expectText reads the next message, which must be the text want.
func (c *wsClient) expectText(t testing.TB, want string) {
	t.Helper()
	m := c.readMessage(t, waitTimeout)
	if m.Op != ws.OpText || string(m.Data) != want {
		t.Fatalf("want text %q, got %s", want, m)
	}
}

// readClose skips messages until the connection ends and returns the close
// code and reason (see wsMessage). A close frame from the server is answered
// with the same code unless the client sent one first.
func (c *wsClient) readClose(t testing.TB, timeout time.Duration) (ws.StatusCode, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op != ws.OpClose {
			t.Logf("skipped before close: %s", m)
			continue
		}
		if m.Code != ws.StatusAbnormalClosure && !c.closeSent {
			code := m.Code
			if code == ws.StatusNoStatusRcvd {
				code = 0
			}
			var body []byte
			if code != 0 {
				body = ws.NewCloseFrameBody(code, "")
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
			_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(body)))
			c.closeSent = true
		}
		return m.Code, m.Reason
	}
}

// waitEOF waits until the server closes the TCP connection, discarding what
// still arrives.
func (c *wsClient) waitEOF(t testing.TB, timeout time.Duration) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	if _, err := io.Copy(io.Discard, c.br); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server kept the connection open for %v", timeout)
		}
	}
}

// close drops the connection without a close frame.
func (c *wsClient) close() { c.conn.Close() }

func (m wsMessage) String() string {
	switch m.Op {
	case ws.OpClose:
		return fmt.Sprintf("close %d %q", m.Code, m.Reason)
	case ws.OpText:
		return fmt.Sprintf("text %q", m.Data)
	default:
		return fmt.Sprintf("op %#x %q", m.Op, m.Data)
	}
}

// ---------------------------------------------------------------------------

// echoAgainAndClose is the end of the scale tests: one more echo on the
// first, middle and last connection once all are open, then every client
// closed, and the daemon back to no connections, no children, and at most
// fd0 fds.
func echoAgainAndClose(t *testing.T, d *daemon, m *metricsScraper, clients []*wsClient, echo func(*wsClient, string) error, pid, fd0 int) {
	t.Helper()
	n := len(clients)
	for _, i := range []int{0, n / 2, n - 1} {
		if err := echo(clients[i], "again"); err != nil {
			t.Errorf("connection %d after all were open: %v", i, err)
		}
	}
	for _, cl := range clients {
		cl.close()
	}
	m.waitGauges(t, 0, 0, 30*time.Second)
	waitNoPrograms(t, d, 30*time.Second)
	waitFDsAtMost(t, pid, fd0, 30*time.Second)
}

// echoOnce sends text and expects it back; unlike sendText/expectText it
// returns an error, so it can be called from other goroutines than the test's.
func echoOnce(c *wsClient, text string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewTextFrame([]byte(text)))); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	m, err := c.recvMessage(waitTimeout)
	if err != nil {
		return err
	}
	if m.Op != ws.OpText || string(m.Data) != text {
		return fmt.Errorf("want text %q back, got %s", text, m)
	}
	return nil
}

// openEchoing opens n connections to d, eight at a time, and checks each
// with one echo; it fails the test if any connection fails.
func openEchoing(t *testing.T, d *daemon, n int, echo func(*wsClient, string) error) []*wsClient {
	t.Helper()
	clients := make([]*wsClient, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cl, err := dialWSWith(t, d.url("/"), wsDialOptions{})
				if err == nil {
					clients[i] = cl
					err = echo(cl, fmt.Sprintf("conn %d", i))
				}
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, n)
	}
	return clients
}

// echoLine sends one line through an echo child (cat) and expects it back.
func echoLine(t *testing.T, c *wsClient, line string) {
	t.Helper()
	c.sendText(t, line)
	c.expectText(t, line)
}

// readEnv reads the environment a child running `env` sends, one message
// per variable, until the child's exit closes the connection.
func readEnv(t *testing.T, c *wsClient) map[string]string {
	t.Helper()
	env := map[string]string{}
	for {
		m := c.readMessage(t, waitTimeout)
		if m.Op == ws.OpClose {
			return env
		}
		k, v, _ := strings.Cut(string(m.Data), "=")
		env[k] = v
	}
}

// rawResponse is what rawRequest got back.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// rawRequest sends one request with the target exactly as given (Go's HTTP
// client would clean or re-encode "..", "%2e%2e" and backslashes) and reads
// the response. extra is "Name: value" header lines; Host is added unless
// extra has one.
func rawRequest(t testing.TB, addr, method, target, body string, extra ...string) rawResponse {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	if !slices.ContainsFunc(extra, func(h string) bool { return strings.HasPrefix(strings.ToLower(h), "host:") }) {
		fmt.Fprintf(&b, "Host: %s\r\n", addr)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return rawResponse{Status: resp.StatusCode, Header: resp.Header}
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, target, err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

// upgradeRequest returns a complete WebSocket handshake request for path
// with Host host, followed by the extra header lines (each ending "\r\n").
func upgradeRequest(path, host, extra string) string {
	return "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		extra + "\r\n"
}

// sendRawRequest connects to addr, writes raw in one write, and reads the
// response head. The connection is closed when the test ends.
func sendRawRequest(t testing.TB, addr, raw string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", firstLine(raw), err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, br, resp
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSuffix(s[:i], "\r")
	}
	return s
}

// rawUpgrade performs a handshake by hand (the exact request of
// upgradeRequest, plus trailing bytes in the same write) and returns a
// wsClient on the upgraded connection.
func rawUpgrade(t testing.TB, addr, path, host, extra string, trailing []byte) *wsClient {
	t.Helper()
	conn, br, resp := sendRawRequest(t, addr, upgradeRequest(path, host, extra)+string(trailing))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake for %s: HTTP %d, want 101", path, resp.StatusCode)
	}
	return &wsClient{conn: conn, br: br}
}

// rawFrame encodes one frame by hand, so that it can be anything at all: op
// may be reserved, rsv is the three RSV bits (0..7), and the payload is
// masked with a fixed key when masked is set.
func rawFrame(fin bool, rsv byte, op byte, masked bool, payload []byte) []byte {
	b0 := rsv<<4 | op&0x0f
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

// readUntilClose reads messages until the connection ends and returns them
// with the close code and reason (see readClose).
func readUntilClose(t testing.TB, c *wsClient, timeout time.Duration) ([]wsMessage, ws.StatusCode, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msgs []wsMessage
	for {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op == ws.OpClose {
			if m.Code != ws.StatusAbnormalClosure && !c.closeSent {
				code := m.Code
				var body []byte
				if code != ws.StatusNoStatusRcvd {
					body = ws.NewCloseFrameBody(code, "")
				}
				_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
				_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(body)))
				c.closeSent = true
			}
			return msgs, m.Code, m.Reason
		}
		msgs = append(msgs, m)
	}
}

// texts returns the data of text messages, failing on any other kind.
func texts(t testing.TB, msgs []wsMessage) []string {
	t.Helper()
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if m.Op != ws.OpText {
			t.Fatalf("want only text messages, got %s", m)
		}
		out = append(out, string(m.Data))
	}
	return out
}

// expectClose sends frames on a new connection to d (running cat) and
// expects the close code want, and no message.
func expectClose(t *testing.T, d *daemon, want ws.StatusCode, frames ...[]byte) {
	t.Helper()
	c := dialWS(t, d.url("/"))
	for _, f := range frames {
		c.sendRaw(t, f)
	}
	msgs, code, reason := readUntilClose(t, c, waitTimeout)
	if len(msgs) != 0 || code != want {
		t.Errorf("got %q and close %d %q, want close %d", msgs, code, reason, want)
	}
	// Not waiting for the TCP close here: TestLifeProtocolErrorCloses does.
}

func closeBody(code uint16, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

// readBinary reads binary messages until at least n bytes arrived.
func readBinary(t testing.TB, c *wsClient, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(2 * waitTimeout)
	var got []byte
	for len(got) < n {
		m := c.readMessage(t, time.Until(deadline))
		if m.Op != ws.OpBinary {
			t.Fatalf("after %d of %d bytes: got %s, want binary", len(got), n, m)
		}
		got = append(got, m.Data...)
	}
	return got
}

// testKey is a valid Sec-WebSocket-Key (the RFC 6455 sample).
const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// readMessage reads the next message, joining fragments, answering pings and
// skipping pongs; see wsMessage for the end of the connection. It fails the
// test if nothing arrives within timeout or a frame is out of place.
func (c *wsClient) readMessage(t testing.TB, timeout time.Duration) wsMessage {
	t.Helper()
	m, err := c.recvMessage(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recvMessage is readMessage returning an error instead of failing the test,
// for goroutines other than the test's: the next text or binary message, or
// the close (Op ws.OpClose, 1006 when the connection ended without a close
// frame). Pings are answered unless our close frame is out.
func (c *wsClient) recvMessage(timeout time.Duration) (wsMessage, error) {
	deadline := time.Now().Add(timeout)
	var msg wsMessage
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return msg, fmt.Errorf("no message within %v", timeout)
			}
			return wsMessage{Op: ws.OpClose, Code: ws.StatusAbnormalClosure, Reason: err.Error()}, nil
		}
		switch op := f.Header.OpCode; {
		case op == ws.OpPing:
			if !c.closeSent {
				// A failed write shows again, better told, in the next read.
				_ = c.writeFrame(ws.NewPongFrame(f.Payload))
			}
		case op == ws.OpPong:
		case op == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code.Empty() {
				code = ws.StatusNoStatusRcvd
			}
			return wsMessage{Op: ws.OpClose, Code: code, Reason: reason}, nil
		case (op == ws.OpText || op == ws.OpBinary) && msg.Op == 0, op == ws.OpContinuation && msg.Op != 0:
			if msg.Op == 0 {
				msg.Op = op
			}
			msg.Data = append(msg.Data, f.Payload...)
			if f.Header.Fin {
				return msg, nil
			}
		default:
			return msg, fmt.Errorf("unexpected frame: opcode %#x fin=%v in message %#x", op, f.Header.Fin, msg.Op)
		}
	}
}
