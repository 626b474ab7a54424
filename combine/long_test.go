//go:build long

package combine

import (
	"fmt"
	"testing"
)

// At d = 5 with eight disagreeing Gaussian shards of 10,000 draws (see
// TestKDEMethodsExact), both KDE methods are unbiased within Monte Carlo
// error in mean and variance at the automatic bandwidth. Nonparametric
// widens its kernels to the limit of its variance correction, where each
// shard's estimate is close to its Gaussian fit; semiparametric mostly
// finds its correction unestimable and returns the Gaussian product, which
// is exact here.
func TestKDEMethodsExactD5(t *testing.T) {
	for _, method := range []Method{Nonparametric{}, Semiparametric{}} {
		t.Run(fmt.Sprintf("%s/d=5", method.Name()), func(t *testing.T) {
			replicateExactness(t, method, 8, 10000, 5, 20, 1.5, true)
		})
	}
}

// In three dimensions, with shards that overlap (modes half a shard sd
// apart), the KDE methods at the automatic bandwidth remove at least half
// of the Gaussian product's skewness bias on log-gamma shards (about 0.2
// posterior sd here) in every coordinate.
func TestSkewCorrectionD3(t *testing.T) {
	skewCorrection(t, 3, 8, 10000, 8, 0.5, false)
}
