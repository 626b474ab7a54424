package chains

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// testDraws returns reproducible draws with parameters, sampler statistics
// and full metadata.
func testDraws(nchains, niter, warmup int) *Draws {
	names := []string{LP, AcceptStat, "mu", "beta[1]", "beta[2]", "sigma"}
	d := New(names, nchains, niter+warmup)
	r := rand.New(rand.NewPCG(7, 8))
	for _, ch := range d.Values {
		for v, s := range ch {
			for i := range s {
				s[i] = r.NormFloat64()
				if names[v] == "sigma" || names[v] == AcceptStat {
					s[i] = math.Abs(s[i]) + 1e-3
				}
			}
		}
	}
	seed := uint64(99)
	d.Warmup = warmup
	d.Meta = Meta{
		Kind: KindSubposterior, Shard: 2, Shards: 8, PriorPower: 0.125, Convention: ConventionProduct,
		Model:           json.RawMessage(`{"name":"normal"}`),
		Sampler:         json.RawMessage(`{"name":"nuts","stepsize":[0.5]}`),
		DataFingerprint: "sha256:abc", Partition: "hash:seed=1", Seed: &seed,
		Params: []Param{
			{Name: "mu"},
			{Name: "beta", Shape: []int{2}},
			{Name: "sigma", Transform: Transform{Kind: Lower}},
		},
		Version: "test",
		Extra:   map[string]string{"note": "kept"},
	}
	return d
}

func TestArrowRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		chains, iter, warmup int
		opts                 WriteOptions
	}{
		{"plain", 4, 100, 0, WriteOptions{}},
		{"small batches", 3, 50, 10, WriteOptions{BatchRows: 7}},
		{"zstd", 2, 3000, 0, WriteOptions{Compression: Zstd}},
		{"one row", 1, 1, 0, WriteOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDraws(tc.chains, tc.iter, tc.warmup)
			p := filepath.Join(t.TempDir(), "d.arrow")
			if err := WriteFile(p, d, tc.opts); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Names, d.Names) || !reflect.DeepEqual(got.Values, d.Values) || got.Warmup != d.Warmup {
				t.Fatal("values differ after round trip")
			}
			if !reflect.DeepEqual(got.Meta, d.Meta) {
				t.Fatalf("metadata differ:\n got %+v\nwant %+v", got.Meta, d.Meta)
			}
			ents, _ := os.ReadDir(filepath.Dir(p))
			if len(ents) != 1 {
				t.Fatalf("temporary files left: %d entries", len(ents))
			}
		})
	}
}

func TestArrowWriterConcurrentChainsBitIdentical(t *testing.T) {
	d := testDraws(4, 500, 0)
	dir := t.TempDir()
	serial := filepath.Join(dir, "serial.arrow")
	if err := WriteFile(serial, d, WriteOptions{BatchRows: 64}); err != nil {
		t.Fatal(err)
	}
	par := filepath.Join(dir, "parallel.arrow")
	w, err := Create(par, d.Names, d.Meta, 4, 0, WriteOptions{BatchRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			row := make([]float64, len(d.Names))
			for i := range 500 {
				for v := range row {
					row[v] = d.Values[c][v][i]
				}
				if err := w.Chain(c).Append(row); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(serial)
	b, _ := os.ReadFile(par)
	if string(a) != string(b) {
		t.Fatal("files differ with chain scheduling")
	}
}

func TestArrowWriterAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.arrow")
	w, err := Create(p, []string{"a"}, Meta{}, 2, 0, WriteOptions{BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		w.Chain(0).Append([]float64{1})
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents[0].Name())
	}
	// Unequal chains make Close fail, also leaving nothing.
	w, _ = Create(p, []string{"a"}, Meta{}, 2, 0, WriteOptions{})
	w.Chain(0).Append([]float64{1})
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "different numbers of iterations") {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents[0].Name())
	}
}

// TestArrowWriterRejectsNonFinite: the format holds finite values only, so
// the writer refuses NaN and ±Inf (naming the column, chain and row) and
// leaves no file, rather than write one that every reader rejects.
func TestArrowWriterRejectsNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		dir := t.TempDir()
		p := filepath.Join(dir, "x.arrow")
		d := testDraws(2, 5, 0)
		d.Values[1][d.Index("sigma")][3] = v
		err := WriteFile(p, d, WriteOptions{})
		want := p + ": chain 2, row 4: sigma is " + strconv.FormatFloat(v, 'g', -1, 64)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("value %g: err = %v, want prefix %q", v, err, want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("value %g: left %v", v, ents[0].Name())
		}
	}
}

// TestDecodeMetaErrorIsDeterministic: with several bad keys the error is
// always about the first in key order, not whichever a map yields first.
func TestDecodeMetaErrorIsDeterministic(t *testing.T) {
	keys := []string{"epmc.shards", "epmc.seed", "epmc.prior_power", "epmc.convention"}
	values := []string{"zero", "-1", "2", "sideways"}
	for range 20 {
		_, _, err := decodeMeta(keys, values)
		if err == nil || !strings.HasPrefix(err.Error(), `metadata epmc.convention = "sideways"`) {
			t.Fatalf("err = %v, want the error about epmc.convention", err)
		}
	}
}
