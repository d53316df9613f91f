package main

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsRoundTrip(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, 1<<62 + 1} {
		i := bucketOf(v)
		if i < prev || i >= len(histogram{}.counts) {
			t.Fatalf("bucketOf(%d) = %d after %d", v, i, prev)
		}
		prev = i
		mid := bucketMid(i)
		if diff := float64(mid-v) / float64(max(v, 1)); diff > 0.04 || diff < -0.04 {
			t.Errorf("bucketMid(bucketOf(%d)) = %d, %.1f%% off", v, mid, 100*diff)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var xs []int64
	for range 100000 {
		v := int64(rng.ExpFloat64() * 50000)
		xs = append(xs, v)
		h.add(v)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := xs[int(q*float64(len(xs)))]
		got := h.quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.04 || diff < -0.04 {
			t.Errorf("quantile(%v) = %d, want %d within 4%%", q, got, want)
		}
	}
}
