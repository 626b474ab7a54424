// Command plot draws the auxdp clustering figures of the documentation:
// docs/img/auxdp-faithful.png (Old Faithful, the last state's clusters with
// their posterior mean 95% ellipses) and docs/img/auxdp-synthetic.png
// (10,000 points from 10 Gaussians, clustered on 4 processors).
//
// Run from the repository root: go run ./bench/auxdp/plot
package main

import (
	"context"
	"flag"
	"fmt"
	"image/color"
	"log"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/epmc/epmc/auxdp"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost/data"
)

func main() {
	dir := flag.String("o", "docs/img", "output directory")
	faithful := flag.String("faithful", "testdata/auxdp/faithful.csv", "Old Faithful CSV")
	flag.Parse()

	tab, err := data.Load(*faithful, nil)
	if err != nil {
		log.Fatal(err)
	}
	x := rows(tab)
	res, err := auxdp.Run(context.Background(), x, auxdp.Config{Procs: 2, Iters: 2000, Burn: 1000, SplitMerge: 10, Seed: 1, Names: tab.Names})
	if err != nil {
		log.Fatal(err)
	}
	title := fmt.Sprintf("Old Faithful: DP mixture of Gaussians, last state (K = %d)", res.Last().K)
	if err := scatter(res, x, title, tab.Names[0]+" (min)", tab.Names[1]+" (min)", filepath.Join(*dir, "auxdp-faithful.png"), 2, true); err != nil {
		log.Fatal(err)
	}

	sx := synthetic()
	sres, err := auxdp.Run(context.Background(), sx, auxdp.Config{Procs: 4, Iters: 200, Burn: 100, SplitMerge: 10, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	title = fmt.Sprintf("10,000 points, 10 Gaussians, 4 processors: K = %d", sres.Last().K)
	if err := scatter(sres, sx, title, "x1", "x2", filepath.Join(*dir, "auxdp-synthetic.png"), 1, false); err != nil {
		log.Fatal(err)
	}
}

func rows(t *data.Table) [][]float64 {
	x := make([][]float64, t.NumRows())
	for i := range x {
		for _, c := range t.Cols {
			x[i] = append(x[i], c[i])
		}
	}
	return x
}

// synthetic draws the benchmark data: 10 unit-covariance Gaussians on a
// 12-unit lattice, 1,000 points each.
func synthetic() [][]float64 {
	r := rng.NewRand(1, 99)
	sites := r.Perm(16)[:10]
	var x [][]float64
	for i := range 10000 {
		c := sites[i%10]
		x = append(x, []float64{12*float64(c%4) + r.NormFloat64(), 12*float64(c/4) + r.NormFloat64()})
	}
	return x
}

func scatter(res *auxdp.Result, x [][]float64, title, xl, yl, path string, radius vg.Length, ellipses bool) error {
	last, _, _ := res.PointLabels()
	sum := res.Summary()
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xl
	p.Y.Label.Text = yl
	for _, c := range sum.Clusters {
		var pts plotter.XYs
		for i, l := range last {
			if l == c.Label {
				pts = append(pts, plotter.XY{X: x[i][0], Y: x[i][1]})
			}
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		col := tab10[(c.Label-1)%len(tab10)]
		s.GlyphStyle.Color = col
		s.GlyphStyle.Radius = vg.Points(float64(radius))
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		if ellipses && c.Size > 1 {
			l, err := plotter.NewLine(ellipse(c.Mean, c.Cov))
			if err != nil {
				return err
			}
			l.Color = col
			l.Width = vg.Points(1.2)
			p.Add(l)
		}
		if ellipses && c.Label <= 8 {
			p.Legend.Add(fmt.Sprintf("cluster %d (%d points)", c.Label, c.Size), s)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	p.BackgroundColor = color.White
	return p.Save(18*vg.Centimeter, 14*vg.Centimeter, path)
}

// tab10 is the ten-colour categorical palette of Tableau and matplotlib.
var tab10 = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, color.RGBA{0xbc, 0xbd, 0x22, 0xff},
	color.RGBA{0x17, 0xbe, 0xcf, 0xff},
}

// ellipse returns the 95% contour of a 2-d Gaussian.
func ellipse(mean, cov []float64) plotter.XYs {
	d := 2
	a, b, c := cov[0], cov[1], cov[d+1]
	// Cholesky of [[a b][b c]].
	l11 := math.Sqrt(a)
	l21 := b / l11
	l22 := math.Sqrt(c - l21*l21)
	r := math.Sqrt(5.991) // chi-square(2) 95% quantile
	var pts plotter.XYs
	for k := 0; k <= 100; k++ {
		t := 2 * math.Pi * float64(k) / 100
		u, v := r*math.Cos(t), r*math.Sin(t)
		pts = append(pts, plotter.XY{X: mean[0] + l11*u, Y: mean[1] + l21*u + l22*v})
	}
	return pts
}
