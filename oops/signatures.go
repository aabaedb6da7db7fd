package oops

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed signatures/*.yaml
var builtinSignatures embed.FS

// NewSignature is the signature of a report that matches no known bug.
const NewSignature = "new"

// ErrBadSignature is returned for a signature file that does not parse or
// validate; the message names the file and line.
var ErrBadSignature = errors.New("bad signature")

// Signature is a known bug: how to recognise its reports.
type Signature struct {
	ID          string    `yaml:"id" json:"id"`
	Description string    `yaml:"description" json:"description"`
	Fix         string    `yaml:"fix" json:"fix,omitempty"`
	FixedIn     string    `yaml:"fixed_in" json:"fixed_in,omitempty"`
	Links       []string  `yaml:"links" json:"links,omitempty"`
	Affected    string    `yaml:"affected" json:"affected,omitempty"`
	Matchers    []Matcher `yaml:"matchers" json:"matchers"`
	// File is where the signature was read from.
	File string `yaml:"-" json:"file"`
}

// Matcher is one way a signature shows. All fields that are set must match.
// A matcher with Line alone finds symptoms that are not oopses (checksum
// errors, lost-data warnings) in the console log.
type Matcher struct {
	// Title is a regexp on the report title.
	Title string `yaml:"title" json:"title,omitempty"`
	// Frames are regexps that must each match some function in the
	// report's stack.
	Frames []string `yaml:"frames" json:"frames,omitempty"`
	// Line is a regexp on a console line (inside the report, or anywhere
	// in the log for a symptom matcher).
	Line string `yaml:"line" json:"line,omitempty"`
	// Symptom is the title given to a report made from a Line match
	// outside any oops.
	Symptom string `yaml:"symptom" json:"symptom,omitempty"`

	title  *regexp.Regexp
	frames []*regexp.Regexp
	line   *regexp.Regexp
}

// Signatures is a set of known bugs.
type Signatures struct {
	List []*Signature
}

// LoadSignatures returns the built-in signatures plus those in the *.yaml
// files of dirs. A later signature with the same id replaces an earlier one.
func LoadSignatures(dirs ...string) (*Signatures, error) {
	s := &Signatures{}
	ents, _ := fs.Glob(builtinSignatures, "signatures/*.yaml")
	for _, e := range ents {
		b, _ := builtinSignatures.ReadFile(e)
		if err := s.add("builtin:"+e, b); err != nil {
			return nil, err
		}
	}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("signatures in %s: %w", d, err)
		}
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("signatures: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("signatures: %w", err)
			}
			if err := s.add(f, b); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Signatures) add(file string, b []byte) error {
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadSignature, file, err)
	}
	var sig Signature
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&sig); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadSignature, file, err)
	}
	sig.File = file
	lineOf := func(key string) int { return findKeyLine(&node, key) }
	if sig.ID == "" {
		return fmt.Errorf("%w: %s: missing id", ErrBadSignature, file)
	}
	if len(sig.Matchers) == 0 {
		return fmt.Errorf("%w: %s:%d: signature %s has no matchers", ErrBadSignature, file, lineOf("id"), sig.ID)
	}
	for i := range sig.Matchers {
		m := &sig.Matchers[i]
		compile := func(what, expr string) (*regexp.Regexp, error) {
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%w: %s:%d: %s matcher %d: bad %s regexp: %v", ErrBadSignature, file, lineOf("matchers"), sig.ID, i+1, what, err)
			}
			return re, nil
		}
		var err error
		if m.Title == "" && m.Line == "" && len(m.Frames) == 0 {
			return fmt.Errorf("%w: %s:%d: %s matcher %d matches nothing: set title, frames or line", ErrBadSignature, file, lineOf("matchers"), sig.ID, i+1)
		}
		if m.Title != "" {
			if m.title, err = compile("title", m.Title); err != nil {
				return err
			}
		}
		for _, f := range m.Frames {
			re, err := compile("frames", f)
			if err != nil {
				return err
			}
			m.frames = append(m.frames, re)
		}
		if m.Line != "" {
			if m.line, err = compile("line", m.Line); err != nil {
				return err
			}
		}
	}
	for i, old := range s.List {
		if old.ID == sig.ID {
			s.List[i] = &sig
			return nil
		}
	}
	s.List = append(s.List, &sig)
	return nil
}

func findKeyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	for _, c := range n.Content {
		if l := findKeyLine(c, key); l > 0 {
			return l
		}
	}
	return 0
}

// matchReport returns the id of the first signature that matches r.
func (s *Signatures) matchReport(r *Report) string {
	frames := r.frames
	for _, sig := range s.List {
		for i := range sig.Matchers {
			if sig.Matchers[i].matches(r, frames) {
				return sig.ID
			}
		}
	}
	return NewSignature
}

func (m *Matcher) matches(r *Report, frames []string) bool {
	if m.title == nil && len(m.frames) == 0 && m.line != nil && m.Symptom != "" && r.Type != "SYMPTOM" {
		// A pure symptom matcher also matches an oops report that
		// contains its line.
		return m.line.MatchString(r.Report)
	}
	if m.title != nil && !m.title.MatchString(r.Title) {
		return false
	}
	for _, fre := range m.frames {
		found := false
		for _, f := range frames {
			if fre.MatchString(f) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if m.line != nil && !m.line.MatchString(r.Report) {
		return false
	}
	return true
}

// Classify parses log into reports, adds a report for each symptom line (a
// signature's line matcher) outside the oopses, and gives every report its
// signature or "new". Reports are in log order.
func Classify(log []byte, sigs *Signatures) []*Report {
	reps := Parse(log)
	if sigs == nil {
		return reps
	}
	inReport := func(n int) bool {
		for _, r := range reps {
			if n >= r.StartLine && n <= r.EndLine {
				return true
			}
		}
		return false
	}
	var symptoms []*Report
	seen := map[string]bool{}
	for _, l := range splitLines(log) {
		for _, sig := range sigs.List {
			for _, m := range sig.Matchers {
				if m.line == nil || m.Symptom == "" || m.title != nil || !m.line.MatchString(l.text) || inReport(l.num) {
					continue
				}
				// One symptom report per signature: a flood of the same
				// warning is one finding.
				if seen[sig.ID] {
					continue
				}
				seen[sig.ID] = true
				symptoms = append(symptoms, &Report{
					Title: m.Symptom, AltTitles: []string{}, Type: "SYMPTOM", Signature: sig.ID,
					StartLine: l.num, EndLine: l.num, Report: l.raw + "\n",
				})
			}
		}
	}
	for _, r := range reps {
		r.Signature = sigs.matchReport(r)
	}
	reps = append(reps, symptoms...)
	sort.SliceStable(reps, func(i, j int) bool { return reps[i].StartLine < reps[j].StartLine })
	return reps
}

// IDs returns the signatures' ids, in order.
func (s *Signatures) IDs() []string {
	var ids []string
	for _, sig := range s.List {
		ids = append(ids, sig.ID)
	}
	return ids
}
