package repro

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	"faultline/oops"
)

// Report is what a bug report says, as far as reproducing it goes.
type Report struct {
	// Crashes are the oopses in the text (a console log, a pasted oops).
	Crashes []*oops.Report `json:"-"`
	// Title and Signature are the first crash's; Signature is "" when it
	// matches no known bug.
	Title     string `json:"title"`
	Signature string `json:"signature,omitempty"`
	// Functions are the kernel functions the report names, most telling
	// first: the crash's stack (generic frames left out), the other stacks
	// (allocation, free, other CPUs), then those its prose names (f(),
	// ->f()), each once.
	Functions []string `json:"functions"`
	// Stack are those of Functions on the first crash's own stack: the
	// crashing task's side of the race; the others are the other side's
	// candidates.
	Stack []string `json:"stack"`
	// FS is the file system the functions point at ("ext4", "btrfs"), ""
	// when they point at none.
	FS string `json:"fs,omitempty"`
	// Trylock is set when the text says a trylock lost or failed.
	Trylock bool `json:"trylock"`
	// Columns is set when the prose lays the race out as CPU columns.
	Columns bool `json:"cpu_columns"`
	// Sides are the functions of each column of such a layout, left to
	// right (kept only where the columns' line breaks survived).
	Sides [][]string `json:"sides,omitempty"`
	// Release is a kernel release the text names ("6.1.0-47-cloud-amd64").
	Release string `json:"release,omitempty"`
	// Corruption is set when the prose says data was corrupted or lost
	// (checksum errors, data that was never written): with no crash in
	// the text, that is what to reproduce.
	Corruption bool `json:"corruption"`
	// prose is the text in lower case with '_' and '-' read as spaces,
	// for Says.
	prose string
	// names are the prose's other identifiers with an underscore
	// (find_extent_buffer written with no parentheses, as in a race laid
	// out in columns), in order: a kernel's symbols tell which are
	// functions.
	names []string
}

// Says returns those of words the report uses, each at the start of a
// word, case-insensitively, with '_' and '-' read as spaces ("extent
// buffer" is said by "extent_buffer").
func (r *Report) Says(words []string) []string {
	var out []string
	for _, w := range words {
		w = wordText(w)
		for i := 0; ; {
			k := strings.Index(r.prose[i:], w)
			if k < 0 {
				break
			}
			k += i
			if k == 0 || !isWordByte(r.prose[k-1]) {
				out = append(out, w)
				break
			}
			i = k + 1
		}
	}
	return out
}

