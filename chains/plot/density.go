package plot

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/kde"
)

// Grid sizes of density estimates: fine enough that the binned-FFT error
// of kde.Grid is invisible at any figure size the package draws.
const (
	grid1D = 512
	grid2D = 96 // at most, per axis; see gridPoints
)

// gridPoints returns the number of grid points, at most grid2D and at
// least 48, for an axis of length span with kernel standard deviation sd.
// kde.Grid extends the grid by five kernel sds on each side and pads it to
// a power of two for the FFT; keeping the padded length within 128 makes
// the FFT four times cheaper than the next size up, and costs only a few
// grid points (the contours stay smooth: the spacing stays well below the
// kernel's sd).
func gridPoints(span, sd float64) int {
	const fftLen, cut = 128, 5
	for n := grid2D; n >= 48; n-- {
		ext := math.Ceil(cut * sd * float64(n-1) / span)
		if float64(n)+2*ext <= fftLen {
			return n
		}
	}
	return 48
}

// sample is one parameter's pooled post-warmup draws from one set, with
// normalised importance weights when the set has a .log_weight column.
type sample struct {
	x []float64
	w []float64 // nil: equal weights
}

// sampleOf returns the draws of parameter name in set s.
func sampleOf(s Set, name string) sample {
	d := s.Draws
	out := sample{x: d.Pooled(d.Index(name))}
	if j := d.Index(chains.LogWeight); j >= 0 {
		out.w = weightsOf(d.Pooled(j))
	}
	return out
}

// weightsOf turns log weights into weights that sum to one.
func weightsOf(lw []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range lw {
		m = math.Max(m, v)
	}
	w := make([]float64, len(lw))
	if math.IsInf(m, -1) || math.IsNaN(m) {
		for i := range w {
			w[i] = 1 / float64(len(w))
		}
		return w
	}
	sum := 0.0
	for i, v := range lw {
		w[i] = math.Exp(v - m)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// sorted returns the draws in increasing order with their weights.
func (s sample) sorted() (xs, ws []float64) {
	if s.w == nil {
		xs = slices.Clone(s.x)
		sort.Float64s(xs)
		return xs, nil
	}
	idx := make([]int, len(s.x))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s.x[idx[a]] < s.x[idx[b]] })
	xs = make([]float64, len(idx))
	ws = make([]float64, len(idx))
	for i, j := range idx {
		xs[i], ws[i] = s.x[j], s.w[j]
	}
	return xs, ws
}

// quantiles returns the p-quantiles of the sorted draws xs (weights ws, nil
// for equal weights): R's type 7 when unweighted, the inverse of the
// weighted empirical distribution function otherwise.
func quantiles(xs, ws []float64, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	n := len(xs)
	for k, p := range ps {
		if ws == nil {
			h := float64(n-1) * p
			i := int(math.Floor(h))
			if i >= n-1 {
				out[k] = xs[n-1]
				continue
			}
			out[k] = xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
			continue
		}
		cum := 0.0
		out[k] = xs[n-1]
		for i, w := range ws {
			cum += w
			if cum >= p*(1-1e-12) {
				out[k] = xs[i]
				break
			}
		}
	}
	return out
}

// moments returns the weighted mean and standard deviation (n − 1
// denominator when unweighted) and Kish's effective sample size.
func (s sample) moments() (mean, sd, neff float64) {
	n := float64(len(s.x))
	if s.w == nil {
		for _, v := range s.x {
			mean += v
		}
		mean /= n
		ss := 0.0
		for _, v := range s.x {
			ss += (v - mean) * (v - mean)
		}
		if n > 1 {
			sd = math.Sqrt(ss / (n - 1))
		}
		return mean, sd, n
	}
	sw2 := 0.0
	for i, v := range s.x {
		mean += s.w[i] * v
		sw2 += s.w[i] * s.w[i]
	}
	ss := 0.0
	for i, v := range s.x {
		ss += s.w[i] * (v - mean) * (v - mean)
	}
	neff = 1 / sw2
	if neff > 1 {
		ss *= neff / (neff - 1)
	}
	return mean, math.Sqrt(ss), neff
}

// bounds is the support of a parameter, from its transform.
type bounds struct{ lo, hi float64 }

var unbounded = bounds{math.Inf(-1), math.Inf(1)}

