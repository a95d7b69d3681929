package main

// The child's environment, working directory and arguments.

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// envOf connects with the exact request head of upgradeRequest (path,
// host, extra header lines) to a daemon running env, and returns the
// child's environment and the client's local port.
func envOf(t testing.TB, d *daemon, path, host, extra string) (map[string]string, string) {
	t.Helper()
	c := rawUpgrade(t, d.addr, path, host, extra, nil)
	_, port, _ := net.SplitHostPort(c.conn.LocalAddr().String())
	msgs, _, _ := readUntilClose(t, c, waitTimeout)
	env := map[string]string{}
	for _, line := range texts(t, msgs) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env printed %q, not NAME=value", line)
		}
		if _, dup := env[k]; dup {
			t.Errorf("variable %s twice in the environment", k)
		}
		env[k] = v
	}
	return env, port
}

// serverSoftware is SERVER_SOFTWARE as the daemon's --version names it:
// "wsplex 0.1.0 (...)" -> "wsplex/0.1.0".
func serverSoftware(t testing.TB) string {
	t.Helper()
	r := runDaemon(t, "--version")
	f := strings.Fields(r.Stdout)
	if len(f) < 2 {
		t.Fatalf("--version printed %q", r.Stdout)
	}
	return f[0] + "/" + f[1]
}

// compareEnv reports every difference between the environment got and want.
func compareEnv(t testing.TB, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, inGot := got[k]
		w, inWant := want[k]
		switch {
		case !inGot:
			t.Errorf("%s missing, want %q", k, w)
		case !inWant:
			t.Errorf("%s=%q should not be in the child's environment", k, g)
		case g != w:
			t.Errorf("%s=%q, want %q", k, g, w)
		}
	}
}

// TestChildEnvExact compares the child's whole environment with the
// reference's "Child environment" section.
func TestChildEnvExact(t *testing.T) {
	t.Parallel()
	envBin := lookPath(t, "env")
	d := startDaemonWith(t, daemonOptions{Env: []string{
		"HOME=/home/leak", "USER=leak", "SHELL=/bin/leak", "TERM=leak-term", "LANG=xx_XX.UTF-8",
		"LD_LIBRARY_PATH=/nonexistent/ld", "WSPLEX_TEST_LEAK=1", "HTTPS=on",
	}}, envBin)
	software := serverSoftware(t)

	extra := "Origin: http://origin.test\r\n" +
		"X-Multi: a\r\n" +
		"X-Dash-Name: v w\r\n" +
		"x-multi: b\r\n" +
		"Cookie: c=1\r\n"
	got, port := envOf(t, d, "/some/path?x=%20y&z=%2F", "example.test:8081", extra)
	want := map[string]string{
		"SERVER_SOFTWARE":            software,
		"PATH":                       os.Getenv("PATH"),
		"LD_LIBRARY_PATH":            "/nonexistent/ld",
		"REMOTE_ADDR":                "127.0.0.1",
		"REMOTE_HOST":                "127.0.0.1",
		"REMOTE_PORT":                port,
		"SERVER_NAME":                "example.test",
		"SERVER_PORT":                "8081",
		"SERVER_PROTOCOL":            "HTTP/1.1",
		"GATEWAY_INTERFACE":          "CGI/1.1",
		"REQUEST_METHOD":             "GET",
		"SCRIPT_NAME":                "/",
		"PATH_INFO":                  "/some/path",
		"PATH_TRANSLATED":            "/some/path",
		"QUERY_STRING":               "x=%20y&z=%2F",
		"REQUEST_URI":                "/some/path?x=%20y&z=%2F",
		"UNIQUE_ID":                  got["UNIQUE_ID"], // checked below
		"AUTH_TYPE":                  "",
		"CONTENT_LENGTH":             "",
		"CONTENT_TYPE":               "",
		"REMOTE_IDENT":               "",
		"REMOTE_USER":                "",
		"HTTP_UPGRADE":               "websocket",
		"HTTP_CONNECTION":            "Upgrade",
		"HTTP_SEC_WEBSOCKET_KEY":     testKey,
		"HTTP_SEC_WEBSOCKET_VERSION": "13",
		"HTTP_ORIGIN":                "http://origin.test",
		"HTTP_X_MULTI":               "a, b",
		"HTTP_X_DASH_NAME":           "v w",
		"HTTP_COOKIE":                "c=1",
	}
	if testingWsplex() {
		// The subprotocol answered (none here): wsplex's addition.
		want["WEBSOCKET_PROTOCOL"] = ""
	}
	compareEnv(t, got, want)
	if got["UNIQUE_ID"] == "" {
		t.Errorf("UNIQUE_ID is empty")
	}

	// No port in Host: SERVER_PORT 80. No query: QUERY_STRING present, empty.
	got2, port2 := envOf(t, d, "/", "example.test", "")
	for k, v := range map[string]string{
		"SERVER_NAME": "example.test", "SERVER_PORT": "80", "QUERY_STRING": "",
		"REQUEST_URI": "/", "PATH_INFO": "/", "PATH_TRANSLATED": "/", "SCRIPT_NAME": "/",
		"REMOTE_PORT": port2,
	} {
		if g, ok := got2[k]; !ok || g != v {
			t.Errorf("second connection: %s=%q (set %v), want %q", k, g, ok, v)
		}
	}
	for _, k := range []string{"HTTP_ORIGIN", "HTTP_X_MULTI", "HTTP_HOST", "HTTPS"} {
		if v, ok := got2[k]; ok {
			t.Errorf("second connection: %s=%q, want it absent", k, v)
		}
	}
	if got2["UNIQUE_ID"] == "" || got2["UNIQUE_ID"] == got["UNIQUE_ID"] {
		t.Errorf("UNIQUE_ID %q then %q: want a different one per connection", got["UNIQUE_ID"], got2["UNIQUE_ID"])
	}
}

