package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
)

const goldenDir = "../../testdata/posterior"

// readGoldenTable reads one of the CSV files of testdata/posterior.
func readGoldenTable(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return recs[0], recs[1:]
}

func parseR(t *testing.T, s string) float64 {
	t.Helper()
	if s == "NA" {
		return math.NaN()
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// goldenSetDraws reads testdata/posterior/draws/<set>.csv into Draws; ok is
// false when the set holds non-finite values, which draws files refuse.
func goldenSetDraws(t *testing.T, set string) (d *chains.Draws, ok bool) {
	t.Helper()
	header, rows := readGoldenTable(t, filepath.Join(goldenDir, "draws", set+".csv"))
	m, n := 0, 0
	for _, r := range rows {
		c, _ := strconv.Atoi(r[0])
		i, _ := strconv.Atoi(r[1])
		m, n = max(m, c), max(n, i)
	}
	d = chains.New(header[3:], m, n)
	for _, r := range rows {
		c, _ := strconv.Atoi(r[0])
		i, _ := strconv.Atoi(r[1])
		for v := range d.Names {
			x := parseR(t, r[3+v])
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, false
			}
			d.Values[c-1][v][i-1] = x
		}
	}
	return d, true
}

func close8(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	return math.Abs(got-want) <= 1e-8*math.Max(math.Abs(got), math.Abs(want))
}

// The acceptance test: epmc summary --format csv on the golden
// draw matrices, written as Arrow draws files, agrees with
// posterior::summarise_draws to 1e-8 (NA where posterior gives NA).
func TestSummaryCSVMatchesPosterior(t *testing.T) {
	header, rows := readGoldenTable(t, filepath.Join(goldenDir, "summary.csv"))
	col := map[string]int{}
	for j, h := range header {
		col[h] = j
	}
	dir := t.TempDir()
	sets, checked := 0, 0
	for start := 0; start < len(rows); {
		set := rows[start][0]
		end := start
		for end < len(rows) && rows[end][0] == set {
			end++
		}
		want := rows[start:end]
		start = end
		d, ok := goldenSetDraws(t, set)
		if !ok {
			continue
		}
		path := filepath.Join(dir, set+".arrow")
		if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := cli(t, "summary", "--format", "csv", path)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", set, code, errOut)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v\n%s", set, err, out)
		}
		if got := strings.Join(recs[0], ","); got != "variable,mean,median,sd,mad,q5,q95,rhat,ess_bulk,ess_tail,mcse_mean,mcse_median,mcse_sd,mcse_q5,mcse_q95" {
			t.Fatalf("header %s", got)
		}
		if len(recs)-1 != len(want) {
			t.Fatalf("%s: %d rows, posterior %d", set, len(recs)-1, len(want))
		}
		for i, rec := range recs[1:] {
			if rec[0] != want[i][1] {
				t.Fatalf("%s row %d: %s, posterior %s", set, i, rec[0], want[i][1])
			}
			for j := 1; j < len(rec); j++ {
				g, w := parseR(t, rec[j]), parseR(t, want[i][col[recs[0][j]]])
				if !close8(g, w) {
					t.Errorf("%s %s %s: %s, posterior %.17g", set, rec[0], recs[0][j], rec[j], w)
				}
				checked++
			}
		}
		sets++
	}
	if sets < 20 {
		t.Errorf("only %d draw sets", sets)
	}
	t.Logf("%d values of %d draw sets agree with posterior to 1e-8", checked, sets)
}

