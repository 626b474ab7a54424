package chains

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The golden values come from R posterior 1.4.0 through
// testdata/posterior/make_golden.R; see that script for what each file
// holds. NA and NaN in R are NaN here.

const goldenDir = "../testdata/posterior"

// goldenTol is the relative tolerance of the comparison with posterior.
const goldenTol = 1e-8

// parseRNumber parses a number as R's sprintf("%.17g") prints it.
func parseRNumber(s string) (float64, error) {
	if s == "NA" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// readCSVTable reads a comma-separated file with a header line; every
// row must have the header's number of fields.
func readCSVTable(t testing.TB, path string) (header []string, rows [][]string) {
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

// goldenDraws reads testdata/posterior/draws/<set>.csv into Draws.
func goldenDraws(t testing.TB, set string) *Draws {
	t.Helper()
	header, rows := readCSVTable(t, filepath.Join(goldenDir, "draws", set+".csv"))
	if len(header) < 4 || header[0] != ColChain || header[1] != ColIteration || header[2] != ColDraw {
		t.Fatalf("%s: unexpected header %v", set, header)
	}
	names := header[3:]
	m, n := 0, 0
	for _, r := range rows {
		c, _ := strconv.Atoi(r[0])
		i, _ := strconv.Atoi(r[1])
		m, n = max(m, c), max(n, i)
	}
	if m*n != len(rows) {
		t.Fatalf("%s: %d rows for %d chains × %d iterations", set, len(rows), m, n)
	}
	d := New(names, m, n)
	for _, r := range rows {
		c, _ := strconv.Atoi(r[0])
		i, _ := strconv.Atoi(r[1])
		for v := range names {
			x, err := parseRNumber(r[3+v])
			if err != nil {
				t.Fatalf("%s: %v", set, err)
			}
			d.Values[c-1][v][i-1] = x
		}
	}
	return d
}

type goldenRow struct {
	set, variable string
	values        map[string]float64
	columns       []string // in file order
}

func goldenSummary(t testing.TB) []goldenRow {
	t.Helper()
	header, rows := readCSVTable(t, filepath.Join(goldenDir, "summary.csv"))
	var out []goldenRow
	for _, r := range rows {
		g := goldenRow{set: r[0], variable: r[1], values: map[string]float64{}, columns: header[2:]}
		for j := 2; j < len(header); j++ {
			x, err := parseRNumber(r[j])
			if err != nil {
				t.Fatalf("summary.csv: %s %s %s: %v", r[0], r[1], header[j], err)
			}
			g.values[header[j]] = x
		}
		out = append(out, g)
	}
	return out
}

// sameNumber compares a computed value with posterior's: NaN matches NA or
// NaN, infinities must match exactly, finite values to tol relative.
func sameNumber(got, want, tol float64) bool {
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return math.IsNaN(want) && math.IsNaN(got)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(got), math.Abs(want))
}

// probOf parses the probability out of a column name such as q5, ess_q99
// or mcse_q25.
func probOf(col, prefix string) float64 {
	pct, err := strconv.Atoi(strings.TrimPrefix(col, prefix))
	if err != nil {
		panic(fmt.Sprintf("column %s: %v", col, err))
	}
	return float64(pct) / 100
}

// measure computes the golden column col with g.
func measure(g *Diagnostics, col string) float64 {
	switch col {
	case "mean":
		return g.Mean()
	case "median":
		return g.Median()
	case "sd":
		return g.Sd()
	case "mad":
		return g.Mad()
	case "rhat":
		return g.Rhat()
	case "rhat_basic":
		return g.RhatBasic()
	case "ess_bulk":
		return g.EssBulk()
	case "ess_tail":
		return g.EssTail()
	case "ess_mean":
		return g.EssMean()
	case "ess_sd":
		return g.EssSd()
	case "ess_median":
		return g.EssMedian()
	case "mcse_mean":
		return g.McseMean()
	case "mcse_median":
		return g.McseMedian()
	case "mcse_sd":
		return g.McseSd()
	}
	switch {
	case strings.HasPrefix(col, "ess_q"):
		return g.EssQuantile(probOf(col, "ess_q"))
	case strings.HasPrefix(col, "mcse_q"):
		return g.McseQuantile(probOf(col, "mcse_q"))
	case strings.HasPrefix(col, "q"):
		return g.Quantile(probOf(col, "q"))
	}
	panic("unknown golden column " + col)
}

func TestDiagnosticsGolden(t *testing.T) {
	rows := goldenSummary(t)
	sets := map[string]*Draws{}
	var g Diagnostics // one workspace for everything: reuse must not leak state
	checked, worst, worstAt := 0, 0.0, ""
	for _, row := range rows {
		d, ok := sets[row.set]
		if !ok {
			d = goldenDraws(t, row.set)
			sets[row.set] = d
		}
		v := d.Index(row.variable)
		if v < 0 {
			t.Fatalf("%s: no variable %s", row.set, row.variable)
		}
		x := d.Series(v)
		g.Reset(x)
		for _, col := range row.columns {
			got, want := measure(&g, col), row.values[col]
			if !sameNumber(got, want, goldenTol) {
				t.Errorf("%s %s %s: got %.17g, posterior %.17g (rel. err %.2g)",
					row.set, row.variable, col, got, want, math.Abs(got-want)/math.Abs(want))
			}
			if e := math.Abs(got-want) / math.Abs(want); e > worst && !math.IsInf(want, 0) {
				worst, worstAt = e, row.set+" "+row.variable+" "+col
			}
			checked++
		}
	}
	if len(sets) < 20 || checked < 5000 {
		t.Errorf("only %d sets, %d values checked", len(sets), checked)
	}
	t.Logf("%d values in %d draw sets agree with posterior 1.4.0 to %g; largest relative error %.2g (%s)",
		checked, len(sets), goldenTol, worst, worstAt)
}
