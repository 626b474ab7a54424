package kde_test

import (
	"fmt"

	"github.com/epmc/epmc/kde"
	"github.com/epmc/epmc/rng"
)

// A marginal density for a plot: Silverman's bandwidth, then the density on
// a 256-point grid by binning and FFT.
func Example() {
	r := rng.NewRand(1)
	x := make([][]float64, 5000)
	for i := range x {
		x[i] = []float64{r.NormFloat64()}
	}
	bw, err := kde.Select(x, nil, kde.Isotropic, kde.Silverman)
	if err != nil {
		panic(err)
	}
	k, err := kde.New(x, nil, bw)
	if err != nil {
		panic(err)
	}
	dens, err := k.Grid([]float64{-4}, []float64{4}, []int{257})
	if err != nil {
		panic(err)
	}
	fmt.Printf("bandwidth %v\n", bw)
	fmt.Printf("density at 0: %.2f\n", dens[128])
	fmt.Printf("log density at 50: %.0f\n", k.LogDensity([]float64{50}))
	// Output:
	// bandwidth h=0.1945
	// density at 0: 0.38
	// log density at 50: -27704
}

// A two-dimensional density with a full bandwidth matrix chosen by
// likelihood cross-validation, and draws from it.
func ExampleSelect() {
	r := rng.NewRand(2)
	x := make([][]float64, 2000)
	for i := range x {
		a := r.NormFloat64()
		x[i] = []float64{a, 0.8*a + 0.6*r.NormFloat64()}
	}
	bw, err := kde.Select(x, nil, kde.Full, kde.LCV)
	if err != nil {
		panic(err)
	}
	k, _ := kde.New(x, nil, bw)
	draw := k.Sample(nil, rng.NewRand(2, 1))
	fmt.Println(bw.Shape(), len(draw))
	// Output:
	// full 2
}
