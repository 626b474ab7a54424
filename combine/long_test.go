//go:build long

package combine

import (
	"fmt"
	"testing"
)

// At d = 5 with eight shards of 10,000 draws the KDE methods are still
// exact within Monte Carlo error (see TestKDEMethodsExact).
func TestKDEMethodsExactD5(t *testing.T) {
	for _, method := range []Method{Nonparametric{}, Semiparametric{}} {
		t.Run(fmt.Sprintf("%s/d=5", method.Name()), func(t *testing.T) {
			replicateExactness(t, method, 8, 10000, 5, 20, 0.5)
		})
	}
}
