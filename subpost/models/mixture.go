package models

import (
	"math"
	"math/rand/v2"

	"github.com/epmc/epmc/chains"
)

// mixture is the K-component Gaussian mixture
//
//	y_i ~ Σ_k w_k·normal_d(mu_k, σ²I),  mu_kj ~ normal(0, S),  w ~ Dirichlet(α),
//
// with σ known. θ = (mu, simplex coordinates of w): mu in column-major
// order, mu_kj = θ[k + K·j], matching the draws names mu[k,j]; w through
// Stan's stick-breaking transform. Likelihood and prior are symmetric in
// the labels k, so the posterior has K! equivalent modes.
type mixture struct {
	k, d       int
	n          int
	y          []float64 // n×d, row-major
	sigma      float64
	priorScale float64
	dir        dirichlet
	c0         float64 // log normalising constant of one component density
	params     []chains.Param
}

func newMixture(ys [][]float64, rows []int, r resolved) *mixture {
	d := len(ys)
	m := &mixture{
		k: r.Components, d: d, n: len(rows), y: make([]float64, len(rows)*d),
		sigma: r.Sigma, priorScale: r.PriorScale, dir: newDirichlet(r.Components, r.DirichletAlpha),
		c0: -float64(d) * (halfLog2Pi + math.Log(r.Sigma)),
	}
	for i, row := range rows {
		for j, y := range ys {
			m.y[i*d+j] = y[row]
		}
	}
	shape := []int{m.k, d}
	if d == 1 {
		shape = []int{m.k}
	}
	m.params = []chains.Param{
		{Name: "mu", Shape: shape},
		{Name: "w", Shape: []int{m.k}, Transform: chains.Transform{Kind: chains.Simplex}},
	}
	return m
}

func (m *mixture) Dim() int               { return m.k*m.d + m.k - 1 }
func (m *mixture) Params() []chains.Param { return m.params }

func (m *mixture) LogPrior(theta, grad []float64) float64 {
	km := m.k * m.d
	var gm, gw []float64
	if grad != nil {
		gm, gw = grad[:km], grad[km:]
	}
	return normalPrior(theta[:km], gm, m.priorScale) + m.dir.logPrior(theta[km:], gw)
}

func (m *mixture) SamplePrior(theta []float64, power float64, r *rand.Rand) {
	km := m.k * m.d
	sampleNormalPrior(theta[:km], m.priorScale, power, r)
	m.dir.sample(theta[km:], power, r)
}

// LogLik is Σ_i log Σ_k w_k·N(y_i | mu_k, σ²I), each row by log-sum-exp.
// With responsibilities r_ik, expected counts N_k = Σ_i r_ik and weighted
// sums S_kj = Σ_i r_ik·y_ij, the gradient is
//
//	∂/∂mu_kj = (S_kj − N_k·mu_kj)/σ²,
//	∂/∂θ_j   = N_j·(1 − z_j) − z_j·Σ_{k>j} N_k   (θ_j the simplex coordinates),
//
// the latter because ∂ll/∂log w_k = N_k and log w_k = log z_k +
// Σ_{i<k} log(1 − z_i) under stick-breaking.
func (m *mixture) LogLik(theta, grad []float64) float64 {
	K, d := m.k, m.d
	mu := theta[:K*d]
	var logwBuf, aBuf, nBuf [maxComponents]float64
	logw, a, counts := logwBuf[:K], aBuf[:K], nBuf[:K]
	logWeights(logw, theta[K*d:])
	inv := 1 / (m.sigma * m.sigma)
	var sums []float64
	if grad != nil {
		sums = grad[:K*d] // S_kj accumulates in place of the mu gradient
		clear(sums)
	}
	ll := 0.0
	for i := 0; i < m.n; i++ {
		yi := m.y[i*d : (i+1)*d]
		mx := math.Inf(-1)
		for k := 0; k < K; k++ {
			dist := 0.0
			for j, v := range yi {
				e := v - mu[k+K*j]
				dist += e * e
			}
			a[k] = logw[k] - 0.5*dist*inv
			mx = max(mx, a[k])
		}
		if math.IsInf(mx, -1) {
			return math.Inf(-1)
		}
		s := 0.0
		for k := range a {
			a[k] = math.Exp(a[k] - mx)
			s += a[k]
		}
		ll += mx + math.Log(s)
		if grad != nil {
			invS := 1 / s
			for k := range a {
				r := a[k] * invS // responsibility exp(a_k − L)
				counts[k] += r
				for j, v := range yi {
					sums[k+K*j] += r * v
				}
			}
		}
	}
	ll += float64(m.n) * m.c0
	if grad != nil {
		for j := 0; j < d; j++ {
			for k := 0; k < K; k++ {
				i := k + K*j
				sums[i] = (sums[i] - counts[k]*mu[i]) * inv
			}
		}
		gw := grad[K*d:]
		tail := counts[K-1]
		for j := K - 2; j >= 0; j-- {
			z := invLogit(theta[K*d+j] - math.Log(float64(K-1-j)))
			gw[j] = counts[j]*(1-z) - z*tail
			tail += counts[j]
		}
	}
	return ll
}
