package kde

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/mat"
)

// Axis returns n evenly spaced points from lo to hi inclusive, the grid
// coordinates used by Grid.
func Axis(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = lo
		return out
	}
	step := (hi - lo) / float64(n-1)
	for i := range out {
		out[i] = lo + float64(i)*step
	}
	out[n-1] = hi
	return out
}

// gridCut is how many kernel standard deviations the binned convolution
// reaches: the Gaussian beyond 5 sd holds 6e-7 of the mass, below plotting
// resolution.
const gridCut = 5

// maxGridCells bounds the FFT work of Grid; beyond it Grid evaluates every
// grid point exactly instead.
const maxGridCells = 1 << 22

// Grid returns p̂ on the regular grid with n[a] points from lo[a] to hi[a]
// on each axis a (see Axis), for a one- or two-dimensional KDE. Values are
// row-major: in two dimensions the density at (Axis(lo[0],hi[0],n[0])[i],
// Axis(lo[1],hi[1],n[1])[j]) is at index i·n[1] + j.
//
// The data are linearly binned onto the grid extended by five kernel
// standard deviations on each side and convolved with the kernel by FFT
// (Wand 1994, "Fast computation of multivariate kernel estimators", JCGS
// 3:433–445; the method of R's stats::density and ks::kde with
// binned = TRUE), O(n + G log G). The error is O(δ²/h²) in the grid
// spacing δ, small once δ is below a quarter of the kernel's sd; points
// more than five kernel sds outside the window are ignored. When the grid
// is so fine relative to the bandwidth that the FFT would exceed 2²²
// cells, every grid point is evaluated exactly instead.
func (k *KDE) Grid(lo, hi []float64, n []int) ([]float64, error) {
	d := k.dim
	if d > 2 {
		return nil, fmt.Errorf("kde: Grid handles one or two dimensions, not %d", d)
	}
	if len(lo) != d || len(hi) != d || len(n) != d {
		return nil, fmt.Errorf("kde: Grid needs %d bounds and sizes", d)
	}
	for a := range d {
		if n[a] < 2 {
			return nil, errors.New("kde: Grid needs at least 2 points per axis")
		}
		if !(lo[a] < hi[a]) || math.IsInf(lo[a], 0) || math.IsInf(hi[a], 0) {
			return nil, fmt.Errorf("kde: Grid axis %d: bounds [%g, %g] are not an interval", a+1, lo[a], hi[a])
		}
	}
	// Pad to two axes; a one-dimensional problem has a second axis of one
	// point and no kernel extent.
	var (
		nn    = [2]int{n[0], 1}
		lo2   = [2]float64{lo[0], 0}
		delta [2]float64
		ext   [2]int // cells added on each side
		size  [2]int // extended grid
		fft   [2]int // FFT length
	)
	if d == 2 {
		nn[1], lo2[1] = n[1], lo[1]
	}
	sd := k.bw.SD(d)
	cells := 1
	for a := range d {
		delta[a] = (hi[a] - lo[a]) / float64(nn[a]-1)
		e := math.Ceil(gridCut * sd[a] / delta[a])
		if e > maxGridCells {
			return k.exactGrid(lo, hi, n)
		}
		ext[a] = int(e)
		size[a] = nn[a] + 2*ext[a]
		fft[a] = nextPow2(size[a])
		cells *= fft[a]
		if cells > maxGridCells {
			return k.exactGrid(lo, hi, n)
		}
	}
	size[1] = max(size[1], 1)
	fft[1] = max(fft[1], 1)

	// Linear binning: each point's weight is shared between the grid
	// nodes around it in proportion to proximity.
	bins := make([]complex128, fft[0]*fft[1])
	for i := 0; i < k.n; i++ {
		wt := 1 / float64(k.n)
		if k.wn != nil {
			wt = k.wn[i]
		}
		var idx [2]int
		var frac [2]float64
		inside := true
		for a := range d {
			u := (k.x[i*d+a]-lo2[a])/delta[a] + float64(ext[a])
			if u < 0 || u > float64(size[a]-1) {
				inside = false
				break
			}
			f := math.Floor(u)
			idx[a], frac[a] = int(f), u-f
			if idx[a] == size[a]-1 { // exactly on the last node
				idx[a], frac[a] = size[a]-2, 1
			}
		}
		if !inside {
			continue
		}
		if d == 1 {
			bins[idx[0]] += complex(wt*(1-frac[0]), 0)
			bins[idx[0]+1] += complex(wt*frac[0], 0)
			continue
		}
		r0, r1 := idx[0]*fft[1], (idx[0]+1)*fft[1]
		c0, c1 := idx[1], idx[1]+1
		bins[r0+c0] += complex(wt*(1-frac[0])*(1-frac[1]), 0)
		bins[r0+c1] += complex(wt*(1-frac[0])*frac[1], 0)
		bins[r1+c0] += complex(wt*frac[0]*(1-frac[1]), 0)
		bins[r1+c1] += complex(wt*frac[0]*frac[1], 0)
	}

	// The kernel at grid offsets, wrapped around for circular convolution;
	// the FFT lengths exceed the extended grid, so nothing aliases into
	// the window.
	kern := make([]complex128, fft[0]*fft[1])
	prec, logNorm := k.kernelPrecision()
	for a := -ext[0]; a <= ext[0]; a++ {
		ia := (a + fft[0]) % fft[0]
		u0 := float64(a) * delta[0]
		for b := -ext[1]; b <= ext[1]; b++ {
			ib := (b + fft[1]) % fft[1]
			u1 := float64(b) * delta[1]
			q := prec[0]*u0*u0 + 2*prec[1]*u0*u1 + prec[2]*u1*u1
			kern[ia*fft[1]+ib] = complex(math.Exp(logNorm-0.5*q), 0)
		}
	}
	fft2(bins, fft, false)
	fft2(kern, fft, false)
	for i := range bins {
		bins[i] *= kern[i]
	}
	fft2(bins, fft, true)
	scale := 1 / float64(fft[0]*fft[1])
	out := make([]float64, nn[0]*nn[1])
	for i := range nn[0] {
		for j := range nn[1] {
			v := real(bins[(i+ext[0])*fft[1]+j+ext[1]]) * scale
			if v < 0 { // FFT rounding around 1e-17
				v = 0
			}
			out[i*nn[1]+j] = v
		}
	}
	return out, nil
}

