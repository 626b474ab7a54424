package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Colours. Combined methods and chains use the Okabe–Ito palette (Okabe &
// Ito 2008, "Color Universal Design"), which people with the common
// colour-vision deficiencies can tell apart; its black is kept for the
// reference and its yellow, too light on white for lines, is left out.
// Subposteriors use Paul Tol's "muted" scheme (Tol 2021, "Colour Schemes",
// SRON/EPS/TN/09-002), nine colours meant for many thin lines, likewise
// safe for colour-blind readers; beyond nine, dash patterns tell the
// lines apart.
var (
	white     = color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	black     = color.NRGBA{A: 255}
	grey      = color.NRGBA{R: 0x77, G: 0x77, B: 0x77, A: 255}
	lightGrey = color.NRGBA{R: 0xdd, G: 0xdd, B: 0xdd, A: 255}
	midGrey   = color.NRGBA{R: 0xbb, G: 0xbb, B: 0xbb, A: 255}

	okabeIto = []color.NRGBA{
		{R: 0x00, G: 0x72, B: 0xB2, A: 255}, // blue
		{R: 0xD5, G: 0x5E, B: 0x00, A: 255}, // vermillion
		{R: 0x00, G: 0x9E, B: 0x73, A: 255}, // bluish green
		{R: 0xCC, G: 0x79, B: 0xA7, A: 255}, // reddish purple
		{R: 0xE6, G: 0x9F, B: 0x00, A: 255}, // orange
		{R: 0x56, G: 0xB4, B: 0xE9, A: 255}, // sky blue
	}
	tolMuted = []color.NRGBA{
		{R: 0xCC, G: 0x66, B: 0x77, A: 255}, // rose
		{R: 0x33, G: 0x22, B: 0x88, A: 255}, // indigo
		{R: 0xDD, G: 0xCC, B: 0x77, A: 255}, // sand
		{R: 0x11, G: 0x77, B: 0x33, A: 255}, // green
		{R: 0x88, G: 0xCC, B: 0xEE, A: 255}, // cyan
		{R: 0x88, G: 0x22, B: 0x55, A: 255}, // wine
		{R: 0x44, G: 0xAA, B: 0x99, A: 255}, // teal
		{R: 0x99, G: 0x99, B: 0x33, A: 255}, // olive
		{R: 0xAA, G: 0x44, B: 0x99, A: 255}, // purple
	}
	// dashCycles are the dash patterns used once a palette's colours run
	// out: solid, then dashed, dotted and dash-dotted.
	dashCycles = [][]vg.Length{
		nil,
		{vg.Points(4), vg.Points(2)},
		{vg.Points(1), vg.Points(1.5)},
		{vg.Points(5), vg.Points(1.5), vg.Points(1), vg.Points(1.5)},
	}
)

// withAlpha returns c with opacity a in [0, 1].
func withAlpha(c color.NRGBA, a float64) color.NRGBA {
	c.A = uint8(math.Round(a * 255))
	return c
}

// Line widths.
var (
	thinWidth  = vg.Points(0.9)
	thickWidth = vg.Points(2.2)
	refWidth   = vg.Points(1.6)
	refDashes  = []vg.Length{vg.Points(5), vg.Points(3)}
)

// Font sizes, chosen to stay readable at the default figure sizes.
const (
	titleSize  = 13
	subSize    = 10.5
	panelSize  = 10.5
	labelSize  = 10
	tickSize   = 8.5
	legendSize = 10
)

// houseFont is Liberation Sans (metric-compatible with Arial), which reads
// better than gonum's default serif at small sizes.
var houseFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   black,
		Font:    font.From(houseFont, size),
		Handler: gonum.DefaultTextHandler,
	}
}

