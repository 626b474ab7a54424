package combine

import (
	"fmt"
	"math"
)

// DefaultMinEffectiveDraws is the number of effective draws per shard the
// automatic bandwidth asks for (MarkovOptions.MinEffectiveDraws).
//
// A KDE-product estimate near a point of the product is made of the draws
// of each shard that the kernel and the other shards' choices leave with
// appreciable weight. When a shard contributes n such draws its factor
// carries relative noise of about 1/√n, and the M factors' noise adds up:
// with n = 400 and M = 8 the product's log density wobbles by about
// √(8/400) ≈ 0.14 over its bulk, a small fraction of a posterior sd in its
// mean. The value is set by what the checks show. Where the KDE methods
// work — log-gamma shards in one to five dimensions, whose exact product
// is known — the automatic h has 400 or more effective draws and removes
// the Gaussian product's skewness bias (targets of 100 to 800 give the
// same results there). Where they fail — the logistic check (d = 6, 1 to
// 2 posterior sd off at the cross-validated h) and the demo's shards
// (d = 3, M = 4, 0.3 sd off) — semiparametric never offered more than 160
// effective draws per shard at any h up to 1, and fixed bandwidths in
// that range gave errors of 0.14 to 1.8 sd, against 0.07 to 0.18 for the
// Gaussian product.
const DefaultMinEffectiveDraws = 400

// calibrationRatio is the step between candidate bandwidths of the
// automatic rule.
const calibrationRatio = 0.9

// streamCalibration is the random stream of the calibration chain, apart
// from the output chains' streams (chain) and the pairing streams.
const streamCalibration = 1 << 41

// CalibrationStep records one candidate bandwidth tried by the automatic
// rule: the smallest, over shards, of the shard's mean effective number of
// draws at that bandwidth, and which shard it was (1-based).
type CalibrationStep struct {
	Bandwidth      float64 `json:"bandwidth"`
	EffectiveDraws float64 `json:"effective_draws"`
	Shard          int     `json:"shard"`
}

// maxCalibrationBandwidth is the largest bandwidth the automatic rule
// considers (whitened units). For the nonparametric product it is the
// largest h at which every shard's variance correction is complete:
// h² ≤ (1 − minShrink)·λ_min over the shards' whitened covariances. For
// the semiparametric product it is 1, the scale of a typical shard: the
// correction's weights K_h(θ − θ_t)/N(θ_t | μ̂_m, Σ̂_m) have finite variance
// only for h < √2 shard standard deviations (for Gaussian shards
// E[K_h²/f²] diverges beyond), so wider kernels are not a smoother
// estimate but one ruled by a shard's most extreme draws.
func (p *imgProblem) maxCalibrationBandwidth() float64 {
	if p.semi {
		return hotBandwidth
	}
	lo := math.Inf(1)
	for _, c := range p.wcov {
		lo = math.Min(lo, minEigen(c))
	}
	// A hair inside the limit, so that rounding does not make the
	// correction partial at the cap.
	h := math.Sqrt((1-minShrink)*lo) * (1 - 1e-9)
	if !(h > 0) {
		return hotBandwidth
	}
	return math.Min(h, hotBandwidth)
}

