package chains

import "math"

// Numerical kernels that reproduce R's arithmetic closely enough for the
// diagnostics to agree with R posterior to far better than 1e-8. Where R
// accumulates in long double (mean, var, sum, colMeans) we use compensated
// (Neumaier) summation; where matrixStats accumulates in plain double
// (colMeans2) we do the same in the same order, because in degenerate cases
// (chains stuck at different values) posterior's answer is made of those
// rounding residues.

// neumaier adds v to the compensated sum (s, c) of Neumaier (1974): s is
// the ordinary running sum, c the running compensation, s + c the sum.
func neumaier(s, c, v float64) (float64, float64) {
	t := s + v
	if math.Abs(s) >= math.Abs(v) {
		c += (s - t) + v
	} else {
		c += (v - t) + s
	}
	return t, c
}

// accurateSum returns Σx with Neumaier's compensated summation, which is as
// accurate as R's long-double accumulation for our purposes. Non-finite
// sums are returned as plain IEEE sums (Inf, -Inf or NaN as R gives them).
func accurateSum(x []float64) float64 {
	var s, c float64
	for _, v := range x {
		s, c = neumaier(s, c, v)
	}
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return s
	}
	return s + c
}

// sumSqDev returns Σ(x_i − m)², summed as accurateSum does.
func sumSqDev(x []float64, m float64) float64 {
	var s, c float64
	for _, v := range x {
		s, c = neumaier(s, c, (v-m)*(v-m))
	}
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return s
	}
	return s + c
}

// rMean is R's mean(x): the sum over n, then, if finite, corrected by the
// mean of the residuals (R's two-pass mean in summary.c).
func rMean(x []float64) float64 {
	n := float64(len(x))
	if len(x) == 0 {
		return math.NaN()
	}
	s := accurateSum(x) / n
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return s
	}
	var t, c float64
	for _, v := range x {
		t, c = neumaier(t, c, v-s)
	}
	return s + (t+c)/n
}

// rVar is R's var(x) for a vector: the mean as in rMean, then the sum of
// squared deviations over n-1 (cov.c). NaN for fewer than two values.
func rVar(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	ss := sumSqDev(x, rMean(x))
	if math.IsInf(ss, 0) || math.IsNaN(ss) {
		return math.NaN()
	}
	return ss / float64(len(x)-1)
}

// naiveMean is matrixStats::colMeans2: a plain double sum in order, over n.
func naiveMean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// rMean2 is R's mean(c(a, b)) as median() uses it for an even count: the
// correctly rounded midpoint (R gets it from long double arithmetic).
func rMean2(a, b float64) float64 {
	s := a + b
	if math.IsInf(s, 0) || math.IsNaN(s) {
		if math.IsInf(a, 0) || math.IsInf(b, 0) || math.IsNaN(a) || math.IsNaN(b) {
			return s / 2
		}
		return a/2 + b/2 // overflow of the sum of two finite values
	}
	// TwoSum: s + e == a + b exactly.
	bb := s - a
	e := (a - (s - bb)) + (b - bb)
	return s/2 + e/2
}

// anyNonFinite reports whether any value is NaN or ±Inf.
func anyNonFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// isConstantCols is posterior's is_constant over all columns: the range is
// below machine epsilon (an absolute tolerance, as in posterior). The
// columns must not contain NaN.
func isConstantCols(cols [][]float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, col := range cols {
		for _, v := range col {
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
	}
	return math.Abs(hi-lo) < epsilon
}

// shouldReturnNA is posterior's should_return_NA: any NA or infinite value,
// or constant draws.
func shouldReturnNA(cols [][]float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, col := range cols {
		for _, v := range col {
			if v-v != 0 { // NaN or ±Inf
				return true
			}
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
	}
	return math.Abs(hi-lo) < epsilon
}

// epsilon is R's .Machine$double.eps.
const epsilon = 0x1p-52

// allEqual reports whether every value of x equals x[0].
func allEqual(x []float64) bool {
	for _, v := range x[1:] {
		if v != x[0] {
			return false
		}
	}
	return true
}

// quantile7 is R's quantile(x, p, type = 7) of the values in sorted, which
// must be in ascending order: with h the fractional part of 1 + (n-1)p,
// (1-h)·x[lo] + h·x[hi], written exactly as R computes it so that draws
// compared against the quantile fall on the same side.
func quantile7(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	index := 1 + float64(n-1)*p
	lo := math.Floor(index)
	hi := math.Ceil(index)
	qs := sorted[int(lo)-1]
	xhi := sorted[int(hi)-1]
	if index > lo && xhi != qs {
		h := index - lo
		qs = (1-h)*qs + h*xhi
	}
	return qs
}

// rMedianSorted is R's median() of sorted values.
func rMedianSorted(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	half := (n + 1) / 2
	if n%2 == 1 {
		return sorted[half-1]
	}
	return rMean2(sorted[half-1], sorted[half])
}

// nextn is R's nextn(n): the smallest integer ≥ n whose only prime factors
// are 2, 3 and 5, the FFT length posterior pads to (before doubling).
func nextn(n int) int {
	if n <= 1 {
		return 1
	}
	for m := n; ; m++ {
		k := m
		for _, f := range [...]int{2, 3, 5} {
			for k%f == 0 {
				k /= f
			}
		}
		if k == 1 {
			return m
		}
	}
}

// sortKey maps a float64 to a uint64 whose unsigned order is the numeric
// order of the floats (NaN excluded; -0 sorts just before +0).
func sortKey(v float64) uint64 {
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

func keyValue(k uint64) float64 {
	if k>>63 != 0 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// radixBits is the digit width of the LSD radix sort: 6 passes over 64-bit
// keys with 2048 buckets, which beats comparison sorting from a few
// thousand values up.
const radixBits = 11

// sortKeys sorts keys ascending, carrying idx along, with scratch buffers
// keys2 and idx2 of the same length. The result is left in keys and idx.
// Equal keys keep their input order.
func sortKeys(keys []uint64, idx []int32, keys2 []uint64, idx2 []int32) {
	n := len(keys)
	if n < 64 {
		// Insertion sort: stable, and cheaper than radix passes here.
		for i := 1; i < n; i++ {
			k, x := keys[i], idx[i]
			j := i
			for ; j > 0 && keys[j-1] > k; j-- {
				keys[j], idx[j] = keys[j-1], idx[j-1]
			}
			keys[j], idx[j] = k, x
		}
		return
	}
	const buckets = 1 << radixBits
	const passes = (64 + radixBits - 1) / radixBits
	var counts [passes][buckets]int32
	for _, k := range keys {
		for p := range passes {
			counts[p][(k>>(p*radixBits))&(buckets-1)]++
		}
	}
	src, dst := keys, keys2
	isrc, idst := idx, idx2
	for p := range passes {
		c := &counts[p]
		if c[(src[0]>>(p*radixBits))&(buckets-1)] == int32(n) {
			continue // every key has the same digit: nothing moves
		}
		var sum int32
		for b := range c {
			sum, c[b] = sum+c[b], sum
		}
		shift := uint(p * radixBits)
		for i, k := range src {
			d := (k >> shift) & (buckets - 1)
			j := c[d]
			c[d]++
			dst[j] = k
			idst[j] = isrc[i]
		}
		src, dst = dst, src
		isrc, idst = idst, isrc
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(idx, isrc)
	}
}
