package subpost

import (
	"math"
	"testing"
)

// TestRWMGaussian checks adaptive random-walk Metropolis against the exact
// moments of a correlated, badly scaled Gaussian, and that the frozen
// proposal covariance estimates the target's.
func TestRWMGaussian(t *testing.T) {
	corr := []float64{1, 0.9, 0, 0.9, 1, -0.3, 0, -0.3, 1}
	mu, sd := []float64{1, -1, 20}, []float64{0.1, 1, 10}
	target, cov := newGaussian(t, mu, sd, corr)
	draws := sampleRWM(t, target, 2000, 20000, 4, 3)
	variance := []float64{cov[0], cov[4], cov[8]}
	checkMoments(t, draws, mu, variance)

	s := NewRWM(target, 2000, newTestRand(4))
	if err := s.SetPosition([]float64{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	accepted := 0.0
	for it := range 4000 {
		st := s.Step(it < 2000)
		if it == 1999 {
			s.EndWarmup()
		}
		if it >= 2000 {
			accepted += st.AcceptStat
		}
	}
	pc := s.ProposalCov()
	for i := range 3 {
		for j := range 3 {
			if math.Abs(pc[i*3+j]-cov[i*3+j])/(sd[i]*sd[j]) > 0.3 {
				t.Errorf("proposal covariance[%d,%d] = %g, want ≈ %g", i, j, pc[i*3+j], cov[i*3+j])
			}
		}
	}
	// With Σ ≈ the target covariance, 2.38²Σ/d gives an acceptance rate
	// near 0.35 in 3 dimensions (Roberts, Gelman & Gilks 1997 give 0.44
	// in one dimension, 0.234 as d → ∞).
	if a := accepted / 2000; a < 0.2 || a > 0.5 {
		t.Errorf("mean acceptance %g", a)
	}
}

// TestRWMFrozenAfterWarmup: the sampling phase does not adapt.
func TestRWMFrozenAfterWarmup(t *testing.T) {
	s := NewRWM(isoNormal{2}, 500, newTestRand(2))
	s.SetPosition([]float64{0, 0})
	for it := range 500 {
		s.Step(true)
		if it == 499 {
			s.EndWarmup()
		}
	}
	before := s.ProposalCov()
	for range 1000 {
		s.Step(false)
	}
	after := s.ProposalCov()
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("proposal changed after warmup: %v → %v", before, after)
		}
	}
}
