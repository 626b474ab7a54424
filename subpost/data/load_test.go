package data

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/decimal128"
	"github.com/apache/arrow/go/v15/arrow/float16"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

func writeText(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var allFormats = []Format{CSV, ArrowFile, ArrowStream, Parquet}

func TestLoadRoundTrip(t *testing.T) {
	tab := &Table{
		Names: []string{"y", "x 1", "x[2]"},
		Cols: [][]float64{
			{0, 1, 1, 0, 1},
			{0.1, -2.5e-300, 3.141592653589793, 1e300, -0},
			{1, 2, 3, 4, 5},
		},
	}
	for _, f := range allFormats {
		t.Run(f.String(), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "d"+f.Ext())
			if err := WriteFile(p, tab, f); err != nil {
				t.Fatal(err)
			}
			if got, err := Detect(p); err != nil || got != f {
				t.Fatalf("Detect = %v, %v", got, err)
			}
			all, err := Load(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(all.Names, tab.Names) || !reflect.DeepEqual(all.Cols, tab.Cols) || all.Path != p {
				t.Fatalf("Load(nil) = %+v", all)
			}
			sub, err := Load(p, []string{"x[2]", "y"})
			if err != nil {
				t.Fatal(err)
			}
			want := [][]float64{tab.Cols[2], tab.Cols[0]}
			if !reflect.DeepEqual(sub.Names, []string{"x[2]", "y"}) || !reflect.DeepEqual(sub.Cols, want) {
				t.Fatalf("Load(x[2], y) = %+v", sub)
			}
		})
	}
}

