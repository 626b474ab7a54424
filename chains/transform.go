package chains

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// TransformKind names a map from unconstrained reals to a parameter's
// support. The maps are Stan's (Stan Reference Manual, "Constraint
// transforms"; the simplex uses the stick-breaking form of Stan ≤ 2.35).
type TransformKind string

const (
	Identity TransformKind = "identity" // x = y
	Lower    TransformKind = "lower"    // x = Lower + exp(y)
	Upper    TransformKind = "upper"    // x = Upper − exp(y)
	Interval TransformKind = "interval" // x = Lower + (Upper − Lower)·logit⁻¹(y)
	Simplex  TransformKind = "simplex"  // stick-breaking: K−1 reals to a K-simplex
)

// Transform says how a parameter block is constrained. The zero value is
// the identity.
type Transform struct {
	Kind  TransformKind `json:"kind,omitempty"`
	Lower float64       `json:"lower,omitempty"`
	Upper float64       `json:"upper,omitempty"`
}

// Validate reports an unknown kind or an empty interval.
func (t Transform) Validate() error {
	switch t.Kind {
	case "", Identity, Lower, Upper, Simplex:
		return nil
	case Interval:
		if !(t.Lower < t.Upper) {
			return fmt.Errorf("interval transform needs lower < upper, have [%g, %g]", t.Lower, t.Upper)
		}
		return nil
	}
	return fmt.Errorf("unknown transform %q", t.Kind)
}

// Dim returns the unconstrained dimension of a block of n constrained
// scalars.
func (t Transform) Dim(n int) int {
	if t.Kind == Simplex {
		return n - 1
	}
	return n
}

// log1pExp returns log(1 + exp(y)) without overflow.
func log1pExp(y float64) float64 {
	if y > 0 {
		return y + math.Log1p(math.Exp(-y))
	}
	return math.Log1p(math.Exp(y))
}

// invLogit returns 1/(1 + exp(−y)) accurately for large |y|.
func invLogit(y float64) float64 {
	if y >= 0 {
		return 1 / (1 + math.Exp(-y))
	}
	e := math.Exp(y)
	return e / (1 + e)
}

// Constrain maps the unconstrained block y to x (len(x) = len(y) for
// elementwise transforms, len(y)+1 for a simplex) and returns the log
// absolute determinant of the Jacobian dx/dy, the term a sampler adds to the
// log density in unconstrained space.
func (t Transform) Constrain(x, y []float64) (logJac float64) {
	switch t.Kind {
	case "", Identity:
		copy(x, y)
	case Lower:
		for i, v := range y {
			x[i] = t.Lower + math.Exp(v)
			logJac += v
		}
	case Upper:
		for i, v := range y {
			x[i] = t.Upper - math.Exp(v)
			logJac += v
		}
	case Interval:
		w := t.Upper - t.Lower
		for i, v := range y {
			x[i] = t.Lower + w*invLogit(v)
			// log s + log(1−s) = −|v| − 2·log(1 + e^{−|v|})
			logJac += math.Log(w) - math.Abs(v) - 2*math.Log1p(math.Exp(-math.Abs(v)))
		}
	case Simplex:
		k := len(y) + 1
		stick := 1.0
		for i, v := range y {
			adj := v - math.Log(float64(k-1-i))
			z := invLogit(adj)
			x[i] = stick * z
			logJac += math.Log(stick) - math.Abs(adj) - 2*math.Log1p(math.Exp(-math.Abs(adj)))
			stick -= x[i]
		}
		x[k-1] = stick
	}
	return logJac
}

