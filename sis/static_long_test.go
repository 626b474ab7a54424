//go:build long

package sis

import (
	"fmt"
	"testing"
)

// TestSampleStaticConjugateLong repeats the conjugate regression check with
// 100 runs per variant, which resolves biases of a fifth of the short
// test's tolerance.
func TestSampleStaticConjugateLong(t *testing.T) {
	m := newRegression(30, 1)
	const power = 0.25
	mean, cov, logZ := m.exact(power)
	for _, wf := range []bool{false, true} {
		t.Run(fmt.Sprintf("wastefree=%v", wf), func(t *testing.T) {
			runs := runsOf(t, m, StaticConfig{Particles: 2000, PriorPower: power, WasteFree: wf, Seed: 500}, 100)
			lz := make([]float64, len(runs))
			for i, r := range runs {
				lz[i] = r.LogEvidence
			}
			_, sd := meanSD(lz)
			for i := range lz {
				lz[i] += sd * sd / 2
			}
			checkAcrossRuns(t, "log-evidence", lz, logZ)
			for j := range 3 {
				ms, vs := make([]float64, len(runs)), make([]float64, len(runs))
				for i, r := range runs {
					xs := make([]float64, r.N)
					for k := range r.N {
						xs[k] = r.Particle(k)[j]
					}
					mu, s := meanSD(xs)
					ms[i], vs[i] = mu, s*s*float64(r.N-1)/float64(r.N)
				}
				checkAcrossRuns(t, fmt.Sprintf("mean of beta[%d]", j+1), ms, mean[j])
				checkAcrossRuns(t, fmt.Sprintf("variance of beta[%d]", j+1), unbiasedVariances(ms, vs), cov.At(j, j))
			}
		})
	}
}

// TestSampleStaticBimodalLong checks the mode mass over 40 runs: the mean
// within its standard error, every run within ±0.05.
func TestSampleStaticBimodalLong(t *testing.T) {
	for _, cfg := range []StaticConfig{
		{Particles: 8000, Seed: 501},
		{Particles: 40000, WasteFree: true, ChainLength: 5, Seed: 501},
	} {
		t.Run(fmt.Sprintf("wastefree=%v", cfg.WasteFree), func(t *testing.T) {
			runs := runsOf(t, bimodal{}, cfg, 40)
			fr := make([]float64, len(runs))
			lz := make([]float64, len(runs))
			for i, r := range runs {
				low := 0
				for k := range r.N {
					if r.Particle(k)[0] < 0 {
						low++
					}
				}
				fr[i] = float64(low) / float64(r.N)
				lz[i] = r.LogEvidence
				if fr[i] < 0.25 || fr[i] > 0.35 {
					t.Errorf("run %d: mass %.3f", i, fr[i])
				}
			}
			checkAcrossRuns(t, "mass of the mode at (−4,−4)", fr, 0.3)
			checkAcrossRuns(t, "log-evidence", lz, bimodalLogZ())
		})
	}
}
