package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"faultline/campaign"
	"faultline/results"
	"faultline/series"
	"faultline/stats"
)

func patchText(n, total int, subject, file string) string {
	return "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n" +
		"From: A Developer <dev@example.com>\n" +
		"Date: Mon, 7 Dec 2026 10:00:00 +0000\n" +
		"Subject: [PATCH v2 " + itoa(n) + "/" + itoa(total) + "] " + subject + "\n\n" +
		"Body of the change.\n\n---\n " + file + " | 1 +\n\n" +
		"diff --git a/" + file + " b/" + file + "\n" +
		"--- a/" + file + "\n+++ b/" + file + "\n" +
		"@@ -1,2 +1,3 @@\n line one\n+added\n line two\n-- \n2.39.5\n\n"
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestSelect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, fs string) *campaign.Scenario {
		p := filepath.Join(dir, name+".yaml")
		text := "name: " + name + "\nkernel: debian:6.1-cloud\nfs: {type: " + fs + "}\nworkload: {command: 'true'}\nduration: 5s\n"
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := campaign.LoadScenario(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	scens := []*campaign.Scenario{write("on-btrfs", "btrfs"), write("on-ext4", "ext4")}
	cases := func(files ...string) string {
		var names []string
		for _, c := range Select(scens, files) {
			names = append(names, c.Case)
		}
		return strings.Join(names, ",")
	}
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{"fs/btrfs/inode.c"}, "on-btrfs"},
		{[]string{"fs/ext4/inode.c"}, "on-ext4"},
		{[]string{"fs/jbd2/journal.c"}, "on-ext4"},
		{[]string{"mm/filemap.c"}, "on-btrfs,on-ext4"},
		{[]string{"fs/iomap/direct-io.c"}, "on-btrfs,on-ext4"},
		{[]string{"drivers/net/virtio_net.c", "Documentation/x.rst"}, ""},
		{[]string{"fs/btrfs/a.c", "fs/ext4/b.c"}, "on-btrfs,on-ext4"},
	} {
		if got := cases(tc.files...); got != tc.want {
			t.Errorf("Select(%v) = %q, want %q", tc.files, got, tc.want)
		}
	}
	if c := Select(scens, []string{"fs/btrfs/inode.c"}); len(c) != 1 || !strings.Contains(c[0].Reason, "fs/btrfs/inode.c touches btrfs") {
		t.Errorf("reason: %+v", c)
	}
}

// runs makes n runs: hits with the given key, the rest clean, infra extra.
func runs(n, hits int, sig string, infra int) []*results.Run {
	var rs []*results.Run
	for i := 0; i < n; i++ {
		r := &results.Run{Index: i, Verdict: "clean", Final: true}
		if i < hits {
			r.Verdict, r.Signature, r.Title = "crash", sig, "BUG: "+sig
		}
		rs = append(rs, r)
	}
	for i := 0; i < infra; i++ {
		rs = append(rs, &results.Run{Verdict: "infra-error", Final: true})
	}
	return rs
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name          string
		base, patched []*results.Run
		status        string
		finding       string
	}{
		{"both clean", runs(9, 0, "", 0), runs(9, 0, "", 0), Pass, ""},
		{"new crash", runs(9, 0, "", 0), runs(9, 3, "sig-x", 0), Regression, New},
		{"one crash never on base", runs(9, 0, "", 0), runs(9, 1, "sig-x", 0), Regression, New},
		{"fixed", runs(9, 4, "sig-x", 0), runs(9, 0, "", 0), BaseFails, Fixed},
		{"same rate", runs(9, 4, "sig-x", 0), runs(9, 4, "sig-x", 0), BaseFails, Unchanged},
		{"rate up, too few runs", runs(9, 1, "sig-x", 0), runs(9, 3, "sig-x", 0), BaseFails, Inconclusive},
		{"rate up, significant", runs(20, 1, "sig-x", 0), runs(20, 12, "sig-x", 0), Regression, New},
		{"infra is not blamed", runs(9, 0, "", 0), runs(0, 0, "", 9), Infra, ""},
		{"some infra, rest clean", runs(9, 0, "", 0), runs(6, 0, "", 3), Pass, ""},
	} {
		cr := Compare("c", "why", tc.base, tc.patched)
		if cr.Status != tc.status {
			t.Errorf("%s: status %s, want %s (%+v)", tc.name, cr.Status, tc.status, cr.Findings)
		}
		got := ""
		if len(cr.Findings) > 0 {
			got = cr.Findings[0].Status
		}
		if got != tc.finding {
			t.Errorf("%s: finding %q, want %q (%+v)", tc.name, got, tc.finding, cr.Findings)
		}
	}
	cr := Compare("c", "", runs(9, 1, "sig-x", 0), runs(9, 3, "sig-x", 0))
	if f := cr.Findings[0]; f.MoreRuns <= 9 || f.P < alpha {
		t.Errorf("inconclusive finding: more runs %d, p %.3f", f.MoreRuns, f.P)
	}
	if f := Compare("c", "", runs(9, 0, "", 0), runs(9, 3, "sig-x", 0)).Findings[0]; f.Patched != (stats.Counts{Runs: 9, Hits: 3}) || f.Base != (stats.Counts{Runs: 9}) {
		t.Errorf("counts: %+v", f)
	}
}

