package plot

import (
	"math"
	"slices"
	"testing"

	"github.com/epmc/epmc/kde"
	"github.com/epmc/epmc/rng"
)

func TestQuantiles(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 10}
	// R: quantile(c(1,2,3,4,10), c(0, .1, .5, .9, 1)) = 1 1.4 3 7.6 10
	got := quantiles(xs, nil, 0, 0.1, 0.5, 0.9, 1)
	want := []float64{1, 1.4, 3, 7.6, 10}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("type-7 quantiles %v, want %v", got, want)
			break
		}
	}
	// Weighted: the inverse of the weighted ECDF.
	got = quantiles([]float64{1, 2, 3}, []float64{0.2, 0.5, 0.3}, 0.1, 0.2, 0.5, 0.7, 0.71, 1)
	want = []float64{1, 1, 2, 2, 3, 3}
	if !slices.Equal(got, want) {
		t.Errorf("weighted quantiles %v, want %v", got, want)
	}
}

func TestMomentsWeighted(t *testing.T) {
	s := sample{x: []float64{0, 2, 4}, w: weightsOf([]float64{0, 0, math.Log(2)})}
	mean, sd, neff := s.moments()
	// Weights 1/4, 1/4, 1/2: mean 2.5, weighted variance 2.75, Kish n
	// 1/(1/16+1/16+1/4) = 8/3, variance × n/(n − 1) = 2.75·1.6.
	if math.Abs(mean-2.5) > 1e-12 || math.Abs(neff-8.0/3) > 1e-12 || math.Abs(sd-math.Sqrt(2.75*1.6)) > 1e-12 {
		t.Errorf("mean %v sd %v neff %v", mean, sd, neff)
	}
}

// TestDensity1D checks the marginal density against the exact normal
// density: with n = 20000 draws and the nrd0 bandwidth the smoothing bias
// at the mode is about h²/2·|φ”(0)| ≈ 0.007 and the sd of the estimate
// about 0.006, so a 0.04 tolerance is more than five standard errors.
func TestDensity1D(t *testing.T) {
	r := rng.NewRand(1, 1)
	x := make([]float64, 20000)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	m := summarise(sample{x: x}, padMarginal)
	ys, err := density1D(m, -4, 4, 401, unbounded)
	if err != nil {
		t.Fatal(err)
	}
	xs := kde.Axis(-4, 4, 401)
	mass := 0.0
	for i, y := range ys {
		want := math.Exp(-xs[i]*xs[i]/2) / math.Sqrt(2*math.Pi)
		if math.Abs(y-want) > 0.04 {
			t.Fatalf("density at %.2f = %.4f, want %.4f", xs[i], y, want)
		}
		if i > 0 {
			mass += (xs[i] - xs[i-1]) * (y + ys[i-1]) / 2
		}
	}
	if math.Abs(mass-1) > 0.002 {
		t.Errorf("mass on [-4, 4] = %.4f, want ≈ 1", mass)
	}
}

// TestReflection checks the boundary correction on exponential draws: at
// the bound the true density is 1; without reflection a kernel estimate
// gives about half of it.
func TestReflection(t *testing.T) {
	r := rng.NewRand(2, 1)
	x := make([]float64, 20000)
	for i := range x {
		x[i] = r.ExpFloat64()
	}
	m := summarise(sample{x: x}, padMarginal)
	b := bounds{0, math.Inf(1)}
	ys, err := density1D(m, 0, 5, 501, b)
	if err != nil {
		t.Fatal(err)
	}
	// Reflection leaves an O(h) bias where the density has a slope at the
	// bound: E f̂(0) ≈ f(0) + 2h·f′(0)·∫₀^∞ u φ(u) du = 1 − 2h/√(2π), and
	// the estimate's sd there is √(2R(φ)/(n h)) with R(φ) = 1/(2√π).
	h := m.bandwidth
	want := 1 - 2*h/math.Sqrt(2*math.Pi)
	sd := math.Sqrt(2 / (2 * math.Sqrt(math.Pi)) / (float64(len(x)) * h))
	if math.Abs(ys[0]-want) > 4*sd {
		t.Errorf("density at the bound = %.3f, want %.3f ± %.3f (h = %.3f)", ys[0], want, 4*sd, h)
	}
	mass := 0.0
	xs := kde.Axis(0, 5, 501)
	for i := 1; i < len(ys); i++ {
		mass += (xs[i] - xs[i-1]) * (ys[i] + ys[i-1]) / 2
	}
	if want := 1 - math.Exp(-5); math.Abs(mass-want) > 0.01 {
		t.Errorf("mass on [0, 5] = %.4f, want %.4f", mass, want)
	}
	plain, _ := density1D(m, 0, 5, 501, unbounded)
	if plain[0] > 0.7 {
		t.Errorf("without reflection the density at the bound is %.3f; the test does not test reflection", plain[0])
	}
}

