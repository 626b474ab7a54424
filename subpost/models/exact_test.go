package models

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"

	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
)

// marginalCDF integrates the unnormalised density exp(logf) on a grid that
// covers all but e^−40 of its mass and returns the grid and the CDF at
// its points.
func marginalCDF(logf func(t float64) float64) (grid, cdf []float64) {
	// Locate the mass on a coarse grid.
	best := math.Inf(-1)
	for t := -800.0; t <= 800; t += 0.25 {
		best = max(best, logf(t))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for t := -800.0; t <= 800; t += 0.25 {
		if logf(t)-best > -40 {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	lo, hi = lo-1, hi+1
	const n = 40000
	h := (hi - lo) / n
	grid = make([]float64, n+1)
	cdf = make([]float64, n+1)
	prev := math.Exp(logf(lo) - best)
	for i := 1; i <= n; i++ {
		t := lo + float64(i)*h
		f := math.Exp(logf(t) - best)
		grid[i] = t
		cdf[i] = cdf[i-1] + 0.5*h*(f+prev)
		prev = f
	}
	grid[0] = lo
	for i := range cdf {
		cdf[i] /= cdf[n]
	}
	return grid, cdf
}

// ksStatistic returns the Kolmogorov–Smirnov distance between the sample
// and the CDF given on a grid (linear interpolation).
func ksStatistic(sample, grid, cdf []float64) float64 {
	s := slices.Clone(sample)
	slices.Sort(s)
	n := float64(len(s))
	d, j := 0.0, 0
	for i, x := range s {
		for j < len(grid)-2 && grid[j+1] < x {
			j++
		}
		f := cdf[j]
		if x > grid[j] {
			w := min(1, (x-grid[j])/(grid[j+1]-grid[j]))
			f = cdf[j] + w*(cdf[j+1]-cdf[j])
		}
		d = max(d, math.Abs(f-float64(i)/n), math.Abs(f-float64(i+1)/n))
	}
	return d
}

// TestSamplePriorMatchesTemperedDensity draws from every model's tempered
// prior p(θ)^power and compares each coordinate's sample with the marginal
// of exp(power·LogPrior) obtained by numerical integration (all the priors
// factorise over θ's coordinates). The test is a Kolmogorov–Smirnov test
// at level 10⁻⁴ per coordinate (critical distance 2.23/√n, 0.016 for
// n = 20,000: a 10 % error in the scale of a normal prior, or 0.1 in
// log σ, fails), at fixed seeds.
func TestSamplePriorMatchesTemperedDensity(t *testing.T) {
	const n = 20000
	crit := math.Sqrt(-math.Log(1e-4/2)/2) / math.Sqrt(n)
	for ci, c := range modelCases {
		b := build(t, c)
		ps, ok := b.m.(subpost.PriorSampler)
		if !ok {
			t.Fatalf("%s is not a PriorSampler", c.name)
		}
		for _, power := range []float64{1, 1.0 / 8} {
			t.Run(fmt.Sprintf("%s/power=%g", c.name, power), func(t *testing.T) {
				dim := b.m.Dim()
				r := rng.NewRand(uint64(ci), uint64(power*8))
				draws := make([][]float64, dim)
				theta := make([]float64, dim)
				for range n {
					ps.SamplePrior(theta, power, r)
					for i, v := range theta {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							t.Fatalf("non-finite prior draw %v", theta)
						}
						draws[i] = append(draws[i], v)
					}
				}
				for i := range dim {
					at := make([]float64, dim)
					grid, cdf := marginalCDF(func(x float64) float64 {
						at[i] = x
						return power * b.m.LogPrior(at, nil)
					})
					if d := ksStatistic(draws[i], grid, cdf); d > crit {
						t.Errorf("θ[%d]: KS distance %.4f > %.4f", i, d, crit)
					}
				}
			})
		}
	}
}

// TestLinearKnownSigmaPosteriorIsExact checks the linear model with known
// sigma against the closed-form Gaussian subposterior, for M = 1 and M = 8:
// with design A = [1 X], the target (1/M)·log prior + log lik has precision
// Λ = AᵀA/σ² + I/(M·S²) and mean Λ⁻¹Aᵀy/σ², so its gradient at m + δ must
// be −Λδ exactly.
func TestLinearKnownSigmaPosteriorIsExact(t *testing.T) {
	const sigma, S = 0.7, 3.0
	tab, _, _ := Simulate("linear", SimConfig{N: 200, D: 3, Seed: 21, Rho: 0.6, Sigma: sigma})
	rows := data.Partition{Seed: 2, Shards: 4}.Rows(tab.NumRows(), 0)
	for _, std := range []bool{false, true} {
		m, _, err := Build("linear", tab, rows, Options{X: cols("x", 3), Sigma: sigma, PriorScale: S, Standardize: std})
		if err != nil {
			t.Fatal(err)
		}
		g := m.(*glm)
		p := g.Dim()
		A := mat.NewDense(len(rows), p, nil)
		y := mat.NewVecDense(len(rows), g.y)
		for i := range rows {
			A.Set(i, 0, 1)
			for j := 0; j < 3; j++ {
				A.Set(i, j+1, g.x[i*3+j])
			}
		}
		for _, shards := range []int{1, 8} {
			var prec mat.SymDense
			prec.SymOuterK(1/(sigma*sigma), A.T())
			for j := 0; j < p; j++ {
				prec.SetSym(j, j, prec.At(j, j)+1/(float64(shards)*S*S))
			}
			var aty mat.VecDense
			aty.MulVec(A.T(), y)
			aty.ScaleVec(1/(sigma*sigma), &aty)
			var chol mat.Cholesky
			if !chol.Factorize(&prec) {
				t.Fatal("precision not positive definite")
			}
			var mean mat.VecDense
			chol.SolveVecTo(&mean, &aty)
			target := subpost.Subposterior(m, shards)
			r := rng.NewRand(5)
			for k := range 5 {
				delta := make([]float64, p)
				if k > 0 {
					for j := range delta {
						delta[j] = r.NormFloat64()
					}
				}
				theta := make([]float64, p)
				for j := range theta {
					theta[j] = mean.AtVec(j) + delta[j]
				}
				grad := make([]float64, p)
				target.LogDensity(theta, grad)
				var want mat.VecDense
				want.MulVec(&prec, mat.NewVecDense(p, delta))
				for j := range grad {
					scale := 1e-9 * (1 + mat.Norm(&want, math.Inf(1)) + prec.At(j, j))
					if math.Abs(grad[j]+want.AtVec(j)) > scale {
						t.Errorf("std=%v M=%d δ#%d: gradient[%d] = %.10g, closed form %.10g", std, shards, k, j, grad[j], -want.AtVec(j))
					}
				}
			}
		}
	}
}

// TestNormalModelIsNormalised integrates exp(LogPrior + LogLik) of the
// one-dimensional normal model with known sigma over mu and compares it
// with the closed-form marginal likelihood N(y | 0, σ²I + S²11ᵀ): both
// densities must keep every constant.
func TestNormalModelIsNormalised(t *testing.T) {
	const sigma, S = 1.3, 2.0
	tab, _, _ := Simulate("normal", SimConfig{N: 12, D: 1, Seed: 8, Sigma: sigma})
	rows := []int{0, 2, 3, 5, 7, 8, 11}
	m, _, err := Build("normal", tab, rows, Options{Sigma: sigma, PriorScale: S})
	if err != nil {
		t.Fatal(err)
	}
	// ∫ exp(f(μ)) dμ by the trapezoid rule over ±12 prior sds.
	const steps = 200000
	lo, hi := -12*S, 12*S
	h := (hi - lo) / steps
	mu := make([]float64, 1)
	logf := func(x float64) float64 { mu[0] = x; return m.LogPrior(mu, nil) + m.LogLik(mu, nil) }
	ref := logf(0)
	sum := 0.0
	for i := 0; i <= steps; i++ {
		w := 1.0
		if i == 0 || i == steps {
			w = 0.5
		}
		sum += w * math.Exp(logf(lo+float64(i)*h)-ref)
	}
	got := ref + math.Log(sum*h)
	n := len(rows)
	cov := mat.NewSymDense(n, nil)
	y := make([]float64, n)
	for i := range n {
		for j := range n {
			v := S * S
			if i == j {
				v += sigma * sigma
			}
			cov.SetSym(i, j, v)
		}
		y[i] = tab.Cols[0][rows[i]]
	}
	dist, ok := distmv.NewNormal(make([]float64, n), cov, nil)
	if !ok {
		t.Fatal("covariance")
	}
	if want := dist.LogProb(y); math.Abs(got-want) > 1e-9 {
		t.Fatalf("log ∫ prior·lik = %.12f, closed form %.12f", got, want)
	}
}

// TestLinearPrecision checks the factorised residual sum of squares where
// the expanded form would cancel catastrophically: responses near 10⁶ with
// noise 10⁻⁶, predictors near 10³. The reference sums exact residuals in
// 256-bit arithmetic.
func TestLinearPrecision(t *testing.T) {
	const n = 500
	r := rng.NewRand(3)
	x := make([]float64, n)
	y := make([]float64, n)
	for i := range x {
		x[i] = 1000 + r.NormFloat64()
		y[i] = 1e6 + 2*x[i] + 1e-6*r.NormFloat64()
	}
	tab := &data.Table{Names: []string{"y", "x"}, Cols: [][]float64{y, x}}
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	const sigma = 1e-6
	m, _, err := Build("linear", tab, rows, Options{X: []string{"x"}, Sigma: sigma})
	if err != nil {
		t.Fatal(err)
	}
	for _, theta := range [][]float64{{1e6, 2}, {1e6 + 3e-6, 2 - 1e-9}, {1e6 - 1e-5, 2 + 1e-8}} {
		rss := new(big.Float).SetPrec(256)
		for i := range x {
			e := new(big.Float).SetPrec(256).SetFloat64(y[i])
			e.Sub(e, new(big.Float).SetPrec(256).SetFloat64(theta[0]))
			bx := new(big.Float).SetPrec(256).SetFloat64(theta[1])
			bx.Mul(bx, new(big.Float).SetPrec(256).SetFloat64(x[i]))
			e.Sub(e, bx)
			rss.Add(rss, e.Mul(e, e))
		}
		want, _ := rss.Float64()
		want = -n*(halfLog2Pi+math.Log(sigma)) - want/(2*sigma*sigma)
		got := m.LogLik(theta, nil)
		if math.Abs(got-want) > 1e-6*math.Abs(want-(-n*(halfLog2Pi+math.Log(sigma)))) {
			t.Errorf("θ = %v: LogLik %.10g, exact %.10g", theta, got, want)
		}
	}
}

// TestLinearRankDeficient: a duplicated predictor makes XᵀX singular; the
// Givens factor still gives the exact residual sum of squares.
func TestLinearRankDeficient(t *testing.T) {
	tab, _, _ := Simulate("linear", SimConfig{N: 40, D: 2, Seed: 2})
	tab.Names = append(tab.Names, "dup")
	tab.Cols = append(tab.Cols, tab.Cols[1])
	rows := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	o := Options{X: []string{"x1", "x2", "dup"}}
	m, _, err := Build("linear", tab, rows, o)
	if err != nil {
		t.Fatal(err)
	}
	b := built{m: m, tab: tab, rows: rows, c: modelCase{model: "linear", opts: o}, spec: Spec{Y: []string{"y"}, X: o.X}}
	for _, p := range points(m.Dim(), 3, 1) {
		got, want := m.LogLik(p, nil), referenceLogLik(t, b, p)
		if math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
			t.Errorf("LogLik = %.12g, reference %.12g", got, want)
		}
		checkGradient(t, "LogLik", m.LogLik, p)
	}
}

// TestMixtureLabelSymmetry: permuting the components leaves the target
// unchanged, so the posterior keeps its K! label-switching modes.
func TestMixtureLabelSymmetry(t *testing.T) {
	c := modelCases[13] // K = 3, d = 2
	b := build(t, c)
	K, d := 3, 2
	perm := []int{2, 0, 1}
	for _, theta := range points(b.m.Dim(), 3, 7) {
		v := reported(b.m, theta)
		// Rebuild θ with the components permuted.
		w := make([]float64, K)
		for k := range K {
			w[k] = v[idx("w", perm[k]+1)]
		}
		pt := make([]float64, b.m.Dim())
		for k := range K {
			for j := range d {
				pt[k+K*j] = v[idx("mu", perm[k]+1, j+1)]
			}
		}
		if err := b.m.Params()[1].Transform.Unconstrain(pt[K*d:], w); err != nil {
			t.Fatal(err)
		}
		f := func(th []float64) float64 { return b.m.LogPrior(th, nil) + b.m.LogLik(th, nil) }
		// The Jacobian differs between the two points: compare the
		// densities of the constrained parameters.
		jac := func(th []float64) float64 {
			ww := make([]float64, K)
			return b.m.Params()[1].Transform.Constrain(ww, th[K*d:])
		}
		if a, b := f(theta)-jac(theta), f(pt)-jac(pt); math.Abs(a-b) > 1e-9*(1+math.Abs(a)) {
			t.Errorf("permuted labels: %.12g vs %.12g", a, b)
		}
	}
}
