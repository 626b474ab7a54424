package subpost

import (
	"math"
	"testing"

	"github.com/epmc/epmc/rng"
)

// flat is the improper uniform density: zero gradient, so the momentum
// stays constant along a trajectory.
type flat struct{ d int }

func (t flat) Dim() int { return t.d }
func (t flat) LogDensity(x, g []float64) float64 {
	clear(g)
	return 0
}

// step1D is a one-dimensional density with zero gradient that drops by
// drop at q > 0.5.
type step1D struct{ drop float64 }

func (t step1D) Dim() int { return 1 }
func (t step1D) LogDensity(x, g []float64) float64 {
	clear(g)
	if x[0] > 0.5 {
		return -t.drop
	}
	return 0
}

// TestBuildTreeLikeStan ports stan-dev/stan's build_tree_test and
// rho_aggregation_test (src/test/unit/mcmc/hmc/nuts/base_nuts_test.cpp) to
// a flat target, where every point of the tree carries the same momentum:
// a depth-3 subtree takes 8 steps, accumulates 8 momenta into ρ, and makes
// its 7 merges check the ρ sequence Stan's test expects.
func TestBuildTreeLikeStan(t *testing.T) {
	const p0 = 1.5
	s := NewNUTS(flat{1}, DiagMetric, rng.NewRand(0))
	s.ensureLevels()
	s.eps = 1
	copy(s.fwd.q, []float64{0})
	copy(s.fwd.p, []float64{p0})
	s.fwd.lp = 0
	// Stan's test has H0 = −0.1 with H = 0 at every point: H0 − H = −0.1.
	s.h0 = 0.5*p0*p0 - 0.1
	var rhos []float64
	s.trace = func(_, _, rho []float64) { rhos = append(rhos, rho[0]) }
	pSharpBeg, pSharpEnd, pBeg, pEnd := []float64{0}, []float64{0}, []float64{0}, []float64{0}
	rho := []float64{p0}
	lsw := math.Inf(-1)
	if !s.buildTree(3, &s.fwd, &s.propose, pSharpBeg, pSharpEnd, rho, pBeg, pEnd, 1, &lsw) {
		t.Fatal("subtree invalid")
	}
	if s.nLeapfrog != 8 {
		t.Errorf("n_leapfrog = %d, want 8", s.nLeapfrog)
	}
	if rho[0] != p0*9 {
		t.Errorf("rho = %g, want %g", rho[0], p0*9)
	}
	for name, v := range map[string]float64{"p_beg": pBeg[0], "p_end": pEnd[0], "p_sharp_beg": pSharpBeg[0], "p_sharp_end": pSharpEnd[0]} {
		if v != p0 {
			t.Errorf("%s = %g, want %g", name, v, p0)
		}
	}
	if s.fwd.q[0] != 8*p0 {
		t.Errorf("q = %g, want %g", s.fwd.q[0], 8*p0)
	}
	if got, want := lsw, -0.1+math.Log(8); math.Abs(got-want) > 1e-14 {
		t.Errorf("log_sum_weight = %.17g, want %.17g", got, want)
	}
	if got, want := s.sumMetroProb, 8*math.Exp(-0.1); math.Abs(got-want) > 1e-14 {
		t.Errorf("sum_metro_prob = %.17g, want %.17g", got, want)
	}
	// Per merge: whole subtree, then the two extended halves.
	want := []float64{2, 2, 2, 2, 2, 2, 4, 3, 3, 2, 2, 2, 2, 2, 2, 4, 3, 3, 8, 5, 5}
	if len(rhos) != len(want) {
		t.Fatalf("%d criterion checks, want %d", len(rhos), len(want))
	}
	for i, w := range want {
		if rhos[i] != w*p0 {
			t.Errorf("check %d: rho = %g, want %g", i, rhos[i], w*p0)
		}
	}
}

// TestTransitionToMaxDepth ports Stan's transition test: on a flat target
// the trajectory never turns, so it doubles to the maximum depth with
// 2^depth − 1 steps, all accepted.
func TestTransitionToMaxDepth(t *testing.T) {
	for _, depth := range []int{1, 2, 5, 10} {
		s := NewNUTS(flat{1}, DiagMetric, rng.NewRand(3))
		s.MaxDepth = depth
		s.momentum = func(p []float64) { p[0] = 1.5 }
		if err := s.SetPosition([]float64{0}); err != nil {
			t.Fatal(err)
		}
		st := s.Transition()
		if st.TreeDepth != depth || st.NumLeapfrog != 1<<depth-1 || st.Divergent || st.AcceptStat != 1 {
			t.Errorf("max depth %d: %+v", depth, st)
		}
		if st.Energy != 0.5*1.5*1.5 || st.LogDensity != 0 {
			t.Errorf("max depth %d: energy %g, lp %g", depth, st.Energy, st.LogDensity)
		}
	}
}

