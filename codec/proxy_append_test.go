package codec

import (
	"bytes"
	"math/rand"
	"net/netip"
	"testing"
)

// TestAppendProxyRoundTrip: every header AppendProxyV1/V2 write, ParseProxy
// reads back whole (its length is the header's, the bytes after it are
// left alone) with the same addresses, for IPv4, IPv6, mixed families
// (sent as IPv6, mapped) and Local.
func TestAppendProxyRoundTrip(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []ProxyHeader{
		{Source: ap("192.0.2.1:56324"), Dest: ap("198.51.100.2:443")},
		{Source: ap("[2001:db8::1]:65535"), Dest: ap("[::1]:8080")},
		{Source: ap("[::ffff:192.0.2.1]:1"), Dest: ap("198.51.100.2:2")}, // mapped: IPv4
		{Source: ap("192.0.2.1:0"), Dest: ap("[2001:db8::2]:80")},        // mixed: IPv6
		{Source: ap("[fe80::1%eth0]:7"), Dest: ap("[fe80::2]:8")},        // zone dropped
		{Local: true},
		{Source: ap("192.0.2.1:1")}, // no destination: unknown
	}
	rnd := rand.New(rand.NewSource(1))
	for range 200 {
		var a4 [4]byte
		var a16 [16]byte
		rnd.Read(a4[:])
		rnd.Read(a16[:])
		cases = append(cases,
			ProxyHeader{Source: netip.AddrPortFrom(netip.AddrFrom4(a4), uint16(rnd.Uint32())), Dest: netip.AddrPortFrom(netip.AddrFrom4(a4), uint16(rnd.Uint32()))},
			ProxyHeader{Source: netip.AddrPortFrom(netip.AddrFrom16(a16), uint16(rnd.Uint32())), Dest: netip.AddrPortFrom(netip.AddrFrom4(a4), uint16(rnd.Uint32()))})
	}
	tail := []byte("GET / HTTP/1.1\r\n")
	for _, h := range cases {
		for version, appendFn := range map[int]func([]byte, ProxyHeader) []byte{1: AppendProxyV1, 2: AppendProxyV2} {
			hdr := appendFn([]byte("x"), h)[1:]
			if version == 1 && len(hdr) > MaxProxyV1 {
				t.Errorf("v1 %+v: %d bytes, over the limit %d", h, len(hdr), MaxProxyV1)
			}
			got, n, err := ParseProxy(append(append([]byte{}, hdr...), tail...))
			if err != nil || n != len(hdr) {
				t.Fatalf("v%d %+v: %q parsed to n=%d (want %d), %v", version, h, hdr, n, len(hdr), err)
			}
			if got.Version != version {
				t.Errorf("v%d %+v: parsed version %d", version, h, got.Version)
			}
			wantLocal := h.Local || !h.Dest.IsValid() || !h.Source.IsValid()
			if got.Local != wantLocal {
				t.Errorf("v%d %+v: Local %v, want %v", version, h, got.Local, wantLocal)
				continue
			}
			if wantLocal {
				continue
			}
			same := func(a, b netip.AddrPort) bool {
				return a.Addr().Unmap() == b.Addr().Unmap().WithZone("") && a.Port() == b.Port()
			}
			if !same(got.Source, h.Source) || !same(got.Dest, h.Dest) {
				t.Errorf("v%d %+v: parsed %v -> %v", version, h, got.Source, got.Dest)
			}
		}
	}
}

// TestAppendProxyExact pins the bytes of the usual headers.
func TestAppendProxyExact(t *testing.T) {
	h := ProxyHeader{Source: netip.MustParseAddrPort("192.0.2.1:56324"), Dest: netip.MustParseAddrPort("198.51.100.2:443")}
	if got := string(AppendProxyV1(nil, h)); got != "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" {
		t.Errorf("v1: %q", got)
	}
	want := proxyV2(1, 0x11, v2Block4("192.0.2.1", "198.51.100.2", 56324, 443))
	if got := AppendProxyV2(nil, h); !bytes.Equal(got, want) {
		t.Errorf("v2: % x\nwant % x", got, want)
	}
	if got := AppendProxyV2(nil, ProxyHeader{Local: true}); !bytes.Equal(got, proxyV2(0, 0, nil)) {
		t.Errorf("v2 local: % x", got)
	}
	if got := string(AppendProxyV1(nil, ProxyHeader{Local: true})); got != "PROXY UNKNOWN\r\n" {
		t.Errorf("v1 local: %q", got)
	}
}
