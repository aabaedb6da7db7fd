package stats

import (
	"math"
	"sort"
)

// Bisection is the state of a noisy bisection over points 0..N: point 0
// (the good end) does not contain the culprit, point N (the bad end) does,
// and the culprit is the first point that does (1..N). At a point that
// contains it a run shows the target with an unknown rate p; elsewhere
// with a small false rate. The model keeps a posterior over the culprit
// and p (p on a grid), updated from the counts at every point.
type Bisection struct {
	// N is the number of candidate points (the culprit is in 1..N).
	N int
	// FalseRate is the chance that a run at a point without the culprit
	// shows the target anyway (a flaky reproduction, a mislabelled crash).
	FalseRate float64
	// Counts are the observations at each point 0..N.
	Counts []Counts
	// Skipped points cannot be tested (their kernel does not build): Next
	// never proposes them, and the culprit's posterior spreads over them
	// and the next testable point, as git bisect skip does.
	Skipped map[int]bool
	// grid, logP, log1P and logPrior: the rate p's grid, log p and
	// log(1-p) there, and p's prior.
	grid, logP, log1P, logPrior []float64
}

// NewBisection returns a bisection over points 0..n with the bad end's
// first runs counted at point n. The rate's prior is log-uniform from 0.5%
// to 100% (as likely to be 1-2% as 50-100%): a race's rate is often low,
// and a prior that expects high rates reads a few clean runs as proof.
// The bad end's runs inform the rate through the likelihood only.
func NewBisection(n int, badEnd Counts, falseRate float64) *Bisection {
	b := &Bisection{N: n, FalseRate: falseRate, Counts: make([]Counts, n+1)}
	const g = 48
	lo, hi := math.Log(0.005), math.Log(1.0)
	for i := 0; i < g; i++ {
		p := math.Exp(lo + (hi-lo)*(float64(i)+0.5)/g)
		b.grid = append(b.grid, p)
		b.logP = append(b.logP, math.Log(p))
		b.log1P = append(b.log1P, math.Log1p(-p))
		b.logPrior = append(b.logPrior, -math.Log(g)) // equal mass per grid cell: log-uniform
	}
	b.Counts[n] = badEnd
	return b
}

// Skip marks point i as untestable.
func (b *Bisection) Skip(i int) {
	if b.Skipped == nil {
		b.Skipped = map[int]bool{}
	}
	b.Skipped[i] = true
}

// Add records runs at point i.
func (b *Bisection) Add(i int, c Counts) {
	b.Counts[i].Runs += c.Runs
	b.Counts[i].Hits += c.Hits
}

// Posterior returns P(culprit = c) for c in 1..N (index 0 unused, 0).
func (b *Bisection) Posterior() []float64 {
	n := b.N
	// Points < c carry the false rate; points >= c the rate p.
	lf, lnf := math.Log(b.FalseRate), math.Log(1-b.FalseRate)
	// prefix[c] = log-likelihood of points 0..c-1 under the false rate.
	prefix := make([]float64, n+2)
	for i := 0; i <= n; i++ {
		c := b.Counts[i]
		prefix[i+1] = prefix[i] + float64(c.Hits)*lf + float64(c.Runs-c.Hits)*lnf
	}
	// Hits and misses at points c..N.
	hits, miss := make([]float64, n+2), make([]float64, n+2)
	for i := n; i >= 0; i-- {
		hits[i] = hits[i+1] + float64(b.Counts[i].Hits)
		miss[i] = miss[i+1] + float64(b.Counts[i].Runs-b.Counts[i].Hits)
	}
	logPost := make([]float64, n+1)
	logPost[0] = math.Inf(-1)
	terms := make([]float64, len(b.grid))
	for c := 1; c <= n; c++ {
		for j := range b.grid {
			terms[j] = b.logPrior[j] + hits[c]*b.logP[j] + miss[c]*b.log1P[j]
		}
		logPost[c] = prefix[c] + logSumExp(terms)
	}
	norm := logSumExp(logPost)
	post := make([]float64, n+1)
	for c := 1; c <= n; c++ {
		post[c] = math.Exp(logPost[c] - norm)
	}
	return post
}

// Rate returns the posterior mean of p: for each culprit c, the Beta mean
// of the runs at points c..N, weighted by c's posterior.
func (b *Bisection) Rate() float64 { return b.rate(b.Posterior()) }

func (b *Bisection) rate(post []float64) float64 {
	num, den := 0.0, 0.0
	var h, m float64
	for c := b.N; c >= 1; c-- {
		h += float64(b.Counts[c].Hits)
		m += float64(b.Counts[c].Runs - b.Counts[c].Hits)
		num += post[c] * (h + 1)
		den += post[c] * (h + m + 2)
	}
	if den == 0 {
		return 0.5
	}
	return num / den
}

// Leader returns the most probable culprit and the confidence in it: the
// smaller of its posterior and its posterior with the rate fixed at the
// rate's 2.5th percentile. The second guards a low rate: clean runs say
// less when the target shows seldom, and a rate estimated from a few hits
// is easily too high.
func (b *Bisection) Leader() (int, float64) {
	post := b.Posterior()
	best := argmax(post)
	low := b.fixedRatePosterior(b.rateQuantile(post, 0.025))
	return best, math.Min(post[best], low[best])
}

func argmax(post []float64) int {
	best := 1
	for c := 2; c < len(post); c++ {
		if post[c] > post[best] {
			best = c
		}
	}
	return best
}