// styles assigns line styles to the sets of a figure: subposteriors thin
// and in Tol's muted colours, combined sets thick in Okabe–Ito colours, the
// reference dashed black.
func styles(sets []Set) []draw.LineStyle {
	out := make([]draw.LineStyle, len(sets))
	nsub, ncomb := 0, 0
	for i, s := range sets {
		switch s.Role {
		case Subposterior:
			c := tolMuted[nsub%len(tolMuted)]
			out[i] = draw.LineStyle{Color: withAlpha(c, 0.9), Width: thinWidth, Dashes: dashCycles[(nsub/len(tolMuted))%len(dashCycles)]}
			nsub++
		case Reference:
			out[i] = draw.LineStyle{Color: black, Width: refWidth, Dashes: refDashes}
		default:
			c := okabeIto[ncomb%len(okabeIto)]
			out[i] = draw.LineStyle{Color: c, Width: thickWidth, Dashes: dashCycles[(ncomb/len(okabeIto))%len(dashCycles)]}
			ncomb++
		}
	}
	return out
}

// chainStyle is the line style of chain c in trace plots.
func chainStyle(c int) draw.LineStyle {
	col := okabeIto[c%len(okabeIto)]
	return draw.LineStyle{Color: withAlpha(col, 0.8), Width: vg.Points(0.6), Dashes: dashCycles[(c/len(okabeIto))%len(dashCycles)]}
}

// newPanel returns an empty panel with the house fonts.
func newPanel() *gonum.Plot {
	p := gonum.New()
	p.Title.TextStyle.Font = font.From(houseFont, panelSize)
	p.Title.Padding = vg.Points(3)
	for _, ax := range []*gonum.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(houseFont, labelSize)
		ax.Tick.Label.Font = font.From(houseFont, tickSize)
		ax.Tick.Length = vg.Points(3)
		ax.Padding = vg.Points(2)
		ax.Label.Padding = vg.Points(2)
	}
	p.BackgroundColor = nil
	return p
}

// hideYAxis removes the y axis of a density panel (the density's scale
// says nothing a reader needs).
func hideYAxis(p *gonum.Plot) {
	p.Y.LineStyle.Width = 0
	p.Y.Tick.Length = 0
	p.Y.Tick.Marker = gonum.ConstantTicks(nil)
	p.Y.Padding = 0
}

// blankTicks keeps an axis' major tick marks but drops their labels (and
// the minor ticks), for inner panels of a grid: unlabelled ticks take no
// room, so the panels can sit close together.
type blankTicks struct{ gonum.Ticker }

func (b blankTicks) Ticks(min, max float64) []gonum.Tick {
	ts := b.Ticker.Ticks(min, max)
	out := make([]gonum.Tick, 0, len(ts))
	for _, t := range ts {
		if t.Label != "" {
			out = append(out, gonum.Tick{Value: t.Value})
		}
	}
	return out
}

// ticks is the house tick marker: gonum's default choice of positions,
// labelled with as few digits as print them exactly, in plain decimals
// unless the numbers are very large or very small.
type ticks struct{}

