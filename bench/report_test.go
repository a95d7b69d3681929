package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReportDescribesRun: the --json result and the --html report carry
// what the run was asked to do: the command line, every scenario flag and
// the other settings, defaults included; the HTML shows them above the
// first chart.
func TestReportDescribesRun(t *testing.T) {
	s := startServer(t, faults{})
	htmlPath := filepath.Join(t.TempDir(), "r.html")
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"latency", "--json", "--html=" + htmlPath, "--duration=300ms", "--rate=200", "--size=32", s.URL}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "flags", "settings", "target", "duration_s"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("--json has no %q", k)
		}
	}
	rs, err := ParseResults(&out)
	if err != nil || len(rs) != 1 {
		t.Fatalf("parse: %v", err)
	}
	r := rs[0]
	wantFlags := map[string]string{"conns": "1", "rate": "200", "size": "32", "drain": "3s", "cold": "false"}
	if len(r.Flags) != len(wantFlags) {
		t.Errorf("flags %v, want %v", r.Flags, wantFlags)
	}
	for k, v := range wantFlags {
		if r.Flags[k] != v {
			t.Errorf("flags[%s] = %q, want %q", k, r.Flags[k], v)
		}
	}
	if r.Settings["duration"] != "300ms" || r.Settings["workers"] != "1" || r.Settings["timeout"] != "10s" {
		t.Errorf("settings %v: want duration=300ms, workers=1, timeout=10s", r.Settings)
	}
	for _, k := range []string{"json", "html", "url", "worker", "quiet", "label"} {
		if _, ok := r.Settings[k]; ok {
			t.Errorf("settings has %q, which is not a parameter of the run", k)
		}
	}
	wantCmd := "wsbench latency --json --html=" + htmlPath + " --duration=300ms --rate=200 --size=32 " + s.URL
	if r.Command != wantCmd {
		t.Errorf("command %q, want %q", r.Command, wantCmd)
	}

	b, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	chart := strings.Index(page, "<svg")
	if chart < 0 {
		t.Fatal("the report has no chart")
	}
	for _, want := range []string{"rate=200", "size=32", "conns=1", "duration=300ms", "300ms asked", s.URL, "wsbench latency --json"} {
		i := strings.Index(page, want)
		if i < 0 || i > chart {
			t.Errorf("%q is not in the report above its first chart (at %d, chart at %d)", want, i, chart)
		}
	}
}

// TestWorkersReportWholeRun: under --workers the report's flags are the
// whole run's (--conns=40), not one worker's share.
func TestWorkersReportWholeRun(t *testing.T) {
	s := startServer(t, faults{})
	out, errs, code := testExe(t, nil, "storm", "--workers=2", "--conns=40", "--concurrency=10", "--json", s.URL)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rs, err := ParseResults(strings.NewReader(out))
	if err != nil || len(rs) != 1 {
		t.Fatalf("parse: %v %q", err, out)
	}
	if r := rs[0]; r.Flags["conns"] != "40" || r.Flags["concurrency"] != "10" || r.Settings["workers"] != "2" {
		t.Errorf("flags %v settings %v: want conns=40 concurrency=10 workers=2", r.Flags, r.Settings)
	}
}

// TestNiceTicks: axis steps are 1, 2 or 5 times a power of ten, dividing
// the span into 2 to 5 parts.
func TestNiceTicks(t *testing.T) {
	for _, span := range []float64{0.003, 0.07, 0.9, 1, 3.7, 4.014, 9.9, 10, 12.8, 99.999, 137, 2500, 19999, 1e6 + 1} {
		step := niceStep(span, 5)
		m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9))
		if math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
			t.Errorf("span %v: step %v is not 1, 2 or 5 times a power of ten", span, step)
		}
		if n := span / step; n > 5+1e-9 || n < 2 {
			t.Errorf("span %v: step %v gives %.2f parts, want 2 to 5", span, step, n)
		}
		for _, v := range ticks(0, span, step) {
			if k := v / step; math.Abs(k-math.Round(k)) > 1e-6 {
				t.Errorf("span %v: tick %v is not a multiple of %v", span, v, step)
			}
		}
	}
	for _, c := range []struct {
		v, step float64
		want    string
	}{{0.6, 0.2, "0.6"}, {0.15, 0.05, "0.15"}, {4, 1, "4"}, {150000, 50000, "150k"}, {2.5e6, 5e5, "2.5M"}, {2000, 500, "2000"}, {2500, 500, "2500"}, {1e6, 5e5, "1M"}, {15000, 5000, "15k"}, {0.3, 0.1, "0.3"}, {0.2, 0.05, "0.2"}} {
		if got := fmtTick(c.v, c.step); got != c.want {
			t.Errorf("fmtTick(%v, %v) = %q, want %q", c.v, c.step, got, c.want)
		}
	}
}

