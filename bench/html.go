package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"sort"
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

type point struct{ x, y float64 }

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
						pts = append(pts, point{float64(k) / 10, msOf(h.ValueAtQuantile(q))})
					}
					dist = append(dist, series{name: names[r], pts: pts})
				}
				var a, c []point
				for _, w := range l.Timeline {
					if w.Count > 0 {
						a = append(a, point{w.T, w.P99})
					}
					c = append(c, point{w.T, float64(w.Count) / math.Max(l.WindowS, 1e-9)})
				}
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
			var a, c []point
			for i, s := range r.Server.Samples {
				a = append(a, point{s.T, mib(s.RSS)})
				if i > 0 {
					p := r.Server.Samples[i-1]
					if dt := s.T - p.T; dt > 0 {
						c = append(c, point{s.T, 100 * (s.CPU - p.CPU) / dt})
					}
				}
			}
			rss = append(rss, series{name: names[r], pts: a})
			cpu = append(cpu, series{name: names[r], pts: c})
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

// chart draws a line chart as inline SVG.
func chart(title, xl, yl string, ss []series, colors []string, xTicks func(float64) string) string {
	rows := float64((len(ss) + 1) / 2)
	const W, ml, mr, mt = 380.0, 55.0, 10.0, 24.0
	mb := 36 + 12*rows
	H := 180 + mb
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range ss {
		for _, p := range s.pts {
			minX, maxX, maxY = math.Min(minX, p.x), math.Max(maxX, p.x), math.Max(maxY, p.y)
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
	maxY = niceCeil(maxY)
	px := func(x float64) float64 { return ml + (x-minX)/(maxX-minX)*(W-ml-mr) }
	py := func(y float64) float64 { return H - mb - y/maxY*(H-mt-mb) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-size="11">`, W, H)
	fmt.Fprintf(&b, `<text x="%.0f" y="15" font-weight="bold">%s</text>`, ml, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		y := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`,
			ml, W-mr, py(y), py(y), ml-4, py(y)+4, fmtTick(y))
	}
	if xTicks != nil {
		for x := math.Ceil(minX); x <= maxX; x++ {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
				px(x), px(x), py(0), py(maxY), px(x), H-mb+14, xTicks(x))
		}
	} else {
		for i := 0; i <= 4; i++ {
			x := minX + (maxX-minX)*float64(i)/4
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, px(x), H-mb+14, fmtTick(x))
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
	}
	// Legend, two columns under the plot.
	for i, s := range ss {
		x := ml + float64(i%2)*(W-ml)/2
		y := H - mb + 40 + float64(i/2)*12
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="3" fill="%s"/><text x="%.1f" y="%.1f">%s</text>`, x, y-3, colors[i], x+14, y, html.EscapeString(s.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
