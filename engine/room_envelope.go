package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsplex/wsplex/codec"
)

// --envelope=json: what a room's child reads and writes, one JSON object
// per line. This file is the pure part, the encoding of what goes in and
// the parsing of what comes out; room.go uses it.
//
// In (to the child's stdin):
//
//	{"type":"join","id":"<conn id>","env":{"REMOTE_ADDR":"...",...}}
//	{"type":"message","id":"<conn id>","data":"<text>"}
//	{"type":"message","id":"<conn id>","data64":"<base64 of a binary message>"}
//	{"type":"leave","id":"<conn id>","code":<close code>}
//
// Out (from the child's stdout):
//
//	{"data":"..."}                          a text message to every client
//	{"data64":"..."}                        a binary message to every client
//	{"to":"<id>" or ["<id>",...],"data":..} only to these clients
//	{"close":"<id>","code":N,"reason":".."} close that client (code 1000 or 3000-4999)
//
// Unknown fields are ignored, so a child may annotate its lines.

// appendJoin appends the join line of a client: its id and its CGI
// environment (env is "NAME=value" as for the child of a connection).
func appendJoin(dst []byte, id string, env []string) []byte {
	dst = append(dst, `{"type":"join","id":`...)
	dst = codec.AppendJSONStringString(dst, id)
	dst = append(dst, `,"env":{`...)
	for i, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = codec.AppendJSONStringString(dst, name)
		dst = append(dst, ':')
		dst = codec.AppendJSONStringString(dst, value)
	}
	return append(dst, "}}\n"...)
}

// appendMessage appends the line of one client message: a text message
// as "data" (a JSON string; text messages are UTF-8, and anything that is
// not is repaired as encoding/json would), a binary one base64 in "data64".
func appendMessage(dst []byte, id string, op ws.OpCode, data []byte) []byte {
	dst = append(dst, `{"type":"message","id":`...)
	dst = codec.AppendJSONStringString(dst, id)
	if op == ws.OpBinary {
		dst = append(dst, `,"data64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, "\"}\n"...)
	}
	dst = append(dst, `,"data":`...)
	dst = codec.AppendJSONString(dst, data)
	return append(dst, "}\n"...)
}

// appendLeave appends the line of a client that has gone, with the close
// code of its connection (1006 when it went without a close handshake).
func appendLeave(dst []byte, id string, code ws.StatusCode) []byte {
	dst = append(dst, `{"type":"leave","id":`...)
	dst = codec.AppendJSONStringString(dst, id)
	dst = append(dst, `,"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, "}\n"...)
}

// envOut is one parsed output line of an --envelope=json child.
type envOut struct {
	// to: nil for every client, else the ids of the clients addressed.
	to []string
	// A message: op (Text or Binary) and its payload.
	op   ws.OpCode
	data []byte
	// A close order (closeID set): the client, and the close frame.
	closeID string
	code    ws.StatusCode
	reason  string
}

// envLine is the JSON shape of an output line. Pointers tell an absent
// field from an empty one.
type envLine struct {
	Data   *string         `json:"data"`
	Data64 *string         `json:"data64"`
	To     json.RawMessage `json:"to"`
	Close  *string         `json:"close"`
	Code   *int            `json:"code"`
	Reason string          `json:"reason"`
}

// maxCloseReason is the most a close frame's reason may hold (125 bytes of
// payload less the 2-byte code).
const maxCloseReason = 123

// parseEnvelope parses one output line. Every error says what is wrong
// with the line, for the log; the line is then skipped.
func parseEnvelope(line []byte) (envOut, error) {
	var l envLine
	d := json.NewDecoder(bytes.NewReader(line))
	if err := d.Decode(&l); err != nil {
		return envOut{}, err
	}
	if d.More() {
		return envOut{}, errors.New("more than one JSON value on the line")
	}
	n := 0
	for _, set := range [...]bool{l.Data != nil, l.Data64 != nil, l.Close != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return envOut{}, errors.New(`want exactly one of "data", "data64" or "close"`)
	}
	if l.Close != nil {
		if l.To != nil {
			return envOut{}, errors.New(`"to" goes with "data" or "data64", not "close"`)
		}
		if *l.Close == "" {
			return envOut{}, errors.New(`"close" names no client`)
		}
		code := ws.StatusNormalClosure
		if l.Code != nil {
			if c := *l.Code; c != 1000 && (c < 3000 || c > 4999) {
				return envOut{}, errors.New(`"code" must be 1000 or 3000-4999`)
			}
			code = ws.StatusCode(*l.Code)
		}
		if len(l.Reason) > maxCloseReason {
			return envOut{}, errors.New(`"reason" is longer than 123 bytes`)
		}
		if !utf8.ValidString(l.Reason) {
			return envOut{}, errors.New(`"reason" is not UTF-8`)
		}
		return envOut{closeID: *l.Close, code: code, reason: l.Reason}, nil
	}
	out := envOut{op: ws.OpText}
	if l.Data != nil {
		out.data = []byte(*l.Data)
	} else {
		b, err := base64.StdEncoding.DecodeString(*l.Data64)
		if err != nil {
			return envOut{}, errors.New(`"data64" is not base64`)
		}
		out.op, out.data = ws.OpBinary, b
	}
	if l.To != nil {
		to, err := parseTo(l.To)
		if err != nil {
			return envOut{}, err
		}
		out.to = to
	}
	return out, nil
}

// parseTo reads "to": one id or a non-empty list of them.
func parseTo(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, errors.New(`"to" names no client`)
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, errors.New(`"to" must be an id or a non-empty list of ids`)
	}
	for _, id := range list {
		if id == "" {
			return nil, errors.New(`"to" names no client`)
		}
	}
	return list, nil
}
