package sis

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Scheme is a resampling scheme: a way of drawing M ancestor indices from
// N weighted particles so that particle n has on average M·W_n offspring.
// All schemes here run in O(N + M) time (Chopin & Papaspiliopoulos 2020,
// ch. 9; Gerber, Chopin & Whiteley 2019).
type Scheme int

const (
	// SSP is the Srinivasan sampling process of Gerber, Chopin & Whiteley
	// (2019, Ann. Statist.): every particle gets ⌊M·W_n⌋ or ⌊M·W_n⌋+1
	// offspring, the counts being negatively associated. It has the
	// smallest possible offspring variance and, unlike systematic
	// resampling, a consistency theory. It is the default.
	SSP Scheme = iota
	// Systematic uses one uniform U and the points (m+U)/M.
	Systematic
	// Stratified uses one uniform per stratum: (m+U_m)/M.
	Stratified
	// Residual keeps ⌊M·W_n⌋ copies and draws the rest multinomially from
	// the fractional parts.
	Residual
	// Multinomial draws M independent ancestors; the sorted uniforms come
	// from normalised cumulative sums of exponential variables, so no sort
	// is needed.
	Multinomial
)

var schemeNames = [...]string{
	SSP:         "ssp",
	Systematic:  "systematic",
	Stratified:  "stratified",
	Residual:    "residual",
	Multinomial: "multinomial",
}

// Schemes lists every scheme, in the order of their constants.
var Schemes = []Scheme{SSP, Systematic, Stratified, Residual, Multinomial}

