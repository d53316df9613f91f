package main

import (
	"maps"
	"math"
	"slices"

	"github.com/miogo/mio/bench/internal/runresult"
)

// result is one run, as loadgen prints it.
type result = runresult.Result

// summary is the median and the range of one metric over the rounds.
type summary struct {
	Med, Min, Max float64
	N             int
}

func summarize(xs []float64) summary {
	var s summary
	s.N = len(xs)
	if s.N == 0 {
		s.Med, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN()
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	if mid := len(sorted) / 2; len(sorted)%2 == 1 {
		s.Med = sorted[mid]
	} else {
		s.Med = (sorted[mid-1] + sorted[mid]) / 2
	}
	return s
}

// cell is every run of one server under one workload, by round.
type cell struct {
	server, workload string
	runs             map[int]result // by round
	failed           int

	// In a paired run, ref holds, by round, the reference server's run
	// made at the same time as this cell's; isRef marks the reference's
	// own cell, whose runs of a round (one per pair) are all in more.
	ref   map[int]result
	isRef bool
	more  []result
}

func (c *cell) metric(f func(result) float64) summary {
	var xs []float64
	for _, r := range append(slices.Collect(maps.Values(c.runs)), c.more...) {
		if v := f(r); !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	return summarize(xs)
}

// rel is f of c's run in round as the ratios compare it: f itself in a
// sequential run; in a paired one, f relative to the reference's run made
// at the same time (1 for the reference itself), so that a ratio of two
// servers is the ratio of their ratios to the reference, each taken over
// the same seconds.
func (c *cell) rel(round int, f func(result) float64) (float64, bool) {
	r, ok := c.runs[round]
	switch {
	case !ok:
		return 0, false
	case c.isRef:
		return 1, true
	case c.ref == nil:
		return f(r), true
	}
	ref, ok := c.ref[round]
	if d := f(ref); ok && d > 0 {
		return f(r) / d, true
	}
	return 0, false
}

// ratio summarizes f(c)/f(base) over the rounds both ran in, so that a
// round disturbed for everyone cancels out (see rel for paired runs).
func ratio(c, base *cell, f func(result) float64) summary {
	var xs []float64
	if c == nil || base == nil {
		return summarize(nil)
	}
	for round := range c.runs {
		x, ok := c.rel(round, f)
		y, bok := base.rel(round, f)
		if ok && bok && y > 0 {
			xs = append(xs, x/y)
		}
	}
	return summarize(xs)
}
