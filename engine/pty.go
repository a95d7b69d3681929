package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
	"github.com/wsplex/wsplex/internal/logline"
	"github.com/wsplex/wsplex/spawn"
)

// --pty: each child runs on a pseudo-terminal. The wire protocol:
//
//   - terminal output goes to the client as binary frames of raw bytes
//     (outbound.go treats PTY like --binary);
//   - client binary messages are input, written raw to the terminal;
//   - a client text message is a JSON control message; the one there is,
//     {"type":"resize","cols":N,"rows":M}, sets the terminal size (the
//     child gets SIGWINCH); anything else closes the connection with 1003.
//
// The master is polled like a pipe (spawn.StartPTY) and paused like one
// when the client is behind, so none of the flow control is specific to
// terminals.

// DefaultTerm is TERM for PTY children unless --term says otherwise.
const DefaultTerm = "xterm-256color"

// Default and largest terminal sizes. The bound keeps a client from asking
// for a terminal the child would try to allocate a screen for.
const (
	defaultCols = 80
	defaultRows = 24
	maxCells    = 10000
	maxControl  = 4 << 10 // a longer text message is not a control message
)

// ptyConn is the per-connection state of --pty.
type ptyConn struct {
	size spawn.Winsize // initial size, from ?cols=&rows=
	ctl  []byte        // the text (control) message being received
	text bool          // the message in progress is a control message
}

// startPTY starts the child on a terminal, with TERM added to its
// environment (replacing one that --passenv let through).
func (e *Engine) startPTY(c *conn, spec spawn.Spec) (*spawn.Process, error) {
	term := e.cfg.Term
	if term == "" {
		term = DefaultTerm
	}
	env := make([]string, 0, len(spec.Env)+1)
	for _, kv := range spec.Env {
		if !strings.HasPrefix(kv, "TERM=") {
			env = append(env, kv)
		}
	}
	spec.Env = append(env, "TERM="+term)
	return e.spawner.SpawnPTY(spec, c.pty.size) // attached to c's loop by childStarted
}

// querySize reads ?cols=&rows=; a missing or unusable value is the default.
func querySize(rawQuery string) spawn.Winsize {
	q, _ := url.ParseQuery(rawQuery)
	return spawn.Winsize{Cols: cells(q.Get("cols"), defaultCols), Rows: cells(q.Get("rows"), defaultRows)}
}

func cells(s string, def uint16) uint16 {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxCells {
		return def
	}
	return uint16(n)
}

// ptyFrame takes a chunk of a client data message in --pty mode: binary is
// terminal input, text is gathered into a control message.
func (c *conn) ptyFrame(ev *codec.Event) {
	if ev.First {
		c.pty.text = ev.Op == ws.OpText
		c.pty.ctl = c.pty.ctl[:0]
	}
	c.e.metrics.bytesIn.Add(float64(len(ev.Payload)))
	if ev.Fin {
		c.e.metrics.msgsIn.Inc()
	}
	if !c.pty.text {
		c.toChild(ev.Payload, false)
		return
	}
	if len(c.pty.ctl)+len(ev.Payload) > maxControl {
		c.pty.ctl = nil
		c.protocolError(&codec.CloseError{Code: ws.StatusMessageTooBig, Reason: "control message too long"})
		return
	}
	c.pty.ctl = append(c.pty.ctl, ev.Payload...)
	if ev.Fin {
		msg := c.pty.ctl
		c.pty.ctl = nil
		if err := c.control(msg); err != nil {
			c.protocolError(&codec.CloseError{Code: ws.StatusUnsupportedData, Reason: err.Error()})
		}
	}
}

// control carries out one control message.
func (c *conn) control(msg []byte) error {
	var m struct {
		Type string `json:"type"`
		Cols int    `json:"cols"`
		Rows int    `json:"rows"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("control message is not JSON")
	}
	switch m.Type {
	case "resize":
		if m.Cols < 1 || m.Rows < 1 || m.Cols > maxCells || m.Rows > maxCells {
			return fmt.Errorf("resize: cols and rows must be 1..%d", maxCells)
		}
		if c.proc != nil && !c.life.finished() {
			if err := c.proc.Resize(spawn.Winsize{Cols: uint16(m.Cols), Rows: uint16(m.Rows)}); err != nil {
				c.e.log.Log(logline.LevelDebug, "process", &c.fields, "Resize: %v", err)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown control message type %q", truncate(m.Type, 16))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
