package models

import (
	"math"
	"math/rand/v2"
)

// halfLog2Pi is ½·log(2π).
var halfLog2Pi = 0.5 * math.Log(2*math.Pi)

// normalPrior adds the log density of independent normal(0, s) priors on
// theta and, if grad is not nil, writes its gradient.
func normalPrior(theta, grad []float64, s float64) float64 {
	inv := 1 / (s * s)
	ss := 0.0
	for i, v := range theta {
		ss += v * v
		if grad != nil {
			grad[i] = -v * inv
		}
	}
	return -float64(len(theta))*(halfLog2Pi+math.Log(s)) - 0.5*ss*inv
}

// sampleNormalPrior draws theta from normal(0, s)^power ∝ normal(0, s/√power).
func sampleNormalPrior(theta []float64, s, power float64, r *rand.Rand) {
	sd := s / math.Sqrt(power)
	for i := range theta {
		theta[i] = sd * r.NormFloat64()
	}
}

// logSigmaPrior is the log density, in θ = log σ, of a half-normal(0, s)
// prior on σ, Jacobian included:
//
//	log 2 − ½log(2π) − log s − σ²/(2s²) + θ,
//
// with its gradient 1 − σ²/s² written to grad unless it is nil.
func logSigmaPrior(theta, grad []float64, s float64) float64 {
	inv := 1 / (s * s)
	lp := 0.0
	c := math.Ln2 - halfLog2Pi - math.Log(s)
	for i, t := range theta {
		v := math.Exp(2 * t) // σ²
		lp += c - 0.5*v*inv + t
		if grad != nil {
			grad[i] = 1 - v*inv
		}
	}
	return lp
}

// sampleLogSigmaPrior draws θ = log σ from the tempered prior p(θ)^power.
// In σ-space the tempered density is p(σ)^power·σ^(power−1), so
// u = σ² ~ Gamma(power/2, rate power/(2s²)) and θ = ½·log u. The draw is
// made in log space, so it is finite however small power is.
func sampleLogSigmaPrior(theta []float64, s, power float64, r *rand.Rand) {
	logRate := math.Log(power / (2 * s * s))
	for i := range theta {
		theta[i] = 0.5 * (logGamma(power/2, r) - logRate)
	}
}

// softplus returns log(1 + eˣ) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// dirichlet is a symmetric Dirichlet(α) prior on a K-simplex w under
// Stan's stick-breaking transform (chains.Simplex): for j < K−1,
//
//	z_j = logit⁻¹(θ_j − log(K−1−j)),  w_j = z_j·Π_{i<j}(1 − z_i),
//
// and w_{K−1} = Π_{i<K−1}(1 − z_i). The stick fractions of a Dirichlet
// vector are independent, z_j ~ Beta(a_j, b_j) with a_j = α and
// b_j = (K−1−j)·α (the stick-breaking representation of the Dirichlet),
// and dz_j/dθ_j = z_j(1 − z_j), so the prior in θ-space, Jacobian
// included, is
//
//	log p(θ) = Σ_j [a_j·log z_j + b_j·log(1 − z_j) − log B(a_j, b_j)],
//
// with ∂/∂θ_j = a_j(1 − z_j) − b_j·z_j: no division by a weight, so it
// stays finite when weights underflow.
type dirichlet struct {
	k     int
	alpha float64
	logB  float64 // Σ_j log B(a_j, b_j)
}

func newDirichlet(k int, alpha float64) dirichlet {
	d := dirichlet{k: k, alpha: alpha}
	for j := 0; j < k-1; j++ {
		a, b := alpha, float64(k-1-j)*alpha
		d.logB += lbeta(a, b)
	}
	return d
}

func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

func (d dirichlet) logPrior(theta, grad []float64) float64 {
	lp := -d.logB
	for j, t := range theta {
		u := t - math.Log(float64(d.k-1-j))
		a, b := d.alpha, float64(d.k-1-j)*d.alpha
		// log z = −softplus(−u), log(1 − z) = −softplus(u).
		lp -= a*softplus(-u) + b*softplus(u)
		if grad != nil {
			z := invLogit(u)
			grad[j] = a*(1-z) - b*z
		}
	}
	return lp
}

// sample draws θ from the tempered prior p(θ)^power: the stick fractions
// are then independent Beta(power·a_j, power·b_j), drawn as ratios of
// gamma variates in log space, θ_j = log G_a − log G_b + log(K−1−j).
func (d dirichlet) sample(theta []float64, power float64, r *rand.Rand) {
	for j := range theta {
		a, b := power*d.alpha, power*float64(d.k-1-j)*d.alpha
		theta[j] = logGamma(a, r) - logGamma(b, r) + math.Log(float64(d.k-1-j))
	}
}

// logWeights writes log w_k of the simplex θ to logw (length K), in log
// space throughout: log w_j = log z_j + Σ_{i<j} log(1 − z_i).
func logWeights(logw, theta []float64) {
	k := len(logw)
	stick := 0.0 // log of the remaining stick
	for j, t := range theta {
		u := t - math.Log(float64(k-1-j))
		logw[j] = stick - softplus(-u)
		stick -= softplus(u)
	}
	logw[k-1] = stick
}

// invLogit returns 1/(1 + e^{−x}) accurately for large |x|.
func invLogit(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// logGamma returns the logarithm of a Gamma(shape, 1) variate. For
// shape ≥ 1 it uses Marsaglia & Tsang's squeeze method ("A simple method for
// generating gamma variables", ACM TOMS 26, 2000); for shape < 1 their
// boost G(a) = G(a+1)·U^{1/a}, taken in logs so that tiny shapes give
// finite results.
func logGamma(shape float64, r *rand.Rand) float64 {
	if shape < 1 {
		u := 1 - r.Float64() // (0, 1]
		return logGamma(shape+1, r) + math.Log(u)/shape
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return math.Log(d * v)
		}
	}
}
