package codec

// Subprotocols calls yield with each subprotocol the request offers, in
// the client's order of preference: the elements of every
// Sec-WebSocket-Protocol header line, comma separated, with the optional
// whitespace around them trimmed and empty elements skipped. It stops when
// yield returns false. The strings alias the Request's header values, so
// walking the offer allocates nothing.
func (r *Request) Subprotocols(yield func(string) bool) {
	for i := range r.Headers {
		if !equalFold(r.Headers[i].Name, "Sec-WebSocket-Protocol") {
			continue
		}
		if !listElements(r.Headers[i].Value, yield) {
			return
		}
	}
}
