package subpost

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
)

// isoNormal is the standard normal in d dimensions.
type isoNormal struct{ d int }

func (t isoNormal) Dim() int { return t.d }

func (t isoNormal) LogDensity(x, g []float64) float64 {
	s := 0.0
	for i, v := range x {
		s += v * v
		if g != nil {
			g[i] = -v
		}
	}
	return -0.5 * s
}

// gaussian is N(mu, Sigma) given by its mean and precision (row-major).
type gaussian struct {
	mu, prec []float64
}

func (t *gaussian) Dim() int { return len(t.mu) }

func (t *gaussian) LogDensity(x, g []float64) float64 {
	d := len(t.mu)
	s := 0.0
	for i := range d {
		gi := 0.0
		for j := range d {
			gi -= t.prec[i*d+j] * (x[j] - t.mu[j])
		}
		s += (x[i] - t.mu[i]) * gi
		if g != nil {
			g[i] = gi
		}
	}
	return 0.5 * s
}

// newGaussian builds N(mu, diag(sd)·R·diag(sd)) for the correlation
// matrix R; it returns the target and its covariance.
func newGaussian(t *testing.T, mu, sd []float64, corr []float64) (*gaussian, []float64) {
	t.Helper()
	d := len(mu)
	cov := make([]float64, d*d)
	for i := range d {
		for j := range d {
			cov[i*d+j] = sd[i] * sd[j] * corr[i*d+j]
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(mat.NewSymDense(d, append([]float64(nil), cov...))) {
		t.Fatal("covariance matrix is not positive definite")
	}
	return &gaussian{mu: mu, prec: invert(t, cov, d)}, cov
}

// invert inverts a small SPD matrix by Gauss–Jordan elimination.
func invert(t *testing.T, a []float64, d int) []float64 {
	t.Helper()
	m := append([]float64(nil), a...)
	inv := make([]float64, d*d)
	for i := range d {
		inv[i*d+i] = 1
	}
	for c := range d {
		p := m[c*d+c]
		if p == 0 {
			t.Fatal("singular matrix")
		}
		for j := range d {
			m[c*d+j] /= p
			inv[c*d+j] /= p
		}
		for r := range d {
			if r == c {
				continue
			}
			f := m[r*d+c]
			for j := range d {
				m[r*d+j] -= f * m[c*d+j]
				inv[r*d+j] -= f * inv[c*d+j]
			}
		}
	}
	return inv
}

// sampleNUTS runs nchains chains of adaptive NUTS on t in memory and
// returns draws[chain][coordinate][iteration] of the sampling phase, with
// the sampler statistics of every kept iteration.
func sampleNUTS(t *testing.T, target Target, cfg Config, nchains int) ([][][]float64, [][]NUTSStats) {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d := target.Dim()
	draws := make([][][]float64, nchains)
	stats := make([][]NUTSStats, nchains)
	for c := range nchains {
		r := rng.NewRand(cfg.Seed, 0, uint64(c))
		theta, err := initialPoint(target, r, cfg.InitRadius, true)
		if err != nil {
			t.Fatal(err)
		}
		a := newAdaptiveNUTS(target, cfg, r)
		if err := a.start(theta); err != nil {
			t.Fatal(err)
		}
		draws[c] = make([][]float64, d)
		for it := range cfg.Warmup + cfg.Draws {
			warm := it < cfg.Warmup
			st, err := a.step(warm)
			if err != nil {
				t.Fatal(err)
			}
			if it == cfg.Warmup-1 {
				a.endWarmup()
			}
			if warm {
				continue
			}
			stats[c] = append(stats[c], st)
			for i, v := range a.s.Position() {
				draws[c][i] = append(draws[c][i], v)
			}
		}
	}
	return draws, stats
}

// sampleRWM is sampleNUTS for adaptive random-walk Metropolis.
func sampleRWM(t *testing.T, target Target, warmup, ndraws, nchains int, seed uint64) [][][]float64 {
	t.Helper()
	d := target.Dim()
	draws := make([][][]float64, nchains)
	for c := range nchains {
		r := rng.NewRand(seed, 0, uint64(c))
		theta, err := initialPoint(target, r, DefaultInitRadius, false)
		if err != nil {
			t.Fatal(err)
		}
		s := NewRWM(target, warmup, r)
		if err := s.SetPosition(theta); err != nil {
			t.Fatal(err)
		}
		draws[c] = make([][]float64, d)
		for it := range warmup + ndraws {
			warm := it < warmup
			s.Step(warm)
			if it == warmup-1 {
				s.EndWarmup()
			}
			if warm {
				continue
			}
			for i, v := range s.Position() {
				draws[c][i] = append(draws[c][i], v)
			}
		}
	}
	return draws
}

// series returns coordinate i of draws as chains × iterations.
func series(draws [][][]float64, i int) [][]float64 {
	out := make([][]float64, len(draws))
	for c := range draws {
		out[c] = draws[c][i]
	}
	return out
}

// mcseMean is the Monte Carlo standard error of the mean of x (chains ×
// iterations) by R posterior's mcse_mean: sd/√ess_mean.
func mcseMean(x [][]float64) (mean, mcse float64) {
	return chainsMean(x), chains.McseMean(x)
}

func chainsMean(x [][]float64) float64 {
	s, n := 0.0, 0
	for _, c := range x {
		for _, v := range c {
			s += v
			n++
		}
	}
	return s / float64(n)
}

// squaredDeviations returns (x − m)² elementwise, for the MCSE of a
// variance estimate.
func squaredDeviations(x [][]float64, m float64) [][]float64 {
	out := make([][]float64, len(x))
	for c, s := range x {
		out[c] = make([]float64, len(s))
		for i, v := range s {
			out[c][i] = (v - m) * (v - m)
		}
	}
	return out
}

// checkMoments checks that the mean and variance of every coordinate are
// within 4 Monte Carlo standard errors of the truth (about 1 in 16,000 for
// each comparison to fail by chance; the seeds are fixed).
func checkMoments(t *testing.T, draws [][][]float64, mean, variance []float64) {
	t.Helper()
	for i := range mean {
		x := series(draws, i)
		// The MCSE is only meaningful for chains that mixed.
		if r, ess := chains.Rhat(x), chains.EssBulk(x); !(r < 1.01) || !(ess > 400) {
			t.Errorf("coordinate %d: R-hat %.4f, bulk ESS %.0f: the chains did not mix", i, r, ess)
			continue
		}
		m, se := mcseMean(x)
		if math.Abs(m-mean[i]) > 4*se {
			t.Errorf("coordinate %d: mean %.6g, want %.6g ± 4·%.3g", i, m, mean[i], se)
		}
		v, vse := mcseMean(squaredDeviations(x, m))
		if math.Abs(v-variance[i]) > 4*vse {
			t.Errorf("coordinate %d: variance %.6g, want %.6g ± 4·%.3g", i, v, variance[i], vse)
		}
	}
}

func newTestRand(seed uint64) *rand.Rand { return rng.NewRand(seed, 99) }
