package plot

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/epmc/epmc/chains"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

// small is a synthetic set-up quick enough for every test: 8 shards, two
// methods, a reference, 5 parameters.
var small = synth{d: 5, shards: 8, chains: 4, iters: 400, warmup: 100, seed: 7, methods: []string{"consensus", "parametric"}, ref: true}

type figureFunc func(w io.Writer, sets []Set, opts Options) (layout, error)

// one adapts a single-set figure to figureFunc, drawing sets[i].
func one(f func(io.Writer, Set, Options) (layout, error), i int) figureFunc {
	return func(w io.Writer, sets []Set, opts Options) (layout, error) { return f(w, sets[i], opts) }
}

// checkPNG decodes a PNG figure and checks its size and that every panel
// has drawn content: enough pixels that differ from the white background,
// and more than one colour among them.
func checkPNG(t *testing.T, raw []byte, lay layout, wantPanels int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	scale := float64(lay.dpi) / float64(vg.Inch)
	wantW, wantH := int(float64(lay.w)*scale+0.5), int(float64(lay.h)*scale+0.5)
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("image is %d×%d, want %d×%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	if len(lay.panels) != wantPanels {
		t.Fatalf("%d panels drawn, want %d", len(lay.panels), wantPanels)
	}
	for i, r := range lay.panels {
		x0, x1 := int(float64(r.Min.X)*scale), int(float64(r.Max.X)*scale)
		y0, y1 := wantH-int(float64(r.Max.Y)*scale), wantH-int(float64(r.Min.Y)*scale)
		if x1-x0 < 20 || y1-y0 < 20 {
			t.Errorf("panel %d is only %d×%d pixels", i, x1-x0, y1-y0)
			continue
		}
		ink, colours := 0, map[color.RGBA]bool{}
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				if c.R < 240 || c.G < 240 || c.B < 240 {
					ink++
					colours[c] = true
				}
			}
		}
		area := (x1 - x0) * (y1 - y0)
		if float64(ink) < 0.005*float64(area) || len(colours) < 2 {
			t.Errorf("panel %d (%d×%d px) looks empty: %d drawn pixels, %d colours", i, x1-x0, y1-y0, ink, len(colours))
		}
	}
	return img
}

func TestFigures(t *testing.T) {
	sets := small.sets()
	const np = 5
	cases := []struct {
		name   string
		f      figureFunc
		panels int
		sets   []Set
	}{
		{"marginals", marginals, np, sets},
		{"marginals-subposteriors-only", marginals, np, sets[:small.shards]},
		{"pairs", pairs, np * (np + 1) / 2, sets},
		{"pairs-one-set", pairs, np * (np + 1) / 2, sets[len(sets)-1:]},
		{"trace", one(trace, 0), np, sets},
		{"trace-no-warmup", one(trace, 0), np, []Set{noWarmup(sets[len(sets)-1])}},
		{"rank", one(rank, 0), np * small.chains, sets},
		{"compare", compare, len(small.methods), sets},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			lay, err := c.f(&buf, c.sets, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkPNG(t, buf.Bytes(), lay, c.panels)
		})
	}
}

// noWarmup returns s with its saved warmup draws dropped.
func noWarmup(s Set) Set {
	d := *s.Draws
	d.Values = make([][][]float64, len(s.Draws.Values))
	for c := range d.Values {
		d.Values[c] = make([][]float64, len(s.Draws.Values[c]))
		for v, x := range s.Draws.Values[c] {
			d.Values[c][v] = x[s.Draws.Warmup:]
		}
	}
	d.Warmup = 0
	s.Draws = &d
	return s
}

