package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func TestEnvelopeIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"join", appendJoin(nil, "7-x", []string{"REMOTE_ADDR=127.0.0.1", "HTTP_X=a=b \"q\"", "EMPTY="}),
			`{"type":"join","id":"7-x","env":{"REMOTE_ADDR":"127.0.0.1","HTTP_X":"a=b \"q\"","EMPTY":""}}` + "\n"},
		{"join without env", appendJoin(nil, "1", nil), `{"type":"join","id":"1","env":{}}` + "\n"},
		{"text", appendMessage(nil, "1", ws.OpText, []byte("hi \"there\"\n<b>")),
			`{"type":"message","id":"1","data":"hi \"there\"\n\u003cb\u003e"}` + "\n"},
		{"binary", appendMessage(nil, "1", ws.OpBinary, []byte{0, 1, 0xff}), `{"type":"message","id":"1","data64":"AAH/"}` + "\n"},
		{"empty text", appendMessage(nil, "1", ws.OpText, nil), `{"type":"message","id":"1","data":""}` + "\n"},
		{"leave", appendLeave(nil, "1", 1001), `{"type":"leave","id":"1","code":1001}` + "\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
		if !json.Valid(bytes.TrimSuffix(tc.got, []byte("\n"))) || bytes.Count(tc.got, []byte("\n")) != 1 {
			t.Errorf("%s: not one JSON line: %q", tc.name, tc.got)
		}
	}
}

func TestEnvelopeOut(t *testing.T) {
	for _, tc := range []struct {
		line string
		want envOut
		err  string
	}{
		{line: `{"data":"hello"}`, want: envOut{op: ws.OpText, data: []byte("hello")}},
		{line: ` {"data":""} `, want: envOut{op: ws.OpText, data: []byte{}}},
		{line: `{"data":"x","to":"a"}`, want: envOut{op: ws.OpText, data: []byte("x"), to: []string{"a"}}},
		{line: `{"to":["a","b"],"data":"x","note":1}`, want: envOut{op: ws.OpText, data: []byte("x"), to: []string{"a", "b"}}},
		{line: `{"data64":"AAH/"}`, want: envOut{op: ws.OpBinary, data: []byte{0, 1, 0xff}}},
		{line: `{"close":"a"}`, want: envOut{closeID: "a", code: 1000}},
		{line: `{"close":"a","code":4001,"reason":"bye"}`, want: envOut{closeID: "a", code: 4001, reason: "bye"}},
		{line: `{"data":"\ud800"}`, want: envOut{op: ws.OpText, data: []byte("\ufffd")}},
		{line: `not json`, err: "invalid character"},
		{line: ``, err: "EOF"},
		{line: `{"data":1}`, err: "cannot unmarshal"},
		{line: `{}`, err: "exactly one"},
		{line: `{"data":"a","close":"b"}`, err: "exactly one"},
		{line: `{"data":"a"} {"data":"b"}`, err: "more than one"},
		{line: `{"data64":"!!"}`, err: "not base64"},
		{line: `{"data":"a","to":""}`, err: "names no client"},
		{line: `{"data":"a","to":[]}`, err: "non-empty list"},
		{line: `{"data":"a","to":[1]}`, err: "non-empty list"},
		{line: `{"data":"a","to":["a",""]}`, err: "names no client"},
		{line: `{"close":""}`, err: "names no client"},
		{line: `{"close":"a","to":"b"}`, err: `"to" goes with`},
		{line: `{"close":"a","code":1001}`, err: "1000 or 3000-4999"},
		{line: `{"close":"a","code":5000}`, err: "1000 or 3000-4999"},
		{line: `{"close":"a","reason":"` + strings.Repeat("r", 124) + `"}`, err: "longer than 123"},
		{line: `[1,2]`, err: "cannot unmarshal"},
	} {
		got, err := parseEnvelope([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// FuzzEnvelopeIn: whatever a client sends, the child gets one line of
// valid JSON that encoding/json reads back to the same message (a text
// message as its UTF-8 repair, which is what a text frame holds anyway).
func FuzzEnvelopeIn(f *testing.F) {
	f.Add("1-a", []byte("hello"), false)
	f.Add("\"id\n", []byte("\x00\xff\u2028<>&\r\n"), false)
	f.Add("b", []byte{0, 0xff, 0x80}, true)
	f.Fuzz(func(t *testing.T, id string, data []byte, binary bool) {
		op := ws.OpText
		if binary {
			op = ws.OpBinary
		}
		line := appendMessage(nil, id, op, data)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not one line: %q", line)
		}
		var m struct{ Type, ID, Data, Data64 string }
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if m.Type != "message" || (utf8.ValidString(id) && m.ID != id) {
			t.Fatalf("type %q id %q from id %q", m.Type, m.ID, id)
		}
		if binary {
			got, err := base64.StdEncoding.DecodeString(m.Data64)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("data64 %q (%v), want %x", m.Data64, err, data)
			}
		} else if utf8.Valid(data) && m.Data != string(data) {
			t.Fatalf("data %q, want %q", m.Data, data)
		}
	})
}

// FuzzEnvelopeOut: no line makes the parser panic, and what it accepts is
// one thing to do: a message (to all or some) or a close order with a
// code a close frame may carry.
func FuzzEnvelopeOut(f *testing.F) {
	for _, s := range []string{`{"data":"x"}`, `{"to":["a"],"data64":"AA=="}`, `{"close":"a","code":4000,"reason":"r"}`, `{"to":"a","data":"\ud83d"}`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		out, err := parseEnvelope(line)
		if err != nil {
			return
		}
		switch {
		case out.closeID != "":
			if out.to != nil || out.data != nil || (out.code != 1000 && (out.code < 3000 || out.code > 4999)) || len(out.reason) > maxCloseReason {
				t.Fatalf("%q: bad close order %+v", line, out)
			}
		case out.op == ws.OpText:
			if !utf8.Valid(out.data) {
				t.Fatalf("%q: text not UTF-8", line)
			}
		case out.op != ws.OpBinary:
			t.Fatalf("%q: neither message nor close: %+v", line, out)
		}
		if out.to != nil && len(out.to) == 0 {
			t.Fatalf("%q: empty to", line)
		}
	})
}
