package codec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func readResponse(t *testing.T, resp []byte) (*http.Response, string) {
	t.Helper()
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatalf(
			"response %q does not parse: %v",
			resp, err,
		)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf(
			"reading body of %q: %v",
			resp, err,
		)
	}
	return r, string(body)
}

func TestUpgrade(t *testing.T) {
	frames := "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" // a masked "Hello" right behind the head
	head := []byte(upgradeHead + frames)
	orig := bytes.Clone(head)
	resp, proto, err := Upgrade(head, UpgradeOptions{
		Header: []Header{
			{Name: "X-One", Value: "1"},
			{Name: "X-Two", Value: "2"},
		},
	})
	if err != nil {
		t.Fatalf(
			"Upgrade() error: %v",
			err,
		)
	}
	if proto != "" {
		t.Errorf(
			"subprotocol %q without negotiation",
			proto,
		)
	}
	if !bytes.Equal(head, orig) {
		t.Errorf("Upgrade() modified its input")
	}
	if !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		t.Errorf(
			"response %q does not end with a blank line",
			resp,
		)
	}
	r, _ := readResponse(t, resp)
	if r.StatusCode != 101 {
		t.Fatalf(
			"status %d; want 101",
			r.StatusCode,
		)
	}
	// The example of RFC 6455 section 1.3.
	for name, want := range map[string]string{
		"Upgrade":                "websocket",
		"Connection":             "Upgrade",
		"Sec-WebSocket-Accept":   "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		"X-One":                  "1",
		"X-Two":                  "2",
		"Sec-WebSocket-Protocol": "",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf(
				"%s: %q; want %q",
				name, got, want,
			)
		}
	}
}

func TestUpgradeProtocols(t *testing.T) {
	for _, test := range []struct {
		name   string
		head   string
		accept []string
		want   string
	}{
		{
			name:   "second offered",
			head:   upgradeHead,
			accept: []string{"superchat"},
			want:   "superchat",
		},
		{
			name:   "client order wins",
			head:   upgradeHead,
			accept: []string{"superchat", "chat"},
			want:   "chat",
		},
		{
			name:   "none accepted",
			head:   upgradeHead,
			accept: []string{"other"},
			want:   "",
		},
		{
			name:   "none offered",
			head:   strings.Replace(upgradeHead, "Sec-WebSocket-Protocol: chat, superchat\r\n", "", 1),
			accept: []string{"chat"},
			want:   "",
		},
		{
			name:   "several header lines",
			head:   strings.Replace(upgradeHead, "Sec-WebSocket-Protocol: chat, superchat\r\n", "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b\r\n", 1),
			accept: []string{"b"},
			want:   "b",
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			var offered []string
			resp, proto, err := Upgrade([]byte(test.head), UpgradeOptions{
				Protocols: func(p string) bool {
					offered = append(offered, p)
					for _, a := range test.accept {
						if a == p {
							return true
						}
					}
					return false
				},
			})
			if err != nil {
				t.Fatalf(
					"Upgrade() error: %v (offered %q)",
					err, offered,
				)
			}
			if proto != test.want {
				t.Errorf(
					"subprotocol %q; want %q (offered %q)",
					proto, test.want, offered,
				)
			}
			r, _ := readResponse(t, resp)
			if got := r.Header.Get("Sec-WebSocket-Protocol"); got != test.want {
				t.Errorf(
					"Sec-WebSocket-Protocol: %q; want %q",
					got, test.want,
				)
			}
		})
	}
}

func TestUpgradeHeadVariants(t *testing.T) {
	lf := strings.ReplaceAll(upgradeHead, "\r\n", "\n")
	bigCookie := strings.Replace(upgradeHead, "Host:", "Cookie: "+strings.Repeat("c", 15<<10)+"\r\nHost:", 1)
	longLine := strings.Replace(upgradeHead, "Host:", "Cookie: "+strings.Repeat("c", 40<<10)+"\r\nHost:", 1)
	for name, head := range map[string]string{
		"bare LF":             lf,
		"leading empty lines": "\r\n\n" + upgradeHead,
		"15 KiB cookie":       bigCookie,
		"40 KiB line":         longLine,
		"lower case names":    lowerNames(upgradeHead),
	} {
		t.Run(name, func(t *testing.T) {
			resp, _, err := Upgrade([]byte(head), UpgradeOptions{})
			if err != nil {
				t.Fatalf(
					"Upgrade() error: %v; response %q",
					err, resp,
				)
			}
		})
	}
}