// TestDivergence checks Stan's rule: a step whose energy error H − H0
// exceeds 1000 is divergent, ends the trajectory at depth 0 and leaves the
// chain where it was; an error of 999 is not divergent.
func TestDivergence(t *testing.T) {
	for _, tc := range []struct {
		drop      float64
		divergent bool
	}{{999, false}, {1001, true}, {math.Inf(1), true}} {
		s := NewNUTS(step1D{tc.drop}, DiagMetric, rng.NewRand(1))
		s.MaxDepth = 1
		s.StepSize = 1
		s.momentum = func(p []float64) { p[0] = 1 }
		if err := s.SetPosition([]float64{0}); err != nil {
			t.Fatal(err)
		}
		st := s.Transition()
		if st.Divergent != tc.divergent || st.NumLeapfrog != 1 {
			t.Errorf("drop %g: %+v", tc.drop, st)
		}
		if tc.divergent {
			if st.TreeDepth != 0 || s.Position()[0] != 0 || st.LogDensity != 0 || st.AcceptStat != 0 {
				t.Errorf("drop %g: divergent transition moved or counted: %+v at %g", tc.drop, st, s.Position()[0])
			}
		} else if want := math.Exp(-tc.drop); st.AcceptStat != want {
			t.Errorf("drop %g: accept_stat %g, want %g", tc.drop, st.AcceptStat, want)
		}
	}
}

// TestUTurnStan2799 is the resonance of stan-dev/stan#2799 ("Binary
// recursive no-u-turn criterion misses u-turn"): on an iid normal target,
// step sizes for which two halves of the trajectory each turn by just
// under half a period, while their union turns by just over a full one,
// let the pre-2019 checks miss the U-turn and run to the maximum tree
// depth. The checks across subtrees of stan-dev/stan#2800 stop.
func TestUTurnStan2799(t *testing.T) {
	// A circular orbit of the 2-d standard normal (q = (1, 0),
	// p = (0, 1)): the leapfrog angle per step is about ε, so 8 steps
	// span just under π and 16 just over 2π for ε ≈ 0.395–0.435.
	for _, eps := range []float64{0.395, 0.415} {
		for _, legacy := range []bool{true, false} {
			s := NewNUTS(isoNormal{2}, DiagMetric, rng.NewRand(1))
			s.legacyCriterion = legacy
			s.StepSize = eps
			s.momentum = func(p []float64) { p[0], p[1] = 0, 1 }
			if err := s.SetPosition([]float64{1, 0}); err != nil {
				t.Fatal(err)
			}
			st := s.Transition()
			switch {
			case legacy && st.TreeDepth != DefaultMaxDepth:
				t.Errorf("ε = %g: the old criterion stopped at depth %d; the resonance should reach %d", eps, st.TreeDepth, DefaultMaxDepth)
			case !legacy && st.TreeDepth > 4:
				t.Errorf("ε = %g: depth %d (%d steps), want at most 4", eps, st.TreeDepth, st.NumLeapfrog)
			}
		}
	}
	// The iid case of the issue: 100 standard normals, random momenta.
	// With the old checks most transitions at ε = 0.395 saturate the tree;
	// with Stan's current checks none do.
	for _, legacy := range []bool{true, false} {
		r := rng.NewRand(7)
		s := NewNUTS(isoNormal{100}, DiagMetric, r)
		s.legacyCriterion = legacy
		s.StepSize = 0.395
		x := make([]float64, 100)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		if err := s.SetPosition(x); err != nil {
			t.Fatal(err)
		}
		saturated := 0
		for range 200 {
			if s.Transition().TreeDepth == DefaultMaxDepth {
				saturated++
			}
		}
		if legacy && saturated < 100 {
			t.Errorf("old criterion: %d of 200 transitions saturated, expected most", saturated)
		}
		if !legacy && saturated > 0 {
			t.Errorf("current criterion: %d of 200 transitions saturated, want none", saturated)
		}
	}
}

