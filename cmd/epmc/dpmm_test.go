package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epmc/epmc/auxdp"
	"github.com/epmc/epmc/chains"
)

const faithful = "../../testdata/auxdp/faithful.csv"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDPMMFaithful(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run.arrow")
	labels := filepath.Join(dir, "labels.csv")
	newPts := writeFile(t, "new.csv", "eruptions,waiting\n2,55\n4.5,80\n")
	stdout, stderr, code := cli(t, "dpmm", "--data", faithful, "--procs", "2", "--iters", "60", "--split-merge",
		"--seed", "3", "-o", out, "--labels", labels, "--predict", newPts)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"272 rows × 2 columns", "last state (iteration 60): K =", "eruptions", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	d, err := chains.ReadArrow(out)
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.Kind != auxdp.KindTrace || d.NumIter() != 30 || d.Index(auxdp.ProcPointsCol(2)) < 0 {
		t.Fatalf("trace: kind %q, %d iterations, names %v", d.Meta.Kind, d.NumIter(), d.Names)
	}
	draws, err := auxdp.ReadAssignments(auxdp.AssignmentsPath(out))
	if err != nil || len(draws) != 30 || len(draws[0].Labels) != 272 {
		t.Fatalf("assignments: %v, %d draws", err, len(draws))
	}
	lb, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(lb)), "\n")
	if len(lines) != 273 || lines[0] != "row,last,most_probable,probability" {
		t.Fatalf("labels file: %d lines, header %q", len(lines), lines[0])
	}
	pred, err := os.ReadFile(filepath.Join(dir, "run.predict.csv"))
	if err != nil {
		t.Fatal(err)
	}
	pl := strings.Split(strings.TrimSpace(string(pred)), "\n")
	if len(pl) != 3 || !strings.HasPrefix(pl[0], "row,log_density,p_1,") || !strings.HasSuffix(pl[0], ",p_new") {
		t.Fatalf("predictions:\n%s", pred)
	}
}

// TestDPMMWorkersIdentical checks the assignment file does not depend on
// the number of workers.
func TestDPMMWorkersIdentical(t *testing.T) {
	dir := t.TempDir()
	var files [][]byte
	for _, w := range []string{"1", "2"} {
		out := filepath.Join(dir, "w"+w+".arrow")
		if _, stderr, code := cli(t, "dpmm", "--data", faithful, "--procs", "3", "--workers", w, "--iters", "20",
			"--process", "py", "--placement", "balanced", "--seed", "5", "-o", out); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, err := os.ReadFile(auxdp.AssignmentsPath(out))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("--workers 1 and 2 wrote different assignment files")
	}
}

func TestDPMMBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.arrow")
	text := writeFile(t, "text.csv", "a,b\n1,2\n3,abc\n5,6\n")
	neg := writeFile(t, "neg.csv", "w1,w2,w3\n1,0,2\n0,-1,3\n")
	wide := writeFile(t, "wide.csv", "a,b,c,d\n1,2,3,4\n5,6,7,9\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"non-numeric", []string{"--data", text}, 1, `"abc" is not a number`},
		{"negative counts", []string{"--data", neg, "--likelihood", "multinomial"}, 1, `column "w2" has the negative count -1`},
		{"d larger than N", []string{"--data", wide}, 1, "4 columns but only 2 rows"},
		{"procs 0", []string{"--data", faithful, "--procs", "0"}, 2, "--procs must be at least 1"},
		{"alpha and prior", []string{"--data", faithful, "--alpha", "1", "--alpha-prior", "2,2"}, 2, "either --alpha"},
		{"bad prior", []string{"--data", faithful, "--alpha-prior", "2"}, 2, "--alpha-prior wants two numbers"},
		{"bad likelihood", []string{"--data", faithful, "--likelihood", "poisson"}, 2, "--likelihood must be"},
		{"burn too long", []string{"--data", faithful, "--iters", "10", "--burn", "10"}, 2, "--burn 10 leaves no draws"},
		{"discount for dp", []string{"--data", faithful, "--discount", "0.5"}, 2, "--discount needs --process py"},
		{"missing column", []string{"--data", faithful, "--cols", "eruptions,height"}, 1, `"height"`},
		{"missing file", []string{"--data", filepath.Join(dir, "nope.csv")}, 1, "does not exist"},
		{"no data flag", []string{}, 2, "--data is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"dpmm", "-o", out, "--iters", "5"}, tc.args...)
			_, stderr, code := cli(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left an output file")
	}
}
