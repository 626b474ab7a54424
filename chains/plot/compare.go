package plot

import (
	"errors"
	"fmt"
	"io"
	"math"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// standardised is one method's view of one parameter, in units of the
// reference: (θ − reference mean) / reference sd.
type standardised struct {
	q05, q25, q50, q75, q95 float64
	meanErr                 float64 // (mean − reference mean) / reference sd
	sdRatio                 float64 // sd / reference sd
}

func standardise(m, ref summary) standardised {
	z := func(v float64) float64 { return (v - ref.mean) / ref.sd }
	return standardised{
		q05: z(m.q05), q25: z(m.q25), q50: z(m.q50), q75: z(m.q75), q95: z(m.q95),
		meanErr: z(m.mean), sdRatio: m.sd / ref.sd,
	}
}

// Compare draws one panel per combined set (per method) so that methods
// can be judged side by side against the reference, every parameter on one
// row. Each parameter is put on the reference's scale, (θ − reference
// mean) / reference sd, so parameters of any size share one axis and a
// perfect method looks the same everywhere: the reference's central 50 %
// and 90 % intervals are grey boxes (with a tick at its median), and the
// method's are a thick and a thin line with a dot at its median. A shift
// of the lines against the boxes is bias, lines longer or shorter than the
// boxes are over- or under-dispersion; the panel title gives the largest
// |mean error| and the range of sd ratios. Marginals shows the shapes of
// the densities; this figure is for judging many parameters and methods
// at a glance. Subposterior sets are ignored; parameters whose reference
// draws are constant are skipped.
func Compare(w io.Writer, sets []Set, opts Options) error {
	_, err := compare(w, sets, opts)
	return err
}

func compare(w io.Writer, sets []Set, opts Options) (layout, error) {
	if err := checkRoles(sets); err != nil {
		return layout{}, err
	}
	var ref *Set
	var methods []Set
	for i, s := range sets {
		switch s.Role {
		case Reference:
			ref = &sets[i]
		case Combined:
			methods = append(methods, s)
		}
	}
	if ref == nil {
		return layout{}, errors.New("plot: compare needs a reference set (a full-data run)")
	}
	if len(methods) == 0 {
		return layout{}, errors.New("plot: compare needs at least one combined set besides the reference")
	}
	used := append([]Set{*ref}, methods...)
	names, total, err := Shown(used, opts)
	if err != nil {
		return layout{}, err
	}
	// Reference summaries; drop constant parameters.
	var kept []string
	var refs []summary
	for _, name := range names {
		r := summarise(sampleOf(*ref, name), padMarginal)
		if r.sd > 0 {
			kept = append(kept, name)
			refs = append(refs, r)
		}
	}
	if len(kept) == 0 {
		return layout{}, fmt.Errorf("plot: every parameter shown is constant in the reference %s", ref.Label)
	}
	zs := make([][]standardised, len(methods))
	xlo, xhi := -2.0, 2.0
	for i, m := range methods {
		zs[i] = make([]standardised, len(kept))
		for k, name := range kept {
			z := standardise(summarise(sampleOf(m, name), padMarginal), refs[k])
			zs[i][k] = z
			xlo, xhi = math.Min(xlo, z.q05), math.Max(xhi, z.q95)
		}
	}
	for k := range refs {
		r := standardise(refs[k], refs[k])
		xlo, xhi = math.Min(xlo, r.q05), math.Max(xhi, r.q95)
	}
	pad := 0.05 * (xhi - xlo)
	xlo, xhi = xlo-pad, xhi+pad

	allSty := styles(sets)
	var sty []draw.LineStyle
	for i, s := range sets {
		if s.Role == Combined {
			sty = append(sty, allSty[i])
		}
	}
	leg := newLegend()
	leg.Add("reference 50 %", boxThumb{color: midGrey, frac: 0.55})
	leg.Add("reference 90 %", boxThumb{color: lightGrey, frac: 0.55})
	leg.Add("reference median", lineThumb{Color: black, Width: vg.Points(1.2)})
	leg.Add("method 50 %", lineThumb{Color: grey, Width: vg.Points(4)})
	leg.Add("method 90 %", lineThumb{Color: grey, Width: vg.Points(1.2)})
	leg.Add("method median", dotThumb{})

	title, sub := opts.Title, ""
	if title == "" {
		title = "Methods against the reference" + cutNote(len(names), total)
		sub = describe(sets)
	}
	cols, rows := gridShape(len(methods), 4)
	if len(methods) <= 4 {
		cols, rows = len(methods), 1
	}
	rowH := 0.32 * vg.Inch
	panelW := 3.1 * vg.Inch
	panelH := vg.Length(len(kept))*rowH + 0.95*vg.Inch
	lw := legendWidth(leg)
	natW := vg.Length(cols)*panelW + lw + 0.7*vg.Inch
	th := titleHeight(title, sub, natW)
	natH := vg.Length(rows)*panelH + th + vg.Points(6)
	natH = max(natH, legendHeight(leg)+th+vg.Points(12))
	fig, err := newFigure(opts, natW, natH)
	if err != nil {
		return layout{}, err
	}
	err = safely("compare", func() error {
		c := drawTitle(fig.dc, title, sub)
		c = legendRight(c, leg, lw)
		c = draw.Crop(c, vg.Points(4), 0, vg.Points(4), 0)
		if err := tooSmall("the comparison", c, cols, rows, 1.2*vg.Inch, vg.Length(len(kept))*0.12*vg.Inch); err != nil {
			return err
		}
		plots := make([][]*gonum.Plot, rows)
		for r := range plots {
			plots[r] = make([]*gonum.Plot, cols)
		}
		nk := len(kept)
		ticksY := make([]gonum.Tick, nk)
		blankY := make([]gonum.Tick, nk)
		for k, name := range kept {
			ticksY[k] = gonum.Tick{Value: float64(nk - 1 - k), Label: name}
			blankY[k] = gonum.Tick{Value: float64(nk - 1 - k)}
		}
		heads := make([]string, len(methods))
		for i, m := range methods {
			p := newPanel()
			maxErr, sdLo, sdHi := 0.0, math.Inf(1), math.Inf(-1)
			var boxes90, boxes50 [][4]float64
			var refMed, lines90, lines50 [][4]float64
			var meds [][2]float64
			for k := range kept {
				y := float64(nk - 1 - k)
				r := standardise(refs[k], refs[k])
				boxes90 = append(boxes90, [4]float64{r.q05, y - 0.3, r.q95, y + 0.3})
				boxes50 = append(boxes50, [4]float64{r.q25, y - 0.3, r.q75, y + 0.3})
				refMed = append(refMed, [4]float64{r.q50, y - 0.3, r.q50, y + 0.3})
				z := zs[i][k]
				lines90 = append(lines90, [4]float64{z.q05, y, z.q95, y})
				lines50 = append(lines50, [4]float64{z.q25, y, z.q75, y})
				meds = append(meds, [2]float64{z.q50, y})
				maxErr = math.Max(maxErr, math.Abs(z.meanErr))
				sdLo, sdHi = math.Min(sdLo, z.sdRatio), math.Max(sdHi, z.sdRatio)
			}
			col := sty[i].Color
			p.Add(&rects{color: lightGrey, rs: boxes90})
			p.Add(&rects{color: midGrey, rs: boxes50})
			p.Add(&segments{style: draw.LineStyle{Color: black, Width: vg.Points(1.2)}, segs: refMed})
			p.Add(&segments{style: draw.LineStyle{Color: col, Width: vg.Points(1.2)}, segs: lines90})
			p.Add(&segments{style: draw.LineStyle{Color: col, Width: vg.Points(4)}, segs: lines50})
			p.Add(&dots{fill: white, edge: col, radius: vg.Points(2.6), pts: meds})
			heads[i] = fmt.Sprintf("%s\n|Δ mean| ≤ %.2f sd · sd ratio %s", m.Label, maxErr, ratioRange(sdLo, sdHi))
			p.X.Min, p.X.Max = xlo, xhi
			p.Y.Min, p.Y.Max = -0.6, float64(nk)-0.4
			p.X.Tick.Marker = sdTicks{}
			p.X.Label.Text = "(θ − reference mean) / reference sd"
			if i%cols == 0 {
				p.Y.Tick.Marker = gonum.ConstantTicks(ticksY)
			} else {
				p.Y.Tick.Marker = gonum.ConstantTicks(blankY)
			}
			p.Y.Tick.Length = 0
			p.Y.LineStyle.Width = 0
			plots[i/cols][i%cols] = p
		}
		hh := headerHeight(2, panelSize)
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(12), PadY: vg.Points(12) + hh, PadTop: hh}
		canv := fig.drawGrid(plots, tiles, c)
		for i := range methods {
			r, cc := i/cols, i%cols
			header(c, plots[r][cc].DataCanvas(canv[r][cc]).Rectangle, heads[i], panelSize)
		}
		return nil
	})
	if err != nil {
		return layout{}, err
	}
	return fig.layout, fig.writeTo(w)
}

