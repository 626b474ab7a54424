package chains

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// jsDraws is what testdata/interop/read_draws.mjs prints.
type jsDraws struct {
	NumRows    int `json:"num_rows"`
	NumBatches int `json:"num_batches"`
	Fields     []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"fields"`
	Metadata  map[string]string    `json:"metadata"`
	Columns   map[string][]float64 `json:"columns"`
	ZstdCodec bool                 `json:"zstd_codec"`
}

// jsReader returns a command running read_draws.mjs, or skips the test
// when node or the npm package apache-arrow is missing.
func jsReader(t *testing.T) func(args ...string) ([]byte, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the JavaScript interop test needs Node.js and npm apache-arrow@21.2.0")
	}
	script, _ := filepath.Abs(filepath.Join("..", "testdata", "interop", "read_draws.mjs"))
	// Read here (not only by the script) so that go test's cache knows the
	// result depends on it.
	deps := os.Getenv("EPMC_JS_DEPS")
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(node, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "EPMC_JS_DEPS="+deps)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, &jsError{err, strings.TrimSpace(stderr.String())}
		}
		return out, nil
	}
	probe, err := run("--probe")
	if err != nil {
		t.Skipf("skipping the JavaScript interop test: %v", err)
	}
	t.Logf("JavaScript reader: %s", bytes.TrimSpace(probe))
	return run
}

type jsError struct {
	err    error
	stderr string
}

func (e *jsError) Error() string { return e.err.Error() + ": " + e.stderr }

// TestJavaScriptReadsDrawsFile writes draws files with epmc and reads them
// with the npm apache-arrow package: the columns, their types, the schema
// metadata and every value must come through as written, and as epmc
// itself reads them back.
func TestJavaScriptReadsDrawsFile(t *testing.T) {
	run := jsReader(t)
	d := awkwardDraws(3, 40, 5)
	d.Names[3] = "Sigma[1,2]" // a name with a comma
	for _, tc := range []struct {
		name string
		opts WriteOptions
	}{
		{"uncompressed, several batches", WriteOptions{BatchRows: 16}},
		{"zstd", WriteOptions{Compression: Zstd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "draws.arrow")
			if err := WriteFile(p, d, tc.opts); err != nil {
				t.Fatal(err)
			}
			out, err := run(p, "--all")
			if tc.opts.Compression == Zstd {
				if err != nil {
					// Without a zstd codec apache-arrow refuses, as
					// docs/FORMAT.md says.
					if !strings.Contains(err.Error(), "codec") {
						t.Fatalf("zstd file: %v", err)
					}
					t.Skipf("no zstd codec in this Node (%v); uncompressed files are the portable choice", err)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			var js jsDraws
			if err := json.Unmarshal(out, &js); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			n := d.NumChains() * len(d.Values[0][0])
			if js.NumRows != n {
				t.Errorf("rows %d, want %d", js.NumRows, n)
			}
			if tc.opts.BatchRows == 16 && js.NumBatches < 2 {
				t.Errorf("%d record batches, want several", js.NumBatches)
			}
			wantNames := append([]string{ColChain, ColIteration, ColDraw}, d.Names...)
			for i, f := range js.Fields {
				want := "Float64"
				if i < 3 {
					want = "Int32"
				}
				if i >= len(wantNames) || f.Name != wantNames[i] || f.Type != want {
					t.Errorf("field %d: %s %s, want %s %s", i, f.Name, f.Type, wantNames[min(i, len(wantNames)-1)], want)
				}
			}
			if len(js.Fields) != len(wantNames) {
				t.Errorf("%d fields, want %d", len(js.Fields), len(wantNames))
			}
			keys, values := encodeMeta(d.Meta, d.Warmup)
			wantMeta := map[string]string{}
			for i, k := range keys {
				wantMeta[k] = values[i]
			}
			if !reflect.DeepEqual(js.Metadata, wantMeta) {
				t.Errorf("metadata:\n got %v\nwant %v", js.Metadata, wantMeta)
			}
			back, err := ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			iters := len(d.Values[0][0])
			for v, name := range d.Names {
				col := js.Columns[name]
				if len(col) != n {
					t.Fatalf("%s: %d values, want %d", name, len(col), n)
				}
				for c := range d.Values {
					for i, x := range d.Values[c][v] {
						y := col[c*iters+i]
						if math.Float64bits(x) != math.Float64bits(y) && !(x == 0 && y == 0) {
							t.Fatalf("%s chain %d row %d: JavaScript read %v, epmc wrote %v", name, c+1, i+1, y, x)
						}
						if back.Values[c][v][i] != y {
							t.Fatalf("%s chain %d row %d: epmc reads %v, JavaScript %v", name, c+1, i+1, back.Values[c][v][i], y)
						}
					}
				}
			}
			for c := range d.Values {
				for i := range iters {
					r := c*iters + i
					if js.Columns[ColChain][r] != float64(c+1) || js.Columns[ColIteration][r] != float64(i+1) || js.Columns[ColDraw][r] != float64(r+1) {
						t.Fatalf("row %d: index %v %v %v", r, js.Columns[ColChain][r], js.Columns[ColIteration][r], js.Columns[ColDraw][r])
					}
				}
			}
		})
	}
}

// The script itself must exist and say how to install its dependency,
// whether or not node is here.
func TestInteropScriptPresent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "interop", "read_draws.mjs"))
	if err != nil || !bytes.Contains(b, []byte("apache-arrow@21.2.0")) || !bytes.Contains(b, []byte("tableFromIPC")) {
		t.Fatalf("read_draws.mjs missing or changed: %v", err)
	}
}