// kernelPrecision returns H⁻¹ as (P11, P12, P22) (P12 = P22 = 0 in one
// dimension) and the log normalising constant of N(0, H).
func (k *KDE) kernelPrecision() ([3]float64, float64) {
	d := k.dim
	h := k.bw.Dense(d)
	var inv mat.SymDense
	var ch mat.Cholesky
	ch.Factorize(h) // checked in New
	ch.InverseTo(&inv)
	p := [3]float64{inv.At(0, 0), 0, 0}
	if d == 2 {
		p[1], p[2] = inv.At(0, 1), inv.At(1, 1)
	}
	return p, -0.5*float64(d)*math.Log(2*math.Pi) - 0.5*ch.LogDet()
}

// exactGrid evaluates every grid point with LogDensity.
func (k *KDE) exactGrid(lo, hi []float64, n []int) ([]float64, error) {
	axes := make([][]float64, k.dim)
	for a := range axes {
		axes[a] = Axis(lo[a], hi[a], n[a])
	}
	var pts [][]float64
	if k.dim == 1 {
		for _, x := range axes[0] {
			pts = append(pts, []float64{x})
		}
	} else {
		for _, x := range axes[0] {
			for _, y := range axes[1] {
				pts = append(pts, []float64{x, y})
			}
		}
	}
	out, err := k.LogDensities(nil, pts)
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = math.Exp(v)
	}
	return out, nil
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// fft2 transforms the row-major n[0]×n[1] array in place along both axes
// (forward, or backward without the 1/N scaling).
func fft2(a []complex128, n [2]int, inverse bool) {
	if n[1] > 1 {
		t := fourier.NewCmplxFFT(n[1])
		for i := range n[0] {
			row := a[i*n[1] : (i+1)*n[1]]
			if inverse {
				t.Sequence(row, row)
			} else {
				t.Coefficients(row, row)
			}
		}
	}
	if n[0] > 1 {
		t := fourier.NewCmplxFFT(n[0])
		col := make([]complex128, n[0])
		for j := range n[1] {
			for i := range n[0] {
				col[i] = a[i*n[1]+j]
			}
			if inverse {
				t.Sequence(col, col)
			} else {
				t.Coefficients(col, col)
			}
			for i := range n[0] {
				a[i*n[1]+j] = col[i]
			}
		}
	}
}
