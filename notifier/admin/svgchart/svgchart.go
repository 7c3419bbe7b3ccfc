// Package svgchart draws the staff dashboard's charts as inline SVG on the
// server: stacked columns over time, a line of a running total, and
// horizontal bars of counts. Nothing is loaded from elsewhere and nothing
// runs in the browser, so the charts need no third-party code, work under
// the dashboard's Content-Security-Policy (no inline styles or scripts:
// colours come from classes in the dashboard's stylesheet) and print.
//
// Labels are outside input (recipient domains, reply codes, organization
// names): the chart is written by html/template, which escapes every
// label and attribute. Each chart is an image with a title and a
// description for screen readers, and carries its figures as a table.
package svgchart

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strconv"
)

// Kind is a chart's shape.
type Kind int

// The chart shapes.
const (
	// Columns stacks the series in one column per label (time buckets).
	Columns Kind = iota
	// Line joins each series' values, one point per label (a running total).
	Line
	// Bars draws one horizontal bar per label, the series side by side
	// along it (counts by category, the largest first).
	Bars
)

// Series is one named row of values, one per label of its chart.
type Series struct {
	Name string
	// Class is the CSS class that colours the series: lower-case letters,
	// digits and dashes.
	Class  string
	Values []float64
}

// Chart is what to draw.
type Chart struct {
	// ID prefixes the ids of the chart's title and description; it must
	// be unique on the page.
	ID    string
	Title string
	// Desc says in words what the chart shows (its accessible description).
	Desc string
	Kind Kind
	// Labels name the columns, points or bars.
	Labels []string
	Series []Series
	// Empty is said instead of the chart when there is nothing to draw.
	Empty string
}

// The drawing's size in SVG user units; the stylesheet scales it to the
// page's width.
const (
	width      = 640
	height     = 200
	marginLeft = 44
	marginTop  = 8
	marginBot  = 22
	barsLeft   = 190
	barRow     = 22
	maxXLabels = 6
	// maxColumn keeps a chart of few columns from drawing slabs.
	maxColumn = 48
	// maxBarLabel is how many characters of a bar's label fit left of it;
	// a longer one is cut, and shown whole in its tooltip and the table.
	maxBarLabel = 30
)

var classPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

//go:embed chart.html
var chartFiles embed.FS

var chartTemplate = template.Must(template.New("chart.html").Funcs(template.FuncMap{
	"num": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
}).ParseFS(chartFiles, "chart.html"))

// shape is a rectangle of a column or bar.
type shape struct {
	Class      string
	X, Y, W, H float64
	// Title is the shape's tooltip: series, label and value.
	Title string
}

// text is an axis label.
type text struct {
	X, Y   float64
	Anchor string
	Text   string
}

// line is one series of a line chart.
type line struct {
	Class  string
	Points string
	Dots   []shape
}

// view is the chart as the template draws it.
type view struct {
	Chart
	Width, Height float64
	Shapes        []shape
	Lines         []line
	Texts         []text
	// Axis is the baseline and the value axis.
	AxisX1, AxisY1, AxisX2, AxisY2 float64
	// Rows are the data table's rows: a label and one value per series.
	Rows []row
}

type row struct {
	Label  string
	Values []string
}

// Render draws the chart. It fails on a chart that does not hold
// together (a series with the wrong number of values, a negative or
// infinite value, a bad class), which
// is a bug of the caller, not of the data.
func Render(c Chart) (template.HTML, error) {
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return "", fmt.Errorf("svgchart %s: series %q has %d values for %d labels", c.ID, s.Name, len(s.Values), len(c.Labels))
		}
		for _, f := range s.Values {
			if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				return "", fmt.Errorf("svgchart %s: series %q has the value %v; the charts draw counts, 0 or more", c.ID, s.Name, f)
			}
		}
		if !classPattern.MatchString(s.Class) {
			return "", fmt.Errorf("svgchart %s: series %q: class %q is not lower-case letters, digits and dashes", c.ID, s.Name, s.Class)
		}
	}
	if c.ID == "" || !classPattern.MatchString(c.ID) {
		return "", fmt.Errorf("svgchart: id %q is not lower-case letters, digits and dashes", c.ID)
	}
	v := view{Chart: c, Width: width, Height: height}
	if len(c.Labels) > 0 && len(c.Series) > 0 {
		switch c.Kind {
		case Columns:
			v.columns()
		case Line:
			v.line()
		case Bars:
			v.bars()
		}
		v.table()
	}
	var b bytes.Buffer
	if err := chartTemplate.Execute(&b, v); err != nil {
		return "", fmt.Errorf("svgchart %s: %w", c.ID, err)
	}
	// Written by html/template, which escaped every label: safe to embed.
	return template.HTML(b.String()), nil
}

