package auxdp

import (
	"context"
	"fmt"
	"math"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// Prediction holds the posterior predictive of new points.
type Prediction struct {
	// LogDensity[i] is ln p(x_i | X), the log of the predictive density
	// averaged over the saved draws:
	// (1/S) Σ_s [Σ_c (n_c−d)/(N+α) p(x | X_c) + (α+dK)/(N+α) p(x | H)].
	LogDensity []float64
	// Probs[i][c−1] is the posterior probability that x_i belongs to
	// cluster c of the last state (labels as in Summary), and
	// Probs[i][K] that it starts a new cluster. A draw's clusters are
	// identified with last-state clusters as in PointLabels.
	Probs [][]float64
}

// Predict evaluates the posterior predictive density of the rows of x and
// their cluster probabilities, averaged over the saved draws. Work is
// spread over workers goroutines (0: GOMAXPROCS); the result does not
// depend on their number.
func (r *Result) Predict(ctx context.Context, x [][]float64, workers int) (*Prediction, error) {
	if len(r.Draws) == 0 {
		return nil, errNoDraws
	}
	for i, row := range x {
		if err := r.fam.validRow(row); err != nil {
			return nil, fmt.Errorf("%w: new point %d: %v", errBadData, i+1, err)
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(x)))
	maps, _ := r.relabel()
	kl := r.Last().K
	m := len(x)
	pred := &Prediction{LogDensity: make([]float64, m), Probs: make([][]float64, m)}
	consts := make([]float64, m)
	for i := range m {
		pred.LogDensity[i] = math.Inf(-1)
		pred.Probs[i] = make([]float64, kl+1)
		consts[i] = r.fam.vecConst(x[i])
	}
	empty := r.fam.newStats()
	var pool []stats
	dim := r.fam.dim()
	for s, dr := range r.Draws {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for len(pool) <= dr.K {
			pool = append(pool, r.fam.newStats())
		}
		sizes := make([]int, dr.K+1)
		for l := 1; l <= dr.K; l++ {
			pool[l].clear()
		}
		for i, l := range dr.Labels {
			pool[l].add(i)
			sizes[l]++
		}
		den := float64(r.N) + dr.Alpha
		logw := make([]float64, dr.K+1)
		for l := 1; l <= dr.K; l++ {
			logw[l] = math.Log((float64(sizes[l]) - dr.Discount) / den)
		}
		logw[0] = math.Log((dr.Alpha + dr.Discount*float64(dr.K)) / den)
		mp := maps[s]
		var g errgroup.Group
		for w := range workers {
			lo, hi := w*m/workers, (w+1)*m/workers
			g.Go(func() error {
				work := make([]float64, dim)
				l := make([]float64, dr.K+1)
				for i := lo; i < hi; i++ {
					l[0] = logw[0] + empty.logPredVec(x[i], work)
					best := l[0]
					for c := 1; c <= dr.K; c++ {
						l[c] = logw[c] + pool[c].logPredVec(x[i], work)
						best = max(best, l[c])
					}
					var tot float64
					for c := range l {
						tot += math.Exp(l[c] - best)
					}
					lse := best + math.Log(tot)
					pred.LogDensity[i] = logAddExp(pred.LogDensity[i], lse+consts[i])
					pr := pred.Probs[i]
					pr[kl] += math.Exp(l[0] - lse)
					for c := 1; c <= dr.K; c++ {
						pr[mp[c]-1] += math.Exp(l[c] - lse)
					}
				}
				return nil
			})
		}
		_ = g.Wait()
	}
	ls := math.Log(float64(len(r.Draws)))
	for i := range m {
		pred.LogDensity[i] -= ls
		for c := range pred.Probs[i] {
			pred.Probs[i][c] /= float64(len(r.Draws))
		}
	}
	return pred, nil
}

func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
