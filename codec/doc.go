/*
Package codec holds the byte-level parts of wsplex: HTTP/1.x request heads,
the WebSocket opening handshake, WebSocket frames in both directions, line
splitting, UTF-8 checks and the --passstderr JSON.

Everything here works on byte slices handed in by the caller. Nothing reads
from or writes to a connection, nothing blocks, nothing starts a goroutine,
and nothing keeps a reference to the caller's buffer after returning (except
where a result is documented to alias it). That is what an epoll reactor
needs: gnet hands the engine whatever bytes arrived, the engine asks codec
what they mean, and discards exactly what codec says it consumed.

Where to start, in the order a connection meets them:

  - ParseProxy (proxy.go) reads a PROXY protocol header, v1 or v2, from a
    load balancer that sends one before the request (ErrIncomplete until it
    is whole, bounded, allocation-free).
  - ParseHead (head.go) finds and parses the request head. It returns
    ErrIncomplete until the blank line arrives, ErrHeadTooLarge past the
    limit, and a *HeadError (with the HTTP status to answer) for garbage.
    Request (request.go) has the accessors: Get, Values, Host, IsUpgrade;
    Subprotocols (subprotocol.go) walks the subprotocols a client offers.
  - Upgrade (handshake.go) runs gobwas/ws's Upgrader over the head bytes only
    and returns the 101 response, or a complete error response to send.
    AppendResponse (response.go) builds plain text HTTP responses.
  - Decoder (decoder.go) turns client frames into events: data chunks as they
    arrive (a message of any size never needs buffering), and whole ping,
    pong and close frames. Protocol violations come back as *CloseError,
    carrying the close code to send.
  - AppendHeader, AppendFrame, AppendClose (encoder.go) build server frames.
  - CutLine and TrimEOL (lines.go) split child output into text messages.
  - UTF8, ValidPrefix and AppendValidUTF8 (utf8.go) validate text streaming,
    cut outbound text on code point boundaries and repair invalid output.
  - AppendStreamJSON (stream.go) builds {"stream":"stdout","data":"..."}.

The data path (Decoder.Next on data frames, the encoder, CutLine, UTF8.Write,
ValidPrefix) does not allocate; tests prove it with testing.AllocsPerRun.
The codec package imports no other wsplex package.
*/
package codec
