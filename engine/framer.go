package engine

import "github.com/gobwas/ws"

// framer turns the child's output into frames: one per output mode,
// chosen once at the upgrade (newFramer), so that the data path
// (outbound.go) does not branch on the mode for every read. It is called
// only while the client can still be sent something (not after our close
// frame, not once the socket is gone: conn.fromStdout and conn.fromStderr
// drop or log the output then), and frames through conn.add, the one choke
// point for "nothing after the close frame".
//
// A new output mode is one more framer here and one more case in
// newFramer.
type framer interface {
	// stdout frames one read of the child's stdout.
	stdout(c *conn, b *batch, data []byte)
	// stderr frames one read of the child's stderr; false if stderr is
	// not the client's (it is logged instead).
	stderr(c *conn, b *batch, data []byte) bool
	// end delivers what the child wrote after its last newline, at end of
	// output.
	end(c *conn, b *batch)
	// stderrToClient: a slow client pauses stderr too, not only stdout.
	stderrToClient() bool
}

// newFramer is the framer of the configured mode. --pty outranks
// --binary, which outranks --passstderr (as the flags always have).
func newFramer(cfg *Config) framer {
	switch {
	case cfg.PTY:
		return ptyFramer{}
	case cfg.Binary:
		return binaryFramer{}
	case cfg.PassStderr:
		return jsonFramer{}
	default:
		return textFramer{}
	}
}

// textFramer is the default mode: one text message per stdout line
// (textLines), a last partial line delivered at the end; stderr is logged.
type textFramer struct{}

func (textFramer) stdout(c *conn, b *batch, data []byte) { c.textLines(b, data) }
func (textFramer) stderr(*conn, *batch, []byte) bool     { return false }
func (textFramer) stderrToClient() bool                  { return false }
func (textFramer) end(c *conn, b *batch) {
	if len(c.outLine) > 0 || c.fragmented {
		c.emitText(b, c.outLine, true)
		c.flush(b)
	}
}

// binaryFramer is --binary: each read of stdout is one binary message, as
// it came; stderr is logged.
type binaryFramer struct{}

func (binaryFramer) stdout(c *conn, b *batch, data []byte) { c.add(b, true, ws.OpBinary, data) }
func (binaryFramer) stderr(*conn, *batch, []byte) bool     { return false }
func (binaryFramer) stderrToClient() bool                  { return false }
func (binaryFramer) end(*conn, *batch)                     {}

// ptyFramer is --pty: terminal output goes out raw, as binary messages,
// like --binary (the terminal merges stderr into it; endpoint_pty.go).
type ptyFramer struct{ binaryFramer }

// jsonFramer is --passstderr: every line of either stream is one JSON
// text message (jsonLines), the last partial lines delivered at the end.
type jsonFramer struct{}

func (jsonFramer) stdout(c *conn, b *batch, data []byte) {
	c.outLine = c.jsonLines(b, "stdout", c.outLine, data)
}

func (jsonFramer) stderr(c *conn, b *batch, data []byte) bool {
	c.errLine = c.jsonLines(b, "stderr", c.errLine, data)
	return true
}

func (jsonFramer) stderrToClient() bool { return true }

func (jsonFramer) end(c *conn, b *batch) {
	if len(c.outLine) > 0 {
		c.sendJSON(b, "stdout", c.outLine)
	}
	if len(c.errLine) > 0 {
		c.sendJSON(b, "stderr", c.errLine)
		c.errLine = c.errLine[:0] // sent, and logged by sendJSON
	}
}
