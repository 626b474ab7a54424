package chains

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// arrowColumn is one column of a hand-built Arrow file: int32, float64 or
// string values; nulls marks missing entries.
type arrowColumn struct {
	name  string
	ints  []int32
	flts  []float64
	strs  []string
	nulls []bool
}

// buildArrow writes an Arrow IPC file with the given columns and schema
// metadata, bypassing epmc's writer, so tests can make files epmc would
// never write.
func buildArrow(dir string, cols []arrowColumn, keys, values []string) ([]byte, error) {
	mem := memory.NewGoAllocator()
	var fields []arrow.Field
	var arrs []arrow.Array
	rows := 0
	for _, c := range cols {
		var valid []bool
		if c.nulls != nil {
			valid = make([]bool, len(c.nulls))
			for i, n := range c.nulls {
				valid[i] = !n
			}
		}
		switch {
		case c.ints != nil:
			b := array.NewInt32Builder(mem)
			b.AppendValues(c.ints, valid)
			arrs = append(arrs, b.NewArray())
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.PrimitiveTypes.Int32, Nullable: true})
			rows = len(c.ints)
		case c.strs != nil:
			b := array.NewStringBuilder(mem)
			b.AppendValues(c.strs, valid)
			arrs = append(arrs, b.NewArray())
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.BinaryTypes.String, Nullable: true})
			rows = len(c.strs)
		default:
			b := array.NewFloat64Builder(mem)
			b.AppendValues(c.flts, valid)
			arrs = append(arrs, b.NewArray())
			fields = append(fields, arrow.Field{Name: c.name, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
			rows = len(c.flts)
		}
	}
	md := arrow.NewMetadata(keys, values)
	schema := arrow.NewSchema(fields, &md)
	f, err := os.CreateTemp(dir, "build-*.arrow")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	rec := array.NewRecord(schema, arrs, int64(rows))
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	rec.Release()
	if err := w.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(f.Name())
}

