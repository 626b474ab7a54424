package chains

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestTransformRoundTripAndGradient(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		t Transform
		n int // unconstrained size
	}{
		{Transform{}, 3},
		{Transform{Kind: Lower, Lower: -1}, 2},
		{Transform{Kind: Upper, Upper: 3}, 2},
		{Transform{Kind: Interval, Lower: -2, Upper: 5}, 3},
		{Transform{Kind: Simplex}, 1},
		{Transform{Kind: Simplex}, 4},
	} {
		t.Run(string(tc.t.Kind), func(t *testing.T) {
			k := tc.n
			if tc.t.Kind == Simplex {
				k++
			}
			// A test function of the constrained point: f(x) = Σ a_i x_i + x_0².
			a := make([]float64, k)
			for i := range a {
				a[i] = rnd.NormFloat64()
			}
			f := func(y []float64) float64 {
				x := make([]float64, k)
				lj := tc.t.Constrain(x, y)
				s := x[0] * x[0]
				for i := range x {
					s += a[i] * x[i]
				}
				return s + lj
			}
			for range 5 {
				y := make([]float64, tc.n)
				for i := range y {
					y[i] = rnd.NormFloat64()
				}
				x := make([]float64, k)
				tc.t.Constrain(x, y)
				back := make([]float64, tc.n)
				if err := tc.t.Unconstrain(back, x); err != nil {
					t.Fatal(err)
				}
				for i := range y {
					if math.Abs(back[i]-y[i]) > 1e-9 {
						t.Fatalf("round trip %v -> %v -> %v", y, x, back)
					}
				}
				gx := append([]float64(nil), a...)
				gx[0] += 2 * x[0]
				gy := make([]float64, tc.n)
				tc.t.Pullback(gy, y, x, gx)
				for i := range y {
					h := 1e-6
					yp := append([]float64(nil), y...)
					ym := append([]float64(nil), y...)
					yp[i] += h
					ym[i] -= h
					fd := (f(yp) - f(ym)) / (2 * h)
					if math.Abs(fd-gy[i]) > 1e-6*(1+math.Abs(fd)) {
						t.Fatalf("gradient %d: analytic %g, finite difference %g", i, gy[i], fd)
					}
				}
			}
		})
	}
}

func TestSimplexJacobianIsVolume(t *testing.T) {
	// For K = 2 the simplex map is x_1 = logit⁻¹(y), so |dx_1/dy| = x_1(1−x_1).
	x := make([]float64, 2)
	lj := Transform{Kind: Simplex}.Constrain(x, []float64{0.3})
	if want := math.Log(x[0] * (1 - x[0])); math.Abs(lj-want) > 1e-12 {
		t.Fatalf("log Jacobian %g, want %g", lj, want)
	}
}

func TestUnconstrainRejectsOutOfSupport(t *testing.T) {
	y := make([]float64, 3)
	for _, tc := range []struct {
		t Transform
		x []float64
	}{
		{Transform{Kind: Lower}, []float64{0}},
		{Transform{Kind: Upper, Upper: 1}, []float64{2}},
		{Transform{Kind: Interval, Lower: 0, Upper: 1}, []float64{1}},
		{Transform{Kind: Simplex}, []float64{0.5, 0.6}},
		{Transform{Kind: Simplex}, []float64{1, 0}},
	} {
		if err := tc.t.Unconstrain(y, tc.x); err == nil {
			t.Errorf("%v accepted %v", tc.t, tc.x)
		}
	}
}

func TestScalarNamesColumnMajor(t *testing.T) {
	got := Param{Name: "Sigma", Shape: []int{2, 3}}.ScalarNames()
	want := []string{"Sigma[1,1]", "Sigma[2,1]", "Sigma[1,2]", "Sigma[2,2]", "Sigma[1,3]", "Sigma[2,3]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if got := (Param{Name: "mu"}).ScalarNames(); !reflect.DeepEqual(got, []string{"mu"}) {
		t.Fatalf("got %v", got)
	}
}

func TestLayout(t *testing.T) {
	d := New([]string{"lp__", "w[1]", "w[2]", "w[3]", "sigma", "mu"}, 1, 1)
	row := []float64{-3, 0.2, 0.3, 0.5, 2, -1}
	for v, x := range row {
		d.Values[0][v][0] = x
	}
	l, err := NewLayout(d.Names, []Param{
		{Name: "w", Shape: []int{3}, Transform: Transform{Kind: Simplex}},
		{Name: "sigma", Transform: Transform{Kind: Lower}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Dim() != 4 {
		t.Fatalf("dim %d", l.Dim())
	}
	u, err := l.Unconstrained(d)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, len(l.Columns()))
	l.Constrain(x, u[0])
	for i, c := range l.Columns() {
		if math.Abs(x[i]-row[c]) > 1e-12 {
			t.Fatalf("column %s: %g, want %g", d.Names[c], x[i], row[c])
		}
	}
	if u[0][3] != -1 || math.Abs(u[0][2]-math.Log(2)) > 1e-15 {
		t.Fatalf("unconstrained %v", u[0])
	}
	if _, err := NewLayout(d.Names, []Param{{Name: "beta", Shape: []int{2}}}); err == nil {
		t.Fatal("missing columns accepted")
	}
}

// TestSimplexPullbackSaturated: when a stick fraction rounds to 1 the
// remaining weights are exactly 0; the gradient must still be finite and
// equal its limit, the log-Jacobian term 1 − (K−j)·z_j (the terms through
// the constrained values vanish with the weights).
func TestSimplexPullbackSaturated(t *testing.T) {
	for _, tc := range []struct {
		y, want []float64
	}{
		{[]float64{40}, []float64{-1}},       // K = 2: z_0 = 1
		{[]float64{50, 0}, []float64{-2, 0}}, // K = 3: z_0 = 1, z_1 = 1/2 behind an empty stick
	} {
		k := len(tc.y) + 1
		x := make([]float64, k)
		Transform{Kind: Simplex}.Constrain(x, tc.y)
		gx := make([]float64, k)
		for i := range gx {
			gx[i] = float64(i) - 0.5
		}
		gy := make([]float64, len(tc.y))
		Transform{Kind: Simplex}.Pullback(gy, tc.y, x, gx)
		for j, g := range gy {
			if !(math.Abs(g-tc.want[j]) <= 1e-12) { // NaN fails
				t.Errorf("y = %v (x = %v): gradient %v, want %v", tc.y, x, gy, tc.want)
				break
			}
		}
	}
}
