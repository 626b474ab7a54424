package sis_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/sis"
)

// A bootstrap particle filter on a simulated linear Gaussian series,
// checked against the exact Kalman filter (the particle log-evidence has a
// Monte Carlo error of about 0.2 here).
func ExampleRunFilter() {
	m := &sis.LinearGauss{Rho: 0.9, SigmaX: 1, SigmaY: 0.2}
	_, m.Y = m.Simulate(100, rand.New(rand.NewPCG(1, 2)))
	res, err := sis.RunFilter(context.Background(), m, sis.FilterConfig{Particles: 20000, Seed: 3})
	if err != nil {
		panic(err)
	}
	k := m.Kalman()
	fmt.Printf("log-evidence: particle %.1f, Kalman %.1f\n", res.LogEvidence, k.LogLik)
	fmt.Printf("last filtering mean: particle %.2f, Kalman %.2f\n", res.Mean(99, 0), k.Means[99])
	// Output:
	// log-evidence: particle -140.0, Kalman -140.3
	// last filtering mean: particle -3.66, Kalman -3.66
}

// Offspring of four particles under systematic resampling: particle i gets
// ⌊N·W_i⌋ or ⌈N·W_i⌉ copies.
func ExampleResample() {
	w := []float64{0.1, 0.2, 0.3, 0.4}
	anc := sis.Resample(sis.Systematic, make([]int, 10), w, rand.New(rand.NewPCG(1, 1)))
	fmt.Println(anc)
	// Output:
	// [0 1 1 2 2 2 3 3 3 3]
}

// normalMean is θ ~ N(0, 1) a priori and y_i ~ N(θ, 1): the posterior is
// N(Σy/(n+1), 1/(n+1)).
type normalMean struct{ y []float64 }

func (m normalMean) Dim() int               { return 1 }
func (m normalMean) Params() []chains.Param { return []chains.Param{{Name: "theta"}} }
func (m normalMean) LogPrior(theta, grad []float64) float64 {
	return -0.5*theta[0]*theta[0] - 0.5*math.Log(2*math.Pi)
}
func (m normalMean) LogLik(theta, grad []float64) float64 {
	ll := 0.0
	for _, v := range m.y {
		ll += -0.5*(v-theta[0])*(v-theta[0]) - 0.5*math.Log(2*math.Pi)
	}
	return ll
}
func (m normalMean) SamplePrior(theta []float64, power float64, r *rand.Rand) {
	theta[0] = r.NormFloat64() / math.Sqrt(power)
}

// An SMC sampler with adaptive tempering on a conjugate model; its
// particles become a draws file of 4 chains (independent runs).
func ExampleSampleStaticChains() {
	m := normalMean{y: []float64{1.2, 0.8, 1.5, 0.9}}
	d, runs, err := sis.SampleStaticChains(context.Background(), m, sis.StaticConfig{Particles: 2000, Seed: 1}, 4)
	if err != nil {
		panic(err)
	}
	mean := 0.0
	for _, v := range d.Pooled(d.Index("theta")) {
		mean += v
	}
	mean /= float64(d.NumDraws())
	fmt.Printf("%d chains of %d draws, columns %v\n", d.NumChains(), d.NumIter(), d.Names)
	fmt.Printf("posterior mean %.2f (exact %.2f)\n", mean, 4.4/5)
	fmt.Printf("tempering reaches λ = %g\n", runs[0].Schedule()[len(runs[0].Schedule())-1])
	// Output:
	// 4 chains of 2000 draws, columns [theta lp__]
	// posterior mean 0.87 (exact 0.88)
	// tempering reaches λ = 1
}
