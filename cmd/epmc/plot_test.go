package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
)

// writePlotDraws writes a draws file of the given kind with parameters
// names: normal draws around shift, 2 chains × 200 iterations, 50 saved
// warmup iterations.
func writePlotDraws(t *testing.T, path string, kind chains.Kind, names []string, shard int, shift float64) {
	t.Helper()
	const warm, iters = 50, 200
	d := chains.New(append(slices.Clone(names), chains.LP), 2, warm+iters)
	d.Warmup = warm
	for c := range 2 {
		r := rng.NewRand(9, uint64(shard+10), uint64(c))
		for v := range names {
			for i := range warm + iters {
				d.Values[c][v][i] = shift + 0.3*float64(v) + r.NormFloat64()
			}
		}
	}
	d.Meta.Kind = kind
	d.Meta.Model = json.RawMessage(`{"name":"logistic"}`)
	switch kind {
	case chains.KindSubposterior:
		d.Meta.Shard, d.Meta.Shards = shard, 3
	case chains.KindCombined:
		d.Meta.Combine = json.RawMessage(fmt.Sprintf(`{"method":"method%d","shards":3}`, shard))
	}
	if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// plotInputs writes 3 shards, 2 combined files and a full-data run with
// the parameters names into dir and returns their paths.
func plotInputs(t *testing.T, dir string, names []string) (shards, combined []string, full string) {
	t.Helper()
	for m := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("shard-%d.arrow", m))
		writePlotDraws(t, p, chains.KindSubposterior, names, m, 0.2*float64(m))
		shards = append(shards, p)
	}
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("comb-%d.arrow", i))
		writePlotDraws(t, p, chains.KindCombined, names, i, 0.05*float64(i))
		combined = append(combined, p)
	}
	full = filepath.Join(dir, "full.arrow")
	writePlotDraws(t, full, chains.KindFull, names, 7, 0)
	return shards, combined, full
}

// checkImage decodes a PNG and checks its size (when w > 0) and that it is
// not blank.
func checkImage(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if w > 0 && (b.Dx() != w || b.Dy() != h) {
		t.Errorf("%s is %d×%d, want %d×%d", path, b.Dx(), b.Dy(), w, h)
	}
	colours := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			colours[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	white := colours[color.RGBA{255, 255, 255, 255}]
	if len(colours) < 10 || float64(white) > 0.99*float64(b.Dx()*b.Dy()/4) {
		t.Errorf("%s looks blank: %d colours, %d of %d sampled pixels white", path, len(colours), white, b.Dx()*b.Dy()/4)
	}
}

func TestPlotKinds(t *testing.T) {
	dir := t.TempDir()
	names := []string{"alpha", "beta[1]", "beta[2]"}
	shards, combined, full := plotInputs(t, dir, names)
	inputs := append(slices.Clone(shards), combined...)
	cases := []struct {
		kind string
		args []string
		want []string
	}{
		{"marginals", append([]string{"--ref", full}, inputs...), []string{"marginals.png"}},
		{"pairs", append([]string{"--ref", full}, inputs...), []string{"pairs.png"}},
		{"trace", shards[:2], []string{"trace-shard-0.png", "trace-shard-1.png"}},
		{"rank", combined, []string{"rank-comb-0.png", "rank-comb-1.png"}},
		{"compare", append([]string{"--ref", full}, combined...), []string{"compare.png"}},
		// A full-data file among the inputs becomes the reference.
		{"compare", append(slices.Clone(combined), full), []string{"compare.png"}},
		{"all", append(slices.Clone(inputs), full), []string{
			"marginals.png", "pairs.png", "compare.png",
			"trace-shard-0.png", "trace-shard-1.png", "trace-shard-2.png", "trace-comb-0.png", "trace-comb-1.png", "trace-full.png",
			"rank-shard-0.png", "rank-shard-1.png", "rank-shard-2.png", "rank-comb-0.png", "rank-comb-1.png", "rank-full.png",
		}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.kind, i), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "figs")
			stdout, stderr, code := cli(t, append([]string{"plot", "--kind", c.kind, "-o", out}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			entries, _ := os.ReadDir(out)
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("wrote %v, want %v", got, want)
			}
			for _, n := range want {
				p := filepath.Join(out, n)
				if !strings.Contains(stdout, p+"\n") {
					t.Errorf("stdout does not list %s: %q", p, stdout)
				}
				checkImage(t, p, 0, 0)
			}
		})
	}
}

func TestPlotSizeAndFormat(t *testing.T) {
	dir := t.TempDir()
	_, combined, full := plotInputs(t, dir, []string{"a", "b"})
	out := filepath.Join(dir, "figs")
	if _, stderr, code := cli(t, "plot", "--ref", full, "--width", "7", "--height", "4.5", "--dpi", "100", "-o", out, combined[0]); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checkImage(t, filepath.Join(out, "marginals.png"), 700, 450)
	if _, stderr, code := cli(t, "plot", "--kind", "pairs", "--format", "svg", "-o", out, combined[0]); code != 0 {
		t.Fatalf("svg: exit %d: %s", code, stderr)
	}
	svg, err := os.ReadFile(filepath.Join(out, "pairs.svg"))
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("pairs.svg: %v, starts %q", err, svg[:min(len(svg), 40)])
	}
}

