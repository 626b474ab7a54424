package plot

import (
	"fmt"
	"io"
	"math"
	"sort"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// pooledRanks returns the ranks (1..S, ties averaged) of every draw among
// all chains' draws pooled, in the shape of x: the ranks behind rank plots
// and rank-normalised R-hat (Vehtari et al. 2021, §4.1, §4.3).
func pooledRanks(x [][]float64) [][]float64 {
	type cell struct {
		v    float64
		c, t int
	}
	var all []cell
	for c, s := range x {
		for t, v := range s {
			all = append(all, cell{v, c, t})
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].v < all[b].v })
	out := make([][]float64, len(x))
	for c, s := range x {
		out[c] = make([]float64, len(s))
	}
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		r := float64(i+j+1) / 2 // average of ranks i+1 … j
		for k := i; k < j; k++ {
			out[all[k].c][all[k].t] = r
		}
		i = j
	}
	return out
}

// rankBins returns the number of bins of a rank histogram of a chain of n
// draws: 20 as bayesplot's mcmc_rank_hist, fewer for short chains so that
// each bin expects at least 10 draws.
func rankBins(n int) int {
	return max(1, min(20, n/10))
}

// rankCounts returns, for each chain, the counts of its draws' pooled ranks
// in bins equal-width bins over 1..S.
func rankCounts(ranks [][]float64, bins int) [][]float64 {
	s := 0
	for _, r := range ranks {
		s += len(r)
	}
	out := make([][]float64, len(ranks))
	for c, rs := range ranks {
		out[c] = make([]float64, bins)
		for _, r := range rs {
			b := int((r - 0.5) / float64(s) * float64(bins))
			out[c][min(max(b, 0), bins-1)]++
		}
	}
	return out
}

// Rank draws rank histograms (Vehtari, Gelman, Simpson, Carpenter & Bürkner
// 2021, "Rank-normalization, folding, and localization: an improved R-hat",
// Bayesian Analysis 16(2), §4.3): the post-warmup draws of every chain are
// ranked together, and each chain's ranks are histogrammed, one row of
// panels per parameter and one column per chain. When the chains sample the
// same distribution every histogram is flat; a chain stuck high or low, or
// mixing slowly, shows as a slope or a hump. The dashed line is the
// expected count per bin, and the grey band the central 99 % interval of a
// bin's count for independent draws (binomial, normal approximation);
// autocorrelated draws fluctuate more than that.
func Rank(w io.Writer, set Set, opts Options) error {
	_, err := rank(w, set, opts)
	return err
}

func rank(w io.Writer, set Set, opts Options) (layout, error) {
	names, total, err := Shown([]Set{set}, opts)
	if err != nil {
		return layout{}, err
	}
	d := set.Draws
	nc, n := d.NumChains(), d.NumIter()
	bins := rankBins(n)
	counts := make([][][]float64, len(names))
	ymax := 0.0
	for k, name := range names {
		counts[k] = rankCounts(pooledRanks(d.Series(d.Index(name))), bins)
		for _, cs := range counts[k] {
			for _, v := range cs {
				ymax = math.Max(ymax, v)
			}
		}
	}
	s := float64(nc * n)
	expect := float64(n) / float64(bins)
	p := 1 / float64(bins)
	half := 2.576 * math.Sqrt(float64(n)*p*(1-p))
	ymax = math.Max(ymax, expect+half) * 1.08

	title, sub := opts.Title, ""
	if title == "" {
		title = "Rank histograms: " + set.Label + cutNote(len(names), total)
		sub = traceSub(set) + fmt.Sprintf(" · %d bins · band: 99 %% for independent draws", bins)
	}
	panelW := vg.Length(math.Max(1.3, math.Min(2.4, 9/float64(nc)))) * vg.Inch
	panelH := 1.05 * vg.Inch
	natW := vg.Length(nc)*panelW + 0.9*vg.Inch
	th := titleHeight(title, sub, natW)
	natH := vg.Length(len(names))*panelH + th + 0.5*vg.Inch
	fig, err := newFigure(opts, natW, natH)
	if err != nil {
		return layout{}, err
	}
	err = safely("rank", func() error {
		c := drawTitle(fig.dc, title, sub)
		c = draw.Crop(c, vg.Points(4), -vg.Points(8), vg.Points(4), 0)
		if err := tooSmall("the rank histograms", c, nc, len(names), 0.5*vg.Inch, 0.45*vg.Inch); err != nil {
			return err
		}
		plots := make([][]*gonum.Plot, len(names))
		for k, name := range names {
			plots[k] = make([]*gonum.Plot, nc)
			for ch := range nc {
				pl := newPanel()
				pl.Add(&rects{color: lightGrey, rs: [][4]float64{{0, expect - half, s, expect + half}}})
				hist := &plotter.Histogram{Width: s / float64(bins)}
				for b, v := range counts[k][ch] {
					hist.Bins = append(hist.Bins, plotter.HistogramBin{
						Min: float64(b) * s / float64(bins), Max: float64(b+1) * s / float64(bins), Weight: v,
					})
				}
				hist.FillColor = withAlpha(okabeIto[ch%len(okabeIto)], 0.75)
				hist.LineStyle = draw.LineStyle{Color: white, Width: vg.Points(0.4)}
				pl.Add(hist)
				pl.Add(&segments{style: draw.LineStyle{Color: black, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}, segs: [][4]float64{{0, expect, s, expect}}})
				pl.X.Min, pl.X.Max = 0, s
				pl.Y.Min, pl.Y.Max = 0, ymax
				outerTicks(&pl.X, k == len(names)-1)
				outerTicks(&pl.Y, ch == 0)
				if ch == 0 {
					pl.Y.Label.Text = name
				}
				if k == len(names)-1 {
					pl.X.Label.Text = "rank"
				}
				plots[k][ch] = pl
			}
		}
		tiles := draw.Tiles{Rows: len(names), Cols: nc, PadX: vg.Points(5), PadY: vg.Points(5), PadTop: headerHeight(1, panelSize)}
		canv := fig.drawGrid(plots, tiles, c)
		for ch := range nc {
			header(c, plots[0][ch].DataCanvas(canv[0][ch]).Rectangle, fmt.Sprintf("chain %d", ch+1), panelSize)
		}
		return nil
	})
	if err != nil {
		return layout{}, err
	}
	return fig.layout, fig.writeTo(w)
}
