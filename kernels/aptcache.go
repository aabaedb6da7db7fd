package kernels

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// aptMaxAge is how long an answer of apt's is reused without asking again
// (unless the apt lists changed before that).
const aptMaxAge = 24 * time.Hour

// aptListsDir is where apt keeps the package lists; its modification time
// changes when apt-get update brings new lists.
var aptListsDir = "/var/lib/apt/lists"

// CachedApt answers package-name and candidate-version questions from a
// file in faultline's cache, asking the wrapped Apt (about 0.7 s per
// question on a Debian host) only when the answer is missing, older than a
// day, or older than the apt lists. Downloads always go to the wrapped Apt.
type CachedApt struct {
	// Apt answers what the cache does not hold.
	Apt Apt
	// Path is the cache file.
	Path string
	// Refresh, when set, ignores the cached answers (and replaces them).
	Refresh bool

	mu sync.Mutex
}

type aptAnswers struct {
	Names    map[string]aptAnswer `json:"names"`
	Versions map[string]aptAnswer `json:"versions"`
}

type aptAnswer struct {
	At     time.Time `json:"at"`
	Names  []string  `json:"names,omitempty"`
	String string    `json:"value,omitempty"`
}

// fresh reports whether an answer given at t may still be used.
func (c *CachedApt) fresh(t time.Time) bool {
	if c.Refresh || time.Since(t) > aptMaxAge || time.Until(t) > time.Minute {
		return false
	}
	if st, err := os.Stat(aptListsDir); err == nil && st.ModTime().After(t) {
		return false
	}
	return true
}

func (c *CachedApt) load() aptAnswers {
	var a aptAnswers
	if b, err := os.ReadFile(c.Path); err == nil {
		_ = json.Unmarshal(b, &a) // a damaged cache is an empty one
	}
	if a.Names == nil {
		a.Names = map[string]aptAnswer{}
	}
	if a.Versions == nil {
		a.Versions = map[string]aptAnswer{}
	}
	return a
}

// save writes the answers atomically; a cache that cannot be written only
// costs the next start a question to apt.
func (c *CachedApt) save(a aptAnswers) {
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o755); err != nil {
		return
	}
	tmp := c.Path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, c.Path)
	}
}

// PackageNames returns the cached answer or asks apt.
func (c *CachedApt) PackageNames(prefix string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.load()
	if ans, ok := a.Names[prefix]; ok && c.fresh(ans.At) {
		return ans.Names, nil
	}
	now := time.Now()
	names, err := c.Apt.PackageNames(prefix)
	if err != nil {
		return nil, err
	}
	a.Names[prefix] = aptAnswer{At: now, Names: names}
	c.save(a)
	return names, nil
}

// CandidateVersion returns the cached answer or asks apt.
func (c *CachedApt) CandidateVersion(pkg string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.load()
	if ans, ok := a.Versions[pkg]; ok && c.fresh(ans.At) {
		return ans.String, nil
	}
	now := time.Now()
	v, err := c.Apt.CandidateVersion(pkg)
	if err != nil {
		return "", err
	}
	a.Versions[pkg] = aptAnswer{At: now, String: v}
	c.save(a)
	return v, nil
}

// Download asks the wrapped Apt.
func (c *CachedApt) Download(pkg, dir string) (string, error) { return c.Apt.Download(pkg, dir) }
