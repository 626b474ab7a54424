package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/epmc/epmc/subpost/data"
)

func TestSplitMatchesSamplePartition(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		p    data.Partition
	}{
		{"logistic.csv", nil, data.Partition{Seed: data.DefaultPartitionSeed, Shards: 3}},
		{"logistic.csv", []string{"--partition", "block"}, data.Partition{Scheme: data.Block, Shards: 3}},
		{"logistic.arrow", []string{"--partition-seed", "11"}, data.Partition{Seed: 11, Shards: 4}},
		{"logistic.parquet", []string{"--partition=hash", "--partition-seed=5"}, data.Partition{Seed: 5, Shards: 2}},
	} {
		t.Run(c.file+"/"+c.p.String(), func(t *testing.T) {
			in := filepath.Join("..", "..", "testdata", "data", c.file)
			dir := filepath.Join(t.TempDir(), "new", "shards")
			args := append([]string{"split", in, "--shards", strconv.Itoa(c.p.Shards), "-o", dir}, c.args...)
			out, errOut, code := cli(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			full, err := data.Load(in, nil)
			if err != nil {
				t.Fatal(err)
			}
			paths := strings.Fields(out)
			if len(paths) != c.p.Shards {
				t.Fatalf("stdout %q", out)
			}
			base, ext := strings.TrimSuffix(c.file, filepath.Ext(c.file)), filepath.Ext(c.file)
			for m, p := range paths {
				if want := filepath.Join(dir, fmt.Sprintf("%s.shard-%04d-of-%04d%s", base, m, c.p.Shards, ext)); p != want {
					t.Errorf("shard %d written to %s, want %s", m, p, want)
				}
				got, err := data.Load(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := full.Subset(c.p.Rows(full.NumRows(), m))
				if !reflect.DeepEqual(got.Names, want.Names) || !reflect.DeepEqual(got.Cols, want.Cols) {
					t.Errorf("shard %d: rows differ from Load + Partition.Rows", m)
				}
			}
			if !strings.Contains(errOut, "(400 rows) into "+strconv.Itoa(c.p.Shards)+" shards") || !strings.Contains(errOut, c.p.String()) {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

func TestSplitDefaultDirectoryAndStrings(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "people.csv")
	os.WriteFile(in, []byte("name,age\n\"Smith, J\",31\nLee,40\n\"O\"\"Neil\",25\nKim,52\n"), 0o644)
	out, errOut, code := cli(t, "split", "--shards", "2", "--partition", "block", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := []string{"name,age\n\"Smith, J\",31\nLee,40\n", "name,age\n\"O\"\"Neil\",25\nKim,52\n"}
	for m, p := range strings.Fields(out) {
		if filepath.Dir(p) != dir {
			t.Errorf("%s is not beside the input", p)
		}
		b, _ := os.ReadFile(p)
		if string(b) != want[m] {
			t.Errorf("shard %d = %q, want %q", m, b, want[m])
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v", p, st.Mode())
		}
	}
}

func TestSplitBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "d.csv")
	os.WriteFile(in, []byte("a\n1\n2\n3\n"), 0o644)
	file := filepath.Join(dir, "afile")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"split", "--shards", "2", filepath.Join(dir, "nope.csv")}, 1, "nope.csv does not exist"},
		{[]string{"split", "--shards", "0", in}, 2, "--shards is required"},
		{[]string{"split", "--shards", "-2", in}, 2, "--shards must be at least 1, have -2"},
		{[]string{"split", in}, 2, "--shards is required"},
		{[]string{"split", "--shards", "2"}, 2, "no data file given"},
		{[]string{"split", "--shards", "2", in, in}, 2, "one data file at a time"},
		{[]string{"split", "--shards", "2", "--partition", "random", in}, 2, `unknown partition scheme "random"`},
		{[]string{"split", "--shards", "2", "-o", file, in}, 1, "output directory " + file + " is a file"},
		{[]string{"split", "--shards", "5", "-o", filepath.Join(dir, "out"), in}, 1, "has 3 rows, fewer than the 5 shards"},
		{[]string{"split", "--shards", "2", "--shard-count", "2", in}, 2, "flag provided but not defined"},
		{[]string{"split", "--shards", "2", "../../testdata/data/empty.csv", "-o", dir}, 1, "empty file"},
		{[]string{"split", "--shards", "2", dir}, 1, "is a directory"},
	}
	for _, c := range cases {
		_, errOut, code := cli(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args[1:], code, errOut, c.code, c.want)
		}
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"afile", "d.csv"}) {
		t.Errorf("failed splits left %v", names)
	}
}

// TestSplitAndSampleAgreeOnPartitionDefaults: epmc split must write the
// rows epmc sample uses, so their partition flags must have the same
// defaults.
func TestSplitAndSampleAgreeOnPartitionDefaults(t *testing.T) {
	if _, ok := commands["sample"]; !ok {
		t.Skip("no sample command")
	}
	flagHelp := func(cmd string) map[string]string {
		out, _, _ := cli(t, cmd, "--help")
		lines := strings.Split(out, "\n")
		got := map[string]string{}
		for i, l := range lines {
			for _, f := range []string{"--partition ", "--partition-seed "} {
				if strings.HasPrefix(strings.TrimSpace(l), f) && i+1 < len(lines) {
					d := ""
					if k := strings.LastIndex(lines[i+1], "(default "); k >= 0 {
						d = lines[i+1][k:]
					}
					got[f] = d
				}
			}
		}
		return got
	}
	split, sample := flagHelp("split"), flagHelp("sample")
	if len(split) != 2 || !reflect.DeepEqual(split, sample) {
		t.Fatalf("partition flag defaults: split %v, sample %v", split, sample)
	}
}