// TestInitStepSize follows Stan's init_stepsize by hand on the standard
// normal from q = 1 with zero momentum. One leapfrog step of size ε gives
// q' = 1 − ε²/2, p' = −ε + ε³/4, so H0 − H is 0.09375 at ε = 1, 0 at
// ε = 2 and −96 at ε = 4 (and very negative at 8). From ε = 1 the search
// goes up (0.09375 > log 0.8) and stops at the first ε whose trial falls
// to log 0.8 or below: 4. From ε = 8 it goes down and stops at the first ε
// at or above log 0.8: 2.
func TestInitStepSize(t *testing.T) {
	for _, tc := range []struct{ from, want float64 }{{1, 4}, {8, 2}, {2, 4}} {
		s := NewNUTS(isoNormal{1}, DiagMetric, rng.NewRand(1))
		s.momentum = func(p []float64) { p[0] = 0 }
		if err := s.SetPosition([]float64{1}); err != nil {
			t.Fatal(err)
		}
		s.StepSize = tc.from
		if err := s.InitStepSize(); err != nil {
			t.Fatal(err)
		}
		if s.StepSize != tc.want {
			t.Errorf("from %g: step size %g, want %g", tc.from, s.StepSize, tc.want)
		}
		if s.Position()[0] != 1 || s.LogDensity() != -0.5 {
			t.Errorf("from %g: the search moved the chain", tc.from)
		}
	}
	for _, eps := range []float64{1, 2, 4} {
		s := NewNUTS(isoNormal{1}, DiagMetric, rng.NewRand(1))
		s.momentum = func(p []float64) { p[0] = 0 }
		s.SetPosition([]float64{1})
		s.StepSize = eps
		want := map[float64]float64{1: 0.09375, 2: 0, 4: -96}[eps]
		if got := s.trialDeltaH(); math.Abs(got-want) > 1e-12 {
			t.Errorf("ε = %g: H0 − H = %g, want %g", eps, got, want)
		}
	}
	// A flat target accepts every step size: Stan calls it improper.
	s := NewNUTS(flat{2}, DiagMetric, rng.NewRand(1))
	s.SetPosition([]float64{0, 0})
	if err := s.InitStepSize(); err == nil {
		t.Error("flat target: no error")
	}
}

// TestTransitionAllocs checks that a transition does not allocate.
func TestTransitionAllocs(t *testing.T) {
	for _, kind := range []MetricKind{DiagMetric, DenseMetric} {
		s := NewNUTS(isoNormal{10}, kind, rng.NewRand(1))
		if err := s.SetPosition(make([]float64, 10)); err != nil {
			t.Fatal(err)
		}
		s.StepSize = 0.3
		s.Transition()
		if n := testing.AllocsPerRun(200, func() { s.Transition() }); n != 0 {
			t.Errorf("%s metric: %g allocations per transition", kind, n)
		}
	}
	s := NewRWM(isoNormal{10}, 0, rng.NewRand(1))
	s.SetPosition(make([]float64, 10))
	if n := testing.AllocsPerRun(200, func() { s.Step(false) }); n != 0 {
		t.Errorf("RWM: %g allocations per step", n)
	}
}

// TestDenseMomentum checks that momenta drawn under a dense metric have
// covariance M = (M⁻¹)⁻¹ and that p♯ = M⁻¹p.
func TestDenseMomentum(t *testing.T) {
	inv := []float64{4, 1.2, 1.2, 1}
	m := newMetric(2, DenseMetric)
	if err := m.setDense(inv); err != nil {
		t.Fatal(err)
	}
	want := invert(t, inv, 2)
	r := rng.NewRand(5)
	const n = 200000
	var s [4]float64
	p := make([]float64, 2)
	for range n {
		m.sampleMomentum(p, r)
		s[0] += p[0] * p[0]
		s[1] += p[0] * p[1]
		s[3] += p[1] * p[1]
	}
	s[2] = s[1]
	for i := range s {
		got := s[i] / n
		// The sd of a sample second moment of a normal is at most
		// √2·max variance/√n.
		tol := 4 * math.Sqrt(2) * math.Max(want[0], want[3]) / math.Sqrt(n)
		if math.Abs(got-want[i]) > tol {
			t.Errorf("Cov(p)[%d] = %g, want %g ± %g", i, got, want[i], tol)
		}
	}
	v := make([]float64, 2)
	m.sharp(v, []float64{1, 2})
	if v[0] != 4+2.4 || v[1] != 1.2+2 {
		t.Errorf("p♯ = %v", v)
	}
	if err := m.setDense([]float64{1, 2, 2, 1}); err == nil {
		t.Error("indefinite matrix accepted")
	}
}

