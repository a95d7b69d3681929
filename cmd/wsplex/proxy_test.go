package main

// --proxy-protocol and --trusted-proxy over real sockets (issue 12, part 3).

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// remoteEcho says which client the child was told about, then echoes.
const remoteEcho = `echo "$REMOTE_ADDR $REMOTE_PORT"; exec cat`

// proxyV2Header builds a PROXY v2 header for TCP from src to dst (cmd 1
// PROXY, 0 LOCAL).
func proxyV2Header(cmd byte, src, dst string) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x20|cmd)
	if cmd == 0 {
		return append(b, 0, 0, 0)
	}
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	fam, block := byte(0x11), []byte{}
	if s.Addr().Is6() {
		fam = 0x21
		a, b := s.Addr().As16(), d.Addr().As16()
		block = append(append(block, a[:]...), b[:]...)
	} else {
		a, b := s.Addr().As4(), d.Addr().As4()
		block = append(append(block, a[:]...), b[:]...)
	}
	block = binary.BigEndian.AppendUint16(block, s.Port())
	block = binary.BigEndian.AppendUint16(block, d.Port())
	block = append(block, 0x04, 0, 2, 'x', 'y') // a TLV, ignored
	b = append(b, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return append(b, block...)
}

// proxiedUpgrade connects to addr, sends pre (a PROXY header or anything)
// and the upgrade request in one write, and reads the answer. One write:
// the daemon refuses as soon as it has seen enough, and bytes still
// arriving after it closed would be answered with a reset.
func proxiedUpgrade(t testing.TB, addr string, pre []byte) hsResult {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := conn.Write(append(append([]byte{}, pre...), upgradeRequest("/", addr, "")...)); err != nil {
		t.Fatal(err)
	}
	return readUpgradeAnswer(t, conn, pre)
}