func TestConstantDraws(t *testing.T) {
	m := summarise(sample{x: []float64{2, 2, 2, 2}}, padMarginal)
	if !m.constValue {
		t.Fatal("constant draws not recognised")
	}
	ys, err := density1D(m, 1, 3, 10, unbounded)
	if err != nil || ys != nil {
		t.Errorf("density1D of constant draws = %v, %v; want nil, nil", ys, err)
	}
	lo, hi := axisRange([]summary{m}, unbounded)
	if !(lo < 2 && hi > 2) {
		t.Errorf("axis range [%g, %g] does not hold 2", lo, hi)
	}
}

// gaussGrid is the standard bivariate normal density on a square grid.
func gaussGrid(n int, half float64) *density2D {
	g := &density2D{xs: kde.Axis(-half, half, n), ys: kde.Axis(-half, half, n)}
	g.z = make([]float64, n*n)
	for i, x := range g.xs {
		for j, y := range g.ys {
			g.z[i*n+j] = math.Exp(-(x*x+y*y)/2) / (2 * math.Pi)
		}
	}
	return g
}

// TestHPDLevels checks the highest-density levels against the exact ones
// of a standard bivariate normal: the region of mass 1 − exp(−s²/2) is the
// disc of radius s, bounded by the density exp(−s²/2)/2π.
func TestHPDLevels(t *testing.T) {
	g := gaussGrid(201, 5)
	levels := hpdLevels(g.z, hpdFractions)
	for k, s := range []float64{3, 2, 1} {
		want := math.Exp(-s*s/2) / (2 * math.Pi)
		if math.Abs(levels[k]-want) > 0.02*want {
			t.Errorf("level of the %g-sigma region = %.5f, want %.5f", s, levels[k], want)
		}
	}
}

func TestIsolines(t *testing.T) {
	g := gaussGrid(61, 3)
	for _, s := range []float64{0.5, 1, 2} {
		lines := isolines(g, math.Exp(-s*s/2)/(2*math.Pi))
		if len(lines) != 1 {
			t.Fatalf("radius %g: %d lines, want one circle", s, len(lines))
		}
		l := lines[0]
		if l[0] != l[len(l)-1] {
			t.Errorf("radius %g: the circle is not closed", s)
		}
		for _, p := range l {
			if r := math.Hypot(p[0], p[1]); math.Abs(r-s) > 0.02 {
				t.Fatalf("radius %g: contour point at radius %.4f", s, r)
			}
		}
	}
	// A level crossing the border gives an open line with both ends on it.
	g2 := &density2D{xs: kde.Axis(0, 1, 11), ys: kde.Axis(0, 1, 11), z: make([]float64, 121)}
	for i, x := range g2.xs {
		for j := range g2.ys {
			g2.z[i*11+j] = x
		}
	}
	lines := isolines(g2, 0.55)
	if len(lines) != 1 || len(lines[0]) != 11 {
		t.Fatalf("vertical level line: %v", lines)
	}
	for _, p := range lines[0] {
		if math.Abs(p[0]-0.55) > 1e-12 {
			t.Errorf("point %v off the line x = 0.55", p)
		}
	}
	// Saddle: two opposite corners high. With the centre low, the high
	// corners are cut off: two separate lines.
	g3 := &density2D{xs: []float64{0, 1}, ys: []float64{0, 1}, z: []float64{1, 0, 0, 1}}
	if got := len(isolines(g3, 0.6)); got != 2 {
		t.Errorf("saddle: %d lines, want 2", got)
	}
}

