package main

// Messages between the client and the child: lines, binary streams, stderr.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// TestMsgEchoGo echoes text messages through cat with the Go client.
func TestMsgEchoGo(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	c := dialWS(t, d.url("/"))
	for _, s := range []string{"hello", "two words", "ünïcødé ✓", strings.Repeat("x", 70000)} {
		c.sendText(t, s)
		c.expectText(t, s)
	}
	c.sendClose(t, ws.StatusNormalClosure, "")
	if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000 echoed", code, reason)
	}
	c.waitEOF(t, waitTimeout)
}

// TestMsgEchoNode echoes text messages through cat with Node's ws client.
func TestMsgEchoNode(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	for _, s := range []string{"hello", "two words", "ünïcødé ✓", strings.Repeat("y", 70000)} {
		n.send(t, s)
		n.expectMessage(t, s)
	}
	n.close(t, 1000, "bye")
	if cl := n.waitClose(t); cl.Code != 1000 {
		t.Errorf("node client: close %+v, want 1000", cl)
	}
}

// TestMsgExamples runs the count and greeter examples in bash, Python and C.
func TestMsgExamples(t *testing.T) {
	t.Parallel()
	type example struct{ lang, count, greeter string }
	examples := []example{
		{"bash", exampleScript("bash/count.sh"), exampleScript("bash/greeter.sh")},
		{"python", exampleScript("python/count.py"), exampleScript("python/greeter.py")},
		{"c", exampleBin(t, "count"), exampleBin(t, "greeter")},
	}
	for _, ex := range examples {
		t.Run(ex.lang+"/count", func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, ex.count, "4")
			c := dialWS(t, d.url("/"))
			msgs, code, reason := readUntilClose(t, c, 2*waitTimeout)
			if got := strings.Join(texts(t, msgs), ","); got != "1,2,3,4" {
				t.Errorf("messages %q, want 1,2,3,4", got)
			}
			if testingWsplex() && code != ws.StatusNormalClosure {
				t.Errorf("close %d %q, want 1000", code, reason)
			}
		})
		t.Run(ex.lang+"/greeter", func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, ex.greeter)
			c := dialWS(t, d.url("/"))
			for _, name := range []string{"world", "", "a b", "ünï"} {
				c.sendText(t, name)
				c.expectText(t, "Hello, "+name+"!")
			}
			c.sendClose(t, ws.StatusNormalClosure, "")
			if code, reason := c.readClose(t, waitTimeout); code != ws.StatusNormalClosure {
				t.Errorf("close %d %q, want 1000", code, reason)
			}
		})
	}
}

// TestMsgLineEndings: an empty line is an empty message, "\r\n" loses its
// "\r", a lone "\r" stays.
func TestMsgLineEndings(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "lines.sh", "#!/bin/bash\nprintf 'a\\n\\nb\\r\\nc\\rd\\n\\r\\n\\rx\\n\\n'\n")
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, waitTimeout)
	got := texts(t, msgs)
	want := []string{"a", "", "b", "c\rd", "", "\rx", ""}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("messages %q, want %q", got, want)
	}
	if testingWsplex() && code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestMsgClientLines: every client text message is a line on stdin, so an
// embedded "\n" makes two lines and an empty message an empty line.
func TestMsgClientLines(t *testing.T) {
	t.Parallel()
	// Prints every line it reads as <length>:<line>.
	script := writeScript(t, "lens.sh", `#!/bin/bash
while IFS= read -r line; do printf '%d:%s\n' "${#line}" "$line"; done
`)
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	c.sendText(t, "a\nb")
	c.expectText(t, "1:a")
	c.expectText(t, "1:b")
	c.sendText(t, "")
	c.expectText(t, "0:")
	c.sendText(t, "x\n")
	c.expectText(t, "1:x")
	c.expectText(t, "0:")
	c.sendText(t, "tab\there")
	c.expectText(t, "8:tab\there")
}

// TestMsgBinaryIgnoredInTextMode: a binary message never reaches the child
// in text mode.
func TestMsgBinaryIgnoredInTextMode(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "cat")
	c := dialWS(t, d.url("/"))
	c.sendBinary(t, []byte("bin\n"))
	c.sendBinary(t, []byte("nonl"))
	c.sendText(t, "txt")
	c.expectText(t, "txt") // "bin" or "nonltxt" if the binary frames had reached cat
	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	n.sendBinary(t, []byte("bin"))
	n.send(t, "node")
	n.expectMessage(t, "node")
}

