package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost/data"
)

// SimConfig configures Simulate. Zero fields take the defaults in
// brackets.
type SimConfig struct {
	// N is the number of rows [1000].
	N int
	// D is the number of predictors of a regression, or the dimension of
	// the observations of normal and mixture [1 for normal, 2 for mixture,
	// 5 for the regressions].
	D int
	// Seed is the root seed; the same configuration and seed give the same
	// table on every machine.
	Seed uint64
	// Rho is the correlation of neighbouring predictors of a regression:
	// predictors are standard normal with corr(x_j, x_k) = Rho^|j−k|
	// (a stationary AR(1) across columns) [0: independent].
	Rho float64
	// Sigma is the noise scale of linear, the scale of normal and the
	// component scale of mixture [1].
	Sigma float64
	// Signal, when positive, rescales a regression's coefficients so that
	// the linear predictor x·beta has exactly this standard deviation
	// under the predictors' distribution, sd(x·beta) = √(betaᵀ R beta) with
	// R_jk = Rho^|j−k| (the intercept is unchanged). It controls how far
	// the posterior is from Gaussian at a given N: logistic posteriors
	// grow more skewed as the signal grows. [0: the coefficients as drawn]
	Signal float64
	// K is the number of mixture components [3].
	K int
	// Digits, when positive, rounds every real-valued column to that many
	// decimals, for compact CSV files. Regressions compute their responses
	// from the rounded predictors, so the model stays exact; the
	// responses of linear, normal and mixture move by at most half a unit
	// in the last digit.
	Digits int
}

// Truth holds the parameter values a data set was simulated from, named
// like the draws columns of the corresponding model.
type Truth struct {
	Names  []string
	Values []float64
}

// Get returns the true value of the named parameter.
func (t Truth) Get(name string) (float64, bool) {
	for i, n := range t.Names {
		if n == name {
			return t.Values[i], true
		}
	}
	return 0, false
}

func (t *Truth) add(name string, v float64) {
	t.Names = append(t.Names, name)
	t.Values = append(t.Values, v)
}

// Simulate makes a data set for the named model, deterministically from
// c.Seed. The parameters come from the stream rng.NewRand(Seed, 0) and the
// rows, one after another, from rng.NewRand(Seed, 1):
//
//	logistic  alpha = 0.5, beta_j ~ normal(0, 2/√D), so the linear
//	          predictor has sd ≈ 2 for independent predictors;
//	          y ~ Bernoulli(logit⁻¹(alpha + x·beta))
//	linear    alpha = 1, beta_j ~ normal(0, 1), y ~ normal(alpha + x·beta, Sigma)
//	poisson   alpha = 1, beta_j ~ normal(0, 0.5/√D), y ~ Poisson(exp(alpha + x·beta))
//	normal    mu_j ~ normal(0, 2), sigma_j = Sigma, y_j ~ normal(mu_j, sigma_j)
//	mixture   K components with weights w_k ∝ k (k = 1…K) and means
//	          mu_k1 = 4·Sigma·(k − (K+1)/2) (evenly spaced, 4 sds apart along
//	          the first axis), mu_kj ~ normal(0, Sigma) for j > 1;
//	          y ~ normal_D(mu_z, Sigma²I), z ~ Categorical(w)
//
// With Signal > 0 the coefficients are then rescaled so that sd(x·beta) =
// Signal exactly.
//
// Predictors x_1…x_D are standard normal with corr(x_j, x_k) = Rho^|j−k|:
// x_1 = e_1, x_j = Rho·x_{j−1} + √(1 − Rho²)·e_j with independent
// standard normal e_j. Columns are named y, x1…xD for the regressions;
// y (D = 1) or y1…yD for normal and mixture.
func Simulate(model string, c SimConfig) (*data.Table, Truth, error) {
	if c.N == 0 {
		c.N = 1000
	}
	if c.D == 0 {
		switch model {
		case "normal":
			c.D = 1
		case "mixture":
			c.D = 2
		default:
			c.D = 5
		}
	}
	if c.Sigma == 0 {
		c.Sigma = 1
	}
	if c.K == 0 {
		c.K = 3
	}
	switch {
	case Describe(model) == "":
		return nil, Truth{}, fmt.Errorf("unknown model %q (models: %v)", model, names)
	case c.N < 1 || c.D < 1:
		return nil, Truth{}, fmt.Errorf("simulate: N and D must be positive, have %d and %d", c.N, c.D)
	case !(c.Rho > -1 && c.Rho < 1):
		return nil, Truth{}, fmt.Errorf("simulate: Rho must lie in (−1, 1), have %g", c.Rho)
	case !(c.Signal >= 0):
		return nil, Truth{}, fmt.Errorf("simulate: Signal must not be negative, have %g", c.Signal)
	case !(c.Sigma > 0):
		return nil, Truth{}, fmt.Errorf("simulate: Sigma must be positive, have %g", c.Sigma)
	case model == "mixture" && c.K < 2:
		return nil, Truth{}, fmt.Errorf("simulate: K must be at least 2, have %d", c.K)
	}
	pr := rng.NewRand(c.Seed, 0)
	rows := rng.NewRand(c.Seed, 1)
	round := func(v float64) float64 {
		if c.Digits <= 0 {
			return v
		}
		p := math.Pow(10, float64(c.Digits))
		return math.Round(v*p) / p
	}
	if model == "normal" || model == "mixture" {
		return simulateObservations(model, c, pr, rows, round)
	}

	var truth Truth
	var alpha, scale float64
	switch model {
	case "logistic":
		alpha, scale = 0.5, 2/math.Sqrt(float64(c.D))
	case "linear":
		alpha, scale = 1, 1
	case "poisson":
		alpha, scale = 1, 0.5/math.Sqrt(float64(c.D))
	}
	truth.add("alpha", alpha)
	beta := make([]float64, c.D)
	for j := range beta {
		beta[j] = scale * pr.NormFloat64()
	}
	if c.Signal > 0 {
		v := 0.0
		for j := range beta {
			for k := range beta {
				v += beta[j] * beta[k] * math.Pow(c.Rho, math.Abs(float64(j-k)))
			}
		}
		if v > 0 {
			for j := range beta {
				beta[j] *= c.Signal / math.Sqrt(v)
			}
		}
	}
	for j := range beta {
		truth.add(fmt.Sprintf("beta[%d]", j+1), beta[j])
	}
	if model == "linear" {
		truth.add("sigma", c.Sigma)
	}
	t := &data.Table{Names: []string{"y"}, Cols: make([][]float64, c.D+1)}
	for j := range c.D {
		t.Names = append(t.Names, "x"+strconv.Itoa(j+1))
	}
	for j := range t.Cols {
		t.Cols[j] = make([]float64, c.N)
	}
	poisson := distuv.Poisson{Src: rows}
	rc := math.Sqrt(1 - c.Rho*c.Rho)
	for i := 0; i < c.N; i++ {
		eta, prev := alpha, 0.0
		for j := 0; j < c.D; j++ {
			x := rows.NormFloat64()
			if j > 0 {
				x = c.Rho*prev + rc*x
			}
			prev = x
			x = round(x)
			t.Cols[j+1][i] = x
			eta += beta[j] * x
		}
		var y float64
		switch model {
		case "logistic":
			if rows.Float64() < invLogit(eta) {
				y = 1
			}
		case "linear":
			y = round(eta + c.Sigma*rows.NormFloat64())
		case "poisson":
			poisson.Lambda = math.Exp(eta)
			y = poisson.Rand()
		}
		t.Cols[0][i] = y
	}
	return t, truth, nil
}