// top is the value axis' end: the largest value (stacked, for columns)
// rounded up to a figure that reads well, at least 1.
func (v *view) top(stacked bool) float64 {
	m := 0.0
	for i := range v.Labels {
		sum := 0.0
		for _, s := range v.Series {
			if stacked {
				sum += s.Values[i]
			} else {
				sum = max(sum, s.Values[i])
			}
		}
		m = max(m, sum)
	}
	return niceCeil(m)
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(f float64) float64 {
	if f <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(f)))
	for _, m := range []float64{1, 2, 5, 10} {
		if f <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// valueAxis writes the vertical axis for values 0 to top.
func (v *view) valueAxis(top float64) {
	plotBottom := float64(height - marginBot)
	v.AxisX1, v.AxisY1, v.AxisX2, v.AxisY2 = marginLeft, marginTop, marginLeft, plotBottom
	for _, f := range []float64{0, top / 2, top} {
		y := plotBottom - f/top*(plotBottom-marginTop)
		v.Texts = append(v.Texts, text{X: marginLeft - 4, Y: y + 4, Anchor: "end", Text: strconv.FormatFloat(f, 'f', -1, 64)})
	}
}

// labelAxis writes at most maxXLabels of the labels under their columns.
func (v *view) labelAxis(center func(i int) float64) {
	every := (len(v.Labels) + maxXLabels - 1) / maxXLabels
	for i, l := range v.Labels {
		if i%every == 0 {
			v.Texts = append(v.Texts, text{X: center(i), Y: height - 6, Anchor: "middle", Text: l})
		}
	}
}

func (v *view) columns() {
	top := v.top(true)
	v.valueAxis(top)
	plotBottom := float64(height - marginBot)
	col := float64(width-marginLeft) / float64(len(v.Labels))
	for i, l := range v.Labels {
		y := plotBottom
		for _, s := range v.Series {
			if s.Values[i] <= 0 {
				continue
			}
			h := s.Values[i] / top * (plotBottom - marginTop)
			y -= h
			w := min(col*0.8, maxColumn)
			v.Shapes = append(v.Shapes, shape{Class: s.Class, X: marginLeft + (float64(i)+0.5)*col - w/2, Y: y, W: w, H: h,
				Title: fmt.Sprintf("%s, %s: %s", l, s.Name, figure(s.Values[i]))})
		}
	}
	v.labelAxis(func(i int) float64 { return marginLeft + (float64(i)+0.5)*col })
}

func (v *view) line() {
	top := v.top(false)
	v.valueAxis(top)
	plotBottom := float64(height - marginBot)
	step := float64(width-marginLeft) / float64(len(v.Labels))
	x := func(i int) float64 { return marginLeft + (float64(i)+0.5)*step }
	for _, s := range v.Series {
		ln := line{Class: s.Class}
		for i, f := range s.Values {
			y := plotBottom - f/top*(plotBottom-marginTop)
			if i > 0 {
				ln.Points += " "
			}
			ln.Points += strconv.FormatFloat(x(i), 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64)
			ln.Dots = append(ln.Dots, shape{Class: s.Class, X: x(i), Y: y, Title: fmt.Sprintf("%s, %s: %s", v.Labels[i], s.Name, figure(f))})
		}
		v.Lines = append(v.Lines, ln)
	}
	v.labelAxis(x)
}

func (v *view) bars() {
	top := v.top(true)
	v.Height = float64(marginTop + barRow*len(v.Labels) + marginTop)
	v.AxisX1, v.AxisY1, v.AxisX2, v.AxisY2 = barsLeft, marginTop, barsLeft, v.Height-marginTop
	plot := float64(width-barsLeft) - 40 // room for the figure after the bar
	for i, l := range v.Labels {
		y := float64(marginTop + i*barRow)
		x, total := float64(barsLeft), 0.0
		for _, s := range v.Series {
			if s.Values[i] <= 0 {
				continue
			}
			w := s.Values[i] / top * plot
			v.Shapes = append(v.Shapes, shape{Class: s.Class, X: x, Y: y + 3, W: w, H: barRow - 6,
				Title: fmt.Sprintf("%s, %s: %s", l, s.Name, figure(s.Values[i]))})
			x += w
			total += s.Values[i]
		}
		v.Texts = append(v.Texts,
			text{X: barsLeft - 6, Y: y + barRow/2 + 4, Anchor: "end", Text: cut(l, maxBarLabel)},
			text{X: x + 4, Y: y + barRow/2 + 4, Anchor: "start", Text: figure(total)})
	}
}

func (v *view) table() {
	for i, l := range v.Labels {
		r := row{Label: l}
		for _, s := range v.Series {
			r.Values = append(r.Values, figure(s.Values[i]))
		}
		v.Rows = append(v.Rows, r)
	}
}

// cut shortens s to at most n characters, marking the cut with "…".
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// figure writes a value as people read it: whole numbers without a point.
func figure(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}
