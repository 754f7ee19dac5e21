package console

import (
	"strings"
	"testing"
)

func TestChartsAreEscapedSVG(t *testing.T) {
	svg := string(lineChart("Points <per> day", []string{"1 Jan", "2 Jan", "<b>"}, []series{{"Issued & more", "#2f6fb0", []int64{0, 35, 12}}}))
	for _, want := range []string{`<svg class="chart"`, `role="img"`, "Points &lt;per&gt; day", "Issued &amp; more (47)", "&lt;b&gt;", ">40<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("line chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<b>") {
		t.Error("a chart has an inline style or unescaped text")
	}
	bars := string(barChart("Budget", []bar{{Label: "A <campaign>", Value: 50, Of: 200}}))
	if !strings.Contains(bars, "A &lt;campaign&gt;") || !strings.Contains(bars, `width="67.5"`) {
		t.Errorf("bar chart: %s", bars)
	}
	for in, want := range map[int64]int64{0: 1, 7: 10, 10: 10, 11: 20, 40: 50, 51: 100, 1234: 2000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
	if formatPoints(-1234567) != "−1\u202f234\u202f567" || formatPoints(12) != "12" {
		t.Errorf("formatPoints: %q", formatPoints(-1234567))
	}
}
