//go:build long

package subpost_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// TestWarmupMatchesStan compares epmc's warmup with Stan's iteration by
// iteration: at each of the 1000 warmup iterations, the mean over 400
// independent chains of log(stepsize__), accept_stat__ and n_leapfrog__ is
// compared with rstan's (testdata/subpost/stan_warmup.csv, made by
// make_stan_warmup.R on the same data and model) by a two-sample z-score.
// Stan's schedule shows in both: the step-size search before the first
// iteration, the jump of the second (dual averaging starts from
// μ = log 10ε), and the same jump after every window end (iterations 101,
// 151, 251, 451, 951 counted from 1), where accept_stat__ falls to zero.
// Every |z| must stay below 4.8: for identical samplers the chance that
// any of the 3000 z-scores exceeds it is below 0.5% (Bonferroni), whatever
// their dependence.
func TestWarmupMatchesStan(t *testing.T) {
	stan := readStanWarmup(t, "../testdata/subpost/stan_warmup.csv")
	tab, err := data.Load("../testdata/subpost/logistic_small.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]int, tab.NumRows())
	for i := range rows {
		rows[i] = i
	}
	m, _, err := models.Build("logistic", tab, rows, models.Options{Y: []string{"y"}, X: []string{"x1", "x2", "x3", "x4", "x5"}})
	if err != nil {
		t.Fatal(err)
	}
	const warmup = 1000
	stats := []string{chains.StepSize, chains.AcceptStat, chains.NumLeapfrog}
	sum := make([][]float64, len(stats))
	sum2 := make([][]float64, len(stats))
	for k := range stats {
		sum[k], sum2[k] = make([]float64, warmup), make([]float64, warmup)
	}
	n := 0
	divergent := 0.0
	dir := t.TempDir()
	for seed := range 100 {
		out := filepath.Join(dir, fmt.Sprintf("w%d.arrow", seed))
		cfg := subpost.Config{Chains: 4, Warmup: warmup, Draws: 1, Seed: uint64(seed + 1001), Threads: 2, SaveWarmup: true, OmitTiming: true}
		if err := subpost.Run(context.Background(), m, cfg, out); err != nil {
			t.Fatal(err)
		}
		d, err := chains.ReadArrow(out)
		if err != nil {
			t.Fatal(err)
		}
		for k, name := range stats {
			for _, s := range d.WarmupSeries(d.Index(name)) {
				for i, v := range s {
					if k == 0 {
						v = math.Log(v)
					}
					sum[k][i] += v
					sum2[k][i] += v * v
				}
			}
		}
		for _, s := range d.WarmupSeries(d.Index(chains.Divergent)) {
			for _, v := range s {
				divergent += v
			}
		}
		n += d.NumChains()
		os.Remove(out)
	}
	worst, worstAt, worstStat := 0.0, 0, ""
	for k, name := range stats {
		for i := range warmup {
			mean := sum[k][i] / float64(n)
			variance := (sum2[k][i] - float64(n)*mean*mean) / float64(n-1)
			se := math.Sqrt(math.Max(variance, 0)/float64(n) + stan[k].variance[i]/stan[k].n)
			diff := mean - stan[k].mean[i]
			if se == 0 {
				// Both constant (accept_stat__ = 0 and n_leapfrog__ = 1 at
				// the second iteration): they must agree exactly.
				if diff != 0 {
					t.Errorf("%s at iteration %d: epmc %g, Stan %g, both without spread", name, i+1, mean, stan[k].mean[i])
				}
				continue
			}
			if z := diff / se; math.Abs(z) > math.Abs(worst) {
				worst, worstAt, worstStat = z, i+1, name
			}
		}
	}
	t.Logf("largest |z| %.2f (%s at iteration %d); divergent warmup transitions per chain: epmc %.2f, Stan %.2f",
		math.Abs(worst), worstStat, worstAt, divergent/float64(n), stan[0].divergent/stan[0].n)
	if math.Abs(worst) > 4.8 {
		t.Errorf("%s at warmup iteration %d differs from Stan's by %.2f standard errors", worstStat, worstAt, worst)
	}
}

type stanIterStats struct {
	mean, variance []float64
	n, divergent   float64
}

// readStanWarmup reads stan_warmup.csv into log stepsize, accept_stat and
// n_leapfrog statistics, in that order.
func readStanWarmup(t *testing.T, path string) []stanIterStats {
	t.Helper()
	recs := readCSVRecords(t, path)
	col := map[string]int{}
	for j, name := range recs[0] {
		col[name] = j
	}
	num := func(rec []string, name string) float64 {
		v, err := strconv.ParseFloat(rec[col[name]], 64)
		if err != nil {
			t.Fatalf("%s: column %s: %v", path, name, err)
		}
		return v
	}
	out := make([]stanIterStats, 3)
	for k, prefix := range []string{"log_stepsize", "accept_stat", "n_leapfrog"} {
		for _, rec := range recs[1:] {
			out[k].mean = append(out[k].mean, num(rec, prefix+"_mean"))
			out[k].variance = append(out[k].variance, num(rec, prefix+"_var"))
			out[k].n = num(rec, "chains")
			out[k].divergent += num(rec, "divergent")
		}
	}
	return out
}