func TestSizeAndDPI(t *testing.T) {
	sets := small.sets()
	cases := []struct {
		opts  Options
		w, h  int
		ratio bool // only the aspect ratio is known
	}{
		{opts: Options{Width: 8 * vg.Inch, Height: 5 * vg.Inch, DPI: 100}, w: 800, h: 500},
		{opts: Options{Width: 6 * vg.Inch, Height: 4 * vg.Inch}, w: 900, h: 600},
		{opts: Options{Width: 10 * vg.Inch, DPI: 72}, w: 720, ratio: true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%vx%v@%d", c.opts.Width, c.opts.Height, c.opts.DPI), func(t *testing.T) {
			var buf bytes.Buffer
			lay, err := marginals(&buf, sets, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			img := checkPNG(t, buf.Bytes(), lay, 5)
			if img.Bounds().Dx() != c.w || (!c.ratio && img.Bounds().Dy() != c.h) {
				t.Errorf("size %v, want %d×%d", img.Bounds().Size(), c.w, c.h)
			}
		})
	}
}

func TestVectorFormats(t *testing.T) {
	sets := small.sets()
	for format, magic := range map[string]string{"svg": "<?xml", "pdf": "%PDF"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Marginals(&buf, sets, Options{Format: format, Params: []string{"alpha"}}); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte(magic)) {
				t.Errorf("output starts %q, want %q", buf.Bytes()[:min(10, buf.Len())], magic)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	sets := small.sets()
	render := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var buf bytes.Buffer
		if err := Pairs(&buf, sets, Options{Params: []string{"alpha", "beta[1]", "sigma"}}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if !bytes.Equal(render(1), render(4)) {
		t.Error("the figure depends on the number of goroutines")
	}
}

func TestTruncation(t *testing.T) {
	big := synth{d: 20, chains: 2, iters: 100, seed: 3, methods: []string{"consensus"}}
	sets := big.sets()
	names, total, err := Shown(sets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != DefaultMaxParams || total != 20 {
		t.Errorf("Shown: %d of %d, want %d of 20", len(names), total, DefaultMaxParams)
	}
	if names, _, _ := Shown(sets, Options{MaxParams: -1}); len(names) != 20 {
		t.Errorf("MaxParams -1 shows %d, want 20", len(names))
	}
	if names, _, _ := Shown(sets, Options{MaxParams: 3}); len(names) != 3 || names[2] != "beta[2]" {
		t.Errorf("MaxParams 3 shows %v", names)
	}
	var buf bytes.Buffer
	lay, err := marginals(&buf, sets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, buf.Bytes(), lay, DefaultMaxParams)
	if got := cutNote(16, 20); got != " (first 16 of 20 parameters)" {
		t.Errorf("cutNote = %q", got)
	}
}

func TestErrors(t *testing.T) {
	sets := small.sets()
	other := synth{d: 4, chains: 2, iters: 50, seed: 1}.draws(chains.KindCombined, 0, 0, 1, 9)
	other.Names[1] = "gamma"
	two := append(append([]Set{}, sets...), Set{Label: "second reference", Role: Reference, Draws: sets[len(sets)-1].Draws})
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"missing parameter", func() error {
			return Marginals(io.Discard, sets, Options{Params: []string{"alpha", "tau"}})
		}, `has no parameter "tau"`},
		{"different parameters", func() error {
			return Marginals(io.Discard, []Set{sets[0], SetOf("other.arrow", other)}, Options{})
		}, `shard 0 and other.arrow have different parameters: "gamma" is in other.arrow only`},
		{"two references", func() error { return Marginals(io.Discard, two, Options{}) }, "more than one reference"},
		{"no role", func() error {
			return Marginals(io.Discard, []Set{{Label: "x", Draws: sets[0].Draws}}, Options{})
		}, `set "x" has no role`},
		{"compare without reference", func() error { return Compare(io.Discard, sets[:len(sets)-1], Options{}) }, "needs a reference"},
		{"compare without methods", func() error {
			return Compare(io.Discard, append(sets[:small.shards:small.shards], sets[len(sets)-1]), Options{})
		}, "at least one combined set"},
		{"bad format", func() error { return Marginals(io.Discard, sets, Options{Format: "gif"}) }, `unknown format "gif"`},
		{"bad DPI", func() error { return Marginals(io.Discard, sets, Options{DPI: 5000}) }, "DPI 5000 out of range"},
		{"tiny figure", func() error {
			return Pairs(io.Discard, sets, Options{Width: 2 * vg.Inch, Height: 2 * vg.Inch})
		}, "too small"},
		{"no sets", func() error { return Marginals(io.Discard, nil, Options{}) }, "no draws"},
		{"write error", func() error { return Marginals(failWriter{}, sets, Options{}) }, "disk full"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestSetOf(t *testing.T) {
	sets := small.sets()
	want := []struct {
		label string
		role  Role
	}{{"shard 0", Subposterior}, {"consensus", Combined}, {"full data", Reference}}
	got := []Set{sets[0], sets[small.shards], sets[len(sets)-1]}
	for i, w := range want {
		if got[i].Label != w.label || got[i].Role != w.role {
			t.Errorf("set %d: %q %v, want %q %v", i, got[i].Label, got[i].Role, w.label, w.role)
		}
	}
	d := chains.New([]string{"a"}, 1, 2)
	d.Meta.Kind = chains.KindStan
	if s := SetOf("/x/out.csv", d); s.Label != "out.csv" || s.Role != Combined {
		t.Errorf("stan set: %q %v", s.Label, s.Role)
	}
	if got := describe(sets); got != "logistic · M = 8 · 8 subposteriors · consensus, parametric · reference: full data" {
		t.Errorf("describe = %q", got)
	}
}

func TestGolden(t *testing.T) {
	g := synth{d: 3, shards: 3, chains: 2, iters: 300, seed: 11, methods: []string{"consensus"}, ref: true}
	var buf bytes.Buffer
	if err := Marginals(&buf, g.sets(), Options{Width: 6 * vg.Inch, Height: 3 * vg.Inch, DPI: 80}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "marginals_golden.png")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	a, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("size %v, golden %v", a.Bounds(), b.Bounds())
	}
	// Tolerate anti-aliasing differences (floating point differs slightly
	// between architectures): at most 0.5 % of pixels may differ by more
	// than 64 in a channel.
	bad, n := 0, a.Bounds().Dx()*a.Bounds().Dy()
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			p := color.RGBAModel.Convert(a.At(x, y)).(color.RGBA)
			q := color.RGBAModel.Convert(b.At(x, y)).(color.RGBA)
			if absDiff(p.R, q.R) > 64 || absDiff(p.G, q.G) > 64 || absDiff(p.B, q.B) > 64 {
				bad++
			}
		}
	}
	if float64(bad) > 0.005*float64(n) {
		os.WriteFile(filepath.Join(t.TempDir(), "marginals.png"), buf.Bytes(), 0o644)
		t.Errorf("%d of %d pixels differ from %s (run go test -update after checking the new image)", bad, n, path)
	}
}

func absDiff(a, b uint8) int { return int(math.Abs(float64(a) - float64(b))) }

func TestBadDraws(t *testing.T) {
	mk := func(v float64, lw ...float64) Set {
		names := []string{"a"}
		if lw != nil {
			names = append(names, chains.LogWeight)
		}
		d := chains.New(names, 1, 3)
		d.Values[0][0] = []float64{1, v, 2}
		if lw != nil {
			d.Values[0][1] = lw
		}
		return Set{Label: "x", Role: Combined, Draws: d}
	}
	inf := math.Inf(1)
	cases := []struct {
		set  Set
		want string
	}{
		{mk(math.NaN()), "a is NaN in chain 1, iteration 2"},
		{mk(inf), "a is +Inf"},
		{mk(0, 0, math.NaN(), 0), ".log_weight is NaN"},
		{mk(0, math.Inf(-1), math.Inf(-1), math.Inf(-1)), "all weights zero"},
	}
	for _, c := range cases {
		err := Marginals(io.Discard, []Set{c.set}, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	// −Inf log weights are zero weights, which is fine.
	if err := Marginals(io.Discard, []Set{mk(0, 0, math.Inf(-1), 0)}, Options{}); err != nil {
		t.Error(err)
	}
}
