package chains

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// awkwardDraws returns testDraws with values that stress number printing
// and metadata that stress the comment-line escaping.
func awkwardDraws(nchains, niter, warmup int) *Draws {
	d := testDraws(nchains, niter, warmup)
	special := []float64{math.Pi, -0.0, 5e-324, math.MaxFloat64, -math.SmallestNonzeroFloat64, 1e21, 1e-7, 0.1 + 0.2, 123456789012345678}
	for i, v := range special {
		if i < len(d.Values[0][2]) {
			d.Values[0][2][i] = v
		}
	}
	d.Meta.Model = json.RawMessage("{\n  \"name\": \"normal\",\n  \"note\": \"pretty-printed = kept\"\n}")
	d.Meta.Extra = map[string]string{
		"note":          "kept",
		"multi":         "line one\nline two\r\n",
		"quoted":        `"starts with a quote`,
		"spaced":        "  padded  ",
		"empty":         "",
		"key=with=eq":   "v",
		"unicode":       "µ σ² — ok",
		"tab\tkey":      "tab\tvalue",
		"json":          `{"a":[1,2]}`,
		"ends with \\":  `back\slash\`,
		"hash # inside": "# not a comment",
	}
	return d
}

func TestCSVRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		chains, iter, warmup int
	}{
		{"plain", 4, 50, 0},
		{"saved warmup", 2, 30, 10},
		{"one row", 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := awkwardDraws(tc.chains, tc.iter, tc.warmup)
			var buf bytes.Buffer
			if err := WriteCSV(&buf, d); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeCSV(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			if !reflect.DeepEqual(got.Names, d.Names) || got.Warmup != d.Warmup {
				t.Fatalf("names %v warmup %d", got.Names, got.Warmup)
			}
			for c := range d.Values {
				for v := range d.Values[c] {
					for i, x := range d.Values[c][v] {
						y := got.Values[c][v][i]
						if math.Float64bits(x) != math.Float64bits(y) {
							t.Fatalf("chain %d %s iter %d: %v became %v", c+1, d.Names[v], i+1, x, y)
						}
					}
				}
			}
			if !reflect.DeepEqual(got.Meta, d.Meta) {
				t.Fatalf("metadata differ:\n got %+v\nwant %+v", got.Meta, d.Meta)
			}
		})
	}
}

// An Arrow file converted to CSV and back is byte-identical.
func TestArrowCSVArrowIdentical(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range []WriteOptions{{}, {Compression: Zstd}} {
		d := awkwardDraws(3, 40, 5)
		a := filepath.Join(dir, "a.arrow")
		if err := WriteFile(a, d, opts); err != nil {
			t.Fatal(err)
		}
		fromArrow, err := ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		c := filepath.Join(dir, "a.csv")
		if err := WriteCSVFile(c, fromArrow); err != nil {
			t.Fatal(err)
		}
		fromCSV, err := ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		b := filepath.Join(dir, "b.arrow")
		if err := WriteFile(b, fromCSV, opts); err != nil {
			t.Fatal(err)
		}
		x, _ := os.ReadFile(a)
		y, _ := os.ReadFile(b)
		if !bytes.Equal(x, y) {
			t.Fatalf("Arrow → CSV → Arrow changed the file (compression %v)", opts.Compression)
		}
	}
}

// TestWriteCSVLayout pins the exact text of a small file.
func TestWriteCSVLayout(t *testing.T) {
	seed := uint64(7)
	d := New([]string{LP, "mu", "Sigma[1,2]"}, 2, 3)
	d.Warmup = 1
	d.Meta = Meta{Kind: KindFull, Seed: &seed, Version: "v0.1.0", Params: []Param{{Name: "mu"}}}
	for c := range 2 {
		for i := range 3 {
			d.Values[c][0][i] = float64(-(10*c + i))
			d.Values[c][1][i] = float64(c) + float64(i)/10
			d.Values[c][2][i] = 1.0 / 3
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, d); err != nil {
		t.Fatal(err)
	}
	want := `# epmc.format_version=1
# epmc.kind=full
# epmc.params=[{"name":"mu"}]
# epmc.saved_warmup=1
# epmc.seed=7
# epmc.version=v0.1.0
.chain,.iteration,.draw,lp__,mu,"Sigma[1,2]"
1,1,1,0,0,0.3333333333333333
1,2,2,-1,0.1,0.3333333333333333
1,3,3,-2,0.2,0.3333333333333333
2,1,4,-10,1,0.3333333333333333
2,2,5,-11,1.1,0.3333333333333333
2,3,6,-12,1.2,0.3333333333333333
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestDecodeCSVFromR reads CSV as R's write.csv(as_draws_df(x), f) writes
// it: quoted names, a row-name column, 15-digit numbers; rows may come in
// any order.
func TestDecodeCSVFromR(t *testing.T) {
	text := `"",".chain",".iteration",".draw","mu","beta[1]","Sigma[1,2]"
"1",1,2,2,0.2,-1,3
"2",1,1,1,0.1,-2,4
"3",2,1,3,0.3,-3,5
"4",2,2,4,0.4,-4,6
`
	d, err := DecodeCSV(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := [][][]float64{{{0.1, 0.2}, {-2, -1}, {4, 3}}, {{0.3, 0.4}, {-3, -4}, {5, 6}}}
	if !reflect.DeepEqual(d.Names, []string{"mu", "beta[1]", "Sigma[1,2]"}) || !reflect.DeepEqual(d.Values, want) {
		t.Fatalf("names %v values %v", d.Names, d.Values)
	}
	if d.Meta.Kind != KindDraws || d.Warmup != 0 {
		t.Fatalf("meta %+v", d.Meta)
	}
}

func TestDecodeCSVByteOrderMark(t *testing.T) {
	text := "\ufeff.chain,.iteration,.draw,mu\r\n1,1,1,0.5\r\n1,2,2,0.25\r\n"
	d, err := DecodeCSV(strings.NewReader(text))
	if err != nil || d.Names[0] != "mu" || d.Values[0][0][1] != 0.25 {
		t.Fatalf("%v %v", err, d)
	}
	if f, err := detect(strings.NewReader(text)); err != nil || f != FormatCSV {
		t.Fatalf("detect: %v %v", f, err)
	}
}

func TestDecodeCSVErrors(t *testing.T) {
	const head = ".chain,.iteration,.draw,mu,sigma\n"
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "", "empty file"},
		{"comments only", "# epmc.kind=full\n", "no header line"},
		{"header only", head, "no rows"},
		{"missing .chain", ".iteration,mu\n1,2\n", "line 1: header has no .chain column"},
		{"missing .iteration", ".chain,mu\n1,2\n", "line 1: header has no .iteration column"},
		{"no variables", ".chain,.iteration,.draw\n1,1,1\n", "line 1: no variable columns"},
		{"duplicate column", ".chain,.iteration,mu,mu\n1,1,1,1\n", `line 1: duplicate column "mu"`},
		{"string value", head + "1,1,1,0.5,abc\n", `line 2, column "sigma": "abc" is not a number`},
		{"NaN", head + "1,1,1,0.5,1\n1,2,2,NaN,1\n", `line 3, column "mu": value is NaN`},
		{"Inf", head + "1,1,1,-Inf,1\n", `line 2, column "mu": value is -Inf`},
		{"NA", head + "1,1,1,NA,1\n", `line 2, column "mu": missing value`},
		{"empty field", head + "1,1,1,,1\n", `line 2, column "mu": missing value`},
		{"short row", head + "1,1,1,0.5,1\n1,2,2,0.5\n", "line 3: 4 fields, but the header has 5"},
		{"bad chain", head + "x,1,1,0.5,1\n", `line 2, column .chain: "x" is not an integer`},
		{"chain 0", head + "0,1,1,0.5,1\n", "chain numbers must start at 1, found 0"},
		{"repeat", head + "1,1,1,0.5,1\n1,1,2,0.5,1\n", "chain 1 has iteration 1 more than once"},
		{"gap", head + "1,1,1,0.5,1\n1,3,2,0.5,1\n", "chain 1 jumps from iteration 1 to 3"},
		{"unequal chains", head + "1,1,1,0.5,1\n1,2,2,0.5,1\n2,1,3,0.5,1\n", "chains have different numbers of iterations: chain 1 has 2, chain 2 has 1"},
		{"missing chain", head + "1,1,1,0.5,1\n3,1,2,0.5,1\n", "chain 2 is missing"},
		{"no final newline", head + "1,1,1,0.5,1\n1,2,2,0.5,1", "line 3: the file does not end with a newline"},
		{"bad metadata", "# epmc.shards=abc\n" + head + "1,1,1,0.5,1\n", `metadata epmc.shards = "abc"`},
		{"bad quoted metadata", "# epmc.model=\"unterminated\n" + head + "1,1,1,0.5,1\n", "line 1: metadata epmc.model: unterminated JSON string"},
		{"newer format", "# epmc.format_version=99\n" + head + "1,1,1,0.5,1\n", "upgrade epmc"},
		{"warmup too large", "# epmc.saved_warmup=5\n" + head + "1,1,1,0.5,1\n", "warmup count 5 does not fit"},
		{"bare quote", head + "1,1,1,0.5,\"1\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCSV(strings.NewReader(tc.text))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestReadCSVNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(p, []byte(".chain,.iteration,mu\n1,1,NaN\n"), 0o644)
	_, err := ReadCSV(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": line 2, column \"mu\": value is NaN") {
		t.Fatalf("err = %v", err)
	}
}

func TestMetaTokenRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `"q`, " lead", "trail ", "a\nb", "x=y", "\x00\x1f\x7f", "é", "\u2028"} {
		for _, isKey := range []bool{false, true} {
			k := "epmc.k"
			if isKey {
				k = "epmc." + s
			}
			line := " " + metaToken(k, true) + "=" + metaToken(s, false)
			if strings.ContainsAny(line, "\n\r") {
				t.Fatalf("%q: token spans lines: %q", s, line)
			}
			gk, gv, ok, err := parseMetaLine(line)
			if err != nil || !ok || gk != k || gv != s {
				t.Errorf("%q (key %v): got %q=%q ok=%v err=%v from %q", s, isKey, gk, gv, ok, err, line)
			}
		}
	}
}

// benchDraws: 4 chains × 1,000 iterations × 100 parameters plus 7 sampler
// statistics, full-precision values.
func benchDraws() *Draws {
	names := []string{LP, AcceptStat, StepSize, TreeDepth, NumLeapfrog, Divergent, Energy}
	for i := range 100 {
		names = append(names, "theta["+strconv.Itoa(i+1)+"]")
	}
	d := New(names, 4, 1000)
	r := rand.New(rand.NewPCG(1, 2))
	for _, ch := range d.Values {
		for _, s := range ch {
			for i := range s {
				s[i] = r.NormFloat64()
			}
		}
	}
	return d
}

func BenchmarkWriteCSV(b *testing.B) {
	d := benchDraws()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WriteCSV(&buf, d); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

func BenchmarkDecodeCSV(b *testing.B) {
	var buf bytes.Buffer
	WriteCSV(&buf, benchDraws())
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := DecodeCSV(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteCSVRejectsNonFinite: like the Arrow writer, WriteCSV refuses NaN
// and ±Inf (which DecodeCSV would reject), before writing anything.
func TestWriteCSVRejectsNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		d := testDraws(2, 5, 0)
		d.Values[1][d.Index("mu")][2] = v
		var buf bytes.Buffer
		err := WriteCSV(&buf, d)
		want := "chain 2, iteration 3: mu is " + strconv.FormatFloat(v, 'g', -1, 64)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("value %g: err = %v, want prefix %q", v, err, want)
		}
		if buf.Len() != 0 {
			t.Fatalf("value %g: wrote %d bytes", v, buf.Len())
		}
	}
}