func wordText(s string) string {
	return strings.NewReplacer("_", " ", "-", " ").Replace(strings.ToLower(s))
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

var (
	proseFuncRE = regexp.MustCompile(`(?:->|\b)([a-z_][a-z0-9_]{2,})\(\)?`)
	// chainLineRE is a line that is only a function's name (a call chain
	// written as a list: "cow_file_range", "f(chunkA)", "g <--- why").
	chainLineRE = regexp.MustCompile(`(?m)^[\s>|]*([a-z_][a-z0-9_]{3,})\s*(?:\([^()]*\))?;?\s*(?:(?:<-+|//|/\*).*)?$`)
	columnsRE   = regexp.MustCompile(`(?m)^[\s>]*(?:CPU ?[0-9A-Z]|Thread ?[0-9A-Z]|Task ?[0-9A-Z])\S*\s{3,}(?:CPU ?[0-9A-Z]|Thread ?[0-9A-Z]|Task ?[0-9A-Z])`)
	trylockRE   = regexp.MustCompile(`(?i)trylock\w*\s*\([^)]*\)\s*(?:fails?|failed|loses|lost)|trylock\w* (?:fails?|failed|loses|lost)|fails? (?:the|its|to) \w*\s*trylock`)
	corruptRE   = regexp.MustCompile(`(?i)\b(?:crc|csum|checksum)s? (?:errors?|failures?|failed|mismatch(?:es)?)|\bdata (?:corruption|loss)|\bcorrupt(?:s|ed|ion)? (?:data|files?|pages?|blocks?|the file)|\b(?:lost|losing) (?:data|writes?)|\bwithout ever writing|\bnever (?:gets? |got )?written`)
	frameRE     = regexp.MustCompile(`[A-Za-z0-9_.]+\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?`)
	identRE     = regexp.MustCompile(`\b[a-z_][a-z0-9_]{3,}\b`)
	releaseRE   = regexp.MustCompile(`\b(\d+\.\d+\.\d+-\d+-(?:cloud-)?amd64)\b`)
	// notFunctions are words of prose that look like calls.
	notFunctions = map[string]bool{"mmap": false, "open": false, "read": false, "write": false}
)

// Read reads a bug report: a console log, an oops pasted into an email or a
// discussion, a syzbot report. Its crashes are classified with sigs (may be
// nil).
func Read(text []byte, sigs *oops.Signatures) *Report {
	text = unflatten(text)
	r := &Report{Crashes: oops.Classify(text, sigs)}
	seen := map[string]bool{}
	onStack := false
	add := func(fn string) {
		if i := strings.IndexByte(fn, '.'); i > 0 {
			fn = fn[:i]
		}
		if fn == "" || seen[fn] || oops.Generic(fn) {
			return
		}
		seen[fn] = true
		r.Functions = append(r.Functions, fn)
		if onStack {
			r.Stack = append(r.Stack, fn)
		}
	}
	for i, c := range r.Crashes {
		onStack = i == 0
		if i == 0 {
			r.Title = c.Title
			if c.Signature != "new" {
				r.Signature = c.Signature
			}
		}
		if c.Frame != "" && c.Frame != "corrupted" {
			add(c.Frame)
		}
		for _, fn := range c.ReliableFrames() {
			if !plumbingRE.MatchString(fn) {
				add(fn)
			}
		}
	}
	onStack = false
	prose := moduleListRE.ReplaceAllString(string(text), "")
	for _, re := range []*regexp.Regexp{proseFuncRE, chainLineRE} {
		for _, m := range re.FindAllStringSubmatch(prose, -1) {
			if _, word := notFunctions[m[1]]; !word && strings.Contains(m[1], "_") {
				add(m[1])
			}
		}
	}
	r.FS = fsOf(r.Functions)
	r.Trylock = trylockRE.Match(text)
	r.Columns = columnsRE.Match(text)
	r.Sides = readColumns(string(text))
	for _, side := range r.Sides {
		for _, fn := range side {
			add(fn)
		}
	}
	r.Corruption = corruptRE.Match(text)
	r.prose = wordText(string(text))
	// Not from stack frames (func+0x1/0x2), whose reliable ones are read
	// above: the rest are the unreliable ones ("? f+0x...").
	for _, m := range identRE.FindAllString(frameRE.ReplaceAllString(prose, " "), -1) {
		if strings.Contains(m, "_") && !seen[m] && !slices.Contains(r.names, m) {
			r.names = append(r.names, m)
		}
	}
	if m := releaseRE.FindSubmatch(text); m != nil {
		r.Release = string(m[1])
	}
	return r
}

var (
	// An oops pasted into a mail that lost its line breaks: every frame,
	// and each part of the oops, starts a line again.
	flatFrameRE  = regexp.MustCompile(`\s+((?:\? )?[A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+)`)
	flatPartRE   = regexp.MustCompile(`\s+(Call Trace:|RIP: |RSP: |Code: |Modules linked in:|CPU: \d+ PID:|Workqueue: |Hardware name:|---\[ end trace|invalid opcode:|kernel BUG at |BUG: |WARNING: |general protection fault)`)
	moduleListRE = regexp.MustCompile(`(?m)^\s*Modules linked in:.*$`)
	// plumbingRE are the frames every stack ends in: how the task got to
	// run, not what it was doing.
	plumbingRE = regexp.MustCompile(`^(?:process_one_work|worker_thread|kthread|ret_from_fork|smpboot_thread_fn|do_syscall_64|do_syscall_x64|entry_SYSCALL\w*|_cond_resched|__cond_resched|schedule|__schedule|preempt_schedule\w*)$`)
)

// unflatten restores the line breaks of an oops whose lines were joined
// (a report pasted into a mail or a web form): any line over 500
// characters that holds stack frames is split before each frame and each
// part of the oops.
func unflatten(text []byte) []byte {
	lines := strings.Split(string(text), "\n")
	changed := false
	for i, l := range lines {
		if len(l) < 500 || !flatFrameRE.MatchString(l) {
			continue
		}
		l = flatPartRE.ReplaceAllString(l, "\n$1")
		lines[i] = flatFrameRE.ReplaceAllString(l, "\n $1")
		changed = true
	}
	if !changed {
		return text
	}
	return []byte(strings.Join(lines, "\n"))
}

// fsOf returns the file system most of fns belong to.
func fsOf(fns []string) string {
	n := map[string]int{}
	for _, fn := range fns {
		for _, fs := range []string{"ext4", "btrfs"} {
			if strings.HasPrefix(fn, fs+"_") || strings.HasPrefix(fn, "__"+fs+"_") {
				n[fs]++
			}
		}
	}
	var best string
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if best == "" || n[k] > n[best] {
			best = k
		}
	}
	return best
}

var (
	columnHeadRE = regexp.MustCompile(`(?:CPU ?|Thread ?|Task ?)[0-9A-Z]\w*`)
	columnFuncRE = regexp.MustCompile(`[a-z_][a-z0-9_]{3,}`)
)

// readColumns reads a race laid out as columns, one per CPU or task (a
// header such as "CPU0      CPU1", then each column's steps below its
// name): the functions of each column, left to right. A word belongs to
// the column whose header starts at or before it. The layout ends at two
// blank lines in a row, or a line of prose (over 60 characters with no run
// of 3 spaces). Nil when there is no such layout with functions in two
// columns.
func readColumns(text string) [][]string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !columnsRE.MatchString(l) {
			continue
		}
		heads := columnHeadRE.FindAllStringIndex(l, -1)
		if len(heads) < 2 {
			continue
		}
		sides := make([][]string, len(heads))
		seen := map[string]bool{}
		blank := 0
		for _, b := range lines[i+1:] {
			if strings.TrimLeft(b, " >|") == "" {
				if blank++; blank == 2 {
					break
				}
				continue
			}
			blank = 0
			if len(b) > 60 && !strings.Contains(strings.TrimLeft(b, " >|"), "   ") {
				break
			}
			for _, m := range columnFuncRE.FindAllStringIndex(b, -1) {
				w := b[m[0]:m[1]]
				if !strings.Contains(w, "_") || seen[w] || oops.Generic(w) {
					continue
				}
				col := 0
				for k, h := range heads {
					if m[0] >= h[0]-2 {
						col = k
					}
				}
				seen[w] = true
				sides[col] = append(sides[col], w)
			}
		}
		n := 0
		for _, sd := range sides {
			if len(sd) > 0 {
				n++
			}
		}
		if n >= 2 {
			return sides
		}
	}
	return nil
}
