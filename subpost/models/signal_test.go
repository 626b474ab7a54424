package models

import (
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
)

// Signal rescales the coefficients so that the linear predictor has the
// requested standard deviation, keeps their direction, and leaves the
// intercept alone; the sample sd of x·beta over the simulated predictors
// matches within 5 standard errors.
func TestSimulateSignal(t *testing.T) {
	const n = 20000
	_, tp, _ := Simulate("logistic", SimConfig{N: 10, D: 4, Rho: 0.3, Seed: 5})
	for _, signal := range []float64{0.5, 1, 2} {
		tab, truth, err := Simulate("logistic", SimConfig{N: n, D: 4, Rho: 0.3, Seed: 5, Signal: signal})
		if err != nil {
			t.Fatal(err)
		}
		eta := make([]float64, n)
		ratio := 0.0
		for j := range 4 {
			b := truth.Values[j+1]
			if j == 0 {
				ratio = b / tp.Values[1]
			} else if r := b / tp.Values[j+1]; math.Abs(r-ratio) > 1e-12*math.Abs(ratio) {
				t.Errorf("signal %g: coefficient %d scaled by %g, coefficient 1 by %g", signal, j+1, r, ratio)
			}
			for i := range eta {
				eta[i] += b * tab.Cols[j+1][i]
			}
		}
		if truth.Values[0] != tp.Values[0] {
			t.Errorf("signal %g changed the intercept to %g", signal, truth.Values[0])
		}
		sd := stat.StdDev(eta, nil)
		if se := signal / math.Sqrt(2*n); math.Abs(sd-signal) > 5*se {
			t.Errorf("signal %g: sd(x·beta) = %.4f", signal, sd)
		}
	}
	if _, _, err := Simulate("logistic", SimConfig{Signal: -1}); err == nil || !strings.Contains(err.Error(), "Signal must not be negative") {
		t.Errorf("negative signal: %v", err)
	}
}
