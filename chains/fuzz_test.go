package chains

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and are made by
//
//	go test ./chains -run TestGenerateFuzzCorpus -gen-fuzz-corpus
//
// Run a fuzzer with, for example,
//
//	go test ./chains -run '^$' -fuzz '^FuzzReadArrow$' -fuzztime 5m
//
// With EPMC_FUZZ_STRICT=1 a panic inside the Arrow library that the reader
// recovered from also fails, to find inputs worth validating up front.
var genFuzzCorpus = flag.Bool("gen-fuzz-corpus", false, "rewrite the fuzz seed corpora under testdata/fuzz")

// checkDecoded checks what every reader promises: a one-line error, or
// valid, finite draws that survive a CSV round trip unchanged.
func checkDecoded(t *testing.T, d *Draws, err error) {
	t.Helper()
	if err != nil {
		if d != nil {
			t.Fatalf("draws and error %v", err)
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || msg == "" {
			t.Fatalf("error is not one line: %q", msg)
		}
		if os.Getenv("EPMC_FUZZ_STRICT") == "1" && strings.Contains(err.Error(), "corrupt Arrow file (") {
			t.Fatalf("recovered panic: %v", err)
		}
		return
	}
	if verr := d.Validate(); verr != nil {
		t.Fatalf("reader returned invalid draws: %v", verr)
	}
	for _, ch := range d.Values {
		for v, s := range ch {
			for i, x := range s {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Fatalf("%s[%d] = %v accepted", d.Names[v], i, x)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, d); err != nil {
		t.Fatalf("WriteCSV of read draws: %v", err)
	}
	back, err := DecodeCSV(&buf)
	if err != nil {
		t.Fatalf("DecodeCSV of WriteCSV output: %v\n%s", err, buf.String())
	}
	// Empty and absent are the same in the metadata: [] params and no
	// params both write no epmc.params key.
	norm := func(m Meta) Meta {
		if len(m.Params) == 0 {
			m.Params = nil
		}
		if len(m.Extra) == 0 {
			m.Extra = nil
		}
		if m.Kind == "" {
			m.Kind = KindDraws
		}
		return m
	}
	want := norm(d.Meta)
	back.Meta = norm(back.Meta)
	if back.Meta.Version != want.Version && want.Version == "" {
		back.Meta.Version = ""
	}
	if !reflect.DeepEqual(back.Names, d.Names) || !reflect.DeepEqual(back.Values, d.Values) || back.Warmup != d.Warmup {
		t.Fatalf("CSV round trip changed the draws")
	}
	if !reflect.DeepEqual(back.Meta, want) {
		t.Fatalf("CSV round trip changed the metadata:\n got %+v\nwant %+v", back.Meta, want)
	}
}

func FuzzReadArrow(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeArrow(data)
		checkDecoded(t, d, err)
	})
}

func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeCSV(bytes.NewReader(data))
		checkDecoded(t, d, err)
		if _, derr := detect(bytes.NewReader(data)); err == nil && derr != nil {
			t.Fatalf("readable draws_df CSV not detected: %v", derr)
		}
	})
}

// FuzzReadStanCSV reads one or two chains (b empty: one).
func FuzzReadStanCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var files []*stanFile
		var names []string
		for i, data := range [][]byte{a, b} {
			if i == 1 && len(b) == 0 {
				break
			}
			sf, err := parseStanCSV(bytes.NewReader(data))
			if err != nil {
				checkDecoded(t, nil, err)
				return
			}
			sf.file = fmt.Sprintf("chain%d.csv", i+1)
			files = append(files, sf)
			names = append(names, sf.file)
		}
		d, err := stanDraws(names, files)
		checkDecoded(t, d, err)
	})
}

