package sis

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"
)

// readCSV reads the named float columns of a CSV file with a header.
func readCSV(t testing.TB, path string, cols ...string) [][]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(cols))
	for j, c := range cols {
		k := -1
		for i, h := range recs[0] {
			if h == c {
				k = i
			}
		}
		if k < 0 {
			t.Fatalf("%s: no column %s", path, c)
		}
		for _, r := range recs[1:] {
			v, err := strconv.ParseFloat(r[k], 64)
			if err != nil {
				t.Fatal(err)
			}
			out[j] = append(out[j], v)
		}
	}
	return out
}

// lgssModel is the linear Gaussian model of the brief (ρ = 0.9, σX = 1,
// σY = 0.2) on the committed series of T = 100 observations.
func lgssModel(t testing.TB) *LinearGauss {
	y := readCSV(t, "../testdata/sis/lgss_series.csv", "y")[0]
	return &LinearGauss{Rho: 0.9, SigmaX: 1, SigmaY: 0.2, Y: y}
}

// meanSD returns the mean and standard deviation of xs.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}
