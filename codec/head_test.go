package codec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const upgradeHead = "GET /chat?room=1&x=%20 HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

func TestParseHead(t *testing.T) {
	for _, test := range []struct {
		name string
		in   string
		want Request
	}{
		{
			name: "upgrade",
			in:   upgradeHead,
			want: Request{
				Method:   "GET",
				Target:   "/chat?room=1&x=%20",
				Path:     "/chat",
				RawQuery: "room=1&x=%20",
				Proto:    "HTTP/1.1",
				Headers: []Header{
					{Name: "Host", Value: "server.example.com"},
					{Name: "Upgrade", Value: "websocket"},
					{Name: "Connection", Value: "Upgrade"},
					{Name: "Sec-WebSocket-Key", Value: "dGhlIHNhbXBsZSBub25jZQ=="},
					{Name: "Origin", Value: "http://example.com"},
					{Name: "Sec-WebSocket-Protocol", Value: "chat, superchat"},
					{Name: "Sec-WebSocket-Version", Value: "13"},
				},
			},
		},
		{
			name: "bare LF, leading empty lines, trimmed values, repeated names",
			in:   "\r\n\nPOST /a/b HTTP/1.0\nx-A:\t one two \t\nX-a:\nContent-Length: 3\r\n\n",
			want: Request{
				Method: "POST",
				Target: "/a/b",
				Path:   "/a/b",
				Proto:  "HTTP/1.0",
				Headers: []Header{
					{Name: "x-A", Value: "one two"},
					{Name: "X-a", Value: ""},
					{Name: "Content-Length", Value: "3"},
				},
			},
		},
		{
			name: "no headers",
			in:   "GET / HTTP/1.1\r\n\r\n",
			want: Request{
				Method:  "GET",
				Target:  "/",
				Path:    "/",
				Proto:   "HTTP/1.1",
				Headers: []Header{},
			},
		},
		{
			name: "absolute form",
			in:   "GET http://h:8080/p/q?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
			want: Request{
				Method:   "GET",
				Target:   "http://h:8080/p/q?x=1",
				Path:     "/p/q",
				RawQuery: "x=1",
				Proto:    "HTTP/1.1",
				Headers:  []Header{{Name: "Host", Value: "h"}},
			},
		},
		{
			name: "absolute form without path",
			in:   "GET wss://h?x HTTP/1.1\r\n\r\n",
			want: Request{
				Method:   "GET",
				Target:   "wss://h?x",
				Path:     "/",
				RawQuery: "x",
				Proto:    "HTTP/1.1",
				Headers:  []Header{},
			},
		},
		{
			name: "asterisk form, empty query, obs-text and colons in value",
			in:   "OPTIONS *? HTTP/1.1\r\nX: a:b \xe2\x82\xac\xff\r\n\r\n",
			want: Request{
				Method:  "OPTIONS",
				Target:  "*?",
				Path:    "*",
				Proto:   "HTTP/1.1",
				Headers: []Header{{Name: "X", Value: "a:b \xe2\x82\xac\xff"}},
			},
		},
		{
			name: "scheme-like target without //",
			in:   "GET mailto:x?y HTTP/1.1\r\n\r\n",
			want: Request{
				Method:   "GET",
				Target:   "mailto:x?y",
				Path:     "mailto:x",
				RawQuery: "y",
				Proto:    "HTTP/1.1",
				Headers:  []Header{},
			},
		},
		{
			name: "authority form",
			in:   "CONNECT h:443 HTTP/1.1\r\n\r\n",
			want: Request{
				Method:  "CONNECT",
				Target:  "h:443",
				Path:    "h:443",
				Proto:   "HTTP/1.1",
				Headers: []Header{},
			},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			p := []byte(test.in + "\x81\x85trailing frame bytes")
			req, n, err := ParseHead(p, 0)
			if err != nil {
				t.Fatalf(
					"ParseHead() error: %v",
					err,
				)
			}
			if n != len(test.in) {
				t.Errorf(
					"n = %d; want %d",
					n, len(test.in),
				)
			}
			if !reflect.DeepEqual(*req, test.want) {
				t.Errorf(
					"request:\n%#v\nwant:\n%#v",
					*req, test.want,
				)
			}
			// The strings must not alias p.
			for i := range p {
				p[i] = 'Z'
			}
			if !reflect.DeepEqual(*req, test.want) {
				t.Errorf(
					"request changed with its buffer:\n%#v",
					*req,
				)
			}
		})
	}
}