func seq(n int, f func(i int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// badArrowFiles returns Arrow files that epmc must reject, with the fault
// the error must name.
func badArrowFiles(t testing.TB) map[string]struct {
	data []byte
	want string
} {
	dir := t.TempDir()
	good, err := arrowFileBytes(dir, testDraws(2, 20, 0), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := func(chains ...int32) []arrowColumn {
		ch, it := []int32{}, []int32{}
		for c, n := range chains {
			for i := range n {
				ch = append(ch, int32(c+1))
				it = append(it, i+1)
			}
		}
		return []arrowColumn{{name: ColChain, ints: ch}, {name: ColIteration, ints: it}}
	}
	mk := func(cols []arrowColumn, kv ...string) []byte {
		var keys, values []string
		for i := 0; i+1 < len(kv); i += 2 {
			keys, values = append(keys, kv[i]), append(values, kv[i+1])
		}
		b, err := buildArrow(dir, cols, keys, values)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := map[string]struct {
		data []byte
		want string
	}{
		"empty":             {nil, "empty file"},
		"truncated":         {good[:len(good)/2], "truncated Arrow IPC file"},
		"truncated footer":  {append(append([]byte{}, good[:len(good)-40]...), arrowMagic...), "corrupt Arrow file: footer size"},
		"magic only":        {[]byte("ARROW1"), "not an Arrow IPC file"},
		"string column":     {mk(append(idx(3), arrowColumn{name: "mu", strs: []string{"a", "b", "c"}})), `column "mu" has type utf8, want a numeric type`},
		"missing .chain":    {mk([]arrowColumn{{name: ColIteration, ints: []int32{1, 2}}, {name: "mu", flts: []float64{1, 2}}}), "missing index column .chain"},
		"float .iteration":  {mk([]arrowColumn{{name: ColChain, ints: []int32{1}}, {name: ColIteration, flts: []float64{1}}, {name: "mu", flts: []float64{1}}}), "index column .iteration has type float64"},
		"NaN value":         {mk(append(idx(4), arrowColumn{name: "mu", flts: []float64{1, 2, math.NaN(), 4}})), `column "mu" row 3: value is NaN`},
		"Inf value":         {mk(append(idx(2), arrowColumn{name: "mu", flts: []float64{math.Inf(1), 4}})), `column "mu" row 1: value is +Inf`},
		"null value":        {mk(append(idx(2), arrowColumn{name: "mu", flts: []float64{1, 2}, nulls: []bool{false, true}})), `column "mu" row 2: missing value`},
		"null index":        {mk([]arrowColumn{{name: ColChain, ints: []int32{1, 1}, nulls: []bool{true, false}}, {name: ColIteration, ints: []int32{1, 2}}, {name: "mu", flts: []float64{1, 2}}}), "column .chain row 1: missing value"},
		"unequal chains":    {mk(append(idx(3, 2), arrowColumn{name: "mu", flts: seq(5, func(i int) float64 { return float64(i) })})), "chains have different numbers of iterations: chain 1 has 3, chain 2 has 2"},
		"no variables":      {mk(idx(2)), "no variable columns"},
		"no rows":           {mk(append(idx(), arrowColumn{name: "mu", flts: []float64{}})), "no rows"},
		"bad metadata":      {mk(append(idx(1), arrowColumn{name: "mu", flts: []float64{1}}), "epmc.shard", "9", "epmc.shards", "4"), "shard 9 is not below shard count 4"},
		"bad params JSON":   {mk(append(idx(1), arrowColumn{name: "mu", flts: []float64{1}}), "epmc.params", "[{"), "metadata epmc.params"},
		"newer format":      {mk(append(idx(1), arrowColumn{name: "mu", flts: []float64{1}}), "epmc.format_version", "2"), "upgrade epmc"},
		"reserved name .lw": {mk(append(idx(1), arrowColumn{name: "mu", flts: []float64{1}}, arrowColumn{name: "mu", flts: []float64{1}})), `duplicate variable name "mu"`},
	}
	return out
}

// arrowFileBytes writes d with epmc's writer and returns the file's bytes.
func arrowFileBytes(dir string, d *Draws, opts WriteOptions) ([]byte, error) {
	p := filepath.Join(dir, "tmp-draws.arrow")
	defer os.Remove(p)
	if err := WriteFile(p, d, opts); err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// TestReadFileRejects: every file epmc cannot trust gives a one-line error
// that names the file and the fault, never a panic.
func TestReadFileRejects(t *testing.T) {
	dir := t.TempDir()
	type bad struct {
		data []byte
		want string
	}
	cases := map[string]bad{}
	for name, b := range badArrowFiles(t) {
		cases["arrow/"+name] = bad{b.data, b.want}
	}
	cases["csv/NaN"] = bad{[]byte(".chain,.iteration,.draw,mu\n1,1,1,NaN\n"), `line 2, column "mu": value is NaN`}
	cases["csv/string"] = bad{[]byte(".chain,.iteration,.draw,mu\n1,1,1,x\n"), `line 2, column "mu": "x" is not a number`}
	cases["csv/truncated"] = bad{[]byte("# epmc.kind=full\n.chain,.iteration,.draw,mu\n1,1,1,0.5\n1,2,2,0."), "line 4: the file does not end with a newline"}
	cases["csv/missing .chain"] = bad{[]byte(".iteration,.draw,mu\n1,1,0.5\n"), "not a draws file: the CSV header has neither a .chain column"}
	cases["stan/NaN"] = bad{[]byte("lp__,mu\n1,nan\n"), "line 2: column mu: value is nan"}
	cases["stan/truncated"] = bad{[]byte(stanText(0, 5, nil)[:strings.Index(stanText(0, 5, nil), "-3,0.9")]), "3 draws after warmup, but num_samples = 5"}
	cases["stan/header only"] = bad{[]byte("# stan_version_major = 2\nlp__,mu\n"), "no draws after the header"}
	cases["other/binary"] = bad{[]byte{0, 1, 2, 3, 255, 254}, "not a draws file"}
	cases["other/text"] = bad{[]byte("hello world\n"), "not a draws file"}
	cases["other/gzip"] = bad{[]byte{0x1f, 0x8b, 8, 0, 0, 0}, "gzip-compressed file"}
	cases["other/parquet"] = bad{[]byte("PAR1\x15\x04"), "a Parquet file, not a draws file"}
	cases["other/long line"] = bad{[]byte(strings.Repeat("x", maxLineBytes+100) + "\n"), "longer than"}
	cases["other/comments only"] = bad{[]byte("# just a comment\n"), "no header line"}
	cases["other/stan comments only"] = bad{[]byte("# stan_version_major=2\n"), "Stan CSV file without a header line"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name))
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(p)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, p+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\nwant %q and the file name first", msg, tc.want)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error spans lines: %q", msg)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.arrow")); err == nil || !strings.Contains(err.Error(), "missing.arrow") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	arrowData, err := arrowFileBytes(dir, testDraws(1, 3, 0), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var csvData bytes.Buffer
	WriteCSV(&csvData, testDraws(1, 3, 0))
	long := "# " + strings.Repeat("x", 200000) + "\n" + ".chain,.iteration,mu\n1,1,1\n"
	for _, tc := range []struct {
		name string
		data []byte
		want Format
	}{
		{"arrow", arrowData, FormatArrow},
		{"draws csv", csvData.Bytes(), FormatCSV},
		{"draws csv from R", []byte(`"",".chain",".iteration",".draw","mu"` + "\n"), FormatCSV},
		{"draws csv long comments", []byte(long), FormatCSV},
		{"stan header", []byte("lp__,accept_stat__,mu\n1,1,1\n"), FormatStanCSV},
		{"stan comments, fixed_param without lp__", []byte("# stan_version_major = 2\nmu,sigma\n1,1\n"), FormatStanCSV},
		{"crlf", []byte("lp__,mu\r\n1,2\r\n"), FormatStanCSV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "f")
			os.WriteFile(p, tc.data, 0o644)
			got, err := Detect(p)
			if err != nil || got != tc.want {
				t.Fatalf("Detect = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestReadArrowForeignFile reads a draws_df-like Arrow file without epmc
// metadata (as arrow::write_feather(posterior::as_draws_df(x)) makes),
// with rows out of order.
func TestReadArrowForeignFile(t *testing.T) {
	b, err := buildArrow(t.TempDir(), []arrowColumn{
		{name: ColChain, ints: []int32{2, 1, 1, 2}},
		{name: ColIteration, ints: []int32{1, 2, 1, 2}},
		{name: ColDraw, ints: []int32{3, 2, 1, 4}},
		{name: "theta[1]", flts: []float64{30, 20, 10, 40}},
	}, []string{"r"}, []string{"ignored"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "r.feather")
	os.WriteFile(p, b, 0o644)
	d, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.Kind != KindDraws || d.Values[0][0][0] != 10 || d.Values[0][0][1] != 20 || d.Values[1][0][0] != 30 || d.Values[1][0][1] != 40 {
		t.Fatalf("got %+v %v", d.Meta, d.Values)
	}
}
