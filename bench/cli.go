package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Exit codes of Main.
const (
	ExitOK       = 0
	ExitFatal    = 1 // the run could not be done (unreachable target, refused upgrade, bad flags)
	ExitUsage    = 2
	ExitProblems = 3 // the run completed but found losses, reordering, corruption or failures
)

// common holds the flags every scenario has.
type common struct {
	url            string
	duration       time.Duration
	source         string
	allowRemote    bool
	json           bool
	html           string
	serverPID      int
	sampleInterval time.Duration
	workers        int
	loops          int
	timeout        time.Duration
	origin         string
	label          string
	quiet          bool
	worker         string // "i/n", set only in processes started by --workers

	// The run's description for its report (see describe).
	command         string
	flags, settings map[string]string
}

// notSettings are the flags that choose where the report goes, or that
// the report shows elsewhere (target, label): they are not parameters of
// the run.
var notSettings = map[string]bool{"url": true, "label": true, "json": true, "html": true, "quiet": true, "worker": true}

// describe records what the run is asked to do, for its report: the
// command line, and every flag's value, defaults included, split into the
// scenario's own flags and the other settings. It runs before Split scales
// a worker down, so the values are the whole run's.
func (c *common) describe(name string, fs *flag.FlagSet, args []string) {
	own := flag.NewFlagSet(name, flag.ContinueOnError)
	NewScenario(name).Flags(own)
	c.flags, c.settings = map[string]string{}, map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		switch {
		case own.Lookup(f.Name) != nil:
			c.flags[f.Name] = f.Value.String()
		case !notSettings[f.Name]:
			c.settings[f.Name] = f.Value.String()
		}
	})
	words := []string{"wsbench"}
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	c.command = strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+./:,@%[]") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Validator is a scenario whose flags have limits their types do not
// express (a minimum size, a positive rate): Main reports a flag out of
// them as a usage error (exit 2) before anything runs.
type Validator interface {
	Validate() error
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8080/", "target (may also be given as the last argument)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of the measured phase")
	fs.StringVar(&c.source, "source", "", "local source addresses, e.g. 127.0.0.2-127.0.0.50 (lifts the ephemeral port limit)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per run instead of the table")
	fs.StringVar(&c.html, "html", "", "also write a self-contained HTML report to this file")
	fs.IntVar(&c.serverPID, "server-pid", 0, "sample this server process (CPU, RSS, fds, threads, children's PSS) from /proc")
	fs.DurationVar(&c.sampleInterval, "sample-interval", time.Second, "server sampling interval")
	fs.IntVar(&c.workers, "workers", 1, "worker processes (each has its own fd limit); results are merged")
	fs.IntVar(&c.loops, "loops", 1, "event loops (goroutines) per process; the server needs the other cores")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "connect + upgrade timeout per connection")
	fs.StringVar(&c.origin, "origin", "", "Origin header to send")
	fs.StringVar(&c.label, "label", "", "label for this run in reports (e.g. the server's name)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress line")
	fs.StringVar(&c.worker, "worker", "", "internal: i/n, set in worker processes")
}

// Main is the wsbench command line; cmd/wsbench only wires it to the
// process. Tests call it directly.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	name := args[0]
	if name == "suite" {
		return suiteMain(ctx, args[1:], stdout, stderr)
	}
	if name == "resume-child" {
		// The child of the resume scenario, run by the server under test.
		return resumeChildMain()
	}
	if name == "room-child" {
		// The producer of the room scenarios (roomchild.go).
		return roomChildMain(ctx, args[1:])
	}
	if name == "echo-backend" {
		// The TCP echo server of the backend jobs (echobackend.go).
		return echoBackendMain(ctx, args[1:])
	}
	sc := NewScenario(name)
	if sc == nil {
		fmt.Fprintf(stderr, "wsbench: unknown scenario %q\n\n", name)
		usage(stderr)
		return ExitUsage
	}
	fs := flag.NewFlagSet("wsbench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	sc.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wsbench %s [flags] [ws://host:port/path]\n\n%s\n\nflags:\n", name, sc.Summary())
		fs.PrintDefaults()
	}
	// Flags may come before and after the URL.
	rest := args[1:]
	var pos []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			return ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "wsbench: one target only, got %q\n", pos)
		return ExitUsage
	}
	if len(pos) == 1 {
		c.url = pos[0]
	}
	if v, ok := sc.(Validator); ok {
		if err := v.Validate(); err != nil {
			fmt.Fprintf(stderr, "wsbench %s: %v (wsbench %s -h lists the flags)\n", name, err, name)
			return ExitUsage
		}
	}
	c.describe(name, fs, args)
	if c.workers > 1 && c.worker == "" {
		return runWorkers(ctx, name, fs, &c, stdout, stderr)
	}
	o, err := c.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsbench: %v\n", err)
		return ExitFatal
	}
	if o.Worker {
		sc.Split(o.WorkerIndex, o.WorkerCount)
	}
	res, err := sc.Run(ctx, o)
	return c.output(res, err, stdout, stderr)
}

