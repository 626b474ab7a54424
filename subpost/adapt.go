package subpost

import (
	"fmt"
	"math"
)

// DualAveraging adapts the log step size by Nesterov dual averaging
// (Hoffman & Gelman 2014, §3.2.1), exactly as Stan's
// stepsize_adaptation.hpp. The zero value is not usable: start from
// NewDualAveraging.
type DualAveraging struct {
	// Delta is the target mean acceptance statistic (0.8), Gamma the
	// adaptation regularisation (0.05), Kappa the shrinkage exponent of
	// the averaging weights (0.75), T0 the iteration offset (10) and Mu
	// the log step size the iterates are shrunk towards (log 10ε0).
	Delta, Gamma, Kappa, T0, Mu float64

	counter, sBar, xBar float64
}

// NewDualAveraging returns Stan's dual averaging with target delta and
// μ = log(10·stepSize), the value Stan's services set before warmup.
func NewDualAveraging(delta, stepSize float64) *DualAveraging {
	return &DualAveraging{Delta: delta, Gamma: 0.05, Kappa: 0.75, T0: 10, Mu: math.Log(10 * stepSize)}
}

// Restart forgets the history (Stan's restart()).
func (d *DualAveraging) Restart() { d.counter, d.sBar, d.xBar = 0, 0, 0 }

// Learn updates the averages with the acceptance statistic of the last
// transition and returns the step size for the next one, exp(x_t):
//
//	η = 1/(t + t0),  s̄ ← (1−η)s̄ + η(δ − min(a, 1)),
//	x = μ − s̄√t/γ,   w = t^{−κ},  x̄ ← (1−w)x̄ + w·x.
func (d *DualAveraging) Learn(acceptStat float64) float64 {
	d.counter++
	a := math.Min(acceptStat, 1)
	eta := 1 / (d.counter + d.T0)
	d.sBar = (1-eta)*d.sBar + eta*(d.Delta-a)
	x := d.Mu - d.sBar*math.Sqrt(d.counter)/d.Gamma
	w := math.Pow(d.counter, -d.Kappa)
	d.xBar = (1-w)*d.xBar + w*x
	return math.Exp(x)
}

// Final returns the step size to sample with after warmup, exp(x̄). With
// no update since the last restart it returns current unchanged
// (stan-dev/stan#3346; older Stan returned exp(0) = 1 when the term
// buffer was empty).
func (d *DualAveraging) Final(current float64) float64 {
	if d.counter == 0 {
		return current
	}
	return math.Exp(d.xBar)
}

// Stan's default windowed-adaptation settings (CmdStan's adapt
// init_buffer, term_buffer and window).
const (
	DefaultInitBuffer = 75
	DefaultTermBuffer = 50
	DefaultBaseWindow = 25
)

// windows is Stan's windowed_adaptation.hpp: the schedule on which the
// metric is estimated during warmup — a fast initial buffer, slow windows
// that double in size, the last one stretched to meet a fast terminal
// buffer. The metric is re-estimated from each slow window's draws alone.
type windows struct {
	numWarmup, initBuffer, termBuffer, baseWindow int
	counter, windowSize, nextWindow               int
}

// newWindows sets up the schedule for numWarmup iterations with the given
// buffers. As in Stan, fewer than 20 warmup iterations give no metric
// adaptation, and when the three stages do not fit they are reduced to
// 15%/75%/10% of the warmup.
//
// One deliberate difference: Stan's set_window_params forgets to restart
// the schedule in the 15/75/10 case, so the first window end is never
// reached and the metric is never adapted for warmups shorter than 150
// iterations at the default settings (seen with rstan 2.21: 100 warmup
// iterations end with a unit inverse metric; stan-dev/stan#3380). epmc
// restarts, giving the schedule the Stan manual documents (100 warmup:
// one window 15–89).
func newWindows(numWarmup, initBuffer, termBuffer, baseWindow int) *windows {
	w := &windows{}
	switch {
	case numWarmup < 20:
		// No metric adaptation: the window never opens nor closes.
		w.nextWindow = -1
		return w
	case initBuffer+baseWindow+termBuffer > numWarmup:
		w.numWarmup = numWarmup
		w.initBuffer = int(0.15 * float64(numWarmup))
		w.termBuffer = int(0.10 * float64(numWarmup))
		w.baseWindow = numWarmup - (w.initBuffer + w.termBuffer)
	default:
		w.numWarmup, w.initBuffer, w.termBuffer, w.baseWindow = numWarmup, initBuffer, termBuffer, baseWindow
	}
	w.restart()
	return w
}

