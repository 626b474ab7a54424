package combine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/kde"
	"github.com/epmc/epmc/rng"
)

// CompareOptions tune Compare. The zero value uses the defaults below.
type CompareOptions struct {
	// EnergyCap is the most draws of each set used by the energy distance
	// (default 2000): a random subsample without replacement, drawn with
	// Seed, keeps its O(n²) cost bounded.
	EnergyCap int
	// MinGridPoints is the least number of grid points for the marginal
	// densities of the MMTV (default 512); the grid is refined further so
	// its spacing is at most a quarter of the smaller bandwidth, up to
	// 16384 points.
	MinGridPoints int
	Seed          uint64
}

// Distances are the distances between draw sets A and B, with B taken as
// the reference. The multivariate figures reduce to the per-parameter ones
// in one dimension.
type Distances struct {
	// MaxMeanErrorSD is max_j |μ_A,j − μ_B,j| / sd_B,j.
	MaxMeanErrorSD float64 `json:"max_mean_error_sd"`
	// MahalanobisMeanError is √((μ_A − μ_B)ᵀ Σ_B⁻¹ (μ_A − μ_B)).
	MahalanobisMeanError float64 `json:"mahalanobis_mean_error"`
	// CovRelError is ‖L⁻¹Σ_A L⁻ᵀ − I‖_F / √d with Σ_B = LLᵀ: the
	// Frobenius norm of the covariance difference in B's whitened
	// coordinates, per unit of ‖I‖_F. It is 0 for equal covariances and
	// |var_A/var_B − 1| in one dimension; it does not depend on the units
	// or any linear reparameterisation.
	CovRelError float64 `json:"cov_rel_error"`
	// KSMax is the largest two-sample Kolmogorov–Smirnov statistic
	// D = sup_x |F_A(x) − F_B(x)| over the marginals. (MCMC draws are
	// autocorrelated, so no p-value is given.)
	KSMax float64 `json:"ks_max"`
	// MMTV is the mean over parameters of the total variation distance
	// ½∫|p_A − p_B| between marginal densities (Trojan et al. 2024's
	// d_IAD, PAI's MMTV). Each marginal is a Gaussian KDE with R's default
	// bandwidth bw.nrd0 (0.9·min(sd, IQR/1.34)·n^{−1/5}), evaluated by
	// binning on one common grid that spans both samples plus four
	// bandwidths on each side, and integrated by the trapezoid rule.
	MMTV float64 `json:"mmtv"`
	// EnergyDistance is √(2E‖X−Y‖ − E‖X−X′‖ − E‖Y−Y′‖) (Székely & Rizzo;
	// V-statistics, the form of scipy.stats.energy_distance in one
	// dimension) on coordinates divided by B's marginal sds, computed on
	// at most EnergyCap draws of each set.
	EnergyDistance float64 `json:"energy_distance"`
	// Params holds the same figures per parameter, in column order.
	Params []ParamDistances `json:"-"`
	NA     int              `json:"n_a"`
	NB     int              `json:"n_b"`
	// EnergyDraws is the number of draws of each set (A, B) the energy
	// distance used.
	EnergyDraws [2]int `json:"energy_draws"`
}

// ParamDistances are the distances for one parameter; the JSON keys are
// those of Distances.
type ParamDistances struct {
	Name                 string  `json:"-"`
	MeanErrorSD          float64 `json:"max_mean_error_sd"`
	MahalanobisMeanError float64 `json:"mahalanobis_mean_error"`
	CovRelError          float64 `json:"cov_rel_error"`
	// VarRatio is var_A/var_B (CovRelError is |VarRatio − 1|).
	VarRatio       float64 `json:"var_ratio"`
	KS             float64 `json:"ks_max"`
	TV             float64 `json:"mmtv"`
	EnergyDistance float64 `json:"energy_distance"`
}

