package main

import (
	"fmt"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws two panels side by side into a PNG: the time until all N connections
// are Ready next to the floor, and the manager's memory, both against N.
func writePlot(path string, results []*result) error {
	var ready, floor, rss, heap, heapBefore, heapAfter plotter.XYs
	unrelated := 0
	for _, r := range results {
		if r.AllReadySeconds == 0 {
			continue
		}
		n := float64(r.N)
		ready = append(ready, plotter.XY{X: n, Y: r.AllReadySeconds})
		floor = append(floor, plotter.XY{X: n, Y: r.FloorSeconds})
		rss = append(rss, plotter.XY{X: n, Y: r.Memory.RSS / (1 << 20)})
		heap = append(heap, plotter.XY{X: n, Y: r.Memory.HeapInuse / (1 << 20)})
		if u := r.Unrelated; u != nil {
			heapBefore = append(heapBefore, plotter.XY{X: n, Y: u.Before.HeapInuse / (1 << 20)})
			unrelated = u.Count
			heapAfter = append(heapAfter, plotter.XY{X: n, Y: u.After.HeapInuse / (1 << 20)})
		}
	}
	if len(ready) == 0 {
		return fmt.Errorf("no result to plot")
	}

	times := plot.New()
	times.Title.Text = "Time until all N connections are Ready"
	times.X.Label.Text = "N (connections created at once)"
	times.Y.Label.Text = "seconds"
	times.Y.Min = 0
	if err := plotutil.AddLinePoints(times, "all Ready (operator)", ready, "floor (4N API writes by the harness)", floor); err != nil {
		return err
	}
	times.Legend.Top, times.Legend.Left = true, true
	roomForLegend(times)

	mem := plot.New()
	mem.Title.Text = "Manager memory"
	mem.X.Label.Text = "N (connections)"
	mem.Y.Label.Text = "MiB"
	mem.Y.Min = 0
	series := []any{"RSS after creating N", rss, "Go heap in use after creating N", heap}
	if len(heapAfter) > 0 {
		series = append(series, "heap, restarted manager", heapBefore,
			fmt.Sprintf("heap, restarted, +%d unrelated Secrets", unrelated), heapAfter)
	}
	if err := plotutil.AddLinePoints(mem, series...); err != nil {
		return err
	}
	mem.Legend.Top, mem.Legend.Left = true, true
	roomForLegend(mem)

	img := vgimg.New(vg.Points(1100), vg.Points(420))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(30), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{times, mem}}, tiles, dc)
	times.Draw(canvases[0][0])
	mem.Draw(canvases[0][1])

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// roomForLegend starts the axes at zero, leaves the top third free for the legend, and
// labels ticks without needless decimals.
func roomForLegend(p *plot.Plot) {
	p.X.Min, p.Y.Min = 0, 0
	p.Y.Max *= 1.5
	p.X.Tick.Marker, p.Y.Tick.Marker = plainTicks, plainTicks
}

// plainTicks are gonum's default ticks, labelled %g: 2500, not 2500.00.
var plainTicks = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', -1, 64)
		}
	}
	return ticks
})
