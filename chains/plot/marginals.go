package plot

import (
	"io"
	"math"

	"golang.org/x/sync/errgroup"
	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/epmc/epmc/kde"
)

// Range padding of marginal and corner plots; see marginalsOf.
const (
	padMarginal = 0.08
	padPairs    = 0.13
)

// marginal is one parameter's 1-D densities, one curve per set, on a shared
// x range.
type marginal struct {
	name   string
	lo, hi float64
	xs     []float64
	ys     [][]float64 // nil for a set whose draws are constant
	sums   []summary
	ymax   float64
}

// marginalsOf computes the marginal densities of the named parameters in
// every set, spreading the parameters over goroutines; each result depends
// only on its own inputs, so the output is the same for any schedule.
//
// Each set's range is its central 99 % widened by the fraction pad of its
// width on each side: 0.08 puts a normal's ends at ±3σ, where its density
// has fallen to 1 % of its peak; corner plots need 0.13 (±3.2σ) to hold the
// 99 % contour.
func marginalsOf(sets []Set, names []string, pad float64) ([]marginal, error) {
	out := make([]marginal, len(names))
	var g errgroup.Group
	g.SetLimit(workers())
	for k, name := range names {
		g.Go(func() error {
			m := marginal{name: name, sums: make([]summary, len(sets)), ys: make([][]float64, len(sets))}
			for i, s := range sets {
				m.sums[i] = summarise(sampleOf(s, name), pad)
			}
			b := boundsOf(sets, name)
			m.lo, m.hi = axisRange(m.sums, b)
			m.xs = kde.Axis(m.lo, m.hi, grid1D)
			for i := range sets {
				ys, err := density1D(m.sums[i], m.lo, m.hi, grid1D, b)
				if err != nil {
					return err
				}
				m.ys[i] = ys
				for _, y := range ys {
					m.ymax = math.Max(m.ymax, y)
				}
			}
			if m.ymax == 0 {
				m.ymax = 1
			}
			out[k] = m
			return nil
		})
	}
	return out, g.Wait()
}

// drawOrder returns the indices of sets in the order their curves are
// drawn: subposteriors first (underneath), then combined, the reference on
// top so that its dashes stay visible.
func drawOrder(sets []Set) []int {
	var idx []int
	for _, r := range []Role{Subposterior, Combined, Reference} {
		for i, s := range sets {
			if s.Role == r {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

// addDensities adds the curves of m to panel p with the sets' styles.
func addDensities(p *gonum.Plot, m marginal, sets []Set, sty []draw.LineStyle) error {
	for _, i := range drawOrder(sets) {
		if m.ys[i] == nil {
			// Constant draws: a point mass, drawn as a vertical line.
			v := m.sums[i].xs[0]
			p.Add(&segments{style: sty[i], segs: [][4]float64{{v, 0, v, m.ymax * 1.04}}})
			continue
		}
		xy := make(plotter.XYs, len(m.xs))
		for j := range m.xs {
			xy[j].X, xy[j].Y = m.xs[j], m.ys[i][j]
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.LineStyle = sty[i]
		p.Add(l)
	}
	p.X.Min, p.X.Max = m.lo, m.hi
	p.Y.Min, p.Y.Max = 0, m.ymax*1.06
	return nil
}

// setsLegend returns the legend of a figure's sets, in drawing-role order:
// combined sets and the reference first (what the reader compares), then
// the subposteriors.
func setsLegend(sets []Set, sty []draw.LineStyle) gonum.Legend {
	l := newLegend()
	for _, r := range []Role{Combined, Reference, Subposterior} {
		for i, s := range sets {
			if s.Role == r {
				l.Add(s.Label, lineThumb(sty[i]))
			}
		}
	}
	return l
}

// Marginals draws one panel per parameter with each set's marginal
// density: subposteriors as thin coloured lines, combined sets as thick
// lines, the reference dashed black. Every panel's x range covers the
// central 99 % of every set (plus a margin), so all curves fit and stray
// draws do not squash the picture. Densities are Gaussian kernel estimates
// (kde.Grid) with R's default bandwidth (nrd0), reflected at the bounds of
// constrained parameters recorded in the metadata; weighted draws
// (.log_weight) are weighted.
func Marginals(w io.Writer, sets []Set, opts Options) error {
	_, err := marginals(w, sets, opts)
	return err
}

func marginals(w io.Writer, sets []Set, opts Options) (layout, error) {
	if err := checkRoles(sets); err != nil {
		return layout{}, err
	}
	names, total, err := Shown(sets, opts)
	if err != nil {
		return layout{}, err
	}
	ms, err := marginalsOf(sets, names, padMarginal)
	if err != nil {
		return layout{}, err
	}
	sty := styles(sets)
	leg := setsLegend(sets, sty)
	title, sub := opts.Title, ""
	if title == "" {
		title = "Marginal posterior densities" + cutNote(len(names), total)
		sub = describe(sets)
	}
	cols, rows := gridShape(len(names), 4)
	panelW, panelH := 2.7*vg.Inch, 2.0*vg.Inch
	lw := legendWidth(leg)
	natW := vg.Length(cols)*panelW + lw + vg.Points(10)
	th := titleHeight(title, sub, natW)
	natH := vg.Length(rows)*panelH + th + vg.Points(6)
	natH = vg.Length(math.Max(float64(natH), float64(legendHeight(leg)+th+vg.Points(12))))
	fig, err := newFigure(opts, natW, natH)
	if err != nil {
		return layout{}, err
	}
	err = safely("marginals", func() error {
		c := drawTitle(fig.dc, title, sub)
		c = legendRight(c, leg, lw)
		c = draw.Crop(c, vg.Points(6), 0, vg.Points(4), 0)
		if err := tooSmall("the marginals", c, cols, rows, vg.Inch, 0.8*vg.Inch); err != nil {
			return err
		}
		plots := make([][]*gonum.Plot, rows)
		for r := range plots {
			plots[r] = make([]*gonum.Plot, cols)
		}
		for k, m := range ms {
			p := newPanel()
			p.Title.Text = m.name
			if err := addDensities(p, m, sets, sty); err != nil {
				return err
			}
			hideYAxis(p)
			outerTicks(&p.X, true)
			plots[k/cols][k%cols] = p
		}
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(10), PadBottom: vg.Points(2)}
		fig.drawGrid(plots, tiles, c)
		return nil
	})
	if err != nil {
		return layout{}, err
	}
	return fig.layout, fig.writeTo(w)
}