// TestChartLabelsFit: every tick label of a chart lies inside the SVG
// (text of 11px is at most 7px a character wide), the percentile axis
// "99.999%" included, and the y ticks are round numbers.
func TestChartLabelsFit(t *testing.T) {
	var dist, rate []point
	for k := 0; k <= 50; k++ {
		dist = append(dist, point{x: float64(k) / 10, y: 0.05 + float64(k)*0.29})
	}
	for i := 0; i < 41; i++ {
		rate = append(rate, point{x: float64(i) / 10, y: 123456 + float64(i%3)*1000})
	}
	text := regexp.MustCompile(`<text x="([0-9.]+)" y="[0-9.]+" text-anchor="(middle|end)">([^<]*)</text>`)
	width := regexp.MustCompile(`<svg [^>]*width="([0-9.]+)"`)
	for _, c := range []struct {
		name string
		svg  string
	}{
		{"percentiles", chart("echo: latency by percentile", "percentile", "ms", []series{{"run", dist}}, []string{"#000"}, nineAxis)},
		{"rate", chart("echo: rate over time", "seconds", "per second", []series{{"run", rate}}, []string{"#000"}, nil)},
	} {
		w, _ := strconv.ParseFloat(width.FindStringSubmatch(c.svg)[1], 64)
		labels := 0
		for _, m := range text.FindAllStringSubmatch(c.svg, -1) {
			x, _ := strconv.ParseFloat(m[1], 64)
			half := 3.5 * float64(len(m[3]))
			left, right := x-half, x+half
			if m[2] == "end" {
				left, right = x-2*half, x
			}
			if left < 0 || right > w {
				t.Errorf("%s: label %q spans %.0f..%.0f, outside the chart's 0..%.0f", c.name, m[3], left, right, w)
			}
			labels++
		}
		if labels < 6 {
			t.Errorf("%s: %d tick labels found, the pattern is stale", c.name, labels)
		}
		if c.name == "percentiles" && !strings.Contains(c.svg, ">99.999%<") {
			t.Errorf("percentiles: no 99.999%% label")
		}
		if c.name == "rate" && (!strings.Contains(c.svg, ">150k<") || !strings.Contains(c.svg, ">50k<")) {
			t.Errorf("rate: want y ticks 0, 50k, 100k, 150k:\n%s", c.svg)
		}
	}
}

// TestLastWindowPartial: the window a run ends in is marked partial with
// the part it covers, and its rate is per that part: a steady 1000/s does
// not collapse at the end. A sliver under half a window is left out of
// the rate.
func TestLastWindowPartial(t *testing.T) {
	start := time.Now()
	rec := NewRecorder(start, 100*time.Millisecond)
	// 1000 values a second for 0.97 s.
	for i := range 970 {
		rec.Record(start.Add(time.Duration(i)*time.Millisecond+500*time.Microsecond), time.Millisecond)
	}
	l := rec.Summary(false)
	if len(l.Timeline) != 10 {
		t.Fatalf("%d windows, want 10", len(l.Timeline))
	}
	for i, w := range l.Timeline[:9] {
		if w.Partial {
			t.Errorf("window %d marked partial", i)
		}
	}
	last := l.Timeline[9]
	if !last.Partial || math.Abs(last.LenS-0.0695) > 1e-6 || last.Count != 70 {
		t.Fatalf("last window %+v: want partial, len_s 0.0695, count 70", last)
	}
	p99, rate := timelinePoints(l)
	if len(rate) != 10 || !rate[9].partial || !p99[len(p99)-1].partial {
		t.Fatalf("rate points %v: want 10, the last partial", rate)
	}
	for _, p := range rate {
		if p.y < 950 || p.y > 1050 {
			t.Errorf("rate at %.1f s is %.0f/s, want about 1000 (no collapse at the end)", p.x, p.y)
		}
	}

	// The JSON form (workers, the suite) keeps it.
	var back Latency
	b, _ := json.Marshal(l)
	if err := json.Unmarshal(b, &back); err != nil || !back.Timeline[9].Partial || back.LastS != l.LastS {
		t.Fatalf("round trip: %v %+v", err, back.Timeline[9])
	}
	if r := recorderFrom(&back, start); r.Last.Sub(rec.Last).Abs() > time.Microsecond {
		t.Errorf("recorderFrom: last %v, want %v", r.Last, rec.Last)
	}

	// A run that ends 5 ms into its last window: too short for a rate.
	rec.Record(start.Add(1005*time.Millisecond), time.Millisecond)
	_, rate = timelinePoints(rec.Summary(false))
	if n := len(rate); n != 10 || rate[n-1].x > 0.95 {
		t.Errorf("rate points %v: want the 5 ms window left out", rate)
	}
}

