package codec

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The sending side of the PROXY protocol: wsplex in front of a socket
// backend (--backend-proxy-protocol) plays the load balancer and tells the
// backend who the client is. The headers are the ones ParseProxy reads.

// AppendProxyV1 appends h as a version 1 (text) header. A Local header, or
// one without both addresses, is "PROXY UNKNOWN\r\n": the backend then
// uses the connection's own addresses. Source and Dest of different
// families are both sent as IPv6 (the IPv4 one mapped), since a header
// names one family.
func AppendProxyV1(b []byte, h ProxyHeader) []byte {
	src, dst, ok := proxyPair(h)
	if !ok {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	if src.Addr().Is4() {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
	}
	b = src.Addr().AppendTo(b)
	b = append(b, ' ')
	b = dst.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendProxyV2 appends h as a version 2 (binary) header, without TLVs:
// the PROXY command over TCP/IPv4 or TCP/IPv6, or the LOCAL command for a
// Local header or one without both addresses.
func AppendProxyV2(b []byte, h ProxyHeader) []byte {
	b = append(b, proxyV2Sig...)
	src, dst, ok := proxyPair(h)
	switch {
	case !ok:
		return append(b, 0x20, 0x00, 0, 0) // LOCAL, UNSPEC, no addresses
	case src.Addr().Is4():
		b = append(b, 0x21, 0x11, 0, 12)
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(append(b, s[:]...), d[:]...)
	default:
		b = append(b, 0x21, 0x21, 0, 36)
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(append(b, s[:]...), d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// proxyPair returns h's addresses in one family, without zones: both IPv4
// when both are (IPv4-mapped IPv6 counts as IPv4), else both IPv6. ok is
// false when h is Local or lacks an address.
func proxyPair(h ProxyHeader) (src, dst netip.AddrPort, ok bool) {
	if h.Local || !h.Source.Addr().IsValid() || !h.Dest.Addr().IsValid() {
		return src, dst, false
	}
	s, d := h.Source.Addr().Unmap().WithZone(""), h.Dest.Addr().Unmap().WithZone("")
	if s.Is4() != d.Is4() {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return netip.AddrPortFrom(s, h.Source.Port()), netip.AddrPortFrom(d, h.Dest.Port()), true
}
