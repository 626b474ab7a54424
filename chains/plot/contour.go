package plot

import (
	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// isolines returns the contour lines of the grid g at level t, as
// polylines in data coordinates (a closed line repeats its first point at
// the end), by marching squares with the saddle cells resolved by the
// cell's mean. The lines come out in a fixed order, so figures are the
// same from run to run (gonum's plotter.Contour orders its paths by map
// iteration, which changes the anti-aliased pixels between runs).
func isolines(g *density2D, t float64) [][][2]float64 {
	nx, ny := len(g.xs), len(g.ys)
	if nx < 2 || ny < 2 {
		return nil
	}
	z := func(i, j int) float64 { return g.z[i*ny+j] }
	// Edge ids: the horizontal edge from node (i, j) to (i+1, j) is
	// 2(i·ny + j), the vertical edge from (i, j) to (i, j+1) is that + 1.
	hEdge := func(i, j int) int { return 2 * (i*ny + j) }
	vEdge := func(i, j int) int { return 2*(i*ny+j) + 1 }
	nEdges := 2 * nx * ny
	// Each crossed edge is shared by at most two cells, so each point of
	// the contour has at most two neighbours.
	nb := make([][2]int32, nEdges)
	for i := range nb {
		nb[i] = [2]int32{-1, -1}
	}
	link := func(a, b int) {
		for _, e := range [2][2]int{{a, b}, {b, a}} {
			if nb[e[0]][0] < 0 {
				nb[e[0]][0] = int32(e[1])
			} else {
				nb[e[0]][1] = int32(e[1])
			}
		}
	}
	for i := 0; i < nx-1; i++ {
		for j := 0; j < ny-1; j++ {
			z00, z10, z11, z01 := z(i, j), z(i+1, j), z(i+1, j+1), z(i, j+1)
			b0, b1, b2, b3 := z00 >= t, z10 >= t, z11 >= t, z01 >= t
			bottom, right, top, left := hEdge(i, j), vEdge(i+1, j), hEdge(i, j+1), vEdge(i, j)
			var cut []int // crossed edges, in the order bottom, right, top, left
			if b0 != b1 {
				cut = append(cut, bottom)
			}
			if b1 != b2 {
				cut = append(cut, right)
			}
			if b2 != b3 {
				cut = append(cut, top)
			}
			if b3 != b0 {
				cut = append(cut, left)
			}
			switch len(cut) {
			case 2:
				link(cut[0], cut[1])
			case 4:
				// Saddle: cut off the two corners on the other side of
				// the level from the cell's centre.
				centre := (z00+z10+z11+z01)/4 >= t
				if b0 != centre { // corners 00 and 11 are cut off
					link(bottom, left)
					link(right, top)
				} else { // corners 10 and 01
					link(bottom, right)
					link(top, left)
				}
			}
		}
	}
	point := func(e int) [2]float64 {
		k := e / 2
		i, j := k/ny, k%ny
		i2, j2 := i+1, j
		if e%2 == 1 {
			i2, j2 = i, j+1
		}
		za, zb := z(i, j), z(i2, j2)
		f := 0.5
		if zb != za {
			f = (t - za) / (zb - za)
		}
		return [2]float64{g.xs[i] + f*(g.xs[i2]-g.xs[i]), g.ys[j] + f*(g.ys[j2]-g.ys[j])}
	}
	seen := make([]bool, nEdges)
	walk := func(start int) [][2]float64 {
		line := [][2]float64{point(start)}
		seen[start] = true
		prev, cur := -1, start
		for {
			next := -1
			for _, n := range nb[cur] {
				if n >= 0 && int(n) != prev && !seen[n] {
					next = int(n)
					break
				}
			}
			if next < 0 {
				// Close a loop: the start is a neighbour of the end.
				if len(line) > 2 && (int(nb[cur][0]) == start || int(nb[cur][1]) == start) {
					line = append(line, line[0])
				}
				return line
			}
			seen[next] = true
			line = append(line, point(next))
			prev, cur = cur, next
		}
	}
	var lines [][][2]float64
	// Open lines first, from their ends on the grid's border, then loops.
	for e := range nEdges {
		if !seen[e] && nb[e][0] >= 0 && nb[e][1] < 0 {
			lines = append(lines, walk(e))
		}
	}
	for e := range nEdges {
		if !seen[e] && nb[e][0] >= 0 {
			lines = append(lines, walk(e))
		}
	}
	return lines
}

// contours draws precomputed contour lines with one line style.
type contours struct {
	style draw.LineStyle
	lines [][][2]float64
}

func (c *contours) Plot(dc draw.Canvas, p *gonum.Plot) {
	tx, ty := p.Transforms(&dc)
	for _, l := range c.lines {
		pts := make([]vg.Point, len(l))
		for i, q := range l {
			pts[i] = vg.Point{X: tx(q[0]), Y: ty(q[1])}
		}
		dc.StrokeLines(c.style, dc.ClipLinesXY(pts)...)
	}
}