// writeDraws writes a small well-mixed draws file with the given columns.
func writeDraws(t *testing.T, dir, name string, names []string, meta chains.Meta) string {
	t.Helper()
	d := chains.New(names, 4, 200)
	for c := range d.Values {
		for v := range names {
			x := 0.0
			for i := range d.Values[c][v] {
				// A deterministic, well-mixed sequence (Weyl sequence mapped
				// through a smooth function), different per chain and column.
				u := math.Mod(float64(i*(c+3)*(v+5))*0.6180339887498949+float64(c)*0.1, 1)
				x = 0.2*x + math.Sin(2*math.Pi*u)
				d.Values[c][v][i] = x + float64(v)
			}
		}
	}
	d.Meta = meta
	path := filepath.Join(dir, name)
	if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSummaryOutputs(t *testing.T) {
	dir := t.TempDir()
	a := writeDraws(t, dir, "a.arrow", []string{"lp__", "mu", "beta[1]", "beta[2]", "Sigma[1,2]"}, chains.Meta{})
	b := writeDraws(t, dir, "b.arrow", []string{"mu", "tau"}, chains.Meta{Kind: chains.KindSubposterior, Shard: 2, Shards: 8})

	t.Run("table", func(t *testing.T) {
		out, _, code := cli(t, "summary", a)
		lines := strings.Split(out, "\n")
		if code != 0 || lines[0] != "4 chains of 200 draws (800 draws)." {
			t.Fatalf("code %d:\n%s", code, out)
		}
		for _, want := range []string{"Mean", "MCSE", "StdDev", "MAD", "5%", "50%", "95%", "ESS_bulk", "ESS_tail", "R_hat"} {
			if !strings.Contains(lines[2], want) {
				t.Errorf("header %q lacks %s", lines[2], want)
			}
		}
		if !strings.HasPrefix(lines[3], "lp__ ") || !strings.HasPrefix(lines[5], "mu ") || strings.Contains(out, "==>") {
			t.Errorf("rows:\n%s", out)
		}
		if !strings.Contains(out, "R posterior's mcse_mean") {
			t.Errorf("no footer:\n%s", out)
		}
	})
	t.Run("two files get headings", func(t *testing.T) {
		out, _, code := cli(t, "summary", a, b)
		if code != 0 || !strings.Contains(out, "==> "+a+" <==\n4 chains") || !strings.Contains(out, "==> "+b+" <==\n") ||
			!strings.Contains(out, "Kind: subposterior, shard 2 of 8 (numbered from 0).") {
			t.Errorf("code %d:\n%s", code, out)
		}
		if strings.Count(out, "R posterior's mcse_mean") != 1 {
			t.Errorf("footer not printed once:\n%s", out)
		}
	})
	t.Run("params and percentiles", func(t *testing.T) {
		out, _, code := cli(t, "summary", "--format", "csv", "--params", `^beta\[`, "--percentiles", "10,50,90", a)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(recs) != 3 || recs[1][0] != "beta[1]" || recs[2][0] != "beta[2]" {
			t.Fatalf("code %d err %v:\n%s", code, err, out)
		}
		if h := strings.Join(recs[0], ","); h != "variable,mean,median,sd,mad,q10,q50,q90,rhat,ess_bulk,ess_tail,mcse_mean,mcse_median,mcse_sd,mcse_q10,mcse_q50,mcse_q90" {
			t.Errorf("header %s", h)
		}
		out, _, _ = cli(t, "summary", "--percentiles", "2,98", "--params", "mu", a)
		if !strings.Contains(out, "2%") || !strings.Contains(out, "98%") || strings.Contains(out, "50%") {
			t.Errorf("table percentiles:\n%s", out)
		}
	})
	t.Run("csv of two files", func(t *testing.T) {
		out, _, code := cli(t, "summary", "--format", "csv", a, b)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(recs) != 1+5+2 || recs[0][0] != "file" || recs[1][0] != a || recs[7][0] != b {
			t.Fatalf("code %d err %v:\n%s", code, err, out)
		}
		if recs[5][1] != "Sigma[1,2]" {
			t.Errorf("quoted name not read back: %q", recs[5])
		}
	})
	t.Run("json", func(t *testing.T) {
		for _, args := range [][]string{{a}, {a, b}} {
			out, _, code := cli(t, append([]string{"summary", "--format", "json"}, args...)...)
			var rows []map[string]any
			if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 {
				t.Fatalf("code %d, %v:\n%s", code, err, out)
			}
			if want := 5 + 2*(len(args)-1); len(rows) != want {
				t.Errorf("%d rows, want %d", len(rows), want)
			}
			if _, hasFile := rows[0]["file"]; hasFile != (len(args) > 1) || rows[0]["variable"] != "lp__" {
				t.Errorf("rows[0] = %v", rows[0])
			}
		}
	})
}

func TestSummaryWeights(t *testing.T) {
	dir := t.TempDir()
	w := writeDraws(t, dir, "w.arrow", []string{"mu", chains.LogWeight}, chains.Meta{})
	_, errOut, code := cli(t, "summary", w)
	if want := "epmc summary: " + w + ": the draws carry importance weights (.log_weight) (pass --ignore-weights to summarise them as unweighted draws)\n"; code != 1 || errOut != want {
		t.Errorf("code %d, stderr %q, want %q", code, errOut, want)
	}
	out, _, code := cli(t, "summary", "--ignore-weights", w)
	if code != 0 || !strings.Contains(out, "Importance weights (.log_weight) ignored") || strings.Contains(out, ".log_weight  ") {
		t.Errorf("code %d:\n%s", code, out)
	}
}

func TestSummaryBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeDraws(t, dir, "good.arrow", []string{"mu", "tau"}, chains.Meta{})
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\nworld\n"), 0o644)
	missing := filepath.Join(dir, "missing.arrow")
	usage := "\n(run \"epmc summary --help\" for usage)\n"
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string // exact, or a prefix when prefix is set
		isPrefix bool
	}{
		{"no file", nil, 2, "epmc summary: no draws file given" + usage, false},
		{"missing file", []string{missing}, 1, "epmc summary: open " + missing + ": no such file or directory\n", false},
		{"not a draws file", []string{text}, 1, "epmc summary: " + text + ": not a draws file", true},
		{"bad regex", []string{"--params", "beta[", good}, 2, "epmc summary: --params \"beta[\" is not a valid regular expression: error parsing regexp: missing closing ]: `[`" + usage, false},
		{"regex matches nothing", []string{"--params", "^zeta$", good}, 1, "epmc summary: " + good + ": --params \"^zeta$\" matches no variable\n", false},
		{"percentile out of range", []string{"--percentiles", "0,50", good}, 2, "epmc summary: --percentiles \"0,50\": want strictly increasing integers in 1..99, such as 5,50,95" + usage, false},
		{"percentiles not increasing", []string{"--percentiles", "50,50", good}, 2, "epmc summary: --percentiles \"50,50\": want strictly increasing integers in 1..99, such as 5,50,95" + usage, false},
		{"percentile not an integer", []string{"--percentiles", "2.5,97.5", good}, 2, "epmc summary: --percentiles \"2.5,97.5\": want strictly increasing integers in 1..99, such as 5,50,95" + usage, false},
		{"bad format", []string{"--format", "xml", good}, 2, "epmc summary: --format \"xml\": want table, csv or json" + usage, false},
		{"bad sig figs", []string{"--sig-figs", "0", good}, 2, "epmc summary: --sig-figs 0: want 1..15" + usage, false},
		{"as-chains needs Stan CSV", []string{"--as-chains", good}, 1, "epmc summary: " + good + ": not a Stan CSV file (format: Arrow draws file); --as-chains reads Stan CSV files only\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := cli(t, append([]string{"summary"}, tt.args...)...)
			ok := errOut == tt.stderr
			if tt.isPrefix {
				ok = strings.HasPrefix(errOut, tt.stderr) && strings.Count(errOut, "\n") == 1
			}
			if code != tt.code || !ok || out != "" {
				t.Errorf("code %d (want %d), stdout %q\nstderr %q\n  want %q", code, tt.code, out, errOut, tt.stderr)
			}
		})
	}
	// A bad file among good ones prints nothing at all.
	out, _, code := cli(t, "summary", good, missing)
	if code != 1 || out != "" {
		t.Errorf("good then missing: code %d, stdout %q", code, out)
	}
}

