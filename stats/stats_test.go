package stats

import (
	"math"
	"testing"
)

func TestRunsToSee(t *testing.T) {
	for _, c := range []struct {
		p, conf float64
		want    int
	}{
		{0.3, 0.95, 9}, // 1-0.7^9 = 0.960; 0.7^8 leaves 0.058
		{0.5, 0.95, 5},
		{1, 0.95, 1},
		{0.1, 0.95, 29},
		{0, 0.95, 0},
	} {
		if got := RunsToSee(c.p, c.conf); got != c.want {
			t.Errorf("RunsToSee(%v, %v) = %d, want %d", c.p, c.conf, got, c.want)
		}
	}
}

func TestFisherGreater(t *testing.T) {
	for _, c := range []struct {
		a, b Counts
		want float64
	}{
		{Counts{9, 3}, Counts{9, 0}, 0.1029}, // 3/9 vs 0/9: C(9,3)/C(18,3)
		{Counts{10, 5}, Counts{10, 0}, 0.0163},
		{Counts{10, 0}, Counts{10, 5}, 1},
		{Counts{10, 5}, Counts{10, 5}, 0.6719},
		{Counts{0, 0}, Counts{0, 0}, 1},
	} {
		if got := FisherGreater(c.a, c.b); math.Abs(got-c.want) > 0.0005 {
			t.Errorf("FisherGreater(%v, %v) = %.4f, want %.4f", c.a, c.b, got, c.want)
		}
	}
}

func TestPosteriorFollowsEvidence(t *testing.T) {
	b := NewBisection(8, Counts{Runs: 5, Hits: 5}, 0.01)
	b.Add(4, Counts{Runs: 5, Hits: 5}) // 4 has it
	b.Add(3, Counts{Runs: 10})         // 3 does not
	if c, p := b.Leader(); c != 4 || p < 0.95 {
		t.Errorf("leader %d at %.3f, want 4 at >= 0.95", c, p)
	}
	if set := b.CredibleSet(0.95); len(set) != 1 || set[0] != 4 {
		t.Errorf("credible set %v", set)
	}
	// One clean run at 3 says little when the target shows 1 run in 10.
	b = NewBisection(8, Counts{Runs: 10, Hits: 1}, 0.01)
	b.Add(4, Counts{Runs: 10, Hits: 1})
	b.Add(3, Counts{Runs: 1})
	if _, p := b.Leader(); p >= 0.95 {
		t.Errorf("leader confidence %.3f from one clean run at a 10%% rate", p)
	}
	if point, runs := b.Next(1, 8); point < 1 || point > 7 || runs < 1 {
		t.Errorf("next %d x %d", point, runs)
	}
}
