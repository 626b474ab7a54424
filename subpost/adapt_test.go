package subpost

import (
	"math"
	"reflect"
	"testing"
)

// TestWindowSchedule checks the warmup schedule against Stan's (CmdStan
// defaults init_buffer 75, window 25, term_buffer 50): slow windows double
// from 25 and the last is stretched to the terminal buffer; when the three
// stages do not fit they shrink to 15%/75%/10%.
func TestWindowSchedule(t *testing.T) {
	for _, tc := range []struct {
		warmup    int
		slow      []window
		termStart int
	}{
		{1000, []window{{75, 99}, {100, 149}, {150, 249}, {250, 449}, {450, 949}}, 950},
		{500, []window{{75, 99}, {100, 149}, {150, 249}, {250, 449}}, 450},
		{200, []window{{75, 99}, {100, 149}}, 150},
		{150, []window{{75, 99}}, 100},
		{100, []window{{15, 89}}, 90},
		{2000, []window{{75, 99}, {100, 149}, {150, 249}, {250, 449}, {450, 849}, {850, 1949}}, 1950},
		{20, []window{{3, 17}}, 18},
		{19, nil, 19}, // < 20: no metric adaptation
		{0, nil, 0},
	} {
		slow, term := schedule(tc.warmup)
		if !reflect.DeepEqual(slow, tc.slow) || term != tc.termStart {
			t.Errorf("warmup %d: windows %v, terminal buffer from %d; want %v from %d", tc.warmup, slow, term, tc.slow, tc.termStart)
		}
	}
}

// TestDualAveraging checks the dual-averaging recursion against values
// worked by hand from Stan's formulas with δ = 0.8, γ = 0.05, κ = 0.75,
// t0 = 10 and μ = log(10·1), for acceptance statistics 0.5, 1.3 (clipped
// to 1) and 0: s̄_t = (1 − 1/(t+10))·s̄_{t−1} + (δ − a_t)/(t+10),
// x_t = μ − s̄_t·√t/γ, x̄_t = (1 − t^{−κ})·x̄_{t−1} + t^{−κ}·x_t.
func TestDualAveraging(t *testing.T) {
	da := NewDualAveraging(0.8, 1)
	mu := math.Log(10)
	if da.Mu != mu || da.Gamma != 0.05 || da.Kappa != 0.75 || da.T0 != 10 || da.Delta != 0.8 {
		t.Fatalf("constants %+v", da)
	}
	// Iteration 1: η = 1/11.
	s1 := (1.0 / 11) * (0.8 - 0.5)
	x1 := mu - s1*1/0.05
	xb1 := x1 // weight 1^{-κ} = 1
	// Iteration 2: η = 1/12, a = 1.3 is clipped to 1.
	s2 := (11.0/12)*s1 + (1.0/12)*(0.8-1)
	x2 := mu - s2*math.Sqrt2/0.05
	w2 := math.Pow(2, -0.75)
	xb2 := (1-w2)*xb1 + w2*x2
	// Iteration 3: η = 1/13, a = 0.
	s3 := (12.0/13)*s2 + (1.0/13)*0.8
	x3 := mu - s3*math.Sqrt(3)/0.05
	w3 := math.Pow(3, -0.75)
	xb3 := (1-w3)*xb2 + w3*x3
	for i, tc := range []struct{ a, eps, xbar float64 }{
		{0.5, math.Exp(x1), xb1},
		{1.3, math.Exp(x2), xb2},
		{0, math.Exp(x3), xb3},
	} {
		eps := da.Learn(tc.a)
		if math.Abs(eps/tc.eps-1) > 1e-14 || math.Abs(da.xBar-tc.xbar) > 1e-14 {
			t.Errorf("iteration %d: ε = %.17g, x̄ = %.17g; want %.17g, %.17g", i+1, eps, da.xBar, tc.eps, tc.xbar)
		}
	}
	// Numerically: the first step size is exp(log 10 − 6/11).
	if got, want := math.Exp(x1), 5.795782787848097; math.Abs(got-want) > 1e-12 {
		t.Errorf("first step size %.17g, want %.17g", got, want)
	}
	if got := da.Final(0.1); math.Abs(got/math.Exp(xb3)-1) > 1e-14 {
		t.Errorf("final step size %g, want exp(x̄) = %g", got, math.Exp(xb3))
	}
	da.Restart()
	if got := da.Final(0.25); got != 0.25 {
		t.Errorf("final step size after a restart with no updates: %g, want the current 0.25 (stan-dev/stan#3346)", got)
	}
}

// TestWelfordRegularised checks the regularised window estimate
// (n/(n+5))·var + 1e-3·(5/(n+5)) against a direct computation.
func TestWelfordRegularised(t *testing.T) {
	xs := [][]float64{{1, 2}, {2, 0}, {4, 1}, {3, 5}}
	n := float64(len(xs))
	var mean [2]float64
	for _, x := range xs {
		mean[0] += x[0] / n
		mean[1] += x[1] / n
	}
	var cov [4]float64
	for _, x := range xs {
		for i := range 2 {
			for j := range 2 {
				cov[i*2+j] += (x[i] - mean[i]) * (x[j] - mean[j]) / (n - 1)
			}
		}
	}
	for _, dense := range []bool{false, true} {
		w := newWelford(2, dense)
		for _, x := range xs {
			w.add(x)
		}
		got, err := w.regularised()
		if err != nil {
			t.Fatal(err)
		}
		var want []float64
		if dense {
			for i, c := range cov {
				want = append(want, n/(n+5)*c)
				if i == 0 || i == 3 {
					want[i] += 1e-3 * 5 / (n + 5)
				}
			}
		} else {
			want = []float64{n/(n+5)*cov[0] + 1e-3*5/(n+5), n/(n+5)*cov[3] + 1e-3*5/(n+5)}
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-14 {
				t.Errorf("dense=%v: element %d = %.17g, want %.17g", dense, i, got[i], want[i])
			}
		}
	}
}

// TestShortWarmup: with fewer than 20 warmup iterations the metric stays
// the unit metric while the step size still adapts; with 100 the metric
// is adapted once (at iteration 89, unlike Stan, see newWindows).
func TestShortWarmup(t *testing.T) {
	target, _ := newGaussian(t, []float64{0, 0}, []float64{5, 0.2}, []float64{1, 0, 0, 1})
	for _, tc := range []struct {
		warmup  int
		adapted bool
	}{{10, false}, {19, false}, {100, true}} {
		cfg, _ := Config{Warmup: tc.warmup}.withDefaults()
		a := newAdaptiveNUTS(target, cfg, newTestRand(1))
		if err := a.start([]float64{1, 0.1}); err != nil {
			t.Fatal(err)
		}
		eps0 := a.s.StepSize
		for range tc.warmup {
			if _, err := a.step(true); err != nil {
				t.Fatal(err)
			}
		}
		a.endWarmup()
		inv := a.s.InvMetric()
		unit := inv[0] == 1 && inv[1] == 1
		if unit == tc.adapted {
			t.Errorf("warmup %d: inverse metric %v, adapted = %v", tc.warmup, inv, !unit)
		}
		if a.s.StepSize == eps0 {
			t.Errorf("warmup %d: step size not adapted", tc.warmup)
		}
	}
}
