package codec

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// proxyV2 builds a version 2 header: command, family byte, address block
// and TLV bytes.
func proxyV2(cmd, fam byte, block []byte) []byte {
	b := append([]byte{}, proxyV2Sig...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(block)))
	return append(b, block...)
}

func v2Block4(src, dst string, sp, dp uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(append([]byte{}, s[:]...), d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sp), dp)
}

func v2Block6(src, dst string, sp, dp uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(append([]byte{}, s[:]...), d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, sp), dp)
}

// proxySeeds are valid and invalid headers; the fuzz target starts from
// them too.
func proxySeeds() [][]byte {
	tlv := append(v2Block4("192.0.2.1", "198.51.100.2", 56324, 443), 0x04, 0, 3, 'a', 'b', 'c')
	return [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n"),
		[]byte("PROXY TCP6 2001:db8::1 ::1 65535 8080\r\n"),
		[]byte("PROXY TCP6 ::ffff:192.0.2.1 2001:db8:0:0:1:0:0:1 1 2\r\n"),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"),
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n"),
		[]byte("PROXY TCP4 192.0.2.1  198.51.100.2 56324 443\r\n"),
		[]byte("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n"),
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n"),
		[]byte("PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n"),
		[]byte("PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n"),
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n"),
		[]byte("PROXY TCP4 1.1.1.1 1.1.1.1 1 1\rX"),
		proxyV2(1, 0x11, v2Block4("192.0.2.1", "198.51.100.2", 56324, 443)),
		proxyV2(1, 0x21, v2Block6("2001:db8::1", "2001:db8::2", 1, 2)),
		proxyV2(1, 0x11, tlv),
		proxyV2(0, 0x00, nil),
		proxyV2(1, 0x31, make([]byte, 216)),
		proxyV2(1, 0x11, []byte{1, 2, 3}),
		proxyV2(2, 0x11, v2Block4("192.0.2.1", "198.51.100.2", 1, 2)),
		[]byte("\r\n\r\n\x00\r\nQUIT\n\x10\x11\x00\x00"),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		[]byte("\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	}
}

func TestParseProxy(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []struct {
		in    []byte
		want  ProxyHeader
		n     int
		error string // "" ok, "incomplete", "not", "bad"
	}{
		{[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET"), ProxyHeader{1, false, ap("192.0.2.1:56324"), ap("198.51.100.2:443")}, 45, ""},
		{[]byte("PROXY TCP6 2001:db8::1 ::1 65535 8080\r\n"), ProxyHeader{1, false, ap("[2001:db8::1]:65535"), ap("[::1]:8080")}, 39, ""},
		{[]byte("PROXY TCP6 ::ffff:192.0.2.1 1:2:3:4:5:6:7:8 0 2\r\n"), ProxyHeader{1, false, ap("[::ffff:192.0.2.1]:0"), ap("[1:2:3:4:5:6:7:8]:2")}, 49, ""},
		{[]byte("PROXY UNKNOWN whatever\r\n"), ProxyHeader{Version: 1, Local: true}, 24, ""},
		{proxyV2(1, 0x11, v2Block4("192.0.2.1", "198.51.100.2", 56324, 443)), ProxyHeader{2, false, ap("192.0.2.1:56324"), ap("198.51.100.2:443")}, 28, ""},
		{proxyV2(1, 0x21, v2Block6("2001:db8::1", "::2", 1, 2)), ProxyHeader{2, false, ap("[2001:db8::1]:1"), ap("[::2]:2")}, 52, ""},
		{proxyV2(0, 0, nil), ProxyHeader{Version: 2, Local: true}, 16, ""},
		{proxyV2(1, 0x31, make([]byte, 216)), ProxyHeader{Version: 2, Local: true}, 232, ""},
		{[]byte(""), ProxyHeader{}, 0, "incomplete"},
		{[]byte("PRO"), ProxyHeader{}, 0, "incomplete"},
		{[]byte("PROXY TCP4 192.0.2.1"), ProxyHeader{}, 0, "incomplete"},
		{[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r"), ProxyHeader{}, 0, "incomplete"},
		{[]byte("\r\n\r\n\x00\r\n"), ProxyHeader{}, 0, "incomplete"},
		{proxyV2(1, 0x11, v2Block4("1.2.3.4", "1.2.3.4", 1, 2))[:20], ProxyHeader{}, 0, "incomplete"},
		{[]byte("GET / HTTP/1.1\r\n"), ProxyHeader{}, 0, "not"},
		{[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP4 ::1 ::1 1 2\r\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 99999 2\r\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), ProxyHeader{}, 0, "bad"},
		{[]byte("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX"), ProxyHeader{}, 0, "bad"},
		{append([]byte("PROXY UNKNOWN "), make([]byte, 120)...), ProxyHeader{}, 0, "bad"},
		{proxyV2(1, 0x11, []byte{1, 2, 3}), ProxyHeader{}, 0, "bad"},
		{proxyV2(5, 0x11, nil), ProxyHeader{}, 0, "bad"},
		{append(append([]byte{}, proxyV2Sig...), 0x11, 0x11, 0, 0), ProxyHeader{}, 0, "bad"},
		{append(append([]byte{}, proxyV2Sig...), 0x21, 0x11, 0xff, 0xff), ProxyHeader{}, 0, "bad"},
	}
	for _, tc := range cases {
		h, n, err := ParseProxy(tc.in)
		var got string
		var pe *ProxyError
		switch {
		case err == nil:
		case errors.Is(err, ErrIncomplete):
			got = "incomplete"
		case errors.Is(err, ErrNotProxy):
			got = "not"
		case errors.As(err, &pe):
			got = "bad"
		default:
			got = err.Error()
		}
		if got != tc.error || (err == nil && (h != tc.want || n != tc.n)) {
			t.Errorf("ParseProxy(%q) = %+v, %d, %v; want %+v, %d, %s", tc.in, h, n, err, tc.want, tc.n, tc.error)
		}
	}
}

// TestParseProxyAllocs: parsing allocates nothing, so PROXY support adds
// no allocation to a connection.
func TestParseProxyAllocs(t *testing.T) {
	for _, s := range proxySeeds() {
		if a := testing.AllocsPerRun(50, func() { _, _, _ = ParseProxy(s) }); a != 0 {
			t.Errorf("ParseProxy(%q) allocates %v times", s, a)
		}
	}
}

// TestParseIPMatchesNetip: the allocation-free address parser agrees with
// net/netip on assorted spellings.
func TestParseIPMatchesNetip(t *testing.T) {
	for _, s := range []string{
		"1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", "",
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
		"1::2::3", "12345::", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4",
		"fe80::1%eth0", ":1", "1:", "1:::2", "ABCD:ef01::", "::ffff:1.2.3", "1.2.3.4::",
	} {
		checkParseIP(t, s)
	}
}

func checkParseIP(t *testing.T, s string) {
	t.Helper()
	want, err := netip.ParseAddr(s)
	ok4 := err == nil && want.Is4()
	ok6 := err == nil && want.Is6() && want.Zone() == ""
	if got, ok := parseIP([]byte(s), false); ok != ok4 || (ok && got != want) {
		t.Errorf("parseIP(%q, v4) = %v %v; netip: %v %v", s, got, ok, want, err)
	}
	if got, ok := parseIP([]byte(s), true); ok != ok6 || (ok && got != want) {
		t.Errorf("parseIP(%q, v6) = %v %v; netip: %v %v", s, got, ok, want, err)
	}
}

// FuzzParseProxy: never panics, never reads past the bounds, never claims
// more bytes than it was given; a prefix of a valid header is incomplete,
// never an error; the address parser agrees with net/netip.
func FuzzParseProxy(f *testing.F) {
	for _, s := range proxySeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, n, err := ParseProxy(p)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			if errors.Is(err, ErrIncomplete) && len(p) >= MaxProxyV2 {
				t.Fatalf("incomplete after %d bytes", len(p))
			}
			return
		}
		if n <= 0 || n > len(p) || n > MaxProxyV2 {
			t.Fatalf("n=%d for %d bytes", n, len(p))
		}
		if h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d", h.Version)
		}
		for i := range n {
			if _, _, err := ParseProxy(p[:i]); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix of %d bytes of a valid header: %v", i, err)
			}
		}
		if h2, n2, err := ParseProxy(p[:n]); err != nil || h2 != h || n2 != n {
			t.Fatalf("the header alone parses as %+v %d %v", h2, n2, err)
		}
		if len(p) < 64 {
			checkParseIP(t, string(p))
		}
	})
}

func TestLooksLikeProxy(t *testing.T) {
	for in, want := range map[string]bool{
		"PROXY TCP4": true, "PROXY ": true, "\r\n\r\n\x00\r\nQUIT\n\x21": true,
		"P": false, "PROXY": false, "PUT / HTTP/1.1": false, "\r\n\r\n": false, "GET /": false, "": false,
	} {
		if got := LooksLikeProxy([]byte(in)); got != want {
			t.Errorf("LooksLikeProxy(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"\r\n\r\n\x00": true, "\r\n\r\n\x00\r\nQUIT": true, "\r\n\r\n": false, "\r\n\r\nGET": false,
		"\r\n\r\n\x00\r\nQUIT\n": false,
	} {
		if got := ProxyPending([]byte(in)); got != want {
			t.Errorf("ProxyPending(%q) = %v, want %v", in, got, want)
		}
	}
}

func BenchmarkParseProxy(b *testing.B) {
	v1 := []byte("PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\nGET / HTTP/1.1\r\n")
	v2 := proxyV2(1, 0x21, v2Block6("2001:db8::1", "2001:db8::2", 1, 2))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseProxy(v1); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ParseProxy(v2); err != nil {
			b.Fatal(err)
		}
	}
}
