package plot_test

import (
	"bytes"
	"fmt"
	"image/png"
	"log"
	"math"

	"gonum.org/v1/plot/vg"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/chains/plot"
	"github.com/epmc/epmc/rng"
)

// normalDraws returns draws of one parameter mu, normal with the given mean
// and sd, as 2 chains of 500 iterations.
func normalDraws(kind chains.Kind, mean, sd float64, stream uint64) *chains.Draws {
	d := chains.New([]string{"mu"}, 2, 500)
	for c := range 2 {
		r := rng.NewRand(1, stream, uint64(c))
		for t := range 500 {
			d.Values[c][0][t] = mean + sd*r.NormFloat64()
		}
	}
	d.Meta.Kind = kind
	return d
}

// Two subposteriors, their Gaussian product (as the parametric combination
// would give it) and the full-data posterior, in one marginals figure.
func ExampleMarginals() {
	s0 := normalDraws(chains.KindSubposterior, -0.5, math.Sqrt2, 0)
	s0.Meta.Shard, s0.Meta.Shards = 0, 2
	s1 := normalDraws(chains.KindSubposterior, 0.5, math.Sqrt2, 1)
	s1.Meta.Shard, s1.Meta.Shards = 1, 2
	comb := normalDraws(chains.KindCombined, 0, 1, 2)
	comb.Meta.Combine = []byte(`{"method":"parametric"}`)
	full := normalDraws(chains.KindFull, 0, 1, 3)

	sets := []plot.Set{
		plot.SetOf("shard-0.arrow", s0),
		plot.SetOf("shard-1.arrow", s1),
		plot.SetOf("parametric.arrow", comb),
		plot.SetOf("full.arrow", full),
	}
	for _, s := range sets {
		fmt.Printf("%-10s %s\n", s.Label, s.Role)
	}
	var buf bytes.Buffer
	if err := plot.Marginals(&buf, sets, plot.Options{Width: 6 * vg.Inch, Height: 4 * vg.Inch, DPI: 100}); err != nil {
		log.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("PNG", img.Bounds().Dx(), "×", img.Bounds().Dy())
	// Output:
	// shard 0    subposterior
	// shard 1    subposterior
	// parametric combined
	// full data  reference
	// PNG 600 × 400
}
