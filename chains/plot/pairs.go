package plot

import (
	"io"
	"math"

	"golang.org/x/sync/errgroup"
	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// contourSets returns the sets a corner plot shows: the combined sets and
// the reference when there are any, otherwise every set.
func contourSets(sets []Set) []int {
	var idx []int
	for _, i := range drawOrder(sets) {
		if sets[i].Role != Subposterior {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		idx = drawOrder(sets)
	}
	return idx
}

// Pairs draws a corner plot of the combined sets and the reference,
// overlaid (or of every set when there is neither; subposteriors are left
// out otherwise, as Marginals shows them): each parameter's marginal
// densities on the diagonal and, below it, the contours of the joint
// density of each pair of parameters at the levels of the 39 %, 86 % and
// 99 % highest-density regions (the masses within 1, 2 and 3 standard
// deviations of a bivariate normal). Each column shares the x range of its
// parameter's marginal and each row the y range, and only the outer panels
// carry tick labels. Joint densities are Gaussian kernel estimates with a
// full bandwidth matrix by Scott's rule on a grid of up to 96×96 (kde.Grid); the
// colours are those Marginals gives the same sets.
func Pairs(w io.Writer, sets []Set, opts Options) error {
	_, err := pairs(w, sets, opts)
	return err
}

func pairs(w io.Writer, sets []Set, opts Options) (layout, error) {
	if err := checkRoles(sets); err != nil {
		return layout{}, err
	}
	names, total, err := Shown(sets, opts)
	if err != nil {
		return layout{}, err
	}
	// Colours as in the marginals figure of all the sets; then keep only
	// the sets shown.
	allSty := styles(sets)
	var sty []draw.LineStyle
	all := sets
	sets = nil
	for _, i := range contourSets(all) {
		sets = append(sets, all[i])
		sty = append(sty, allSty[i])
	}
	ms, err := marginalsOf(sets, names, padPairs)
	if err != nil {
		return layout{}, err
	}
	k := len(names)
	cset := drawOrder(sets)

	// Joint densities, one goroutine per pair.
	type pair struct{ i, j int } // row i > column j
	var pairs []pair
	for i := range k {
		for j := range i {
			pairs = append(pairs, pair{i, j})
		}
	}
	joint := make([][]*density2D, len(pairs))
	var g errgroup.Group
	g.SetLimit(workers())
	for n, pr := range pairs {
		g.Go(func() error {
			row, col := ms[pr.i], ms[pr.j]
			out := make([]*density2D, len(cset))
			for a, s := range cset {
				d, err := newDensity2D(col.sums[s], row.sums[s], col.lo, col.hi, row.lo, row.hi)
				if err != nil {
					return err
				}
				out[a] = d
			}
			joint[n] = out
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return layout{}, err
	}

	leg := setsLegend(sets, sty)
	title, sub := opts.Title, ""
	if title == "" {
		title = "Pairwise posterior densities" + cutNote(k, total)
		sub = describe(sets) + " · contours: 39 %, 86 %, 99 % HPD"
	}
	panel := vg.Length(math.Max(1.25, math.Min(2.3, 15/float64(k)))) * vg.Inch
	margin := 0.75 * vg.Inch // tick labels and axis labels on the outer panels
	natW := vg.Length(k)*panel + margin
	legendInside := k >= 3
	lw := legendWidth(leg)
	if !legendInside {
		natW += lw
	}
	th := titleHeight(title, sub, natW)
	natH := vg.Length(k)*panel + margin + th
	if !legendInside {
		natH = max(natH, legendHeight(leg)+th+vg.Points(12))
	}
	fig, err := newFigure(opts, natW, natH)
	if err != nil {
		return layout{}, err
	}
	err = safely("pairs", func() error {
		c := drawTitle(fig.dc, title, sub)
		if !legendInside {
			c = legendRight(c, leg, lw)
		}
		c = draw.Crop(c, vg.Points(4), -vg.Points(8), vg.Points(4), 0)
		if err := tooSmall("the pairs plot", c, k, k, 0.5*vg.Inch, 0.5*vg.Inch); err != nil {
			return err
		}
		plots := make([][]*gonum.Plot, k)
		for i := range plots {
			plots[i] = make([]*gonum.Plot, k)
		}
		n := 0
		for i := range k {
			for j := range i {
				p := newPanel()
				for a, s := range cset {
					d := joint[n][a]
					if d == nil || len(d.levels) == 0 {
						continue
					}
					ls := sty[s]
					ls.Width = max(ls.Width*0.6, vg.Points(0.9))
					if sets[s].Role == Reference {
						ls.Width = vg.Points(1.1)
						ls.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
					}
					for _, lines := range d.lines {
						p.Add(&contours{style: ls, lines: lines})
					}
				}
				n++
				p.X.Min, p.X.Max = ms[j].lo, ms[j].hi
				p.Y.Min, p.Y.Max = ms[i].lo, ms[i].hi
				outerTicks(&p.X, i == k-1)
				outerTicks(&p.Y, j == 0)
				if i == k-1 {
					p.X.Label.Text = names[j]
				}
				if j == 0 {
					p.Y.Label.Text = names[i]
				}
				plots[i][j] = p
			}
			p := newPanel()
			if err := addDensities(p, ms[i], sets, sty); err != nil {
				return err
			}
			hideYAxis(p)
			outerTicks(&p.X, i == k-1)
			if i == k-1 {
				p.X.Label.Text = names[i]
			}
			p.Title.Text = names[i]
			p.Title.TextStyle.Font.Size = tickSize + 0.5
			p.Title.Padding = vg.Points(1)
			plots[i][i] = p
		}
		tiles := draw.Tiles{Rows: k, Cols: k, PadX: vg.Points(4), PadY: vg.Points(4)}
		canv := fig.drawGrid(plots, tiles, c)
		if legendInside {
			// The empty upper triangle: from the right edge of the
			// second column to the right edge, down to the first row.
			lc := canv[0][k-1]
			lc.Min.X = canv[0][1].Min.X + vg.Points(12)
			leg.Left = false
			leg.Draw(lc)
		}
		return nil
	})
	if err != nil {
		return layout{}, err
	}
	return fig.layout, fig.writeTo(w)
}
