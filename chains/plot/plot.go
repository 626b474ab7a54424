package plot

import (
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/epmc/epmc/chains"
)

// Role says what a set of draws stands for, and so how it is drawn.
type Role int

const (
	// Subposterior draws (one shard's) are drawn as thin lines, one colour
	// per set.
	Subposterior Role = iota + 1
	// Combined draws — the output of a combination method, or any other
	// estimate of the posterior being judged — are drawn as thick lines.
	Combined
	// Reference draws (usually a full-data run) are what the others are
	// judged against: dashed black lines. A figure has at most one.
	Reference
)

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case Subposterior:
		return "subposterior"
	case Combined:
		return "combined"
	case Reference:
		return "reference"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// RoleOf returns the role that draws of the given kind play by default:
// subposterior files are Subposterior, full-data runs are the Reference, and
// everything else (combined, Stan, draws of unknown provenance) is Combined.
func RoleOf(k chains.Kind) Role {
	switch k {
	case chains.KindSubposterior:
		return Subposterior
	case chains.KindFull:
		return Reference
	}
	return Combined
}

// A Set is one labelled set of draws in a figure.
type Set struct {
	// Label names the set in legends and panel titles.
	Label string
	Role  Role
	Draws *chains.Draws
}

// SetOf returns the set for draws d read from the file at path, with the
// role RoleOf(d.Meta.Kind) and a label from the metadata: "shard m" for a
// subposterior (m 0-based, as epmc sample's --shard), the combination
// method for combined draws, "full data" for a full-data run, and the file's
// base name otherwise.
func SetOf(path string, d *chains.Draws) Set {
	return Set{Label: labelOf(path, d), Role: RoleOf(d.Meta.Kind), Draws: d}
}

func labelOf(path string, d *chains.Draws) string {
	base := filepath.Base(path)
	switch d.Meta.Kind {
	case chains.KindSubposterior:
		if d.Meta.Shards > 0 {
			return fmt.Sprintf("shard %d", d.Meta.Shard)
		}
	case chains.KindCombined:
		if m := jsonString(d.Meta.Combine, "method"); m != "" {
			return m
		}
	case chains.KindFull:
		return "full data"
	}
	if base == "." || base == string(filepath.Separator) {
		return "draws"
	}
	return base
}

// jsonString returns the string field key of the JSON object raw, or "".
func jsonString(raw json.RawMessage, key string) string {
	if len(raw) == 0 {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}

// jsonInt returns the integer field key of the JSON object raw, or 0.
func jsonInt(raw json.RawMessage, key string) int {
	if len(raw) == 0 {
		return 0
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return 0
	}
	f, _ := m[key].(float64)
	if f != math.Trunc(f) || f < 0 || f > 1e9 {
		return 0
	}
	return int(f)
}

// DefaultMaxParams is the number of parameters a figure shows when
// Options.MaxParams is zero.
const DefaultMaxParams = 16

// pngLevel is the PNG compression level: figures are mostly white and
// compress well at any level; the fastest level saves most of the encoding
// time (a large part of drawing a big figure) for files a few per cent
// larger.
var pngLevel = png.BestSpeed

// DefaultDPI is the resolution of PNG figures when Options.DPI is zero.
const DefaultDPI = 150

// Options control a figure. The zero value gives the defaults.
type Options struct {
	// Params lists the parameters to show, in order. Nil means every
	// parameter of the first set, in column order.
	Params []string
	// MaxParams caps the number of parameters shown (the first MaxParams
	// of Params); the figure's title says when it cuts. Zero means
	// DefaultMaxParams; a negative value means no limit.
	MaxParams int
	// Width and Height set the figure's size; zero chooses a size from the
	// number of panels so that every panel is readable at the default font
	// sizes. Setting one scales the other in proportion.
	Width, Height vg.Length
	// DPI is the resolution of PNG output; zero means DefaultDPI.
	DPI int
	// Format is "png" (the default), "svg" or "pdf".
	Format string
	// Title replaces the automatic title (which says what is shown: the
	// model, the number of shards, the methods and the reference).
	Title string
}

// Shown returns the parameters a figure of sets would show with opts and
// how many there were before MaxParams cut the list. It fails when a set
// lacks a requested parameter, when the sets do not all have the same
// parameters (with Params nil), or when there is nothing to show.
func Shown(sets []Set, opts Options) (names []string, total int, err error) {
	if len(sets) == 0 {
		return nil, 0, errors.New("plot: no draws to plot")
	}
	for _, s := range sets {
		if s.Draws == nil {
			return nil, 0, fmt.Errorf("plot: set %q has no draws", s.Label)
		}
		if s.Draws.NumDraws() == 0 {
			return nil, 0, fmt.Errorf("plot: %s has no post-warmup draws", s.Label)
		}
	}
	names = opts.Params
	if names == nil {
		names = sets[0].Draws.ParamNames()
		if err := SameParams(sets); err != nil {
			return nil, 0, err
		}
	}
	if len(names) == 0 {
		return nil, 0, fmt.Errorf("plot: %s has no parameters", sets[0].Label)
	}
	for _, n := range names {
		for _, s := range sets {
			if s.Draws.Index(n) < 0 {
				return nil, 0, fmt.Errorf("plot: %s has no parameter %q", s.Label, n)
			}
		}
	}
	total = len(names)
	max := opts.MaxParams
	if max == 0 {
		max = DefaultMaxParams
	}
	if max > 0 && len(names) > max {
		names = names[:max]
	}
	// Draws read from files are finite (the readers check); draws built
	// in memory may not be, and would break the density estimates. Log
	// weights may be −Inf (weight zero), but not all of them.
	for _, s := range sets {
		for _, n := range names {
			v := s.Draws.Index(n)
			for c, ch := range s.Draws.Values {
				for t, x := range ch[v] {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						return nil, 0, fmt.Errorf("plot: %s: %s is %g in chain %d, iteration %d", s.Label, n, x, c+1, t+1)
					}
				}
			}
		}
		if v := s.Draws.Index(chains.LogWeight); v >= 0 {
			positive := false
			for c, ch := range s.Draws.Values {
				for t, x := range ch[v][s.Draws.Warmup:] {
					if math.IsNaN(x) || math.IsInf(x, 1) {
						return nil, 0, fmt.Errorf("plot: %s: %s is %g in chain %d, iteration %d", s.Label, chains.LogWeight, x, c+1, s.Draws.Warmup+t+1)
					}
					positive = positive || !math.IsInf(x, -1)
				}
			}
			if !positive {
				return nil, 0, fmt.Errorf("plot: %s: every %s is −Inf (all weights zero)", s.Label, chains.LogWeight)
			}
		}
	}
	return names, total, nil
}

