package sis

import (
	"errors"
	"fmt"
	"math"
)

// ErrDegenerate is returned (wrapped) when every particle has weight zero,
// so the particle approximation has collapsed and no estimate is possible.
var ErrDegenerate = errors.New("all particle weights are zero")

// LogSumExp returns log Σ exp(lw[i]) without overflow; −Inf for an empty
// slice or when every term is −Inf; NaN when a term is NaN.
func LogSumExp(lw []float64) float64 {
	m := math.Inf(-1)
	for _, v := range lw {
		if v > m {
			m = v
		} else if v != v {
			return math.NaN()
		}
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, v := range lw {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// LogMeanExp returns log((1/n) Σ exp(lw[i])), the log of the average of the
// weights; see LogSumExp.
func LogMeanExp(lw []float64) float64 {
	return LogSumExp(lw) - math.Log(float64(len(lw)))
}

// Weights holds the normalised weights W and summaries of a vector of log
// weights.
type Weights struct {
	// W are the normalised weights, summing to 1.
	W []float64
	// LogSum is log Σ exp(lw).
	LogSum float64
	// ESS is the effective sample size 1/Σ W², in [1, N].
	ESS float64
}

// LogWeights normalises the log weights lw into W (reusing the slice dst
// when it has room) and returns them with their log sum and ESS. It returns
// an error wrapping ErrDegenerate when every weight is zero, and an error
// when a log weight is NaN or +Inf.
func LogWeights(dst []float64, lw []float64) (Weights, error) {
	m := math.Inf(-1)
	for i, v := range lw {
		if v != v || math.IsInf(v, 1) {
			return Weights{}, fmt.Errorf("log weight %d is %g", i, v)
		}
		if v > m {
			m = v
		}
	}
	if math.IsInf(m, -1) {
		return Weights{}, ErrDegenerate
	}
	if cap(dst) < len(lw) {
		dst = make([]float64, len(lw))
	}
	dst = dst[:len(lw)]
	s := 0.0
	for i, v := range lw {
		e := math.Exp(v - m)
		dst[i] = e
		s += e
	}
	q := 0.0
	for i := range dst {
		dst[i] /= s
		q += dst[i] * dst[i]
	}
	return Weights{W: dst, LogSum: m + math.Log(s), ESS: 1 / q}, nil
}

// ESS returns the effective sample size (Σ w)²/Σ w² of the non-negative,
// not necessarily normalised weights w (Kong, Liu & Wong 1994).
func ESS(w []float64) float64 {
	s, q := 0.0, 0.0
	for _, v := range w {
		s += v
		q += v * v
	}
	if q == 0 {
		return 0
	}
	return s * s / q
}
