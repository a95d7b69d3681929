package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is the report of one run: what --json prints, one object per run,
// and what the HTML report and the suite read back.
type Result struct {
	Scenario string `json:"scenario"`
	Label    string `json:"label,omitempty"`
	Target   string `json:"target"`
	// What the run was asked to do, so a report describes itself: the
	// command line, every flag of the scenario and every other setting
	// (defaults included). Runs the suite makes have Params only.
	Command      string              `json:"command,omitempty"`
	Flags        map[string]string   `json:"flags,omitempty"`
	Settings     map[string]string   `json:"settings,omitempty"`
	Params       map[string]any      `json:"params"` // the scenario's key figures (the suite's grouping)
	Started      time.Time           `json:"started"`
	Seconds      float64             `json:"duration_s"`
	Workers      int                 `json:"workers,omitempty"`
	OK           bool                `json:"ok"` // no loss, reordering, corruption or failed connection
	Conns        ConnCounts          `json:"connections"`
	Msgs         MsgCounts           `json:"messages"`
	Rate         float64             `json:"rate"`
	RateUnit     string              `json:"rate_unit,omitempty"`
	Latency      map[string]*Latency `json:"latency"`
	LatencyOrder []string            `json:"latency_order"`
	Extra        map[string]float64  `json:"extra,omitempty"`
	Server       *ServerStats        `json:"server,omitempty"`
	Errors       map[string]int64    `json:"errors,omitempty"`
	ErrorSamples []string            `json:"error_samples,omitempty"`
	Notes        []string            `json:"notes,omitempty"`
}

// ConnCounts counts connections.
type ConnCounts struct {
	Attempted int64 `json:"attempted"`
	Opened    int64 `json:"opened"`
	Failed    int64 `json:"failed"`  // dial or upgrade failed
	Dropped   int64 `json:"dropped"` // closed by the server or an error after opening
	PeakOpen  int64 `json:"peak_open"`
}

// MsgCounts counts messages (records, for binary) and bytes.
type MsgCounts struct {
	Sent          int64 `json:"sent"`
	Received      int64 `json:"received"`
	Lost          int64 `json:"lost"`
	Reordered     int64 `json:"reordered"`
	Duplicates    int64 `json:"duplicates"`
	Corrupt       int64 `json:"corrupt"`
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
}