func TestSummaryAsChains(t *testing.T) {
	stan := "../../testdata/stan"
	files := []string{filepath.Join(stan, "cmdstan_1.csv"), filepath.Join(stan, "cmdstan_2.csv")}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no Stan CSV fixtures: %v", err)
		}
	}
	out, errOut, code := cli(t, append([]string{"summary", "--format", "csv", "--as-chains"}, files...)...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	d, err := chains.ReadStanCSV(files...)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chains.Summarise(d, chains.SummaryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	chains.WriteSummaryCSV(&want, rows, chains.DefaultProbs, "")
	if out != want.String() {
		t.Errorf("--as-chains output differs from Summarise of ReadStanCSV:\n%s\nwant\n%s", out, want.String())
	}
}

// A file whose only column is .log_weight has nothing to summarise; JSON
// around it must stay valid.
func TestSummaryJSONWithEmptyFile(t *testing.T) {
	dir := t.TempDir()
	a := writeDraws(t, dir, "a.arrow", []string{"mu"}, chains.Meta{})
	w := writeDraws(t, dir, "w.arrow", []string{chains.LogWeight}, chains.Meta{})
	out, errOut, code := cli(t, "summary", "--format", "json", "--ignore-weights", a, w, a)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 || len(rows) != 2 {
		t.Fatalf("code %d, %v, stderr %q:\n%s", code, err, errOut, out)
	}
}
