package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/epmc/epmc/subpost/data"
)

func init() {
	register(&command{
		name:    "split",
		summary: "write the shards of a data file as M files",
		usage:   "epmc split --shards M [--partition hash|block] [--partition-seed S] [-o DIR] DATA",
		help: `Split writes the M shards of a data file (CSV, Arrow IPC or Parquet) as M
files of the same format, named <base>.shard-0003-of-0008.<ext>. Each holds
every column of the input, strings included, and exactly the rows that
"epmc sample --shards M --shard m" with the same --partition and
--partition-seed uses for shard m, in the same order: so shards can be
shipped to machines that never see the whole file. CSV rows are copied
byte for byte. The files appear only when all are written.

The paths of the shard files are printed on standard output, one a line.

Example:
  epmc split --shards 8 -o shards/ data.csv`,
		setup: func(fs *flag.FlagSet) func(e *env, args []string) error {
			var p data.Partition
			fs.IntVar(&p.Shards, "shards", 0, "number of shards `M` (required)")
			p.AddFlags(fs)
			outDir := fs.String("o", "", "output `directory`, created if missing (default: the data file's directory)")
			return func(e *env, args []string) error {
				return runSplit(e, args, p, *outDir)
			}
		},
	})
}

func runSplit(e *env, args []string, p data.Partition, outDir string) (err error) {
	switch {
	case len(args) == 0:
		return usagef("no data file given")
	case len(args) > 1:
		return usagef("one data file at a time, have %d: %s", len(args), strings.Join(args, " "))
	case p.Shards == 0:
		return usagef("--shards is required")
	}
	if err := p.Validate(); err != nil {
		if p.Shards < 1 {
			return usagef("--shards must be at least 1, have %d", p.Shards)
		}
		return usagef("--partition: %v", err)
	}
	in := args[0]
	if st, err := os.Stat(in); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("data file %s does not exist", in)
		}
		return err
	} else if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a data file", in)
	}
	if outDir == "" {
		outDir = filepath.Dir(in)
	}
	if st, err := os.Stat(outDir); err == nil && !st.IsDir() {
		return fmt.Errorf("output directory %s is a file", outDir)
	} else if err != nil {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("output directory %s: %w", outDir, err)
		}
		// A failed split leaves nothing behind, not even the directory.
		defer func() {
			if err != nil {
				os.Remove(outDir)
			}
		}()
	}
	name := func(m int) string { return data.ShardPath(outDir, in, m, p.Shards) }
	n, err := data.SplitFile(e.ctx, in, p, name)
	if err != nil {
		return err
	}
	for m := 0; m < p.Shards; m++ {
		fmt.Fprintln(e.stdout, name(m))
	}
	sizes := p.Sizes(n)
	lo, hi := sizes[0], sizes[0]
	for _, s := range sizes {
		lo, hi = min(lo, s), max(hi, s)
	}
	span := fmt.Sprint(lo)
	if hi != lo {
		span = fmt.Sprintf("%d–%d", lo, hi)
	}
	fmt.Fprintf(e.stderr, "split %s (%d rows) into %d shards of %s rows (%s)\n", in, n, p.Shards, span, p)
	return nil
}