func TestPlotTruncates(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for j := range 20 {
		names = append(names, fmt.Sprintf("theta[%d]", j+1))
	}
	p := filepath.Join(dir, "wide.arrow")
	writePlotDraws(t, p, chains.KindFull, names, 0, 0)
	out := filepath.Join(dir, "figs")
	_, stderr, code := cli(t, "plot", "-o", out, p)
	if code != 0 || !strings.Contains(stderr, "drawing the first 16 of 20 parameters") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = cli(t, "plot", "--max-params", "0", "-o", out, p)
	if code != 0 || stderr != "" {
		t.Errorf("--max-params 0: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = cli(t, "plot", "--params", `^theta\[1\d\]$`, "-o", out, p)
	if code != 0 || stderr != "" {
		t.Errorf("--params: exit %d, stderr %q", code, stderr)
	}
}

func TestPlotErrors(t *testing.T) {
	dir := t.TempDir()
	shards, combined, full := plotInputs(t, dir, []string{"alpha", "beta[1]"})
	other := filepath.Join(dir, "other.arrow")
	writePlotDraws(t, other, chains.KindCombined, []string{"alpha", "gamma"}, 5, 0)
	notDir := filepath.Join(dir, "file.txt")
	os.WriteFile(notDir, []byte("x"), 0o644)
	out := filepath.Join(dir, "figs")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"regex matches nothing", []string{"--params", "^tau", "-o", out, shards[0]}, 2,
			[]string{`--params "^tau" matches none of the parameters`, shards[0], "alpha, beta[1]"}},
		{"bad regex", []string{"--params", "beta[", "-o", out, shards[0]}, 2, []string{`--params "beta[" is not a valid regular expression`}},
		{"different parameters", []string{"-o", out, shards[0], other}, 1,
			[]string{shards[0] + " and " + other + " have different parameters", "gamma is in " + other + " only"}},
		{"unwritable output", []string{"-o", filepath.Join(notDir, "figs"), shards[0]}, 1,
			[]string{"output directory", notDir}},
		{"output is a file", []string{"-o", notDir, shards[0]}, 1, []string{notDir}},
		{"compare without reference", []string{"--kind", "compare", "-o", out, combined[0]}, 2, []string{"needs a reference"}},
		{"missing file", []string{"-o", out, filepath.Join(dir, "nope.arrow")}, 1, []string{"nope.arrow"}},
		{"no files", []string{"-o", out}, 2, []string{"no draws files"}},
		{"no output", []string{shards[0]}, 2, []string{"-o DIR is required"}},
		{"bad kind", []string{"--kind", "violin", "-o", out, shards[0]}, 2, []string{`--kind "violin"`}},
		{"bad dpi", []string{"--dpi", "5", "-o", out, shards[0]}, 2, []string{"--dpi 5"}},
		{"bad format", []string{"--format", "gif", "-o", out, shards[0]}, 2, []string{`--format "gif"`}},
		{"bad size", []string{"--width", "-3", "-o", out, shards[0]}, 2, []string{"--width"}},
		{"figure too small", []string{"--kind", "pairs", "--width", "1.2", "--height", "1.2", "-o", out, full}, 1, []string{"too small"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := cli(t, append([]string{"plot"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", code, c.code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
	// Nothing half-written is left behind by the failed runs.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".png") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("stray file %s in the output directory", e.Name())
		}
	}
}

// TestPlotRoles checks which file becomes the reference.
func TestPlotRoles(t *testing.T) {
	dir := t.TempDir()
	shards, combined, full := plotInputs(t, dir, []string{"alpha"})
	files, err := readPlotFiles(append(slices.Clone(shards), combined[0], full), "")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, f := range files {
		roles = append(roles, f.set.Label+":"+f.set.Role.String())
	}
	want := []string{"shard 0:subposterior", "shard 1:subposterior", "shard 2:subposterior", "method0:combined", "full data:reference"}
	if !slices.Equal(roles, want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
	// With --ref, a full-data input is drawn like a combined file; equal
	// labels get the file names.
	files, err = readPlotFiles([]string{full}, full)
	if err != nil {
		t.Fatal(err)
	}
	if files[0].set.Role.String() != "combined" || files[1].set.Role.String() != "reference" ||
		files[0].set.Label != "full data (full.arrow)" {
		t.Errorf("with --ref: %+v / %+v", files[0].set.Label, files[1].set.Label)
	}
	// A lone full-data file is just drawn.
	files, _ = readPlotFiles([]string{full}, "")
	if files[0].set.Role.String() != "combined" {
		t.Errorf("lone full file has role %v", files[0].set.Role)
	}
}