// boundsOf returns the support of parameter name as the metadata of the
// sets record it (the first set that knows the parameter decides).
func boundsOf(sets []Set, name string) bounds {
	for _, s := range sets {
		for _, p := range s.Draws.Meta.Params {
			for _, sn := range p.ScalarNames() {
				if sn != name {
					continue
				}
				t := p.Transform
				switch t.Kind {
				case chains.Lower:
					return bounds{t.Lower, math.Inf(1)}
				case chains.Upper:
					return bounds{math.Inf(-1), t.Upper}
				case chains.Interval:
					return bounds{t.Lower, t.Upper}
				case chains.Simplex:
					return bounds{0, 1}
				}
				return unbounded
			}
		}
	}
	return unbounded
}

// summary holds what the figures need of one parameter in one set.
type summary struct {
	sample
	xs, ws     []float64 // sorted draws and their weights
	mean, sd   float64
	neff       float64
	lo, hi     float64 // the range the set's density should show
	q05, q25   float64
	q50        float64
	q75, q95   float64
	bandwidth  float64 // 1-D kernel sd; 0 for constant draws
	constValue bool
}

// summarise sorts the draws once and computes the quantiles, the moments,
// the display range and the 1-D bandwidth.
func summarise(s sample, pad float64) summary {
	var m summary
	m.sample = s
	m.xs, m.ws = s.sorted()
	m.mean, m.sd, m.neff = s.moments()
	q := quantiles(m.xs, m.ws, 0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995)
	m.q05, m.q25, m.q50, m.q75, m.q95 = q[1], q[2], q[3], q[4], q[5]
	// The range shown: the central 99 % widened by the fraction pad of its
	// width on each side. Quantiles, not extremes, so one stray draw
	// cannot squash the panel.
	w := pad * (q[6] - q[0])
	m.lo, m.hi = q[0]-w, q[6]+w
	m.bandwidth = nrd0(m.sd, m.q75-m.q25, m.neff)
	m.constValue = m.xs[0] == m.xs[len(m.xs)-1]
	if m.constValue {
		m.bandwidth = 0
	}
	return m
}

// nrd0 is R's default bandwidth for density() (Silverman 1986, eq. 3.31):
// 0.9·min(sd, IQR/1.34)·n^(−1/5), robust to heavy tails.
func nrd0(sd, iqr, n float64) float64 {
	s := sd
	if r := iqr / 1.34; r > 0 && r < s {
		s = r
	}
	if s <= 0 {
		s = math.Abs(sd)
	}
	return 0.9 * s * math.Pow(n, -0.2)
}

// axisRange returns the x range covering every set's display range,
// clipped to the parameter's support, never empty.
func axisRange(ms []summary, b bounds) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, m := range ms {
		lo = math.Min(lo, m.lo)
		hi = math.Max(hi, m.hi)
	}
	lo = math.Max(lo, b.lo)
	hi = math.Min(hi, b.hi)
	if !(hi > lo) {
		c := (lo + hi) / 2
		if math.IsNaN(c) || math.IsInf(c, 0) {
			c = ms[0].q50
		}
		d := math.Max(math.Abs(c)*0.05, 0.5)
		lo, hi = c-d, c+d
		lo = math.Max(lo, b.lo)
		hi = math.Min(hi, b.hi)
	}
	return lo, hi
}

// density1D returns the kernel density estimate of m on n evenly spaced
// points from lo to hi (kde.Axis), with the reflection method at the
// bounds of the support (Silverman 1986, §2.10): draws near a bound are
// mirrored across it, so the estimate does not leak mass beyond it and
// fall off spuriously at it. It returns nil for constant draws.
func density1D(m summary, lo, hi float64, n int, b bounds) ([]float64, error) {
	if m.constValue || m.bandwidth <= 0 {
		return nil, nil
	}
	h := m.bandwidth
	pts := make([][]float64, 0, len(m.x))
	var ws []float64
	if m.w != nil {
		ws = make([]float64, 0, len(m.x))
	}
	add := func(v float64, i int) {
		pts = append(pts, []float64{v})
		if ws != nil {
			ws = append(ws, m.w[i])
		}
	}
	for i, v := range m.x {
		add(v, i)
	}
	const reach = 6 // kernel sds beyond which a mirrored draw adds nothing
	for i, v := range m.x {
		if v-b.lo < reach*h {
			add(2*b.lo-v, i)
		}
		if b.hi-v < reach*h {
			add(2*b.hi-v, i)
		}
	}
	k, err := kde.New(pts, ws, kde.Scalar(h))
	if err != nil {
		return nil, err
	}
	ys, err := k.Grid([]float64{lo}, []float64{hi}, []int{n})
	if err != nil {
		return nil, err
	}
	// kde normalised the weights over the mirrored draws too; scale back so
	// the original draws carry unit mass.
	scale := 1.0
	if len(pts) > len(m.x) {
		if m.w == nil {
			scale = float64(len(pts)) / float64(len(m.x))
		} else {
			tot := 0.0
			for _, w := range ws {
				tot += w
			}
			orig := 0.0
			for _, w := range m.w {
				orig += w
			}
			scale = tot / orig
		}
	}
	xs := kde.Axis(lo, hi, n)
	for i := range ys {
		ys[i] *= scale
		if xs[i] < b.lo || xs[i] > b.hi {
			ys[i] = 0
		}
	}
	return ys, nil
}

