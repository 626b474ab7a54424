package plot

import (
	"image/color"
	"runtime"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// workers is the number of goroutines that compute densities.
func workers() int { return max(1, runtime.GOMAXPROCS(0)) }

// segments draws straight line segments {x0, y0, x1, y1} in data
// coordinates, clipped to the panel.
type segments struct {
	style draw.LineStyle
	segs  [][4]float64
}

func (s *segments) Plot(c draw.Canvas, p *gonum.Plot) {
	tx, ty := p.Transforms(&c)
	for _, g := range s.segs {
		line := []vg.Point{{X: tx(g[0]), Y: ty(g[1])}, {X: tx(g[2]), Y: ty(g[3])}}
		c.StrokeLines(s.style, c.ClipLinesXY(line)...)
	}
}

// rects fills axis-aligned rectangles {x0, y0, x1, y1} in data coordinates,
// clipped to the panel.
type rects struct {
	color color.Color
	rs    [][4]float64
}

func (r *rects) Plot(c draw.Canvas, p *gonum.Plot) {
	tx, ty := p.Transforms(&c)
	for _, g := range r.rs {
		x0, x1, y0, y1 := tx(g[0]), tx(g[2]), ty(g[1]), ty(g[3])
		poly := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		if pts := c.ClipPolygonXY(poly); len(pts) > 0 {
			c.FillPolygon(r.color, pts)
		}
	}
}

// dots draws filled circles with an outline at data points.
type dots struct {
	fill, edge color.Color
	radius     vg.Length
	pts        [][2]float64
}

func (d *dots) Plot(c draw.Canvas, p *gonum.Plot) {
	tx, ty := p.Transforms(&c)
	for _, q := range d.pts {
		pt := vg.Point{X: tx(q[0]), Y: ty(q[1])}
		if !c.Contains(pt) {
			continue
		}
		c.DrawGlyph(draw.GlyphStyle{Color: d.fill, Radius: d.radius, Shape: draw.CircleGlyph{}}, pt)
		c.DrawGlyph(draw.GlyphStyle{Color: d.edge, Radius: d.radius, Shape: draw.RingGlyph{}}, pt)
	}
}
