//go:build long

package sis

import (
	"math"
	"testing"
)

// TestFilterLinearGaussExactLong is the exactness check with 300
// replicates of N = 10,000 for the default, the fastest and the noisiest
// scheme.
func TestFilterLinearGaussExactLong(t *testing.T) {
	m := lgssModel(t)
	for _, s := range []Scheme{SSP, Systematic, Multinomial} {
		t.Run(s.String(), func(t *testing.T) {
			checkExactness(t, m, replicateFilters(t, m, FilterConfig{Particles: 10_000, Scheme: s, Seed: 100}, 300))
		})
	}
}

// TestFilterUnbiasedLong checks E[Ẑ/Z] = 1 on the full T = 100 series with
// N = 1000 (Var(log Ẑ) ≈ 1) over 10,000 runs.
func TestFilterUnbiasedLong(t *testing.T) {
	m := lgssModel(t)
	logZ := m.Kalman().LogLik
	for _, s := range []Scheme{SSP, Multinomial} {
		t.Run(s.String(), func(t *testing.T) {
			const reps = 10000
			res := replicateFilters(t, m, FilterConfig{Particles: 1000, Scheme: s, Seed: 101}, reps, true)
			ratio := make([]float64, reps)
			for i, r := range res {
				ratio[i] = math.Exp(r.LogEvidence - logZ)
			}
			mean, sd := meanSD(ratio)
			se := sd / math.Sqrt(reps)
			t.Logf("mean Ẑ/Z = %.4f ± %.4f", mean, se)
			if math.Abs(mean-1) > 3*se {
				t.Errorf("mean Ẑ/Z = %.4f, %.1f standard errors from 1", mean, (mean-1)/se)
			}
		})
	}
}