// SameParams reports, naming the sets and a parameter that differs, when
// the sets do not all have the same parameters (in any order).
func SameParams(sets []Set) error {
	if len(sets) == 0 {
		return nil
	}
	first := sets[0]
	have := map[string]bool{}
	for _, n := range first.Draws.ParamNames() {
		have[n] = true
	}
	for _, s := range sets[1:] {
		names := s.Draws.ParamNames()
		seen := map[string]bool{}
		for _, n := range names {
			seen[n] = true
			if !have[n] {
				return fmt.Errorf("plot: %s and %s have different parameters: %q is in %s only", first.Label, s.Label, n, s.Label)
			}
		}
		for _, n := range first.Draws.ParamNames() {
			if !seen[n] {
				return fmt.Errorf("plot: %s and %s have different parameters: %q is in %s only", first.Label, s.Label, n, first.Label)
			}
		}
	}
	return nil
}

// checkRoles rejects unknown roles and more than one reference.
func checkRoles(sets []Set) error {
	refs := 0
	for _, s := range sets {
		switch s.Role {
		case Subposterior, Combined:
		case Reference:
			refs++
		default:
			return fmt.Errorf("plot: set %q has no role (want Subposterior, Combined or Reference)", s.Label)
		}
	}
	if refs > 1 {
		return errors.New("plot: more than one reference set")
	}
	return nil
}

// describe summarises the sets for a title: the model, the number of
// shards, the combination methods and the reference.
func describe(sets []Set) string {
	var parts []string
	model, shards := "", 0
	var methods []string
	nsub := 0
	ref := ""
	for _, s := range sets {
		m := s.Draws.Meta
		if model == "" {
			model = modelName(m)
		}
		if m.Shards > shards && m.Kind == chains.KindSubposterior {
			shards = m.Shards
		}
		if n := jsonInt(m.Combine, "shards"); n > shards {
			shards = n
		}
		switch s.Role {
		case Subposterior:
			nsub++
		case Combined:
			methods = append(methods, s.Label)
		case Reference:
			ref = s.Label
		}
	}
	if model != "" {
		parts = append(parts, model)
	}
	if shards > 1 {
		parts = append(parts, fmt.Sprintf("M = %d", shards))
	}
	if nsub > 0 {
		if nsub == 1 {
			parts = append(parts, "1 subposterior")
		} else {
			parts = append(parts, fmt.Sprintf("%d subposteriors", nsub))
		}
	}
	if len(methods) > 0 {
		parts = append(parts, strings.Join(methods, ", "))
	}
	if ref != "" {
		parts = append(parts, "reference: "+ref)
	}
	return strings.Join(parts, " · ")
}

