package auxdp

import (
	"math"
	"math/rand/v2"

	"github.com/epmc/epmc/rng"
)

// processor is one auxiliary processor j: given the placement, its points
// form an independent DP(α/P) (or PY(d, θ/P)) mixture, which its local step
// samples without looking at any other processor.
type processor struct {
	// The padding keeps the hot fields of processors run by different
	// goroutines on different cache lines (no false sharing).
	_        [64]byte
	s        *sampler
	j        int
	clusters []*cluster // slots; a slot whose cluster has n == 0 is free
	free     []int
	spare    []*cluster
	k        int // non-empty clusters
	points   []int32
	newK     int      // p.k when newW was computed
	newW     float64  // ln(a + d·K_j), the urn weight of a new cluster
	src      rand.PCG // written on every draw: kept inside the padded struct
	r        *rand.Rand
	logw     []float64 // a window into a padded allocation (see grow)

	// split–merge scratch
	scratch [3]stats
	memOff  []int
	memBuf  []int32
	memPos  []int
	perm    []int32
	side    []bool
	smProp  [2]int // splits, merges proposed this iteration
	smAcc   [2]int
	_       [64]byte
}

// growWeights makes p.logw hold at least n values, inside an allocation
// padded by a cache line on each side so that two processors' weight
// buffers, written for every point, never share a line.
func (p *processor) growWeights(n int) {
	if cap(p.logw) >= n {
		return
	}
	const pad = 8 // float64s per 64-byte line
	buf := make([]float64, 2*n+8+2*pad)
	p.logw = buf[pad : pad+2*n+8 : pad+2*n+8]
}

// local is the processor's local step for iteration it: optionally a
// refresh of its clusters' statistics, Sweeps collapsed Gibbs sweeps and
// SplitMerge merge–split proposals, all with concentration α/P.
func (p *processor) local(it int, refresh bool) {
	s := p.s
	p.src.Seed(rng.Seeds(s.cfg.Seed, streamLocal, uint64(it), uint64(p.j)))
	a := s.alpha / float64(s.nproc)
	d := s.disc
	p.newK, p.newW = -1, 0
	if refresh {
		for _, c := range p.clusters {
			c.st.clear()
		}
		for _, i := range p.points {
			s.zc[i].st.add(int(i))
		}
	}
	for range s.cfg.Sweeps {
		for _, i := range p.points {
			p.gibbs(int(i), a, d)
		}
	}
	p.smProp, p.smAcc = [2]int{}, [2]int{}
	if s.cfg.SplitMerge > 0 {
		p.memOff = p.memOff[:0] // members out of date
		for range s.cfg.SplitMerge {
			p.splitMerge(a, d)
		}
	}
}

// gibbs is Neal's (2000) Algorithm 3 update of point i: remove it from its
// cluster, then reassign it with probability ∝ (n_c − d)·p(x_i | X_c) to a
// cluster c of this processor, or ∝ (a + d·K_j)·p(x_i | H) to a new cluster
// on this processor.
func (p *processor) gibbs(i int, a, d float64) {
	c := p.s.zc[i]
	if own, ok := c.st.cavity(i); ok {
		// The point's own cluster keeps other members, so its weight can
		// be computed without removing the point (stats.cavity), and a
		// point that stays — almost every point, near convergence —
		// costs no update. The probabilities are those of Algorithm 3.
		t := p.choice(i, a, d, c.slot, p.s.lw[c.n-1]+own)
		if t == c.slot {
			return
		}
		c.st.remove(i)
		c.n--
		c.logw = p.s.lw[c.n]
		p.join(i, p.pick(t))
		return
	}
	c.st.remove(i)
	c.n--
	if c.n == 0 {
		p.free = append(p.free, c.slot)
		p.k--
	} else {
		c.logw = p.s.lw[c.n]
	}
	p.join(i, p.choose(i, a, d))
}

// choose draws the cluster that point i (currently in none) joins; a new
// cluster is made when the urn says so.
func (p *processor) choose(i int, a, d float64) *cluster {
	return p.pick(p.choice(i, a, d, -1, 0))
}

// pick returns the cluster in slot t, or a new cluster if t is one past the
// last slot.
func (p *processor) pick(t int) *cluster {
	if t < len(p.clusters) {
		return p.clusters[t]
	}
	return p.newCluster()
}

