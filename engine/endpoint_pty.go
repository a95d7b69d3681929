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
//     (the PTY framer, framer.go);
//   - client binary messages are input, written raw to the terminal;
//   - a client text message is a JSON control message; the one there is,
//     {"type":"resize","cols":N,"rows":M}, sets the terminal size (the
//     child gets SIGWINCH); anything else closes the connection with 1003.
//
// The master is polled like a pipe (spawn.StartPTY) and paused like one
// when the client is behind: a ptyEndpoint is a childEndpoint
// (endpoint_child.go) with its own input, so none of the flow control is
// specific to terminals.

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

// ptyEndpoint is a child on a terminal: a childEndpoint whose input is
// terminal bytes and control messages.
type ptyEndpoint struct {
	*childEndpoint
	ctl  []byte // the text (control) message being received
	text bool   // the message in progress is a control message
}

// startPTY starts the child on a terminal, with TERM added to its
// environment (replacing one that --passenv let through).
func (e *Engine) startPTY(spec spawn.Spec, size spawn.Winsize) (*spawn.Process, error) {
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
	return e.spawner.SpawnPTY(spec, size) // attached to the conn's loop by childStarted
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

// input takes a chunk of a client data message: binary is terminal input,
// text is gathered into a control message.
func (pe *ptyEndpoint) input(op ws.OpCode, first, fin bool, payload []byte) (bool, *codec.CloseError) {
	if first {
		pe.text = op == ws.OpText
		pe.ctl = pe.ctl[:0]
	}
	if !pe.text {
		more := pe.write(payload, false)
		return more && pe.stdinPend == nil, nil
	}
	if len(pe.ctl)+len(payload) > maxControl {
		pe.ctl = nil
		return true, &codec.CloseError{Code: ws.StatusMessageTooBig, Reason: "control message too long"}
	}
	pe.ctl = append(pe.ctl, payload...)
	if fin {
		msg := pe.ctl
		pe.ctl = nil
		if err := pe.control(msg); err != nil {
			return true, &codec.CloseError{Code: ws.StatusUnsupportedData, Reason: err.Error()}
		}
	}
	return true, nil
}

// control carries out one control message.
func (pe *ptyEndpoint) control(msg []byte) error {
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
		if pe.proc != nil && !pe.life.finished() {
			if err := pe.proc.Resize(spawn.Winsize{Cols: uint16(m.Cols), Rows: uint16(m.Rows)}); err != nil {
				pe.e.log.Log(logline.LevelDebug, "process", &pe.c.fields, "Resize: %v", err)
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
