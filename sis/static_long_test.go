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
	checkConjugateRegression(t, 2000, 100, 500)
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