func TestParseHeadErrors(t *testing.T) {
	for _, test := range []struct {
		name   string
		in     string
		status int
	}{
		{
			name:   "no spaces",
			in:     "GARBAGE\r\n\r\n",
			status: 400,
		},
		{
			name:   "no target",
			in:     "GET HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "double space",
			in:     "GET  / HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "trailing space",
			in:     "GET / HTTP/1.1 \r\n\r\n",
			status: 400,
		},
		{
			name:   "empty method",
			in:     " / HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "method not a token",
			in:     "G(T / HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "control in target",
			in:     "GET /\x01 HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "DEL in target",
			in:     "GET /\x7f HTTP/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "lower case proto",
			in:     "GET / http/1.1\r\n\r\n",
			status: 400,
		},
		{
			name:   "proto garbage",
			in:     "GET / HTTP/1.x\r\n\r\n",
			status: 400,
		},
		{
			name:   "proto without minor",
			in:     "GET / HTTP/1\r\n\r\n",
			status: 400,
		},
		{
			name:   "stray CR after proto",
			in:     "GET / HTTP/1.1\r\r\n\r\n",
			status: 400,
		},
		{
			name:   "HTTP/2.0",
			in:     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
			status: 505,
		},
		{
			name:   "HTTP/0.9",
			in:     "GET / HTTP/0.9\r\n\r\n",
			status: 505,
		},
		{
			name:   "HTTP/1.10",
			in:     "GET / HTTP/1.10\r\n\r\n",
			status: 505,
		},
		{
			name:   "obs-fold",
			in:     "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
			status: 400,
		},
		{
			name:   "whitespace before first header",
			in:     "GET / HTTP/1.1\r\n\tX: a\r\n\r\n",
			status: 400,
		},
		{
			name:   "no colon",
			in:     "GET / HTTP/1.1\r\nHost\r\n\r\n",
			status: 400,
		},
		{
			name:   "space before colon",
			in:     "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
			status: 400,
		},
		{
			name:   "empty name",
			in:     "GET / HTTP/1.1\r\n: h\r\n\r\n",
			status: 400,
		},
		{
			name:   "lone CR in value",
			in:     "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
			status: 400,
		},
		{
			name:   "NUL in value",
			in:     "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
			status: 400,
		},
		{
			name:   "non-ASCII name",
			in:     "GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n",
			status: 400,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			req, n, err := ParseHead([]byte(test.in), 0)
			var herr *HeadError
			if !errors.As(err, &herr) {
				t.Fatalf(
					"ParseHead() = %v, %d, %v; want a *HeadError",
					req, n, err,
				)
			}
			if herr.Status != test.status || n != 0 || req != nil {
				t.Errorf(
					"ParseHead() = %v, %d, status %d (%q); want nil, 0, status %d",
					req, n, herr.Status, herr.Reason, test.status,
				)
			}
		})
	}
}

func TestParseHeadIncomplete(t *testing.T) {
	for i := 0; i < len(upgradeHead); i++ {
		_, n, err := ParseHead([]byte(upgradeHead[:i]), 0)
		if err != ErrIncomplete || n != 0 {
			t.Fatalf(
				"ParseHead(%q) = %d, %v; want 0, ErrIncomplete",
				upgradeHead[:i], n, err,
			)
		}
	}
}

func TestParseHeadEarlyReject(t *testing.T) {
	for _, test := range []struct {
		name   string
		in     string
		status int
	}{
		{
			name:   "TLS client hello",
			in:     "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
			status: 400,
		},
		{
			name:   "bad request line, head incomplete",
			in:     "GET/ HTTP/1.1\r\nHost: x\r\n",
			status: 400,
		},
		{
			name:   "HTTP/2 preface, head incomplete",
			in:     "PRI * HTTP/2.0\r\n",
			status: 505,
		},
		{
			name:   "binary after empty lines",
			in:     "\r\n\r\n\x00",
			status: 400,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, _, err := ParseHead([]byte(test.in), 16<<10)
			var herr *HeadError
			if !errors.As(err, &herr) || herr.Status != test.status {
				t.Fatalf(
					"ParseHead() error = %v; want status %d",
					err, test.status,
				)
			}
		})
	}
	// A partial request line that may still become valid waits.
	for _, in := range []string{"", "\r", "\r\n", "\n\r", "GE", "GET", "GET ", "GET /x", "GET /x HTTP/1.1\r"} {
		_, _, err := ParseHead([]byte(in), 16<<10)
		if err != ErrIncomplete {
			t.Errorf(
				"ParseHead(%q) error = %v; want ErrIncomplete",
				in, err,
			)
		}
	}
}