// TestCPUNoSpikeAtEnd: the samples taken as a run ends, milliseconds after
// a regular one, are merged into the interval before rather than read as
// one clock tick over a sliver of time (200% of a core here).
func TestCPUNoSpikeAtEnd(t *testing.T) {
	var ss []ProcSample
	for i := range 5 {
		ss = append(ss, ProcSample{T: float64(i), CPU: 0.5 * float64(i)})
	}
	ss = append(ss, ProcSample{T: 4.004, CPU: 2.01}, ProcSample{T: 4.009, CPU: 2.02})
	pts := cpuPoints(ss)
	if len(pts) != 4 {
		t.Fatalf("points %v: want one per regular interval", pts)
	}
	for _, p := range pts {
		if p.y < 45 || p.y > 55 {
			t.Errorf("cpu at %.3f s is %.0f%%, want about 50%%", p.x, p.y)
		}
	}
	if pts[3].x != 4.009 {
		t.Errorf("the last point is at %v s, want the last sample's 4.009 s", pts[3].x)
	}
}

// TestUsageErrors runs the real cmd/wsbench: a --size under the documented
// minimum, a --rate of 0 and the like are usage errors (exit 2) that say
// which flag and why, before anything connects; the minimum itself runs.
func TestUsageErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/wsbench")
	}
	bin := filepath.Join(t.TempDir(), "wsbench")
	build := exec.Command("go", "build", "-o", bin, "../cmd/wsbench")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, int) {
		var errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return errb.String(), 0
	}
	// Nothing listens on port 1: a run that got past the flags would fail
	// to connect (exit 1).
	const target = "ws://127.0.0.1:1/"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"latency", "--size=23"}, "--size 23 is below the minimum of 24 bytes"},
		{[]string{"latency", "--size", "0"}, "--size 0 is below the minimum"},
		{[]string{"latency", "--rate=0"}, "--rate 0: must be a positive"},
		{[]string{"latency", "--rate=-5"}, "--rate -5: must be a positive"},
		{[]string{"throughput", "--size=10"}, "--size 10 is below"},
		{[]string{"storm", "--size=1"}, "--size 1 is below"},
		{[]string{"churn", "--size=1"}, "--size 1 is below"},
		{[]string{"slow", "--size=8"}, "--size 8 is below"},
		{[]string{"broadcast", "--rate=0"}, "--rate 0: must be a positive"},
		{[]string{"broadcast", "--producer=both"}, `--producer "both"`},
		{[]string{"binary", "--sizes=8,1K"}, "size 8 is below the minimum of 16 bytes"},
		{[]string{"latency", "--size=23", "--workers=2"}, "--size 23 is below"},
	} {
		stderr, code := run(append(c.args, target)...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("wsbench %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, stderr, ExitUsage, c.want)
		}
	}
	if _, code := run("latency", "--size=24", target); code != ExitFatal {
		t.Errorf("--size=24 (the minimum): exit %d, want %d (accepted, then no server)", code, ExitFatal)
	}
	s := startServer(t, faults{})
	if stderr, code := run("latency", "--size=24", "--rate=100", "--duration=200ms", "--quiet", s.URL); code != ExitOK {
		t.Errorf("--size=24 against a server: exit %d: %s", code, stderr)
	}
}
