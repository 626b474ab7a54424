package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
)

// convertTestDraws returns reproducible draws with metadata and, if
// warmup > 0, saved warmup rows.
func convertTestDraws(nchains, niter, warmup int) *chains.Draws {
	names := []string{chains.LP, "mu", "beta[1]", "beta[2]", "Sigma[1,2]"}
	d := chains.New(names, nchains, niter+warmup)
	r := rand.New(rand.NewPCG(3, 4))
	for _, ch := range d.Values {
		for _, s := range ch {
			for i := range s {
				s[i] = r.NormFloat64()
			}
		}
	}
	seed := uint64(42)
	d.Warmup = warmup
	d.Meta = chains.Meta{
		Kind: chains.KindSubposterior, Shard: 1, Shards: 4, PriorPower: 0.25, Convention: chains.ConventionProduct,
		Model: json.RawMessage(`{"name":"linear"}`), Seed: &seed, Version: "test",
		Params: []chains.Param{{Name: "mu"}, {Name: "beta", Shape: []int{2}}},
	}
	return d
}

func TestConvertArrowCSVArrow(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "in.arrow")
	if err := chains.WriteFile(a, convertTestDraws(3, 50, 10), chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(dir, "mid.csv")
	if _, errOut, code := cli(t, "convert", a, c); code != 0 || !strings.Contains(errOut, "3 chains × 50 iterations (+10 saved warmup) × 5 variables") {
		t.Fatalf("to CSV: code %d, %q", code, errOut)
	}
	text, _ := os.ReadFile(c)
	if !bytes.HasPrefix(text, []byte("# epmc.")) || !bytes.Contains(text, []byte("\n.chain,.iteration,.draw,lp__,mu,beta[1],beta[2],\"Sigma[1,2]\"\n")) {
		t.Fatalf("CSV layout:\n%.400s", text)
	}
	b := filepath.Join(dir, "out.feather")
	if _, errOut, code := cli(t, "convert", c, b); code != 0 {
		t.Fatalf("to Arrow: code %d, %q", code, errOut)
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if !bytes.Equal(x, y) {
		t.Fatal("Arrow → CSV → Arrow changed the file")
	}
	// zstd: smaller, same draws.
	z := filepath.Join(dir, "z.arrow")
	if _, errOut, code := cli(t, "convert", "--zstd", c, z); code != 0 || !strings.Contains(errOut, "Arrow, zstd") {
		t.Fatalf("zstd: code %d, %q", code, errOut)
	}
	dz, err := chains.ReadFile(z)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := chains.ReadFile(a)
	if !reflect.DeepEqual(dz, da) {
		t.Fatal("zstd file holds other draws")
	}
	// Standard output, dropping warmup.
	out, _, code := cli(t, "convert", "--drop-warmup", a, "-")
	if code != 0 {
		t.Fatalf("stdout: code %d", code)
	}
	dd, err := chains.DecodeCSV(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if dd.Warmup != 0 || dd.NumIter() != 50 || dd.Values[1][2][0] != da.Values[1][2][10] || strings.Contains(out, "saved_warmup") {
		t.Fatalf("--drop-warmup: warmup %d iter %d", dd.Warmup, dd.NumIter())
	}
}

func TestConvertStanCSV(t *testing.T) {
	dir := t.TempDir()
	stan := filepath.Join("..", "..", "testdata", "stan")
	out := filepath.Join(dir, "fit.arrow")
	_, errOut, code := cli(t, "convert", filepath.Join(stan, "warmup_1.csv"), filepath.Join(stan, "warmup_2.csv"), out)
	if code != 0 {
		t.Fatalf("code %d, %q", code, errOut)
	}
	d, err := chains.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if d.NumChains() != 2 || d.Warmup != 150 || d.NumIter() != 150 || d.Index("Z[2,3]") < 0 || d.Meta.Kind != chains.KindStan {
		t.Fatalf("chains %d warmup %d iter %d names %v kind %s", d.NumChains(), d.Warmup, d.NumIter(), d.Names, d.Meta.Kind)
	}
	direct, _ := chains.ReadStanCSV(filepath.Join(stan, "warmup_1.csv"), filepath.Join(stan, "warmup_2.csv"))
	if !reflect.DeepEqual(d.Values, direct.Values) || !reflect.DeepEqual(d.Meta.Params, direct.Meta.Params) {
		t.Fatal("converted Stan draws differ from ReadStanCSV's")
	}
	// One Stan CSV file to draws_df CSV.
	csvOut := filepath.Join(dir, "one.csv")
	if _, errOut, code := cli(t, "convert", filepath.Join(stan, "cmdstan_1.csv"), csvOut); code != 0 {
		t.Fatalf("code %d, %q", code, errOut)
	}
	text, _ := os.ReadFile(csvOut)
	if !bytes.Contains(text, []byte("# epmc.kind=stan\n")) || !bytes.Contains(text, []byte(",theta[1],")) {
		t.Fatalf("CSV from Stan CSV:\n%.300s", text)
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "in.arrow")
	if err := chains.WriteFile(a, convertTestDraws(2, 5, 0), chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	nan := filepath.Join(dir, "nan.csv")
	os.WriteFile(nan, []byte(".chain,.iteration,.draw,mu\n1,1,1,NaN\n"), 0o644)
	link := filepath.Join(dir, "link.arrow")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	stan := filepath.Join("..", "..", "testdata", "stan", "cmdstan_1.csv")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no args", nil, 2, "want IN... OUT"},
		{"one arg", []string{a}, 2, "want IN... OUT"},
		{"same file", []string{a, a}, 2, "is the input file"},
		{"same file other spelling", []string{a, filepath.Join(dir, ".", "in.arrow")}, 2, "is the input file"},
		{"same file through a link", []string{a, link}, 2, "is the input file"},
		{"unknown extension", []string{a, filepath.Join(dir, "out.txt")}, 2, "use .arrow, .feather, .ipc or .csv, or say --format"},
		{"zstd csv", []string{"--zstd", a, filepath.Join(dir, "out.csv")}, 2, "--zstd compresses Arrow output"},
		{"bad format", []string{"--format", "parquet", a, filepath.Join(dir, "o")}, 2, `--format "parquet"`},
		{"missing input", []string{filepath.Join(dir, "nope.arrow"), filepath.Join(dir, "o.csv")}, 1, "nope.arrow"},
		{"NaN input", []string{nan, filepath.Join(dir, "o.arrow")}, 1, nan + `: line 2, column "mu": value is NaN`},
		{"mixed inputs", []string{stan, a, filepath.Join(dir, "o.arrow")}, 1, "in.arrow: Arrow draws file, but several inputs must all be Stan CSV"},
		{"missing output dir", []string{a, filepath.Join(dir, "no", "o.csv")}, 1, "output directory"},
		{"arrow to stdout", []string{"--format", "arrow", a, "-"}, 2, "--format arrow needs an OUT file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cli(t, append([]string{"convert"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.want)
			}
		})
	}
	// Nothing was left behind by the failed runs.
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("directory holds %v", names)
	}
	// --format overrides the extension.
	o := filepath.Join(dir, "draws.data")
	if _, errOut, code := cli(t, "convert", "--format", "csv", a, o); code != 0 {
		t.Fatalf("--format csv: %d %q", code, errOut)
	}
	if f, err := chains.Detect(o); err != nil || f != chains.FormatCSV {
		t.Fatalf("Detect = %v %v", f, err)
	}
}
