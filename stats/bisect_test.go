package stats

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// sim is a simulated runner: the culprit is point Culprit; a run at a point
// that contains it shows the target with probability P, elsewhere with
// probability Noise; a run fails to boot (says nothing) with probability
// Boot.
type sim struct {
	Culprit        int
	P, Noise, Boot float64
	rng            *rand.Rand
	runs           int
}

func (s *sim) run(point, m int) Counts {
	var c Counts
	for range m {
		s.runs++
		if s.rng.Float64() < s.Boot {
			continue // no observation
		}
		c.Runs++
		rate := s.Noise
		if point >= s.Culprit {
			rate = s.P
		}
		if s.rng.Float64() < rate {
			c.Hits++
		}
	}
	return c
}

// answer is a bisection's result: the culprit named (0: none) and whether
// it was conclusive.
type answer struct {
	culprit    int
	conclusive bool
}

// bayes bisects with the model: the bad end first (until 5 hits or 10
// runs), then Next until the leader holds conf, then verification (the
// culprit must show the target 3 times).
func bayes(s *sim, n int, conf float64, budget int) answer {
	var bad Counts
	for bad.Hits < 5 && bad.Runs < 10 && s.runs < budget {
		c := s.run(n, 1)
		bad.Runs += c.Runs
		bad.Hits += c.Hits
	}
	if bad.Hits == 0 {
		return answer{} // the bad end does not reproduce: said, not guessed
	}
	b := NewBisection(n, bad, 0.01)
	for s.runs < budget {
		lead, pr := b.Leader()
		if pr >= conf {
			// Verify: at least 3 hits at the culprit.
			v := b.Counts[lead]
			for v.Hits < 3 && s.runs < budget {
				c := s.run(lead, 1)
				v.Runs += c.Runs
				v.Hits += c.Hits
				b.Add(lead, c)
			}
			if v.Hits >= 3 {
				if l2, p2 := b.Leader(); l2 == lead && p2 >= conf {
					return answer{lead, true}
				}
			}
			continue
		}
		point, m := b.Next(1, 8)
		b.Add(point, s.run(point, m))
	}
	lead, _ := b.Leader()
	return answer{lead, false}
}

// classical is the rule the model is compared with: binary search, 10 runs
// a step, one crash means bad.
func classical(s *sim, n int) answer {
	lo, hi := 0, n
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if s.run(mid, 10).Hits > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return answer{hi, true}
}

// TestBisectionSimulated: over simulated bisections of 32 points (a random
// culprit; noise crashes at 1% of runs elsewhere; 5% of runs fail to boot),
// the model names the true culprit at least as often as its stated
// confidence, for p = 1.0, 0.5, 0.3 and 0.1; it prints the mean runs next
// to the classical rule on the same simulations.
func TestBisectionSimulated(t *testing.T) {
	trials := 1000
	if testing.Short() {
		trials = 150
	}
	const n, conf, budget = 32, 0.95, 400
	for _, p := range []float64{1.0, 0.5, 0.3, 0.1} {
		var right, conclusive, runs, cRight, cRuns int
		for i := range trials {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(p*1000)))
			culprit := 1 + rng.IntN(n)
			s := &sim{Culprit: culprit, P: p, Noise: 0.01, Boot: 0.05, rng: rng}
			a := bayes(s, n, conf, budget)
			runs += s.runs
			if a.conclusive {
				conclusive++
				if a.culprit == culprit {
					right++
				}
			}
			cs := &sim{Culprit: culprit, P: p, Noise: 0.01, Boot: 0.05, rng: rand.New(rand.NewPCG(uint64(i), 7))}
			if classical(cs, n).culprit == culprit {
				cRight++
			}
			cRuns += cs.runs
		}
		acc := float64(right) / float64(max(conclusive, 1))
		line := fmt.Sprintf("p=%.1f: model %d/%d conclusive, %.1f%% of them right, %.1f runs per bisection; classical (10 runs a step, one crash = bad) %.1f%% right, %.1f runs",
			p, conclusive, trials, 100*acc, float64(runs)/float64(trials), 100*float64(cRight)/float64(trials), float64(cRuns)/float64(trials))
		t.Log(line)
		fmt.Println(line)
		if conclusive > 0 && acc < conf {
			t.Errorf("p=%.1f: %.1f%% right at a stated %.0f%%", p, 100*acc, 100*conf)
		}
		if p >= 0.3 && conclusive < trials*8/10 {
			t.Errorf("p=%.1f: only %d of %d conclusive", p, conclusive, trials)
		}
	}
}
