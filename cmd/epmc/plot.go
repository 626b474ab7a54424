package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/chains/plot"
	"github.com/epmc/epmc/internal/atomicfile"
)

func init() {
	register(&command{
		name:    "plot",
		summary: "draw PNGs: marginals, pairs (corner), trace, rank histograms, methods vs reference",
		usage:   "epmc plot --kind K [flags] -o DIR FILE...",
		help: `
Draws figures of draws files (Arrow, draws_df CSV or Stan CSV) into DIR,
each written atomically:

  marginals  DIR/marginals.png: one panel per parameter with every file's
             marginal density
  pairs      DIR/pairs.png: corner plot of the combined files and the
             reference (39 %, 86 % and 99 % highest-density contours below
             the diagonal, densities on it); of every file if there are
             neither
  trace      DIR/trace-NAME.png for each file NAME.arrow: one line per chain,
             saved warmup shaded
  rank       DIR/rank-NAME.png for each file: rank histograms per parameter
             and chain (Vehtari et al. 2021); flat when the chains agree
  compare    DIR/compare.png: one panel per combined file, every parameter
             on the reference's scale ((θ − mean) / sd), the method's 50 % and
             90 % intervals over the reference's; bias and wrong spread show
             at a glance (marginals shows the shapes)
  all        every figure above that the files allow

Roles come from each file's metadata (epmc.kind): subposterior files are
thin coloured lines labelled "shard m"; combined files are thick lines
labelled with their method; the reference is dashed black. The reference is
the --ref file, whatever its kind; without --ref, a single file of kind
full among several files is the reference. Other files (Stan CSV, draws of
unknown origin, further full-data runs) are drawn like combined files.

At most --max-params parameters are drawn per figure (stderr says when the
list is cut); --params picks parameters by regular expression. All files
must have the same parameters. Densities are Gaussian kernel estimates
(package kde), reflected at the bounds of constrained parameters.

Examples:
  epmc plot --kind marginals --ref full.arrow -o figs shard-*.arrow consensus.arrow
  epmc plot --kind compare --ref full.arrow -o figs consensus.arrow swiss.arrow
  epmc plot --kind trace --params '^beta' -o figs shard-3.arrow
`,
		setup: setupPlot,
	})
}

var plotKinds = []string{"marginals", "pairs", "trace", "rank", "compare", "all"}

func setupPlot(fs *flag.FlagSet) func(e *env, args []string) error {
	kind := fs.String("kind", "marginals", "figure `kind`: "+strings.Join(plotKinds, ", "))
	params := fs.String("params", "", "draw only parameters whose names match this regular `expression`")
	ref := fs.String("ref", "", "reference draws `FILE` (usually a full-data run), drawn dashed black")
	out := fs.String("o", "", "output `DIR` (created if missing)")
	dpi := fs.Int("dpi", plot.DefaultDPI, "resolution of PNG figures, dots per inch")
	width := fs.Float64("width", 0, "figure width in `inches` (default: from the number of panels)")
	height := fs.Float64("height", 0, "figure height in `inches` (default: from the number of panels)")
	maxParams := fs.Int("max-params", plot.DefaultMaxParams, "most parameters per figure; 0 draws them all")
	format := fs.String("format", "png", "image `format`: png, svg or pdf")
	title := fs.String("title", "", "figure title (default: says what is shown: model, M, methods)")
	return func(e *env, args []string) error {
		k := strings.ToLower(*kind)
		if !slices.Contains(plotKinds, k) {
			return usagef("--kind %q: want one of %s", *kind, strings.Join(plotKinds, ", "))
		}
		if len(args) == 0 {
			return usagef("no draws files given")
		}
		if *out == "" {
			return usagef("-o DIR is required")
		}
		if *dpi < 10 || *dpi > 1200 {
			return usagef("--dpi %d: want 10 to 1200", *dpi)
		}
		if *width < 0 || *width > 200 || *height < 0 || *height > 200 {
			return usagef("--width and --height are in inches, from 0 (automatic) to 200")
		}
		if *maxParams < 0 {
			return usagef("--max-params %d: want 0 (all) or more", *maxParams)
		}
		f := strings.ToLower(*format)
		if f != "png" && f != "svg" && f != "pdf" {
			return usagef("--format %q: want png, svg or pdf", *format)
		}
		var re *regexp.Regexp
		if *params != "" {
			var err error
			if re, err = regexp.Compile(*params); err != nil {
				return usagef("--params %q is not a valid regular expression: %v", *params, err)
			}
		}

		files, err := readPlotFiles(args, *ref)
		if err != nil {
			return err
		}
		if err := samePlotParams(files); err != nil {
			return err
		}
		names := files[0].draws.ParamNames()
		if re != nil {
			var picked []string
			for _, n := range names {
				if re.MatchString(n) {
					picked = append(picked, n)
				}
			}
			if len(picked) == 0 {
				return usagef("--params %q matches none of the parameters of %s (%s)", *params, files[0].path, plotNameList(names))
			}
			names = picked
		}
		if len(names) == 0 {
			return fmt.Errorf("%s has no parameter columns", files[0].path)
		}
		mp := *maxParams
		if mp == 0 {
			mp = -1
		}
		if mp > 0 && len(names) > mp {
			fmt.Fprintf(e.stderr, "epmc plot: drawing the first %d of %d parameters (--max-params 0 draws all, --params picks some)\n", mp, len(names))
		}
		opts := plot.Options{
			Params: names, MaxParams: mp, DPI: *dpi, Format: f, Title: *title,
			Width: vg.Length(*width) * vg.Inch, Height: vg.Length(*height) * vg.Inch,
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
		sets := make([]plot.Set, len(files))
		for i, pf := range files {
			sets[i] = pf.set
		}
		p := &plotWriter{e: e, dir: *out, ext: f, opts: opts}
		return p.draw(k, files, sets)
	}
}

// plotFile is one input file and the set it becomes.
type plotFile struct {
	path  string
	draws *chains.Draws
	set   plot.Set
}

// readPlotFiles reads the positional files and the reference and assigns
// roles: the --ref file is the reference; without it, a single full-data
// file among several is.
func readPlotFiles(args []string, ref string) ([]plotFile, error) {
	var files []plotFile
	read := func(path string) error {
		d, err := chains.ReadFile(path)
		if err != nil {
			return err
		}
		if d.NumDraws() == 0 {
			return fmt.Errorf("%s has no post-warmup draws", path)
		}
		files = append(files, plotFile{path: path, draws: d, set: plot.SetOf(path, d)})
		return nil
	}
	for _, a := range args {
		if err := read(a); err != nil {
			return nil, err
		}
	}
	fulls := 0
	for i := range files {
		if files[i].set.Role == plot.Reference {
			fulls++
			files[i].set.Role = plot.Combined
		}
	}
	if ref != "" {
		if err := read(ref); err != nil {
			return nil, err
		}
		files[len(files)-1].set.Role = plot.Reference
	} else if fulls == 1 && len(files) > 1 {
		for i := range files {
			if files[i].draws.Meta.Kind == chains.KindFull {
				files[i].set.Role = plot.Reference
			}
		}
	}
	// Two sets with one label (two "full data" files, two runs of one
	// method): add the file names.
	count := map[string]int{}
	for _, f := range files {
		count[f.set.Label]++
	}
	for i, f := range files {
		if count[f.set.Label] > 1 && f.set.Label != filepath.Base(f.path) {
			files[i].set.Label += " (" + filepath.Base(f.path) + ")"
		}
	}
	return files, nil
}

// samePlotParams reports files whose parameters differ from the first
// file's, naming both files and a parameter in one but not the other.
func samePlotParams(files []plotFile) error {
	first := files[0]
	in := func(d *chains.Draws) map[string]bool {
		m := map[string]bool{}
		for _, n := range d.ParamNames() {
			m[n] = true
		}
		return m
	}
	have := in(first.draws)
	for _, f := range files[1:] {
		other := in(f.draws)
		for _, n := range f.draws.ParamNames() {
			if !have[n] {
				return fmt.Errorf("%s and %s have different parameters: %s is in %s only", first.path, f.path, n, f.path)
			}
		}
		for _, n := range first.draws.ParamNames() {
			if !other[n] {
				return fmt.Errorf("%s and %s have different parameters: %s is in %s only", first.path, f.path, n, first.path)
			}
		}
	}
	return nil
}

func plotNameList(names []string) string {
	const most = 8
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
	}
	return strings.Join(names, ", ")
}

