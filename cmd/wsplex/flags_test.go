package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsplex/wsplex/engine"
	"github.com/wsplex/wsplex/internal/logline"
)

// shortUsage is what follows most error messages on stderr.
const shortUsage = `
Usage:

  Export a single executable program a WebSocket server:
    wsplex [options] COMMAND [command args]

  Or, export an entire directory of executables as WebSocket endpoints:
    wsplex [options] --dir=SOMEDIR

  Or, show extended help message using:
    wsplex --help
`

// sandbox makes the test hermetic: PATH holds only a directory with an
// executable "prog" (and one called "--weird"), and the working directory
// is a temporary one with a subdirectory "d" and a regular file "f".
type sandbox struct {
	bin  string // the PATH directory
	prog string // absolute path of prog
	work string // working directory
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	root := t.TempDir()
	s := sandbox{bin: filepath.Join(root, "bin"), work: filepath.Join(root, "work")}
	for _, d := range []string{s.bin, s.work, filepath.Join(s.work, "d")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"prog", "--weird"} {
		if err := os.WriteFile(filepath.Join(s.bin, name), []byte("#!/bin/sh\ncat\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.work, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.work, "local"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.work, "nointerp"), []byte("#!/nonexistent/python\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.work, "dos"), []byte("#!/bin/sh\r\necho hi\r\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.prog = filepath.Join(s.bin, "prog")
	t.Setenv("PATH", s.bin)
	t.Chdir(s.work)
	return s
}

func parse(args ...string) (cfg engine.Config, code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	cfg, code = parseArgs(args, &out, &errb)
	return cfg, code, out.String(), errb.String()
}

// Every way the command line can be refused: exit code and exact output.
func TestParseArgsErrors(t *testing.T) {
	newSandbox(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // exact
	}{
		{"no arguments", nil, 1, "Command line arguments are missing.\n" + shortUsage},
		{"bad loglevel", []string{"--loglevel=verbose", "prog"}, 1,
			"Incorrect loglevel flag 'verbose'. Use --help to see allowed values.\n" + shortUsage},
		{"loglevel is case-sensitive", []string{"--loglevel=DEBUG", "prog"}, 1,
			"Incorrect loglevel flag 'DEBUG'. Use --help to see allowed values.\n" + shortUsage},
		{"loglevel before version", []string{"--version", "--loglevel=x"}, 1,
			"Incorrect loglevel flag 'x'. Use --help to see allowed values.\n" + shortUsage},
		{"ssl without cert and key", []string{"--ssl", "prog"}, 1,
			"Please specify both --sslcert and --sslkey when requesting --ssl.\n"},
		{"ssl without key", []string{"--ssl", "--sslcert=c.pem", "prog"}, 1,
			"Please specify both --sslcert and --sslkey when requesting --ssl.\n"},
		{"ssl without cert", []string{"--ssl", "--sslkey=k.pem", "prog"}, 1,
			"Please specify both --sslcert and --sslkey when requesting --ssl.\n"},
		{"cert without ssl", []string{"--sslcert=c.pem", "prog"}, 1,
			"You should not be using --ssl* flags when there is no --ssl option.\n"},
		{"key without ssl", []string{"--sslkey=k.pem", "prog"}, 1,
			"You should not be using --ssl* flags when there is no --ssl option.\n"},
		{"ca without ssl", []string{"--sslca=ca.pem", "prog"}, 1,
			"You should not be using --ssl* flags when there is no --ssl option.\n"},
		{"ssl=false with cert", []string{"--ssl=false", "--sslcert=c", "--sslkey=k", "prog"}, 1,
			"You should not be using --ssl* flags when there is no --ssl option.\n"},
		{"binary with passstderr", []string{"--binary", "--passstderr", "prog"}, 1,
			"--binary and --passstderr cannot be used together. Please only specify just one.\n" + shortUsage},
		{"no command nor dir", []string{"--port=8080"}, 1,
			"Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.\n" + shortUsage},
		{"only --", []string{"--"}, 1,
			"Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.\n" + shortUsage},
		{"command and dir", []string{"--dir=d", "prog"}, 1,
			"Ambiguous. Provided COMMAND and --dir argument. Please only specify just one.\n" + shortUsage},
		{"command not in path", []string{"nosuchprog"}, 1,
			"unable to locate specified COMMAND 'nosuchprog' in OS path\n" + shortUsage},
		{"command not executable", []string{"./f"}, 1,
			"unable to locate specified COMMAND './f' in OS path: f is not executable\n" + shortUsage},
		{"command in a path missing", []string{"./nope"}, 1,
			"unable to locate specified COMMAND './nope' in OS path\n" + shortUsage},
		{"command interpreter missing", []string{"./nointerp"}, 1,
			"cannot run COMMAND './nointerp': interpreter /nonexistent/python (from the #! line of nointerp) not found\n" + shortUsage},
		{"command interpreter with DOS line end", []string{"./dos"}, 1,
			"cannot run COMMAND './dos': interpreter /bin/sh\\r (from the #! line of dos) not found (DOS line endings)\n" + shortUsage},
		{"dir missing", []string{"--dir=nope"}, 1,
			"Could not find your script dir 'nope'.\n" + shortUsage},
		{"dir is a file", []string{"--dir=f"}, 1,
			"Did you mean to specify COMMAND instead of --dir 'f'?\n" + shortUsage},
		{"cgidir missing", []string{"--cgidir=nope"}, 1,
			"Your CGI dir 'nope' is not pointing to an accessible directory.\n" + shortUsage},
		{"cgidir is a file", []string{"--cgidir=f", "prog"}, 1,
			"Your CGI dir 'f' is not pointing to an accessible directory.\n" + shortUsage},
		{"staticdir missing", []string{"--staticdir=nope"}, 1,
			"Your static dir 'nope' is not pointing to an accessible directory.\n" + shortUsage},
		{"staticdir is a file", []string{"--staticdir=f", "prog"}, 1,
			"Your static dir 'f' is not pointing to an accessible directory.\n" + shortUsage},

		// The flag package's refusals: exit 2.
		{"unknown flag", []string{"--bogus", "prog"}, 2, "flag provided but not defined: -bogus\n" + shortUsage},
		{"unknown single-dash flag", []string{"-x"}, 2, "flag provided but not defined: -x\n" + shortUsage},
		{"bad int", []string{"--port=abc", "prog"}, 2, `invalid value "abc" for flag -port: parse error` + "\n" + shortUsage},
		{"bad bool", []string{"--binary=maybe", "prog"}, 2,
			`invalid boolean value "maybe" for -binary: parse error` + "\n" + shortUsage},
		{"missing value", []string{"--port"}, 2, "flag needs an argument: -port\n" + shortUsage},
		{"negative closems", []string{"--closems=-1", "prog"}, 2,
			`invalid value "-1" for flag -closems: parse error` + "\n" + shortUsage},
		{"huge closems", []string{"--closems=99999999999999999", "prog"}, 2,
			`invalid value "99999999999999999" for flag -closems: value out of range` + "\n" + shortUsage},
		{"bad pingms", []string{"--pingms=1s", "prog"}, 2,
			`invalid value "1s" for flag -pingms: parse error` + "\n" + shortUsage},
		{"negative maxframesize", []string{"--maxframesize=-1", "prog"}, 2,
			`invalid value "-1" for flag -maxframesize: must be at least 0` + "\n" + shortUsage},
		{"zero outbuffer", []string{"--outbuffer=0", "prog"}, 2,
			`invalid value "0" for flag -outbuffer: must be at least 1` + "\n" + shortUsage},
		{"bad inbuffer", []string{"--inbuffer=4M", "prog"}, 2,
			`invalid value "4M" for flag -inbuffer: parse error` + "\n" + shortUsage},
		{"metrics without port", []string{"--metrics=9100", "prog"}, 2,
			`invalid value "9100" for flag -metrics: want HOST:PORT, e.g. :9100 or 127.0.0.1:9100` + "\n" + shortUsage},
		{"bad flag after good ones", []string{"--port=1", "--maxforks=x", "prog"}, 2,
			`invalid value "x" for flag -maxforks: parse error` + "\n" + shortUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, code, stdout, stderr := parse(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr\n got %q\nwant %q", stderr, tt.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

func TestDevConsoleConflict(t *testing.T) {
	newSandbox(t)
	for _, tt := range []struct {
		args  []string
		other string
	}{
		{[]string{"--devconsole", "--staticdir=d", "prog"}, "--staticdir"},
		{[]string{"--devconsole", "--cgidir=d"}, "--cgidir"},
		{[]string{"--devconsole", "--cgidir=d", "--staticdir=d"}, "--staticdir"},
	} {
		_, code, stdout, stderr := parse(tt.args...)
		if code != 4 {
			t.Errorf("%v: exit %d, want 4", tt.args, code)
		}
		// websocketd: a FATAL log line on stdout, nothing on stderr.
		re := regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [-+]\d{4} \| FATAL  \| server     \|  \| ` +
			`Invalid parameters: --devconsole cannot be used with ` + tt.other + `\. Pick one\.\n$`)
		if !re.MatchString(stdout) || stderr != "" {
			t.Errorf("%v: stdout %q stderr %q", tt.args, stdout, stderr)
		}
	}
	// Like any log line it obeys --loglevel.
	_, code, stdout, _ := parse("--loglevel=none", "--devconsole", "--staticdir=d", "prog")
	if code != 4 || stdout != "" {
		t.Errorf("loglevel none: exit %d stdout %q", code, stdout)
	}
}

func TestHelp(t *testing.T) {
	newSandbox(t)
	for _, args := range [][]string{{"--help"}, {"-help"}, {"-h"}, {"--h"}, {"--help", "prog"}, {"--port=1", "--help"}, {"--help", "--bogus"}} {
		_, code, stdout, stderr := parse(args...)
		if code != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
		if !strings.HasPrefix(stderr, versionLine()+"\n\nwsplex is a command line tool") || !strings.HasSuffix(stderr, "for details.\n") {
			t.Errorf("%v: help text %q", args, stderr)
		}
	}
	// After COMMAND, --help belongs to COMMAND.
	cfg, code, _, stderr := parse("prog", "--help")
	if code != continueRun || !reflect.DeepEqual(cfg.Args, []string{"--help"}) || stderr != "" {
		t.Errorf("prog --help: exit %d args %q", code, cfg.Args)
	}
	// A flag that is not in --help is a flag nobody will find.
	_, _, _, help := parse("--help")
	newFlagSet(&options{}, nil).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "\n  --"+f.Name+"=") && !strings.Contains(help, "\n  --"+f.Name+" ") {
			t.Errorf("--%s is not in --help", f.Name)
		}
	})
	for _, want := range []string{"Default: 1024", "Default: 1048576", "Default: 262144", "Default: 4194304", "Default: PATH,LD_LIBRARY_PATH", "none"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestVersionAndLicense(t *testing.T) {
	newSandbox(t)
	want := "wsplex " + Version + " ("
	if !strings.HasPrefix(versionLine(), want) || !strings.HasSuffix(versionLine(), ") -- websocketd-compatible") {
		t.Errorf("versionLine %q", versionLine())
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--version", "nosuchprog"}, {"--version", "--ssl"}, {"--version", "--license"}} {
		_, code, stdout, stderr := parse(args...)
		if code != 0 || stdout != versionLine()+"\n" || stderr != "" {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, code, stdout, stderr)
		}
	}
	_, code, stdout, stderr := parse("--license")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, versionLine()+"\n\nCopyright") ||
		!strings.Contains(stdout, "Redistribution and use") || !strings.Contains(stdout, "websocketd authors") {
		t.Errorf("--license: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	// --version=false is not --version.
	_, code, _, _ = parse("--version=false", "prog")
	if code != continueRun {
		t.Errorf("--version=false: exit %d", code)
	}
}

func TestDefaults(t *testing.T) {
	s := newSandbox(t)
	cfg, code, stdout, stderr := parse("prog")
	if code != continueRun || stdout != "" || stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	want := engine.Config{
		Port:           80,
		Command:        s.prog,
		CommandName:    "prog",
		Args:           []string{},
		PassEnv:        []string{"PATH", "LD_LIBRARY_PATH"},
		MaxForks:       1024,
		MaxFrameSize:   1048576,
		OutBuffer:      262144,
		InBuffer:       4194304,
		LogLevel:       logline.LevelAccess,
		ServerSoftware: "wsplex/" + Version,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", cfg, want)
	}
	if cfg.ServerSoftware != "wsplex/0.1.0" && Version == "0.1.0" {
		t.Errorf("ServerSoftware %q", cfg.ServerSoftware)
	}
}

// Successful command lines and the Config they produce; only the fields
// named in check are compared.
func TestParseArgsConfig(t *testing.T) {
	s := newSandbox(t)
	tests := []struct {
		name  string
		args  []string
		check func(engine.Config) bool
	}{
		{"single dash", []string{"-port=8080", "-binary", "prog"},
			func(c engine.Config) bool { return c.Port == 8080 && c.Binary }},
		{"separate value", []string{"--port", "8080", "--address", "127.0.0.1", "prog"},
			func(c engine.Config) bool {
				return c.Port == 8080 && reflect.DeepEqual(c.Addresses, []string{"127.0.0.1"})
			}},
		{"bool =false", []string{"--binary=false", "--passstderr", "prog"},
			func(c engine.Config) bool { return !c.Binary && c.PassStderr }},
		{"bool =true", []string{"--binary=true", "--reverselookup=1", "prog"},
			func(c engine.Config) bool { return c.Binary && c.ReverseLookup }},
		{"bool takes no separate value", []string{"--binary", "prog", "false"},
			func(c engine.Config) bool {
				return c.Binary && c.CommandName == "prog" && reflect.DeepEqual(c.Args, []string{"false"})
			}},
		{"repeated address keeps order", []string{"--address=127.0.0.1", "--address", "[::1]", "--address=10.0.0.1", "prog"},
			func(c engine.Config) bool {
				return reflect.DeepEqual(c.Addresses, []string{"127.0.0.1", "[::1]", "10.0.0.1"}) && c.Port == 80
			}},
		{"repeated headers", []string{"--header=A: 1", "--header", "B: 2", "--header-ws=W: 1", "--header-ws=W: 2", "--header-http=H: 1", "prog"},
			func(c engine.Config) bool {
				return reflect.DeepEqual(c.Headers, []string{"A: 1", "B: 2"}) &&
					reflect.DeepEqual(c.HeadersWS, []string{"W: 1", "W: 2"}) &&
					reflect.DeepEqual(c.HeadersHTTP, []string{"H: 1"})
			}},
		{"stop at first non-flag", []string{"--port=1", "prog", "--port=2", "-x", "--", "y"},
			func(c engine.Config) bool {
				return c.Port == 1 && c.CommandName == "prog" && reflect.DeepEqual(c.Args, []string{"--port=2", "-x", "--", "y"})
			}},
		{"-- ends the flags", []string{"--port=3", "--", "prog", "-a"},
			func(c engine.Config) bool {
				return c.Port == 3 && c.CommandName == "prog" && reflect.DeepEqual(c.Args, []string{"-a"})
			}},
		{"-- allows a dashed COMMAND", []string{"--", "--weird", "x"},
			func(c engine.Config) bool {
				return c.Command == filepath.Join(s.bin, "--weird") && c.CommandName == "--weird" && reflect.DeepEqual(c.Args, []string{"x"})
			}},
		{"args verbatim", []string{"prog", "", " a b ", "$HOME", "*"},
			func(c engine.Config) bool { return reflect.DeepEqual(c.Args, []string{"", " a b ", "$HOME", "*"}) }},
		{"relative command made absolute", []string{"./local"},
			func(c engine.Config) bool {
				return c.Command == filepath.Join(s.work, "local") && c.CommandName == "./local"
			}},
		{"absolute command", []string{s.prog},
			func(c engine.Config) bool { return c.Command == s.prog && c.CommandName == s.prog }},
		{"passenv replaces the default", []string{"--passenv=HOME, USER,,HTTPS,TZ", "prog"},
			func(c engine.Config) bool { return reflect.DeepEqual(c.PassEnv, []string{"HOME", "USER", "TZ"}) }},
		{"empty passenv passes nothing", []string{"--passenv=", "prog"},
			func(c engine.Config) bool { return c.PassEnv != nil && len(c.PassEnv) == 0 }},
		{"ssl", []string{"--ssl", "--sslcert=c.pem", "--sslkey=k.pem", "--sslca=ca.pem", "prog"},
			func(c engine.Config) bool {
				return c.SSL && c.Port == 443 && c.SSLCert == "c.pem" && c.SSLKey == "k.pem" && c.SSLCA == "ca.pem"
			}},
		{"ssl with port", []string{"--ssl", "--sslcert=c", "--sslkey=k", "--port=8443", "prog"},
			func(c engine.Config) bool { return c.Port == 8443 }},
		{"port 0 is the default", []string{"--port=0", "prog"},
			func(c engine.Config) bool { return c.Port == 80 }},
		{"limits", []string{"--maxforks=0", "--maxframesize=0", "--closems=250", "--pingms=1500", "--outbuffer=4096", "--inbuffer=0x10000", "prog"},
			func(c engine.Config) bool {
				return c.MaxForks == 0 && c.MaxFrameSize == 0 && c.CloseExtra == 250*time.Millisecond &&
					c.PingInterval == 1500*time.Millisecond && c.OutBuffer == 4096 && c.InBuffer == 65536
			}},
		{"negative maxforks", []string{"--maxforks=-1", "prog"},
			func(c engine.Config) bool { return c.MaxForks == -1 }},
		{"loglevel", []string{"--loglevel=debug", "prog"},
			func(c engine.Config) bool { return c.LogLevel == logline.LevelDebug }},
		{"loglevel none", []string{"--loglevel", "none", "prog"},
			func(c engine.Config) bool { return c.LogLevel == logline.LevelNone }},
		{"metrics", []string{"--metrics=127.0.0.1:9100", "prog"},
			func(c engine.Config) bool { return c.MetricsAddr == "127.0.0.1:9100" }},
		{"metrics any interface", []string{"--metrics", ":9100", "prog"},
			func(c engine.Config) bool { return c.MetricsAddr == ":9100" }},
		{"origins", []string{"--origin=example.com, https://b.example:8443,", "--sameorigin", "prog"},
			func(c engine.Config) bool {
				return reflect.DeepEqual(c.Origins, []string{"example.com", "https://b.example:8443"}) && c.SameOrigin
			}},
		{"dir is made absolute", []string{"--dir=d"},
			func(c engine.Config) bool { return c.Dir == filepath.Join(s.work, "d") && c.Command == "" }},
		{"staticdir and cgidir as given, with command", []string{"--staticdir=d", "--cgidir=./d", "prog"},
			func(c engine.Config) bool { return c.StaticDir == "d" && c.CGIDir == "./d" && c.Command == s.prog }},
		{"staticdir alone", []string{"--staticdir=d"},
			func(c engine.Config) bool { return c.StaticDir == "d" && c.Command == "" }},
		{"devconsole alone", []string{"--devconsole", "prog"},
			func(c engine.Config) bool { return c.DevConsole }},
		{"unix socket only", []string{"--unixsocket=/tmp/ws.sock", "prog"},
			func(c engine.Config) bool { return c.UnixSocket == "/tmp/ws.sock" && c.UnixOnly }},
		{"unix socket and port", []string{"--unixsocket=s", "--port=8080", "prog"},
			func(c engine.Config) bool { return !c.UnixOnly && c.Port == 8080 }},
		{"unix socket and explicit port 80", []string{"--unixsocket=s", "--port=80", "prog"},
			func(c engine.Config) bool { return !c.UnixOnly }},
		{"unix socket and address", []string{"--unixsocket=s", "--address=127.0.0.1", "prog"},
			func(c engine.Config) bool { return !c.UnixOnly }},
		{"unix socket and redirport", []string{"--unixsocket=s", "--redirport=8081", "prog"},
			func(c engine.Config) bool { return !c.UnixOnly && c.RedirPort == 8081 }},
		{"flag value that looks like a flag", []string{"--header", "--binary", "prog"},
			func(c engine.Config) bool { return reflect.DeepEqual(c.Headers, []string{"--binary"}) && !c.Binary }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, code, stdout, stderr := parse(tt.args...)
			if code != continueRun || stdout != "" || stderr != "" {
				t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

// The Config must not alias parseArgs' internals or the caller's slice.
func TestArgsAreCopied(t *testing.T) {
	newSandbox(t)
	args := []string{"prog", "a", "b"}
	cfg, _, _, _ := parse(args...)
	args[1] = "changed"
	if cfg.Args[0] != "a" {
		t.Errorf("Args alias the command line: %q", cfg.Args)
	}
}