// TestMsgTextIgnoredInBinaryMode: a text message never reaches the child in
// binary mode.
func TestMsgTextIgnoredInBinaryMode(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--binary", "cat")
	c := dialWS(t, d.url("/"))
	c.sendText(t, "txt\n")
	c.sendBinary(t, []byte("bin\n"))
	got := readBinary(t, c, 4)
	c.sendClose(t, ws.StatusNormalClosure, "")
	msgs, _, _ := readUntilClose(t, c, waitTimeout)
	for _, m := range msgs {
		got = append(got, m.Data...)
	}
	if string(got) != "bin\n" {
		t.Errorf("child echoed %q, want only \"bin\\n\"", got)
	}
}

// TestMsgBinaryEcho: arbitrary bytes, NUL and invalid UTF-8 included, pass
// through --binary both ways as a byte stream.
func TestMsgBinaryEcho(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--binary", "cat")
	c := dialWS(t, d.url("/"))
	var sent []byte
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	chunks := [][]byte{
		all,
		{0, 0, 0},
		{0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80}, // invalid UTF-8
		[]byte("no newline"),
		bytes.Repeat([]byte{0, '\n', '\r', 0x80}, 50000),
	}
	for _, ch := range chunks {
		c.sendBinary(t, ch)
		sent = append(sent, ch...)
	}
	got := readBinary(t, c, len(sent))
	if !bytes.Equal(got, sent) {
		i := 0
		for i < len(got) && i < len(sent) && got[i] == sent[i] {
			i++
		}
		t.Fatalf("binary echo differs at byte %d: got %d bytes, sent %d", i, len(got), len(sent))
	}

	n := nodeClient(t, d.url("/"))
	n.expectOpen(t)
	n.sendBinary(t, all)
	var nodeGot []byte
	for len(nodeGot) < len(all) {
		ev := n.next(t, waitTimeout)
		if !ev.Binary {
			t.Fatalf("node client: want binary, got %s", ev.Line)
		}
		nodeGot = append(nodeGot, ev.data()...)
	}
	if !bytes.Equal(nodeGot, all) {
		t.Errorf("node client: binary echo %x, want %x", nodeGot, all)
	}
}

// TestMsgTrailingLine: a last line without a newline is delivered at exit.
func TestMsgTrailingLine(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "the last line without newline (websocketd #271)")
	script := writeScript(t, "trail.sh", "#!/bin/bash\nprintf 'first\\nlast words'\n")
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, waitTimeout)
	if got := texts(t, msgs); fmt.Sprintf("%q", got) != `["first" "last words"]` {
		t.Errorf("messages %q, want first and \"last words\"", got)
	}
	if code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestMsgInvalidUTF8FromChild: a line that is not UTF-8 arrives as valid
// UTF-8, with U+FFFD in place of the bad bytes.
func TestMsgInvalidUTF8FromChild(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "bad.sh", "#!/bin/bash\nprintf 'ok\\xffok\\n\\xc3\\x28\\nfine \\xc3\\xa9\\ntail\\xe2\\x82\\n'\n")
	d := startDaemon(t, script)
	for _, client := range []string{"go", "node"} {
		var got []string
		if client == "go" {
			c := dialWS(t, d.url("/"))
			msgs, _, _ := readUntilClose(t, c, waitTimeout)
			got = texts(t, msgs)
		} else {
			n := nodeClient(t, d.url("/"))
			n.expectOpen(t)
			for {
				ev := n.next(t, waitTimeout)
				if ev.Close != nil {
					if ev.Close.Code == 1007 || ev.Close.Code == 1002 || ev.Close.Code == 1006 {
						t.Errorf("node client: close %+v: the server sent something ws rejects", *ev.Close)
					}
					break
				}
				if ev.Message != nil {
					got = append(got, *ev.Message)
				}
			}
		}
		if len(got) != 4 {
			t.Fatalf("%s: messages %q, want 4", client, got)
		}
		for _, m := range got {
			if !utf8.ValidString(m) {
				t.Errorf("%s: message %q is not valid UTF-8", client, m)
			}
		}
		if !strings.HasPrefix(got[0], "ok") || !strings.HasSuffix(got[0], "ok") || !strings.Contains(got[0], "\uFFFD") {
			t.Errorf("%s: message %q, want ok\\uFFFDok", client, got[0])
		}
		if !strings.Contains(got[1], "\uFFFD") || !strings.HasSuffix(got[1], "(") {
			t.Errorf("%s: message %q, want \\uFFFD(", client, got[1])
		}
		if got[2] != "fine é" {
			t.Errorf("%s: message %q, want valid UTF-8 untouched", client, got[2])
		}
		if !strings.HasPrefix(got[3], "tail") || !strings.Contains(got[3], "\uFFFD") {
			t.Errorf("%s: message %q, want tail\\uFFFD", client, got[3])
		}
	}
}

