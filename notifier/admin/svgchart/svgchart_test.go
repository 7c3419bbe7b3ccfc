package svgchart_test

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/admin/svgchart"
)

// wellFormed parses the chart as XML: an unescaped label would break it
// or add elements.
func wellFormed(t *testing.T, html string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(html))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, html)
		}
	}
}

func TestRenderEscapesLabels(t *testing.T) {
	t.Parallel()
	evil := `"><script>alert(1)</script><x a="`
	for _, kind := range []svgchart.Kind{svgchart.Columns, svgchart.Line, svgchart.Bars} {
		got, err := svgchart.Render(svgchart.Chart{ID: "c", Title: "T " + evil, Desc: evil, Kind: kind,
			Labels: []string{evil, "b&b.example"},
			Series: []svgchart.Series{{Name: evil, Class: "st-failed", Values: []float64{3, 1}}, {Name: "two", Class: "st-sent", Values: []float64{1, 0}}}})
		if err != nil {
			t.Fatal(err)
		}
		html := string(got)
		if strings.Contains(html, "<script") || strings.Contains(html, "<x ") {
			t.Errorf("kind %d: a label got through unescaped:\n%s", kind, html)
		}
		if !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "b&amp;b.example") {
			t.Errorf("kind %d: the labels are not there, escaped:\n%s", kind, html)
		}
		wellFormed(t, html)
	}
}

func TestRenderAccessible(t *testing.T) {
	t.Parallel()
	got, err := svgchart.Render(svgchart.Chart{ID: "rate", Title: "Sent per minute", Desc: "Deliveries sent in each minute.", Kind: svgchart.Columns,
		Labels: []string{"12:00", "12:01"}, Series: []svgchart.Series{{Name: "Sent", Class: "st-sent", Values: []float64{4, 7}}}})
	if err != nil {
		t.Fatal(err)
	}
	html := string(got)
	for _, want := range []string{`role="img"`, `aria-labelledby="rate-title rate-desc"`, `<title id="rate-title">Sent per minute</title>`,
		`<desc id="rate-desc">Deliveries sent in each minute.</desc>`, `<th scope="row">12:01</th><td>7</td>`} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s in\n%s", want, html)
		}
	}
	if n := strings.Count(html, "<rect "); n != 2 {
		t.Errorf("%d columns drawn, want 2", n)
	}
}

func TestRenderEmpty(t *testing.T) {
	t.Parallel()
	for _, c := range []svgchart.Chart{
		{ID: "e", Title: "Nothing", Empty: "Nothing sent yet."},
		{ID: "e", Title: "Nothing", Empty: "Nothing sent yet.", Labels: []string{}, Series: []svgchart.Series{{Name: "s", Class: "a", Values: []float64{}}}},
	} {
		got, err := svgchart.Render(c)
		if err != nil {
			t.Fatal(err)
		}
		if html := string(got); strings.Contains(html, "<svg") || !strings.Contains(html, "Nothing sent yet.") {
			t.Errorf("empty chart:\n%s", html)
		}
	}
}

func TestRenderOnePoint(t *testing.T) {
	t.Parallel()
	for _, kind := range []svgchart.Kind{svgchart.Columns, svgchart.Line, svgchart.Bars} {
		got, err := svgchart.Render(svgchart.Chart{ID: "one", Title: "One", Kind: kind, Labels: []string{"only"},
			Series: []svgchart.Series{{Name: "s", Class: "st-sent", Values: []float64{5}}}})
		if err != nil {
			t.Fatal(err)
		}
		html := string(got)
		wellFormed(t, html)
		// A single point must still show: a column, a bar, or a dot (a
		// polyline of one point draws nothing).
		if !strings.Contains(html, "<rect ") && !strings.Contains(html, "<circle ") {
			t.Errorf("kind %d: one value drew nothing:\n%s", kind, html)
		}
		if strings.Contains(html, "NaN") || strings.Contains(html, "Inf") {
			t.Errorf("kind %d: a coordinate is not a number:\n%s", kind, html)
		}
	}
}

func TestRenderZerosScaleToOne(t *testing.T) {
	t.Parallel()
	got, err := svgchart.Render(svgchart.Chart{ID: "z", Title: "Zeros", Kind: svgchart.Line, Labels: []string{"a", "b"},
		Series: []svgchart.Series{{Name: "s", Class: "st-sent", Values: []float64{0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "NaN") {
		t.Errorf("all zeros divided by zero:\n%s", got)
	}
}

func TestRenderRefusesMismatch(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]svgchart.Chart{
		"values": {ID: "m", Labels: []string{"a"}, Series: []svgchart.Series{{Name: "s", Class: "a", Values: []float64{1, 2}}}},
		"class":  {ID: "m", Labels: []string{"a"}, Series: []svgchart.Series{{Name: "s", Class: `a" onclick="x`, Values: []float64{1}}}},
		"no id":  {Labels: []string{"a"}},
		"bad id": {ID: "a b"},
	} {
		if _, err := svgchart.Render(c); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

// FuzzRenderLabels draws charts of any labels (recipient domains and
// reply codes come from outside): the result is always well-formed and
// holds no element a label brought in.
func FuzzRenderLabels(f *testing.F) {
	for _, s := range []string{"bigmail.example · 5.7.x", `<script>`, `"/><svg onload=x>`, "]]>", "\x00", "&amp;", "日本.example"} {
		f.Add(s, 3.0)
	}
	f.Fuzz(func(t *testing.T, label string, value float64) {
		for _, kind := range []svgchart.Kind{svgchart.Columns, svgchart.Line, svgchart.Bars} {
			got, err := svgchart.Render(svgchart.Chart{ID: "f", Title: label, Desc: label, Kind: kind, Labels: []string{label},
				Series: []svgchart.Series{{Name: label, Class: "st-sent", Values: []float64{value}}}})
			if err != nil {
				if value >= 0 && !math.IsInf(value, 0) {
					t.Fatal(err)
				}
				continue
			}
			html := string(got)
			for _, bad := range []string{"<script", "<svg onload", "<x "} {
				if strings.Contains(strings.ToLower(html), bad) {
					t.Fatalf("kind %d: %q got into the chart:\n%s", kind, bad, html)
				}
			}
		}
	})
}

func TestRenderCutsLongBarLabels(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("very-long-subdomain.", 5) + "example · 5.7.x"
	got, err := svgchart.Render(svgchart.Chart{ID: "long", Title: "Long", Kind: svgchart.Bars, Labels: []string{long},
		Series: []svgchart.Series{{Name: "s", Class: "st-failed", Values: []float64{2}}}})
	if err != nil {
		t.Fatal(err)
	}
	html := string(got)
	if !strings.Contains(html, "very-long-subdomain.very-long…</text>") {
		t.Errorf("the bar's label is not cut:\n%s", html)
	}
	if !strings.Contains(html, `<th scope="row">`+long+`</th>`) {
		t.Errorf("the table does not have the whole label:\n%s", html)
	}
}
