//go:build long

package auxdp

import (
	"context"
	"fmt"
	"testing"
)

// TestExactPartitionPosteriorLong is TestExactPartitionPosterior with ten
// times the iterations, which shrinks the detectable bias by about √10.
func TestExactPartitionPosteriorLong(t *testing.T) {
	runExactCases(t, 10)
}

func TestGewekeLong(t *testing.T) {
	for k, tc := range gewekeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runGeweke(t, tc.g, tc.cfg, 200000, uint64(300+k))
		})
	}
}

// TestSyntheticMixtureQuality: N = 10,000 points from K = 10 well-separated
// Gaussians in d = 2 and d = 10; after 200 iterations with split–merge the
// last state must have NMI ≥ 0.95 against the truth and 8 to 12 clusters,
// for the serial sampler and with 2 and 4 processors.
func TestSyntheticMixtureQuality(t *testing.T) {
	for _, d := range []int{2, 10} {
		x, truth := gaussianMixture(1, 10000, d, 10)
		for _, P := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("d=%d/P=%d", d, P), func(t *testing.T) {
				res, err := Run(context.Background(), x, Config{Procs: P, Iters: 200, Burn: 100, SplitMerge: 10, Seed: uint64(d*10 + P)})
				if err != nil {
					t.Fatal(err)
				}
				last, _, _ := res.PointLabels()
				nmi, err := NMI(last, truth)
				if err != nil {
					t.Fatal(err)
				}
				k := res.Last().K
				t.Logf("K = %d, NMI = %.4f, mean max share %.3f", k, nmi, res.Summary().MeanMaxShare)
				if nmi < 0.95 || k < 8 || k > 12 {
					t.Errorf("K = %d, NMI = %.4f; want 8 ≤ K ≤ 12 and NMI ≥ 0.95", k, nmi)
				}
			})
		}
	}
}
