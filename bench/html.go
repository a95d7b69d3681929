package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The HTML report is one file with inline SVG charts and inline CSS: no
// script, no CDN, so it opens offline and can be attached to an issue.

// WriteHTMLFile writes the report of rs to path.
func WriteHTMLFile(path, title string, rs []*Result) error {
	return os.WriteFile(path, RenderHTML(title, rs, ""), 0o644)
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

// point is one point of a chart; a partial one (the last, short time
// window of a run) is drawn hollow.
type point struct {
	x, y    float64
	partial bool
}

type series struct {
	name string
	pts  []point
}

// RenderHTML renders the report; intro is extra HTML (already escaped) put
// under the title, e.g. the suite's summary table.
func RenderHTML(title string, rs []*Result, intro string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.bad{color:#b00;font-weight:bold}.ok{color:#080}
svg{background:#fff;border:1px solid #ddd;margin:.5em 1em .5em 0}h2{margin-top:2em;border-bottom:1px solid #ddd}
.charts{display:flex;flex-wrap:wrap}small{color:#666}
table.params td{text-align:left;vertical-align:top}table.params code{white-space:nowrap;margin-right:.6em}
table.params code.cmd{white-space:normal;word-break:break-all}
</style></head><body><h1>%s</h1><p><small>generated %s</small></p>
`, html.EscapeString(title), html.EscapeString(title), time.Now().Format(time.RFC3339))
	b.WriteString(intro)

	// Group runs by scenario, keeping first-seen order.
	var order []string
	groups := map[string][]*Result{}
	for _, r := range rs {
		if _, ok := groups[r.Scenario]; !ok {
			order = append(order, r.Scenario)
		}
		groups[r.Scenario] = append(groups[r.Scenario], r)
	}
	names := runNames(rs)
	colors := map[string]string{}
	for _, r := range rs {
		k := r.Label
		if _, ok := colors[k]; !ok {
			colors[k] = palette[len(colors)%len(palette)]
		}
	}
	for _, sc := range order {
		g := groups[sc]
		fmt.Fprintf(&b, "<h2>%s</h2>\n", html.EscapeString(sc))
		paramsTable(&b, g, names)
		summaryTable(&b, g, names)
		var figs []string
		seen := map[string]bool{}
		for _, r := range g {
			for _, f := range r.LatencyOrder {
				if !seen[f] {
					seen[f] = true
					figs = append(figs, f)
				}
			}
		}
		b.WriteString(`<div class="charts">`)
		for _, f := range figs {
			var dist, p99, count []series
			for _, r := range g {
				l := r.Latency[f]
				if l == nil || l.Count == 0 {
					continue
				}
				if h := decodeHist(l.Hist); h != nil {
					var pts []point
					for k := 0; k <= 50; k++ {
						q := 100 * (1 - math.Pow(10, -float64(k)/10))
						pts = append(pts, point{x: float64(k) / 10, y: msOf(h.ValueAtQuantile(q))})
					}
					dist = append(dist, series{name: names[r], pts: pts})
				}
				a, c := timelinePoints(l)
				p99 = append(p99, series{name: names[r], pts: a})
				count = append(count, series{name: names[r], pts: c})
			}
			if len(dist) == 0 {
				continue
			}
			b.WriteString(chart(f+": latency by percentile", "percentile", "ms", dist, colorsFor(dist, g, names, colors), nineAxis))
			b.WriteString(chart(f+": p99 over time", "seconds", "ms", p99, colorsFor(p99, g, names, colors), nil))
			b.WriteString(chart(f+": rate over time", "seconds", "per second", count, colorsFor(count, g, names, colors), nil))
		}
		var rss, cpu []series
		for _, r := range g {
			if r.Server == nil || len(r.Server.Samples) < 2 {
				continue
			}
			var a []point
			for _, s := range r.Server.Samples {
				a = append(a, point{x: s.T, y: mib(s.RSS)})
			}
			rss = append(rss, series{name: names[r], pts: a})
			cpu = append(cpu, series{name: names[r], pts: cpuPoints(r.Server.Samples)})
		}
		if len(rss) > 0 {
			b.WriteString(chart("server RSS", "seconds", "MiB", rss, colorsFor(rss, g, names, colors), nil))
			b.WriteString(chart("server CPU", "seconds", "% of one core", cpu, colorsFor(cpu, g, names, colors), nil))
		}
		b.WriteString("</div>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// runNames gives each result a short unique name: its label, numbered when
// the same label repeats.
func runNames(rs []*Result) map[*Result]string {
	count := map[string]int{}
	key := func(r *Result) string { return r.Scenario + "\x00" + r.Label }
	for _, r := range rs {
		count[key(r)]++
	}
	seen := map[string]int{}
	out := map[*Result]string{}
	for _, r := range rs {
		n := r.Label
		if n == "" {
			n = "run"
		}
		if count[key(r)] > 1 {
			seen[key(r)]++
			n = fmt.Sprintf("%s #%d", n, seen[key(r)])
		}
		out[r] = n
	}
	return out
}

func colorsFor(ss []series, g []*Result, names map[*Result]string, colors map[string]string) []string {
	var out []string
	for _, s := range ss {
		c := "#444"
		for _, r := range g {
			if names[r] == s.name {
				c = colors[r.Label]
			}
		}
		out = append(out, c)
	}
	return out
}

// paramsTable says what each run of g was asked to do, above its figures:
// the command line, the target, when it started, how long it ran, the
// scenario's parameters and the other settings.
func paramsTable(b *bytes.Buffer, g []*Result, names map[*Result]string) {
	b.WriteString(`<table class="params"><tr><th class="l">run</th><th class="l">target</th><th class="l">started</th><th class="l">duration</th><th class="l">parameters</th><th class="l">settings</th></tr>`)
	codes := func(ps []string) string {
		var s strings.Builder
		for _, p := range ps {
			fmt.Fprintf(&s, "<code>%s</code> ", html.EscapeString(p))
		}
		return s.String()
	}
	for _, r := range g {
		settings := map[string]string{}
		for k, v := range r.Settings {
			if v != "" { // unset strings (--origin, --source) say nothing
				settings[k] = v
			}
		}
		dur := fmt.Sprintf("%.1f s", r.Seconds)
		if d, ok := r.Settings["duration"]; ok {
			dur = fmt.Sprintf("%s asked, %.1f s in all", d, r.Seconds)
		}
		fmt.Fprintf(b, `<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			html.EscapeString(names[r]), html.EscapeString(r.Target), html.EscapeString(r.Started.Format(time.RFC3339)),
			html.EscapeString(dur), codes(r.ParamList()), codes(sortedPairs(settings)))
		if r.Command != "" {
			fmt.Fprintf(b, `<tr><td></td><td colspan="5"><code class="cmd">%s</code></td></tr>`, html.EscapeString(r.Command))
		}
	}
	b.WriteString("</table>\n")
}

func summaryTable(b *bytes.Buffer, g []*Result, names map[*Result]string) {
	b.WriteString(`<table><tr><th class="l">run</th><th>s</th><th>opened</th><th>failed</th><th>sent</th><th>received</th><th>lost</th><th>reordered</th><th>rate</th><th class="l">latency p50 / p99 / max (ms)</th><th class="l">server</th><th>verdict</th></tr>`)
	for _, r := range g {
		var lat []string
		for _, f := range r.LatencyOrder {
			if l := r.Latency[f]; l != nil && l.Count > 0 {
				lat = append(lat, fmt.Sprintf("%s %.3g / %.3g / %.3g", f, l.P50, l.P99, l.Max))
			}
		}
		srv := ""
		if s := r.Server; s != nil {
			srv = fmt.Sprintf("cpu %.2fs, rss peak %.1f MiB, fds %d, threads %d, children %d", s.CPUSeconds, mib(s.RSSPeak), s.FDsPeak, s.ThreadsPeak, s.ChildrenPeak)
		}
		v := `<span class="ok">OK</span>`
		if !r.OK {
			v = `<span class="bad">problems</span>`
		}
		fmt.Fprintf(b, `<tr><td class="l">%s</td><td>%.1f</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%.1f %s</td><td class="l">%s</td><td class="l">%s</td><td>%s</td></tr>`,
			html.EscapeString(names[r]), r.Seconds, r.Conns.Opened, r.Conns.Failed, r.Msgs.Sent, r.Msgs.Received, r.Msgs.Lost, r.Msgs.Reordered,
			r.Rate, html.EscapeString(r.RateUnit), html.EscapeString(strings.Join(lat, "; ")), html.EscapeString(srv), v)
	}
	b.WriteString("</table>\n")
	var notes []string
	for _, r := range g {
		for _, n := range append(append([]string{}, r.ErrorSamples...), r.Notes...) {
			notes = append(notes, names[r]+": "+n)
		}
	}
	sort.Strings(notes)
	if len(notes) > 0 {
		b.WriteString("<ul>")
		for _, n := range notes {
			fmt.Fprintf(b, "<li><small>%s</small></li>", html.EscapeString(n))
		}
		b.WriteString("</ul>\n")
	}
}

// nineAxis labels the x axis of a percentile plot: x = number of nines.
func nineAxis(x float64) string {
	switch x {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	case 3:
		return "99.9%"
	case 4:
		return "99.99%"
	case 5:
		return "99.999%"
	}
	return ""
}

// timelinePoints are the p99 and the rate of each time window of l. The
// last window is partial (the run ended in it): its rate is per the part
// it covers, or left out when that is under half a window (too short to
// tell a rate); both its points are marked partial.
func timelinePoints(l *Latency) (p99, rate []point) {
	for _, w := range l.Timeline {
		if w.Count > 0 {
			p99 = append(p99, point{w.T, w.P99, w.Partial})
		}
		if span := w.Span(l.WindowS); span >= l.WindowS/2 && span > 0 {
			rate = append(rate, point{w.T, float64(w.Count) / span, w.Partial})
		}
	}
	return p99, rate
}

// cpuPoints turns cumulative CPU samples into % of one core over each
// sampling interval. The samples taken as a run ends (before closing, and
// at the stop) come a few milliseconds after a regular one; CPU time is
// counted in clock ticks, so one tick over such a sliver reads as a spike.
// An interval shorter than half the usual one is merged into the one
// before it.
func cpuPoints(ss []ProcSample) []point {
	if len(ss) < 2 {
		return nil
	}
	dts := make([]float64, 0, len(ss)-1)
	for i := 1; i < len(ss); i++ {
		dts = append(dts, ss[i].T-ss[i-1].T)
	}
	sort.Float64s(dts)
	minDT := dts[len(dts)/2] / 2
	var pts []point
	base, prevBase := 0, -1
	for i := 1; i < len(ss); i++ {
		if dt := ss[i].T - ss[base].T; dt > 0 && dt >= minDT {
			pts = append(pts, point{x: ss[i].T, y: 100 * (ss[i].CPU - ss[base].CPU) / dt})
			prevBase, base = base, i
		}
	}
	if last := ss[len(ss)-1]; base < len(ss)-1 && prevBase >= 0 {
		from := ss[prevBase]
		pts[len(pts)-1] = point{x: last.T, y: 100 * (last.CPU - from.CPU) / (last.T - from.T)}
	}
	return pts
}

// niceStep is the 1-2-5 step (..., 0.5, 1, 2, 5, 10, 20, ...) that divides
// span into at most n parts, so that ticks land on round values.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n < 1 {
		return 1
	}
	raw := span / float64(n)
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*e >= raw*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// ticks are the multiples of step in [lo, hi].
func ticks(lo, hi, step float64) []float64 {
	var out []float64
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		out = append(out, k*step)
	}
	return out
}

