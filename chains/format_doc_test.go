package chains

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// docSnippets returns the code blocks of docs/FORMAT.md that follow a
// "<!-- snippet: NAME -->" line, by name.
func docSnippets(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "FORMAT.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- snippet: ([a-z-]+) -->\\s*```[a-z]*\\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllSubmatch(b, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// snippetDraws are the draws the snippets read: 2 chains, 3 saved warmup
// rows, a vector and a column-major matrix, sampler statistics.
func snippetDraws() *Draws {
	names := []string{LP, AcceptStat, Divergent, "mu", "beta[1]", "beta[2]", "Sigma[1,1]", "Sigma[2,1]", "Sigma[1,2]", "Sigma[2,2]"}
	d := New(names, 2, 3+7)
	r := rand.New(rand.NewPCG(11, 12))
	for _, ch := range d.Values {
		for v, s := range ch {
			for i := range s {
				switch names[v] {
				case Divergent:
					s[i] = float64(r.IntN(2))
				case AcceptStat:
					s[i] = r.Float64()
				default:
					s[i] = r.NormFloat64()
				}
			}
		}
	}
	seed := uint64(5)
	d.Warmup = 3
	d.Meta = Meta{Kind: KindFull, Seed: &seed, Version: "doc",
		Params: []Param{{Name: "mu"}, {Name: "beta", Shape: []int{2}}, {Name: "Sigma", Shape: []int{2, 2}}}}
	return d
}

// pythons are the interpreters tried in turn: the first on PATH, then
// Debian's, which may have packages a pyenv interpreter lacks.
var pythons = []string{"python3", "/usr/bin/python3"}

// missingPackage tells whether a run failed only because a Python module
// or an R package is not installed.
func missingPackage(stderr string) bool {
	return strings.Contains(stderr, "ModuleNotFoundError") || strings.Contains(stderr, "there is no package called") || strings.Contains(stderr, "ERR_MODULE_NOT_FOUND")
}

// TestFormatDocSnippets runs the read snippets of docs/FORMAT.md on files
// epmc writes, each when its language and packages are installed, and
// checks what they read: the metadata, the number of post-warmup draws
// (saved warmup dropped), a mean, and for ArviZ the reshaping of Stan's
// column-major matrix elements.
func TestFormatDocSnippets(t *testing.T) {
	snippets := docSnippets(t)
	for _, name := range []string{"python-pyarrow", "python-pandas-csv", "python-polars", "python-arviz", "r-arrow", "r-csv", "js"} {
		if snippets[name] == "" {
			t.Fatalf("docs/FORMAT.md has no snippet %q", name)
		}
	}
	dir := t.TempDir()
	d := snippetDraws()
	if err := WriteFile(filepath.Join(dir, "draws.arrow"), d, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSVFile(filepath.Join(dir, "draws.csv"), d); err != nil {
		t.Fatal(err)
	}
	mu := d.Index("mu")
	post := 0.0
	for _, s := range d.Series(mu) {
		for _, x := range s {
			post += x
		}
	}
	wantMean := post / float64(d.NumDraws())

	// run runs code with the first of progs that has what it needs, and
	// returns the last line it prints; it skips when none has.
	run := func(t *testing.T, progs []string, file, code string) string {
		t.Helper()
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, prog := range progs {
			path, err := exec.LookPath(prog)
			if err != nil {
				missing = append(missing, prog+" not found")
				continue
			}
			cmd := exec.Command(path, p)
			cmd.Dir = dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil && missingPackage(stderr.String()) {
				why := "a package is missing"
				for _, l := range strings.Split(stderr.String(), "\n") {
					if missingPackage(l) {
						why = strings.TrimSpace(l)
					}
				}
				missing = append(missing, prog+": "+why)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v\n%s\n--- program:\n%s", prog, err, stderr.String(), code)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			return lines[len(lines)-1]
		}
		t.Skipf("cannot run this snippet here (%s)", strings.Join(missing, "; "))
		return ""
	}
	// checkLine parses "kind n mean" printed by a check appended to a snippet.
	checkLine := func(t *testing.T, line string) {
		t.Helper()
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("check output %q", line)
		}
		n, _ := strconv.Atoi(f[1])
		m, _ := strconv.ParseFloat(f[2], 64)
		if f[0] != "full" || n != d.NumDraws() || math.Abs(m-wantMean) > 1e-12 {
			t.Errorf("read kind %s, %d draws, mean(mu) %v; want full, %d, %v", f[0], n, m, d.NumDraws(), wantMean)
		}
	}
	const pyCheck = "\nprint(meta['epmc.kind'], len(df), repr(float(df['mu'].mean())))\n"

	t.Run("python-pandas-csv", func(t *testing.T) {
		t.Parallel()
		checkLine(t, run(t, pythons, "pandas_csv.py", snippets["python-pandas-csv"]+pyCheck))
	})
	t.Run("python-pyarrow", func(t *testing.T) {
		t.Parallel()
		checkLine(t, run(t, pythons, "pyarrow_read.py", snippets["python-pyarrow"]+pyCheck))
	})
	t.Run("python-polars", func(t *testing.T) {
		t.Parallel()
		check := "\nprint(meta['epmc.kind'], df.height, repr(float(df['mu'].mean())))\n"
		checkLine(t, run(t, pythons, "polars_read.py", snippets["python-polars"]+check))
	})
	t.Run("python-arviz", func(t *testing.T) {
		t.Parallel()
		// ArviZ is not packaged everywhere: without it, a stand-in
		// from_dict that returns its arguments still tests the reshaping.
		stub := "try:\n    import arviz\nexcept ModuleNotFoundError:\n    import sys, types\n" +
			"    sys.modules['arviz'] = types.SimpleNamespace(from_dict=lambda **kw: kw)\n"
		check := `
import json as _json
post = idata.posterior if hasattr(idata, "posterior") else idata["posterior"]
stats = idata.sample_stats if hasattr(idata, "sample_stats") else idata["sample_stats"]
print(_json.dumps({"Sigma": [[[[float(post["Sigma"][c, k, i, j]) for j in range(2)] for i in range(2)] for k in range(ndraws)] for c in range(nchains)],
                   "beta_shape": list(post["beta"].shape), "mu_shape": list(post["mu"].shape),
                   "diverging": [[bool(x) for x in row] for row in stats["diverging"]], "lp": float(stats["lp"][1, 0])}))
`
		out := run(t, pythons, "arviz_read.py", stub+snippets["python-pandas-csv"]+snippets["python-arviz"]+check)
		var got struct {
			Sigma     [][][][]float64 `json:"Sigma"`
			BetaShape []int           `json:"beta_shape"`
			MuShape   []int           `json:"mu_shape"`
			Diverging [][]bool        `json:"diverging"`
			LP        float64         `json:"lp"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		n := d.NumIter()
		if fmt.Sprint(got.BetaShape) != fmt.Sprint([]int{2, n, 2}) || fmt.Sprint(got.MuShape) != fmt.Sprint([]int{2, n}) {
			t.Errorf("shapes beta %v mu %v", got.BetaShape, got.MuShape)
		}
		for c := range 2 {
			for k := range n {
				for i := range 2 {
					for j := range 2 {
						v := d.Index(fmt.Sprintf("Sigma[%d,%d]", i+1, j+1))
						if want := d.Values[c][v][d.Warmup+k]; got.Sigma[c][k][i][j] != want {
							t.Fatalf("Sigma[chain %d, draw %d, %d, %d] = %v, want %v", c+1, k+1, i+1, j+1, got.Sigma[c][k][i][j], want)
						}
					}
				}
				if got.Diverging[c][k] != (d.Values[c][d.Index(Divergent)][d.Warmup+k] == 1) {
					t.Fatalf("diverging chain %d draw %d", c+1, k+1)
				}
			}
		}
		if got.LP != d.Values[1][d.Index(LP)][d.Warmup] {
			t.Errorf("lp[chain 2, draw 1] = %v", got.LP)
		}
	})
	rCheck := "\ncat(meta[[\"epmc.kind\"]], ndraws(x), sprintf(\"%.17g\", mean(x$mu)), \"\\n\")\n"
	t.Run("r-csv", func(t *testing.T) {
		t.Parallel()
		checkLine(t, run(t, []string{"Rscript"}, "read_csv.R", snippets["r-csv"]+rCheck))
	})
	t.Run("r-arrow", func(t *testing.T) {
		t.Parallel()
		checkLine(t, run(t, []string{"Rscript"}, "read_arrow.R", snippets["r-arrow"]+rCheck))
	})
	t.Run("js", func(t *testing.T) {
		t.Parallel()
		deps := os.Getenv("EPMC_JS_DEPS")
		if deps == "" {
			t.Skip("needs EPMC_JS_DEPS, a directory where npm install --prefix DIR apache-arrow@21.2.0 was run")
		}
		nm, _ := filepath.Abs(filepath.Join(deps, "node_modules"))
		if err := os.Symlink(nm, filepath.Join(dir, "node_modules")); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		check := "\nconsole.log(meta[\"epmc.kind\"], column(\"mu\").length, column(\"mu\").reduce((a, b) => a + b, 0) / column(\"mu\").length);\n"
		checkLine(t, run(t, []string{"node"}, "read.mjs", snippets["js"]+check))
	})
}