func (w *windows) restart() {
	w.counter = 0
	w.windowSize = w.baseWindow
	w.nextWindow = w.initBuffer + w.windowSize - 1
}

// inWindow reports whether the current warmup iteration's draw feeds the
// metric estimate (Stan's adaptation_window).
func (w *windows) inWindow() bool {
	return w.counter >= w.initBuffer && w.counter < w.numWarmup-w.termBuffer && w.counter != w.numWarmup
}

// endOfWindow reports whether the current iteration closes a slow window.
func (w *windows) endOfWindow() bool {
	return w.counter == w.nextWindow && w.counter != w.numWarmup
}

// computeNextWindow doubles the window and, if the window after it would
// overrun the terminal buffer, stretches this one to the buffer.
func (w *windows) computeNextWindow() {
	last := w.numWarmup - w.termBuffer - 1
	if w.nextWindow == last {
		return
	}
	w.windowSize *= 2
	w.nextWindow = w.counter + w.windowSize
	if w.nextWindow == last {
		return
	}
	if w.nextWindow+2*w.windowSize >= w.numWarmup-w.termBuffer {
		w.nextWindow = last
	}
}

// window is a slow adaptation window, first and last warmup iteration
// (0-based, inclusive).
type window struct{ first, last int }

// schedule runs the window logic over a whole warmup and returns the slow
// windows and the first iteration of the terminal buffer.
func schedule(numWarmup int) (slow []window, termStart int) {
	w := newWindows(numWarmup, DefaultInitBuffer, DefaultTermBuffer, DefaultBaseWindow)
	first := -1
	termStart = numWarmup
	for range numWarmup {
		if w.inWindow() && first < 0 {
			first = w.counter
		}
		if w.endOfWindow() {
			w.computeNextWindow()
			slow = append(slow, window{first, w.counter})
			first = -1
			termStart = w.counter + 1
		}
		w.counter++
	}
	return slow, termStart
}

// welford accumulates the mean and the (co)variance of draws (Welford's
// algorithm, as stan::math::welford_var_estimator and
// welford_covar_estimator).
type welford struct {
	dense bool
	n     int
	mean  []float64
	m2    []float64 // d (diag) or d×d row-major (dense)
	delta []float64
}

func newWelford(dim int, dense bool) *welford {
	w := &welford{dense: dense, mean: make([]float64, dim), delta: make([]float64, dim)}
	if dense {
		w.m2 = make([]float64, dim*dim)
	} else {
		w.m2 = make([]float64, dim)
	}
	return w
}

func (w *welford) restart() {
	w.n = 0
	clear(w.mean)
	clear(w.m2)
}

func (w *welford) add(q []float64) {
	w.n++
	inv := 1 / float64(w.n)
	for i, v := range q {
		w.delta[i] = v - w.mean[i]
		w.mean[i] += w.delta[i] * inv
	}
	if !w.dense {
		for i, v := range q {
			w.m2[i] += (v - w.mean[i]) * w.delta[i]
		}
		return
	}
	d := len(q)
	for i, v := range q {
		a := v - w.mean[i]
		row := w.m2[i*d : (i+1)*d]
		for j, dj := range w.delta {
			row[j] += a * dj
		}
	}
}

// regularised returns Stan's regularised metric estimate from the window's
// n draws: (n/(n+5))·var + 1e-3·(5/(n+5)) on the diagonal (and
// (n/(n+5))·Cov off it), with the n−1 sample (co)variance. With fewer than
// two draws Stan's estimator leaves the variance at zero.
func (w *welford) regularised() ([]float64, error) {
	n := float64(w.n)
	out := make([]float64, len(w.m2))
	if w.n > 1 {
		for i, v := range w.m2 {
			out[i] = v / (n - 1)
		}
	}
	scale, shrink := n/(n+5), 1e-3*(5/(n+5))
	d := len(w.mean)
	for i := range out {
		out[i] *= scale
	}
	for i := range d {
		if w.dense {
			out[i*d+i] += shrink
		} else {
			out[i] += shrink
		}
	}
	for _, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("numerical overflow in metric adaptation: the sampler met extreme values on the unconstrained scale; the posterior may be improper or too wide")
		}
	}
	return out, nil
}