func (c *common) options(stderr io.Writer) (*Options, error) {
	t, err := ParseTarget(c.url, c.allowRemote)
	if err != nil {
		return nil, err
	}
	t.Origin = c.origin
	src, err := ParseSources(c.source)
	if err != nil {
		return nil, err
	}
	if err := src.CheckLoopback(t); err != nil {
		return nil, err
	}
	o := &Options{Target: t, Sources: src, Loops: c.loops, Duration: c.duration, HandshakeTimeout: c.timeout,
		ServerPID: c.serverPID, SampleInterval: c.sampleInterval, Label: c.label}
	if c.worker != "" {
		if _, err := fmt.Sscanf(c.worker, "%d/%d", &o.WorkerIndex, &o.WorkerCount); err != nil || o.WorkerCount < 1 {
			return nil, fmt.Errorf("bad --worker %q", c.worker)
		}
		o.Worker = true
	}
	if !c.quiet && !o.Worker && isTerminal(stderr) && c.duration >= 2*time.Second {
		o.Progress = stderr
	}
	return o, nil
}

func (c *common) output(res *Result, err error, stdout, stderr io.Writer) int {
	if res != nil && c.worker == "" {
		res.Command, res.Flags, res.Settings = c.command, c.flags, c.settings
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsbench: %v\n", err)
		if res != nil && c.json {
			res.WriteJSON(stdout)
		}
		return ExitFatal
	}
	if c.json {
		res.WriteJSON(stdout)
	} else {
		res.WriteTable(stdout)
	}
	if c.html != "" {
		if err := WriteHTMLFile(c.html, "wsbench "+res.Scenario, []*Result{res}); err != nil {
			fmt.Fprintf(stderr, "wsbench: --html: %v\n", err)
			return ExitFatal
		}
	}
	if !res.OK {
		return ExitProblems
	}
	return ExitOK
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runWorkers re-executes this program once per worker with the same
// scenario flags plus --worker=i/n and --json, then merges their results.
// The parent samples the server itself, so workers do not.
func runWorkers(ctx context.Context, name string, fs *flag.FlagSet, c *common, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "wsbench: --workers: %v\n", err)
		return ExitFatal
	}
	var base []string
	skip := map[string]bool{"workers": true, "worker": true, "json": true, "html": true, "server-pid": true, "quiet": true, "url": true}
	fs.Visit(func(f *flag.Flag) {
		if !skip[f.Name] {
			base = append(base, fmt.Sprintf("--%s=%s", f.Name, f.Value.String()))
		}
	})
	// Check the target here so a typo fails once, not once per worker.
	if _, err := c.options(stderr); err != nil {
		fmt.Fprintf(stderr, "wsbench: %v\n", err)
		return ExitFatal
	}
	var sampler *Sampler
	if c.serverPID > 0 {
		if sampler, err = StartSampler(c.serverPID, c.sampleInterval); err != nil {
			fmt.Fprintf(stderr, "wsbench: --server-pid: %v\n", err)
			return ExitFatal
		}
	}
	type out struct {
		res []*Result
		err error
		msg string
	}
	outs := make([]out, c.workers)
	var wg sync.WaitGroup
	for i := 0; i < c.workers; i++ {
		args := append([]string{name}, base...)
		args = append(args, fmt.Sprintf("--worker=%d/%d", i, c.workers), "--json", "--quiet", c.url)
		cmd := exec.CommandContext(ctx, exe, args...)
		var so, se strings.Builder
		cmd.Stdout, cmd.Stderr = &so, &se
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Run()
			rs, perr := ParseResults(strings.NewReader(so.String()))
			if len(rs) == 0 {
				if perr != nil {
					err = perr
				}
				if err == nil {
					err = errors.New("no result")
				}
			} else {
				err = nil
			}
			outs[i] = out{rs, err, strings.TrimSpace(se.String())}
		}()
	}
	wg.Wait()
	var all []*Result
	for i, o := range outs {
		if o.err != nil {
			fmt.Fprintf(stderr, "wsbench: worker %d: %v: %s\n", i, o.err, o.msg)
			continue
		}
		all = append(all, o.res...)
	}
	if len(all) == 0 {
		return ExitFatal
	}
	res := MergeResults(all)
	if sampler != nil {
		res.Server = sampler.Stop()
	}
	return c.output(res, nil, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `wsbench: load generator for WebSocket servers (wsplex, websocketd, ...)

usage: wsbench <scenario> [flags] [ws://127.0.0.1:8080/path]
       wsbench suite [flags]         compare wsplex and websocketd (make bench)
       wsbench resume-child          the child the resume scenario needs the server to run
       wsbench room-child [flags]    the producer of the room scenario (timestamped lines at a rate)
       wsbench echo-backend [flags]  a TCP echo server for socket backends (prints its port)
       wsbench <scenario> -h         flags of a scenario

scenarios:
`)
	for _, n := range ScenarioNames() {
		fmt.Fprintf(w, "  %-11s %s\n", n, NewScenario(n).Summary())
	}
	fmt.Fprintf(w, `
Targets must be loopback unless --allow-remote is given. Output is a table,
or one JSON object per run with --json; --html FILE adds a self-contained
report. Exit status: 0 ok, 1 could not run, 2 usage, 3 ran but found
problems (lost, reordered or corrupt messages, failed connections).
`)
}