// TestNUTSGaussians checks NUTS with Stan's adaptation against exact
// Gaussian moments: independent coordinates on scales from 0.01 to 100
// with a diagonal metric, and strongly correlated, badly scaled ones with
// a dense metric (and with a diagonal metric, which must still be right,
// only slower).
func TestNUTSGaussians(t *testing.T) {
	indep := []float64{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
	corr := []float64{
		1, 0.9, 0.5, -0.3,
		0.9, 1, 0.6, -0.2,
		0.5, 0.6, 1, 0.4,
		-0.3, -0.2, 0.4, 1,
	}
	for _, tc := range []struct {
		name   string
		metric MetricKind
		mu, sd []float64
		corr   []float64
	}{
		{"diag-scaled", DiagMetric, []float64{1, -2, 50, 0.5}, []float64{0.01, 1, 100, 3}, indep},
		{"dense-correlated", DenseMetric, []float64{1, -2, 50, 0.5}, []float64{0.1, 1, 10, 2}, corr},
		{"diag-correlated", DiagMetric, []float64{0, 1, 2, 3}, []float64{0.1, 1, 10, 2}, corr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, cov := newGaussian(t, tc.mu, tc.sd, tc.corr)
			draws, stats := sampleNUTS(t, target, Config{Metric: tc.metric, Draws: 5000, Seed: 11}, 4)
			d := len(tc.mu)
			variance := make([]float64, d)
			for i := range d {
				variance[i] = cov[i*d+i]
			}
			checkMoments(t, draws, tc.mu, variance)
			divergent, accept := 0, 0.0
			n := 0
			for _, c := range stats {
				for _, st := range c {
					if st.Divergent {
						divergent++
					}
					accept += st.AcceptStat
					n++
				}
			}
			if divergent > 0 {
				t.Errorf("%d divergent transitions on a Gaussian", divergent)
			}
			// Dual averaging targets 0.8; the mean accept_stat after
			// warmup is typically 0.8–0.95 on Gaussians.
			if a := accept / float64(n); a < 0.7 || a > 0.99 {
				t.Errorf("mean accept_stat %.3f", a)
			}
		})
	}
}

// logGamma is the density of x = log y for y ~ Gamma(α, 1) in each
// coordinate: skewed, with mean ψ(α) and variance ψ'(α).
type logGamma struct{ d int }

func (t logGamma) Dim() int { return t.d }
func (t logGamma) LogDensity(x, g []float64) float64 {
	const alpha = 2
	s := 0.0
	for i, v := range x {
		e := math.Exp(v)
		s += alpha*v - e
		if g != nil {
			g[i] = alpha - e
		}
	}
	return s
}

// TestNUTSSkewed checks NUTS on a skewed target with known moments:
// log of a Gamma(2, 1) variable has mean ψ(2) = 1 − γ and variance
// ψ'(2) = π²/6 − 1.
func TestNUTSSkewed(t *testing.T) {
	const euler = 0.57721566490153286
	draws, _ := sampleNUTS(t, logGamma{3}, Config{Draws: 5000, Seed: 5}, 4)
	m, v := 1-euler, math.Pi*math.Pi/6-1
	checkMoments(t, draws, []float64{m, m, m}, []float64{v, v, v})
}

// TestAdaptedMetric checks that the adapted inverse metric estimates the
// posterior variances (diag) or covariance (dense) and that the step size
// is left at exp(x̄).
func TestAdaptedMetric(t *testing.T) {
	corr := []float64{1, 0.8, 0.8, 1}
	target, cov := newGaussian(t, []float64{0, 0}, []float64{0.1, 10}, corr)
	for _, kind := range []MetricKind{DiagMetric, DenseMetric} {
		cfg, _ := Config{Metric: kind}.withDefaults()
		r := rng.NewRand(3)
		a := newAdaptiveNUTS(target, cfg, r)
		if err := a.start([]float64{0.1, -1}); err != nil {
			t.Fatal(err)
		}
		for range cfg.Warmup {
			if _, err := a.step(true); err != nil {
				t.Fatal(err)
			}
		}
		a.endWarmup()
		inv := a.s.InvMetric()
		// The last window has 500 draws: relative error of a variance
		// estimate ≈ √(2/ESS); allow 30%.
		if kind == DiagMetric {
			for i, v := range inv {
				if w := cov[i*2+i]; math.Abs(v/w-1) > 0.3 {
					t.Errorf("diag inverse metric[%d] = %g, want ≈ %g", i, v, w)
				}
			}
		} else {
			for i, v := range inv {
				r, c := i/2, i%2
				if math.Abs(v-cov[i])/math.Sqrt(cov[r*2+r]*cov[c*2+c]) > 0.3 {
					t.Errorf("dense inverse metric[%d] = %g, want ≈ %g", i, v, cov[i])
				}
			}
		}
		if a.s.StepSize != math.Exp(a.da.xBar) {
			t.Errorf("%s: step size %g is not exp(x̄) = %g", kind, a.s.StepSize, math.Exp(a.da.xBar))
		}
	}
}

func TestSetPositionRejectsNonFinite(t *testing.T) {
	s := NewNUTS(step1D{math.Inf(1)}, DiagMetric, rng.NewRand(1))
	if err := s.SetPosition([]float64{1}); err == nil {
		t.Error("−∞ log density accepted")
	}
	if err := s.SetPosition([]float64{1, 2}); err == nil {
		t.Error("wrong dimension accepted")
	}
}