// rateQuantile returns the q-quantile of the rate's posterior (on the
// grid), mixing over the culprit's posterior.
func (b *Bisection) rateQuantile(post []float64, q float64) float64 {
	w := make([]float64, len(b.grid))
	var h, m float64
	terms := make([]float64, len(b.grid))
	for c := b.N; c >= 1; c-- {
		h += float64(b.Counts[c].Hits)
		m += float64(b.Counts[c].Runs - b.Counts[c].Hits)
		if post[c] < 1e-6 {
			continue
		}
		for j := range b.grid {
			terms[j] = b.logPrior[j] + h*b.logP[j] + m*b.log1P[j]
		}
		norm := logSumExp(terms)
		for j := range b.grid {
			w[j] += post[c] * math.Exp(terms[j]-norm)
		}
	}
	total := 0.0
	for _, x := range w {
		total += x
	}
	acc := 0.0
	for j, x := range w {
		if acc += x; acc >= q*total {
			return b.grid[j]
		}
	}
	return b.grid[len(b.grid)-1]
}

// fixedRatePosterior is the culprit's posterior with the rate fixed at p.
func (b *Bisection) fixedRatePosterior(p float64) []float64 {
	lp, l1p := math.Log(p), math.Log1p(-p)
	lf, l1f := math.Log(b.FalseRate), math.Log1p(-b.FalseRate)
	logPost := make([]float64, b.N+1)
	logPost[0] = math.Inf(-1)
	// Start with every point at the rate p, then move points to the false
	// rate one by one as c grows.
	all := 0.0
	for i := 0; i <= b.N; i++ {
		c := b.Counts[i]
		all += float64(c.Hits)*lp + float64(c.Runs-c.Hits)*l1p
	}
	cur := all
	for c := 1; c <= b.N; c++ {
		k := b.Counts[c-1]
		cur += float64(k.Hits)*(lf-lp) + float64(k.Runs-k.Hits)*(l1f-l1p)
		logPost[c] = cur
	}
	norm := logSumExp(logPost)
	post := make([]float64, b.N+1)
	for c := 1; c <= b.N; c++ {
		post[c] = math.Exp(logPost[c] - norm)
	}
	return post
}

// CredibleSet returns the fewest candidates holding mass conf, most
// probable first.
func (b *Bisection) CredibleSet(conf float64) []int {
	post := b.Posterior()
	idx := make([]int, 0, b.N)
	for c := 1; c <= b.N; c++ {
		idx = append(idx, c)
	}
	sort.SliceStable(idx, func(i, j int) bool { return post[idx[i]] > post[idx[j]] })
	var out []int
	mass := 0.0
	for _, c := range idx {
		out = append(out, c)
		if mass += post[c]; mass >= conf {
			break
		}
	}
	return out
}

// entropy of a distribution (nats).
func entropy(p []float64) float64 {
	h := 0.0
	for _, x := range p {
		if x > 0 {
			h -= x * math.Log(x)
		}
	}
	return h
}

// Next returns the point to test next and how many runs to make there:
// the point that splits the culprit's posterior mass most evenly (P(culprit
// <= i) nearest one half), and the number of runs m that maximises the
// expected information per unit of cost, where a visit costs m runs plus
// visitCost (building or booting a new point, in runs).
//
// It returns point -1 when every point that would tell anything is
// skipped.
func (b *Bisection) Next(visitCost float64, maxRuns int) (point, runs int) {
	post := b.Posterior()
	best, bestGap := -1, 2.0
	cum := 0.0
	for i := 0; i < b.N; i++ {
		// Testing point i asks: is the culprit <= i?
		if i > 0 {
			cum += post[i]
		}
		if gap := math.Abs(cum - 0.5); i > 0 && !b.Skipped[i] && gap < bestGap && cum > 1e-9 && cum < 1-1e-9 {
			best, bestGap = i, gap
		}
	}
	if b.N == 1 {
		return 1, 1 // one candidate: only the verification is left
	}
	if best < 0 {
		return -1, 0
	}
	p := b.rate(post)
	h0 := entropy(post)
	bestM, bestRate := 1, -1.0
	for m := 1; m <= maxRuns; m++ {
		gain := h0 - b.expectedEntropy(post, p, best, m)
		if rate := gain / (float64(m) + visitCost); rate > bestRate {
			bestM, bestRate = m, rate
		}
	}
	return best, bestM
}

// expectedEntropy is the culprit posterior's expected entropy after m more
// runs at point i, over the predictive distribution of their hits. For
// planning, the rate is taken as its posterior mean p (the posterior
// itself integrates over it).
func (b *Bisection) expectedEntropy(post []float64, p float64, i, m int) float64 {
	lp, l1p := math.Log(p), math.Log(1-p)
	lf, l1f := math.Log(b.FalseRate), math.Log(1-b.FalseRate)
	upd := make([]float64, len(post))
	h := 0.0
	for k := 0; k <= m; k++ {
		in := math.Exp(float64(k)*lp + float64(m-k)*l1p)  // P(k hits | point i holds the culprit), without C(m,k)
		out := math.Exp(float64(k)*lf + float64(m-k)*l1f) // P(k hits | it does not)
		total := 0.0
		for c := 1; c <= b.N; c++ {
			l := out
			if c <= i {
				l = in
			}
			upd[c] = post[c] * l
			total += upd[c]
		}
		if total <= 0 {
			continue
		}
		for c := 1; c <= b.N; c++ {
			upd[c] /= total
		}
		pk := math.Exp(logChoose(m, k)) * total
		h += pk * entropy(upd[1:])
	}
	return h
}
