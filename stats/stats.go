// Package stats is the statistics under faultline's jobs: a race
// reproduces with some probability per run, so one clean run proves
// little. Bisection is a noisy binary search with a Bayesian model of the
// culprit and of the reproduction rate; the gate's comparisons are exact
// tests on crash counts. Nothing here runs anything: the jobs feed it
// counts and ask what to do next.
package stats

import "math"

// Counts are the observations at one point: runs that gave an answer about
// the target, and how many of them showed it. Runs that said nothing about
// it (boot failures, harness trouble, another crash) are not counted.
type Counts struct {
	Runs, Hits int
}

// logChoose is log C(n, k).
func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// logSumExp returns log(sum(exp(xs))).
func logSumExp(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range xs {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// RunsToSee returns the fewest runs that show at least once, with
// probability conf, a crash that reproduces with probability p per run.
func RunsToSee(p, conf float64) int {
	if p <= 0 || conf <= 0 {
		return 0
	}
	if p >= 1 {
		return 1
	}
	return int(math.Ceil(math.Log(1-conf) / math.Log(1-p)))
}

// FisherGreater is the one-sided p-value of Fisher's exact test that the
// rate behind a (hits of runs) is greater than the rate behind b: the
// chance of a hits or more in a among all a+b hits if both had one rate.
func FisherGreater(a, b Counts) float64 {
	n1, n2 := a.Runs, b.Runs
	k := a.Hits + b.Hits
	n := n1 + n2
	if n == 0 || k == 0 {
		return 1
	}
	var terms []float64
	for x := a.Hits; x <= min(k, n1); x++ {
		if k-x > n2 {
			continue
		}
		terms = append(terms, logChoose(n1, x)+logChoose(n2, k-x)-logChoose(n, k))
	}
	return math.Min(1, math.Exp(logSumExp(terms)))
}