func TestExitCodes(t *testing.T) {
	for status, want := range map[string]int{StatusPass: 0, StatusNotCovered: 0, StatusRegression: 1, StatusApplyFailed: 1, StatusBuildFailed: 1, StatusCannotJudge: 125} {
		if got := (&Result{Status: status}).ExitCode(); got != want {
			t.Errorf("%s: exit %d, want %d", status, got, want)
		}
	}
}

func TestKCIDB(t *testing.T) {
	s, err := series.Load("../scenarios/gate/extent-buffer-v2.mbox")
	if err != nil {
		t.Fatal(err)
	}
	ex := &results.Run{Excerpt: "kernel BUG at fs/btrfs/extent_io.c:4342!"}
	r := &Result{Status: StatusRegression, Series: s, Out: "/tmp/gate",
		Base:    KernelInfo{Name: "6.1-harness", Key: "aaa"},
		Patched: KernelInfo{Name: "6.1-harness+series-x", Key: "bbb", BuildTime: 61},
		Cases:   []CaseResult{Compare("seed-b", "named", runs(3, 0, "", 0), runs(3, 2, "seed-b-sig", 0))}}
	r.Cases[0].Findings[0].Example = ex
	d := r.KCIDB(time.Unix(0, 0))
	if v := d["version"].(map[string]int); v["major"] != 5 {
		t.Errorf("version %v", v)
	}
	co := d["checkouts"].([]any)[0].(map[string]any)
	if co["valid"] != true || len(co["patchset_files"].([]map[string]string)) != 3 || len(co["patchset_hash"].(string)) != 64 {
		t.Errorf("checkout %v", co)
	}
	tests := d["tests"].([]any)
	if len(tests) != 2 {
		t.Fatalf("tests %v", tests)
	}
	st := map[string]string{}
	for _, x := range tests {
		m := x.(map[string]any)
		if !strings.HasPrefix(m["id"].(string), "faultline:") || !strings.HasPrefix(m["build_id"].(string), "faultline:") {
			t.Errorf("ids without origin: %v", m)
		}
		st[m["build_id"].(string)] = m["status"].(string)
	}
	if st["faultline:build-6_1-harness-aaa"] != "PASS" || st["faultline:build-6_1-harness_series-x-bbb"] != "FAIL" {
		t.Errorf("test statuses %v", st)
	}
	if inc := d["incidents"].([]any); len(inc) != 1 || inc[0].(map[string]any)["issue_id"] != "faultline:issue-seed-b-sig" {
		t.Errorf("incidents %v", inc)
	}
	// A series that does not apply: an invalid checkout and nothing else.
	r2 := &Result{Status: StatusApplyFailed, Series: s, Apply: &ApplyFailure{Patch: "0001-x.patch", N: 1}}
	d2 := r2.KCIDB(time.Unix(0, 0))
	if d2["checkouts"].([]any)[0].(map[string]any)["valid"] != false || d2["builds"] != nil {
		t.Errorf("apply failure: %v", d2)
	}
}
