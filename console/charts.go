package console

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// Charts are SVG drawn here, on the server: no chart library, no script. Colours are presentation attributes (the
// Content-Security-Policy allows no inline style), and every chart has a title and a table-like description for
// screen readers.

type series struct {
	Name   string
	Colour string
	Values []int64
}

const (
	chartW, chartH     = 720, 240
	padLeft, padRight  = 56, 12
	padTop, padBottom  = 16, 40
	plotW              = chartW - padLeft - padRight
	plotH              = chartH - padTop - padBottom
	gridLines          = 4
	legendRowHeight    = 18
	barChartRowHeight  = 26
	barChartLabelWidth = 140
	barChartValueWidth = 70
)

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so that grid lines fall on round numbers.
func niceMax(v int64) int64 {
	if v <= 0 {
		return 1
	}
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// lineChart draws series over labelled points (days), with a grid, the labels of every few points and a legend.
func lineChart(title string, labels []string, ss []series) template.HTML {
	var max int64
	for _, s := range ss {
		for _, v := range s.Values {
			max = maxInt(max, v)
		}
	}
	top := niceMax(max)
	gridLines := int64(5) // 0, 20, 40… of 100; 0, 10… of 50
	if leading(top) == 2 {
		gridLines = 4 // 0, 5, 10, 15, 20
	}
	n := len(labels)
	x := func(i int) float64 {
		if n <= 1 {
			return padLeft + plotW/2
		}
		return padLeft + float64(i)*plotW/float64(n-1)
	}
	y := func(v int64) float64 { return padTop + plotH - float64(v)*plotH/float64(top) }
	height := chartH + legendRowHeight*((len(ss)+3)/4)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title-%s" preserveAspectRatio="xMidYMid meet">`,
		chartW, height, slug(title))
	fmt.Fprintf(&b, `<title id="chart-title-%s">%s</title>`, slug(title), html.EscapeString(title))
	for g := int64(0); g <= gridLines; g++ {
		v := top * g / gridLines
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d8dde3" stroke-width="1"/>`, padLeft, chartW-padRight, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="11" fill="#4a5561">%s</text>`, padLeft-6, y(v)+4, formatPoints(v))
	}
	step := maxInt(1, int64((n+6)/7))
	for i, l := range labels {
		if int64(i)%step == 0 || i == n-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="#4a5561">%s</text>`, x(i), chartH-padBottom+16, html.EscapeString(l))
		}
	}
	for _, s := range ss {
		var pts []string
		for i, v := range s.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`,
			s.Colour, strings.Join(pts, " "), html.EscapeString(s.Name))
	}
	for i, s := range ss {
		lx, ly := padLeft+(i%4)*160, chartH+legendRowHeight*(i/4)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12" fill="#1f2933">%s (%s)</text>`,
			lx, ly, s.Colour, lx+16, ly+11, html.EscapeString(s.Name), formatPoints(sum(s.Values)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped
}

type bar struct {
	Label  string
	Value  int64
	Of     int64 // the whole the bar is part of (0: the largest value is the whole)
	Colour string
}

// barChart draws horizontal bars with their labels and values.
func barChart(title string, bars []bar) template.HTML {
	var max int64
	for _, br := range bars {
		max = maxInt(max, maxInt(br.Value, br.Of))
	}
	if max == 0 {
		max = 1
	}
	width := 480
	plot := float64(width - barChartLabelWidth - barChartValueWidth)
	height := barChartRowHeight*len(bars) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title-%s">`, width, height, slug(title))
	fmt.Fprintf(&b, `<title id="chart-title-%s">%s</title>`, slug(title), html.EscapeString(title))
	for i, br := range bars {
		yy := 4 + i*barChartRowHeight
		whole := br.Of
		if whole == 0 {
			whole = max
		}
		w := plot * float64(br.Value) / float64(maxInt(whole, 1))
		if br.Of > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#e4e8ec"/>`, barChartLabelWidth, yy, plot)
		} else {
			w = plot * float64(br.Value) / float64(max)
		}
		colour := br.Colour
		if colour == "" {
			colour = "#2f6fb0"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12" fill="#1f2933">%s</text>`, barChartLabelWidth-8, yy+12, html.EscapeString(br.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s"/>`, barChartLabelWidth, yy, w, colour)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#1f2933">%s</text>`, width-barChartValueWidth+6, yy+12, formatPoints(br.Value))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func sum(vs []int64) int64 {
	var t int64
	for _, v := range vs {
		t += v
	}
	return t
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// leading is the first digit of n.
func leading(n int64) int64 {
	for n >= 10 {
		n /= 10
	}
	return n
}