// calibrate chooses the bandwidth of the automatic rule. Starting from the
// cross-validated p.h, which resolves each shard's own shape, it finds the
// smallest bandwidth at which the product is well determined: every
// shard's conditional distribution over its draws, given the other shards'
// choices, has at least target effective draws (Kish's (Σw)²/Σw²) on
// average over the product. One calibration chain measures this on a
// descending ladder of candidates h_max, 0.9·h_max, …, down to the
// cross-validated h, warm-starting each candidate from the last state (so
// the ladder also anneals it), and the rule keeps the smallest candidate of
// the first run of candidates that pass. The effective draws are measured
// where the index chain goes, so several modes are handled as they are in
// the output.
//
// When no candidate passes, the nonparametric product keeps h_max, the
// best determined estimate it has, with a note; the semiparametric product
// falls back to its parametric start (its h → ∞ limit, the Gaussian
// product), because its correction cannot be estimated from the draws.
func (p *imgProblem) calibrate(s Settings, target float64) {
	lo, hi := p.h, p.maxCalibrationBandwidth()
	var cands []float64
	if lo >= hi {
		cands = []float64{lo}
	} else {
		for h := hi; h > lo*1.03; h *= calibrationRatio {
			cands = append(cands, h)
		}
		cands = append(cands, lo)
	}

	pilot := *p
	pilot.ladder = []float64{1}
	pilot.anneal = false
	c := newIMGChain(&pilot, s.Seed, streamCalibration)
	maxT := 0
	for _, t := range p.T {
		maxT = max(maxT, t)
	}
	buf := make([]float64, maxT)
	scratch := make([]float64, p.d)
	perShard := make([][]float64, len(cands))
	sweep := 0
	run := func(n int) {
		for range n {
			sweep++
			c.sweep(sweep, false)
		}
	}
	const measurements, gap = 12, 25
	for k, h := range cands {
		pilot.h = h
		pilot.buildRows(h)
		for i := range c.states {
			c.recompute(&c.states[i])
		}
		if k == 0 {
			run(1000)
		} else {
			run(300)
		}
		sums := make([]float64, p.M)
		for range measurements {
			run(gap)
			for m := range p.M {
				sums[m] += c.conditionalESS(m, buf, scratch)
			}
		}
		for m := range sums {
			sums[m] /= measurements
		}
		perShard[k] = sums
		worst := 0
		for m, v := range sums {
			if v < sums[worst] {
				worst = m
			}
		}
		p.calibration = append(p.calibration, CalibrationStep{Bandwidth: h, EffectiveDraws: sums[worst], Shard: worst + 1})
	}

	chosen := -1
	for k, st := range p.calibration {
		if st.EffectiveDraws >= target {
			chosen = k
		} else if chosen >= 0 {
			break
		}
	}
	worstAt := func(k int) string {
		st := p.calibration[k]
		return fmt.Sprintf("%.0f effective draws from %s at h = %.3g", st.EffectiveDraws, s.shardLabel(st.Shard-1), st.Bandwidth)
	}
	switch {
	case chosen >= 0:
		p.h = cands[chosen]
	case p.semi:
		best := 0
		for k, st := range p.calibration {
			if st.EffectiveDraws > p.calibration[best].EffectiveDraws {
				best = k
			}
		}
		p.parametricStart = true
		p.notes = append(p.notes, fmt.Sprintf("the KDE correction cannot be estimated from these draws (at best %s; want %.0f): "+
			"the result is the parametric start alone, the Gaussian product. In %d dimensions the shards have too few draws where the product lies",
			worstAt(best), target, p.d))
		chosen = best
	default:
		p.h = cands[0]
		chosen = 0
		p.notes = append(p.notes, fmt.Sprintf("the KDE product is poorly determined (%s, the widest kernel the variance correction allows; want %.0f): "+
			"with d = %d and %.0f draws per shard this is beyond the method's range, and errors of a sizeable fraction of a posterior sd are likely; "+
			"consensus, parametric or swiss suit near-Gaussian shards",
			worstAt(0), target, p.d, p.tbar))
	}
	p.effective = perShard[chosen]
	p.buildRows(p.h)
}

// conditionalESS returns the effective number of shard m's draws in the
// conditional distribution of its mixture index given the other shards'
// indices, at the target level's state and bandwidth: the Kish effective
// sample size (Σ_b W_b)²/Σ_b W_b² of the weights W_b of every draw b,
// computed from the same sufficient statistics as a move, O(T_m·d). buf
// holds at least T_m floats and scratch d.
func (c *imgChain) conditionalESS(m int, buf, scratch []float64) float64 {
	p := c.p
	st := &c.states[c.at[0]]
	lv := &c.levels[0]
	d, stride := p.d, p.stride
	invM := 1 / float64(p.M)
	inv2h2 := 1 / (2 * lv.h * lv.h)
	rows := p.rows[m]
	a := st.t[m]
	ra := rows[a*stride : (a+1)*stride]
	sm := scratch[:d]
	for j := range sm {
		sm[j] = st.s[j] - ra[j]
	}
	qm := st.q - ra[d]
	best := math.Inf(-1)
	lw := buf[:p.T[m]]
	for b := range lw {
		rb := rows[b*stride : (b+1)*stride]
		ss, gt := 0.0, 0.0
		for j, v := range sm {
			x := v + rb[j]
			ss += x * x
			if p.semi {
				u := x*invM - p.nu[j]
				gt += lv.g[j] * u * u
			}
		}
		w := -(qm + rb[d] - ss*invM) * inv2h2
		if p.semi {
			w -= 0.5*gt + rb[d+1]
		}
		lw[b] = w
		best = math.Max(best, w)
	}
	s1, s2 := 0.0, 0.0
	for _, w := range lw {
		e := math.Exp(w - best)
		s1 += e
		s2 += e * e
	}
	return s1 * s1 / s2
}