func TestParseHeadLimit(t *testing.T) {
	head := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 1000) + "\r\n\r\n"
	if _, n, err := ParseHead([]byte(head), len(head)); err != nil || n != len(head) {
		t.Fatalf(
			"exactly max: %d, %v",
			n, err,
		)
	}
	if _, _, err := ParseHead([]byte(head), len(head)-1); err != ErrHeadTooLarge {
		t.Fatalf(
			"max-1: %v; want ErrHeadTooLarge",
			err,
		)
	}
	// Incomplete: too large only once max bytes are there.
	if _, _, err := ParseHead([]byte(head[:500]), 501); err != ErrIncomplete {
		t.Fatalf(
			"short incomplete: %v; want ErrIncomplete",
			err,
		)
	}
	if _, _, err := ParseHead([]byte(head[:501]), 501); err != ErrHeadTooLarge {
		t.Fatalf(
			"incomplete at max: %v; want ErrHeadTooLarge",
			err,
		)
	}
	// Endless empty lines are not a way around the limit.
	if _, _, err := ParseHead([]byte(strings.Repeat("\r\n", 100)), 100); err != ErrHeadTooLarge {
		t.Fatalf(
			"empty lines: %v; want ErrHeadTooLarge",
			err,
		)
	}
	// A huge valid head with no limit.
	big := "GET / HTTP/1.1\r\n" + strings.Repeat("Cookie: "+strings.Repeat("c", 100)+"\r\n", 1000) + "\r\n"
	req, n, err := ParseHead([]byte(big), 0)
	if err != nil || n != len(big) || len(req.Headers) != 1000 {
		t.Fatalf(
			"big head: %d, %v",
			n, err,
		)
	}
}

func TestRequestAccessors(t *testing.T) {
	in := "GET / HTTP/1.1\r\n" +
		"host: h:1\r\n" +
		"X-Multi: 1\r\n" +
		"UPGRADE: h2c, WebSocket\r\n" +
		"connection: keep-alive\r\n" +
		"Connection: keep-alive ,\tUpgrade \r\n" +
		"x-multi: 2\r\n" +
		"\r\n"
	req, _, err := ParseHead([]byte(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Host(); got != "h:1" {
		t.Errorf(
			"Host() = %q",
			got,
		)
	}
	if got := req.Get("X-MULTI"); got != "1" {
		t.Errorf(
			"Get() = %q",
			got,
		)
	}
	if got := req.Get("missing"); got != "" {
		t.Errorf(
			"Get(missing) = %q",
			got,
		)
	}
	if got := req.Values("x-multi"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf(
			"Values() = %q",
			got,
		)
	}
	if req.Values("missing") != nil {
		t.Errorf("Values(missing) not nil")
	}
	if !req.IsUpgrade() {
		t.Errorf("IsUpgrade() = false")
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, test := range []struct {
		upgrade, connection string
		want                bool
	}{
		{
			upgrade:    "websocket",
			connection: "Upgrade",
			want:       true,
		},
		{
			upgrade:    "WebSocket",
			connection: "keep-alive, upgrade",
			want:       true,
		},
		{
			upgrade:    "websocketx",
			connection: "Upgrade",
			want:       false,
		},
		{
			upgrade:    "websocket",
			connection: "Upgraded",
			want:       false,
		},
		{
			upgrade:    "websocket",
			connection: "",
			want:       false,
		},
		{
			upgrade:    "",
			connection: "upgrade",
			want:       false,
		},
		{
			upgrade:    "websocket",
			connection: "keep-alive upgrade",
			want:       false,
		},
	} {
		req := &Request{Headers: []Header{
			{Name: "Upgrade", Value: test.upgrade},
			{Name: "Connection", Value: test.connection},
		}}
		if got := req.IsUpgrade(); got != test.want {
			t.Errorf(
				"IsUpgrade(%q, %q) = %v; want %v",
				test.upgrade, test.connection, got, test.want,
			)
		}
	}
}

func TestEqualFoldASCIIOnly(t *testing.T) {
	if equalFold("\u212a", "k") || equalFold("K", "\u212a") {
		t.Errorf("equalFold folds the Kelvin sign")
	}
	if !equalFold("Sec-WebSocket-Key", "sec-websocket-KEY") {
		t.Errorf("equalFold is not case-insensitive")
	}
}

func TestParseHeadAllocs(t *testing.T) {
	p := []byte(upgradeHead)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseHead(p, 16<<10); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf(
			"ParseHead allocates %v times; want at most 3",
			allocs,
		)
	}
	bad := []byte("GET / HTTP/1.1\r\nbad line\r\n\r\n")
	allocs = testing.AllocsPerRun(100, func() { ParseHead(bad, 16<<10) })
	incomplete := []byte(upgradeHead[:100])
	allocs += testing.AllocsPerRun(100, func() { ParseHead(incomplete, 16<<10) })
	if allocs != 0 {
		t.Errorf(
			"ParseHead error paths allocate %v times",
			allocs,
		)
	}
}

func TestErrorStrings(t *testing.T) {
	if got := (&HeadError{Status: 400, Reason: "bad"}).Error(); got != "codec: 400 bad" {
		t.Errorf(
			"HeadError.Error() = %q",
			got,
		)
	}
	if got := (&CloseError{Code: 1002, Reason: "bad"}).Error(); got != "codec: close 1002: bad" {
		t.Errorf(
			"CloseError.Error() = %q",
			got,
		)
	}
}
