package chains

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// goldenSets lists the draw sets of the golden summaries, in file order.
func goldenSets(rows []goldenRow) []string {
	var sets []string
	for i, r := range rows {
		if i == 0 || rows[i-1].set != r.set {
			sets = append(sets, r.set)
		}
	}
	return sets
}

func TestSummariseGolden(t *testing.T) {
	rows := goldenSummary(t)
	bySet := map[string][]goldenRow{}
	for _, r := range rows {
		bySet[r.set] = append(bySet[r.set], r)
	}
	cols := SummaryColumns(DefaultProbs)[1:]
	for _, set := range goldenSets(rows) {
		d := goldenDraws(t, set)
		got, err := Summarise(d, SummaryOptions{Workers: 3})
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		want := bySet[set]
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, posterior has %d", set, len(got), len(want))
		}
		for i := range got {
			if got[i].Variable != want[i].variable {
				t.Fatalf("%s row %d: variable %s, posterior %s", set, i, got[i].Variable, want[i].variable)
			}
			for j, v := range got[i].Values() {
				if w := want[i].values[cols[j]]; !sameNumber(v, w, goldenTol) {
					t.Errorf("%s %s %s: %.17g, posterior %.17g", set, got[i].Variable, cols[j], v, w)
				}
			}
		}
	}
}

