package chains

import (
	"errors"
	"fmt"
	"strings"
)

// Sampler statistic names written by Stan and by epmc's samplers.
const (
	LP          = "lp__"
	AcceptStat  = "accept_stat__"
	StepSize    = "stepsize__"
	TreeDepth   = "treedepth__"
	NumLeapfrog = "n_leapfrog__"
	Divergent   = "divergent__"
	Energy      = "energy__"
)

// LogWeight is the name of the column of log importance weights, as in R
// posterior.
const LogWeight = ".log_weight"

// Index columns of a draws file, as in R posterior's draws_df.
const (
	ColChain     = ".chain"
	ColIteration = ".iteration"
	ColDraw      = ".draw"
)

// Draws holds the draws of one or more Markov chains of equal length.
//
// Values[c][v] is the series of variable v in chain c. When Warmup > 0 the
// first Warmup values of every series are saved warmup draws; Series and the
// diagnostics use only the draws after them.
type Draws struct {
	// Names names the scalar variables: parameters, sampler statistics
	// (names ending in "__") and optionally LogWeight.
	Names  []string
	Values [][][]float64
	Warmup int
	Meta   Meta
}

// VarKind classifies a variable by its name.
type VarKind int

const (
	Parameter VarKind = iota
	SamplerStat
	Weight
)

// KindOf tells whether name is a parameter, a sampler statistic (Stan's
// convention: a trailing double underscore) or the log-weight column.
func KindOf(name string) VarKind {
	switch {
	case name == LogWeight:
		return Weight
	case strings.HasSuffix(name, "__"):
		return SamplerStat
	}
	return Parameter
}

// NumChains returns the number of chains.
func (d *Draws) NumChains() int { return len(d.Values) }

// NumIter returns the number of post-warmup iterations per chain.
func (d *Draws) NumIter() int {
	if len(d.Values) == 0 || len(d.Values[0]) == 0 {
		return 0
	}
	return len(d.Values[0][0]) - d.Warmup
}

// NumDraws returns the number of post-warmup draws over all chains.
func (d *Draws) NumDraws() int { return d.NumChains() * d.NumIter() }

// Index returns the column of the named variable, or -1.
func (d *Draws) Index(name string) int {
	for i, n := range d.Names {
		if n == name {
			return i
		}
	}
	return -1
}

// Series returns the post-warmup draws of variable v, one slice per chain.
// The slices share memory with d.
func (d *Draws) Series(v int) [][]float64 {
	out := make([][]float64, len(d.Values))
	for c, ch := range d.Values {
		out[c] = ch[v][d.Warmup:]
	}
	return out
}

// WarmupSeries returns the saved warmup draws of variable v, one slice per
// chain (empty when no warmup was saved).
func (d *Draws) WarmupSeries(v int) [][]float64 {
	out := make([][]float64, len(d.Values))
	for c, ch := range d.Values {
		out[c] = ch[v][:d.Warmup]
	}
	return out
}

// Pooled returns the post-warmup draws of variable v from all chains, chain
// after chain, in a new slice.
func (d *Draws) Pooled(v int) []float64 {
	out := make([]float64, 0, d.NumDraws())
	for _, s := range d.Series(v) {
		out = append(out, s...)
	}
	return out
}

// ParamIndices returns the columns of the parameters (not sampler statistics
// or weights), in column order.
func (d *Draws) ParamIndices() []int {
	var idx []int
	for i, n := range d.Names {
		if KindOf(n) == Parameter {
			idx = append(idx, i)
		}
	}
	return idx
}

// ParamNames returns the names of the parameters in column order.
func (d *Draws) ParamNames() []string {
	var names []string
	for _, i := range d.ParamIndices() {
		names = append(names, d.Names[i])
	}
	return names
}

// ErrUnequalChains is returned (wrapped) when chains differ in length.
// Diagnostics are defined here only for chains of equal length, as in R
// posterior, so such draws are rejected rather than silently truncated.
var ErrUnequalChains = errors.New("chains have different numbers of iterations")

// Validate checks that d is well formed: unique non-empty names that are not
// index columns, every chain holding one series per name, all series of the
// same length, and a warmup count that fits.
func (d *Draws) Validate() error {
	seen := make(map[string]bool, len(d.Names))
	for _, n := range d.Names {
		switch {
		case n == "":
			return errors.New("empty variable name")
		case n == ColChain || n == ColIteration || n == ColDraw:
			return fmt.Errorf("variable name %q is reserved for an index column", n)
		case seen[n]:
			return fmt.Errorf("duplicate variable name %q", n)
		}
		seen[n] = true
	}
	if len(d.Values) == 0 {
		return errors.New("no chains")
	}
	n := -1
	for c, ch := range d.Values {
		if len(ch) != len(d.Names) {
			return fmt.Errorf("chain %d has %d variables, want %d", c+1, len(ch), len(d.Names))
		}
		for v, s := range ch {
			if n < 0 {
				n = len(s)
			}
			if len(s) != n {
				return fmt.Errorf("%w: chain 1 has %d, chain %d has %d (variable %s)", ErrUnequalChains, n, c+1, len(s), d.Names[v])
			}
		}
	}
	if d.Warmup < 0 || (n >= 0 && d.Warmup > n) {
		return fmt.Errorf("warmup count %d does not fit chains of %d iterations", d.Warmup, n)
	}
	return nil
}

// New returns draws with the given names and nchains chains of niter
// iterations each, all zero.
func New(names []string, nchains, niter int) *Draws {
	d := &Draws{Names: append([]string(nil), names...), Values: make([][][]float64, nchains)}
	for c := range d.Values {
		buf := make([]float64, len(names)*niter)
		d.Values[c] = make([][]float64, len(names))
		for v := range names {
			d.Values[c][v] = buf[v*niter : (v+1)*niter : (v+1)*niter]
		}
	}
	return d
}

// Select returns draws holding only the variables at the given columns, in
// that order; the series are shared with d.
func (d *Draws) Select(cols []int) *Draws {
	out := &Draws{Warmup: d.Warmup, Meta: d.Meta, Values: make([][][]float64, len(d.Values))}
	for _, v := range cols {
		out.Names = append(out.Names, d.Names[v])
	}
	for c, ch := range d.Values {
		out.Values[c] = make([][]float64, len(cols))
		for i, v := range cols {
			out.Values[c][i] = ch[v]
		}
	}
	return out
}
