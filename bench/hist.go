package bench

import (
	"encoding/base64"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to one hour with three
// significant digits: enough resolution for loopback echoes, enough range
// for a stalled server.
const (
	histMaxUS      = int64(time.Hour / time.Microsecond)
	histSigFigs    = 3
	windowSigFigs  = 2 // per-window histograms only feed the over-time plot
	maxWindows     = 1000
	defaultWindows = 100
)

func newHist() *hdr.Histogram       { return hdr.New(1, histMaxUS, histSigFigs) }
func newWindowHist() *hdr.Histogram { return hdr.New(1, histMaxUS, windowSigFigs) }

// Recorder collects one latency figure: a full-resolution histogram plus
// coarser per-window histograms for the over-time plot. It is not safe for
// concurrent use: keep one per loop and Merge at the end.
type Recorder struct {
	H       *hdr.Histogram
	Start   time.Time
	Window  time.Duration
	Windows []*hdr.Histogram
	// Last is when the latest value was recorded: the run's figure ends
	// there, part of the way into the last window.
	Last time.Time
}

// NewRecorder starts a recorder whose windows count from start.
func NewRecorder(start time.Time, window time.Duration) *Recorder {
	if window <= 0 {
		window = time.Second
	}
	return &Recorder{H: newHist(), Start: start, Window: window}
}

// WindowFor picks a window length giving about 100 points over d.
func WindowFor(d time.Duration) time.Duration {
	if d <= 0 {
		return 5 * time.Second
	}
	w := d / defaultWindows
	switch {
	case w < 100*time.Millisecond:
		return 100 * time.Millisecond
	case w < time.Second:
		return w.Round(100 * time.Millisecond)
	}
	return w.Round(time.Second)
}

func usOf(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	if us < 0 {
		return 0
	}
	if us > histMaxUS {
		return histMaxUS
	}
	return us
}

// Record adds one latency d observed at time at.
func (r *Recorder) Record(at time.Time, d time.Duration) {
	us := usOf(d)
	r.H.RecordValue(us)
	if at.After(r.Last) {
		r.Last = at
	}
	i := int(at.Sub(r.Start) / r.Window)
	if i < 0 || i >= maxWindows {
		return
	}
	for len(r.Windows) <= i {
		r.Windows = append(r.Windows, nil)
	}
	if r.Windows[i] == nil {
		r.Windows[i] = newWindowHist()
	}
	r.Windows[i].RecordValue(us)
}

// Merge adds o into r (same Start and Window assumed).
func (r *Recorder) Merge(o *Recorder) {
	if o == nil {
		return
	}
	r.H.Merge(o.H)
	if o.Last.After(r.Last) {
		r.Last = o.Last
	}
	for i, w := range o.Windows {
		if w == nil {
			continue
		}
		for len(r.Windows) <= i {
			r.Windows = append(r.Windows, nil)
		}
		if r.Windows[i] == nil {
			r.Windows[i] = newWindowHist()
		}
		r.Windows[i].Merge(w)
	}
}

// MergeRecorders merges per-loop recorders into a new one.
func MergeRecorders(start time.Time, window time.Duration, rs []*Recorder) *Recorder {
	m := NewRecorder(start, window)
	for _, r := range rs {
		m.Merge(r)
	}
	return m
}

// Latency is the report form of a Recorder: milliseconds, plus the encoded
// histogram so runs from several processes (or the suite) can be merged and
// plotted again.
type Latency struct {
	Count    int64    `json:"count"`
	Min      float64  `json:"min_ms"`
	Mean     float64  `json:"mean_ms"`
	P50      float64  `json:"p50_ms"`
	P90      float64  `json:"p90_ms"`
	P99      float64  `json:"p99_ms"`
	P999     float64  `json:"p99_9_ms"`
	Max      float64  `json:"max_ms"`
	Hist     string   `json:"hdr,omitempty"` // HdrHistogram V2 compressed, base64, microseconds
	WindowS  float64  `json:"window_s,omitempty"`
	LastS    float64  `json:"last_s,omitempty"` // when the last value was recorded, seconds from the first window's start
	Timeline []Window `json:"timeline,omitempty"`
	// WindowHists carries the per-window histograms between worker processes.
	WindowHists []string `json:"window_hdr,omitempty"`
}

// Window is one point of the over-time plot.
type Window struct {
	T     float64 `json:"t_s"` // window start, seconds since the run started
	Count int64   `json:"count"`
	// The last window ends where the run's figure did, part of the way
	// in: Partial marks it, and LenS is the part it covers. A rate over
	// the whole window would show a collapse that did not happen.
	Partial bool    `json:"partial,omitempty"`
	LenS    float64 `json:"len_s,omitempty"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

func msOf(us int64) float64 { return float64(us) / 1000 }

func encodeHist(h *hdr.Histogram) string {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b)
}

func decodeHist(s string) *hdr.Histogram {
	if s == "" {
		return nil
	}
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		// Older encoders produced raw bytes; accept base64 of those too.
		if b, err2 := base64.StdEncoding.DecodeString(s); err2 == nil {
			h, err = hdr.Decode(b)
		}
		if err != nil {
			return nil
		}
	}
	return h
}

// Summary turns a recorder into its report form. withWindows keeps the
// window histograms (for a parent process to merge).
func (r *Recorder) Summary(withWindows bool) *Latency {
	h := r.H
	l := &Latency{
		Count: h.TotalCount(),
		Hist:  encodeHist(h),
	}
	if l.Count > 0 {
		l.Min = msOf(h.Min())
		l.Mean = h.Mean() / 1000
		l.P50 = msOf(h.ValueAtQuantile(50))
		l.P90 = msOf(h.ValueAtQuantile(90))
		l.P99 = msOf(h.ValueAtQuantile(99))
		l.P999 = msOf(h.ValueAtQuantile(99.9))
		l.Max = msOf(h.Max())
	}
	l.WindowS = r.Window.Seconds()
	if !r.Last.IsZero() {
		l.LastS = max(r.Last.Sub(r.Start).Seconds(), 0)
	}
	for i, w := range r.Windows {
		pt := Window{T: float64(i) * r.Window.Seconds()}
		if i == len(r.Windows)-1 && l.LastS > 0 && l.LastS < pt.T+l.WindowS {
			pt.Partial = true
			pt.LenS = max(l.LastS-pt.T, 0)
		}
		if w != nil {
			pt.Count = w.TotalCount()
			pt.P50 = msOf(w.ValueAtQuantile(50))
			pt.P99 = msOf(w.ValueAtQuantile(99))
			pt.Max = msOf(w.Max())
		}
		l.Timeline = append(l.Timeline, pt)
		if withWindows {
			s := ""
			if w != nil {
				s = encodeHist(w)
			}
			l.WindowHists = append(l.WindowHists, s)
		}
	}
	return l
}

// recorderFrom rebuilds a recorder from a worker's report.
func recorderFrom(l *Latency, start time.Time) *Recorder {
	r := NewRecorder(start, time.Duration(l.WindowS*float64(time.Second)))
	if h := decodeHist(l.Hist); h != nil {
		r.H.Merge(h)
	}
	if l.LastS > 0 {
		r.Last = start.Add(time.Duration(l.LastS * float64(time.Second)))
	}
	for i, s := range l.WindowHists {
		h := decodeHist(s)
		for len(r.Windows) <= i {
			r.Windows = append(r.Windows, nil)
		}
		if h != nil {
			r.Windows[i] = h
		}
	}
	return r
}

// Span is the seconds of the run that w covers: the window's length, or
// less for the last one.
func (w Window) Span(windowS float64) float64 {
	if w.Partial {
		return w.LenS
	}
	return windowS
}