// plotWriter writes figures into one directory.
type plotWriter struct {
	e    *env
	dir  string
	ext  string
	opts plot.Options
	used map[string]bool
}

// write draws one figure into DIR/name.ext atomically and prints the path.
func (p *plotWriter) write(name string, fig func(w io.Writer) error) error {
	if err := p.e.ctx.Err(); err != nil {
		return err
	}
	path := filepath.Join(p.dir, name+"."+p.ext)
	if err := atomicfile.Write(path, fig); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintln(p.e.stdout, path)
	return nil
}

// stem returns a unique file-name stem for a per-file figure.
func (p *plotWriter) stem(path string) string {
	if p.used == nil {
		p.used = map[string]bool{}
	}
	base := filepath.Base(path)
	s := strings.TrimSuffix(base, filepath.Ext(base))
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, s)
	u := s
	for i := 2; p.used[u]; i++ {
		u = fmt.Sprintf("%s-%d", s, i)
	}
	p.used[u] = true
	return u
}

func (p *plotWriter) draw(kind string, files []plotFile, sets []plot.Set) error {
	all := kind == "all"
	if kind == "marginals" || all {
		if err := p.write("marginals", func(w io.Writer) error { return plot.Marginals(w, sets, p.opts) }); err != nil {
			return err
		}
	}
	if kind == "pairs" || all {
		if err := p.write("pairs", func(w io.Writer) error { return plot.Pairs(w, sets, p.opts) }); err != nil {
			return err
		}
	}
	if kind == "compare" || all {
		hasRef, hasComb := false, false
		for _, s := range sets {
			hasRef = hasRef || s.Role == plot.Reference
			hasComb = hasComb || s.Role == plot.Combined
		}
		switch {
		case hasRef && hasComb:
			if err := p.write("compare", func(w io.Writer) error { return plot.Compare(w, sets, p.opts) }); err != nil {
				return err
			}
		case !all:
			return usagef("--kind compare needs a reference (--ref FILE, or one full-data file among the inputs) and at least one combined file")
		}
	}
	for _, k := range []string{"trace", "rank"} {
		if kind != k && !all {
			continue
		}
		for _, f := range files {
			set := f.set
			name := k + "-" + p.stem(f.path)
			fig := func(w io.Writer) error {
				if k == "trace" {
					return plot.Trace(w, set, p.opts)
				}
				return plot.Rank(w, set, p.opts)
			}
			if err := p.write(name, fig); err != nil {
				return err
			}
		}
		p.used = nil
	}
	return nil
}
