package sis

import "math"

// expTable[j] = 2^(j/64).
var expTable = func() (t [64]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 64)
	}
	return t
}()

const (
	expInvL  = 64 / math.Ln2
	expL1    = 6.93147180369123816490e-01 / 64 // leading bits of ln2/64 (Cody–Waite split, as in math.Exp)
	expL2    = 1.90821492927058770002e-10 / 64 // ln2/64 − expL1
	expUnder = -708.3964185322641              // below this exp(x) is subnormal: 0 here
)

// expNonPos returns exp(x) for x ≤ 0 with a relative error below 4e-16,
// and 0 for x < −708.39 (where the true value is below 2^−1022) or NaN:
// made for the weights of particles relative to the best one, where such
// values are negligible. It is table-driven (Tang 1989, ACM TOMS 15(2)):
// x = (64k + j)·ln2/64 + r with |r| ≤ ln2/128 and exp(x) = 2^k · 2^(j/64) ·
// p(r), p the degree-5 Taylor polynomial. Several times faster than
// math.Exp, whose cost dominated the weighting step.
func expNonPos(x float64) float64 {
	if !(x >= expUnder) {
		return 0
	}
	return expTang(x)
}

// expTang is expNonPos for expUnder ≤ x ≤ 0, small enough for the
// compiler to inline into the weighting loops.
func expTang(x float64) float64 {
	// Round x/(ln2/64) to the nearest integer; x ≤ 0, so truncating
	// x·64/ln2 − 0.5 towards zero does it without math.Floor.
	k := int64(x*expInvL - 0.5)
	kf := float64(k)
	r := (x - kf*expL1) - kf*expL2
	tj := expTable[k&63]
	// tj·p(r) as tj + tj·(p(r) − 1), times 2^(k>>6) built from its
	// exponent bits (k>>6 ≥ −1022 here).
	return math.Float64frombits(uint64((k>>6)+1023)<<52) * (tj + tj*(r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))))
}

// expShift sets w[i] = exp(lw[i] − m) for lw[i] ≤ m and returns Σ w and
// Σ w².
func expShift(w, lw []float64, m float64) (sum, sumsq float64) {
	w = w[:len(lw)]
	for i, v := range lw {
		x := v - m
		e := 0.0
		if x >= expUnder {
			e = expTang(x)
		}
		w[i] = e
		sum += e
		sumsq += e * e
	}
	return sum, sumsq
}

// expShiftMoments is expShift fused with the weighted first and second
// moments of x about c = x[0] (one pass instead of three, for the
// one-dimensional filter): it also returns s1 = Σ w·(x−c) and
// s2 = Σ w·(x−c)², from which mean = c + s1/sum and the sum of squared
// deviations s2 − s1²/sum. Taking c from the sample keeps the cancellation
// in the latter of the order of (mean−c)²/variance ulps.
func expShiftMoments(w, lw, x []float64, m float64) (sum, sumsq, s1, s2 float64) {
	w = w[:len(lw)]
	x = x[:len(lw)]
	c := x[0]
	for i, v := range lw {
		y := v - m
		e := 0.0
		if y >= expUnder {
			e = expTang(y)
		}
		w[i] = e
		sum += e
		sumsq += e * e
		dx := x[i] - c
		t := e * dx
		s1 += t
		s2 += t * dx
	}
	return sum, sumsq, s1, s2
}
