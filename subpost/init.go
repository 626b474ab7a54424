package subpost

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DefaultInitRadius is the half-width of Stan's default initialisation:
// every unconstrained coordinate uniform on (−2, 2).
const DefaultInitRadius = 2

// initAttempts is the number of random initial points tried, as in Stan's
// services/util/initialize.hpp.
const initAttempts = 100

// initialPoint draws θ uniformly on (−radius, radius)^Dim, as Stan does,
// until the log density (and, when gradient is set, every element of its
// gradient) is finite, trying up to 100 points. radius 0 starts at the
// origin, once.
func initialPoint(t Target, r *rand.Rand, radius float64, gradient bool) ([]float64, error) {
	d := t.Dim()
	theta := make([]float64, d)
	var g []float64
	if gradient {
		g = make([]float64, d)
	}
	attempts := initAttempts
	if radius == 0 {
		attempts = 1
	}
	var last error
	for range attempts {
		for i := range theta {
			theta[i] = radius * (2*r.Float64() - 1)
		}
		lp := t.LogDensity(theta, g)
		if last = checkFinite(lp, g); last == nil {
			return theta, nil
		}
	}
	if radius == 0 {
		return nil, fmt.Errorf("initialisation at zero failed: %w", last)
	}
	return nil, fmt.Errorf("initialisation between (%g, %g) failed after %d attempts (last: %w); try a smaller init radius or reparameterise the model",
		-radius, radius, attempts, last)
}

// validInitRadius reports whether r is usable as an init radius.
func validInitRadius(r float64) bool { return r >= 0 && !math.IsInf(r, 0) && !math.IsNaN(r) }