// TestChildEnvPassEnv: --passenv replaces the default list; unset and empty
// variables are skipped; newlines become spaces.
func TestChildEnvPassEnv(t *testing.T) {
	t.Parallel()
	envBin := lookPath(t, "env")
	d := startDaemonWith(t, daemonOptions{Env: []string{
		"WSPLEX_A=1", "WSPLEX_B=two words", "WSPLEX_EMPTY=", "WSPLEX_NL=line1\nline2",
		"LD_LIBRARY_PATH=/nonexistent/ld", "WSPLEX_NOT_LISTED=x",
	}}, "--passenv=WSPLEX_A,WSPLEX_B,WSPLEX_EMPTY,WSPLEX_UNSET_VAR,WSPLEX_NL", envBin)
	got, _ := envOf(t, d, "/", "h", "")
	want := map[string]string{"WSPLEX_A": "1", "WSPLEX_B": "two words", "WSPLEX_NL": "line1 line2"}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s=%q (set %v), want %q", k, g, ok, v)
		}
	}
	for _, k := range []string{"PATH", "LD_LIBRARY_PATH", "WSPLEX_EMPTY", "WSPLEX_UNSET_VAR", "WSPLEX_NOT_LISTED", "HOME"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s=%q, want it absent", k, v)
		}
	}
	if _, ok := got["SERVER_SOFTWARE"]; !ok {
		t.Errorf("SERVER_SOFTWARE missing with a custom --passenv")
	}
}

// TestChildEnvDefaultPassEnvUnset: with the default list, an unset
// LD_LIBRARY_PATH is not invented.
func TestChildEnvDefaultPassEnvUnset(t *testing.T) {
	t.Parallel()
	envBin := lookPath(t, "env")
	// "LD_LIBRARY_PATH=" (empty) is "unset or empty": skipped either way.
	d := startDaemonWith(t, daemonOptions{Env: []string{"LD_LIBRARY_PATH="}}, envBin)
	got, _ := envOf(t, d, "/", "h", "")
	if v, ok := got["LD_LIBRARY_PATH"]; ok {
		t.Errorf("LD_LIBRARY_PATH=%q, want it absent when empty", v)
	}
	if got["PATH"] != os.Getenv("PATH") {
		t.Errorf("PATH=%q, want the daemon's %q", got["PATH"], os.Getenv("PATH"))
	}
}

// TestChildEnvWorkingDir: the child runs in the daemon's working directory.
func TestChildEnvWorkingDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDaemonWith(t, daemonOptions{Dir: dir}, lookPath(t, "pwd"), "-P")
	c := dialWS(t, d.url("/"))
	c.expectText(t, mustEvalSymlinks(t, dir))
}

func mustEvalSymlinks(t testing.TB, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestChildEnvArgv: the arguments after COMMAND reach it verbatim, flags and
// spaces included.
func TestChildEnvArgv(t *testing.T) {
	t.Parallel()
	script := writeScript(t, "args.sh", "#!/bin/bash\necho \"$#\"\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n")
	args := []string{"a b", "", "--port=1", "-x", "*", "$HOME", "ünï", "  lead", "trail  ", `q"uo'te`}
	d := startDaemon(t, append([]string{script}, args...)...)
	c := dialWS(t, d.url("/"))
	msgs, _, _ := readUntilClose(t, c, waitTimeout)
	want := []string{strconv.Itoa(len(args))}
	for _, a := range args {
		want = append(want, "<"+a+">")
	}
	got := texts(t, msgs)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("child printed %q, want %q", got, want)
	}
}