func ratioRange(lo, hi float64) string {
	if fmt.Sprintf("%.2f", lo) == fmt.Sprintf("%.2f", hi) {
		return fmt.Sprintf("%.2f", lo)
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}

// dotThumb is the legend thumbnail of a median dot.
type dotThumb struct{}

func (dotThumb) Thumbnail(c *draw.Canvas) {
	pt := c.Center()
	r := vg.Points(2.6)
	c.DrawGlyph(draw.GlyphStyle{Color: white, Radius: r, Shape: draw.CircleGlyph{}}, pt)
	c.DrawGlyph(draw.GlyphStyle{Color: grey, Radius: r, Shape: draw.RingGlyph{}}, pt)
}

// sdTicks marks whole numbers of standard deviations (every 1, 2, 5, 10, …
// so that there are at most about seven labels), with 0 always among them.
type sdTicks struct{}

func (sdTicks) Ticks(min, max float64) []gonum.Tick {
	step := 1.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50, 100, 200, 500} {
		step = s
		if (max-min)/s <= 7 {
			break
		}
	}
	var vs []float64
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		vs = append(vs, v)
	}
	ts := make([]gonum.Tick, len(vs))
	for i, l := range tickLabels(vs) {
		ts[i] = gonum.Tick{Value: vs[i], Label: l}
	}
	return ts
}
