package sis

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpNonPos(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	check := func(x float64) {
		want := math.Exp(x)
		got := expNonPos(x)
		if want < 0x1p-1022 {
			if got != 0 && math.Abs(got-want) > 1e-300 {
				t.Fatalf("exp(%g) = %g, want %g", x, got, want)
			}
			return
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 4e-16 {
			t.Fatalf("exp(%g) = %.17g, want %.17g (rel err %.3g)", x, got, want, rel)
		}
	}
	for _, x := range []float64{0, -0.0, -1e-300, -math.SmallestNonzeroFloat64, -math.Ln2 / 128, -math.Ln2, -1, -700, -708.39, -708.4, -745, -1e10, math.Inf(-1)} {
		check(x)
	}
	for range 200000 {
		check(-r.ExpFloat64() * 30)
		check(-r.Float64() * 710)
		check(-r.Float64() * 1e-3)
	}
	if got := expNonPos(math.NaN()); got != 0 {
		t.Errorf("exp(NaN) = %g", got)
	}
	t.Logf("worst relative error %.3g", worst)
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float64, 1024)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range xs {
		xs[i] = -r.ExpFloat64() * 5
	}
	b.Run("math.Exp", func(b *testing.B) {
		s := 0.0
		for b.Loop() {
			for _, x := range xs {
				s += math.Exp(x)
			}
		}
		_ = s
	})
	b.Run("expNonPos", func(b *testing.B) {
		s := 0.0
		for b.Loop() {
			for _, x := range xs {
				s += expNonPos(x)
			}
		}
		_ = s
	})
}

func TestExpShiftMatchesExpNonPos(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	lw := make([]float64, 5000)
	for i := range lw {
		lw[i] = 3 - r.ExpFloat64()*100
	}
	lw[7] = math.Inf(-1)
	w := make([]float64, len(lw))
	s, q := expShift(w, lw, 3)
	ws, wq := 0.0, 0.0
	for i, v := range lw {
		e := expNonPos(v - 3)
		if w[i] != e {
			t.Fatalf("w[%d] = %g, want %g", i, w[i], e)
		}
		ws += e
		wq += e * e
	}
	if s != ws || q != wq {
		t.Fatalf("sums %g %g, want %g %g", s, q, ws, wq)
	}
}

func BenchmarkExpShift(b *testing.B) {
	lw := make([]float64, 1024)
	w := make([]float64, 1024)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range lw {
		lw[i] = -r.ExpFloat64() * 5
	}
	for b.Loop() {
		expShift(w, lw, 0)
	}
}