// hpdFractions are the probability masses inside the 2-D contours: the
// masses within 1, 2 and 3 "sigma" of a bivariate normal, 1 − exp(−s²/2)
// for s = 1, 2, 3 (as corner.py draws them).
var hpdFractions = []float64{1 - math.Exp(-0.5), 1 - math.Exp(-2), 1 - math.Exp(-4.5)}

// density2D is a 2-D density on a regular grid for contouring.
type density2D struct {
	xs, ys []float64        // grid axes
	z      []float64        // z[i*len(ys)+j] is the density at (xs[i], ys[j])
	levels []float64        // density levels of the HPD regions, increasing
	lines  [][][][2]float64 // the contour lines at each level
}

// newDensity2D estimates the joint density of (x, y) with a full-matrix
// Gaussian kernel (Scott's rule on the sample covariance, so the kernel
// follows the correlation) on a grid over [xlo, xhi] × [ylo, yhi], and finds
// the density levels of the highest-density regions holding the masses
// hpdFractions. It returns nil when either coordinate is constant.
func newDensity2D(x, y summary, xlo, xhi, ylo, yhi float64) (*density2D, error) {
	if x.constValue || y.constValue {
		return nil, nil
	}
	pts := make([][]float64, len(x.x))
	flat := make([]float64, 2*len(x.x))
	for i := range pts {
		flat[2*i], flat[2*i+1] = x.x[i], y.x[i]
		pts[i] = flat[2*i : 2*i+2 : 2*i+2]
	}
	bw, err := kde.Select(pts, x.w, kde.Full, kde.Scott)
	if err != nil {
		// A singular covariance (one coordinate a function of the other):
		// fall back to a diagonal kernel.
		bw, err = kde.Select(pts, x.w, kde.Diagonal, kde.Scott)
		if err != nil {
			return nil, nil
		}
	}
	k, err := kde.New(pts, x.w, bw)
	if err != nil {
		return nil, fmt.Errorf("2-D density: %w", err)
	}
	sd := bw.SD(2)
	nx, ny := gridPoints(xhi-xlo, sd[0]), gridPoints(yhi-ylo, sd[1])
	z, err := k.Grid([]float64{xlo, ylo}, []float64{xhi, yhi}, []int{nx, ny})
	if err != nil {
		return nil, fmt.Errorf("2-D density: %w", err)
	}
	g := &density2D{xs: kde.Axis(xlo, xhi, nx), ys: kde.Axis(ylo, yhi, ny), z: z}
	g.levels = hpdLevels(z, hpdFractions)
	for _, t := range g.levels {
		g.lines = append(g.lines, isolines(g, t))
	}
	return g, nil
}

// hpdLevels returns, for each mass fraction f (in increasing order), the
// density level t such that the grid cells with density ≥ t hold a
// fraction f of the mass on the grid; the levels come out decreasing in f
// and are returned in increasing order of density.
func hpdLevels(z []float64, fracs []float64) []float64 {
	s := slices.Clone(z)
	slices.Sort(s)
	slices.Reverse(s)
	total := 0.0
	for _, v := range s {
		total += v
	}
	levels := make([]float64, len(fracs))
	if total <= 0 {
		return nil
	}
	cum, i := 0.0, 0
	for k, f := range fracs {
		for i < len(s) && cum+s[i] < f*total {
			cum += s[i]
			i++
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		levels[k] = s[i]
	}
	slices.Reverse(levels)
	// Levels must be distinct for contouring; drop ties (tiny grids).
	return slices.Compact(levels)
}
