package combine

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/epmc/epmc/rng"
)

// gaussianShards draws T_m points from each of M Gaussian subposteriors
// N(μ_m, Σ_m) of dimension d and returns them with the exact product
// N(μ*, Σ*). Shard covariances are M·Σ0 with shard-specific scales and
// rotations (so weighting matters) unless equal is set; diagonal makes
// every Σ_m diagonal.
func gaussianShards(t testing.TB, M, T, d int, seed uint64, equal, diagonal bool) ([][][]float64, []float64, *mat.SymDense) {
	t.Helper()
	r := rng.NewRand(seed)
	// Σ0: correlated unless diagonal.
	base := mat.NewSymDense(d, nil)
	for i := range d {
		for j := 0; j <= i; j++ {
			v := math.Pow(0.5, float64(i-j)) * math.Sqrt(float64((i+1)*(j+1)))
			if diagonal && i != j {
				v = 0
			}
			base.SetSym(i, j, v)
		}
	}
	precSum := mat.NewSymDense(d, nil)
	rhs := mat.NewVecDense(d, nil)
	shards := make([][][]float64, M)
	for m := range M {
		cov := mat.NewSymDense(d, nil)
		cov.ScaleSym(float64(M), base)
		if !equal {
			// Scale coordinates by factors in [0.6, 1.6].
			sc := make([]float64, d)
			for j := range sc {
				sc[j] = 0.6 + r.Float64()
			}
			for i := range d {
				for j := 0; j <= i; j++ {
					cov.SetSym(i, j, cov.At(i, j)*sc[i]*sc[j])
				}
			}
		}
		// Shard means scatter as in real data: a shard's posterior mean
		// differs from the full-data one by about a shard posterior sd
		// (MLE_m − MLE ~ N(0, Σ_m − Σ) ≈ N(0, (M−1)Σ0)).
		mu := make([]float64, d)
		for j := range mu {
			mu[j] = r.NormFloat64() * math.Sqrt(float64(M-1)*base.At(j, j))
		}
		var ch mat.Cholesky
		if !ch.Factorize(cov) {
			t.Fatal("bad test covariance")
		}
		var l mat.TriDense
		ch.LTo(&l)
		n := T + m*37 // unequal draws per shard
		eps := make([]float64, d)
		for range n {
			for j := range eps {
				eps[j] = r.NormFloat64()
			}
			x := make([]float64, d)
			for i := range d {
				v := mu[i]
				for j := 0; j <= i; j++ {
					v += l.At(i, j) * eps[j]
				}
				x[i] = v
			}
			shards[m] = append(shards[m], x)
		}
		var prec mat.SymDense
		ch.InverseTo(&prec)
		precSum.AddSym(precSum, &prec)
		var v mat.VecDense
		v.MulVec(&prec, mat.NewVecDense(d, mu))
		rhs.AddVec(rhs, &v)
	}
	var ch mat.Cholesky
	ch.Factorize(precSum)
	cov := mat.NewSymDense(d, nil)
	ch.InverseTo(cov)
	var mu mat.VecDense
	ch.SolveVecTo(&mu, rhs)
	return shards, mu.RawVector().Data, cov
}

// batchMCSE returns the Monte Carlo standard error of the mean of a
// scalar function f of the draws, by batch means over every chain (20
// batches per chain), and the implied effective sample size.
func batchMCSE(draws [][][]float64, f func([]float64) float64) (se, ess float64) {
	const batches = 20
	var means []float64
	var all []float64
	for _, ch := range draws {
		b := len(ch) / batches
		for k := range batches {
			s := 0.0
			for _, x := range ch[k*b : (k+1)*b] {
				s += f(x)
			}
			means = append(means, s/float64(b))
		}
		for _, x := range ch {
			all = append(all, f(x))
		}
	}
	mb, vb := meanVar(means)
	_ = mb
	_, v := meanVar(all)
	se = math.Sqrt(vb / float64(len(means)))
	ess = v / (se * se)
	if ess > float64(len(all)) {
		// Batch means cannot show antithetic gains reliably; cap at n.
		ess = float64(len(all))
		se = math.Sqrt(v / ess)
	}
	return se, ess
}

func meanVar(x []float64) (float64, float64) {
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return m, s / float64(len(x)-1)
}

func pool(draws [][][]float64) [][]float64 {
	var out [][]float64
	for _, ch := range draws {
		out = append(out, ch...)
	}
	return out
}

// logGammaShards draws T points from each of M skewed subposteriors whose
// product is known exactly. Coordinate j of shard m is θ_j = log λ_j with
// λ_j ~ Gamma(a, b_mj) (shape a, rate b_mj): the posterior of a log rate
// from a Poisson count a with exposure b_mj under a flat prior on log λ,
// with density ∝ exp(aθ − b e^θ), skewness about −1/√a. The exposures
// scatter as b_mj = exp(jit·ε/√a), so the shards' modes disagree by about
// jit shard standard deviations. The product is then exactly log-gamma
// with shape Ma and rate Σ_m b_mj per coordinate, mean ψ(Ma) − log Σb and
// variance ψ'(Ma). The output is y = Aθ for a fixed mixing matrix A
// (identity plus 0.3 off the diagonal), which keeps the product form; the
// exact mean and variances of y are returned.
func logGammaShards(M, T, d int, a, jit float64, seed uint64) ([][][]float64, []float64, []float64) {
	src := rng.New(seed, 11)
	norm := distuv.Normal{Mu: 0, Sigma: 1, Src: src}
	A := make([]float64, d*d)
	for i := range d {
		for j := range d {
			if i == j {
				A[i*d+j] = 1
			} else {
				A[i*d+j] = 0.3 * float64((i+2*j)%3-1)
			}
		}
	}
	sumB := make([]float64, d)
	shards := make([][][]float64, M)
	th := make([]float64, d)
	for m := range M {
		gam := make([]distuv.Gamma, d)
		for j := range gam {
			b := math.Exp(jit / math.Sqrt(a) * norm.Rand())
			sumB[j] += b
			gam[j] = distuv.Gamma{Alpha: a, Beta: b, Src: src}
		}
		for range T {
			for j := range th {
				th[j] = math.Log(gam[j].Rand())
			}
			y := make([]float64, d)
			for i := range d {
				for j := range d {
					y[i] += A[i*d+j] * th[j]
				}
			}
			shards[m] = append(shards[m], y)
		}
	}
	shape := float64(M) * a
	mean := make([]float64, d)
	vars := make([]float64, d)
	for i := range d {
		for j := range d {
			mean[i] += A[i*d+j] * (mathext.Digamma(shape) - math.Log(sumB[j]))
			vars[i] += A[i*d+j] * A[i*d+j] * mathext.Zeta(2, shape) // ψ'(x) = ζ(2, x)
		}
	}
	return shards, mean, vars
}

// meanVarCols returns the per-coordinate mean and variance of draws x.
func meanVarCols(x [][]float64) ([]float64, []float64) {
	d := len(x[0])
	mean, cov := meanCov(x, d)
	vars := make([]float64, d)
	for j := range vars {
		vars[j] = cov.At(j, j)
	}
	return mean, vars
}