// choice draws the slot point i joins, len(p.clusters) meaning a new
// cluster: slot t with probability ∝ exp(logw_t + ln p(x_i | X_t)), a new
// cluster ∝ (a + d·K_j)·p(x_i | H). If own ≥ 0 the weight of that slot is
// ownW instead (the point's own cluster, evaluated without the point).
func (p *processor) choice(i int, a, d float64, own int, ownW float64) int {
	ns := len(p.clusters)
	p.growWeights(ns + 1)
	w := p.logw[:ns+1]
	if p.k != p.newK {
		p.newK, p.newW = p.k, math.Log(a+d*float64(p.k))
	}
	// The new-cluster and own-cluster weights come first, so that the
	// scan of the other clusters starts from a good best value and can
	// dismiss far clusters cheaply.
	vnew := p.newW + p.s.fam.logPrior(i)
	best := vnew
	if own >= 0 {
		best = max(best, ownW)
	}
	best = p.s.fam.score(i, p.clusters, w[:ns], own, best)
	if own >= 0 {
		w[own] = ownW
	}
	w[ns] = vnew
	var tot float64
	for t, v := range w {
		// exp(−40) ≈ 4e-18 is below the rounding of a sum ≥ 1, so such
		// weights cannot change tot; skipping their exp is exact in
		// floating point up to a 1e-17 chance per draw.
		if v-best < -pruneGap {
			w[t] = 0
			continue
		}
		e := math.Exp(v - best)
		w[t] = e
		tot += e
	}
	return sampleWeights(p.r, w, tot)
}

// join adds point i to cluster c.
func (p *processor) join(i int, c *cluster) {
	c.st.add(i)
	c.n++
	c.logw = p.s.lw[c.n]
	p.s.zc[i] = c
}

// newCluster returns an empty cluster in a slot of this processor, reusing
// free slots and spare clusters before allocating.
func (p *processor) newCluster() *cluster {
	var c *cluster
	if n := len(p.free); n > 0 {
		c = p.clusters[p.free[n-1]]
		p.free = p.free[:n-1]
	} else {
		if n := len(p.spare); n > 0 {
			c = p.spare[n-1]
			p.spare = p.spare[:n-1]
		} else {
			c = &cluster{st: p.s.fam.newStats()}
		}
		c.slot = len(p.clusters)
		p.clusters = append(p.clusters, c)
	}
	c.proc = p.j
	p.k++
	return c
}

// members returns the points of cluster c (on this processor), building
// the member lists by a counting sort when they are out of date.
func (p *processor) members(c *cluster) []int32 {
	ns := len(p.clusters)
	if len(p.memOff) != ns+1 {
		p.memOff = append(p.memOff[:0], make([]int, ns+1)...)
		for _, i := range p.points {
			p.memOff[p.s.zc[i].slot+1]++
		}
		for t := range ns {
			p.memOff[t+1] += p.memOff[t]
		}
		p.memPos = append(p.memPos[:0], p.memOff[:ns]...)
		if cap(p.memBuf) < len(p.points) {
			p.memBuf = make([]int32, len(p.points))
		}
		p.memBuf = p.memBuf[:len(p.points)]
		for _, i := range p.points {
			t := p.s.zc[i].slot
			p.memBuf[p.memPos[t]] = i
			p.memPos[t]++
		}
	}
	return p.memBuf[p.memOff[c.slot]:p.memOff[c.slot+1]]
}

// splitLogRatio is ln[p(split)/p(merged)] under the local PY(d, a) urn
// (d = 0: DP(a)) for parts of sizes na, nb when the processor has kMerged
// clusters in the merged state:
// ln(a + d·kMerged) + lnΓ(na−d) + lnΓ(nb−d) − lnΓ(1−d) − lnΓ(na+nb−d).
func splitLogRatio(na, nb, kMerged int, a, d float64) float64 {
	return math.Log(a+d*float64(kMerged)) + lgamma(float64(na)-d) + lgamma(float64(nb)-d) -
		lgamma(1-d) - lgamma(float64(na+nb)-d)
}

// splitMerge makes one sequentially-allocated merge–split proposal (Dahl
// 2005, "Sequentially-allocated merge-split sampler for conjugate and
// nonconjugate Dirichlet process mixture models"): pick two distinct points
// of this processor uniformly; if they share a cluster, propose to split it,
// allocating the other members one by one in random order with
// probability ∝ n_part·p(x | part); otherwise propose to merge their two
// clusters. The Metropolis–Hastings ratio uses the probability of the
// allocation (for a merge, of the allocation that would recreate the
// current split). The target is the local DP(α/P) or PY(d, θ/P) mixture,
// so the move is exact within the auxiliary-variable model.
func (p *processor) splitMerge(a, d float64) {
	np := len(p.points)
	if np < 2 {
		return
	}
	ia := p.r.IntN(np)
	ib := p.r.IntN(np - 1)
	if ib >= ia {
		ib++
	}
	i, j := int(p.points[ia]), int(p.points[ib])
	ci, cj := p.s.zc[i], p.s.zc[j]
	if ci == cj {
		p.smProp[0]++
		if p.proposeSplit(i, j, ci, a, d) {
			p.smAcc[0]++
			p.memOff = p.memOff[:0]
		}
		return
	}
	p.smProp[1]++
	if p.proposeMerge(i, j, ci, cj, a, d) {
		p.smAcc[1]++
		p.memOff = p.memOff[:0]
	}
}

