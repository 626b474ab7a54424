//go:build long

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// TestCombineEndToEnd is the check against the full-data posterior:
// logistic regression, N = 20,000 rows, 5 predictors (d = 6 with the
// intercept), M = 8 shards sampled with epmc sample, every method combined
// with epmc combine and compared with epmc compare against epmc sample
// --shards 1; the table of every method's figures is logged (go test -tags
// long -run EndToEnd -v ./cmd/epmc).
//
// Targets: semiparametric with a large bandwidth (the documented setting
// for near-Gaussian shards in d ≥ 5) reaches mean error < 0.15 posterior sd
// on every coordinate and MMTV < 0.1. The Gaussian methods share a bias
// from the subposteriors' skewness (each shard has 2,500 rows): measured
// 0.17 sd for consensus, parametric and swiss on this data, so consensus
// is held to MMTV < 0.1 and mean error < 0.25 sd. The KDE methods at their
// automatic bandwidth are outside their range here (d = 6) and are only
// reported.
func TestCombineEndToEnd(t *testing.T) {
	if _, ok := commands["sample"]; !ok {
		t.Skip("epmc sample is not built yet")
	}
	dir := t.TempDir()
	tab, _, err := models.Simulate("logistic", models.SimConfig{N: 20000, D: 5, Seed: 2024, Rho: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(dir, "logistic.csv")
	if err := data.WriteFile(dataFile, tab, data.CSV); err != nil {
		t.Fatal(err)
	}
	const M = 8
	sample := func(out string, shards, shard int) {
		t.Helper()
		args := []string{"sample", "--model", "logistic", "--data", dataFile, "--x", "x1,x2,x3,x4,x5",
			"--shards", fmt.Sprint(shards), "--shard", fmt.Sprint(shard),
			"--chains", "4", "--warmup", "1000", "--draws", "2500", "--seed", "7", "-o", out}
		if _, stderr, code := cli(t, args...); code != 0 {
			t.Fatalf("epmc %s: %s", strings.Join(args, " "), stderr)
		}
	}
	full := filepath.Join(dir, "full.arrow")
	sample(full, 1, 0)
	var shards []string
	for m := range M {
		p := filepath.Join(dir, fmt.Sprintf("shard-%d.arrow", m))
		sample(p, M, m)
		shards = append(shards, p)
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-30s %10s %10s %10s %8s %8s %8s\n", "method", "mean/sd", "mahal", "cov", "KS", "MMTV", "energy")
	runs := [][]string{}
	for _, method := range combine.Names() {
		runs = append(runs, []string{method})
	}
	runs = append(runs, []string{"semiparametric", "--bandwidth", "4"})
	for _, run := range runs {
		method := strings.Join(run, " ")
		out := filepath.Join(dir, strings.ReplaceAll(method, " ", "_")+".arrow")
		args := append([]string{"combine", "--method", run[0], "--draws", "2500", "-o", out}, run[1:]...)
		args = append(args, shards...)
		if _, stderr, code := cli(t, args...); code != 0 {
			t.Fatalf("combine %s: %s", method, stderr)
		} else {
			t.Logf("%s", stderr)
		}
		stdout, stderr, code := cli(t, "compare", "--format", "json", out, full)
		if code != 0 {
			t.Fatalf("compare %s: %s", method, stderr)
		}
		var d struct {
			MaxMean float64 `json:"max_mean_error_sd"`
			Mahal   float64 `json:"mahalanobis_mean_error"`
			Cov     float64 `json:"cov_rel_error"`
			KS      float64 `json:"ks_max"`
			MMTV    float64 `json:"mmtv"`
			Energy  float64 `json:"energy_distance"`
		}
		if err := json.Unmarshal([]byte(stdout), &d); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&table, "%-30s %10.3f %10.3f %10.3f %8.3f %8.3f %8.3f\n", method, d.MaxMean, d.Mahal, d.Cov, d.KS, d.MMTV, d.Energy)
		limit := map[string]float64{"semiparametric --bandwidth 4": 0.15, "consensus": 0.25}[method]
		if limit > 0 && (d.MaxMean >= limit || d.MMTV >= 0.1) {
			t.Errorf("%s: max mean error %.3f sd (want < %g), MMTV %.3f (want < 0.1)", method, d.MaxMean, limit, d.MMTV)
		}
	}
	t.Log(table.String())
}