// Chart geometry: the margins leave room for the widest tick labels
// ("99.999%" centred on the right edge, "150k" left of the plot).
const (
	chartW       = 380.0
	chartML      = 58.0 // left: y tick labels and the y axis title
	chartMR      = 26.0 // right: half of the widest x tick label
	chartMT      = 24.0 // top: the title
	chartPlotH   = 180.0
	chartXLabels = 36.0 // under the plot: x tick labels and the x axis title
)

// chart draws a line chart as inline SVG. The y axis starts at 0 and ends
// on a round tick; xTicks, if set, labels the integer x values (else ticks
// are round values of x).
func chart(title, xl, yl string, ss []series, colors []string, xTicks func(float64) string) string {
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	anyPartial := false
	for _, s := range ss {
		for _, p := range s.pts {
			minX, maxX, maxY = math.Min(minX, p.x), math.Max(maxX, p.x), math.Max(maxY, p.y)
			anyPartial = anyPartial || p.partial
		}
	}
	if math.IsInf(minX, 0) {
		return ""
	}
	if maxX == minX {
		maxX = minX + 1
	}
	if maxY <= 0 {
		maxY = 1
	}
	yStep := niceStep(maxY, 5)
	maxY = math.Ceil(maxY/yStep-1e-9) * yStep
	legendRows := (len(ss) + 1) / 2
	if anyPartial {
		legendRows++
	}
	const W, ml, mr, mt = chartW, chartML, chartMR, chartMT
	mb := chartXLabels + 12*float64(legendRows)
	H := mt + chartPlotH + mb
	px := func(x float64) float64 { return ml + (x-minX)/(maxX-minX)*(W-ml-mr) }
	py := func(y float64) float64 { return H - mb - y/maxY*(H-mt-mb) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-size="11">`, W, H)
	fmt.Fprintf(&b, `<text x="%.0f" y="15" font-weight="bold">%s</text>`, ml, html.EscapeString(title))
	for _, y := range ticks(0, maxY, yStep) {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`,
			ml, W-mr, py(y), py(y), ml-4, py(y)+4, fmtTick(y, yStep))
	}
	if xTicks != nil {
		for x := math.Ceil(minX); x <= maxX; x++ {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
				px(x), px(x), py(0), py(maxY), px(x), H-mb+14, xTicks(x))
		}
	} else {
		xStep := niceStep(maxX-minX, 5)
		for _, x := range ticks(minX, maxX, xStep) {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
				px(x), px(x), py(0), py(maxY), px(x), H-mb+14, fmtTick(x, xStep))
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#666">%s</text>`, (ml+W-mr)/2, H-mb+28, html.EscapeString(xl))
	fmt.Fprintf(&b, `<text x="12" y="%.1f" fill="#666" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text>`, (mt+H-mb)/2, (mt+H-mb)/2, html.EscapeString(yl))
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`, ml, mt, W-ml-mr, H-mt-mb)
	for i, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`, colors[i], strings.Join(pts, " "), html.EscapeString(s.name))
		for _, p := range s.pts {
			if p.partial {
				fmt.Fprintf(&b, `<circle class="partial" cx="%.1f" cy="%.1f" r="3.5" fill="#fff" stroke="%s" stroke-width="1.5"><title>partial window</title></circle>`, px(p.x), py(p.y), colors[i])
			}
		}
	}
	// Legend, two columns under the plot, then the key to the hollow point.
	for i, s := range ss {
		x := ml + float64(i%2)*(W-ml)/2
		y := H - mb + 40 + float64(i/2)*12
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="3" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`, x, y-3, colors[i], x+14, y, html.EscapeString(s.name))
	}
	if anyPartial {
		y := H - mb + 40 + float64(legendRows-1)*12
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="#fff" stroke="#444" stroke-width="1.5"/><text x="%.1f" y="%.1f">last window, partial: per the part the run covered</text>`, ml+5, y-4, ml+14, y)
	}
	b.WriteString("</svg>")
	return b.String()
}

// fmtTick labels a tick of an axis whose ticks are step apart: as many
// decimals as the step needs (trailing zeros dropped), and k or M from ten
// thousand on, so labels stay short enough for the margin.
func fmtTick(v, step float64) string {
	if v == 0 {
		return "0"
	}
	unit := ""
	switch a := math.Abs(v); {
	case a >= 1e6:
		v, step, unit = v/1e6, step/1e6, "M"
	case a >= 1e4:
		v, step, unit = v/1e3, step/1e3, "k"
	}
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + unit
}
