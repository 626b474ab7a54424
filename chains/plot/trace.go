package plot

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/epmc/epmc/chains"
)

// maxTracePoints is the number of points above which a trace line is
// thinned for drawing (see decimate).
const maxTracePoints = 2000

// decimate returns the points (t, x[t]) of one chain's series, starting at
// iteration first, thinned to about maxTracePoints: above that the series
// is cut into buckets and each keeps its minimum and maximum in their
// order, so the drawn line keeps every excursion (a plain thinning would
// hide stuck stretches and spikes).
func decimate(x []float64, first int) plotter.XYs {
	n := len(x)
	if n <= maxTracePoints {
		xy := make(plotter.XYs, n)
		for t, v := range x {
			xy[t] = plotter.XY{X: float64(first + t), Y: v}
		}
		return xy
	}
	buckets := maxTracePoints / 2
	xy := make(plotter.XYs, 0, 2*buckets)
	for b := range buckets {
		lo, hi := b*n/buckets, (b+1)*n/buckets
		imin, imax := lo, lo
		for t := lo; t < hi; t++ {
			if x[t] < x[imin] {
				imin = t
			}
			if x[t] > x[imax] {
				imax = t
			}
		}
		a, c := min(imin, imax), max(imin, imax)
		xy = append(xy, plotter.XY{X: float64(first + a), Y: x[a]})
		if c != a {
			xy = append(xy, plotter.XY{X: float64(first + c), Y: x[c]})
		}
	}
	return xy
}

// traceRange returns the y range of a trace panel: every post-warmup draw
// and the central 98 % of the saved warmup draws (the first warmup
// iterations can lie far out, and would flatten the rest; their lines run
// off the panel instead).
func traceRange(post, warm [][]float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range post {
		for _, v := range s {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	var all []float64
	for _, s := range warm {
		all = append(all, s...)
	}
	if len(all) > 0 {
		sort.Float64s(all)
		q := quantiles(all, nil, 0.01, 0.99)
		lo, hi = math.Min(lo, q[0]), math.Max(hi, q[1])
	}
	if !(hi > lo) {
		d := math.Max(math.Abs(lo)*0.05, 0.5)
		lo, hi = lo-d, hi+d
	}
	pad := 0.04 * (hi - lo)
	return lo - pad, hi + pad
}

// Trace draws one panel per parameter with one line per chain against the
// iteration number; saved warmup draws (Draws.Warmup > 0) come first, on a
// grey background. Chains longer than 2000 iterations are drawn from the
// minimum and maximum of each of 1000 stretches, which keeps every
// excursion visible.
func Trace(w io.Writer, set Set, opts Options) error {
	_, err := trace(w, set, opts)
	return err
}

func trace(w io.Writer, set Set, opts Options) (layout, error) {
	names, total, err := Shown([]Set{set}, opts)
	if err != nil {
		return layout{}, err
	}
	d := set.Draws
	nc := d.NumChains()
	leg := newLegend()
	for c := range nc {
		sty := chainStyle(c)
		sty.Width = vg.Points(1.6)
		sty.Color = withAlpha(okabeIto[c%len(okabeIto)], 1)
		leg.Add(fmt.Sprintf("chain %d", c+1), lineThumb(sty))
	}
	if d.Warmup > 0 {
		leg.Add("warmup", boxThumb{color: lightGrey, frac: 0.9})
	}
	title, sub := opts.Title, ""
	if title == "" {
		title = "Trace plots: " + set.Label + cutNote(len(names), total)
		sub = traceSub(set)
	}
	cols := 1
	if len(names) > 4 {
		cols = 2
	}
	rows := (len(names) + cols - 1) / cols
	panelW, panelH := 5.2*vg.Inch, 1.45*vg.Inch
	lw := legendWidth(leg)
	natW := vg.Length(cols)*panelW + lw + vg.Points(10)
	th := titleHeight(title, sub, natW)
	natH := vg.Length(rows)*panelH + th + vg.Points(6)
	natH = max(natH, legendHeight(leg)+th+vg.Points(12))
	fig, err := newFigure(opts, natW, natH)
	if err != nil {
		return layout{}, err
	}
	err = safely("trace", func() error {
		c := drawTitle(fig.dc, title, sub)
		c = legendRight(c, leg, lw)
		c = draw.Crop(c, vg.Points(4), 0, vg.Points(4), 0)
		if err := tooSmall("the trace plots", c, cols, rows, 1.5*vg.Inch, 0.6*vg.Inch); err != nil {
			return err
		}
		plots := make([][]*gonum.Plot, rows)
		for r := range plots {
			plots[r] = make([]*gonum.Plot, cols)
		}
		niter := d.Warmup + d.NumIter()
		for k, name := range names {
			v := d.Index(name)
			post, warm := d.Series(v), d.WarmupSeries(v)
			lo, hi := traceRange(post, warm)
			p := newPanel()
			p.Title.Text = name
			if d.Warmup > 0 {
				p.Add(&rects{color: lightGrey, rs: [][4]float64{{0.5, lo, float64(d.Warmup) + 0.5, hi}}})
			}
			for ch := range nc {
				l, err := plotter.NewLine(decimate(d.Values[ch][v], 1))
				if err != nil {
					return fmt.Errorf("%s, chain %d: %w", name, ch+1, err)
				}
				l.LineStyle = chainStyle(ch)
				p.Add(l)
			}
			p.X.Min, p.X.Max = 0.5, float64(niter)+0.5
			p.Y.Min, p.Y.Max = lo, hi
			outerTicks(&p.X, k+cols >= len(names))
			outerTicks(&p.Y, true)
			if k+cols >= len(names) {
				p.X.Label.Text = "iteration"
			}
			plots[k/cols][k%cols] = p
		}
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(16), PadY: vg.Points(8)}
		fig.drawGrid(plots, tiles, c)
		return nil
	})
	if err != nil {
		return layout{}, err
	}
	return fig.layout, fig.writeTo(w)
}

// traceSub describes one set's chains for trace and rank titles: the
// model, where the draws come from, and the number of chains and draws.
func traceSub(set Set) string {
	d := set.Draws
	m := d.Meta
	var parts []string
	parts = append(parts, modelName(m))
	switch m.Kind {
	case chains.KindSubposterior:
		if m.Shards > 0 {
			parts = append(parts, fmt.Sprintf("subposterior of shard %d (of 0–%d)", m.Shard, m.Shards-1))
		}
	case chains.KindCombined:
		if n := jsonInt(m.Combine, "shards"); n > 0 {
			parts = append(parts, fmt.Sprintf("combined from M = %d shards", n))
		}
	}
	s := fmt.Sprintf("%d chains × %d draws", d.NumChains(), d.NumIter())
	if d.NumChains() == 1 {
		s = fmt.Sprintf("1 chain × %d draws", d.NumIter())
	}
	if d.Warmup > 0 {
		s += fmt.Sprintf(" after %d warmup", d.Warmup)
	}
	parts = append(parts, s)
	return joinParts(parts)
}

func joinParts(parts []string) string {
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += " · "
		}
		out += p
	}
	return out
}