// MarshalJSON writes the figures, then "parameters" (names in column
// order) and "per_parameter", an object keyed by parameter name in column
// order.
func (d *Distances) MarshalJSON() ([]byte, error) {
	type plain Distances
	head, err := json.Marshal((*plain)(d))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(head[:len(head)-1])
	names := make([]string, len(d.Params))
	for i, p := range d.Params {
		names[i] = p.Name
	}
	nb, _ := json.Marshal(names)
	b.WriteString(`,"parameters":`)
	b.Write(nb)
	b.WriteString(`,"per_parameter":{`)
	for i, p := range d.Params {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Name)
		v, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// Compare measures how far the draws a are from the reference draws b
// (rows are draws, columns the parameters named by names). Both need at
// least two draws, all finite, and B a positive-definite covariance.
func Compare(a, b [][]float64, names []string, opts CompareOptions) (*Distances, error) {
	if opts.EnergyCap <= 0 {
		opts.EnergyCap = 2000
	}
	if opts.MinGridPoints <= 0 {
		opts.MinGridPoints = 512
	}
	d := len(names)
	if d == 0 {
		return nil, errors.New("no parameters to compare")
	}
	for _, set := range []struct {
		label string
		x     [][]float64
	}{{"A", a}, {"B", b}} {
		if len(set.x) < 2 {
			return nil, fmt.Errorf("%s has %d draws; need at least 2", set.label, len(set.x))
		}
		for i, row := range set.x {
			if len(row) != d {
				return nil, fmt.Errorf("%s: draw %d has %d values for %d parameters", set.label, i+1, len(row), d)
			}
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%s: draw %d of parameter %s is %g", set.label, i+1, names[j], v)
				}
			}
		}
	}
	muA, covA := meanCov(a, d)
	muB, covB := meanCov(b, d)
	out := &Distances{NA: len(a), NB: len(b), Params: make([]ParamDistances, d)}
	sdB := make([]float64, d)
	for j := range d {
		sdB[j] = math.Sqrt(covB.At(j, j))
		if !(sdB[j] > 0) {
			return nil, fmt.Errorf("parameter %s is constant in B: there is no scale to measure errors in", names[j])
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(covB) {
		return nil, errors.New("B's covariance matrix is singular (collinear parameters): Mahalanobis and covariance errors are undefined")
	}
	// Mean errors.
	diff := make([]float64, d)
	for j := range d {
		diff[j] = muA[j] - muB[j]
		p := &out.Params[j]
		p.Name = names[j]
		p.MeanErrorSD = math.Abs(diff[j]) / sdB[j]
		p.MahalanobisMeanError = p.MeanErrorSD
		p.VarRatio = covA.At(j, j) / covB.At(j, j)
		p.CovRelError = math.Abs(p.VarRatio - 1)
		out.MaxMeanErrorSD = math.Max(out.MaxMeanErrorSD, p.MeanErrorSD)
	}
	var sol mat.VecDense
	if err := ch.SolveVecTo(&sol, mat.NewVecDense(d, diff)); err != nil {
		return nil, err
	}
	out.MahalanobisMeanError = math.Sqrt(math.Max(0, mat.Dot(&sol, mat.NewVecDense(d, diff))))
	// Whitened covariance difference L⁻¹Σ_A L⁻ᵀ − I.
	var l mat.TriDense
	ch.LTo(&l)
	var x mat.Dense
	if err := x.Solve(&l, covA); err != nil {
		return nil, err
	}
	var w mat.Dense
	if err := w.Solve(&l, x.T()); err != nil {
		return nil, err
	}
	fro := 0.0
	for i := range d {
		for j := range d {
			v := w.At(i, j)
			if i == j {
				v--
			}
			fro += v * v
		}
	}
	out.CovRelError = math.Sqrt(fro / float64(d))

	// Marginals: KS and total variation.
	colA, colB := make([]float64, len(a)), make([]float64, len(b))
	for j := range d {
		for i, row := range a {
			colA[i] = row[j]
		}
		for i, row := range b {
			colB[i] = row[j]
		}
		sa, sb := sortedCopy(colA), sortedCopy(colB)
		p := &out.Params[j]
		p.KS = ksStatistic(sa, sb)
		tv, err := marginalTV(sa, sb, opts.MinGridPoints)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", names[j], err)
		}
		p.TV = tv
		out.KSMax = math.Max(out.KSMax, p.KS)
		out.MMTV += tv / float64(d)
	}

	// Energy distance on standardised subsamples.
	// Both subsamples come from the same stream, restarted, so that sets
	// of equal size are subsampled at the same positions (and a set
	// compared with itself is at distance 0).
	subA := subsample(a, opts.EnergyCap, rand.New(rng.New(opts.Seed)))
	subB := subsample(b, opts.EnergyCap, rand.New(rng.New(opts.Seed)))
	out.EnergyDraws = [2]int{len(subA), len(subB)}
	scale := func(rows [][]float64) [][]float64 {
		s := newDrawBlock(len(rows), d)
		for i, row := range rows {
			for j, v := range row {
				s[i][j] = v / sdB[j]
			}
		}
		return s
	}
	za, zb := scale(subA), scale(subB)
	out.EnergyDistance = energyDistance(za, zb)
	ca, cb := make([]float64, len(za)), make([]float64, len(zb))
	for j := range d {
		for i, row := range za {
			ca[i] = row[j]
		}
		for i, row := range zb {
			cb[i] = row[j]
		}
		out.Params[j].EnergyDistance = energy1D(sortedCopy(ca), sortedCopy(cb))
	}
	return out, nil
}

