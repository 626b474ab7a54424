package auxdp

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/epmc/epmc/chains"
)

func smallMixture() ([][]float64, []int) {
	return gaussianMixture(3, 600, 2, 4)
}

// TestDeterministicAcrossWorkers checks that the run is the same for any
// number of goroutines: per-processor streams make scheduling irrelevant.
func TestDeterministicAcrossWorkers(t *testing.T) {
	x, _ := smallMixture()
	var runs []*Result
	for _, w := range []int{1, 2, 3} {
		res, err := Run(context.Background(), x, Config{Procs: 5, Workers: w, Iters: 30, Burn: 10, Thin: 2, SplitMerge: 3, Placement: Balanced, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		for i := range res.Trace {
			res.Trace[i].Seconds = 0
		}
		runs = append(runs, res)
	}
	for _, r := range runs[1:] {
		if !reflect.DeepEqual(r.Trace, runs[0].Trace) || !reflect.DeepEqual(r.Draws, runs[0].Draws) {
			t.Fatalf("workers %d and %d give different runs", r.Config.Workers, runs[0].Config.Workers)
		}
	}
	// And the files agree byte for byte once seconds__ is equal.
	dir := t.TempDir()
	var assign [][]byte
	for k, r := range runs[:2] {
		p := filepath.Join(dir, "run"+string(rune('a'+k))+".arrow")
		if err := r.Write(p, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(AssignmentsPath(p))
		if err != nil {
			t.Fatal(err)
		}
		assign = append(assign, b)
	}
	if !bytes.Equal(assign[0], assign[1]) {
		t.Fatal("assignment files differ between worker counts")
	}
}

func TestWriteRoundTrip(t *testing.T) {
	x, _ := smallMixture()
	for _, proc := range []Process{DP, PY} {
		t.Run(proc.String(), func(t *testing.T) {
			res, err := Run(context.Background(), x, Config{Process: proc, Procs: 3, Iters: 25, Burn: 5, Thin: 3, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "run.arrow")
			if err := res.Write(path, WriteOptions{DataFingerprint: "sha256:abc"}); err != nil {
				t.Fatal(err)
			}
			d, err := chains.ReadArrow(path)
			if err != nil {
				t.Fatal(err)
			}
			if d.Meta.Kind != KindTrace || d.Warmup != 5 || d.NumIter() != 20 || d.Meta.DataFingerprint != "sha256:abc" {
				t.Fatalf("trace file: kind %q, warmup %d, iterations %d", d.Meta.Kind, d.Warmup, d.NumIter())
			}
			k := d.Index(ColK)
			lp := d.Index(chains.LP)
			if k < 0 || lp < 0 || d.Index(ProcPointsCol(3)) < 0 {
				t.Fatalf("trace columns missing: %v", d.Names)
			}
			for i, st := range res.Trace {
				if d.Values[0][k][i] != float64(st.K) || d.Values[0][lp][i] != st.LogJoint {
					t.Fatalf("iteration %d differs", i+1)
				}
			}
			draws, err := ReadAssignments(AssignmentsPath(path))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(draws, res.Draws) {
				t.Fatal("assignment draws do not round-trip")
			}
			// 20 post-burn iterations thinned by 3, counted back from 25.
			want := []int{7, 10, 13, 16, 19, 22, 25}
			var got []int
			for _, dr := range draws {
				got = append(got, dr.Iteration)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("saved iterations %v, want %v", got, want)
			}
		})
	}
	if _, err := ReadAssignments(filepath.Join(t.TempDir(), "missing.arrow")); err == nil {
		t.Fatal("missing file read without error")
	}
}

func TestAssignmentsPath(t *testing.T) {
	for in, want := range map[string]string{
		"run.arrow":     "run.assign.arrow",
		"out/x.feather": "out/x.assign.feather",
		"noext":         "noext.assign.arrow",
	} {
		if got := AssignmentsPath(in); got != want {
			t.Errorf("AssignmentsPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPointLabelsLabelSwitching builds draws whose labels are permutations
// of one partition, plus one draw that merges two clusters: the relabelled
// mode must be the last state's cluster everywhere.
func TestPointLabelsLabelSwitching(t *testing.T) {
	x, _ := smallMixture()
	res, err := Run(context.Background(), x[:9], Config{Likelihood: tinyNIW(), Iters: 2, Alpha: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Last state: {0,1,2,3} {4,5,6} {7,8} → sizes 4, 3, 2.
	res.Draws = []Draw{
		{K: 3, Labels: []int32{1, 1, 1, 1, 2, 2, 2, 3, 3}},
		{K: 3, Labels: []int32{1, 1, 1, 1, 2, 2, 2, 3, 3}}, // same partition
		{K: 2, Labels: []int32{1, 1, 1, 1, 2, 2, 2, 2, 2}}, // 2nd and 3rd merged
		{K: 4, Labels: []int32{1, 2, 2, 2, 3, 3, 3, 4, 4}}, // point 0 split off: both parts are named 1
		{K: 3, Labels: []int32{1, 1, 1, 1, 2, 2, 2, 3, 3}},
	}
	last, mode, prob := res.PointLabels()
	wantLast := []int{1, 1, 1, 1, 2, 2, 2, 3, 3}
	if !reflect.DeepEqual(last, wantLast) || !reflect.DeepEqual(mode, wantLast) {
		t.Fatalf("last %v, mode %v, want %v", last, mode, wantLast)
	}
	// Points 7 and 8 were named after cluster 2 in the merged draw.
	wantProb := []float64{1, 1, 1, 1, 1, 1, 1, 0.8, 0.8}
	for i := range prob {
		if math.Abs(prob[i]-wantProb[i]) > 1e-12 {
			t.Fatalf("prob %v, want %v", prob, wantProb)
		}
	}
	sum := res.Summary()
	if sum.K != 3 || sum.Clusters[0].Size != 4 || sum.Clusters[2].Size != 2 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestPredictiveIntegratesToOne integrates the 1-d posterior predictive
// density over a fine grid and checks the cluster probabilities sum to 1.
func TestPredictiveIntegratesToOne(t *testing.T) {
	var x [][]float64
	for i := range 60 {
		v := float64(i%3)*4 + 0.3*math.Sin(float64(i))
		x = append(x, []float64{v})
	}
	res, err := Run(context.Background(), x, Config{Likelihood: NIW{Mean: []float64{4}, Kappa: 0.1, Nu: 3, Psi: []float64{1}}, Iters: 40, Burn: 20, Thin: 4, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	var grid [][]float64
	lo, hi, h := -60.0, 70.0, 0.01
	for v := lo; v <= hi; v += h {
		grid = append(grid, []float64{v})
	}
	pred, err := res.Predict(context.Background(), grid, 2)
	if err != nil {
		t.Fatal(err)
	}
	var integral float64
	for i, ld := range pred.LogDensity {
		w := h
		if i == 0 || i == len(grid)-1 {
			w /= 2
		}
		integral += w * math.Exp(ld)
		var s float64
		for _, p := range pred.Probs[i] {
			s += p
		}
		if math.Abs(s-1) > 1e-9 {
			t.Fatalf("cluster probabilities of %v sum to %v", grid[i], s)
		}
	}
	// Student-t tails beyond the grid hold well under 1e-3.
	if math.Abs(integral-1) > 2e-3 {
		t.Fatalf("predictive density integrates to %v", integral)
	}
	// A point at a cluster centre belongs to that cluster.
	p2, _ := res.Predict(context.Background(), [][]float64{{4}}, 1)
	best := 0
	for c, p := range p2.Probs[0] {
		if p > p2.Probs[0][best] {
			best = c
		}
	}
	last, _, _ := res.PointLabels()
	if best+1 != last[1] {
		t.Errorf("x = 4 goes to cluster %d, the points near 4 are in %d", best+1, last[1])
	}
	if _, err := res.Predict(context.Background(), [][]float64{{1, 2}}, 1); err == nil {
		t.Error("a point of the wrong dimension was accepted")
	}
}

func TestRunErrors(t *testing.T) {
	x, _ := smallMixture()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, x, Config{Iters: 5}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
	for _, tc := range []struct {
		name string
		x    [][]float64
		cfg  Config
	}{
		{"negative procs", x, Config{Procs: -1}},
		{"burn too long", x, Config{Iters: 5, Burn: 5}},
		{"discount for DP", x, Config{Discount: 0.5}},
		{"discount ≥ 1", x, Config{Process: PY, Discount: 1}},
		{"d > N", [][]float64{{1, 2, 3}, {4, 5, 6}}, Config{Likelihood: NIW{Mean: make([]float64, 3), Kappa: 1, Nu: 4, Psi: []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}}}},
		{"empirical d ≥ N", [][]float64{{1, 2, 3}, {4, 5, 6}, {1, 1, 1}}, Config{}},
		{"ragged", [][]float64{{1, 2}, {3}}, Config{}},
		{"NaN", [][]float64{{1}, {math.NaN()}, {2}}, Config{Likelihood: DiagNormalGamma{Mean: []float64{0}, Kappa: 1, Shape: 1, Rate: []float64{1}}}},
		{"init labels length", x, Config{InitLabels: []int{1, 2}}},
		{"move fraction", x, Config{MoveFraction: 2}},
	} {
		if _, err := Run(context.Background(), tc.x, tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestNMI(t *testing.T) {
	a := []int{0, 0, 1, 1, 2, 2}
	if v, _ := NMI(a, []int{5, 5, 3, 3, 9, 9}); math.Abs(v-1) > 1e-12 {
		t.Errorf("relabelled partition: NMI %v", v)
	}
	if v, _ := NMI(a, []int{0, 1, 0, 1, 0, 1}); v > 1e-12 {
		t.Errorf("independent partition: NMI %v", v)
	}
	// Computed in R: t <- table(a, b)/6; 2 I / (H(a) + H(b)).
	if v, _ := NMI(a, []int{0, 0, 1, 2, 2, 2}); math.Abs(v-0.73966737680075922) > 1e-12 {
		t.Errorf("NMI %v, want 0.73966737680075922", v)
	}
}