func (ticks) Ticks(min, max float64) []gonum.Tick {
	ts := gonum.DefaultTicks{}.Ticks(min, max)
	var major []float64
	for _, t := range ts {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	labels := tickLabels(major)
	k := 0
	for i, t := range ts {
		if t.Label != "" {
			ts[i].Label = labels[k]
			k++
		}
	}
	return ts
}

// tickLabels formats evenly spaced tick values.
func tickLabels(vs []float64) []string {
	out := make([]string, len(vs))
	if len(vs) == 0 {
		return out
	}
	step, big, small := math.Inf(1), 0.0, math.Inf(1)
	for i := 1; i < len(vs); i++ {
		step = math.Min(step, vs[i]-vs[i-1])
	}
	for _, v := range vs {
		// Values within rounding of zero are zero.
		if a := math.Abs(v); a > 0 && (math.IsInf(step, 1) || a > 1e-9*step) {
			big, small = math.Max(big, a), math.Min(small, a)
		}
	}
	tol := 1e-6 * step
	if math.IsInf(step, 1) {
		tol = 1e-9 * math.Max(big, 1e-300)
	}
	exact := func(f byte, p int) bool {
		for _, v := range vs {
			got, _ := strconv.ParseFloat(strconv.FormatFloat(v, f, p, 64), 64)
			if math.Abs(got-v) > tol {
				return false
			}
		}
		return true
	}
	f, p := byte('f'), 0
	if big >= 1e6 || small < 1e-4 {
		f, p = 'e', 0
	}
	for p < 12 && !exact(f, p) {
		p++
	}
	for i, v := range vs {
		if v == 0 || (!math.IsInf(step, 1) && math.Abs(v) <= 1e-9*step) {
			v = 0
		}
		s := strconv.FormatFloat(v, f, p, 64)
		if v == 0 {
			s = strconv.FormatFloat(0, 'f', max(p, 0), 64)
			if f == 'e' {
				s = "0"
			}
		}
		if s[0] == '-' {
			s = "−" + s[1:] // a true minus sign
		}
		out[i] = s
	}
	return out
}

// outerTicks puts the house ticks on an axis, with labels only when label
// is true.
func outerTicks(ax *gonum.Axis, label bool) {
	if label {
		ax.Tick.Marker = ticks{}
	} else {
		ax.Tick.Marker = blankTicks{ticks{}}
	}
}

// drawTitle writes the figure's title (and a smaller second line, if any)
// at the top of c, each wrapped to the width of c, and returns the canvas
// below them.
func drawTitle(c draw.Canvas, title, sub string) draw.Canvas {
	top := c.Max.Y - vg.Points(6)
	width := c.Max.X - c.Min.X - vg.Points(12)
	for k, txt := range []string{title, sub} {
		if txt == "" {
			continue
		}
		sty := textStyle(titleSize)
		if k == 1 {
			sty = textStyle(subSize)
			sty.Color = color.NRGBA{R: 0x33, G: 0x33, B: 0x33, A: 255}
		}
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YTop
		for _, line := range wrap(txt, sty, width) {
			c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top}, line)
			top -= sty.Rectangle(line).Size().Y
		}
		top -= vg.Points(3)
	}
	top -= vg.Points(3)
	return draw.Crop(c, 0, 0, 0, top-c.Max.Y)
}

// titleHeight is the height drawTitle takes on a figure of the given
// width.
func titleHeight(title, sub string, width vg.Length) vg.Length {
	h := vg.Points(12)
	width -= vg.Points(12)
	for k, txt := range []string{title, sub} {
		if txt == "" {
			continue
		}
		sty := textStyle(titleSize)
		if k == 1 {
			sty = textStyle(subSize)
		}
		for _, line := range wrap(txt, sty, width) {
			h += sty.Rectangle(line).Size().Y
		}
		h += vg.Points(3)
	}
	return h
}

// wrap breaks s into lines no wider than width, preferably at the " · "
// between the parts of a description, otherwise at spaces.
func wrap(s string, sty text.Style, width vg.Length) []string {
	fits := func(t string) bool { return sty.Rectangle(t).Size().X <= width }
	if fits(s) {
		return []string{s}
	}
	var lines []string
	for _, sep := range []string{" · ", " "} {
		parts := strings.Split(s, sep)
		if len(parts) == 1 {
			continue
		}
		lines = lines[:0]
		cur := parts[0]
		for _, p := range parts[1:] {
			if fits(cur + sep + p) {
				cur += sep + p
				continue
			}
			lines = append(lines, cur)
			cur = p
		}
		lines = append(lines, cur)
		ok := true
		for _, l := range lines {
			if !fits(l) {
				ok = false
			}
		}
		if ok {
			return lines
		}
	}
	if len(lines) == 0 {
		return []string{s}
	}
	return lines // some word is wider than the figure
}

// headerHeight is the height of a panel header of n lines at size.
func headerHeight(n int, size vg.Length) vg.Length {
	return vg.Length(n)*textStyle(size).Rectangle("Ag").Size().Y + vg.Points(4)
}

