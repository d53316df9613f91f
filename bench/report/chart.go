package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	mioColor   = color.RGBA{R: 0xd6, G: 0x4f, B: 0x1f, A: 0xff}
	peerColor  = color.RGBA{R: 0x4a, G: 0x6f, B: 0xa5, A: 0xff}
	floorColor = color.RGBA{R: 0x70, G: 0x70, B: 0x70, A: 0xff}
)

// panel is one bar chart: a metric of every server under one workload.
type panel struct {
	title, ylabel, workload string
	metric                  func(result) float64
	floorLine               bool // mark 1.25 × the C floor's median
}

// writeChart draws, side by side, the server CPU per message of every
// workload, then W1's throughput and the memory per idle connection of
// the workload that measured it, each bar the median with the range over
// the rounds.
func writeChart(d *dataset, path string) error {
	var panels []panel
	for _, wl := range d.workloads {
		panels = append(panels, panel{title: wl + ": server CPU per message", ylabel: "µs", workload: wl,
			metric: cpuPerMsg, floorLine: true})
	}
	if len(d.workloads) > 0 {
		wl := d.workloads[0]
		panels = append(panels, panel{title: wl + ": messages per second", ylabel: "thousands", workload: wl,
			metric: func(r result) float64 { return r.MsgsPerS / 1e3 }})
	}
	for _, wl := range d.workloads {
		for _, s := range d.servers {
			if c := d.cell(wl, s); c != nil && !math.IsNaN(c.metric(rssPerConn).Med) {
				panels = append(panels, panel{title: wl + ": server RSS per idle connection", ylabel: "bytes",
					workload: wl, metric: rssPerConn})
				break
			}
		}
	}
	const cols = 3
	rows := (len(panels) + cols - 1) / cols
	if rows == 0 {
		return fmt.Errorf("no results to chart")
	}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, pn := range panels {
		pl, err := barPlot(d, pn)
		if err != nil {
			return err
		}
		grid[i/cols][i%cols] = pl
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(cols)*5*vg.Inch, vg.Length(rows)*3.6*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c := range grid[r] {
			if grid[r][c] != nil {
				grid[r][c].Draw(canvases[r][c])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rangeBars are the min–max whiskers over the medians.
type rangeBars struct {
	xs, med, lo, hi []float64
}

func (b rangeBars) Len() int                    { return len(b.xs) }
func (b rangeBars) XY(i int) (float64, float64) { return b.xs[i], b.med[i] }
func (b rangeBars) YError(i int) (float64, float64) {
	return b.med[i] - b.lo[i], b.hi[i] - b.med[i]
}

func barPlot(d *dataset, pn panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = pn.title
	pl.Y.Label.Text = pn.ylabel
	pl.Y.Min = 0
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	pl.Add(grid)
	var names []string
	groups := map[color.Color]plotter.Values{}
	order := []color.Color{mioColor, peerColor, floorColor}
	var whiskers rangeBars
	for _, s := range d.servers {
		c := d.cell(pn.workload, s)
		if c == nil {
			continue
		}
		sum := c.metric(pn.metric)
		if math.IsNaN(sum.Med) {
			continue
		}
		x := float64(len(names))
		names = append(names, s)
		col := peerColor
		switch {
		case strings.HasPrefix(s, "mio"):
			col = mioColor
		case s == "cfloor":
			col = floorColor
		}
		for _, k := range order {
			v := 0.0
			if k == col {
				v = sum.Med
			}
			groups[k] = append(groups[k], v)
		}
		whiskers.xs = append(whiskers.xs, x)
		whiskers.med = append(whiskers.med, sum.Med)
		whiskers.lo = append(whiskers.lo, sum.Min)
		whiskers.hi = append(whiskers.hi, sum.Max)
	}
	if len(names) == 0 {
		return pl, nil
	}
	for _, k := range order {
		bars, err := plotter.NewBarChart(groups[k], vg.Points(22))
		if err != nil {
			return nil, err
		}
		bars.Color = k
		bars.LineStyle.Width = 0
		pl.Add(bars)
	}
	eb, err := plotter.NewYErrorBars(whiskers)
	if err != nil {
		return nil, err
	}
	eb.LineStyle.Width = vg.Points(1)
	pl.Add(eb)
	if c := d.cell(pn.workload, "cfloor"); pn.floorLine && c != nil {
		y := 1.25 * c.metric(pn.metric).Med
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: y}, {X: float64(len(names)) - 0.5, Y: y}})
		if err != nil {
			return nil, err
		}
		line.Color = floorColor
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		pl.Add(line)
		pl.Legend.Add("1.25 × C floor", line)
		pl.Legend.Top = true
		pl.Legend.Left = true
		// Room above the bars for the legend.
		pl.Y.Max = 1.2 * max(slices.Max(whiskers.hi), y)
	}
	pl.NominalX(names...)
	pl.Y.Tick.Marker = plainTicks{}
	pl.X.Tick.Label.Rotation = math.Pi / 5
	pl.X.Tick.Label.XAlign = text.XRight
	pl.X.Tick.Label.YAlign = text.YCenter
	return pl, nil
}

// plainTicks are gonum's default ticks labelled without trailing zeros.
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', 6, 64)
		}
	}
	return ticks
}
