//go:build long

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epmc/epmc/chains"
)

// TestDemo runs "epmc demo" as a user does, in an empty directory, checks
// what it promises (consensus and semiparametric within 0.15 posterior sd
// of the full-data means, every figure, 4 shard files) and that its output
// still looks as the README shows; then runs it again on the same
// directory, which keeps every shard.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(self, "demo")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EPMC_TEST_AS_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("epmc demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("epmc demo took %.1fs (machine under test load)\n%s", time.Since(start).Seconds(), stdout.String())
	out := filepath.Join(dir, "epmc-demo")

	var rows []methodDistance
	b, err := os.ReadFile(filepath.Join(out, "summary", "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Method] = true
		if (r.Method == "consensus" || r.Method == "semiparametric") && !(r.Distances.MaxMeanErrorSD < demoLimit) {
			t.Errorf("%s: max mean error %.3f sd, want below %.2f", r.Method, r.Distances.MaxMeanErrorSD, demoLimit)
		}
	}
	for _, m := range []string{"consensus", "parametric", "semiparametric", "nonparametric"} {
		if !seen[m] {
			t.Errorf("no comparison for %s", m)
		}
	}
	for _, f := range []string{"marginals.png", "pairs.png", "compare.png"} {
		if st, err := os.Stat(filepath.Join(out, "plots", f)); err != nil || st.Size() < 10000 {
			t.Errorf("plots/%s missing or tiny: %v", f, err)
		}
	}
	for m := range demoShards {
		d, err := chains.ReadArrow(filepath.Join(out, "shards", "shard-000"+string(rune('0'+m))+".arrow"))
		if err != nil {
			t.Fatal(err)
		}
		if d.Meta.Shards != demoShards || d.Meta.Shard != m || d.Meta.Kind != chains.KindSubposterior {
			t.Errorf("shard %d: meta %+v", m, d.Meta)
		}
	}
	for _, want := range []string{"shard 3: done", "reference: done", "combined semiparametric"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}

	// The README shows the demo's output.
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fences(string(md))
	found := false
	for i, b := range blocks {
		if b.lang == "sh" && strings.Contains(b.text, "go run ./cmd/epmc demo") && i+1 < len(blocks) && blocks[i+1].lang == "text" {
			found = true
			if !matchOutput(blocks[i+1].text, stdout.String()) {
				t.Errorf("README.md line %d no longer shows the demo's output; now:\n%s", blocks[i+1].line, stdout.String())
			}
		}
	}
	if !found {
		t.Error("README.md shows no output of go run ./cmd/epmc demo")
	}

	// Again in the same directory: every shard and the reference are kept.
	cmd = exec.Command(self, "demo", "-o", "epmc-demo")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EPMC_TEST_AS_MAIN=1")
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("epmc demo again: %v\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "is complete and matches this run, kept"); n != demoShards+1 {
		t.Errorf("second run kept %d files, want %d:\n%s", n, demoShards+1, stderr.String())
	}
}