// fuzzSeeds returns the seed inputs of each fuzzer, by file name.
func fuzzSeeds(t testing.TB) map[string]map[string][][]byte {
	dir := t.TempDir()
	arrowSeeds := map[string][][]byte{}
	for name, d := range map[string]*Draws{
		"valid":        testDraws(2, 5, 0),
		"valid-warmup": testDraws(2, 4, 2),
		"one-row":      testDraws(1, 1, 0),
	} {
		b, err := arrowFileBytes(dir, d, WriteOptions{BatchRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		arrowSeeds[name] = [][]byte{b}
		if name == "valid" {
			z, err := arrowFileBytes(dir, d, WriteOptions{Compression: Zstd})
			if err != nil {
				t.Fatal(err)
			}
			arrowSeeds["valid-zstd"] = [][]byte{z}
			arrowSeeds["truncated"] = [][]byte{b[:len(b)*2/3]}
			arrowSeeds["truncated-zstd"] = [][]byte{z[:len(z)/2]}
		}
	}
	for name, bad := range badArrowFiles(t) {
		arrowSeeds["bad-"+strings.ReplaceAll(name, " ", "-")] = [][]byte{bad.data}
	}

	csvSeeds := map[string][][]byte{}
	var buf bytes.Buffer
	WriteCSV(&buf, awkwardDraws(2, 4, 1))
	csvSeeds["valid"] = [][]byte{append([]byte{}, buf.Bytes()...)}
	csvSeeds["truncated"] = [][]byte{buf.Bytes()[:buf.Len()-7]}
	csvSeeds["empty"] = [][]byte{{}}
	csvSeeds["from-R"] = [][]byte{[]byte("\"\",\".chain\",\".iteration\",\".draw\",\"mu\",\"Sigma[1,2]\"\n\"1\",1,1,1,0.1,2\n\"2\",1,2,2,0.2,3\n")}
	csvSeeds["missing-chain"] = [][]byte{[]byte(".iteration,.draw,mu\n1,1,0.5\n")}
	csvSeeds["string-value"] = [][]byte{[]byte(".chain,.iteration,.draw,mu\n1,1,1,abc\n")}
	csvSeeds["nan"] = [][]byte{[]byte(".chain,.iteration,.draw,mu,sigma\n1,1,1,NaN,1\n1,2,2,0.5,Inf\n")}
	csvSeeds["unequal-chains"] = [][]byte{[]byte(".chain,.iteration,.draw,mu\n1,1,1,0.5\n1,2,2,0.5\n2,1,3,0.5\n")}
	csvSeeds["quoted-meta"] = [][]byte{[]byte("# epmc.kind=full\n# \"epmc.a=b\"=\"x\\ny\"\n# epmc.saved_warmup=1\n.chain,.iteration,.draw,mu\n1,1,1,0.5\n1,2,2,0.25\n")}

	stanSeeds := map[string][][]byte{}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "stan", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cut := func(b []byte, rows int) []byte { // keep the comments and the first rows
		var out []byte
		n := 0
		for _, l := range bytes.SplitAfter(b, []byte("\n")) {
			if len(l) > 0 && l[0] != '#' {
				n++
				if n > rows+1 {
					continue
				}
			}
			out = append(out, l...)
		}
		return out
	}
	short := func(b []byte) []byte { // 5 post-warmup rows, configuration to match
		return bytes.Replace(cut(b, 5), []byte("# iter=300\n"), []byte("# iter=155\n"), 1)
	}
	stanSeeds["rstan-two-chains"] = [][]byte{short(read("nowarmup_1.csv")), short(read("nowarmup_2.csv"))}
	stanSeeds["rstan-warmup-cut"] = [][]byte{cut(read("warmup_1.csv"), 6), nil}
	stanSeeds["rstan-dense"] = [][]byte{bytes.Replace(cut(read("dense_1.csv"), 5), []byte("# iter=300\n"), []byte("# iter=160\n"), 1), nil}
	stanSeeds["cmdstan"] = [][]byte{read("cmdstan_1.csv"), read("cmdstan_2.csv")}
	stanSeeds["cmdstan-truncated"] = [][]byte{cut(read("cmdstan_1.csv"), 7), nil}
	stanSeeds["empty"] = [][]byte{{}, nil}
	stanSeeds["header-only"] = [][]byte{[]byte("lp__,accept_stat__,mu\n"), nil}
	stanSeeds["nan"] = [][]byte{[]byte(stanText(0, 3, func(i int) string {
		if i == 1 {
			return "-1,0.9,nan,1,2\n"
		}
		return ""
	})), nil}
	stanSeeds["unequal-chains"] = [][]byte{[]byte(stanText(0, 3, nil)), []byte(stanText(0, 4, nil))}
	stanSeeds["different-columns"] = [][]byte{[]byte("lp__,a\n1,2\n"), []byte("lp__,b\n1,2\n")}
	stanSeeds["string-value"] = [][]byte{[]byte("lp__,mu\n1,abc\n"), nil}
	return map[string]map[string][][]byte{
		"FuzzReadArrow":   arrowSeeds,
		"FuzzReadCSV":     csvSeeds,
		"FuzzReadStanCSV": stanSeeds,
	}
}

// TestGenerateFuzzCorpus writes the seed corpora with -gen-fuzz-corpus and
// otherwise checks that the committed corpora exist.
func TestGenerateFuzzCorpus(t *testing.T) {
	for fuzzer, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if !*genFuzzCorpus {
			ents, err := os.ReadDir(dir)
			if err != nil || len(ents) < len(seeds) {
				t.Errorf("%s: %d seed files, want at least %d (run with -gen-fuzz-corpus)", dir, len(ents), len(seeds))
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, args := range seeds {
			var b strings.Builder
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