func TestLoadCSVDialect(t *testing.T) {
	cases := []struct {
		name, text string
		cols       []string
		want       [][]float64
	}{
		{"plain", "a,b\n1,2\n3,4\n", nil, [][]float64{{1, 3}, {2, 4}}},
		{"crlf and blank lines", "a,b\r\n\r\n1,2\r\n\n3,4", nil, [][]float64{{1, 3}, {2, 4}}},
		{"bom", "\ufeffa,b\n1,2\n", []string{"a"}, [][]float64{{1}}},
		{"quoted", "\"a\",\"b, c\"\n\"1\",\" 2.5 \"\n", []string{"b, c"}, [][]float64{{2.5}}},
		{"spaces", "a , b\n 1 , 2e3\n", []string{"b"}, [][]float64{{2000}}},
		{"tab separated", "a\tb\n1\t2\n", nil, [][]float64{{1}, {2}}},
		{"strings elsewhere", "name,x\n\"Smith, J\",1\nLee,2\n", []string{"x"}, [][]float64{{1, 2}}},
		{"duplicate unused", "x,a,a\n1,2,3\n", []string{"x"}, [][]float64{{1}}},
		{"multiline quoted string", "s,x\n\"two\nlines\",7\n", []string{"x"}, [][]float64{{7}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := Load(writeText(t, "d.csv", c.text), c.cols)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tab.Cols, c.want) {
				t.Fatalf("got %v, want %v", tab.Cols, c.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, text string
		cols       []string
		want       string // substrings of the error, separated by |
	}{
		{"empty", "", nil, "empty file"},
		{"blank lines only", "\n\n", nil, "empty file"},
		{"header only", "a,b\n", nil, "no data rows"},
		{"missing column", "a,b\n1,2\n", []string{"a", "z"}, `no column "z" (columns: "a", "b")`},
		{"NA", "a,b\n1,2\n3,NA\n", nil, `row 2 (line 3), column "b": missing value (NA)`},
		{"empty cell", "a,b\n1,\n", nil, `row 1 (line 2), column "b": missing value (empty cell)`},
		{"string", "a,b\n1,2\n3,abc\n", []string{"b"}, `row 2 (line 3), column "b": "abc" is not a number`},
		{"NaN", "a\nNaN\n", nil, `row 1 (line 2), column "a": value "NaN" is not finite`},
		{"Inf", "a\n1\n-Inf\n", nil, `row 2 (line 3), column "a": value "-Inf" is not finite`},
		{"overflow", "a\n1e400\n", nil, `out of the float64 range`},
		{"line after blank", "a\n1\n\n\nx\n", nil, `row 2 (line 5), column "a"`},
		{"ragged", "a,b\n1,2\n3\n", nil, "line 3: 1 fields, but the header has 2"},
		{"bare quote", "a,b\n1,2\"x\n", nil, "line 2"},
		{"duplicate header", "a,a\n1,2\n", nil, `column "a" appears twice in the header (columns 1 and 2)`},
		{"duplicate requested", "a,a\n1,2\n", []string{"a"}, `column "a" appears twice`},
		{"nameless", "a,\n1,2\n", nil, "column 2 has no name"},
		{"binary", "a\x00b", nil, "not a CSV, Arrow IPC or Parquet file"},
		{"gzip", "\x1f\x8b\x08rest", nil, "compressed file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeText(t, "d.csv", c.text)
			_, err := Load(p, c.cols)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, p) {
				t.Errorf("error is not one line starting with the file name: %q", msg)
			}
			for _, w := range strings.Split(c.want, "|") {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	t.Run("twice requested", func(t *testing.T) {
		if _, err := Load(writeText(t, "d.csv", "a\n1\n"), []string{"a", "a"}); err == nil || !strings.Contains(err.Error(), "requested twice") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("does not exist", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.csv"), nil)
		if err == nil || !strings.Contains(err.Error(), "nope.csv does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := Load(t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

// typedRecord builds a record with one column of every type Load accepts,
// three rows each.
func typedRecord(mem memory.Allocator) arrow.Record {
	var cols []arrow.Array
	var fields []arrow.Field
	add := func(name string, a arrow.Array) {
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
		cols = append(cols, a)
	}
	i8 := array.NewInt8Builder(mem)
	i8.AppendValues([]int8{-1, 0, 127}, nil)
	add("i8", i8.NewArray())
	u64 := array.NewUint64Builder(mem)
	u64.AppendValues([]uint64{1, 2, 1 << 40}, nil)
	add("u64", u64.NewArray())
	i32 := array.NewInt32Builder(mem)
	i32.AppendValues([]int32{5, -6, 7}, nil)
	add("i32", i32.NewArray())
	f32 := array.NewFloat32Builder(mem)
	f32.AppendValues([]float32{0.5, 1.5, -2}, nil)
	add("f32", f32.NewArray())
	f16 := array.NewFloat16Builder(mem)
	f16.AppendValues([]float16.Num{float16.New(0.25), float16.New(1), float16.New(-3)}, nil)
	add("f16", f16.NewArray())
	bl := array.NewBooleanBuilder(mem)
	bl.AppendValues([]bool{true, false, true}, nil)
	add("bool", bl.NewArray())
	dec := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 10, Scale: 2})
	dec.AppendValues([]decimal128.Num{decimal128.FromI64(125), decimal128.FromI64(-50), decimal128.FromI64(1)}, nil)
	add("dec", dec.NewArray())
	str := array.NewStringBuilder(mem)
	str.AppendValues([]string{"1.5", " 2 ", "3e1"}, nil)
	add("str", str.NewArray())
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.PrimitiveTypes.Float64}).(*array.Float64DictionaryBuilder)
	db.Append(2.5)
	db.Append(2.5)
	db.Append(-1)
	add("dict", db.NewArray())
	label := array.NewStringBuilder(mem)
	label.AppendValues([]string{"a", "b", "c"}, nil)
	add("label", label.NewArray())
	withNull := array.NewFloat64Builder(mem)
	withNull.AppendValues([]float64{1, 2, 3}, []bool{true, true, false})
	add("null", withNull.NewArray())
	nan := array.NewFloat64Builder(mem)
	nan.AppendValues([]float64{1, 0, 0}, nil)
	add("ok", nan.NewArray())
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, 3)
	for _, c := range cols {
		c.Release()
	}
	for _, b := range []interface{ Release() }{i8, u64, i32, f32, f16, bl, dec, str, db, label, withNull, nan} {
		b.Release()
	}
	return rec
}

func writeRecord(t *testing.T, p string, f Format, recs ...arrow.Record) {
	t.Helper()
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	schema := recs[0].Schema()
	switch f {
	case ArrowFile:
		w, err := ipc.NewFileWriter(out, ipc.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case ArrowStream:
		w := ipc.NewWriter(out, ipc.WithSchema(schema))
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Parquet:
		w, err := pqarrow.NewFileWriter(schema, out, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadArrowTypes(t *testing.T) {
	rec := typedRecord(memory.NewGoAllocator())
	defer rec.Release()
	want := map[string][]float64{
		"i8":   {-1, 0, 127},
		"u64":  {1, 2, 1 << 40},
		"i32":  {5, -6, 7},
		"f32":  {0.5, 1.5, -2},
		"f16":  {0.25, 1, -3},
		"bool": {1, 0, 1},
		"dec":  {1.25, -0.5, 0.01},
		"str":  {1.5, 2, 30},
		"dict": {2.5, 2.5, -1},
	}
	for _, f := range []Format{ArrowFile, ArrowStream, Parquet} {
		t.Run(f.String(), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "typed"+f.Ext())
			writeRecord(t, p, f, rec, rec)
			for name, w := range want {
				if f == Parquet && name == "f16" {
					continue // Parquet in arrow v15 has no float16
				}
				tab, err := Load(p, []string{name})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got := tab.Cols[0]; !reflect.DeepEqual(got, append(append([]float64{}, w...), w...)) {
					t.Errorf("%s = %v, want %v twice", name, got, w)
				}
			}
			for _, c := range []struct{ col, want string }{
				{"label", `row 1, column "label": "a" is not a number`},
				{"null", `row 3, column "null": missing value (null)`},
				{"nope", `no column "nope" (columns: "i8", "u64"`},
			} {
				_, err := Load(p, []string{"ok", c.col})
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p) {
					t.Errorf("Load(%s) error %v, want %q", c.col, err, c.want)
				}
			}
		})
	}
}

func TestLoadArrowErrors(t *testing.T) {
	mem := memory.NewGoAllocator()
	// A second batch: the bad value's row counts across batches.
	b := array.NewFloat64Builder(mem)
	b.AppendValues([]float64{1, 2}, nil)
	a1 := b.NewArray()
	b.AppendValues([]float64{3, 0}, []bool{true, false})
	a2 := b.NewArray()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	r1 := array.NewRecord(schema, []arrow.Array{a1}, 2)
	r2 := array.NewRecord(schema, []arrow.Array{a2}, 2)
	ts := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Second})
	ts.Append(1)
	tsa := ts.NewArray()
	r3 := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "t", Type: tsa.DataType()}}, nil), []arrow.Array{tsa}, 1)
	empty := array.NewRecord(schema, []arrow.Array{b.NewArray()}, 0)
	for _, f := range []Format{ArrowFile, ArrowStream, Parquet} {
		t.Run(f.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "x"+f.Ext())
			writeRecord(t, p, f, r1, r2)
			if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), `row 4, column "x": missing value (null)`) {
				t.Errorf("null: %v", err)
			}
			q := filepath.Join(dir, "t"+f.Ext())
			writeRecord(t, q, f, r3)
			if _, err := Load(q, nil); err == nil || !strings.Contains(err.Error(), `column "t" has type timestamp`) {
				t.Errorf("timestamp: %v", err)
			}
			e := filepath.Join(dir, "e"+f.Ext())
			writeRecord(t, e, f, empty)
			if _, err := Load(e, nil); err == nil || !strings.Contains(err.Error(), "no data rows") {
				t.Errorf("empty: %v", err)
			}
			// Truncated files must fail cleanly, not panic.
			raw, _ := os.ReadFile(p)
			for _, cut := range []int{8, len(raw) / 2, len(raw) - 3} {
				tr := filepath.Join(dir, "trunc"+f.Ext())
				os.WriteFile(tr, raw[:cut], 0o644)
				if _, err := Load(tr, nil); err == nil || !strings.HasPrefix(err.Error(), tr) {
					t.Errorf("truncated at %d: %v", cut, err)
				}
			}
		})
	}
}

