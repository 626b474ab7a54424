package sis

import (
	"math"
	"math/rand/v2"
)

// blockedResampler resamples N particles whose weights are held in blocks
// of a fixed size, doing the O(N) work in parallel over the blocks: the
// parallel filter's resampling step. Block b's weights are scale[b]·w[i]
// for i in the block (w relative to the block's largest weight).
//
// Systematic and stratified resampling split the sorted points among the
// blocks by the blocks' cumulative weights and invert each block's CDF on
// its own. SSP pairs the fractional parts within each block (in parallel)
// and then the blocks' surviving fractional parts in block order; any order
// of pairings is a valid SSP, and this one gives the same law whatever the
// number of workers. Residual and multinomial resampling stay serial over
// weights rescaled in parallel. The output is bit-identical for any number
// of workers because each block draws from its own stream and the serial
// glue runs in block order.
type blockedResampler struct {
	scheme Scheme
	n, bs  int
	nb     int
	// Inputs of one resampling.
	w     []float64
	scale []float64 // per block
	sums  []float64 // per block: Σ w over the block
	total float64
	dst   []int
	pcgs  []*rand.PCG // per block, for SSP
	// Scratch.
	cum    []float64 // cumulative block weights C_b, nb+1 entries
	mlo    []int     // first output slot of block b, nb+1 entries
	cnt    []int32   // SSP offspring counts
	btot   []int     // SSP: offspring of each block before the glue
	surv   []sspCarry
	u      float64 // systematic
	key    uint64  // stratified
	step   float64
	fill   int // SSP: the particle that takes slots left by rounding
	serial Resampler
	phase1 func(b int)
	phase2 func(b int)
}

// sspCarry is a block's open fractional part after pairing within it: the
// particle, the floor of its expected count and the fractional part.
type sspCarry struct {
	i    int
	frac float64
}

func newBlockedResampler(s Scheme, n, bs int) *blockedResampler {
	nb := (n + bs - 1) / bs
	br := &blockedResampler{
		scheme: s, n: n, bs: bs, nb: nb,
		cum: make([]float64, nb+1), mlo: make([]int, nb+1),
		serial: Resampler{Scheme: s},
	}
	switch s {
	case SSP:
		br.cnt = make([]int32, n)
		br.btot = make([]int, nb)
		br.surv = make([]sspCarry, nb)
		br.phase1 = br.sspBlock
		br.phase2 = br.emitBlock
	case Systematic, Stratified:
		br.phase2 = br.walkBlock
	default:
		br.phase1 = br.rescaleBlock
	}
	return br
}

func (br *blockedResampler) blockRange(b int) (lo, hi int) {
	return b * br.bs, min((b+1)*br.bs, br.n)
}

// resample draws len(dst) = N ancestors; block b's weights are scale[b]·w
// with Σ w = sums[b] over the block, and total is Σ_b scale[b]·sums[b].
// run runs a phase over the blocks (in parallel or not); pcgs are the
// blocks' streams and r the serial one.
func (br *blockedResampler) resample(dst []int, w, scale, sums []float64, total float64, pcgs []*rand.PCG, r *rand.Rand, run func(func(int))) {
	br.dst, br.w, br.scale, br.sums, br.total, br.pcgs = dst, w, scale, sums, total, pcgs
	m := len(dst)
	br.step = total / float64(m)
	switch br.scheme {
	case Systematic, Stratified:
		if br.scheme == Systematic {
			br.u = r.Float64()
		} else {
			br.key = r.Uint64()
		}
		// Cumulative block weights and the first point of each block.
		c := 0.0
		for b := range br.nb {
			br.cum[b] = c
			c += sums[b] * scale[b]
		}
		// mlo[b] is the first point at or above C_b: start from the
		// estimate C_b/step and correct it with the points themselves,
		// which are non-decreasing in k.
		br.mlo[0] = 0
		for b := 1; b < br.nb; b++ {
			cb := br.cum[b]
			k := min(max(int(cb/br.step), br.mlo[b-1]), m)
			for k > br.mlo[b-1] && br.point(k-1) >= cb {
				k--
			}
			for k < m && br.point(k) < cb {
				k++
			}
			br.mlo[b] = k
		}
		br.mlo[br.nb] = m
		run(br.phase2)
	case SSP:
		run(br.phase1)
		br.sspGlue(r)
		run(br.phase2)
		// Only rounding can leave slots unfilled.
		for k := br.mlo[br.nb]; k < m; k++ {
			dst[k] = br.fill
		}
	default:
		run(br.phase1)
		br.serial.resample(dst, w, total, r)
	}
	br.w, br.scale, br.sums, br.dst, br.pcgs = nil, nil, nil, nil, nil
}

// point returns the k-th sorted point of the systematic or stratified
// scheme, in [k·step, (k+1)·step).
func (br *blockedResampler) point(k int) float64 {
	if br.scheme == Systematic {
		return (float64(k) + br.u) * br.step
	}
	return (float64(k) + counterUniform(br.key, uint64(k))) * br.step
}