// TestMsgPassStderr: with --passstderr both streams arrive as JSON, in the
// order the child wrote them. The child writes its next line only once the
// client has received the previous one (it waits for a line on stdin), so
// the order is the child's and not a race between two pipes: a pause
// between the writes would not order them on a loaded machine, where the
// daemon may find both pipes readable at once.
func TestMsgPassStderr(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "both.sh", `#!/bin/bash
echo out1
read -r _
echo err1 >&2
read -r _
echo 'out "2"'
read -r _
printf 'err\t2 \\ ü\n' >&2
read -r _
echo out3
`)
	d := startDaemon(t, "--passstderr", script)
	c := dialWS(t, d.url("/"))
	type item struct {
		Stream string `json:"stream"`
		Data   string `json:"data"`
	}
	want := []item{{"stdout", "out1"}, {"stderr", "err1"}, {"stdout", `out "2"`}, {"stderr", "err\t2 \\ ü"}, {"stdout", "out3"}}
	for i, w := range want {
		m := c.readMessage(t, waitTimeout)
		if m.Op != ws.OpText {
			t.Fatalf("message %d: got %s, want %q", i, m, w)
		}
		var it item
		dec := json.NewDecoder(bytes.NewReader(m.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			t.Fatalf("message %q is not {stream,data} JSON: %v", m.Data, err)
		}
		if it != w {
			t.Errorf("message %d: %q, want %q", i, it, w)
		}
		if i < len(want)-1 {
			c.sendText(t, "next") // the child writes its next line
		}
	}
	code, reason := c.readClose(t, waitTimeout)
	if testingWsplex() && code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}

// TestMsgPassStderrBinaryRefused: --passstderr with --binary is an error.
func TestMsgPassStderrBinaryRefused(t *testing.T) {
	t.Parallel()
	r := runDaemon(t, "--port="+strconv.Itoa(freePort(t)), "--address=127.0.0.1", "--binary", "--passstderr", "cat")
	if r.ExitCode != 1 {
		t.Errorf("exit code %d, want 1 (stdout %q, stderr %q)", r.ExitCode, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "binary") || !strings.Contains(r.Stderr, "passstderr") {
		t.Errorf("stderr %q does not name both --binary and --passstderr", r.Stderr)
	}
}

// TestMsgStderrLogged: without --passstderr, stderr lines are ERROR log lines
// of category stderr, whole whatever their length, and never messages.
func TestMsgStderrLogged(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789", 1000)
	script := writeScript(t, "err.sh", `#!/bin/bash
echo 'something failed' >&2
printf '%s\n' "$(printf '0123456789%.0s' {1..1000})" >&2
echo out
`)
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	msgs, _, _ := readUntilClose(t, c, waitTimeout)
	if got := texts(t, msgs); len(got) != 1 || got[0] != "out" {
		t.Errorf("messages %q, want only \"out\" (stderr is not for the client)", got)
	}
	line := d.waitLog(t, "something failed", waitTimeout)
	if !strings.Contains(line, "| ERROR  | stderr     |") || !strings.HasSuffix(line, "| something failed") {
		t.Errorf("stderr log line %q, want level ERROR, category stderr, the line as message", line)
	}
	line = d.waitLog(t, long[:100], waitTimeout)
	if !strings.HasSuffix(line, "| "+long) || !strings.Contains(line, "| ERROR  | stderr     |") {
		t.Errorf("10,000-byte stderr line not logged whole in one ERROR stderr line: got %d bytes: %.200q...", len(line), line)
	}
}

// TestMsgHugeLine: a 5 MB line without a newline reaches the client whole and
// in order (possibly as a fragmented message).
func TestMsgHugeLine(t *testing.T) {
	t.Parallel()
	skipUnlessWsplex(t, "the last line without newline (websocketd #271)")
	const size = 5_000_000
	script := writeScript(t, "huge.py", fmt.Sprintf(`#!/usr/bin/env python3
import sys
n = %d
buf = "".join("%%07d," %% i for i in range(n // 8 + 1))[:n]
sys.stdout.write(buf)
sys.stdout.flush()
`, size))
	var want strings.Builder
	for i := 0; want.Len() < size; i++ {
		fmt.Fprintf(&want, "%07d,", i)
	}
	d := startDaemon(t, script)
	c := dialWS(t, d.url("/"))
	msgs, code, reason := readUntilClose(t, c, 3*waitTimeout)
	if len(msgs) != 1 || msgs[0].Op != ws.OpText {
		t.Fatalf("got %d messages, want one text message", len(msgs))
	}
	got := string(msgs[0].Data)
	if got != want.String()[:size] {
		i := 0
		for i < len(got) && i < size && got[i] == want.String()[i] {
			i++
		}
		t.Errorf("got %d bytes, differing from the child's output at byte %d", len(got), i)
	}
	if code != ws.StatusNormalClosure {
		t.Errorf("close %d %q, want 1000", code, reason)
	}
}
