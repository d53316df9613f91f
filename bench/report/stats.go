package main

import (
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
}

func (c *cell) metric(f func(result) float64) summary {
	var xs []float64
	for _, r := range c.runs {
		if v := f(r); !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	return summarize(xs)
}

// ratio summarizes f(c)/f(base) over the rounds both ran in, so that a
// round disturbed for everyone cancels out.
func ratio(c, base *cell, f func(result) float64) summary {
	var xs []float64
	if c == nil || base == nil {
		return summarize(nil)
	}
	for round, r := range c.runs {
		b, ok := base.runs[round]
		if !ok {
			continue
		}
		if d := f(b); d > 0 {
			xs = append(xs, f(r)/d)
		}
	}
	return summarize(xs)
}