// subsample returns at most n rows chosen at random without replacement
// (all rows, in order, when there are no more than n).
func subsample(x [][]float64, n int, r *rand.Rand) [][]float64 {
	if len(x) <= n {
		return x
	}
	idx := r.Perm(len(x))[:n]
	sort.Ints(idx)
	out := make([][]float64, n)
	for i, k := range idx {
		out[i] = x[k]
	}
	return out
}

// ksStatistic returns sup_x |F_a(x) − F_b(x)| for sorted samples.
func ksStatistic(a, b []float64) float64 {
	na, nb := float64(len(a)), float64(len(b))
	i, j := 0, 0
	d := 0.0
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/na-float64(j)/nb))
	}
	return d
}

// bwNRD0 is R's default bandwidth: 0.9·min(sd, IQR/1.34)·n^{−1/5}, falling
// back as R does when the IQR or the sd is zero.
func bwNRD0(sorted []float64) float64 {
	n := len(sorted)
	mean := 0.0
	for _, v := range sorted {
		mean += v
	}
	mean /= float64(n)
	ss := 0.0
	for _, v := range sorted {
		ss += (v - mean) * (v - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	iqr := quantile7(sorted, 0.75) - quantile7(sorted, 0.25)
	lo := math.Min(sd, iqr/1.34)
	if !(lo > 0) {
		lo = sd
		if !(lo > 0) {
			lo = math.Abs(sorted[0])
			if !(lo > 0) {
				lo = 1
			}
		}
	}
	return 0.9 * lo * math.Pow(float64(n), -0.2)
}

// quantile7 is the type-7 (R default) quantile of sorted data.
func quantile7(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// marginalTV returns ½∫|p̂_a − p̂_b| for two sorted one-dimensional
// samples (see Distances.MMTV).
func marginalTV(a, b []float64, minPoints int) (float64, error) {
	ha, hb := bwNRD0(a), bwNRD0(b)
	hmax, hmin := math.Max(ha, hb), math.Min(ha, hb)
	lo := math.Min(a[0], b[0]) - 4*hmax
	hi := math.Max(a[len(a)-1], b[len(b)-1]) + 4*hmax
	n := int(math.Ceil((hi-lo)/(hmin/4))) + 1
	n = min(max(n, minPoints), 16384)
	ka, err := kde.New(col1(a), nil, kde.Scalar(ha))
	if err != nil {
		return 0, err
	}
	kb, err := kde.New(col1(b), nil, kde.Scalar(hb))
	if err != nil {
		return 0, err
	}
	pa, err := ka.Grid([]float64{lo}, []float64{hi}, []int{n})
	if err != nil {
		return 0, err
	}
	pb, err := kb.Grid([]float64{lo}, []float64{hi}, []int{n})
	if err != nil {
		return 0, err
	}
	step := (hi - lo) / float64(n-1)
	s := 0.0
	for i := range pa {
		v := math.Abs(pa[i] - pb[i])
		if i == 0 || i == n-1 {
			v /= 2
		}
		s += v
	}
	return math.Min(1, math.Max(0, 0.5*s*step)), nil
}

func col1(x []float64) [][]float64 {
	out := make([][]float64, len(x))
	for i := range x {
		out[i] = x[i : i+1 : i+1]
	}
	return out
}

// energyDistance returns the V-statistic energy distance between two
// multivariate samples, O(n²·d).
func energyDistance(a, b [][]float64) float64 {
	mean := func(x, y [][]float64) float64 {
		s := 0.0
		for _, p := range x {
			for _, q := range y {
				d2 := 0.0
				for j, v := range p {
					t := v - q[j]
					d2 += t * t
				}
				s += math.Sqrt(d2)
			}
		}
		return s / float64(len(x)*len(y))
	}
	e := 2*mean(a, b) - mean(a, a) - mean(b, b)
	return math.Sqrt(math.Max(0, e))
}

// energy1D returns the one-dimensional energy distance of sorted samples
// in O(n) after sorting, using E|X−Y| = ∫ … through the identity
// 2E|X−Y| − E|X−X′| − E|Y−Y′| = 2∫(F_a − F_b)², the same V-statistic as
// energyDistance.
func energy1D(a, b []float64) float64 {
	na, nb := float64(len(a)), float64(len(b))
	i, j := 0, 0
	s := 0.0
	prev := math.Min(a[0], b[0])
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case i == len(a):
			x = b[j]
		case j == len(b):
			x = a[i]
		default:
			x = math.Min(a[i], b[j])
		}
		diff := float64(i)/na - float64(j)/nb
		s += diff * diff * (x - prev)
		prev = x
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
	}
	return math.Sqrt(2 * s)
}
