package oops

import (
	"bytes"
	"slices"
	"strings"
)

// Report is one crash found in a console log.
type Report struct {
	// Title follows the syzbot convention ("KASAN: use-after-free Read in
	// f", "WARNING in f", "INFO: task hung in f"); "corrupted" stands for
	// the frame when none can be trusted.
	Title string `json:"title"`
	// AltTitles are other titles the same bug may be reported under.
	AltTitles []string `json:"alt_titles"`
	// Type is the bug class (WARNING, HANG, LOCKDEP, KASAN-READ, ...).
	Type string `json:"type"`
	// Frame is the guilty function, or "corrupted".
	Frame string `json:"frame"`
	// Corrupted tells that the report cannot be trusted: no usable stack,
	// or interleaved and truncated text; CorruptedReason says why.
	Corrupted       bool   `json:"corrupted"`
	CorruptedReason string `json:"corrupted_reason"`
	// Signature is the id of the known bug the report matches, or "new".
	Signature string `json:"signature"`
	// StartLine and EndLine are the 1-based first and last log lines of
	// the report.
	StartLine int `json:"start_line"`
	EndLine   int `json:"end_line"`
	// Report is the report's text, printk prefixes kept.
	Report string `json:"report"`

	lines   []line   // the report's lines, while it is being described
	skip    *lazyRE  // the kind's own generic frames, besides skipFrameRE
	frames  []string // every stack function in the report, for signatures
	trusted []string // those not marked unreliable ("? f+0x1/0x2")
}

// maxReportLines bounds a report whose end is not marked.
const maxReportLines = 800

// Frames returns the functions of every stack frame in the report, in
// order.
func (r *Report) Frames() []string { return r.frames }

// ReliableFrames returns the functions of the stack frames not marked
// unreliable ("? f+0x1/0x2"), in order.
func (r *Report) ReliableFrames() []string { return r.trusted }

// endRE matches lines that end a report (kept in it).
var endRE = lazy(`---\[ end trace|---\[ end Kernel panic|Kernel Offset: |Rebooting in \d+ seconds`)

// isEnd reports whether t ends a report, testing the cheap strings first.
func isEnd(t string) bool {
	return (strings.Contains(t, "---[ end") || strings.Contains(t, "Kernel Offset: ") || strings.Contains(t, "Rebooting in ")) &&
		endRE.MatchString(t)
}

// Parse returns the crash reports in a console log, in log order.
func Parse(log []byte) []*Report {
	all := splitLines(log)
	hc := newHeaderCache(len(all))
	used := make([]bool, len(all))
	// byCtx lists, per caller id, the indexes of its lines, in order.
	byCtx := map[string][]int{}
	for j, l := range all {
		if l.ctx != "" {
			byCtx[l.ctx] = append(byCtx[l.ctx], j)
		}
	}
	var reports []*Report
	for i := 0; i < len(all); {
		if used[i] {
			i++
			continue
		}
		k, m := hc.find(all[i])
		if k == nil || !k.confirmed(all, i) {
			i++
			continue
		}
		// With caller ids (CONFIG_PRINTK_CALLER), a report is the lines of
		// its own task or CPU: other tasks' lines interleaved with it,
		// reports included, are left for their own reports. Once the report
		// asks the other CPUs for their stacks ("Sending NMI from CPU"),
		// what every CPU prints belongs to it too.
		lines, idx := all[i:], []int(nil)
		if ctx := all[i].ctx; ctx != "" {
			lines = nil
			same := byCtx[ctx]
			k, _ := slices.BinarySearch(same, i)
			nmi := -1
			for _, j := range same[k:] {
				if len(lines) > maxReportLines {
					break // reportEnd looks no further
				}
				if !used[j] {
					lines = append(lines, all[j])
					idx = append(idx, j)
					if strings.Contains(all[j].text, "Sending NMI from CPU") {
						nmi = j
						break
					}
				}
			}
			for j := nmi + 1; nmi >= 0 && j < len(all) && j-nmi <= 4*maxReportLines && len(lines) <= maxReportLines; j++ {
				if c := all[j].ctx; !used[j] && (c == ctx || strings.HasPrefix(c, "C")) {
					lines = append(lines, all[j])
					idx = append(idx, j)
				}
			}
		}
		end := hc.reportEnd(lines, 0, k)
		if idx == nil {
			for j := i; j <= i+end; j++ {
				used[j] = true
			}
		} else {
			for _, j := range idx[:end+1] {
				used[j] = true
			}
		}
		// Without caller ids, a message that prints a stack of its own (an
		// allocation failure, an injected fault) inside the report makes
		// the stack after it someone else's: the report is described
		// from the lines before it.
		described := end
		if idx == nil {
			for j := 1; j <= end; j++ {
				if infoWithStack(lines[j].text) {
					described = j - 1
					break
				}
			}
		}
		r := &Report{StartLine: lines[0].num, EndLine: lines[end].num, lines: lines[:described+1]}
		k.describe(r, m)
		if !r.Corrupted && !k.noStack && !noStackTitleRE.MatchString(r.Title) {
			// With caller ids, the task's own lines after the report still
			// tell whether it printed a stack (a BUG line whose stack is
			// that of the WARNING it raised).
			check := r.lines
			if idx != nil {
				check = lines
			}
			if why := stackProblem(check); why != "" {
				r.Corrupted, r.CorruptedReason = true, why
			}
		}
		r.lines = lines[:end+1]
		for _, l := range r.lines {
			if f, ok := parseFrame(l.text); ok {
				r.frames = append(r.frames, f.fn)
				if f.reliable {
					r.trusted = append(r.trusted, f.fn)
				}
			}
		}
		var sb strings.Builder
		for _, l := range r.lines {
			sb.WriteString(l.raw)
			sb.WriteByte('\n')
		}
		r.Report = sb.String()
		r.lines = nil
		if r.AltTitles == nil {
			r.AltTitles = []string{}
		}
		reports = append(reports, r)
		i++
	}
	// GCE's serial console prints this when its connection drops, often
	// right after a panic: what the log holds of any report may be cut, so
	// syzbot marks them all corrupted.
	if bytes.Contains(log, consoleHangup) {
		for _, r := range reports {
			if !r.Corrupted {
				r.Corrupted, r.CorruptedReason = true, "the console connection dropped (serialport: VM disconnected.)"
			}
		}
	}
	return reports
}

