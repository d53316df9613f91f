// Command chart draws the RESP benchmark's results as a PNG with the
// standard library only: a grid of bar charts, requests per second and
// server CPU time per request (rows) for each pipeline depth (columns),
// the servers side by side for each redis-benchmark test.
//
// Usage:
//
//	chart -in results.tsv -out resp.png [-series "MIO EXAMPLE,REDIS-SERVER"] [-title text] [-note text]
//
// -series names the servers, in the order of the input's columns; the
// last one is the reference, and the figure above each other bar is its
// ratio to the reference's. Each line of the input holds, separated by
// tabs: the test name, the pipeline depth, each server's requests/s and
// then each server's CPU microseconds per request. Lines starting with #
// are skipped.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
)

// row is one test at one pipeline depth.
type row struct {
	test      string
	depth     int
	rps       []float64 // per server; NaN where missing
	cpuPerReq []float64 // microseconds
}

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{0, 0, 0, 255}
	grid   = color.RGBA{225, 225, 225, 255}
	grey   = color.RGBA{90, 90, 90, 255}
	colors = []color.RGBA{{31, 119, 180, 255}, {44, 160, 44, 255}, {148, 103, 189, 255}}
	refCol = color.RGBA{214, 39, 40, 255}
)

// seriesColor is the bar colour of server i of n: the reference, the
// last, in red.
func seriesColor(i, n int) color.RGBA {
	if i == n-1 {
		return refCol
	}
	return colors[i%len(colors)]
}

func main() {
	in := flag.String("in", "", "results `file` (tab-separated)")
	out := flag.String("out", "resp.png", "PNG `file` to write")
	series := flag.String("series", "MIO EXAMPLE,REDIS-SERVER", "comma-separated `names` of the servers; the last is the reference")
	title := flag.String("title", "RESP: MIO EXAMPLE VS REDIS-SERVER", "chart title")
	note := flag.String("note", "", "a line of `text` under the charts")
	flag.Parse()
	if *in == "" {
		log.Fatal("chart: -in is required")
	}
	names := strings.Split(*series, ",")
	rows, err := readRows(*in, len(names))
	if err != nil {
		log.Fatal(err)
	}
	img := draw(rows, names, *title, *note)
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func readRows(path string, k int) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 2+2*k {
			return nil, fmt.Errorf("%s:%d: want %d tab-separated fields for %d servers, got %d", path, n, 2+2*k, k, len(fields))
		}
		r := row{test: fields[0], rps: make([]float64, k), cpuPerReq: make([]float64, k)}
		if r.depth, err = strconv.Atoi(fields[1]); err != nil {
			return nil, fmt.Errorf("%s:%d: depth: %v", path, n, err)
		}
		for i := range 2 * k {
			v, err := strconv.ParseFloat(fields[2+i], 64)
			if err != nil || v < 0 {
				v = math.NaN()
			}
			if i < k {
				r.rps[i] = v
			} else {
				r.cpuPerReq[i-k] = v
			}
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// Layout, in pixels.
const (
	width, height = 1400, 900
	margin        = 20
	titleHeight   = 60
	panelGapX     = 30
	panelGapY     = 30
	footerHeight  = 20
)

func draw(rows []row, names []string, title, note string) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), white)
	text(img, margin, margin, 3, black, strings.ToUpper(title))
	ref := names[len(names)-1]
	text(img, margin, height-margin-7, 1, grey, "THE FIGURE ABOVE A BAR IS ITS RATIO TO "+ref+". "+note)
	// Legend, top right.
	x := width - margin
	for i := len(names) - 1; i >= 0; i-- {
		x -= 40 + textWidth(names[i], 2)
		fill(img, image.Rect(x, margin+4, x+18, margin+22), seriesColor(i, len(names)))
		text(img, x+26, margin+5, 2, black, names[i])
	}

	depths := distinctDepths(rows)
	panelW := (width - 2*margin - panelGapX*(len(depths)-1)) / max(len(depths), 1)
	panelH := (height - titleHeight - footerHeight - 2*margin - panelGapY) / 2
	for col, d := range depths {
		var sel []row
		for _, r := range rows {
			if r.depth == d {
				sel = append(sel, r)
			}
		}
		x0 := margin + col*(panelW+panelGapX)
		y0 := margin + titleHeight
		panel(img, image.Rect(x0, y0, x0+panelW, y0+panelH),
			fmt.Sprintf("REQUESTS/S, THOUSANDS, -P %d (HIGHER IS BETTER)", d), sel,
			len(names), func(r row, i int) float64 { return r.rps[i] / 1000 }, false)
		y0 += panelH + panelGapY
		panel(img, image.Rect(x0, y0, x0+panelW, y0+panelH),
			fmt.Sprintf("SERVER CPU US PER REQUEST, -P %d (LOWER IS BETTER)", d), sel,
			len(names), func(r row, i int) float64 { return r.cpuPerReq[i] }, true)
	}
	return img
}