// allocate runs the sequential allocation of p.perm into parts A and B
// that already hold i and j. With forced == nil it samples each side and
// records it in p.side; otherwise forced(m) says whether m goes to A. It
// returns the log probability of the allocation and the part sizes.
func (p *processor) allocate(sa, sb stats, forced func(int32) bool) (logq float64, na, nb int) {
	na, nb = 1, 1
	p.side = p.side[:0]
	for _, m := range p.perm {
		la := math.Log(float64(na)) + sa.logPred(int(m))
		lb := math.Log(float64(nb)) + sb.logPred(int(m))
		hi, lo := la, lb
		if lo > hi {
			hi, lo = lo, hi
		}
		lse := hi + math.Log1p(math.Exp(lo-hi))
		var toA bool
		if forced == nil {
			toA = p.r.Float64() < math.Exp(la-lse)
		} else {
			toA = forced(m)
		}
		if toA {
			logq += la - lse
			sa.add(int(m))
			na++
		} else {
			logq += lb - lse
			sb.add(int(m))
			nb++
		}
		p.side = append(p.side, toA)
	}
	return logq, na, nb
}

// shufflePerm puts the members of the given lists other than i and j into
// p.perm in uniformly random order.
func (p *processor) shufflePerm(i, j int, lists ...[]int32) {
	p.perm = p.perm[:0]
	for _, l := range lists {
		for _, m := range l {
			if int(m) != i && int(m) != j {
				p.perm = append(p.perm, m)
			}
		}
	}
	p.r.Shuffle(len(p.perm), func(a, b int) { p.perm[a], p.perm[b] = p.perm[b], p.perm[a] })
}

func (p *processor) proposeSplit(i, j int, c *cluster, a, d float64) bool {
	p.shufflePerm(i, j, p.members(c))
	sa, sb := p.scratch[0], p.scratch[1]
	sa.clear()
	sb.clear()
	sa.add(i)
	sb.add(j)
	logq, na, nb := p.allocate(sa, sb, nil)
	logr := splitLogRatio(na, nb, p.k, a, d) + sa.logMarginal() + sb.logMarginal() - c.st.logMarginal()
	if !(math.Log(p.r.Float64()) < logr-logq) {
		return false
	}
	nc := p.newCluster()
	c.st, p.scratch[0] = sa, c.st
	nc.st, p.scratch[1] = sb, nc.st
	c.n, nc.n = na, nb
	c.logw = p.s.lw[na]
	nc.logw = p.s.lw[nb]
	zc := p.s.zc
	zc[j] = nc
	for t, m := range p.perm {
		if !p.side[t] {
			zc[m] = nc
		}
	}
	return true
}

func (p *processor) proposeMerge(i, j int, ci, cj *cluster, a, d float64) bool {
	// The reverse split's allocation probability q is at most 1, so
	// ln r = ln[p(merged)/p(split)] + ln q is bounded by its first term,
	// which needs only the merged statistics (sums of the two clusters',
	// no pass over the points). Drawing the uniform first and rejecting
	// when it exceeds the bound is exact and skips the allocation for the
	// great majority of proposals, which pair unrelated clusters.
	sm := p.scratch[2]
	sm.setMerged(ci.st, cj.st)
	bound := sm.logMarginal() - ci.st.logMarginal() - cj.st.logMarginal() - splitLogRatio(ci.n, cj.n, p.k-1, a, d)
	lu := math.Log(p.r.Float64())
	if !(lu < bound) {
		return false
	}
	mi, mj := p.members(ci), p.members(cj)
	p.shufflePerm(i, j, mi, mj)
	sa, sb := p.scratch[0], p.scratch[1]
	sa.clear()
	sb.clear()
	sa.add(i)
	sb.add(j)
	zc := p.s.zc
	logq, _, _ := p.allocate(sa, sb, func(m int32) bool { return zc[m] == ci })
	if !(lu < bound+logq) {
		return false
	}
	ci.st, p.scratch[2] = sm, ci.st
	ci.n += cj.n
	ci.logw = p.s.lw[ci.n]
	for _, m := range mj {
		zc[m] = ci
	}
	cj.st.clear()
	cj.n = 0
	p.free = append(p.free, cj.slot)
	p.k--
	return true
}