// cutNote returns the title's note when parameters were left out.
func cutNote(shown, total int) string {
	if shown == total {
		return ""
	}
	return fmt.Sprintf(" (first %d of %d parameters)", shown, total)
}

// figure is a canvas being drawn, in one of the output formats.
type figure struct {
	cw  vg.CanvasWriterTo
	dc  draw.Canvas
	fmt string
	layout
}

// pngCanvas writes a vgimg canvas as PNG with a chosen compression level.
type pngCanvas struct {
	*vgimg.Canvas
	level png.CompressionLevel
}

func (c pngCanvas) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	enc := png.Encoder{CompressionLevel: c.level}
	err := enc.Encode(cw, c.Image())
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// layout records where a figure's panels went, for tests.
type layout struct {
	w, h   vg.Length
	dpi    int
	panels []vg.Rectangle // data areas of the panels
}

// drawGrid draws the panels of a grid aligned on c and records their data
// areas.
func (f *figure) drawGrid(plots [][]*gonum.Plot, tiles draw.Tiles, c draw.Canvas) [][]draw.Canvas {
	canv := gonum.Align(plots, tiles, c)
	for r := range plots {
		for cc, p := range plots[r] {
			if p != nil {
				p.Draw(canv[r][cc])
				f.panels = append(f.panels, p.DataCanvas(canv[r][cc]).Rectangle)
			}
		}
	}
	return canv
}

// newFigure returns a blank figure of the size the options ask for, given
// the figure's natural size w×h (see size).
func newFigure(opts Options, w, h vg.Length) (*figure, error) {
	w, h, err := size(opts, w, h)
	if err != nil {
		return nil, err
	}
	format := strings.ToLower(opts.Format)
	if format == "" {
		format = "png"
	}
	f := &figure{fmt: format, layout: layout{w: w, h: h}}
	switch format {
	case "png":
		dpi := opts.DPI
		if dpi == 0 {
			dpi = DefaultDPI
		}
		if dpi < 10 || dpi > 1200 {
			return nil, fmt.Errorf("plot: DPI %d out of range [10, 1200]", dpi)
		}
		// Refuse figures too large to hold in memory comfortably.
		px := float64(w/vg.Inch) * float64(dpi) * float64(h/vg.Inch) * float64(dpi)
		if px > 20e7 {
			return nil, fmt.Errorf("plot: a %.0f×%.0f in figure at %d DPI is too large (%.0f megapixels)", w/vg.Inch, h/vg.Inch, dpi, px/1e6)
		}
		f.cw = pngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi)), level: pngLevel}
		f.dpi = dpi
	case "svg":
		f.cw = vgsvg.New(w, h)
	case "pdf":
		f.cw = vgpdf.New(w, h)
	default:
		return nil, fmt.Errorf("plot: unknown format %q (want png, svg or pdf)", opts.Format)
	}
	f.dc = draw.New(f.cw)
	if format != "png" {
		// Vector canvases start transparent; paint the page white like
		// the PNG.
		f.dc.FillPolygon(white, []vg.Point{{X: 0, Y: 0}, {X: w, Y: 0}, {X: w, Y: h}, {X: 0, Y: h}})
	}
	return f, nil
}

func (f *figure) writeTo(w io.Writer) error {
	if _, err := f.cw.WriteTo(w); err != nil {
		return fmt.Errorf("plot: writing %s: %w", f.fmt, err)
	}
	return nil
}

// size resolves the figure's size from the options and the natural size.
func size(opts Options, w, h vg.Length) (vg.Length, vg.Length, error) {
	if opts.Width < 0 || opts.Height < 0 {
		return 0, 0, errors.New("plot: negative width or height")
	}
	switch {
	case opts.Width > 0 && opts.Height > 0:
		w, h = opts.Width, opts.Height
	case opts.Width > 0:
		w, h = opts.Width, h*opts.Width/w
	case opts.Height > 0:
		w, h = w*opts.Height/h, opts.Height
	}
	if w < vg.Inch || h < vg.Inch {
		return 0, 0, fmt.Errorf("plot: a %.2f×%.2f in figure is too small to draw", w/vg.Inch, h/vg.Inch)
	}
	return w, h, nil
}

// modelName returns the model's name from the metadata's model JSON: its
// "name" field, or the "model" field that epmc sample writes.
func modelName(m chains.Meta) string {
	if s := jsonString(m.Model, "name"); s != "" {
		return s
	}
	return jsonString(m.Model, "model")
}
