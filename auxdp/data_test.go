package auxdp

import (
	"context"
	"math"
	"testing"

	"github.com/epmc/epmc/subpost/data"
)

func loadRows(t testing.TB, path string, cols ...string) ([][]float64, *data.Table) {
	t.Helper()
	tab, err := data.Load(path, cols)
	if err != nil {
		t.Fatal(err)
	}
	x := make([][]float64, tab.NumRows())
	for i := range x {
		for _, c := range tab.Cols {
			x[i] = append(x[i], c[i])
		}
	}
	return x, tab
}

// TestOldFaithful: the geyser's eruptions fall in two well-known groups,
// short (≈ 2 min, ≈ 54 min wait) and long (≈ 4.3 min, ≈ 80 min wait), of
// about 100 and 170 eruptions; the two largest clusters must be these
// (a few outlying eruptions may form small clusters of their own).
func TestOldFaithful(t *testing.T) {
	x, _ := loadRows(t, "../testdata/auxdp/faithful.csv")
	res, err := Run(context.Background(), x, Config{Procs: 2, Iters: 300, Burn: 150, SplitMerge: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sum := res.Summary()
	long, short := sum.Clusters[0], sum.Clusters[1]
	t.Logf("K = %d; largest: %d at (%.2f, %.1f), next: %d at (%.2f, %.1f)", sum.K, long.Size, long.Mean[0], long.Mean[1], short.Size, short.Mean[0], short.Mean[1])
	if math.Abs(long.Mean[0]-4.3) > 0.3 || math.Abs(long.Mean[1]-80) > 3 || long.Size < 140 ||
		math.Abs(short.Mean[0]-2.0) > 0.3 || math.Abs(short.Mean[1]-54.5) > 3 || short.Size < 60 {
		t.Errorf("the two main clusters are not the short and long eruptions")
	}
}

// TestIris: in the four iris measurements setosa is separate while
// versicolor and virginica overlap, so a Gaussian DP mixture finds two or
// three clusters; setosa must be one of them, whole.
func TestIris(t *testing.T) {
	x, _ := loadRows(t, "../testdata/auxdp/iris.csv", "sepal_length", "sepal_width", "petal_length", "petal_width")
	res, err := Run(context.Background(), x, Config{Procs: 2, Iters: 300, Burn: 150, SplitMerge: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	last, _, _ := res.PointLabels()
	species := make([]int, len(x))
	for i := range species {
		species[i] = i / 50 // rows are 50 setosa, 50 versicolor, 50 virginica
	}
	nmi, _ := NMI(last, species)
	t.Logf("K = %d, NMI against species %.3f", res.Last().K, nmi)
	for i := 1; i < 50; i++ {
		if last[i] != last[0] {
			t.Fatalf("setosa split: row %d in cluster %d, row 1 in %d", i+1, last[i], last[0])
		}
	}
	for i := 50; i < 150; i++ {
		if last[i] == last[0] {
			t.Fatalf("row %d (not setosa) clustered with setosa", i+1)
		}
	}
	if nmi < 0.7 {
		t.Errorf("NMI against species %.3f < 0.7", nmi)
	}
}
