package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// KCIDBOrigin names faultline as the submitting CI system in KCIDB data.
const KCIDBOrigin = "faultline"

// KCIDB returns the gate's result as KernelCI's KCIDB I/O data, schema
// v5.0: the checkout (base plus the series: patch files, patchset hash,
// valid unless a patch does not apply), a build per kernel, a test per case
// and kernel, an issue per signature seen and an incident per signature and
// test where it occurred. Local files are named with file:// URLs.
func (r *Result) KCIDB(now time.Time) map[string]any {
	id := func(parts ...string) string {
		return KCIDBOrigin + ":" + idRE.ReplaceAllString(strings.Join(parts, "-"), "_")
	}
	ts := now.UTC().Format(time.RFC3339)
	var files []map[string]string
	var hashes strings.Builder
	for _, p := range r.Series.Patches {
		files = append(files, map[string]string{"name": p.Name, "url": "file://" + filepath.Join(r.Out, "series", p.Name)})
		sum := sha256.Sum256(p.Content)
		hashes.WriteString(hex.EncodeToString(sum[:]) + "\n")
	}
	psum := sha256.Sum256([]byte(hashes.String()))
	checkoutID := id("checkout", r.Base.Name, r.Series.Hash)
	checkout := map[string]any{
		"id": checkoutID, "origin": KCIDBOrigin, "tree_name": r.Base.Name, "start_time": ts,
		"patchset_files": files, "patchset_hash": hex.EncodeToString(psum[:]), "valid": r.Status != StatusApplyFailed,
		"comment": fmt.Sprintf("%s + %d patches from %s", r.Base.Name, len(r.Series.Patches), r.Series.Source),
	}
	if r.Apply != nil {
		var b strings.Builder
		for _, f := range r.Apply.Failed {
			fmt.Fprintf(&b, "%s: %s\n", f.File, f.Message)
		}
		checkout["log_excerpt"] = fmt.Sprintf("patch %d (%s) does not apply:\n%s", r.Apply.N, r.Apply.Patch, b.String())
	}
	data := map[string]any{
		"version":   map[string]int{"major": 5, "minor": 0},
		"checkouts": []any{checkout},
	}
	if r.Status == StatusApplyFailed {
		return data
	}
	buildStatus := func(k KernelInfo, failed bool) map[string]any {
		b := map[string]any{"id": id("build", k.Name, k.Key), "origin": KCIDBOrigin, "checkout_id": checkoutID,
			"architecture": "x86_64", "config_name": k.Name, "start_time": ts, "status": "PASS"}
		if k.BuildTime > 0 {
			b["duration"] = k.BuildTime
		}
		if failed {
			b["status"] = "FAIL"
			b["log_excerpt"] = limit(r.BuildLog, 16384)
		}
		return b
	}
	builds := []any{buildStatus(r.Patched, r.Status == StatusBuildFailed)}
	if r.Status != StatusBuildFailed {
		builds = append(builds, buildStatus(r.Base, false))
	}
	data["builds"] = builds
	var tests, issues, incidents []any
	seenIssue := map[string]bool{}
	for _, c := range r.Cases {
		for _, side := range []struct {
			k       KernelInfo
			runs    KernelRuns
			patched bool
		}{{r.Base, c.Base, false}, {r.Patched, c.Patched, true}} {
			tid := id("test", side.k.Name, side.k.Key, c.Case)
			status := "PASS"
			var excerpt string
			for _, f := range c.Findings {
				hits := f.Base.Hits
				if side.patched {
					hits = f.Patched.Hits
				}
				if hits == 0 {
					continue
				}
				status = "FAIL"
				iid := id("issue", f.Key)
				if !seenIssue[iid] {
					seenIssue[iid] = true
					issues = append(issues, map[string]any{"id": iid, "version": 1, "origin": KCIDBOrigin,
						"report_subject": f.Title, "culprit": map[string]bool{"code": true}, "comment": f.Title})
				}
				incidents = append(incidents, map[string]any{"id": id("incident", f.Key, side.k.Name, side.k.Key, c.Case), "origin": KCIDBOrigin,
					"issue_id": iid, "issue_version": 1, "test_id": tid, "present": true,
					"comment": fmt.Sprintf("%s: %d of %d runs (%s)", f.Status, hits, side.runs.Answered, c.Case)})
				if f.Example != nil && excerpt == "" {
					excerpt = f.Example.Excerpt
				}
			}
			if side.runs.Answered == 0 {
				status = "MISS"
			}
			t := map[string]any{"id": tid, "origin": KCIDBOrigin, "build_id": id("build", side.k.Name, side.k.Key),
				"path": "faultline." + idRE.ReplaceAllString(c.Case, "_"), "status": status, "start_time": ts,
				"comment": fmt.Sprintf("%s on %s: %d runs, %d clean, %d infra; %s", c.Case, side.k.Name, side.runs.Runs, side.runs.Clean, side.runs.Infra, c.Reason),
				"misc":    map[string]any{"runs": side.runs.Runs, "clean": side.runs.Clean, "infra": side.runs.Infra, "gate_status": c.Status}}
			if excerpt != "" {
				t["log_excerpt"] = limit(excerpt, 16384)
			}
			tests = append(tests, t)
		}
	}
	data["tests"], data["issues"], data["incidents"] = tests, issues, incidents
	return data
}

// idRE matches what KCIDB ids and test paths do not take.
var idRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func limit(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// WriteKCIDB writes the KCIDB data to path.
func (r *Result) WriteKCIDB(path string, now time.Time) error {
	return writeJSONFile(path, r.KCIDB(now))
}

func writeJSONFile(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
