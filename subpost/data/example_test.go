package data_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/epmc/epmc/subpost/data"
)

// Load reads only the columns a model needs; bad values are reported with
// the file, the row and the column.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "load")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "patients.csv")
	os.WriteFile(path, []byte("id,name,dose,response\n1,\"Lee, A\",0.5,0\n2,Kim,1.0,1\n3,Ode,1.5,1\n"), 0o644)

	t, err := data.Load(path, []string{"response", "dose"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Names, t.NumRows(), t.Cols)

	_, err = data.Load(path, []string{"name"})
	fmt.Println(filepath.Base(err.Error()))
	_, err = data.Load(path, []string{"weight"})
	fmt.Println(filepath.Base(err.Error()))
	// Output:
	// [response dose] 3 [[0 1 1] [0.5 1 1.5]]
	// patients.csv: row 1 (line 2), column "name": "Lee, A" is not a number
	// patients.csv: no column "weight" (columns: "id", "name", "dose", "response")
}

// SplitFile writes each shard's rows, every column kept, as a file of the
// input's format; Partition.Rows gives the same rows for epmc sample.
func ExampleSplitFile() {
	dir, _ := os.MkdirTemp("", "split")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "obs.csv")
	os.WriteFile(in, []byte("site,y\nA,1\nB,2\nC,3\nD,4\nE,5\n"), 0o644)

	p := data.Partition{Scheme: data.Block, Shards: 2}
	out := func(m int) string { return data.ShardPath(dir, in, m, p.Shards) }
	if _, err := data.SplitFile(context.Background(), in, p, out); err != nil {
		log.Fatal(err)
	}
	for m := 0; m < p.Shards; m++ {
		b, _ := os.ReadFile(out(m))
		fmt.Printf("%s rows %v:\n%s", filepath.Base(out(m)), p.Rows(5, m), b)
	}
	// Output:
	// obs.shard-0000-of-0002.csv rows [0 1]:
	// site,y
	// A,1
	// B,2
	// obs.shard-0001-of-0002.csv rows [2 3 4]:
	// site,y
	// C,3
	// D,4
	// E,5
}