func distinctDepths(rows []row) []int {
	var ds []int
	seen := map[int]bool{}
	for _, r := range rows {
		if !seen[r.depth] {
			seen[r.depth] = true
			ds = append(ds, r.depth)
		}
	}
	return ds
}

// panel draws one bar chart in area: a group of k bars per row, and above
// each bar but the last its ratio to the last.
func panel(img *image.RGBA, area image.Rectangle, title string, rows []row, k int, value func(row, int) float64, lowerBetter bool) {
	text(img, area.Min.X, area.Min.Y, 2, black, title)
	plot := image.Rect(area.Min.X+60, area.Min.Y+40, area.Max.X-5, area.Max.Y-24)
	top := 0.0
	for _, r := range rows {
		for i := range k {
			if v := value(r, i); !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	step := niceStep(top / 5)
	top = math.Ceil(top/step) * step
	if top == 0 {
		top, step = 1, 0.2
	}
	yOf := func(v float64) int {
		return plot.Max.Y - int(math.Round(v/top*float64(plot.Dy())))
	}
	for v := 0.0; v <= top+step/2; v += step {
		y := yOf(v)
		fill(img, image.Rect(plot.Min.X, y, plot.Max.X, y+1), grid)
		label := strconv.FormatFloat(v, 'f', decimals(step), 64)
		text(img, plot.Min.X-8-textWidth(label, 1), y-3, 1, grey, label)
	}
	fill(img, image.Rect(plot.Min.X, plot.Min.Y, plot.Min.X+1, plot.Max.Y), black)
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), black)
	if len(rows) == 0 {
		return
	}
	groupW := plot.Dx() / len(rows)
	barW := groupW * 6 / 10 / k
	for g, r := range rows {
		gx := plot.Min.X + g*groupW + (groupW-k*barW)/2
		ref := value(r, k-1)
		for i := range k {
			v := value(r, i)
			if math.IsNaN(v) {
				continue
			}
			bx := gx + i*barW
			fill(img, image.Rect(bx, yOf(v), bx+barW-2, plot.Max.Y), seriesColor(i, k))
			if i == k-1 || math.IsNaN(ref) || ref <= 0 {
				continue
			}
			ratio := v / ref
			c := color.RGBA{0, 130, 0, 255}
			if lowerBetter && ratio > 1 || !lowerBetter && ratio < 0.9 {
				c = color.RGBA{200, 0, 0, 255}
			}
			s := strconv.FormatFloat(ratio, 'f', 2, 64)
			// Every other label a line higher, so that neighbours of
			// about the same height do not overlap.
			text(img, bx+(barW-2-textWidth(s, 1))/2, yOf(v)-12-10*(i%2), 1, c, s)
		}
		name := strings.ToUpper(r.test)
		text(img, plot.Min.X+g*groupW+(groupW-textWidth(name, 1))/2, plot.Max.Y+8, 1, black, name)
	}
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// decimals is how many decimals the tick labels of a step need.
func decimals(step float64) int {
	if step >= 1 {
		return 0
	}
	return int(math.Ceil(-math.Log10(step)))
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// textWidth is the width of s drawn at the given scale.
func textWidth(s string, scale int) int { return len(s) * 6 * scale }

// text draws s with its top left corner at (x, y), each font pixel a
// scale-by-scale square. Lower-case letters are drawn as capitals.
func text(img *image.RGBA, x, y, scale int, c color.RGBA, s string) {
	for _, ch := range strings.ToUpper(s) {
		g, ok := font[ch]
		if !ok {
			g = font['?']
		}
		for row, bits := range g {
			for col := range 5 {
				if bits[col] == '#' {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += 6 * scale
	}
}
