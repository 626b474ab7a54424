package auxdp

import (
	"errors"
	"math"
)

// NMI returns the normalised mutual information between two labellings of
// the same points, I(a; b) / ((H(a) + H(b))/2) (the arithmetic-mean
// normalisation, scikit-learn's default and the one DPMMSubClusters reports).
// It is 1 for identical partitions whatever the label values and near 0 for
// unrelated ones; when both labellings have a single cluster it is 1.
func NMI(a, b []int) (float64, error) {
	if len(a) != len(b) {
		return 0, errors.New("NMI: labellings of different lengths")
	}
	n := len(a)
	if n == 0 {
		return 0, errors.New("NMI: no points")
	}
	ia, ib := index(a), index(b)
	ka, kb := 0, 0
	for i := range n {
		ka = max(ka, ia[i]+1)
		kb = max(kb, ib[i]+1)
	}
	joint := make([]float64, ka*kb)
	pa := make([]float64, ka)
	pb := make([]float64, kb)
	for i := range n {
		joint[ia[i]*kb+ib[i]]++
		pa[ia[i]]++
		pb[ib[i]]++
	}
	fn := float64(n)
	ent := func(p []float64) float64 {
		var h float64
		for _, c := range p {
			if c > 0 {
				h -= c / fn * math.Log(c/fn)
			}
		}
		return h
	}
	ha, hb := ent(pa), ent(pb)
	var mi float64
	for x := range ka {
		for y := range kb {
			if c := joint[x*kb+y]; c > 0 {
				mi += c / fn * math.Log(c*fn/(pa[x]*pb[y]))
			}
		}
	}
	if ha+hb == 0 {
		return 1, nil
	}
	return max(0, min(1, 2*mi/(ha+hb))), nil
}

// index maps arbitrary labels to 0..K−1 in order of first appearance.
func index(l []int) []int {
	m := map[int]int{}
	out := make([]int, len(l))
	for i, v := range l {
		k, ok := m[v]
		if !ok {
			k = len(m)
			m[v] = k
		}
		out[i] = k
	}
	return out
}