// consoleHangup is the line GCE's serial console prints when it loses the
// VM.
var consoleHangup = []byte("serialport: VM disconnected.")

// reportEnd returns the index of the last line of the report starting at
// start: the line before the next report, an end marker, or the cap. A panic
// that the oops caused stays in the same report.
func (hc *headerCache) reportEnd(lines []line, start int, cur *oopsKind) int {
	limit := min(len(lines)-1, start+maxReportLines)
	for j := start + 1; j <= limit; j++ {
		t := lines[j].text
		if k, _ := hc.find(lines[j]); k != nil && !k.continuation && k.confirmed(lines, j) {
			if cur.absorbs != nil && j-start <= 8 && cur.absorbs.MatchString(t) {
				continue
			}
			if cur.stackFollows != nil && j-start <= 12 && cur.stackFollows.MatchString(lines[start].text) && !hasFrame(lines[start+1:j]) {
				continue
			}
			return j - 1
		}
		if isEnd(t) {
			if hc.panicFollows(lines, j, limit) {
				continue
			}
			return j
		}
	}
	return limit
}

// infoWithStack reports whether t is a message that is not a bug but
// prints a stack of its own (an allocation failure, an injected fault).
func infoWithStack(t string) bool {
	return strings.Contains(t, "vmalloc: allocation failure:") || strings.Contains(t, "FAULT_INJECTION: forcing a failure") ||
		strings.Contains(t, "FAULT_FLAG_ALLOW_RETRY missing")
}

// hasFrame reports whether some line is a stack frame.
func hasFrame(lines []line) bool {
	for _, l := range lines {
		if _, ok := parseFrame(l.text); ok {
			return true
		}
	}
	return false
}

// panicFollows reports whether the "Kernel panic - not syncing" that an oops
// caused comes within a few lines after its end marker (6.x x86 re-prints
// RIP and registers between "---[ end trace" and the panic line), before any
// other report starts.
func (hc *headerCache) panicFollows(lines []line, end, limit int) bool {
	for k := end + 1; k <= min(limit, end+24); k++ {
		t := lines[k].text
		if strings.Contains(t, "Kernel panic - not syncing") {
			return true
		}
		if h, _ := hc.find(lines[k]); h != nil && !h.continuation {
			return false
		}
	}
	return false
}

// headerCache remembers findHeader's answer for each line of a log: the
// scan for a report's end looks at the same lines again for every report.
type headerCache struct {
	kinds []*oopsKind
	ms    [][]string
	done  []bool
}

