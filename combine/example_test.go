package combine_test

import (
	"context"
	"fmt"

	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/rng"
)

// Four shards of a one-parameter model whose subposteriors are N(m, 4):
// the full posterior is their product, N(1.5, 1). Consensus Monte Carlo
// recovers it from draws alone.
func Example() {
	r := rng.NewRand(1)
	shards := make([][][]float64, 4)
	for m := range shards {
		for range 5000 {
			shards[m] = append(shards[m], []float64{float64(m) + 2*r.NormFloat64()})
		}
	}
	res, err := combine.Consensus{}.Combine(context.Background(), shards, combine.Settings{Seed: 1})
	if err != nil {
		panic(err)
	}
	var sum, sq float64
	n := 0
	for _, chain := range res.Draws {
		for _, x := range chain {
			sum += x[0]
			sq += x[0] * x[0]
			n++
		}
	}
	mean := sum / float64(n)
	fmt.Printf("%d chains × %d draws, mean %.1f, variance %.1f\n",
		len(res.Draws), len(res.Draws[0]), mean, sq/float64(n)-mean*mean)
	// Output:
	// 4 chains × 1000 draws, mean 1.5, variance 1.0
}

// Comparing a combination with a reference sample.
func ExampleCompare() {
	r := rng.NewRand(2)
	a := make([][]float64, 4000)
	b := make([][]float64, 4000)
	for i := range a {
		a[i] = []float64{r.NormFloat64() + 0.1}
		b[i] = []float64{r.NormFloat64()}
	}
	d, err := combine.Compare(a, b, []string{"mu"}, combine.CompareOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("mean error %.1f sd, KS %.2f, MMTV %.2f\n", d.MaxMeanErrorSD, d.KSMax, d.MMTV)
	// Output:
	// mean error 0.1 sd, KS 0.04, MMTV 0.04
}