// Pullback turns the gradient gx of a function f of the constrained block
// into the gradient of f(x(y)) + log|dx/dy| with respect to y, written to
// gy. Samplers use it to differentiate the log density in unconstrained
// space; x is the constrained point (as returned by Constrain).
func (t Transform) Pullback(gy, y, x, gx []float64) {
	switch t.Kind {
	case "", Identity:
		copy(gy, gx)
	case Lower:
		for i := range y {
			gy[i] = gx[i]*(x[i]-t.Lower) + 1
		}
	case Upper:
		for i := range y {
			gy[i] = -gx[i]*(t.Upper-x[i]) + 1
		}
	case Interval:
		w := t.Upper - t.Lower
		for i, v := range y {
			s := invLogit(v)
			gy[i] = gx[i]*w*s*(1-s) + 1 - 2*s
		}
	case Simplex:
		// x_j = stick_j·z_j for j < K−1, x_{K−1} = stick_{K−1}, with
		// stick_j = Π_{i<j}(1 − z_i). For k > j, ∂x_k/∂z_j = −x_k/(1 − z_j),
		// so ∂f/∂z_j = gx_j·stick_j − Σ_{k>j} gx_k·x_k/(1 − z_j). The chain
		// rule through z_j = logit⁻¹(·), whose derivative is z_j(1 − z_j),
		// cancels the division:
		//
		//	∂f/∂y_j = z_j·((1 − z_j)·gx_j·stick_j − Σ_{k>j} gx_k·x_k),
		//
		// and the log Jacobian contributes 1 − (K−j)·z_j. z_j comes from y
		// rather than x_j/stick_j, which is 0/0 once the stick has
		// underflowed, so the gradient stays finite at a saturated stick.
		k := len(y) + 1
		tail := gx[k-1] * x[k-1] // Σ_{k>j} gx_k x_k, built from the end
		stick := x[k-1]
		for j := k - 2; j >= 0; j-- {
			// stick before step j equals x_j + stick after step j.
			stick += x[j]
			z := invLogit(y[j] - math.Log(float64(k-1-j)))
			gy[j] = z*((1-z)*gx[j]*stick-tail) + 1 - float64(k-j)*z
			tail += gx[j] * x[j]
		}
	}
}