func TestSummariseIndependentOfWorkers(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	names := []string{"lp__", "a", "b[1]", "b[2]", "c", "d", "e"}
	d := New(names, 3, 301)
	for c := range d.Values {
		for v := range names {
			x := ar1(rnd, 1, 301, 0.1*float64(v))[0]
			copy(d.Values[c][v], x)
		}
	}
	one, err := Summarise(d, SummaryOptions{Workers: 1, Probs: []float64{0.1, 0.5, 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{2, 5, 64} {
		many, err := Summarise(d, SummaryOptions{Workers: w, Probs: []float64{0.1, 0.5, 0.9}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range one {
			a, b := one[i].Values(), many[i].Values()
			for j := range a {
				if math.Float64bits(a[j]) != math.Float64bits(b[j]) {
					t.Fatalf("workers %d, %s column %d: %v vs %v", w, one[i].Variable, j, a[j], b[j])
				}
			}
		}
	}
}

func TestSummariseOptions(t *testing.T) {
	d := New([]string{"a", "b", LogWeight}, 2, 10)
	for c := range d.Values {
		for v := range d.Names {
			for i := range d.Values[c][v] {
				d.Values[c][v][i] = float64((c+1)*(v+2)*i%7) + 0.1*float64(i)
			}
		}
	}
	t.Run("weights refused", func(t *testing.T) {
		_, err := Summarise(d, SummaryOptions{})
		if !errors.Is(err, ErrWeighted) {
			t.Fatalf("err = %v, want ErrWeighted", err)
		}
	})
	t.Run("weights ignored on request", func(t *testing.T) {
		s, err := Summarise(d, SummaryOptions{IgnoreWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 2 || s[0].Variable != "a" || s[1].Variable != "b" {
			t.Fatalf("rows %+v", s)
		}
	})
	t.Run("selection", func(t *testing.T) {
		s, err := Summarise(d, SummaryOptions{Variables: []int{1}, IgnoreWeights: true})
		if err != nil || len(s) != 1 || s[0].Variable != "b" {
			t.Fatalf("%v %+v", err, s)
		}
	})
	t.Run("bad index", func(t *testing.T) {
		if _, err := Summarise(d, SummaryOptions{Variables: []int{3}, IgnoreWeights: true}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("bad probability", func(t *testing.T) {
		if _, err := Summarise(d, SummaryOptions{Probs: []float64{1.2}, IgnoreWeights: true}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("warmup excluded", func(t *testing.T) {
		w := *d
		w.Warmup = 4
		s, err := Summarise(&w, SummaryOptions{Variables: []int{0}, IgnoreWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		x := [][]float64{d.Values[0][0][4:], d.Values[1][0][4:]}
		if s[0].Mean != Mean(x) || s[0].EssBulk != EssBulk(x) {
			t.Fatalf("warmup draws were used: %+v", s[0])
		}
	})
}

func TestSummaryColumns(t *testing.T) {
	tests := []struct {
		probs []float64
		want  string
	}{
		{DefaultProbs, "variable,mean,median,sd,mad,q5,q95,rhat,ess_bulk,ess_tail,mcse_mean,mcse_median,mcse_sd,mcse_q5,mcse_q95"},
		{[]float64{0.025, 0.5, 0.975}, "variable,mean,median,sd,mad,q2.5,q50,q97.5,rhat,ess_bulk,ess_tail,mcse_mean,mcse_median,mcse_sd,mcse_q2.5,mcse_q50,mcse_q97.5"},
		{[]float64{0.07, 0.99}, "variable,mean,median,sd,mad,q7,q99,rhat,ess_bulk,ess_tail,mcse_mean,mcse_median,mcse_sd,mcse_q7,mcse_q99"},
	}
	for _, tt := range tests {
		if got := strings.Join(SummaryColumns(tt.probs), ","); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.probs, got, tt.want)
		}
	}
}

func TestWriteSummaryCSVAndJSON(t *testing.T) {
	rows := []Summary{
		{Variable: "Sigma[1,2]", Mean: 0.1, Median: 1.0 / 3, Sd: math.NaN(), Mad: math.Inf(1),
			Quantiles: []float64{-1e-300, 2}, Rhat: 1.0000000000000002, EssBulk: 12345.678, EssTail: 1,
			McseMean: 1e-17, McseMedian: 0, McseSd: -0.0, McseQuantiles: []float64{math.NaN(), 3}},
	}
	var buf bytes.Buffer
	if err := WriteSummaryCSV(&buf, rows, DefaultProbs, ""); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1][0] != "Sigma[1,2]" || recs[1][3] != "NA" || recs[1][4] != "Inf" {
		t.Fatalf("csv %q", recs)
	}
	for j, v := range rows[0].Values() {
		got, err := parseRNumber(recs[1][j+1])
		if err != nil || !(math.Float64bits(got) == math.Float64bits(v) || math.IsNaN(v) && math.IsNaN(got)) {
			t.Errorf("column %s: %q does not round-trip %v", recs[0][j+1], recs[1][j+1], v)
		}
	}

	js := append([]byte{'['}, AppendSummaryJSON(nil, append(rows, rows...), DefaultProbs, "a.arrow")...)
	js = append(js, ']')
	var decoded []map[string]any
	if err := json.Unmarshal(js, &decoded); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(decoded) != 2 || decoded[0]["file"] != "a.arrow" || decoded[0]["sd"] != nil || decoded[0]["ess_bulk"] != 12345.678 {
		t.Fatalf("json %s", js)
	}
	if !bytes.HasPrefix(js, []byte(`[{"file":"a.arrow","variable":"Sigma[1,2]","mean":0.1,"median":0.3333333333333333,`)) {
		t.Fatalf("key order: %s", js)
	}
}

func TestWriteSummaryTable(t *testing.T) {
	rows := []Summary{
		{Variable: "theta", Mean: 0.2512, McseMean: 0.00591, Sd: 0.1213, Mad: 0.1198, Quantiles: []float64{0.0758, 0.234, 0.4705},
			EssBulk: 412.6, EssTail: 374.2, Rhat: 1.00312},
		{Variable: "lp__", Mean: -7.29, McseMean: 0.0352, Sd: 0.73, Mad: 0.32, Quantiles: []float64{-8.9, -7.0, -6.75},
			EssBulk: 458.4, EssTail: 436, Rhat: 1.0012},
		{Variable: "divergent__", Quantiles: []float64{0, 0, 0}, McseMean: math.NaN(), EssBulk: math.NaN(), EssTail: math.NaN(), Rhat: math.NaN()},
	}
	var buf bytes.Buffer
	if err := WriteSummaryTable(&buf, rows, []float64{0.05, 0.5, 0.95}, TableOptions{NoFooter: true}); err != nil {
		t.Fatal(err)
	}
	want := `             Mean    MCSE  StdDev   MAD     5%   50%   95%  ESS_bulk  ESS_tail  R_hat
lp__         -7.3   0.035    0.73  0.32   -8.9  -7.0  -6.8       458       436   1.00
divergent__     0      NA       0     0      0     0     0        NA        NA     NA

theta        0.25  0.0059    0.12  0.12  0.076  0.23  0.47       413       374   1.00
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestSummariseCancelled(t *testing.T) {
	d := New([]string{"a", "b"}, 2, 50)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SummariseContext(ctx, d, SummaryOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// BenchmarkSummarise summarises 100 parameters of 4 chains × 10,000 draws
// with every measure of the summary (on all CPUs).
func BenchmarkSummarise(b *testing.B) {
	rnd := rand.New(rand.NewPCG(3, 4))
	names := make([]string, 100)
	for v := range names {
		names[v] = "theta[" + strconv.Itoa(v+1) + "]"
	}
	d := New(names, 4, 10000)
	for v := range names {
		x := ar1(rnd, 4, 10000, 0.3+0.006*float64(v))
		for c := range x {
			copy(d.Values[c][v], x[c])
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Summarise(d, SummaryOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