func (s Scheme) String() string {
	if s >= 0 && int(s) < len(schemeNames) {
		return schemeNames[s]
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// ParseScheme returns the scheme of the given name (ssp, systematic,
// stratified, residual, multinomial).
func ParseScheme(name string) (Scheme, error) {
	for s, n := range schemeNames {
		if n == name {
			return Scheme(s), nil
		}
	}
	return 0, fmt.Errorf("unknown resampling scheme %q (want ssp, systematic, stratified, residual or multinomial)", name)
}

// MarshalText encodes the scheme by its name.
func (s Scheme) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(schemeNames) {
		return nil, fmt.Errorf("invalid resampling scheme %d", int(s))
	}
	return []byte(schemeNames[s]), nil
}

// UnmarshalText decodes a scheme name.
func (s *Scheme) UnmarshalText(b []byte) error {
	v, err := ParseScheme(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Resampler draws ancestor indices with its Scheme. The zero value uses
// SSP. It keeps scratch space between calls, so repeated resampling with
// the same sizes allocates nothing; it is not safe for concurrent use.
type Resampler struct {
	Scheme  Scheme
	scratch []float64
}

// Resample draws len(dst) ancestor indices into dst from the weights w and
// returns dst. The weights must be non-negative and finite with a positive
// sum; they need not be normalised. The indices come out in non-decreasing
// order for every scheme but SSP, whose order is nearly so.
//
// Resample panics on invalid weights or an unknown scheme: callers hold the
// weights they computed and check them first (see LogWeights).
func (rs *Resampler) Resample(dst []int, w []float64, r *rand.Rand) []int {
	total := 0.0
	for _, v := range w {
		if !(v >= 0) || math.IsInf(v, 1) {
			panic(fmt.Sprintf("sis: invalid resampling weight %g", v))
		}
		total += v
	}
	if !(total > 0) || math.IsInf(total, 1) {
		panic(fmt.Sprintf("sis: resampling weights sum to %g", total))
	}
	rs.resample(dst, w, total, r)
	return dst
}

// Resample draws len(dst) ancestors from w with scheme s; see
// Resampler.Resample.
func Resample(s Scheme, dst []int, w []float64, r *rand.Rand) []int {
	rs := Resampler{Scheme: s}
	return rs.Resample(dst, w, r)
}

// resample is Resample for weights already known to be valid with the given
// positive total.
func (rs *Resampler) resample(dst []int, w []float64, total float64, r *rand.Rand) {
	if len(dst) == 0 {
		return
	}
	switch rs.Scheme {
	case SSP:
		ssp(dst, w, total, r)
	case Systematic:
		u := r.Float64()
		step := total / float64(len(dst))
		invertCDF(dst, w, func(m int) float64 { return (float64(m) + u) * step })
	case Stratified:
		step := total / float64(len(dst))
		invertCDF(dst, w, func(m int) float64 { return (float64(m) + r.Float64()) * step })
	case Multinomial:
		s := rs.sortedUniforms(len(dst), r)
		scale := total / s[len(dst)]
		invertCDF(dst, w, func(m int) float64 { return s[m] * scale })
	case Residual:
		rs.residual(dst, w, total, r)
	default:
		panic(fmt.Sprintf("sis: unknown resampling scheme %d", int(rs.Scheme)))
	}
}

// sortedUniforms writes to the scratch space the cumulative sums
// E_1, E_1+E_2, … of m+1 standard exponentials and returns them: divided
// by the last sum, the first m are m sorted uniforms (the order statistics
// of a uniform sample are normalised exponential spacings; Devroye 1986,
// ch. V.2), obtained in O(m) without sorting.
func (rs *Resampler) sortedUniforms(m int, r *rand.Rand) []float64 {
	if cap(rs.scratch) < m+1 {
		rs.scratch = make([]float64, m+1)
	}
	s := rs.scratch[:m+1]
	acc := 0.0
	for i := range s {
		acc += r.ExpFloat64()
		s[i] = acc
	}
	return s
}

// lastPositive returns the index of the last positive weight; points beyond
// the final cumulative sum (by rounding) go there, never to a particle of
// weight zero.
func lastPositive(w []float64) int {
	for i := len(w) - 1; i > 0; i-- {
		if w[i] > 0 {
			return i
		}
	}
	return 0
}

// invertCDF sets dst[m] to the particle whose cumulative-weight interval
// [c_{n−1}, c_n) holds point(m); the points must be non-decreasing.
func invertCDF(dst []int, w []float64, point func(m int) float64) {
	last := lastPositive(w)
	n := 0
	cum := w[0]
	for m := range dst {
		u := point(m)
		for u >= cum && n < last {
			n++
			cum += w[n]
		}
		dst[m] = n
	}
}

// residual keeps ⌊M·W_n⌋ copies of particle n and draws the R remaining
// ancestors multinomially from the fractional parts, merging both in one
// pass so the output is sorted.
func (rs *Resampler) residual(dst []int, w []float64, total float64, r *rand.Rand) {
	m := len(dst)
	scale := float64(m) / total
	det := 0
	fracTotal := 0.0
	for _, v := range w {
		x := v * scale
		f := math.Floor(x)
		det += int(f)
		fracTotal += x - f
	}
	rest := m - det
	var s []float64
	var uscale float64
	if rest > 0 {
		s = rs.sortedUniforms(rest, r)
		uscale = fracTotal / s[rest]
	}
	last := lastPositive(w)
	pos, k := 0, 0
	cum := 0.0
	for n, v := range w {
		x := v * scale
		f := math.Floor(x)
		c := int(f)
		cum += x - f
		// Residual points in this particle's fractional interval.
		for k < rest && (s[k]*uscale < cum || n == last) {
			c++
			k++
		}
		for ; c > 0 && pos < m; c-- {
			dst[pos] = n
			pos++
		}
	}
	for ; pos < m; pos++ { // only reachable through rounding
		dst[pos] = last
	}
}

// ssp is the Srinivasan sampling process (Gerber, Chopin & Whiteley 2019,
// Algorithm 3, pairs taken in index order). Each particle n has fractional
// part δ_n of M·W_n. Two open fractional parts (a, b) are rounded in a
// random pair move that keeps their sum and their means: if a+b < 1, one of
// them takes the whole sum (the first with probability a/(a+b)); otherwise
// one of them becomes 1 (the first with probability (1−b)/(2−a−b)) and the
// other keeps a+b−1. A part that reaches 0 or 1 is final. The surviving part
// is carried to the next particle, so the procedure is a single O(N) pass.
func ssp(dst []int, w []float64, total float64, r *rand.Rand) {
	m := len(dst)
	scale := float64(m) / total
	pos := 0
	emit := func(n, c int) {
		for ; c > 0 && pos < m; c-- {
			dst[pos] = n
			pos++
		}
	}
	cur := 0
	x := w[0] * scale
	fc := math.Floor(x)
	dc := x - fc
	for n := 1; n < len(w); n++ {
		x := w[n] * scale
		fn := math.Floor(x)
		dn := x - fn
		if dn == 0 {
			emit(n, int(fn))
			continue
		}
		if dc == 0 {
			emit(cur, int(fc))
			cur, fc, dc = n, fn, dn
			continue
		}
		s := dc + dn
		u := r.Float64()
		if s < 1 {
			if u*s < dc { // current takes the sum, n is rounded down
				dc = s
				emit(n, int(fn))
			} else {
				emit(cur, int(fc))
				cur, fc, dc = n, fn, s
			}
		} else {
			if u*(2-s) < 1-dn { // current rounded up, n keeps s−1
				emit(cur, int(fc)+1)
				cur, fc, dc = n, fn, s-1
			} else {
				emit(n, int(fn)+1)
				dc = s - 1
			}
		}
	}
	// The carried part is 0 or 1 up to rounding; the remaining slots are
	// exactly what the last particle is owed.
	emit(cur, m-pos)
}
