//go:build long

package subpost_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// TestSBCLogistic is simulation-based calibration (Talts, Betancourt,
// Simpson, Vehtari & Gelman 2018) of the samplers on the built-in logistic
// model with a small data set (40 rows, intercept and 2 predictors,
// normal(0, 2) priors), as the full posterior (M = 1) and as a
// subposterior whose prior is tempered by 1/M (M = 4):
//
//	θ̃ ~ p(θ)^{1/M} (the model's PriorSampler), y ~ p(y | θ̃, X),
//	L = 99 draws from one chain of Run after warmup, thinned so that they
//	are nearly independent, and the rank of θ̃ among them.
//
// If the sampler draws from p(θ)^{1/M} p(y | θ), every parameter's rank is
// uniform on 0…L. Each rank histogram (20 bins of 5 ranks) is tested with
// a chi-square test; the level of each test is 0.01 divided by the number
// of histograms (Bonferroni), so a correct sampler fails this test with
// probability at most 1%.
func TestSBCLogistic(t *testing.T) {
	const (
		reps   = 1000
		L      = 99
		bins   = 20
		warmup = 500
		level  = 0.01
	)
	base, _, err := models.Simulate("logistic", models.SimConfig{N: 40, D: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	x1, _ := base.Column("x1")
	x2, _ := base.Column("x2")
	opts := models.Options{Y: []string{"y"}, X: []string{"x1", "x2"}, PriorScale: 2}
	rows := make([]int, base.NumRows())
	for i := range rows {
		rows[i] = i
	}
	type variant struct {
		sampler string
		metric  subpost.MetricKind
		thin    int
		shards  int
	}
	variants := []variant{
		{"nuts", subpost.DiagMetric, 5, 1},
		{"nuts", subpost.DiagMetric, 5, 4},
		{"nuts", subpost.DenseMetric, 5, 4},
		{"rwm", "", 40, 1},
		{"rwm", "", 40, 4},
	}
	names := []string{"alpha", "beta[1]", "beta[2]"}
	tests := len(variants) * len(names)
	dir := t.TempDir()
	for vi, v := range variants {
		name := fmt.Sprintf("%s-%s-M%d", v.sampler, v.metric, v.shards)
		t.Run(name, func(t *testing.T) {
			ranks := make([][]int, len(names)) // ranks[param][rep]
			for j := range ranks {
				ranks[j] = make([]int, reps)
			}
			var mu sync.Mutex
			g := new(errgroup.Group)
			g.SetLimit(2)
			for r := range reps {
				g.Go(func() error {
					// The true parameters from the tempered prior.
					m0, _, err := models.Build("logistic", base, rows, opts)
					if err != nil {
						return err
					}
					truth := make([]float64, m0.Dim())
					m0.(subpost.PriorSampler).SamplePrior(truth, 1/float64(v.shards), rng.NewRand(77, uint64(vi), uint64(r), 0))
					// Data from the likelihood at the truth.
					yr := rng.NewRand(77, uint64(vi), uint64(r), 1)
					y := make([]float64, len(x1))
					for i := range y {
						eta := truth[0] + truth[1]*x1[i] + truth[2]*x2[i]
						if yr.Float64() < 1/(1+math.Exp(-eta)) {
							y[i] = 1
						}
					}
					tab := &data.Table{Path: "sbc", Names: []string{"y", "x1", "x2"}, Cols: [][]float64{y, x1, x2}}
					m, _, err := models.Build("logistic", tab, rows, opts)
					if err != nil {
						return err
					}
					out := filepath.Join(dir, fmt.Sprintf("%s-%d.arrow", name, r))
					cfg := subpost.Config{
						Chains: 1, Warmup: warmup, Draws: L * v.thin, Seed: uint64(1000*vi + r),
						Shards: v.shards, Sampler: v.sampler, Metric: v.metric, Threads: 1, OmitTiming: true,
					}
					if err := subpost.Run(context.Background(), m, cfg, out); err != nil {
						return err
					}
					d, err := chains.ReadArrow(out)
					if err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					for j, n := range names {
						s := d.Series(d.Index(n))[0]
						rank := 0
						for l := v.thin - 1; l < len(s); l += v.thin {
							if s[l] < truth[j] {
								rank++
							}
						}
						ranks[j][r] = rank
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			chi := distuv.ChiSquared{K: bins - 1}
			for j, n := range names {
				counts := make([]int, bins)
				for _, rk := range ranks[j] {
					counts[rk*bins/(L+1)]++
				}
				expect := float64(reps) / bins
				stat := 0.0
				for _, c := range counts {
					stat += (float64(c) - expect) * (float64(c) - expect) / expect
				}
				p := chi.Survival(stat)
				t.Logf("%s: rank histogram %v, chi-square %.1f on %d df, p = %.3g", n, counts, stat, bins-1, p)
				if p < level/float64(tests) {
					t.Errorf("%s: ranks are not uniform (p = %.3g < %.3g): %s", n, p, level/float64(tests), histogram(counts))
				}
			}
		})
	}
}

func histogram(counts []int) string {
	var b strings.Builder
	for i, c := range counts {
		fmt.Fprintf(&b, "%d:%d ", i, c)
	}
	return b.String()
}