// upgradeOver sends pre one byte per write (the header parser must take
// it in pieces), then the upgrade request, and reads the answer.
func upgradeOver(t testing.TB, conn net.Conn, host string, pre []byte) hsResult {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	for i := range pre {
		if _, err := conn.Write(pre[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(conn, upgradeRequest("/", host, "")); err != nil {
		t.Fatal(err)
	}
	return readUpgradeAnswer(t, conn, pre)
}

func readUpgradeAnswer(t testing.TB, conn net.Conn, pre []byte) hsResult {
	t.Helper()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("after %q: %v", pre, err)
	}
	_ = conn.SetDeadline(time.Time{})
	r := hsResult{status: resp.StatusCode}
	if r.status == 101 {
		r.client = &wsClient{conn: conn, br: br}
	}
	return r
}

// TestProxyProtocol: v1 and v2 headers, TCP over IPv4 and IPv6, sent a
// byte at a time, give the child and the log the client they name;
// UNKNOWN and LOCAL keep the socket's own address. A source in the list
// that sends no header, a malformed or truncated one is refused, and
// nothing is started for it.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--proxy-protocol")
	fc := newForkCounter(t)
	prog := fc.script(t, t.TempDir(), "prog", remoteEcho)
	d := startDaemon(t, "--proxy-protocol=10.0.0.0/8, 127.0.0.0/8", prog)
	served := 0
	for _, tc := range []struct {
		name string
		pre  []byte
		want string // "" for the socket's own address
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), "192.0.2.1 56324"},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n"), "2001:db8::7 40000"},
		{"v2 TCP4", proxyV2Header(1, "203.0.113.9:1234", "198.51.100.2:443"), "203.0.113.9 1234"},
		{"v2 TCP6", proxyV2Header(1, "[2001:db8::9]:65535", "[2001:db8::1]:443"), "2001:db8::9 65535"},
		{"v2 TCP6 v4-mapped", proxyV2Header(1, "[::ffff:192.0.2.44]:80", "[::ffff:192.0.2.1]:443"), "192.0.2.44 80"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), ""},
		{"v2 LOCAL", proxyV2Header(0, "", ""), ""},
	} {
		mark := d.logMark()
		conn, err := net.DialTimeout("tcp", d.addr, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		r := upgradeOver(t, conn, d.addr, tc.pre)
		if r.status != 101 {
			t.Fatalf("%s: HTTP %d, want 101", tc.name, r.status)
		}
		want := tc.want
		if want == "" {
			_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
			want = "127.0.0.1 " + port
		}
		r.client.expectText(t, want)
		d.waitLogSince(t, mark, "remote:'"+strings.Fields(want)[0]+"'", waitTimeout)
		served++
	}
	for _, tc := range []struct {
		name string
		pre  []byte
		log  string
	}{
		{"no header", nil, "no PROXY protocol header from a source in --proxy-protocol"},
		{"garbage", []byte("PROXY TCP4 not-an-address 198.51.100.2 1 2\r\n"), "Bad PROXY protocol header: PROXY protocol: v1 header: bad address"},
		{"truncated v1", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1"), "Bad PROXY protocol header"},
		{"bad v2 command", append(proxyV2Header(1, "192.0.2.1:1", "192.0.2.2:2")[:12], 0x2f, 0x11, 0, 0), "v2 header: unknown command"},
		{"v2 too long", append(proxyV2Header(1, "192.0.2.1:1", "192.0.2.2:2")[:12], 0x21, 0x11, 0xff, 0xff), "v2 header longer than the limit"},
	} {
		mark := d.logMark()
		if r := proxiedUpgrade(t, d.addr, tc.pre); r.status != 400 {
			t.Errorf("%s: HTTP %d, want 400", tc.name, r.status)
			continue
		}
		d.waitLogSince(t, mark, tc.log, waitTimeout)
	}
	// A header cut off by the client's leaving starts nothing either.
	if conn, err := net.Dial("tcp", d.addr); err == nil {
		_, _ = conn.Write(proxyV2Header(1, "192.0.2.1:1", "192.0.2.2:2")[:20])
		conn.Close()
	}
	r := proxiedUpgrade(t, d.addr, []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n"))
	r.client.expectText(t, "192.0.2.1 1")
	served++
	if n := fc.count(t); n != served {
		t.Errorf("%d children started, want %d (none for the refusals)", n, served)
	}
}

// TestProxyProtocolUntrusted: a source not in --proxy-protocol may not
// send a header (it would be trusted otherwise): 400, nothing started;
// without one it is served with its own address.
func TestProxyProtocolUntrusted(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--proxy-protocol")
	fc := newForkCounter(t)
	prog := fc.script(t, t.TempDir(), "prog", remoteEcho)
	d := startDaemon(t, "--proxy-protocol=10.0.0.0/8", prog)
	for _, pre := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
		proxyV2Header(1, "192.0.2.1:1", "192.0.2.2:2"),
	} {
		mark := d.logMark()
		if r := proxiedUpgrade(t, d.addr, pre); r.status != 400 {
			t.Errorf("header %q from an untrusted source: HTTP %d, want 400", pre[:8], r.status)
		}
		d.waitLogSince(t, mark, "PROXY protocol header from a source not in --proxy-protocol", waitTimeout)
	}
	conn, err := net.Dial("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := upgradeOver(t, conn, d.addr, nil)
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	r.client.expectText(t, "127.0.0.1 "+port)
	if n := fc.count(t); n != 1 {
		t.Errorf("%d children started, want 1", n)
	}
}

// TestProxyProtocolTLS: with --ssl the header precedes the ClientHello.
func TestProxyProtocolTLS(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--proxy-protocol")
	p := newTLSPKI(t)
	d := startDaemon(t, append(p.sslArgs(false), "--proxy-protocol=127.0.0.1", "sh", "-c", remoteEcho)...)
	for _, tc := range []struct {
		pre  []byte
		want string
	}{
		{[]byte("PROXY TCP4 192.0.2.5 198.51.100.2 4242 443\r\n"), "192.0.2.5 4242"},
		{proxyV2Header(1, "[2001:db8::5]:4343", "[2001:db8::1]:443"), "2001:db8::5 4343"},
	} {
		raw, err := net.DialTimeout("tcp", d.addr, waitTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		if _, err := raw.Write(tc.pre); err != nil {
			t.Fatal(err)
		}
		tc2 := tls.Client(raw, p.clientConf(false))
		r := upgradeOver(t, tc2, d.addr, nil)
		if r.status != 101 {
			t.Fatalf("wss behind PROXY: HTTP %d", r.status)
		}
		r.client.expectText(t, tc.want)
	}
	// Garbage instead of a header: the TLS side refuses and logs it.
	raw, err := net.DialTimeout("tcp", d.addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, _ = raw.Write([]byte("PROXY TCP4 x y 1 2\r\n"))
	d.waitLog(t, "Bad PROXY protocol header before TLS", waitTimeout)
}

// TestTrustedProxy: from a --trusted-proxy peer REMOTE_ADDR is the
// rightmost X-Forwarded-For address that is not a trusted proxy; from any
// other peer the header is ignored.
func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--trusted-proxy")
	prog := newForkCounter(t).script(t, t.TempDir(), "prog", remoteEcho)
	d := startDaemon(t, "--trusted-proxy=127.0.0.1, 10.0.0.0/8", prog)
	for _, tc := range []struct{ xff, want string }{
		{"X-Forwarded-For: 203.0.113.7\r\n", "203.0.113.7 "},
		{"X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3\r\n", "203.0.113.7 "},
		{"X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 2001:db8::3, 10.0.0.1\r\n", "2001:db8::3 "},
		{"X-Forwarded-For: 10.0.0.2, 127.0.0.1\r\n", "10.0.0.2 "}, // all trusted: the leftmost
	} {
		r := upgradeAt(t, d, "/", tc.xff)
		r.client.expectText(t, tc.want)
	}
	// No header, or an unparsable one: the peer's own address.
	for _, xff := range []string{"", "X-Forwarded-For: 203.0.113.7, garbage\r\n"} {
		r := upgradeAt(t, d, "/", xff)
		m := r.client.readMessage(t, waitTimeout)
		if !strings.HasPrefix(m.String(), "text \"127.0.0.1 ") && !strings.HasPrefix(string(m.Data), "127.0.0.1 ") {
			t.Errorf("X-Forwarded-For %q: child saw %v, want the peer 127.0.0.1", xff, m)
		}
	}
	// Not from a trusted peer: ignored.
	d2 := startDaemon(t, "--trusted-proxy=10.0.0.0/8", prog)
	r := upgradeAt(t, d2, "/", "X-Forwarded-For: 203.0.113.7\r\n")
	m := r.client.readMessage(t, waitTimeout)
	if !strings.HasPrefix(string(m.Data), "127.0.0.1 ") {
		t.Errorf("untrusted peer's X-Forwarded-For was used: child saw %v", m)
	}
}

// TestProxyFlags: bad networks are usage errors.
func TestProxyFlags(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "--proxy-protocol")
	for _, args := range [][]string{
		{"--proxy-protocol=10.0.0.0/33", "cat"},
		{"--trusted-proxy=example.com", "cat"},
	} {
		r := runDaemon(t, append([]string{"--port=1"}, args...)...)
		if r.ExitCode != exitInvalid || !strings.Contains(r.Stderr, "neither an address nor a CIDR network") {
			t.Errorf("%v: exit %d, stderr %q", args, r.ExitCode, r.Stderr)
		}
	}
}