func (r *Result) finishOK() {
	m := r.Msgs
	r.OK = m.Lost == 0 && m.Reordered == 0 && m.Duplicates == 0 && m.Corrupt == 0 && r.Conns.Failed == 0 && r.Conns.Dropped == 0
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// ParseResults reads JSON results, one object per line (or concatenated).
func ParseResults(rd io.Reader) ([]*Result, error) {
	dec := json.NewDecoder(rd)
	var out []*Result
	for {
		var r Result
		if err := dec.Decode(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, &r)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteTable writes r for humans.
func (r *Result) WriteTable(w io.Writer) {
	title := fmt.Sprintf("wsbench %s  %s", r.Scenario, r.Target)
	if r.Label != "" {
		title += "  [" + r.Label + "]"
	}
	fmt.Fprintf(w, "%s  %.1fs", title, r.Seconds)
	if r.Workers > 1 {
		fmt.Fprintf(w, "  %d workers", r.Workers)
	}
	fmt.Fprintln(w)
	if r.Command != "" {
		fmt.Fprintf(w, "  command      %s\n", r.Command)
	}
	if ps := r.ParamList(); len(ps) > 0 {
		fmt.Fprintf(w, "  params       %s\n", strings.Join(ps, " "))
	}
	c := r.Conns
	fmt.Fprintf(w, "  connections  attempted %d  opened %d  failed %d  dropped %d  peak open %d\n", c.Attempted, c.Opened, c.Failed, c.Dropped, c.PeakOpen)
	m := r.Msgs
	if m.Sent > 0 || m.Received > 0 {
		fmt.Fprintf(w, "  messages     sent %d  received %d  lost %d  reordered %d  duplicates %d  corrupt %d\n", m.Sent, m.Received, m.Lost, m.Reordered, m.Duplicates, m.Corrupt)
	}
	if r.Rate > 0 {
		fmt.Fprintf(w, "  rate         %.1f %s\n", r.Rate, r.RateUnit)
	}
	if len(r.LatencyOrder) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %-14s\tcount\tp50\tp90\tp99\tp99.9\tmax\t\n", "latency (ms)")
		for _, n := range r.LatencyOrder {
			l := r.Latency[n]
			if l == nil {
				continue
			}
			if l.Count == 0 {
				fmt.Fprintf(tw, "  %-14s\t0\t-\t-\t-\t-\t-\t\n", n)
				continue
			}
			fmt.Fprintf(tw, "  %-14s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", n, l.Count, l.P50, l.P90, l.P99, l.P999, l.Max)
		}
		tw.Flush()
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-24s %s\n", k, fmtNum(r.Extra[k]))
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server pid %d: cpu %.2fs (children %.2fs)  rss %.1f -> %.1f MiB (peak %.1f)  fds peak %d  threads peak %d  children peak %d",
			s.PID, s.CPUSeconds, s.ChildrenCPU, mib(s.RSSStart), mib(s.RSSEnd), mib(s.RSSPeak), s.FDsPeak, s.ThreadsPeak, s.ChildrenPeak)
		if s.ChildrenPSSPeak > 0 {
			fmt.Fprintf(w, "  children pss peak %.1f MiB", mib(s.ChildrenPSSPeak))
		}
		fmt.Fprintln(w)
		if s.Err != "" {
			fmt.Fprintf(w, "  server sampling: %s\n", s.Err)
		}
	}
	for _, e := range r.ErrorSamples {
		k, _, _ := strings.Cut(e, ":")
		fmt.Fprintf(w, "  error x%d     %s\n", r.Errors[k], e)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note         %s\n", n)
	}
	verdict := "OK"
	if !r.OK {
		verdict = "PROBLEMS (see above)"
	}
	fmt.Fprintf(w, "  verdict      %s\n", verdict)
}

func fmtNum(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3f", v)
}

// MergeResults combines the results of worker processes that ran the same
// scenario at the same time: counts and rates add, histograms merge.
func MergeResults(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	out := *rs[0]
	out.Workers = len(rs)
	out.Latency = map[string]*Latency{}
	out.Extra = map[string]float64{}
	out.Errors = nil
	out.ErrorSamples = nil
	out.Notes = nil
	out.Conns, out.Msgs, out.Rate = ConnCounts{}, MsgCounts{}, 0
	recs := map[string]*Recorder{}
	seenErr := map[string]bool{}
	seenNote := map[string]bool{}
	for _, r := range rs {
		out.Seconds = max(out.Seconds, r.Seconds)
		out.Conns.Attempted += r.Conns.Attempted
		out.Conns.Opened += r.Conns.Opened
		out.Conns.Failed += r.Conns.Failed
		out.Conns.Dropped += r.Conns.Dropped
		out.Conns.PeakOpen += r.Conns.PeakOpen
		out.Msgs.Sent += r.Msgs.Sent
		out.Msgs.Received += r.Msgs.Received
		out.Msgs.Lost += r.Msgs.Lost
		out.Msgs.Reordered += r.Msgs.Reordered
		out.Msgs.Duplicates += r.Msgs.Duplicates
		out.Msgs.Corrupt += r.Msgs.Corrupt
		out.Msgs.BytesSent += r.Msgs.BytesSent
		out.Msgs.BytesReceived += r.Msgs.BytesReceived
		out.Rate += r.Rate
		for k, v := range r.Extra {
			// Durations and per-unit figures do not add up across workers.
			if strings.HasSuffix(k, "_s") || strings.HasSuffix(k, "_ms") || strings.HasPrefix(k, "server_") {
				out.Extra[k] = max(out.Extra[k], v)
			} else {
				out.Extra[k] += v
			}
		}
		for k, v := range r.Errors {
			if out.Errors == nil {
				out.Errors = map[string]int64{}
			}
			out.Errors[k] += v
		}
		for _, e := range r.ErrorSamples {
			k, _, _ := strings.Cut(e, ":")
			if !seenErr[k] {
				seenErr[k] = true
				out.ErrorSamples = append(out.ErrorSamples, e)
			}
		}
		for _, n := range r.Notes {
			if !seenNote[n] {
				seenNote[n] = true
				out.Notes = append(out.Notes, n)
			}
		}
		for _, n := range r.LatencyOrder {
			l := r.Latency[n]
			if l == nil {
				continue
			}
			rec := recorderFrom(l, r.Started)
			if recs[n] == nil {
				recs[n] = rec
			} else {
				recs[n].Merge(rec)
			}
		}
	}
	for _, n := range out.LatencyOrder {
		if rec := recs[n]; rec != nil {
			out.Latency[n] = rec.Summary(false)
		}
	}
	out.finishOK()
	return &out
}

// ParamList is the run's scenario parameters as sorted name=value pairs:
// its flags, or for a run without (the suite's) its Params.
func (r *Result) ParamList() []string {
	m := r.Flags
	if len(m) == 0 {
		m = map[string]string{}
		for k, v := range r.Params {
			m[k] = fmt.Sprint(v)
		}
	}
	return sortedPairs(m)
}

func sortedPairs(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+m[k])
	}
	return out
}
