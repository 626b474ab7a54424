package models

import (
	"math"
	"math/rand/v2"

	"github.com/epmc/epmc/chains"
)

// normal is the model y_ij ~ normal(mu_j, sigma_j), j = 1…d, with
// mu_j ~ normal(0, S) and either a known common sigma or unknown sigma_j ~
// half-normal(0, S_σ), sampled as log sigma_j. θ = (mu, [log sigma]).
//
// The likelihood needs only each dimension's shard mean ȳ_j and sum of
// squares about it, Q_j = Σ_i (y_ij − ȳ_j)², since
// Σ_i (y_ij − mu_j)² = Q_j + n·(ȳ_j − mu_j)²: evaluations cost O(d), and
// the two-pass Q_j keeps full precision.
type normal struct {
	d          int
	n          float64
	mean, ss   []float64
	priorScale float64
	known      bool
	sigma      float64 // known scale
	sigmaScale float64 // half-normal scale of unknown sigmas
	params     []chains.Param
}

func newNormal(ys [][]float64, rows []int, r resolved) *normal {
	d := len(ys)
	m := &normal{
		d: d, n: float64(len(rows)), mean: make([]float64, d), ss: make([]float64, d),
		priorScale: r.PriorScale, known: r.knownSigma, sigma: r.Sigma, sigmaScale: r.SigmaPriorScale,
	}
	for j, y := range ys {
		m.mean[j], m.ss[j] = meanSS(y, rows)
	}
	var shape []int
	if d > 1 {
		shape = []int{d}
	}
	m.params = []chains.Param{{Name: "mu", Shape: shape}}
	if !m.known {
		m.params = append(m.params, chains.Param{Name: "sigma", Shape: shape, Transform: chains.Transform{Kind: chains.Lower}})
	}
	return m
}

// meanSS returns the mean of y over rows and the sum of squared deviations
// from it, in two passes.
func meanSS(y []float64, rows []int) (mean, ss float64) {
	for _, i := range rows {
		mean += y[i]
	}
	mean /= float64(len(rows))
	for _, i := range rows {
		e := y[i] - mean
		ss += e * e
	}
	return mean, ss
}

func (m *normal) Dim() int {
	if m.known {
		return m.d
	}
	return 2 * m.d
}

func (m *normal) Params() []chains.Param { return m.params }

func (m *normal) LogPrior(theta, grad []float64) float64 {
	var gm, gs []float64
	if grad != nil {
		gm = grad[:m.d]
		gs = grad[m.d:]
	}
	lp := normalPrior(theta[:m.d], gm, m.priorScale)
	if !m.known {
		lp += logSigmaPrior(theta[m.d:], gs, m.sigmaScale)
	}
	return lp
}

func (m *normal) LogLik(theta, grad []float64) float64 {
	ll := 0.0
	for j := 0; j < m.d; j++ {
		dev := m.mean[j] - theta[j]
		q := m.ss[j] + m.n*dev*dev
		if m.known {
			inv := 1 / (m.sigma * m.sigma)
			ll -= m.n*(halfLog2Pi+math.Log(m.sigma)) + 0.5*q*inv
			if grad != nil {
				grad[j] = m.n * dev * inv
			}
			continue
		}
		s := theta[m.d+j]
		inv := math.Exp(-2 * s)
		ll -= m.n*(halfLog2Pi+s) + 0.5*q*inv
		if grad != nil {
			grad[j] = m.n * dev * inv
			grad[m.d+j] = q*inv - m.n
		}
	}
	return ll
}

func (m *normal) SamplePrior(theta []float64, power float64, r *rand.Rand) {
	sampleNormalPrior(theta[:m.d], m.priorScale, power, r)
	if !m.known {
		sampleLogSigmaPrior(theta[m.d:], m.sigmaScale, power, r)
	}
}