// counterUniform returns the k-th uniform of the SplitMix64 sequence keyed
// by key (Steele, Lea & Flood 2014): random access, so a block can draw the
// uniforms of its own strata.
func counterUniform(key, k uint64) float64 {
	z := key + (k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(int64(z>>11)) * 0x1p-53 // int64: a one-instruction conversion
}

// walkBlock inverts block b's CDF at the points assigned to it.
func (br *blockedResampler) walkBlock(b int) {
	lo, hi := br.blockRange(b)
	k0, k1 := br.mlo[b], br.mlo[b+1]
	if k0 >= k1 {
		return
	}
	w, s := br.w, br.scale[b]
	last := lo + lastPositive(w[lo:hi])
	i := lo
	cum := br.cum[b] + w[lo]*s
	for k := k0; k < k1; k++ {
		u := br.point(k)
		for u >= cum && i < last {
			i++
			cum += w[i] * s
		}
		br.dst[k] = i
	}
}

// rescaleBlock brings block b's weights to the common scale.
func (br *blockedResampler) rescaleBlock(b int) {
	if s := br.scale[b]; s != 1 {
		lo, hi := br.blockRange(b)
		for i := lo; i < hi; i++ {
			br.w[i] *= s
		}
	}
}

// sspBlock pairs the fractional parts of block b's expected counts (see
// ssp) and leaves the block's open part in surv[b]. It is the hot loop of
// the default scheme, so it is written without data-dependent branches
// (each pair's outcome is a coin flip the CPU cannot predict):
//
//   - up = 1 when the pair's sum s = dc+dn ≥ 1 (one of the two is then
//     rounded up), read off the sign bit of s−1;
//   - the current particle survives with the carried part when u·g < h,
//     with (g, h) = (s, dc) if s < 1 and (2−s, 1−dc) otherwise, uniform u:
//     the probabilities dc/s and (1−dn)/(2−s) of ssp, the latter through
//     1−u in place of u;
//   - the other particle of the pair is final, with up extra offspring.
//
// The uniforms come from SplitMix64 keyed by one draw of the block's
// stream (counterUniform), cheaper than a PCG step per pair.
func (br *blockedResampler) sspBlock(b int) {
	lo, hi := br.blockRange(b)
	key := br.pcgs[b].Uint64()
	scale := br.scale[b] * float64(len(br.dst)) / br.total
	cnt := br.cnt[lo:hi]
	w := br.w[lo:hi]
	w = w[:len(cnt)]
	x := w[0] * scale
	f := int32(x) // x ≥ 0, so truncation is the floor
	cnt[0] = f
	tot := int(f)
	cur, dc := 0, x-float64(f)
	for k := 1; k < len(w); k++ {
		x := w[k] * scale
		f := int32(x)
		dn := x - float64(f)
		cnt[k] = f
		s := dc + dn
		lt := float64(int64(math.Float64bits(s-1) >> 63)) // 1 if s < 1
		g := (2 - s) + lt*(2*s-2)
		h := (1 - dc) + lt*(2*dc-1)
		u := counterUniform(key, uint64(k))
		lose := int(1 - math.Float64bits(u*g-h)>>63) // 1 if cur is final
		up := 1 - int(lt)
		fin := k + (cur-k)*lose
		cur += (k - cur) * lose
		cnt[fin] += int32(up)
		tot += int(f) + up
		dc = s - float64(up)
	}
	br.surv[b] = sspCarry{i: lo + cur, frac: dc}
	br.btot[b] = tot
}

// sspGlue pairs the blocks' open parts in block order, settles the last
// one so that the counts sum to N, and sets the blocks' output offsets.
func (br *blockedResampler) sspGlue(r *rand.Rand) {
	cnt := br.cnt
	cur := -1
	dc := 0.0
	for b := range br.nb {
		c := br.surv[b]
		if c.i < 0 || c.frac == 0 {
			continue
		}
		if cur < 0 {
			cur, dc = c.i, c.frac
			continue
		}
		dn := c.frac
		s := dc + dn
		u := r.Float64()
		if s < 1 {
			if u*s < dc {
				dc = s
			} else {
				cur, dc = c.i, s
			}
		} else {
			if u*(2-s) < 1-dn {
				cnt[cur]++
				br.btot[cur/br.bs]++
				cur, dc = c.i, s-1
			} else {
				cnt[c.i]++
				br.btot[c.i/br.bs]++
				dc = s - 1
			}
		}
	}
	// Offsets, and the total before the last open part is settled.
	total := 0
	for b := range br.nb {
		br.mlo[b] = total
		total += br.btot[b]
	}
	m := len(br.dst)
	last := cur
	if last < 0 {
		last = br.lastPositiveAll()
	}
	if d := m - total; d != 0 && last >= 0 {
		// d is 1 when the open part rounds up and 0 otherwise, up to
		// rounding; never let a count go negative.
		d = max(d, -int(cnt[last]))
		cnt[last] += int32(d)
		for b := (last/br.bs + 1); b < br.nb; b++ {
			br.mlo[b] += d
		}
		total += d
	}
	br.mlo[br.nb] = min(total, m)
	br.fill = max(last, 0)
}

func (br *blockedResampler) lastPositiveAll() int {
	for i := br.n - 1; i >= 0; i-- {
		if br.w[i] > 0 {
			return i
		}
	}
	return -1
}

// emitBlock writes block b's ancestors from its counts. While four slots
// of the block's range remain it writes four copies and advances by the
// count (0 to 4 mostly), so the loop has no branch on the count; slots
// written beyond the count are overwritten by the next particles, and
// never leave the block's range.
func (br *blockedResampler) emitBlock(b int) {
	lo, hi := br.blockRange(b)
	k, end := br.mlo[b], min(br.mlo[b+1], len(br.dst))
	if k >= end {
		return
	}
	dst := br.dst[:end]
	cnt := br.cnt[:hi]
	i := lo
	for ; i < hi && k+4 <= end; i++ {
		c := int(cnt[i])
		d := dst[k : k+4 : k+4]
		d[0], d[1], d[2], d[3] = i, i, i, i
		for j := 4; j < c && k+j < end; j++ {
			dst[k+j] = i
		}
		k += c
	}
	for ; i < hi; i++ {
		for c := cnt[i]; c > 0 && k < end; c-- {
			dst[k] = i
			k++
		}
	}
}
