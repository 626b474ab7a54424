package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// writeSimulated writes a simulated data set as CSV and returns its path
// and the table.
func writeSimulated(t *testing.T, dir, model string, c models.SimConfig) (string, *data.Table) {
	t.Helper()
	tab, _, err := models.Simulate(model, c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, model+".csv")
	if err := data.WriteFile(path, tab, data.CSV); err != nil {
		t.Fatal(err)
	}
	return path, tab
}

// gaussianPosterior returns the exact posterior mean and covariance of the
// coefficients of y ~ normal(X·b, sigma²I) with independent normal(0, S)
// priors tempered by 1/M: precision XᵀX/σ² + I/(M·S²).
func gaussianPosterior(X [][]float64, y []float64, sigma, s float64, m int) (mean []float64, cov *mat.SymDense) {
	k := len(X[0])
	prec := mat.NewSymDense(k, nil)
	b := mat.NewVecDense(k, nil)
	for i, row := range X {
		for a := range k {
			b.SetVec(a, b.AtVec(a)+row[a]*y[i]/(sigma*sigma))
			for c := a; c < k; c++ {
				prec.SetSym(a, c, prec.At(a, c)+row[a]*row[c]/(sigma*sigma))
			}
		}
	}
	for a := range k {
		prec.SetSym(a, a, prec.At(a, a)+1/(float64(m)*s*s))
	}
	var chol mat.Cholesky
	if !chol.Factorize(prec) {
		panic("posterior precision not positive definite")
	}
	cov = mat.NewSymDense(k, nil)
	if err := chol.InverseTo(cov); err != nil {
		panic(err)
	}
	var mu mat.VecDense
	mu.MulVec(cov, b)
	return mu.RawVector().Data, cov
}

// checkPosterior compares the draws of the named parameters with the exact
// Gaussian posterior: means and variances within 4 MCSE, after checking
// that the chains mixed (R-hat < 1.01, bulk ESS > 400).
func checkPosterior(t *testing.T, d *chains.Draws, names []string, mean []float64, cov *mat.SymDense) {
	t.Helper()
	for j, name := range names {
		v := d.Index(name)
		if v < 0 {
			t.Fatalf("no column %s in %v", name, d.Names)
		}
		x := d.Series(v)
		if r, ess := chains.Rhat(x), chains.EssBulk(x); !(r < 1.01) || !(ess > 400) {
			t.Errorf("%s: R-hat %.4f, bulk ESS %.0f", name, r, ess)
			continue
		}
		m, se := chains.Mean(x), chains.McseMean(x)
		if math.Abs(m-mean[j]) > 4*se {
			t.Errorf("%s: mean %.6g, exact %.6g ± 4·%.3g", name, m, mean[j], se)
		}
		sq := make([][]float64, len(x))
		for c, s := range x {
			for _, u := range s {
				sq[c] = append(sq[c], (u-m)*(u-m))
			}
		}
		vm, vse := chains.Mean(sq), chains.McseMean(sq)
		if w := cov.At(j, j); math.Abs(vm-w) > 4*vse {
			t.Errorf("%s: variance %.6g, exact %.6g ± 4·%.3g", name, vm, w, vse)
		}
	}
}

