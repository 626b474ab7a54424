//go:build long

package combine

import (
	"fmt"
	"testing"
)

// At d = 5 with eight disagreeing shards of 10,000 draws (see
// TestKDEMethodsExact) nonparametric is still unbiased within Monte Carlo
// error, mean and variance, though single replicates err by up to about
// 0.7 sd. Semiparametric at its automatic bandwidth is unbiased in the
// mean but too narrow (variance about 5–15% low, several standard errors:
// the index chain settles on a few components whose weights
// 1/N(θ_t | μ̂, Σ̂) favour tail draws), so its variance is reported, not
// held to unbiasedness; see the Semiparametric documentation.
func TestKDEMethodsExactD5(t *testing.T) {
	for _, method := range []Method{Nonparametric{}, Semiparametric{}} {
		t.Run(fmt.Sprintf("%s/d=5", method.Name()), func(t *testing.T) {
			replicateExactness(t, method, 8, 10000, 5, 20, 1.5, method.Name() == "nonparametric")
		})
	}
}
