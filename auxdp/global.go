package auxdp

import "math/rand/v2"

// globalGibbs is the Uniform placement step: each selected cluster's
// processor is redrawn from its exact conditional given the partition and
// the other clusters' placement. For the DP that conditional is uniform on
// 1..P whatever the data, sizes and loads (notes §2: with φ collapsed,
// p(z, π | α) = Γ(α)/Γ(α+N)·(α/P)^K·Π_c Γ(n_c) does not depend on the
// placement). For the PY it is the urn ∝ θ/P + d·K_k^(−c); when every
// cluster is selected the placement is drawn afresh from the sequential
// urn, an exact blocked draw from p(π | z, θ, d) ∝ Π_k (θ/P | d)_{K_k}.
func globalGibbs(s *sampler, r *rand.Rand) {
	P := s.nproc
	frac := s.cfg.MoveFraction
	if s.cfg.Process == DP {
		for _, c := range s.all {
			if frac < 1 && r.Float64() >= frac {
				continue
			}
			s.moveTo(c, r.IntN(P))
		}
		return
	}
	a, d := s.alpha/float64(P), s.disc
	cnt, w := s.cnt, s.pw
	clear(cnt)
	if frac >= 1 {
		for _, c := range s.all {
			k := sampleWeights(r, w, urnWeights(w, cnt, a, d))
			cnt[k]++
			s.moveTo(c, k)
		}
		return
	}
	for _, c := range s.all {
		cnt[c.proc]++
	}
	for _, c := range s.all {
		if r.Float64() >= frac {
			continue
		}
		cnt[c.proc]--
		k := sampleWeights(r, w, urnWeights(w, cnt, a, d))
		cnt[k]++
		s.moveTo(c, k)
	}
}

// urnWeights fills w with the Pitman–Yor placement weights θ/P + d·K_k
// (a = θ/P, cnt[k] = K_k, the clusters on processor k) and returns their
// sum.
func urnWeights(w []float64, cnt []int, a, d float64) float64 {
	var tot float64
	for k, n := range cnt {
		w[k] = a + d*float64(n)
		tot += w[k]
	}
	return tot
}

// moveTo records an accepted placement of c on processor k.
func (s *sampler) moveTo(c *cluster, k int) {
	s.moveProp++
	s.moveAcc++
	if k != c.proc {
		s.pointsMoved += c.n
		c.proc = k
	}
}

// balanceWeights fills w with the Balanced proposal weights
// w_k = 1/(1 + L_k/(N/P)) for loads L (points per processor, the moving
// cluster excluded) and returns their sum.
func balanceWeights(w []float64, load []int, n int) float64 {
	avg := float64(n) / float64(len(load))
	var tot float64
	for k, l := range load {
		w[k] = 1 / (1 + float64(l)/avg)
		tot += w[k]
	}
	return tot
}

// globalBalanced is the Balanced placement step: Metropolis–Hastings
// within Gibbs on each selected cluster c, proposing processor k with
// probability q(k) = w_k/W from balanceWeights on the loads without c.
// Those loads are the same before and after the move (only c moves), so
// the reverse proposal is q(j) = w_j/W with the same W, and the exact
// acceptance probability is
//
//	min(1, [π(k) q(j)] / [π(j) q(k)]) = min(1, π(k) w_j / (π(j) w_k)),
//
// with π(k) ∝ 1 for the DP and ∝ θ/P + d·K_k^(−c) for the PY (the
// placement conditional given everything else). Moves towards lightly
// loaded processors are proposed more often and accepted less often, in
// exactly the proportion that keeps the exact placement law stationary.
func globalBalanced(s *sampler, r *rand.Rand) {
	P := s.nproc
	frac := s.cfg.MoveFraction
	a, d := s.alpha/float64(P), s.disc
	load, cnt, w := s.load, s.cnt, s.pw
	clear(load)
	clear(cnt)
	for _, c := range s.all {
		load[c.proc] += c.n
		cnt[c.proc]++
	}
	for _, c := range s.all {
		if frac < 1 && r.Float64() >= frac {
			continue
		}
		j := c.proc
		load[j] -= c.n
		cnt[j]--
		tot := balanceWeights(w, load, s.n)
		k := sampleWeights(r, w, tot)
		s.moveProp++
		accept := true
		if k != j {
			ratio := w[j] / w[k]
			if s.cfg.Process == PY {
				ratio *= (a + d*float64(cnt[k])) / (a + d*float64(cnt[j]))
			}
			accept = ratio >= 1 || r.Float64() < ratio
		}
		if accept {
			s.moveAcc++
			if k != j {
				s.pointsMoved += c.n
				c.proc = k
			}
		}
		load[c.proc] += c.n
		cnt[c.proc]++
	}
}
