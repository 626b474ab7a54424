package sis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// offspringStats resamples k times with draw and returns the mean and
// variance of every particle's offspring count.
func offspringStats(n, k int, draw func(rep int, counts []int)) (mean, variance []float64) {
	mean = make([]float64, n)
	variance = make([]float64, n)
	counts := make([]int, n)
	for rep := range k {
		clear(counts)
		draw(rep, counts)
		for i, c := range counts {
			x := float64(c)
			// Welford's update.
			d := x - mean[i]
			mean[i] += d / float64(rep+1)
			variance[i] += d * (x - mean[i])
		}
	}
	for i := range variance {
		variance[i] /= float64(k - 1)
	}
	return mean, variance
}

// checkUnbiased checks E[count_i] = expect_i with a 5-standard-error
// tolerance per particle (about 1 false alarm in 3.5 million per check,
// so a Bonferroni-safe bound over the few hundred checks here).
func checkUnbiased(t *testing.T, mean, variance, expect []float64, k int) {
	t.Helper()
	for i := range mean {
		// An integer count with mean μ has variance at least δ(1−δ), δ the
		// fractional part of μ: the floor keeps the standard error honest
		// for particles whose count did not vary in the sample.
		d := expect[i] - math.Floor(expect[i])
		se := math.Sqrt(max(variance[i], d*(1-d)) / float64(k))
		if se == 0 {
			if math.Abs(mean[i]-expect[i]) > 1e-9 {
				t.Errorf("particle %d: constant count %g, expected %g", i, mean[i], expect[i])
			}
			continue
		}
		if d := mean[i] - expect[i]; math.Abs(d) > 5*se {
			t.Errorf("particle %d: mean count %.4f, expected %.4f (%.1f standard errors)", i, mean[i], expect[i], d/se)
		}
	}
}

func testWeights() []float64 {
	// Zeros (inside and at both ends), a dominant weight, tiny ones and
	// weights whose expected counts are whole numbers.
	return []float64{0, 0.3, 2.5, 0, 1e-9, 0.7, 4, 0.05, 1, 1, 0.2, 0}
}

func TestResampleUnbiased(t *testing.T) {
	w := testWeights()
	total := 0.0
	for _, v := range w {
		total += v
	}
	const k = 40000
	for _, s := range Schemes {
		for _, m := range []int{len(w), 5, 31} {
			t.Run(fmt.Sprintf("%v/M=%d", s, m), func(t *testing.T) {
				r := rand.New(rand.NewPCG(11, uint64(m)))
				rs := Resampler{Scheme: s}
				dst := make([]int, m)
				mean, variance := offspringStats(len(w), k, func(_ int, counts []int) {
					rs.Resample(dst, w, r)
					for _, a := range dst {
						counts[a]++
					}
					if s != SSP && !slices.IsSorted(dst) {
						t.Fatalf("ancestors not sorted: %v", dst)
					}
				})
				expect := make([]float64, len(w))
				for i, v := range w {
					expect[i] = float64(m) * v / total
					if v == 0 && mean[i] != 0 {
						t.Errorf("particle %d of weight 0 has offspring", i)
					}
				}
				checkUnbiased(t, mean, variance, expect, k)
			})
		}
	}
}

// TestResampleVarianceOrdering checks that multinomial resampling has the
// largest total offspring variance, residual and stratified less, and
// that systematic and SSP reach the minimum Σ δ_i(1−δ_i) (δ_i the
// fractional part of N·W_i): their counts are always ⌊N·W_i⌋ or ⌈N·W_i⌉.
func TestResampleVarianceOrdering(t *testing.T) {
	const n, k = 100, 20000
	r := rand.New(rand.NewPCG(21, 22))
	w := make([]float64, n)
	for i := range w {
		w[i] = r.ExpFloat64() // flat Dirichlet after normalisation
	}
	total := 0.0
	for _, v := range w {
		total += v
	}
	minVar := 0.0
	for _, v := range w {
		x := n * v / total
		d := x - math.Floor(x)
		minVar += d * (1 - d)
	}
	totals := map[Scheme]float64{}
	for _, s := range Schemes {
		rs := Resampler{Scheme: s}
		dst := make([]int, n)
		_, variance := offspringStats(n, k, func(_ int, counts []int) {
			rs.Resample(dst, w, r)
			for _, a := range dst {
				counts[a]++
			}
			if s == SSP || s == Systematic {
				for i, c := range counts {
					x := n * w[i] / total
					if float64(c) < math.Floor(x) || float64(c) > math.Ceil(x) {
						t.Fatalf("%v: particle %d has %d offspring, expected %.3f", s, i, c, x)
					}
				}
			}
		})
		for _, v := range variance {
			totals[s] += v
		}
	}
	t.Logf("total offspring variance: %v; minimum %.2f, multinomial theory %.2f", totals, minVar, n*(1-sumSquares(w)/(total*total)))
	for _, s := range []Scheme{SSP, Systematic, Stratified, Residual} {
		if !(totals[s] < totals[Multinomial]) {
			t.Errorf("%v variance %.2f is not below multinomial's %.2f", s, totals[s], totals[Multinomial])
		}
	}
	for _, s := range []Scheme{SSP, Systematic} {
		if !(totals[s] < totals[Stratified] && totals[s] < totals[Residual]) {
			t.Errorf("%v variance %.2f is not below stratified's %.2f and residual's %.2f", s, totals[s], totals[Stratified], totals[Residual])
		}
		// The sample variance of a minimum-variance scheme estimates minVar
		// with a relative standard error of about √(2/k) per particle.
		if math.Abs(totals[s]-minVar) > 0.05*minVar {
			t.Errorf("%v variance %.3f, want the minimum %.3f", s, totals[s], minVar)
		}
	}
}