// Unconstrain maps a constrained block x to y. It fails when x lies outside
// the support (or, for a simplex, does not sum to 1 within 1e-8).
func (t Transform) Unconstrain(y, x []float64) error {
	switch t.Kind {
	case "", Identity:
		copy(y, x)
	case Lower:
		for i, v := range x {
			if !(v > t.Lower) {
				return fmt.Errorf("value %g is not above the lower bound %g", v, t.Lower)
			}
			y[i] = math.Log(v - t.Lower)
		}
	case Upper:
		for i, v := range x {
			if !(v < t.Upper) {
				return fmt.Errorf("value %g is not below the upper bound %g", v, t.Upper)
			}
			y[i] = math.Log(t.Upper - v)
		}
	case Interval:
		w := t.Upper - t.Lower
		for i, v := range x {
			if !(v > t.Lower && v < t.Upper) {
				return fmt.Errorf("value %g is outside (%g, %g)", v, t.Lower, t.Upper)
			}
			s := (v - t.Lower) / w
			y[i] = math.Log(s) - math.Log1p(-s)
		}
	case Simplex:
		k := len(x)
		sum := 0.0
		for _, v := range x {
			if !(v > 0) {
				return fmt.Errorf("simplex element %g is not positive", v)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-8 {
			return fmt.Errorf("simplex sums to %g, not 1", sum)
		}
		stick := 1.0
		for i := 0; i < k-1; i++ {
			z := x[i] / stick
			y[i] = math.Log(z) - math.Log1p(-z) + math.Log(float64(k-1-i))
			stick -= x[i]
		}
	}
	return nil
}

// Param describes one parameter block: its name, its shape (empty for a
// scalar) and its transform. Its scalars are named like Stan and posterior
// do, with 1-based indices in column-major order: beta[1], Sigma[2,1].
type Param struct {
	Name      string    `json:"name"`
	Shape     []int     `json:"shape,omitempty"`
	Transform Transform `json:"transform,omitzero"`
}

// Size returns the number of scalars in the block.
func (p Param) Size() int {
	n := 1
	for _, s := range p.Shape {
		n *= s
	}
	return n
}

// ScalarNames returns the names of the block's scalars in column-major
// order.
func (p Param) ScalarNames() []string {
	if len(p.Shape) == 0 {
		return []string{p.Name}
	}
	n := p.Size()
	names := make([]string, 0, n)
	idx := make([]int, len(p.Shape))
	for i := range idx {
		idx[i] = 1
	}
	parts := make([]string, len(p.Shape))
	for range n {
		for i, v := range idx {
			parts[i] = strconv.Itoa(v)
		}
		names = append(names, p.Name+"["+strings.Join(parts, ",")+"]")
		for i := range idx { // first index fastest
			idx[i]++
			if idx[i] <= p.Shape[i] {
				break
			}
			idx[i] = 1
		}
	}
	return names
}

// Layout maps the parameter columns of draws between the constrained values
// stored in files and the unconstrained space in which samplers and
// combiners work.
type Layout struct {
	blocks []layoutBlock
	cols   []int // draws columns in block order
	dim    int
}

type layoutBlock struct {
	t       Transform
	cols    []int // constrained columns of this block, in order
	offset  int   // position of the block's first column within cols
	uOffset int   // position of the block's first unconstrained coordinate
	uDim    int
}

// NewLayout builds the layout of the parameter columns among names. Each
// param's scalars must be present; parameter columns that no param covers
// are taken as unconstrained scalars. With no params every parameter
// column is its own unconstrained coordinate.
func NewLayout(names []string, params []Param) (*Layout, error) {
	pos := make(map[string]int, len(names))
	for i, n := range names {
		pos[n] = i
	}
	covered := make(map[int]bool)
	l := &Layout{}
	for _, p := range params {
		if err := p.Transform.Validate(); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		b := layoutBlock{t: p.Transform, offset: len(l.cols), uOffset: l.dim}
		for _, s := range p.ScalarNames() {
			i, ok := pos[s]
			if !ok {
				return nil, fmt.Errorf("parameter %s: column %s is missing", p.Name, s)
			}
			if covered[i] {
				return nil, fmt.Errorf("column %s belongs to two parameters", s)
			}
			covered[i] = true
			b.cols = append(b.cols, i)
		}
		if p.Transform.Kind == Simplex && len(b.cols) < 2 {
			return nil, fmt.Errorf("parameter %s: a simplex needs at least 2 elements", p.Name)
		}
		b.uDim = p.Transform.Dim(len(b.cols))
		l.cols = append(l.cols, b.cols...)
		l.dim += b.uDim
		l.blocks = append(l.blocks, b)
	}
	for i, n := range names {
		if KindOf(n) == Parameter && !covered[i] {
			l.blocks = append(l.blocks, layoutBlock{cols: []int{i}, offset: len(l.cols), uOffset: l.dim, uDim: 1})
			l.cols = append(l.cols, i)
			l.dim++
		}
	}
	if l.dim == 0 {
		return nil, errors.New("no parameters")
	}
	return l, nil
}

// Dim returns the unconstrained dimension.
func (l *Layout) Dim() int { return l.dim }

// Columns returns the constrained draws columns the layout covers, in the
// order Constrain writes them.
func (l *Layout) Columns() []int { return l.cols }

// Unconstrain reads the constrained values of one draw from row (indexed by
// draws column) and writes the unconstrained point to u.
func (l *Layout) Unconstrain(u []float64, row []float64) error {
	var buf [16]float64
	for _, b := range l.blocks {
		x := buf[:0]
		if len(b.cols) > len(buf) {
			x = make([]float64, 0, len(b.cols))
		}
		for _, c := range b.cols {
			x = append(x, row[c])
		}
		if err := b.t.Unconstrain(u[b.uOffset:b.uOffset+b.uDim], x); err != nil {
			return err
		}
	}
	return nil
}

// Constrain maps the unconstrained point u to constrained values, written
// to x in the order of Columns.
func (l *Layout) Constrain(x []float64, u []float64) {
	for _, b := range l.blocks {
		b.t.Constrain(x[b.offset:b.offset+len(b.cols)], u[b.uOffset:b.uOffset+b.uDim])
	}
}

// Unconstrained returns the post-warmup draws of d in unconstrained space,
// one row per draw (chains one after another).
func (l *Layout) Unconstrained(d *Draws) ([][]float64, error) {
	rows := make([][]float64, 0, d.NumDraws())
	buf := make([]float64, d.NumDraws()*l.dim)
	row := make([]float64, len(d.Names))
	for c, ch := range d.Values {
		for i := d.Warmup; i < len(ch[0]); i++ {
			for _, col := range l.cols {
				row[col] = ch[col][i]
			}
			u := buf[:l.dim:l.dim]
			buf = buf[l.dim:]
			if err := l.Unconstrain(u, row); err != nil {
				return nil, fmt.Errorf("chain %d, iteration %d: %w", c+1, i+1, err)
			}
			rows = append(rows, u)
		}
	}
	return rows, nil
}
