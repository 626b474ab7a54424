package demodata

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/epmc/epmc/subpost/models"
)

var update = flag.Bool("update", false, "rewrite logistic.csv from its generator")

// TestLogisticCSV checks that the embedded file is exactly what its
// documented generator makes.
func TestLogisticCSV(t *testing.T) {
	tab, truth, err := models.Simulate(Model, Config)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tab.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("logistic.csv", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote logistic.csv; truth %v = %v", truth.Names, truth.Values)
		return
	}
	if !bytes.Equal(buf.Bytes(), LogisticCSV) {
		t.Fatalf("logistic.csv (%d bytes) differs from models.Simulate(%q, %+v) (%d bytes); regenerate with go test ./cmd/epmc/demodata -update",
			len(LogisticCSV), Model, Config, buf.Len())
	}
	header := strings.SplitN(string(LogisticCSV), "\n", 2)[0]
	if want := "y," + strings.Join(Predictors, ","); header != want {
		t.Errorf("header %q, want %q", header, want)
	}
}
