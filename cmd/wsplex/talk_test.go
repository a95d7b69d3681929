package main

// The talk's three examples ("Rapidly Prototyping a WebSocket
// Application": websocketd + netcat + a scripting language), as we wrote
// them in examples/talk, in headless Chromium against
// `--staticdir=. PROGRAM`. Their sockets offer a subprotocol, which
// Chromium insists be answered. Screenshots go to artifacts/.

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

type talkResult struct {
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Alert         string   `json:"alert"`
	Got           string   `json:"got"`
	Protocol      string   `json:"protocol"`
	Answers       []string `json:"answers"`
	Lines         []string `json:"lines"`
	Open          string   `json:"open"`
	Messages      []string `json:"messages"`
	ConsoleErrors []string `json:"consoleErrors"`
}

func runTalk(t *testing.T, mode, url, name string) talkResult {
	t.Helper()
	var res talkResult
	shot, stderr := runBrowserScript(t, 60*time.Second, &res, "talk.mjs", mode, url, name)
	if !res.OK {
		t.Fatalf("in the browser: %s\nstderr:\n%s", res.Error, stderr)
	}
	if len(res.ConsoleErrors) > 0 {
		t.Errorf("console errors: %q", res.ConsoleErrors)
	}
	t.Logf("screenshot: %s", shot)
	return res
}

// TestTalkEx1: the echo page with cat.
func TestTalkEx1(t *testing.T) {
	skipUnlessWsplex(t, "subprotocols are answered")
	d := startDaemon(t, "--staticdir="+exampleScript("talk/ex1"), "cat")
	res := runTalk(t, "ex1", d.httpURL("/"), "talk-ex1")
	if res.Alert != "Hello !" || res.Got != "Hello !" || res.Protocol != "ex1" {
		t.Errorf("alert %q, shown %q, subprotocol %q; want \"Hello !\" twice and ex1", res.Alert, res.Got, res.Protocol)
	}
}

// TestTalkEx2: FizzBuzz as a service.
func TestTalkEx2(t *testing.T) {
	skipUnlessWsplex(t, "subprotocols are answered")
	lookPath(t, "python3")
	d := startDaemon(t, "--staticdir="+exampleScript("talk/ex2"), exampleScript("talk/ex2/fizzbuzz.py"))
	res := runTalk(t, "ex2", d.httpURL("/"), "talk-ex2")
	if res.Protocol != "ex2" || len(res.Answers) != 101 {
		t.Fatalf("subprotocol %q, %d answers; want ex2 and 101", res.Protocol, len(res.Answers))
	}
	for n, want := range map[int]string{0: "0 => FizzBuzz", 3: "3 => Fizz", 10: "10 => Buzz", 98: "98 => 98", 100: "100 => Buzz"} {
		if res.Answers[n] != want {
			t.Errorf("answer %d: %q, want %q", n, res.Answers[n], want)
		}
	}
}

// TestTalkEx3: the chat, each WebSocket bridged by nc to a chat server.
func TestTalkEx3(t *testing.T) {
	skipUnlessWsplex(t, "subprotocols are answered")
	nc := lookPath(t, "nc") // netcat-openbsd
	port := startChatServer(t)
	d := startDaemon(t, "--staticdir="+exampleScript("talk/ex3"), nc, "127.0.0.1", strconv.Itoa(port))
	res := runTalk(t, "ex3", d.httpURL("/"), "talk-ex3")
	if res.Protocol != "ex3" {
		t.Errorf("subprotocol %q, want ex3", res.Protocol)
	}
	got := strings.Join(res.Lines, "\n")
	for _, want := range []string{"client1 connected", "client2 connected", "client1: hello from A", "client2: hi from B", "client2 disconnected"} {
		if !strings.Contains(got, want) {
			t.Errorf("first page's chat lacks %q:\n%s", want, got)
		}
	}
}

// startChatServer runs examples/talk/ex3/chat_server.py on a free port
// until the test ends.
func startChatServer(t *testing.T) int { return startPythonChat(t, "talk/ex3/chat_server.py") }

// startPythonChat runs an example chat server (a Python script under
// examples/ taking its port as argument) on a free loopback port until the
// test ends, once it says it listens.
func startPythonChat(t *testing.T, script string) int {
	t.Helper()
	lookPath(t, "python3")
	port := freePort(t)
	cmd := exec.Command("python3", exampleScript(script), strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on") {
		t.Fatalf("chat server said %q, %v", line, err)
	}
	return port
}

// TestDevConsoleSubprotocol: the dev console offers the subprotocols of
// its field and shows the one answered.
func TestDevConsoleSubprotocol(t *testing.T) {
	skipUnlessWsplex(t, "subprotocols are answered")
	d := startDaemon(t, "--devconsole", "--subprotocol=chat", "sh", "-c", `echo "p=$WEBSOCKET_PROTOCOL"; exec cat`)
	res := runTalk(t, "console", d.httpURL("/"), "devconsole-subprotocol")
	if !strings.Contains(res.Open, "subprotocol chat") {
		t.Errorf("open line %q, want it to name subprotocol chat", res.Open)
	}
	if strings.Join(res.Messages, "|") != "← p=chat|← ping" {
		t.Errorf("messages %q", res.Messages)
	}
}
