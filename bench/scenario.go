package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scenario is one wsbench subcommand.
type Scenario interface {
	Name() string
	Summary() string
	// Flags registers the scenario's own flags (with sane defaults).
	Flags(fs *flag.FlagSet)
	// Split scales the scenario down to worker i of n (--workers).
	Split(i, n int)
	Run(ctx context.Context, o *Options) (*Result, error)
}

var scenarios = map[string]func() Scenario{}

func register(f func() Scenario) { scenarios[f().Name()] = f }

// ScenarioNames lists the scenarios in alphabetical order.
func ScenarioNames() []string {
	var out []string
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NewScenario returns a fresh scenario by name, nil if unknown.
func NewScenario(name string) Scenario {
	if f, ok := scenarios[name]; ok {
		return f()
	}
	return nil
}

// sizeUsage is the help of the --size flags of text messages.
var sizeUsage = fmt.Sprintf("message size in bytes (text, at least %d)", minTextSize)

// checkSize is the limit of a --size flag: a text message holds a sequence
// number and a timestamp (and a frame must fit the client's limit).
func checkSize(size int) error {
	switch {
	case size < minTextSize:
		return fmt.Errorf("--size %d is below the minimum of %d bytes (a message holds a sequence number and a timestamp)", size, minTextSize)
	case size > maxFrame:
		return fmt.Errorf("--size %d is above the maximum of %d bytes", size, maxFrame)
	}
	return nil
}

// checkRate is the limit of a --rate flag: messages per second, positive.
func checkRate(rate float64) error {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return fmt.Errorf("--rate %v: must be a positive number of messages per second", rate)
	}
	return nil
}

// fatal ends a run that could not do anything useful (nothing connected):
// the result is still returned so --json callers see the counts.
func fatal(r *Run, err error) (*Result, error) {
	res := r.Finish()
	return res, err
}

// ---- latency ----

func init() { register(func() Scenario { return &LatencyScenario{} }) }

// LatencyScenario: one or more connections, messages at a fixed total rate,
// latency from the intended send time.
type LatencyScenario struct {
	Conns int
	Rate  float64
	Size  int
	Drain time.Duration
	Cold  bool
}

func (s *LatencyScenario) Name() string { return "latency" }
func (s *LatencyScenario) Summary() string {
	return "open loop at a fixed rate; latency from the intended send time (stalls are not hidden)"
}
func (s *LatencyScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Conns, "conns", 1, "connections")
	fs.Float64Var(&s.Rate, "rate", 1000, "messages per second, all connections together")
	fs.IntVar(&s.Size, "size", 64, sizeUsage)
	fs.DurationVar(&s.Drain, "drain", 3*time.Second, "how long to wait for the last echoes")
	fs.BoolVar(&s.Cold, "cold", false, "start the clock as soon as the connections are open (by default each first echoes one message, uncounted, so that a child's start-up is not in the figures: that is the storm scenario's)")
}
func (s *LatencyScenario) Validate() error { return errors.Join(checkSize(s.Size), checkRate(s.Rate)) }
func (s *LatencyScenario) Split(i, n int) {
	s.Conns = max(share(s.Conns, n, i), 1)
	s.Rate /= float64(n)
}
func (s *LatencyScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	if s.Rate <= 0 {
		return nil, fmt.Errorf("latency: --rate must be positive")
	}
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Conns, "rate": s.Rate, "size": s.Size, "cold": s.Cold})
	if err != nil {
		return nil, err
	}
	r.StartProgress(o.Duration)
	el, err := runEcho(ctx, r, echoParams{conns: s.Conns, conc: min(s.Conns, 100), size: max(s.Size, minTextSize),
		rate: s.Rate, duration: o.Duration, drain: s.Drain, figure: "echo", warm: !s.Cold})
	if err != nil {
		return fatal(r, err)
	}
	r.SetRate(float64(r.Received.Load())/el.Seconds(), "msg/s")
	return r.Finish(), nil
}

// ---- throughput ----

func init() { register(func() Scenario { return &ThroughputScenario{} }) }

// ThroughputScenario: C connections, K messages in flight on each.
type ThroughputScenario struct {
	Conns, Inflight, Size int
	Drain                 time.Duration
}

