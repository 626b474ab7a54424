package subpost_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
)

// rate is a user's own model: exponential waiting times with an unknown
// rate λ > 0 (a lower-bound transform, λ = exp(θ)) and a Gamma(2, 1) prior.
type rate struct{ times []float64 }

func (m *rate) Dim() int { return 1 }

func (m *rate) Params() []chains.Param {
	return []chains.Param{{Name: "lambda", Transform: chains.Transform{Kind: chains.Lower}}}
}

// LogPrior is the Gamma(2, 1) log density of λ plus the log Jacobian θ:
// log λ − λ + θ = 2θ − λ (Γ(2) = 1).
func (m *rate) LogPrior(theta, grad []float64) float64 {
	lambda := math.Exp(theta[0])
	if grad != nil {
		grad[0] = 2 - lambda
	}
	return 2*theta[0] - lambda
}

func (m *rate) LogLik(theta, grad []float64) float64 {
	lambda := math.Exp(theta[0])
	sum := 0.0
	for _, t := range m.times {
		sum += t
	}
	n := float64(len(m.times))
	if grad != nil {
		grad[0] = n - lambda*sum
	}
	return n*theta[0] - lambda*sum
}

// Run samples a model and writes a draws file; here the full posterior of
// a conjugate model, Gamma(2 + n, 1 + Σt), whose mean is known.
func ExampleRun() {
	r := rng.NewRand(1)
	m := &rate{}
	for range 200 {
		m.times = append(m.times, r.ExpFloat64()/3) // true rate 3
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "rate.arrow")
	if err := subpost.Run(context.Background(), m, subpost.Config{Seed: 7}, out); err != nil {
		log.Fatal(err)
	}
	d, err := chains.ReadArrow(out)
	if err != nil {
		log.Fatal(err)
	}
	sum := 0.0
	for _, t := range m.times {
		sum += t
	}
	exact := (2 + float64(len(m.times))) / (1 + sum)
	lambda := d.Series(d.Index("lambda"))
	fmt.Println(d.Names)
	fmt.Printf("%d chains × %d draws\n", d.NumChains(), d.NumIter())
	fmt.Println("posterior mean within 4 MCSE of the exact one:",
		math.Abs(chains.Mean(lambda)-exact) < 4*chains.McseMean(lambda))
	// Output:
	// [lp__ accept_stat__ stepsize__ treedepth__ n_leapfrog__ divergent__ energy__ lambda]
	// 4 chains × 1000 draws
	// posterior mean within 4 MCSE of the exact one: true
}

// A NUTS chain can also be driven directly on any Target, here with the
// step size tuned by dual averaging before sampling.
func ExampleNUTS() {
	m := &rate{times: []float64{0.5, 0.2, 0.4}}
	target := subpost.Subposterior(m, 1)
	s := subpost.NewNUTS(target, subpost.DiagMetric, rng.NewRand(3))
	if err := s.SetPosition([]float64{0}); err != nil {
		log.Fatal(err)
	}
	if err := s.InitStepSize(); err != nil {
		log.Fatal(err)
	}
	da := subpost.NewDualAveraging(0.8, s.StepSize)
	for range 500 {
		s.StepSize = da.Learn(s.Transition().AcceptStat)
	}
	s.StepSize = da.Final(s.StepSize)
	lambda := make([]float64, 4000)
	for i := range lambda {
		s.Transition()
		lambda[i] = math.Exp(s.Position()[0])
	}
	exact := (2 + 3) / (1 + 1.1) // Gamma(2 + n, 1 + Σt)
	x := [][]float64{lambda}
	fmt.Println("posterior mean within 4 MCSE of the exact one:", math.Abs(chains.Mean(x)-exact) < 4*chains.McseMean(x))
	// Output: posterior mean within 4 MCSE of the exact one: true
}
