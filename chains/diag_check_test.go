package chains

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkDraws returns 4 chains × n draws with sampler columns and three
// parameters: "good" mixes well, "stuck" has a chain offset (high R-hat)
// and a slow AR(1) (low ESS), "fixed" is constant.
func checkDraws(n int, divergent, deep []int, lowEnergyChain int) *Draws {
	rnd := rand.New(rand.NewPCG(21, 22))
	names := []string{LP, TreeDepth, Divergent, Energy, "good", "stuck", "fixed"}
	d := New(names, 4, n)
	for c := range 4 {
		good := ar1(rnd, 1, n, 0.2)[0]
		stuck := ar1(rnd, 1, n, 0.995)[0]
		en := ar1(rnd, 1, n, 0.1)[0]
		if c == lowEnergyChain {
			en = ar1(rnd, 1, n, 0.95)[0] // slowly varying energy: low E-BFMI
		}
		for i := range n {
			d.Values[c][0][i] = -good[i] * good[i] / 2
			d.Values[c][1][i] = 3
			d.Values[c][3][i] = en[i]
			d.Values[c][4][i] = good[i]
			d.Values[c][5][i] = stuck[i] + float64(c)
			d.Values[c][6][i] = 1
		}
	}
	for _, k := range divergent {
		d.Values[k%4][2][k/4] = 1
	}
	for _, k := range deep {
		d.Values[k%4][1][k/4] = 7
	}
	return d
}

func TestCheck(t *testing.T) {
	d := checkDraws(500, []int{3, 77, 1001}, []int{5, 6}, 2)
	d.Meta.Sampler = json.RawMessage(`{"name":"nuts","max_depth":7}`)
	r, err := Check(context.Background(), d, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Chains != 4 || r.Draws != 2000 || r.Divergences != 3 || r.TreeDepthHits != 2 || r.Options.MaxTreeDepth != 7 {
		t.Errorf("report %+v", r)
	}
	if !slices.Equal(r.LowEBFMI, []int{2}) || len(r.EBFMI) != 4 || math.IsNaN(r.EBFMIPooled) {
		t.Errorf("E-BFMI %v pooled %v low %v", r.EBFMI, r.EBFMIPooled, r.LowEBFMI)
	}
	if len(r.HighRhat) != 1 || r.HighRhat[0].Name != "stuck" || len(r.LowESS) != 1 || r.LowESS[0].Name != "stuck" {
		t.Errorf("high R-hat %v, low ESS %v", r.HighRhat, r.LowESS)
	}
	if !slices.Equal(r.Undefined, []string{"fixed"}) {
		t.Errorf("undefined %v", r.Undefined)
	}
	if r.Problems() != 5 {
		t.Errorf("%d problems, want 5: %s", r.Problems(), r)
	}

	// The tree depth limit from the options wins over the metadata; without
	// either it is Stan's 10.
	r, _ = Check(context.Background(), d, CheckOptions{MaxTreeDepth: 8})
	if r.TreeDepthHits != 0 {
		t.Errorf("max depth 8: %d hits", r.TreeDepthHits)
	}
	d.Meta.Sampler = nil
	r, _ = Check(context.Background(), d, CheckOptions{})
	if r.Options.MaxTreeDepth != 10 || r.TreeDepthHits != 0 {
		t.Errorf("default max depth %d, %d hits", r.Options.MaxTreeDepth, r.TreeDepthHits)
	}
}

func TestCheckWithoutSamplerColumns(t *testing.T) {
	d := New([]string{"a"}, 2, 1000)
	rnd := rand.New(rand.NewPCG(1, 1))
	for c := range 2 {
		copy(d.Values[c][0], ar1(rnd, 1, 1000, 0)[0])
	}
	r, err := Check(context.Background(), d, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Divergences != -1 || r.TreeDepthHits != -1 || r.EBFMI != nil || r.Problems() != 0 {
		t.Errorf("report %+v", r)
	}
}