func TestUpgradeErrors(t *testing.T) {
	without := func(line string) string {
		return strings.Replace(upgradeHead, line, "", 1)
	}
	replace := func(old, new string) string {
		return strings.Replace(upgradeHead, old, new, 1)
	}
	for _, test := range []struct {
		name   string
		head   string
		status int
		header string // a header the response must have, "Name: value"
	}{
		{
			name:   "POST",
			head:   replace("GET", "POST"),
			status: 405,
		},
		{
			name:   "HTTP/1.0",
			head:   replace("HTTP/1.1", "HTTP/1.0"),
			status: 505,
		},
		{
			name:   "no Host",
			head:   without("Host: server.example.com\r\n"),
			status: 400,
		},
		{
			name:   "no Upgrade",
			head:   without("Upgrade: websocket\r\n"),
			status: 400,
		},
		{
			name:   "Upgrade not websocket",
			head:   replace("Upgrade: websocket", "Upgrade: h2c"),
			status: 400,
		},
		{
			name:   "no Connection",
			head:   without("Connection: Upgrade\r\n"),
			status: 400,
		},
		{
			name:   "no key",
			head:   without("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
			status: 400,
		},
		{
			name:   "short key",
			head:   replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
			status: 400,
		},
		{
			name:   "no version",
			head:   without("Sec-WebSocket-Version: 13\r\n"),
			status: 400,
		},
		{
			name:   "version 8",
			head:   replace("Version: 13", "Version: 8"),
			status: 426,
			header: "Sec-WebSocket-Version: 13",
		},
		{
			name:   "header without colon",
			head:   replace("Origin:", "Bogus line\r\nOrigin:"),
			status: 400,
		},
		{
			name:   "truncated head",
			head:   upgradeHead[:len(upgradeHead)-2],
			status: 400,
		},
		{
			name:   "empty",
			head:   "",
			status: 400,
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			resp, proto, err := Upgrade([]byte(test.head), UpgradeOptions{
				Header:    []Header{{Name: "X-Ws-Only", Value: "1"}},
				Protocols: func(string) bool { return true },
			})
			var herr *HeadError
			if !errors.As(err, &herr) {
				t.Fatalf(
					"Upgrade() error = %v; want *HeadError",
					err,
				)
			}
			if herr.Status != test.status || proto != "" {
				t.Errorf(
					"status %d, subprotocol %q; want %d, \"\"",
					herr.Status, proto, test.status,
				)
			}
			r, body := readResponse(t, resp)
			if r.StatusCode != test.status {
				t.Errorf(
					"response status %d; want %d",
					r.StatusCode, test.status,
				)
			}
			if !r.Close {
				t.Errorf("response without Connection: close")
			}
			if body != herr.Reason+"\n" {
				t.Errorf(
					"body %q; want %q",
					body, herr.Reason+"\n",
				)
			}
			if r.Header.Get("X-Ws-Only") != "" {
				t.Errorf("the 101's extra headers are on an error response")
			}
			if test.header != "" {
				name, value, _ := strings.Cut(test.header, ": ")
				if got := r.Header.Get(name); got != value {
					t.Errorf(
						"%s: %q; want %q",
						name, got, value,
					)
				}
			}
		})
	}
}

func TestAppendResponse(t *testing.T) {
	resp := AppendResponse([]byte("prefix"), 429, []Header{
		{Name: "X-A", Value: "1"},
		{Name: "X-Evil", Value: "a\r\nSet-Cookie: x"},
	}, "429 Too Many Requests\n")
	if !bytes.HasPrefix(resp, []byte("prefixHTTP/1.1 429 Too Many Requests\r\n")) {
		t.Fatalf(
			"response %q",
			resp,
		)
	}
	r, body := readResponse(t, resp[len("prefix"):])
	if r.StatusCode != 429 || body != "429 Too Many Requests\n" || !r.Close {
		t.Errorf(
			"status %d, body %q, close %v",
			r.StatusCode, body, r.Close,
		)
	}
	if r.ContentLength != int64(len(body)) {
		t.Errorf(
			"Content-Length %d",
			r.ContentLength,
		)
	}
	if got := r.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf(
			"Content-Type %q",
			got,
		)
	}
	if r.Header.Get("X-A") != "1" || r.Header.Get("Set-Cookie") != "" || r.Header.Get("X-Evil") != "a  Set-Cookie: x" {
		t.Errorf(
			"headers %q",
			r.Header,
		)
	}

	resp = AppendResponse(nil, 599, nil, "")
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 599 status code 599\r\n")) {
		t.Errorf(
			"unknown status: %q",
			resp,
		)
	}
}

// lowerNames lower-cases the header names of a head.
func lowerNames(head string) string {
	lines := strings.Split(head, "\r\n")
	for i := 1; i < len(lines); i++ {
		if name, value, ok := strings.Cut(lines[i], ":"); ok {
			lines[i] = strings.ToLower(name) + ":" + value
		}
	}
	return strings.Join(lines, "\r\n")
}