// header writes txt (lines separated by newlines) centred above the data
// area r of a panel. Panels with tick labels on one side have their data
// area off the centre of their canvas, so a gonum plot title, centred on
// the canvas, would sit off to one side; headers line up with the data.
func header(c draw.Canvas, r vg.Rectangle, txt string, size vg.Length) {
	sty := textStyle(size)
	sty.XAlign = draw.XCenter
	sty.YAlign = draw.YBottom
	lines := strings.Split(txt, "\n")
	y := r.Max.Y + vg.Points(3)
	for i := len(lines) - 1; i >= 0; i-- {
		c.FillText(sty, vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: y}, lines[i])
		y += sty.Rectangle("Ag").Size().Y
	}
}

// newLegend returns an empty legend in the house style.
func newLegend() gonum.Legend {
	l := gonum.NewLegend()
	l.TextStyle = textStyle(legendSize)
	l.Top = true
	l.Left = true
	l.ThumbnailWidth = vg.Points(26)
	l.Padding = vg.Points(2)
	return l
}

// legendWidth is the width of legend l with its margins.
func legendWidth(l gonum.Legend) vg.Length {
	c := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: 100 * vg.Inch, Y: 100 * vg.Inch}}}
	r := l.Rectangle(c)
	return r.Size().X + vg.Points(16)
}

// legendHeight is the height of legend l.
func legendHeight(l gonum.Legend) vg.Length {
	c := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: 100 * vg.Inch, Y: 100 * vg.Inch}}}
	return l.Rectangle(c).Size().Y
}

// legendRight draws l at the top right of c, in a strip of the given
// width, and returns the canvas left of the strip.
func legendRight(c draw.Canvas, l gonum.Legend, width vg.Length) draw.Canvas {
	strip := draw.Crop(c, c.Max.X-c.Min.X-width+vg.Points(8), -vg.Points(4), 0, -vg.Points(6))
	l.Draw(strip)
	return draw.Crop(c, 0, -width, 0, 0)
}

// lineThumb is a legend thumbnail of a line style.
type lineThumb draw.LineStyle

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle(t), c.Min.X, y, c.Max.X, y)
}

// boxThumb is a legend thumbnail of a filled box, height frac of the
// entry.
type boxThumb struct {
	color color.Color
	frac  float64
}

func (t boxThumb) Thumbnail(c *draw.Canvas) {
	cy := c.Center().Y
	h := (c.Max.Y - c.Min.Y) * vg.Length(t.frac) / 2
	c.FillPolygon(t.color, []vg.Point{{X: c.Min.X, Y: cy - h}, {X: c.Max.X, Y: cy - h}, {X: c.Max.X, Y: cy + h}, {X: c.Min.X, Y: cy + h}})
}

// safely runs draw, turning a panic inside the plotting library into an
// error: plots are made from user data and must not crash the program.
func safely(what string, draw func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: drawing %s failed: %v", what, r)
		}
	}()
	return draw()
}

// gridShape returns the columns and rows of a grid of n panels with at
// most maxCols columns, as square as possible.
func gridShape(n, maxCols int) (cols, rows int) {
	cols = int(math.Ceil(math.Sqrt(float64(n))))
	if cols > maxCols {
		cols = maxCols
	}
	if cols < 1 {
		cols = 1
	}
	rows = (n + cols - 1) / cols
	return cols, rows
}

// tooSmall reports a figure too small for its panels: each panel needs at
// least minW × minH.
func tooSmall(what string, c draw.Canvas, cols, rows int, minW, minH vg.Length) error {
	if w, h := c.Max.X-c.Min.X, c.Max.Y-c.Min.Y; w < vg.Length(cols)*minW || h < vg.Length(rows)*minH {
		return fmt.Errorf("plot: the figure is too small for %s (%d×%d panels); make it larger or show fewer parameters", what, cols, rows)
	}
	return nil
}
