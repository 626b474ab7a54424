package sis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

// TestKalmanGolden compares the Kalman filter with brute-force Gaussian
// conditioning in R (testdata/sis/lgss_golden.R).
func TestKalmanGolden(t *testing.T) {
	m := lgssModel(t)
	g := readCSV(t, "../testdata/sis/lgss_golden.csv", "loglik", "mean", "var")
	k := m.Kalman()
	if len(g[0]) != len(m.Y) {
		t.Fatalf("golden has %d rows, series %d", len(g[0]), len(m.Y))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*(1+math.Abs(b)) }
	for i := range m.Y {
		if !close(k.RunningLogLik[i], g[0][i]) || !close(k.Means[i], g[1][i]) || !close(k.Vars[i], g[2][i]) {
			t.Fatalf("t=%d: Kalman (%.12g, %.12g, %.12g), R (%.12g, %.12g, %.12g)", i,
				k.RunningLogLik[i], k.Means[i], k.Vars[i], g[0][i], g[1][i], g[2][i])
		}
	}
	if k.LogLik != k.RunningLogLik[len(m.Y)-1] {
		t.Error("LogLik is not the last running value")
	}
}

// replicateFilters runs r independent filters (streams 0..r−1), several
// at a time, keeping all results, or only the log-evidence when lean is
// set.
func replicateFilters(t testing.TB, m StateSpace, cfg FilterConfig, r int, lean ...bool) []*FilterResult {
	t.Helper()
	out := make([]*FilterResult, r)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range out {
		g.Go(func() error {
			cfg := cfg
			cfg.Stream = uint64(i)
			res, err := RunFilter(context.Background(), m, cfg)
			if err != nil {
				return err
			}
			if len(lean) > 0 && lean[0] {
				res = &FilterResult{LogEvidence: res.LogEvidence, Particles: res.Particles}
			}
			out[i] = res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}

func logEvidences(rs []*FilterResult) []float64 {
	lz := make([]float64, len(rs))
	for i, r := range rs {
		lz[i] = r.LogEvidence
	}
	return lz
}

// checkExactness checks the linear Gaussian filter against Kalman: the mean
// log-evidence, corrected by half its variance (log Ẑ is biased down by
// about Var/2), within 3 standard errors of the exact value; and every
// filtering mean within 4.5 standard errors (a Bonferroni bound for T = 100
// comparisons at a 4-SE family-wise level).
func checkExactness(t *testing.T, m *LinearGauss, res []*FilterResult) {
	t.Helper()
	k := m.Kalman()
	lz := logEvidences(res)
	mean, sd := meanSD(lz)
	se := sd / math.Sqrt(float64(len(lz)))
	corrected := mean + sd*sd/2
	t.Logf("N=%d, R=%d: mean log Ẑ %.4f, sd %.4f, bias-corrected %.4f ± %.4f; Kalman %.4f",
		res[0].Particles, len(lz), mean, sd, corrected, se, k.LogLik)
	if d := corrected - k.LogLik; math.Abs(d) > 3*se {
		t.Errorf("bias-corrected log-evidence %.4f is %.1f standard errors from Kalman's %.4f", corrected, d/se, k.LogLik)
	}
	worst := 0.0
	ms := make([]float64, len(res))
	for step := range m.Y {
		for i, r := range res {
			ms[i] = r.Mean(step, 0)
		}
		mu, s := meanSD(ms)
		z := (mu - k.Means[step]) / (s / math.Sqrt(float64(len(ms))))
		worst = max(worst, math.Abs(z))
		if math.Abs(z) > 4.5 {
			t.Errorf("t=%d: filtering mean %.5f, Kalman %.5f (%.1f standard errors)", step, mu, k.Means[step], z)
		}
	}
	t.Logf("largest filtering-mean z-score over T=%d steps: %.2f", len(m.Y), worst)
}

// TestFilterLinearGaussExact is the exactness check of the brief: N =
// 10,000 on the ρ = 0.9, σX = 1, σY = 0.2, T = 100 model (more replicates
// under the long tag).
func TestFilterLinearGaussExact(t *testing.T) {
	m := lgssModel(t)
	reps := 40
	if testing.Short() {
		reps = 10
	}
	checkExactness(t, m, replicateFilters(t, m, FilterConfig{Particles: 10_000, Seed: 1}, reps))
}

// TestGuidedLinearGaussExact: the guided filter with the locally optimal
// proposal is far tighter and must agree with Kalman too.
func TestGuidedLinearGaussExact(t *testing.T) {
	m := lgssModel(t)
	res := replicateFilters(t, m, FilterConfig{Particles: 1000, Guided: true, Seed: 2}, 100)
	checkExactness(t, m, res)
	_, sd := meanSD(logEvidences(res))
	if sd > 0.2 {
		t.Errorf("guided filter sd(log Ẑ) = %.3f with N=1000; the optimal proposal should give < 0.2", sd)
	}
}

// TestFilterUnbiased checks that Ẑ/Z averages to 1 (Del Moral 2004, Th.
// 7.4.2), for every resampling scheme, on the first 20 observations with
// N = 200 (Var(log Ẑ) ≈ 0.5, so log Ẑ alone is visibly biased while Ẑ/Z
// has a finite, well-estimated variance).
func TestFilterUnbiased(t *testing.T) {
	full := lgssModel(t)
	m := &LinearGauss{Rho: full.Rho, SigmaX: full.SigmaX, SigmaY: full.SigmaY, Y: full.Y[:20]}
	logZ := m.Kalman().LogLik
	reps := 2000
	if testing.Short() {
		reps = 500
	}
	for _, s := range Schemes {
		t.Run(s.String(), func(t *testing.T) {
			res := replicateFilters(t, m, FilterConfig{Particles: 200, Scheme: s, Seed: 3, Workers: 1}, reps)
			ratio := make([]float64, reps)
			for i, r := range res {
				ratio[i] = math.Exp(r.LogEvidence - logZ)
			}
			mean, sd := meanSD(ratio)
			se := sd / math.Sqrt(float64(reps))
			lmean, lsd := meanSD(logEvidences(res))
			t.Logf("mean Ẑ/Z = %.4f ± %.4f; mean log(Ẑ/Z) = %.4f (sd %.3f)", mean, se, lmean-logZ, lsd)
			if math.Abs(mean-1) > 3*se {
				t.Errorf("mean Ẑ/Z = %.4f, %.1f standard errors from 1", mean, (mean-1)/se)
			}
		})
	}
}

// TestStochVolFilters checks the bootstrap and guided filters on the
// stochastic volatility model against each other and against a high-N
// run: no exact likelihood exists.
func TestStochVolFilters(t *testing.T) {
	m := &StochVol{Mu: -1.02, Rho: 0.9702, Sigma: 0.178}
	_, m.Y = m.Simulate(100, rand.New(rand.NewPCG(7, 8)))
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	const nref = 100_000
	ref, err := RunFilter(context.Background(), m, FilterConfig{Particles: nref, Guided: true, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, guided := range []bool{false, true} {
		res := replicateFilters(t, m, FilterConfig{Particles: 1000, Guided: guided, Seed: 10}, 60)
		mean, sd := meanSD(logEvidences(res))
		se := sd / math.Sqrt(float64(len(res)))
		corrected := mean + sd*sd/2
		t.Logf("guided=%v: mean log Ẑ %.4f sd %.4f; reference (N=%d) %.4f", guided, mean, sd, nref, ref.LogEvidence)
		// The reference has its own error, of sd ≈ sd·√(1000/nref).
		tol := 3 * math.Hypot(se, sd*math.Sqrt(1000.0/nref))
		if math.Abs(corrected-ref.LogEvidence) > tol {
			t.Errorf("guided=%v: bias-corrected log-evidence %.4f, reference %.4f (tolerance %.4f)", guided, corrected, ref.LogEvidence, tol)
		}
		for step := 0; step < 100; step += 9 {
			ms := make([]float64, len(res))
			for i, r := range res {
				ms[i] = r.Mean(step, 0)
			}
			mu, s := meanSD(ms)
			if z := (mu - ref.Mean(step, 0)) / (s / math.Sqrt(float64(len(ms)))); math.Abs(z) > 4.5 {
				t.Errorf("guided=%v t=%d: filtering mean %.4f, reference %.4f (%.1f standard errors)", guided, step, mu, ref.Mean(step, 0), z)
			}
		}
	}
}

// TestFilterBitIdentical checks that results do not depend on the number
// of workers.
func TestFilterBitIdentical(t *testing.T) {
	m := lgssModel(t)
	sv := &StochVol{Mu: -1, Rho: 0.95, Sigma: 0.2}
	_, sv.Y = sv.Simulate(60, rand.New(rand.NewPCG(1, 1)))
	for _, model := range []StateSpace{m, sv} {
		for _, s := range Schemes {
			for _, guided := range []bool{false, true} {
				name := fmt.Sprintf("%T/%v/guided=%v", model, s, guided)
				cfg := FilterConfig{Particles: 3*BlockSize + 17, Scheme: s, Guided: guided, Seed: 5, Threshold: 0.7}
				var ref *FilterResult
				for _, w := range []int{1, 2, 3, 8} {
					cfg.Workers = w
					res, err := RunFilter(context.Background(), model, cfg)
					if err != nil {
						t.Fatal(err)
					}
					if ref == nil {
						ref = res
						continue
					}
					if err := sameResult(ref, res); err != nil {
						t.Fatalf("%s: %d workers differ from 1: %v", name, w, err)
					}
				}
			}
		}
	}
}

func sameResult(a, b *FilterResult) error {
	eq := func(name string, x, y []float64) error {
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				return fmt.Errorf("%s[%d]: %v vs %v", name, i, x[i], y[i])
			}
		}
		return nil
	}
	if a.LogEvidence != b.LogEvidence {
		return fmt.Errorf("log-evidence %v vs %v", a.LogEvidence, b.LogEvidence)
	}
	for _, e := range []error{
		eq("means", a.Means, b.Means), eq("vars", a.Vars, b.Vars), eq("ess", a.ESS, b.ESS),
		eq("running", a.RunningLogEvidence, b.RunningLogEvidence), eq("x", a.X, b.X), eq("logw", a.LogWeights, b.LogWeights),
	} {
		if e != nil {
			return e
		}
	}
	for i := range a.Resampled {
		if a.Resampled[i] != b.Resampled[i] {
			return fmt.Errorf("resampled[%d] differs", i)
		}
	}
	return nil
}

// TestFilterResamplingThreshold: threshold 1 resamples at every step after
// the first; a tiny threshold almost never.
func TestFilterResamplingThreshold(t *testing.T) {
	m := lgssModel(t)
	res, err := RunFilter(context.Background(), m, FilterConfig{Particles: 500, Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Resampled {
		if r != (i > 0) {
			t.Fatalf("threshold 1: resampled[%d] = %v", i, r)
		}
	}
	// The guided filter's weights p(y_t | x_{t−1}) are nearly flat here.
	res, err = RunFilter(context.Background(), m, FilterConfig{Particles: 500, Threshold: 1e-6, Guided: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res.ESS {
		if e < 1 || e > 500 {
			t.Fatalf("ESS[%d] = %g outside [1, N]", i, e)
		}
	}
	if res.Resampled[1] {
		t.Error("threshold 1e-6 resampled at step 1")
	}
}

// TestFilterStepsAllocateNothing checks that the step loop does not
// allocate: a run over 100 steps allocates as often as one over 10.
func TestFilterStepsAllocateNothing(t *testing.T) {
	full := lgssModel(t)
	for _, guided := range []bool{false, true} {
		for _, s := range Schemes {
			allocs := func(T int) float64 {
				m := &LinearGauss{Rho: full.Rho, SigmaX: full.SigmaX, SigmaY: full.SigmaY, Y: full.Y[:T]}
				cfg := FilterConfig{Particles: 2 * BlockSize, Scheme: s, Guided: guided, Workers: 2, Threshold: 1}
				return testing.AllocsPerRun(5, func() {
					if _, err := RunFilter(context.Background(), m, cfg); err != nil {
						t.Fatal(err)
					}
				})
			}
			if a10, a100 := allocs(10), allocs(100); a100 > a10 {
				t.Errorf("%v guided=%v: %.0f allocations for T=100, %.0f for T=10", s, guided, a100, a10)
			}
		}
	}
}

func TestFilterErrors(t *testing.T) {
	m := lgssModel(t)
	nan := &LinearGauss{Rho: 0.9, SigmaX: 1, SigmaY: 0.2, Y: []float64{0.1, math.NaN(), 0.3}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name  string
		ctx   context.Context
		model StateSpace
		cfg   FilterConfig
		want  string
	}{
		{"one particle", nil, m, FilterConfig{Particles: 1}, "number of particles 1 is below 2"},
		{"negative particles", nil, m, FilterConfig{Particles: -5}, "below 2"},
		{"threshold above 1", nil, m, FilterConfig{Threshold: 1.5}, "threshold 1.5 is outside (0, 1]"},
		{"negative threshold", nil, m, FilterConfig{Threshold: -0.1}, "outside (0, 1]"},
		{"NaN threshold", nil, m, FilterConfig{Threshold: math.NaN()}, "outside (0, 1]"},
		{"bad scheme", nil, m, FilterConfig{Scheme: Scheme(42)}, "invalid resampling scheme"},
		{"NaN observation", nil, nan, FilterConfig{}, "step 1: log weight of particle 0 is NaN"},
		{"guided without proposal", nil, bootstrapOnly{m}, FilterConfig{Guided: true}, "offers no proposal"},
		{"no observations", nil, &LinearGauss{Rho: 0.5, SigmaX: 1, SigmaY: 1}, FilterConfig{}, "no observations"},
		{"cancelled", cancelled, m, FilterConfig{}, "context canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := RunFilter(ctx, c.model, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if err := nan.Validate(); err == nil || !strings.Contains(err.Error(), "observation 1 is NaN") {
		t.Errorf("Validate: %v", err)
	}
	// Observations far in the tails underflow every weight.
	far := &StochVol{Mu: 0, Rho: 0.5, Sigma: 0.01, Y: []float64{0, 1e200}}
	if _, err := RunFilter(context.Background(), far, FilterConfig{}); !errors.Is(err, ErrDegenerate) {
		t.Errorf("degenerate weights: %v", err)
	}
}

// bootstrapOnly hides a model's proposal methods.
type bootstrapOnly struct{ StateSpace }

func TestModelValidate(t *testing.T) {
	y := []float64{1, 2}
	bad := []interface{ Validate() error }{
		&LinearGauss{Rho: 1, SigmaX: 1, SigmaY: 1, Y: y},
		&LinearGauss{Rho: 0.5, SigmaX: 0, SigmaY: 1, Y: y},
		&LinearGauss{Rho: 0.5, SigmaX: 1, SigmaY: -1, Y: y},
		&LinearGauss{Rho: 0.5, SigmaX: 1, SigmaY: 1},
		&StochVol{Mu: 0, Rho: 1, Sigma: 1, Y: y},
		&StochVol{Mu: 0, Rho: 0.5, Sigma: 0, Y: y},
		&StochVol{Mu: math.Inf(1), Rho: 0.5, Sigma: 1, Y: y},
		&StochVol{Mu: 0, Rho: 0.5, Sigma: 1, Y: []float64{1, math.Inf(-1)}},
	}
	for i, m := range bad {
		if m.Validate() == nil {
			t.Errorf("case %d: %+v validated", i, m)
		}
	}
	ok := &LinearGauss{Rho: 1, SigmaX: 1, SigmaY: 1, Sigma0: 2, Y: y}
	if err := ok.Validate(); err != nil {
		t.Errorf("random walk with sigma_0: %v", err)
	}
}