func (s *ThroughputScenario) Name() string { return "throughput" }
func (s *ThroughputScenario) Summary() string {
	return "closed loop: C connections with K messages in flight each; messages/s"
}
func (s *ThroughputScenario) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Conns, "conns", 10, "connections")
	fs.IntVar(&s.Inflight, "inflight", 16, "messages in flight per connection")
	fs.IntVar(&s.Size, "size", 64, sizeUsage)
	fs.DurationVar(&s.Drain, "drain", 3*time.Second, "how long to wait for the last echoes")
}
func (s *ThroughputScenario) Validate() error { return checkSize(s.Size) }
func (s *ThroughputScenario) Split(i, n int)  { s.Conns = max(share(s.Conns, n, i), 1) }
func (s *ThroughputScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Conns, "inflight": s.Inflight, "size": s.Size})
	if err != nil {
		return nil, err
	}
	r.StartProgress(o.Duration)
	el, err := runEcho(ctx, r, echoParams{conns: s.Conns, conc: min(s.Conns, 100), size: max(s.Size, minTextSize),
		inflight: s.Inflight, duration: o.Duration, drain: s.Drain, figure: "echo"})
	if err != nil {
		return fatal(r, err)
	}
	r.SetRate(float64(r.Received.Load())/el.Seconds(), "msg/s")
	r.SetExtra("mbit_per_s", float64(r.Received.Load())*float64(max(s.Size, minTextSize))*8/1e6/el.Seconds())
	return r.Finish(), nil
}

// ---- binary ----

func init() { register(func() Scenario { return &BinaryScenario{} }) }

// BinaryScenario runs a closed-loop echo of binary records at several sizes.
// The server must run in binary mode (websocketd --binary), where message
// boundaries are not kept: the echo is checked as a byte stream.
type BinaryScenario struct {
	Sizes    string
	Conns    int
	Inflight int
	Drain    time.Duration
}

func (s *BinaryScenario) Name() string { return "binary" }
func (s *BinaryScenario) Summary() string {
	return "binary echo at several payload sizes, checked as a byte stream (server in --binary mode)"
}
func (s *BinaryScenario) Flags(fs *flag.FlagSet) {
	fs.StringVar(&s.Sizes, "sizes", "16,1024,65536", fmt.Sprintf("payload sizes in bytes (at least %d), comma separated (each a phase of --duration/len)", minRecord))
	fs.IntVar(&s.Conns, "conns", 1, "connections")
	fs.IntVar(&s.Inflight, "inflight", 4, "records in flight per connection")
	fs.DurationVar(&s.Drain, "drain", 3*time.Second, "how long to wait for the last echoes of each phase")
}
func (s *BinaryScenario) Split(i, n int) { s.Conns = max(share(s.Conns, n, i), 1) }
func (s *BinaryScenario) Validate() error {
	if _, err := ParseSizes(s.Sizes); err != nil {
		return fmt.Errorf("--sizes: %v", err)
	}
	return nil
}

// ParseSizes parses "16,1K,64K".
func ParseSizes(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(strings.ToUpper(f))
		if f == "" {
			continue
		}
		mul := 1
		switch {
		case strings.HasSuffix(f, "K"):
			mul, f = 1024, strings.TrimSuffix(f, "K")
		case strings.HasSuffix(f, "M"):
			mul, f = 1<<20, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 || n*mul > maxFrame {
			return nil, fmt.Errorf("bad size %q", f)
		}
		if n*mul < minRecord {
			return nil, fmt.Errorf("size %d is below the minimum of %d bytes (a record holds a sequence number and a timestamp)", n*mul, minRecord)
		}
		out = append(out, n*mul)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sizes")
	}
	return out, nil
}

func (s *BinaryScenario) Run(ctx context.Context, o *Options) (*Result, error) {
	sizes, err := ParseSizes(s.Sizes)
	if err != nil {
		return nil, fmt.Errorf("binary: --sizes: %v", err)
	}
	r, err := NewRun(s.Name(), o, map[string]any{"conns": s.Conns, "inflight": s.Inflight, "sizes": s.Sizes})
	if err != nil {
		return nil, err
	}
	r.StartProgress(o.Duration)
	phase := o.Duration / time.Duration(len(sizes))
	var total time.Duration
	for _, size := range sizes {
		size = max(size, minRecord)
		recv0 := r.Received.Load()
		fig := fmt.Sprintf("echo_%dB", size)
		el, err := runEcho(ctx, r, echoParams{conns: s.Conns, conc: min(s.Conns, 100), size: size, binary: true,
			inflight: s.Inflight, duration: phase, drain: s.Drain, figure: fig})
		if err != nil {
			return fatal(r, err)
		}
		total += el
		n := float64(r.Received.Load() - recv0)
		r.SetExtra(fmt.Sprintf("records_per_s_%dB", size), n/el.Seconds())
		r.SetExtra(fmt.Sprintf("mib_per_s_%dB", size), n*float64(size)/(1<<20)/el.Seconds())
		if ctx.Err() != nil {
			break
		}
	}
	r.SetRate(float64(r.Received.Load())/total.Seconds(), "records/s")
	return r.Finish(), nil
}