func simulateObservations(model string, c SimConfig, pr, rows *rand.Rand, round func(float64) float64) (*data.Table, Truth, error) {
	var truth Truth
	t := &data.Table{Cols: make([][]float64, c.D)}
	for j := range c.D {
		name := "y"
		if c.D > 1 {
			name += strconv.Itoa(j + 1)
		}
		t.Names = append(t.Names, name)
		t.Cols[j] = make([]float64, c.N)
	}
	index := func(name string, idx ...int) string {
		if len(idx) == 0 {
			return name
		}
		s := name + "["
		for i, v := range idx {
			if i > 0 {
				s += ","
			}
			s += strconv.Itoa(v)
		}
		return s + "]"
	}
	if model == "normal" {
		mu := make([]float64, c.D)
		for j := range mu {
			mu[j] = 2 * pr.NormFloat64()
		}
		idx := func(j int) []int {
			if c.D == 1 {
				return nil
			}
			return []int{j + 1}
		}
		for j := range mu {
			truth.add(index("mu", idx(j)...), mu[j])
		}
		for j := range mu {
			truth.add(index("sigma", idx(j)...), c.Sigma)
		}
		for i := 0; i < c.N; i++ {
			for j := range mu {
				t.Cols[j][i] = round(mu[j] + c.Sigma*rows.NormFloat64())
			}
		}
		return t, truth, nil
	}
	// Mixture: means in column-major order to match mu[k,j].
	K := c.K
	mu := make([][]float64, K)
	w := make([]float64, K)
	for k := range mu {
		mu[k] = make([]float64, c.D)
		mu[k][0] = 4 * c.Sigma * (float64(k+1) - float64(K+1)/2)
		for j := 1; j < c.D; j++ {
			mu[k][j] = c.Sigma * pr.NormFloat64()
		}
		w[k] = float64(k+1) / float64(K*(K+1)/2)
	}
	for j := 0; j < c.D; j++ {
		for k := 0; k < K; k++ {
			if c.D == 1 {
				truth.add(index("mu", k+1), mu[k][j])
			} else {
				truth.add(index("mu", k+1, j+1), mu[k][j])
			}
		}
	}
	for k := range w {
		truth.add(index("w", k+1), w[k])
	}
	for i := 0; i < c.N; i++ {
		u, z := rows.Float64(), K-1
		for k := 0; k < K-1; k++ {
			if u < w[k] {
				z = k
				break
			}
			u -= w[k]
		}
		for j := 0; j < c.D; j++ {
			t.Cols[j][i] = round(mu[z][j] + c.Sigma*rows.NormFloat64())
		}
	}
	return t, truth, nil
}