// TestSampleConjugate runs epmc sample on the normal and linear models
// with a known sigma, whose (sub)posteriors are Gaussian in closed form,
// for the full posterior (M = 1) and one shard of M = 8 (the prior's
// precision divided by 8), and compares means and variances with the
// exact ones within 4 MCSE; with NUTS, and with the SMC sampler on one
// case (its runs are the chains, so R-hat and the MCSE compare runs).
func TestSampleConjugate(t *testing.T) {
	dir := t.TempDir()
	linPath, lin := writeSimulated(t, dir, "linear", models.SimConfig{N: 400, D: 2, Seed: 11, Sigma: 1.5})
	normPath, norm := writeSimulated(t, dir, "normal", models.SimConfig{N: 300, Seed: 12, Sigma: 2})
	const priorScale = 0.5 // small, so that tempering the prior shows
	for _, tc := range []struct {
		model   string
		shards  int
		shard   int
		sampler string
	}{
		{"normal", 1, 0, "nuts"}, {"normal", 8, 5, "nuts"}, {"linear", 1, 0, "nuts"}, {"linear", 8, 2, "nuts"},
		{"linear", 8, 2, "smc"},
	} {
		t.Run(tc.model+"-M"+strconv.Itoa(tc.shards)+"-"+tc.sampler, func(t *testing.T) {
			out := filepath.Join(dir, tc.model+strconv.Itoa(tc.shards)+tc.sampler+".arrow")
			args := []string{"sample", "--model", tc.model, "--shards", strconv.Itoa(tc.shards), "--shard", strconv.Itoa(tc.shard),
				"--prior-scale", strconv.FormatFloat(priorScale, 'g', -1, 64), "--draws", "2500", "--seed", "3",
				"--sampler", tc.sampler, "-o", out}
			var tab *data.Table
			var sigma float64
			var names []string
			if tc.model == "linear" {
				tab, sigma, names = lin, 1.5, []string{"alpha", "beta[1]", "beta[2]"}
				args = append(args, "--data", linPath, "--x", "x1,x2", "--sigma", "1.5")
			} else {
				tab, sigma, names = norm, 2, []string{"mu"}
				args = append(args, "--data", normPath, "--sigma", "2")
			}
			if _, errOut, code := cli(t, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			d, err := chains.ReadArrow(out)
			if err != nil {
				t.Fatal(err)
			}
			rows := data.Partition{Scheme: data.Hash, Seed: data.DefaultPartitionSeed, Shards: tc.shards}.Rows(tab.NumRows(), tc.shard)
			y, _ := tab.Column("y")
			var X [][]float64
			var ys []float64
			for _, i := range rows {
				row := []float64{1}
				if tc.model == "linear" {
					for _, c := range []string{"x1", "x2"} {
						col, _ := tab.Column(c)
						row = append(row, col[i])
					}
				}
				X = append(X, row)
				ys = append(ys, y[i])
			}
			mean, cov := gaussianPosterior(X, ys, sigma, priorScale, tc.shards)
			checkPosterior(t, d, names, mean, cov)
			if d.Meta.Shards != tc.shards || d.Meta.Shard != tc.shard || d.Meta.PriorPower != 1/float64(tc.shards) {
				t.Errorf("metadata shard %d of %d, prior power %g", d.Meta.Shard, d.Meta.Shards, d.Meta.PriorPower)
			}
			if !strings.HasPrefix(d.Meta.DataFingerprint, "sha256:") || d.Meta.Partition == "" || len(d.Meta.Model) == 0 {
				t.Errorf("metadata fingerprint %q, partition %q, model %s", d.Meta.DataFingerprint, d.Meta.Partition, d.Meta.Model)
			}
		})
	}
}

// TestSampleShardFromEnvironment: --shard falls back to
// SLURM_ARRAY_TASK_ID, then JOB_COMPLETION_INDEX.
func TestSampleShardFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeSimulated(t, dir, "normal", models.SimConfig{N: 40, Seed: 1})
	for _, tc := range []struct {
		name string
		env  map[string]string
		flag []string
		want int
	}{
		{"slurm", map[string]string{"SLURM_ARRAY_TASK_ID": "2"}, nil, 2},
		{"k8s", map[string]string{"JOB_COMPLETION_INDEX": "3"}, nil, 3},
		{"slurm first", map[string]string{"SLURM_ARRAY_TASK_ID": "1", "JOB_COMPLETION_INDEX": "3"}, nil, 1},
		{"flag wins", map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, []string{"--shard", "0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "s.arrow")
			args := append([]string{"sample", "--model", "normal", "--data", path, "--shards", "4", "--chains", "1",
				"--warmup", "50", "--draws", "20", "-o", out}, tc.flag...)
			if _, errOut, code := cliEnv(t, tc.env, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			d, err := chains.ReadArrow(out)
			if err != nil {
				t.Fatal(err)
			}
			if d.Meta.Shard != tc.want {
				t.Errorf("shard %d, want %d", d.Meta.Shard, tc.want)
			}
		})
	}
}

// TestSampleReproducible: the same seed gives the same file whatever
// --threads is.
func TestSampleReproducible(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeSimulated(t, dir, "logistic", models.SimConfig{N: 200, D: 3, Seed: 2})
	var files [][]byte
	for _, threads := range []string{"1", "4"} {
		out := filepath.Join(dir, "t"+threads+".arrow")
		if _, errOut, code := cli(t, "sample", "--model", "logistic", "--data", path, "--x", "x1,x2,x3", "--shards", "2", "--shard", "1",
			"--warmup", "200", "--draws", "100", "--seed", "8", "--threads", threads, "--no-timing", "--zstd", "-o", out); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("--threads 1 and --threads 4 wrote different files")
	}
}

// TestSampleBadInput: each fault is a one-line error naming it, with exit
// status 2 for bad usage and 1 for a failed run, and no output file.
func TestSampleBadInput(t *testing.T) {
	dir := t.TempDir()
	good, _ := writeSimulated(t, dir, "linear", models.SimConfig{N: 30, D: 2, Seed: 1})
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	str := write("string.csv", "y,x1,x2\n1,2,3\n2,abc,4\n3,1,1\n")
	empty := write("empty.csv", "")
	out := filepath.Join(dir, "out.arrow")
	base := func(data string, extra ...string) []string {
		return append([]string{"sample", "--model", "linear", "--data", data, "--x", "x1,x2", "--warmup", "20", "--draws", "10", "-o", out}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string
	}{
		{"missing column", []string{"sample", "--model", "linear", "--data", good, "--x", "x1,nope", "-o", out}, nil, 1, []string{"nope"}},
		{"string in numeric column", base(str), nil, 1, []string{"string.csv", "x1", "abc"}},
		{"empty file", base(empty), nil, 1, []string{"empty.csv", "empty"}},
		{"shard beyond shards", base(good, "--shards", "4", "--shard", "4"), nil, 2, []string{"--shard = 4", "0..3"}},
		{"shard from env beyond shards", base(good, "--shards", "2"), map[string]string{"SLURM_ARRAY_TASK_ID": "5"}, 2, []string{"SLURM_ARRAY_TASK_ID = 5"}},
		{"bad env shard", base(good, "--shards", "2"), map[string]string{"JOB_COMPLETION_INDEX": "x"}, 2, []string{"JOB_COMPLETION_INDEX"}},
		{"no shard", base(good, "--shards", "2"), nil, 2, []string{"--shard is required"}},
		{"unknown model", []string{"sample", "--model", "probit", "--data", good, "-o", out}, nil, 2, []string{`unknown model "probit"`}},
		{"no data", []string{"sample", "--model", "linear", "-o", out}, nil, 2, []string{"--data is required"}},
		{"no output", []string{"sample", "--model", "linear", "--data", good}, nil, 2, []string{"-o is required"}},
		{"missing data file", base(filepath.Join(dir, "absent.csv")), nil, 1, []string{"absent.csv"}},
		{"unknown sampler", base(good, "--sampler", "gibbs"), nil, 2, []string{`--sampler: unknown sampler "gibbs"`}},
		{"bad metric", base(good, "--metric", "full"), nil, 2, []string{"--metric"}},
		{"nuts flag with rwm", base(good, "--sampler", "rwm", "--max-depth", "12"), nil, 2, []string{"--max-depth applies to --sampler nuts only"}},
		{"bad adapt delta", base(good, "--adapt-delta", "1.5"), nil, 2, []string{"--adapt-delta"}},
		{"negative threads", base(good, "--threads", "-2"), nil, 2, []string{"--threads must not be negative"}},
		{"bad partition", base(good, "--partition", "random"), nil, 2, []string{"--partition", "random"}},
		{"too many shards", base(good, "--shards", "40", "--shard", "39"), nil, 1, []string{"no rows"}},
		{"positional argument", append(base(good), "extra"), nil, 2, []string{`unexpected argument "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cliEnv(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, errOut)
			}
			first, _, _ := strings.Cut(errOut, "\n")
			for _, w := range tc.want {
				if !strings.Contains(first, w) {
					t.Errorf("error %q does not mention %q", first, w)
				}
			}
			if code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an output file was left behind")
			}
			if entries, _ := filepath.Glob(filepath.Join(dir, ".out.arrow*")); len(entries) > 0 {
				t.Errorf("temporary files left behind: %v", entries)
			}
		})
	}
}

// TestSampleInterrupted: a cancelled context (Ctrl-C, SIGTERM) stops the
// run with exit status 1 and leaves no file under the output name.
func TestSampleInterrupted(t *testing.T) {
	dir := t.TempDir()
	path, _ := writeSimulated(t, dir, "normal", models.SimConfig{N: 40, Seed: 1})
	out := filepath.Join(dir, "x.arrow")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := run(e, []string{"sample", "--model", "normal", "--data", path, "-o", out})
	if code != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the data file", len(entries))
	}
}