func TestTableHelpers(t *testing.T) {
	tab := &Table{Path: "p.csv", Names: []string{"a", "b"}, Cols: [][]float64{{1, 2, 3}, {4, 5, 6}}}
	if tab.NumRows() != 3 {
		t.Fatal(tab.NumRows())
	}
	if c, err := tab.Column("b"); err != nil || !reflect.DeepEqual(c, []float64{4, 5, 6}) {
		t.Fatal(c, err)
	}
	if _, err := tab.Column("z"); err == nil || err.Error() != `p.csv: no column "z" (columns: "a", "b")` || !errors.Is(err, ErrNoColumn) {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "p.csv")
	if err := os.WriteFile(p, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, []string{"z"}); !errors.Is(err, ErrNoColumn) {
		t.Fatalf("Load of a missing column: %v, want ErrNoColumn", err)
	}
	s := tab.Subset([]int{2, 0})
	if !reflect.DeepEqual(s.Cols, [][]float64{{3, 1}, {6, 4}}) || s.Path != "p.csv" {
		t.Fatal(s)
	}
	s.Cols[0][0] = 99
	if tab.Cols[0][2] != 3 {
		t.Fatal("Subset shares storage")
	}
	if (&Table{}).NumRows() != 0 {
		t.Fatal("empty table")
	}
}
