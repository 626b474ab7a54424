package auxdp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/epmc/epmc/auxdp"
	"github.com/epmc/epmc/rng"
)

// Three groups of 2-d points, clustered by a DP mixture of full-covariance
// Gaussians on 2 auxiliary processors with split–merge moves.
func Example() {
	r := rng.NewRand(1)
	var x [][]float64
	for i := range 300 {
		c := float64(i % 3)
		x = append(x, []float64{5 + 10*c + r.NormFloat64(), 20 - 5*c + r.NormFloat64()})
	}
	res, err := auxdp.Run(context.Background(), x, auxdp.Config{
		Procs: 2, Iters: 200, Burn: 100, SplitMerge: 5, Seed: 7,
	})
	if err != nil {
		log.Fatal(err)
	}
	sum := res.Summary()
	fmt.Println("clusters:", sum.K)
	for _, c := range sum.Clusters {
		fmt.Printf("size %d, mean (%.0f, %.0f)\n", c.Size, c.Mean[0], c.Mean[1])
	}
	// Output:
	// clusters: 3
	// size 100, mean (5, 20)
	// size 100, mean (15, 15)
	// size 100, mean (25, 10)
}

// Posterior predictive density and cluster probabilities of new points.
func ExampleResult_Predict() {
	var x [][]float64
	for i := range 200 {
		x = append(x, []float64{float64(i%2)*8 + float64(i%7)/7})
	}
	res, err := auxdp.Run(context.Background(), x, auxdp.Config{
		Likelihood: auxdp.NIW{Mean: []float64{4}, Kappa: 0.01, Nu: 3, Psi: []float64{1}},
		Iters:      100, Burn: 50, Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	pred, err := res.Predict(context.Background(), [][]float64{{0.5}, {8.5}, {100}}, 0)
	if err != nil {
		log.Fatal(err)
	}
	for i, p := range pred.Probs {
		fmt.Printf("point %d: P(cluster 1) = %.2f, P(cluster 2) = %.2f, P(new) = %.2f\n", i+1, p[0], p[1], p[2])
	}
	// Output:
	// point 1: P(cluster 1) = 1.00, P(cluster 2) = 0.00, P(new) = 0.00
	// point 2: P(cluster 1) = 0.00, P(cluster 2) = 1.00, P(new) = 0.00
	// point 3: P(cluster 1) = 0.00, P(cluster 2) = 0.00, P(new) = 1.00
}

func ExampleNMI() {
	truth := []int{0, 0, 0, 1, 1, 1}
	found := []int{7, 7, 7, 3, 3, 3} // the same partition, other labels
	v, _ := auxdp.NMI(truth, found)
	fmt.Printf("%.2f\n", v)
	// Output: 1.00
}
