package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// seriesFile writes content to a file in a temporary directory.
func seriesFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// simulateSeries runs epmc filter --simulate and returns the CSV path.
func simulateSeries(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "series.csv")
	_, stderr, code := cli(t, append([]string{"filter", "--simulate", "100", "-o", out}, args...)...)
	if code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	return out
}

func TestFilterLGSSArrowOutput(t *testing.T) {
	series := simulateSeries(t, "--model", "lgss", "--params", "rho=0.9,sigma_x=1,sigma_y=0.2", "--seed", "4")
	b, err := os.ReadFile(series)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 101 || lines[0] != "t,x,y" {
		t.Fatalf("series: %d lines, header %q", len(lines), lines[0])
	}
	out := filepath.Join(t.TempDir(), "filtered.arrow")
	stdout, stderr, code := cli(t, "filter", "--model", "lgss", "--data", series, "--column", "y",
		"--particles", "2000", "--resample", "systematic", "--seed", "5", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"lgss(rho=0.9,sigma_x=1,sigma_y=0.2): T = 100, bootstrap filter, N = 2000", "log-evidence ", "Kalman log-evidence", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, fl := range r.Schema().Fields() {
		names = append(names, fl.Name)
	}
	if got := strings.Join(names, ","); got != "replicate,t,mean,var,ess,resampled,log_evidence,kalman_mean,kalman_var,kalman_log_evidence" {
		t.Fatalf("columns %s", got)
	}
	if kind, _ := r.Schema().Metadata().GetValue("epmc.kind"); kind != "filter" {
		t.Errorf("epmc.kind = %q", kind)
	}
	rec, err := r.Record(0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumRows() != 100 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	tcol := rec.Column(1).(*array.Int32)
	mean := rec.Column(2).(*array.Float64)
	kmean := rec.Column(7).(*array.Float64)
	kvar := rec.Column(8).(*array.Float64)
	for i := range 100 {
		if tcol.Value(i) != int32(i) {
			t.Fatalf("t[%d] = %d", i, tcol.Value(i))
		}
		// N = 2000 particles: the filtering mean is within a few posterior
		// sds / √(ESS) of Kalman's; 6 sds of the filter itself is generous.
		if d := math.Abs(mean.Value(i) - kmean.Value(i)); d > 6*math.Sqrt(kvar.Value(i)) {
			t.Errorf("t=%d: mean %.4f, Kalman %.4f", i, mean.Value(i), kmean.Value(i))
		}
	}
}

func TestFilterReplicatesJSON(t *testing.T) {
	series := simulateSeries(t, "--seed", "6")
	run := func(workers string) filterSummary {
		stdout, stderr, code := cli(t, "filter", "--data", series, "--particles", "3000", "--replicates", "8",
			"--format", "json", "--workers", workers, "--seed", "7")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var s filterSummary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		return s
	}
	s := run("1")
	if s.Replicates != 8 || s.Particles != 3000 || len(s.LogEvidences) != 8 || s.LogEvidenceMCSE == nil ||
		s.KalmanLogEvidence == nil || s.Seconds <= 0 || s.T != 100 {
		t.Fatalf("summary %+v", s)
	}
	// Bias-corrected mean within 5 standard errors of the exact value.
	corrected := s.LogEvidenceMean + *s.LogEvidenceSD**s.LogEvidenceSD/2
	if d := corrected - *s.KalmanLogEvidence; math.Abs(d) > 5**s.LogEvidenceMCSE {
		t.Errorf("log-evidence %.4f ± %.4f, Kalman %.4f", corrected, *s.LogEvidenceMCSE, *s.KalmanLogEvidence)
	}
	// The raw output has the field names the brief asks for.
	stdout, _, _ := cli(t, "filter", "--data", series, "--particles", "100", "--replicates", "2", "--format", "json")
	for _, k := range []string{`"log_evidence_mean"`, `"log_evidence_mcse"`, `"replicates"`, `"particles"`, `"seconds"`, `"kalman_log_evidence"`} {
		if !strings.Contains(stdout, k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
	if s2 := run("3"); !equalFloats(s.LogEvidences, s2.LogEvidences) {
		t.Errorf("--workers changed the results: %v vs %v", s.LogEvidences, s2.LogEvidences)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFilterStochVolCSVOutput(t *testing.T) {
	series := simulateSeries(t, "--model", "stochvol", "--seed", "8")
	// A multi-column file without y: the column must be named.
	b, err := os.ReadFile(series)
	if err != nil {
		t.Fatal(err)
	}
	renamed := seriesFile(t, "returns.csv", strings.Replace(string(b), "t,x,y", "t,x,r", 1))
	out := filepath.Join(t.TempDir(), "sv.csv")
	stdout, stderr, code := cli(t, "filter", "--model", "stochvol", "--data", renamed, "--column", "r",
		"--proposal", "guided", "--particles", "500", "--replicates", "3", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "guided filter") || !strings.Contains(stdout, "over 3 replicates") || strings.Contains(stdout, "Kalman") {
		t.Errorf("output:\n%s", stdout)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 301 || lines[0] != "replicate,t,mean,var,ess,resampled,log_evidence" {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[1], "1,0,") || !strings.HasPrefix(lines[300], "3,99,") {
		t.Errorf("rows %q … %q", lines[1], lines[300])
	}
}

func TestFilterSimulateToStdout(t *testing.T) {
	stdout, stderr, code := cli(t, "filter", "--simulate", "5", "--model", "stochvol")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 || lines[0] != "t,x,y" {
		t.Fatalf("%q", stdout)
	}
	again, _, _ := cli(t, "filter", "--simulate", "5", "--model", "stochvol")
	if again != stdout {
		t.Error("the same seed simulated a different series")
	}
}

func TestFilterErrors(t *testing.T) {
	good := seriesFile(t, "good.csv", "t,y\n0,0.5\n1,-0.2\n2,0.1\n")
	nan := seriesFile(t, "nan.csv", "t,y\n0,0.5\n1,NaN\n2,0.1\n")
	wide := seriesFile(t, "wide.csv", "a,b\n1,2\n3,4\n")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"NaN in series", []string{"--data", nan}, 1, "nan.csv"},
		{"NaN message", []string{"--data", nan}, 1, "not finite"},
		{"one particle", []string{"--data", good, "--particles", "1"}, 2, "--particles must be at least 2, got 1"},
		{"threshold 0", []string{"--data", good, "--threshold", "0"}, 2, "--threshold must be in (0, 1], got 0"},
		{"threshold 1.5", []string{"--data", good, "--threshold", "1.5"}, 2, "--threshold must be in (0, 1], got 1.5"},
		{"unknown model", []string{"--data", good, "--model", "arma"}, 2, `--model "arma": want lgss or stochvol`},
		{"bad parameter value", []string{"--data", good, "--params", "rho=2"}, 2, "rho = 2 must lie in (-1, 1)"},
		{"unknown parameter", []string{"--data", good, "--params", "mu=1"}, 2, `model lgss has no parameter "mu"`},
		{"not a number", []string{"--data", good, "--params", "rho=abc"}, 2, `rho = "abc" is not a finite number`},
		{"negative sigma", []string{"--model", "stochvol", "--data", good, "--params", "sigma=-1"}, 2, "sigma = -1 must be positive"},
		{"missing column", []string{"--data", good, "--column", "z"}, 1, `"z"`},
		{"ambiguous columns", []string{"--data", wide}, 2, "--column is required"},
		{"no data", nil, 2, "--data (a series to filter) or --simulate T is required"},
		{"data and simulate", []string{"--data", good, "--simulate", "10"}, 2, "not both"},
		{"bad scheme", []string{"--data", good, "--resample", "bogus"}, 2, `unknown resampling scheme "bogus"`},
		{"bad proposal", []string{"--data", good, "--proposal", "apf"}, 2, "--proposal must be bootstrap or guided"},
		{"bad format", []string{"--data", good, "--format", "xml"}, 2, "--format must be text or json"},
		{"no replicates", []string{"--data", good, "--replicates", "0"}, 2, "--replicates must be at least 1"},
		{"missing file", []string{"--data", filepath.Join(t.TempDir(), "none.csv")}, 1, "does not exist"},
		{"stray argument", []string{"--data", good, "extra"}, 2, `unexpected argument "extra"`},
		{"negative simulate", []string{"--simulate", "-3"}, 2, "--simulate must be at least 1"},
		{"output over the data", []string{"--data", good, "-o", good}, 2, "would overwrite the data file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := cli(t, append([]string{"filter"}, c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
	if b, err := os.ReadFile(good); err != nil || string(b) != "t,y\n0,0.5\n1,-0.2\n2,0.1\n" {
		t.Errorf("the data file changed: %q, %v", b, err)
	}
	// A failed run leaves no output file behind.
	out := filepath.Join(t.TempDir(), "out.arrow")
	if _, _, code := cli(t, "filter", "--data", nan, "-o", out); code != 1 {
		t.Fatal("NaN series did not fail")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output written despite the error: %v", err)
	}
}