func newHeaderCache(n int) *headerCache {
	return &headerCache{kinds: make([]*oopsKind, n), ms: make([][]string, n), done: make([]bool, n)}
}

// find returns findHeader's answer for l.
func (hc *headerCache) find(l line) (*oopsKind, []string) {
	i := l.num - 1
	if !hc.done[i] {
		hc.kinds[i], hc.ms[i] = findHeader(l.text)
		hc.done[i] = true
	}
	return hc.kinds[i], hc.ms[i]
}

// findHeader returns the oops kind whose header line t is, if any.
func findHeader(t string) (*oopsKind, []string) {
	for _, k := range kinds {
		if !containsNeedle(t, k.needle) {
			continue
		}
		m := k.header.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		suppressed := false
		for _, s := range k.suppress {
			if s.MatchString(t) {
				suppressed = true
				break
			}
		}
		if suppressed {
			continue
		}
		return k, m
	}
	return nil, nil
}

// containsNeedle reports whether t contains needle or, for "a|b", one of
// its alternatives.
func containsNeedle(t, needle string) bool {
	for {
		alt, rest, more := strings.Cut(needle, "|")
		if strings.Contains(t, alt) {
			return true
		}
		if !more {
			return false
		}
		needle = rest
	}
}

// confirmed reports whether the header at lines[i] is a real report: some
// kinds need a line that follows.
func (k *oopsKind) confirmed(lines []line, i int) bool {
	if k.needs == nil {
		return true
	}
	within := k.needsWithin
	if within == 0 {
		within = 5
	}
	for j := i + 1; j < len(lines) && j <= i+within; j++ {
		if k.needs.MatchString(lines[j].text) {
			return true
		}
	}
	return false
}

// stackKeywords start a stack trace in a report, one pattern per kind of
// stack (riscv's show_regs ends with its status line and the frames follow
// with no header).
var stackKeywords = []*lazyRE{
	lazy(`Call (?:T|t)race`),
	lazy(`Allocated:`),
	lazy(`Allocated by task \d+:`),
	lazy(`Freed:`),
	lazy(`Freed by task \d+:`),
	lazy(`[^k] backtrace(?: \(crc [0-9a-f]*\))?:`),
	lazy(`Backtrace:`),
	lazy(`Uninit was stored to memory at`),
	lazy(`status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}`),
}

// mayStartStack is a cheap test that t could match a stack keyword.
func mayStartStack(t string) bool {
	return strings.Contains(t, "race") || strings.Contains(t, "Allocated") || strings.Contains(t, "Freed") ||
		strings.Contains(t, "acktrace") || strings.Contains(t, "Uninit") || strings.Contains(t, "badaddr")
}

// isStackKeyword reports whether t starts a stack trace.
func isStackKeyword(t string) bool {
	if !mayStartStack(t) {
		return false
	}
	for _, k := range stackKeywords {
		if k.MatchString(t) {
			return true
		}
	}
	return false
}

// noStackTitleRE are reports whose message is the whole report: lockdep's
// check on the way back to user space, workqueue watchdogs.
var noStackTitleRE = lazy(`lock held when returning to user space|workqueue lockup|workqueue leaked lock`)

// stackProblem says why a report's stack cannot be trusted, or "": a
// report of a kind that prints a stack must have one, and the first stack
// of each kind it starts (the report's own, where the object was allocated,
// where it was freed) must hold a frame within its first lines (a report
// cut short, or broken by other output, loses them).
func stackProblem(lines []line) string {
	found := false
	first := make([]int, len(stackKeywords)) // each kind's first line, +1
	for j, l := range lines {
		if !mayStartStack(l.text) {
			continue
		}
		found = found || strings.Contains(l.text, "backtrace") // "stack backtrace:" too: a stack, though not one checked below
		for k, re := range stackKeywords {
			if first[k] == 0 && re.MatchString(l.text) {
				first[k], found = j+1, true
			}
		}
	}
	if !found {
		return "no stack trace in report"
	}
	for _, f := range first {
		if f == 0 {
			continue
		}
		i := f - 1
		if len(lines)-i < 4 {
			return "call trace is missed"
		}
		ok := false
		for j := i + 1; j < len(lines) && j <= i+15; j++ {
			t := lines[j].text
			if isStackKeyword(t) {
				break
			}
			if _, isFrame := parseFrame(t); isFrame || strings.Contains(t, "(stack is not available)") {
				ok = true
				break
			}
		}
		if !ok {
			return "no frames in a stack trace"
		}
	}
	return ""
}