func sumSquares(w []float64) float64 {
	s := 0.0
	for _, v := range w {
		s += v * v
	}
	return s
}

// TestBlockedResamplerUnbiased checks the parallel filter's block-wise
// resampling on many small blocks of different scales.
func TestBlockedResamplerUnbiased(t *testing.T) {
	const n, bs, k = 47, 6, 30000
	r0 := rand.New(rand.NewPCG(31, 32))
	w := make([]float64, n)
	for i := range w {
		w[i] = r0.ExpFloat64()
		if i%9 == 4 {
			w[i] = 0
		}
	}
	for i := 12; i < 18; i++ { // one block of zeros
		w[i] = 0
	}
	nb := (n + bs - 1) / bs
	scale := make([]float64, nb)
	sums := make([]float64, nb)
	total := 0.0
	for b := range nb {
		scale[b] = math.Exp(-3 * r0.Float64())
		for i := b * bs; i < min((b+1)*bs, n); i++ {
			sums[b] += w[i]
		}
		total += sums[b] * scale[b]
	}
	expect := make([]float64, n)
	for i := range w {
		expect[i] = n * scale[i/bs] * w[i] / total
	}
	seq := func(task func(int)) {
		for b := range nb {
			task(b)
		}
	}
	for _, s := range Schemes {
		t.Run(s.String(), func(t *testing.T) {
			br := newBlockedResampler(s, n, bs)
			ww := make([]float64, n)
			dst := make([]int, n)
			pcgs := make([]*rand.PCG, nb)
			for b := range pcgs {
				pcgs[b] = rand.NewPCG(41, uint64(b))
			}
			r := rand.New(rand.NewPCG(51, 52))
			mean, variance := offspringStats(n, k, func(_ int, counts []int) {
				copy(ww, w) // residual and multinomial rescale in place
				br.resample(dst, ww, scale, sums, total, pcgs, r, seq)
				for _, a := range dst {
					counts[a]++
				}
				if s == SSP || s == Systematic {
					for i, c := range counts {
						if float64(c) < math.Floor(expect[i]) || float64(c) > math.Ceil(expect[i]) {
							t.Fatalf("particle %d has %d offspring, expected %.3f", i, c, expect[i])
						}
					}
				}
			})
			for i := range w {
				if w[i] == 0 && mean[i] != 0 {
					t.Errorf("particle %d of weight 0 has offspring", i)
				}
			}
			checkUnbiased(t, mean, variance, expect, k)
		})
	}
}

func TestParseScheme(t *testing.T) {
	for _, s := range Schemes {
		got, err := ParseScheme(s.String())
		if err != nil || got != s {
			t.Errorf("ParseScheme(%q) = %v, %v", s.String(), got, err)
		}
		var u Scheme
		b, _ := s.MarshalText()
		if err := u.UnmarshalText(b); err != nil || u != s {
			t.Errorf("text round trip of %v: %v, %v", s, u, err)
		}
	}
	if _, err := ParseScheme("bogus"); err == nil {
		t.Error("ParseScheme(bogus) succeeded")
	}
}

func TestResamplePanicsOnBadWeights(t *testing.T) {
	for _, w := range [][]float64{{0, 0}, {1, math.NaN()}, {1, -1}, {math.Inf(1), 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("weights %v: no panic", w)
				}
			}()
			Resample(SSP, make([]int, 2), w, rand.New(rand.NewPCG(1, 1)))
		}()
	}
}

func BenchmarkResample(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float64, n)
	for i := range w {
		w[i] = r.ExpFloat64()
	}
	dst := make([]int, n)
	for _, s := range Schemes {
		b.Run(s.String(), func(b *testing.B) {
			rs := Resampler{Scheme: s}
			for b.Loop() {
				rs.Resample(dst, w, r)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/particle")
		})
	}
}