func TestPooledRanks(t *testing.T) {
	got := pooledRanks([][]float64{{1, 2, 2}, {3, 0.5}})
	want := [][]float64{{2, 3.5, 3.5}, {5, 1}}
	for c := range want {
		if !slices.Equal(got[c], want[c]) {
			t.Fatalf("ranks %v, want %v", got, want)
		}
	}
	counts := rankCounts([][]float64{{1, 2, 3, 4}, {5, 6, 7, 8}}, 4)
	if !slices.Equal(counts[0], []float64{2, 2, 0, 0}) || !slices.Equal(counts[1], []float64{0, 0, 2, 2}) {
		t.Errorf("rank counts %v", counts)
	}
	if rankBins(1000) != 20 || rankBins(50) != 5 || rankBins(3) != 1 {
		t.Errorf("rankBins: %d %d %d", rankBins(1000), rankBins(50), rankBins(3))
	}
}

func TestDecimate(t *testing.T) {
	x := make([]float64, 100000)
	r := rng.NewRand(3, 1)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	x[12345], x[67890] = 50, -50
	xy := decimate(x, 1)
	if len(xy) > maxTracePoints {
		t.Errorf("%d points, want at most %d", len(xy), maxTracePoints)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, p := range xy {
		lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		if i > 0 && p.X <= xy[i-1].X {
			t.Fatalf("iterations out of order at %d", i)
		}
	}
	if lo != -50 || hi != 50 {
		t.Errorf("decimation lost the extremes: [%g, %g]", lo, hi)
	}
	if got := decimate([]float64{3, 4}, 10); len(got) != 2 || got[0].X != 10 || got[1].Y != 4 {
		t.Errorf("short series: %v", got)
	}
}

func TestTickLabels(t *testing.T) {
	cases := []struct {
		in   []float64
		want []string
	}{
		{[]float64{-0.2, 0.8, 1.8}, []string{"−0.2", "0.8", "1.8"}},
		{[]float64{250, 750, 1250}, []string{"250", "750", "1250"}},
		{[]float64{0, 0.5, 1}, []string{"0.0", "0.5", "1.0"}},
		{[]float64{-1e-17, 0.05, 0.1}, []string{"0.00", "0.05", "0.10"}},
		{[]float64{-2, 0, 2}, []string{"−2", "0", "2"}},
		{[]float64{1e-6, 2e-6, 3e-6}, []string{"1e-06", "2e-06", "3e-06"}},
		{[]float64{2e7, 4e7}, []string{"2e+07", "4e+07"}},
		{[]float64{-3}, []string{"−3"}},
	}
	for _, c := range cases {
		if got := tickLabels(c.in); !slices.Equal(got, c.want) {
			t.Errorf("tickLabels(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestWeighted checks that importance weights count: draws from two
// clusters, the right one with weight zero, give a density with no mass
// there.
func TestWeighted(t *testing.T) {
	r := rng.NewRand(4, 1)
	x := make([]float64, 4000)
	lw := make([]float64, 4000)
	for i := range x {
		if i%2 == 0 {
			x[i] = -2 + 0.3*r.NormFloat64()
		} else {
			x[i] = 2 + 0.3*r.NormFloat64()
			lw[i] = math.Inf(-1)
		}
	}
	m := summarise(sample{x: x, w: weightsOf(lw)}, padMarginal)
	if math.Abs(m.mean+2) > 0.05 || m.hi > 0 {
		t.Errorf("weighted mean %.3f, range [%.2f, %.2f]: the zero-weight draws count", m.mean, m.lo, m.hi)
	}
	ys, err := density1D(m, -4, 4, 401, unbounded)
	if err != nil {
		t.Fatal(err)
	}
	xs := kde.Axis(-4, 4, 401)
	for i, y := range ys {
		if xs[i] > 1 && y > 1e-6 {
			t.Fatalf("density %.3g at %.2f, where every draw has weight zero", y, xs[i])
		}
	}
}
