package data

import (
	"bytes"
	"math"
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
