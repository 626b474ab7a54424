package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/epmc/epmc/chains"
)

func init() {
	register(&command{
		name:    "convert",
		summary: "convert draws between Arrow and CSV (draws_df layout); read Stan CSV",
		usage:   "epmc convert [flags] IN... OUT",
		help: `
Convert a draws file IN to OUT. IN is an Arrow draws file, a CSV file in R
posterior's draws_df layout, or Stan CSV output (CmdStan or rstan); several
IN files must all be Stan CSV files of one run, and become its chains in
the order given. OUT's extension picks the format: .arrow, .feather or .ipc
for an Arrow draws file, .csv for draws_df CSV (or say --format); OUT "-"
writes CSV to standard output.

The CSV keeps everything the Arrow file holds: the epmc.* metadata go into
"# epmc.KEY=VALUE" comment lines before the header, which R's
read.csv(f, comment.char = "#") and pandas' read_csv(f, comment="#") skip,
and numbers are printed so that they read back to the same bits. Arrow →
CSV → Arrow gives back the same file. Stan CSV names such as beta.1 and
Sigma.1.2 become beta[1] and Sigma[1,2]. Saved warmup draws are kept (the
first epmc.saved_warmup rows of each chain) unless --drop-warmup.

OUT is written atomically and is never one of the inputs. docs/FORMAT.md
describes both formats.

Examples:
  epmc convert combined.arrow combined.csv
  epmc convert --zstd draws.csv draws.arrow
  epmc convert model-1.csv model-2.csv model-3.csv model-4.csv fit.arrow
  epmc convert --drop-warmup shard-0.arrow - | head
`,
		setup: setupConvert,
	})
}

// outputFormat picks the format of OUT from --format or its extension.
func outputFormat(out, flagFormat string) (chains.Format, error) {
	switch flagFormat {
	case "arrow":
		if out == "-" {
			return 0, usagef(`--format arrow needs an OUT file: standard output ("-") takes CSV`)
		}
		return chains.FormatArrow, nil
	case "csv":
		return chains.FormatCSV, nil
	case "":
	default:
		return 0, usagef("--format %q: want arrow or csv", flagFormat)
	}
	if out == "-" {
		return chains.FormatCSV, nil
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".arrow", ".feather", ".ipc":
		return chains.FormatArrow, nil
	case ".csv":
		return chains.FormatCSV, nil
	}
	return 0, usagef("cannot tell the format of %s from its extension: use .arrow, .feather, .ipc or .csv, or say --format arrow|csv", out)
}

// sameFile reports whether a and b name the same file (also through links
// or different spellings of the path).
func sameFile(a, b string) bool {
	if a == "-" || b == "-" {
		return false
	}
	if aa, err := filepath.Abs(a); err == nil {
		if bb, err := filepath.Abs(b); err == nil && aa == bb {
			return true
		}
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

func setupConvert(fs *flag.FlagSet) func(e *env, args []string) error {
	zstd := fs.Bool("zstd", false, "compress an Arrow OUT with zstd (smaller; JavaScript readers need a zstd codec)")
	format := fs.String("format", "", "output `format`, arrow or csv (default: from OUT's extension)")
	dropWarmup := fs.Bool("drop-warmup", false, "leave out saved warmup draws")
	return func(e *env, args []string) error {
		if len(args) < 2 {
			return usagef("want IN... OUT, got %d argument(s)", len(args))
		}
		ins, out := args[:len(args)-1], args[len(args)-1]
		outFmt, err := outputFormat(out, *format)
		if err != nil {
			return err
		}
		if *zstd && outFmt != chains.FormatArrow {
			return usagef("--zstd compresses Arrow output; %s is CSV", out)
		}
		for _, in := range ins {
			if in == "-" {
				return usagef("input from standard input is not supported; give a file")
			}
			if sameFile(in, out) {
				return usagef("output %s is the input file; choose another name", out)
			}
		}

		var d *chains.Draws
		if len(ins) == 1 {
			d, err = chains.ReadFile(ins[0])
		} else {
			for _, in := range ins {
				f, derr := chains.Detect(in)
				if derr != nil {
					return derr
				}
				if f != chains.FormatStanCSV {
					return fmt.Errorf("%s: %s, but several inputs must all be Stan CSV files (the chains of one run)", in, f)
				}
			}
			d, err = chains.ReadStanCSV(ins...)
		}
		if err != nil {
			return err
		}
		if err := e.ctx.Err(); err != nil {
			return err
		}
		if *dropWarmup && d.Warmup > 0 {
			for _, ch := range d.Values {
				for v := range ch {
					ch[v] = ch[v][d.Warmup:]
				}
			}
			d.Warmup = 0
		}

		switch {
		case out == "-":
			return chains.WriteCSV(e.stdout, d)
		case outFmt == chains.FormatArrow:
			opts := chains.WriteOptions{}
			if *zstd {
				opts.Compression = chains.Zstd
			}
			err = chains.WriteFile(out, d, opts)
		default:
			err = chains.WriteCSVFile(out, d)
		}
		if err != nil {
			return err
		}
		kind := "draws_df CSV"
		if outFmt == chains.FormatArrow {
			kind = "Arrow"
			if *zstd {
				kind += ", zstd"
			}
		}
		warm := ""
		if d.Warmup > 0 {
			warm = fmt.Sprintf(" (+%d saved warmup)", d.Warmup)
		}
		fmt.Fprintf(e.stderr, "wrote %s (%s): %d chains × %d iterations%s × %d variables\n",
			out, kind, d.NumChains(), d.NumIter(), warm, len(d.Names))
		return nil
	}
}
