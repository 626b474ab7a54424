package data

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoadCSV feeds arbitrary bytes to the CSV loader: it must never panic,
// and whatever it accepts must be a well-formed table of finite numbers;
// whatever it rejects gets a one-line message naming the input.
func FuzzLoadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n3,4\n",
		"\ufeffa\tb\r\n1\t2\r\n",
		"x,\"y, z\"\n1,\"2\"\n\n3,4",
		"a\nNA\n",
		"a\n1e400\n",
		"a,b\n1\n",
		"a,\"b\n\"\n1,2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, cols := range [][]string{nil, {"a"}} {
			tab, err := loadCSV(bytes.NewReader(in), "fuzz.csv", cols)
			if err != nil {
				msg := err.Error()
				if !strings.HasPrefix(msg, "fuzz.csv") || strings.ContainsAny(msg, "\n\r") {
					t.Fatalf("error is not one line naming the file: %q", msg)
				}
				continue
			}
			n := tab.NumRows()
			if n == 0 || len(tab.Names) != len(tab.Cols) || len(tab.Cols) == 0 {
				t.Fatalf("accepted a malformed table: %d rows, %d names, %d columns", n, len(tab.Names), len(tab.Cols))
			}
			if cols != nil && tab.Names[0] != "a" {
				t.Fatalf("asked for a, got %q", tab.Names[0])
			}
			for j, c := range tab.Cols {
				if len(c) != n {
					t.Fatalf("column %d has %d rows, want %d", j, len(c), n)
				}
				for _, v := range c {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("accepted a non-finite value %v", v)
					}
				}
			}
		}
	})
}

// FuzzSplitCSV checks the byte-copying CSV splitter on arbitrary input:
// whenever the whole file loads, every shard file loads to exactly the
// rows Load + Subset give.
func FuzzSplitCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n3,4\n5,6\n",
		"\ufeffa\r\n1\r\n\r\n2\r\n3",
		"a,\"b\"\n\"1\",\"2\n\"\n3,4\n\n\n5,6",
		"a\tb\n1\t2\n3\t4\n",
	} {
		f.Add([]byte(s), uint8(2), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, shards uint8, block bool) {
		p := Partition{Seed: 3, Shards: int(shards%4) + 1}
		if block {
			p.Scheme = Block
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		full, err := Load(path, nil)
		name := func(m int) string { return ShardPath(dir, path, m, p.Shards) }
		n, serr := SplitFile(context.Background(), path, p, name)
		if err != nil || full.NumRows() < p.Shards {
			return
		}
		if serr != nil || n != full.NumRows() {
			t.Fatalf("the file loads (%d rows) but does not split: %d, %v", full.NumRows(), n, serr)
		}
		for m := 0; m < p.Shards; m++ {
			got, err := Load(name(m), nil)
			if err != nil {
				t.Fatalf("shard %d: %v", m, err)
			}
			want := full.Subset(p.Rows(n, m))
			if !reflect.DeepEqual(got.Names, want.Names) || !reflect.DeepEqual(got.Cols, want.Cols) {
				t.Fatalf("shard %d: %v, want %v", m, got.Cols, want.Cols)
			}
		}
	})
}
