package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colours of the two sides: the API in blue, the raw engine in orange.
var (
	apiColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	rawColor = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
)

// writeChart draws one row per operation: throughput against concurrency
// on the left, p50 (solid) and p99 (dashed) latency on the right, the API
// and the raw engine in each, and writes it as SVG to path.
func writeChart(path string, all []series) error {
	var ops []string
	bySide := map[string]map[string]series{}
	for _, s := range all {
		if bySide[s.op] == nil {
			bySide[s.op] = map[string]series{}
			ops = append(ops, s.op)
		}
		bySide[s.op][s.side] = s
	}
	ticks := plot.ConstantTicks{}
	for _, c := range concurrencies {
		ticks = append(ticks, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	rows := make([][]*plot.Plot, len(ops))
	for i, op := range ops {
		tp, lat := plot.New(), plot.New()
		tp.Title.Text = op + ": throughput"
		tp.Y.Label.Text = "requests/s"
		lat.Title.Text = op + ": latency (p50 solid, p99 dashed)"
		lat.Y.Label.Text = "ms"
		lat.Y.Scale = plot.LogScale{}
		lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		for _, p := range []*plot.Plot{tp, lat} {
			p.X.Label.Text = "concurrent clients"
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = ticks
			p.X.Min, p.X.Max = 0.8, 40
			p.Add(plotter.NewGrid())
		}
		// Legends go where the lines are not: throughput sits well above
		// zero, latency rises to the right.
		tp.Legend.XOffs, tp.Legend.YOffs = -vg.Points(4), vg.Points(4)
		lat.Legend.Top, lat.Legend.Left = true, true
		lat.Legend.XOffs, lat.Legend.YOffs = vg.Points(4), -vg.Points(2)
		tp.Y.Min = 0
		for _, side := range []string{"api", "raw"} {
			s := bySide[op][side]
			clr, name := apiColor, "API (dev server)"
			if side == "raw" {
				clr, name = rawColor, "raw SDK call"
			}
			if err := addLine(tp, s.c, s.rps, clr, false, name); err != nil {
				return err
			}
			if err := addLine(lat, s.c, s.p50, clr, false, name+" p50"); err != nil {
				return err
			}
			if err := addLine(lat, s.c, s.p99, clr, true, name+" p99"); err != nil {
				return err
			}
		}
		rows[i] = []*plot.Plot{tp, lat}
	}

	img := vgsvg.New(11*vg.Inch, vg.Length(len(ops))*3.6*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(ops), Cols: 2, PadX: vg.Inch / 3, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := img.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// addLine adds a line with points through (c[i], y[i]) to p.
func addLine(p *plot.Plot, c []int, y []float64, clr color.Color, dashed bool, name string) error {
	xys := make(plotter.XYs, len(c))
	for i := range c {
		xys[i] = plotter.XY{X: float64(c[i]), Y: y[i]}
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("chart %s: %w", name, err)
	}
	line.Color = clr
	line.Width = vg.Points(1.5)
	if dashed {
		line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	points.Color = clr
	points.Shape = draw.CircleGlyph{}
	p.Add(line, points)
	p.Legend.Add(name, line)
	return nil
}

// writeBaselineChart draws, for every route measured, each function next
// to its baseline: the median warm invocation (µs) and the median cold
// start (ms), as grouped bars, and writes it as SVG to path. It writes
// nothing when the run measured neither.
func writeBaselineChart(path string, res *results, routes []string) error {
	type panel struct {
		title, unit, fn, base string
		scale                 float64
	}
	panels := []panel{
		{"warm invocation through the Runtime API (median)", "µs", "warm_us.", "warm_us." + baselinePrefix, 1},
		{"cold start: process start to first response (median)", "ms", "cold_start_ms.", "cold_start_ms." + baselinePrefix, 1},
	}
	var plots [][]*plot.Plot
	for _, pn := range panels {
		var names []string
		var fn, base plotter.Values
		for _, r := range routes {
			f, ok1 := res.get(pn.fn + r)
			b, ok2 := res.get(pn.base + r)
			if !ok1 || !ok2 || math.IsNaN(f) || math.IsNaN(b) {
				continue // a route whose starts failed: its row says why
			}
			names = append(names, r)
			fn, base = append(fn, f*pn.scale), append(base, b*pn.scale)
		}
		if len(names) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.unit
		p.Add(plotter.NewGrid())
		w := vg.Points(7)
		bf, err := plotter.NewBarChart(fn, w)
		if err != nil {
			return err
		}
		bb, err := plotter.NewBarChart(base, w)
		if err != nil {
			return err
		}
		bf.Color, bf.LineStyle.Width, bf.Offset = apiColor, 0, -w/2
		bb.Color, bb.LineStyle.Width, bb.Offset = rawColor, 0, w/2
		p.Add(bf, bb)
		p.Legend.Add("function", bf)
		p.Legend.Add("baseline (same DynamoDB calls)", bb)
		p.Legend.Top = true
		p.NominalX(names...)
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
		p.Y.Min = 0
		plots = append(plots, []*plot.Plot{p})
	}
	if len(plots) == 0 {
		return nil
	}
	img := vgsvg.New(11*vg.Inch, vg.Length(len(plots))*4.2*vg.Inch)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Inch / 3, PadY: vg.Inch / 4,
		PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align(plots, tiles, draw.New(img))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := img.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
