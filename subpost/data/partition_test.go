package data

import (
	"flag"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPartitionCoversEveryRowOnce(t *testing.T) {
	for _, scheme := range []string{"", Hash, Block} {
		for _, n := range []int{1, 7, 8, 100, 1001} {
			for _, shards := range []int{1, 2, 3, 8, 13} {
				p := Partition{Scheme: scheme, Seed: 42, Shards: shards}
				t.Run(fmt.Sprintf("%s/n=%d/M=%d", p.scheme(), n, shards), func(t *testing.T) {
					seen := make([]int, n)
					assign := p.Assign(n)
					sizes := p.Sizes(n)
					minSize, maxSize := n, 0
					for m := 0; m < shards; m++ {
						rows := p.Rows(n, m)
						if !slices.IsSorted(rows) {
							t.Fatalf("shard %d rows not ascending", m)
						}
						if len(rows) != sizes[m] {
							t.Fatalf("shard %d: %d rows, Sizes says %d", m, len(rows), sizes[m])
						}
						for _, r := range rows {
							seen[r]++
							if assign[r] != int32(m) {
								t.Fatalf("row %d in Rows of shard %d but Assign says %d", r, m, assign[r])
							}
						}
						minSize, maxSize = min(minSize, len(rows)), max(maxSize, len(rows))
						if !reflect.DeepEqual(rows, p.Rows(n, m)) {
							t.Fatalf("shard %d differs between calls", m)
						}
					}
					for r, c := range seen {
						if c != 1 {
							t.Fatalf("row %d is in %d shards", r, c)
						}
					}
					if maxSize-minSize > 1 {
						t.Fatalf("shard sizes range over [%d, %d]", minSize, maxSize)
					}
				})
			}
		}
	}
}

func TestPartitionBlockIsContiguous(t *testing.T) {
	p := Partition{Scheme: Block, Shards: 3}
	got := [][]int{p.Rows(10, 0), p.Rows(10, 1), p.Rows(10, 2)}
	want := [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPartitionHashSeeds(t *testing.T) {
	const n = 1000
	a := Partition{Seed: 1, Shards: 4}.Assign(n)
	b := Partition{Seed: 2, Shards: 4}.Assign(n)
	a2 := Partition{Scheme: Hash, Seed: 1, Shards: 4}.Assign(n)
	if !reflect.DeepEqual(a, a2) {
		t.Fatal("the empty scheme is not hash")
	}
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	// Independent assignments agree on about n/M rows: 250 ± 14 (sd).
	if same > 320 || same < 180 {
		t.Fatalf("seeds 1 and 2 agree on %d of %d rows", same, n)
	}
	// Not contiguous: neighbouring rows are in the same shard about 1/M of
	// the time.
	runs := 0
	for i := 1; i < n; i++ {
		if a[i] == a[i-1] {
			runs++
		}
	}
	if runs > 320 {
		t.Fatalf("%d of %d neighbours share a shard", runs, n-1)
	}
}

// TestPartitionHashGolden pins the hash scheme, so that a change of the
// rule (which would silently change every user's shards) fails a test.
func TestPartitionHashGolden(t *testing.T) {
	p := Partition{Seed: 1, Shards: 3}
	got := fmt.Sprint(p.Rows(12, 0), p.Rows(12, 1), p.Rows(12, 2))
	const want = "[0 3 9 11] [1 2 6 10] [4 5 7 8]" // from a Python transcription of the documented rule
	if got != want {
		t.Fatalf("hash:seed=1 rows = %s, want %s", got, want)
	}
}

func TestPartitionSpec(t *testing.T) {
	for _, p := range []Partition{{Seed: 1, Shards: 8}, {Scheme: Hash, Seed: math.MaxUint64, Shards: 1}, {Scheme: Block, Shards: 3}} {
		s := p.String()
		q, err := ParsePartition(s)
		if err != nil {
			t.Fatal(err)
		}
		if q.String() != s {
			t.Fatalf("%s parses to %s", s, q)
		}
	}
	if s := (Partition{Seed: 1, Shards: 8}).String(); s != "hash:seed=1:shards=8" {
		t.Fatal(s)
	}
	if s := (Partition{Scheme: Block, Seed: 9, Shards: 8}).String(); s != "block:shards=8" {
		t.Fatal(s)
	}
	for _, c := range []struct {
		p    Partition
		want string
	}{
		{Partition{Shards: 0}, "at least 1"},
		{Partition{Scheme: "random", Shards: 2}, `unknown partition scheme "random"`},
	} {
		if err := c.p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.p, err)
		}
	}
	for _, bad := range []string{"hash:seed", "hash:shards=0", "hash:seed=x:shards=2", "magic:shards=2", "hash:color=red"} {
		if _, err := ParsePartition(bad); err == nil {
			t.Errorf("ParsePartition(%q) succeeded", bad)
		}
	}
}

func TestFingerprint(t *testing.T) {
	tab := &Table{Names: []string{"a", "b"}, Cols: [][]float64{{1, 2}, {3, 4}}}
	p := Partition{Seed: 1, Shards: 2}
	fp := Fingerprint(tab, p)
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 {
		t.Fatal(fp)
	}
	if Fingerprint(tab.Subset([]int{0, 1}), p) != fp {
		t.Fatal("equal tables differ")
	}
	changes := map[string]func() (*Table, Partition){
		"value": func() (*Table, Partition) {
			c := tab.Subset([]int{0, 1})
			c.Cols[1][1] = 4.000000000000001
			return c, p
		},
		"name":  func() (*Table, Partition) { return &Table{Names: []string{"a", "c"}, Cols: tab.Cols}, p },
		"order": func() (*Table, Partition) { return tab.Subset([]int{1, 0}), p },
		"columns": func() (*Table, Partition) {
			return &Table{Names: []string{"b", "a"}, Cols: [][]float64{{3, 4}, {1, 2}}}, p
		},
		"seed":    func() (*Table, Partition) { return tab, Partition{Seed: 2, Shards: 2} },
		"shards":  func() (*Table, Partition) { return tab, Partition{Seed: 1, Shards: 3} },
		"scheme":  func() (*Table, Partition) { return tab, Partition{Scheme: Block, Shards: 2} },
		"dropped": func() (*Table, Partition) { return &Table{Names: []string{"a"}, Cols: [][]float64{{1, 2}}}, p },
		"boundary": func() (*Table, Partition) {
			return &Table{Names: []string{"a", "b"}, Cols: [][]float64{{1, 2, 3}, {4}}}, p
		},
	}
	for name, f := range changes {
		if Fingerprint(f()) == fp {
			t.Errorf("changing %s keeps the fingerprint", name)
		}
	}
}

func ExamplePartition() {
	p := Partition{Scheme: "hash", Seed: 1, Shards: 3}
	for m := 0; m < p.Shards; m++ {
		fmt.Println(m, p.Rows(10, m))
	}
	fmt.Println(p)
	// Output:
	// 0 [2 4 8 9]
	// 1 [0 5 6]
	// 2 [1 3 7]
	// hash:seed=1:shards=3
}

func TestPartitionFlags(t *testing.T) {
	var p Partition
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	p.AddFlags(fs)
	if p.Scheme != Hash || p.Seed != DefaultPartitionSeed {
		t.Fatalf("defaults %+v", p)
	}
	if err := fs.Parse([]string{"--partition", "block", "--partition-seed", "9"}); err != nil {
		t.Fatal(err)
	}
	if p.Scheme != Block || p.Seed != 9 {
		t.Fatalf("parsed %+v", p)
	}
}
