package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// mixedRecords returns n rows in batches of size batch: a float column, an
// int column, a string column with commas and quotes, and a nullable
// string column.
func mixedRecords(n, batch int) []arrow.Record {
	mem := memory.NewGoAllocator()
	md := arrow.NewMetadata([]string{"source"}, []string{"unit test"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.BinaryTypes.String},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, &md)
	var recs []arrow.Record
	for lo := 0; lo < n; lo += batch {
		b := array.NewRecordBuilder(mem, schema)
		for i := lo; i < min(lo+batch, n); i++ {
			b.Field(0).(*array.Float64Builder).Append(float64(i)/7 - 3)
			b.Field(1).(*array.Int64Builder).Append(int64(i * i))
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("row \"%d\", ok", i))
			if i%5 == 0 {
				b.Field(3).(*array.StringBuilder).AppendNull()
			} else {
				b.Field(3).(*array.StringBuilder).Append("n" + fmt.Sprint(i))
			}
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	return recs
}

// mixedCSV returns a CSV text of n rows with the same content as
// mixedRecords, with CRLF line ends, blank lines, quoted fields and no
// final newline.
func mixedCSV(n int) string {
	var b strings.Builder
	b.WriteString("\ufeffx,k,label,note\r\n\r\n")
	for i := 0; i < n; i++ {
		note := "n" + fmt.Sprint(i)
		if i%5 == 0 {
			note = ""
		}
		fmt.Fprintf(&b, "%v,%d,\"row \"\"%d\"\", ok\",%s", float64(i)/7-3, i*i, i, note)
		if i < n-1 {
			b.WriteString("\r\n")
			if i%17 == 3 {
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

// readStrings returns the rows of the label and note columns of a split
// shard file, for comparing the non-numeric data.
func readStrings(t *testing.T, p string, f Format) [][2]string {
	t.Helper()
	var out [][2]string
	switch f {
	case CSV:
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		cr, _ := newCSVReader(fh)
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[1:] {
			out = append(out, [2]string{r[2], r[3]})
		}
		return out
	}
	var recs []arrow.Record
	switch f {
	case ArrowFile:
		fh, _ := os.Open(p)
		defer fh.Close()
		r, err := ipc.NewFileReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := r.Schema().Metadata().GetValue("source"); v != "unit test" {
			t.Errorf("%s: schema metadata lost", p)
		}
		for i := 0; i < r.NumRecords(); i++ {
			rec, _ := r.RecordAt(i)
			recs = append(recs, rec)
		}
	case ArrowStream:
		fh, _ := os.Open(p)
		defer fh.Close()
		r, err := ipc.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := r.Schema().Metadata().GetValue("source"); v != "unit test" {
			t.Errorf("%s: schema metadata lost", p)
		}
		for r.Next() {
			r.Record().Retain()
			recs = append(recs, r.Record())
		}
	case Parquet:
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		if v := pf.MetaData().KeyValueMetadata().FindValue("source"); v == nil || *v != "unit test" {
			t.Errorf("%s: schema metadata lost", p)
		}
		fr, _ := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1000}, memory.DefaultAllocator)
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rr.Record().Retain()
			recs = append(recs, rr.Record())
		}
	}
	for _, rec := range recs {
		l, nt := rec.Column(2).(*array.String), rec.Column(3).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			note := nt.Value(i)
			if nt.IsNull(i) {
				note = ""
			}
			out = append(out, [2]string{l.Value(i), note})
		}
		rec.Release()
	}
	return out
}

func TestSplitFile(t *testing.T) {
	const n = 203
	for _, f := range allFormats {
		for _, p := range []Partition{{Seed: 7, Shards: 4}, {Scheme: Block, Shards: 3}, {Seed: 1, Shards: 1}} {
			t.Run(f.String()+"/"+p.String(), func(t *testing.T) {
				dir := t.TempDir()
				in := filepath.Join(dir, "mixed"+f.Ext())
				if f == CSV {
					os.WriteFile(in, []byte(mixedCSV(n)), 0o644)
				} else {
					writeRecord(t, in, f, mixedRecords(n, 50)...)
				}
				full, err := Load(in, []string{"x", "k"})
				if err != nil {
					t.Fatal(err)
				}
				outDir := filepath.Join(dir, "out")
				os.Mkdir(outDir, 0o755)
				name := func(m int) string { return ShardPath(outDir, in, m, p.Shards) }
				if rows, err := SplitFile(context.Background(), in, p, name); err != nil || rows != n {
					t.Fatal(rows, err)
				}
				for m := 0; m < p.Shards; m++ {
					rows := p.Rows(n, m)
					got, err := Load(name(m), []string{"x", "k"})
					if err != nil {
						t.Fatal(err)
					}
					if want := full.Subset(rows); !reflect.DeepEqual(got.Cols, want.Cols) {
						t.Fatalf("shard %d: numeric rows differ from Load+Subset", m)
					}
					strs := readStrings(t, name(m), f)
					if len(strs) != len(rows) {
						t.Fatalf("shard %d: %d string rows, want %d", m, len(strs), len(rows))
					}
					for i, r := range rows {
						note := "n" + fmt.Sprint(r)
						if r%5 == 0 {
							note = ""
						}
						if want := [2]string{fmt.Sprintf("row \"%d\", ok", r), note}; strs[i] != want {
							t.Fatalf("shard %d row %d: %q, want %q", m, i, strs[i], want)
						}
					}
				}
				if ents, _ := os.ReadDir(outDir); len(ents) != p.Shards {
					t.Fatalf("%d files in the output directory, want %d", len(ents), p.Shards)
				}
			})
		}
	}
}

func TestSplitCSVKeepsBytes(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "raw.csv")
	text := "a,b\n\"0001\",x\n2.50,\"y\"\n3,  z  \n"
	os.WriteFile(in, []byte(text), 0o644)
	p := Partition{Scheme: Block, Shards: 3}
	if _, err := SplitFile(context.Background(), in, p, func(m int) string { return ShardPath(dir, in, m, 3) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"a,b\n\"0001\",x\n", "a,b\n2.50,\"y\"\n", "a,b\n3,  z  \n"}
	for m, w := range want {
		b, _ := os.ReadFile(ShardPath(dir, in, m, 3))
		if string(b) != w {
			t.Errorf("shard %d = %q, want %q", m, b, w)
		}
	}
	if got := filepath.Base(ShardPath(dir, in, 2, 3)); got != "raw.shard-0002-of-0003.csv" {
		t.Errorf("name %s", got)
	}
}

func TestSplitErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "d.csv")
	os.WriteFile(in, []byte("a\n1\n2\n"), 0o644)
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o644)
	ctx := context.Background()
	cases := []struct {
		name string
		in   string
		p    Partition
		out  func(int) string
		want string
	}{
		{"too many shards", in, Partition{Shards: 3}, func(m int) string { return ShardPath(dir, in, m, 3) }, "has 2 rows, fewer than the 3 shards"},
		{"no shards", in, Partition{Shards: 0}, func(m int) string { return "x" }, "at least 1"},
		{"missing input", filepath.Join(dir, "nope.csv"), Partition{Shards: 1}, func(m int) string { return filepath.Join(dir, "o.csv") }, "does not exist"},
		{"output dir is a file", in, Partition{Shards: 2}, func(m int) string { return ShardPath(notDir, in, m, 2) }, "is not a directory"},
		{"overwrite input", in, Partition{Shards: 1}, func(m int) string { return in }, "would overwrite the input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := SplitFile(ctx, c.in, c.p, c.out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := SplitFile(cctx, in, Partition{Shards: 2}, func(m int) string { return ShardPath(dir, in, m, 2) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"d.csv", "file"}) {
		t.Fatalf("failed splits left %v", names)
	}
}
