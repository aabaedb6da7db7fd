package oops

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeeds classifies the seed bugs' console logs: each must get its title
// and its seed's signature.
func TestSeeds(t *testing.T) {
	sigs, err := LoadSignatures()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/seeds/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct{ Title, Signature string }
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for file, w := range want {
		log, err := os.ReadFile(filepath.Join("testdata/seeds", file))
		if err != nil {
			t.Fatal(err)
		}
		reps := Classify(log, sigs)
		if len(reps) == 0 {
			t.Errorf("%s: no report", file)
			continue
		}
		if reps[0].Title != w.Title || reps[0].Signature != w.Signature {
			t.Errorf("%s: got %q / %s, want %q / %s", file, reps[0].Title, reps[0].Signature, w.Title, w.Signature)
		}
	}
}

// TestSeedDSymptomAndWarning: the ext4 log has both the WARNING and the
// lost-data lines; the flood of lines is one symptom report.
func TestSeedDSymptomAndWarning(t *testing.T) {
	sigs, _ := LoadSignatures()
	log, _ := os.ReadFile("testdata/seeds/seed-d-6.1-stock.log")
	reps := Classify(log, sigs)
	if len(reps) != 2 || reps[1].Type != "SYMPTOM" || reps[1].Signature != "seed-d-ext4-gup-dio-no-buffers" {
		for _, r := range reps {
			t.Logf("%q %s %s %d-%d", r.Title, r.Type, r.Signature, r.StartLine, r.EndLine)
		}
		t.Fatalf("want the WARNING and one symptom report")
	}
}

func TestUnknownIsNew(t *testing.T) {
	sigs, _ := LoadSignatures()
	reps := Classify([]byte("[ 1.0] WARNING: CPU: 0 PID: 1 at fs/foo.c:1 foo_bar+0x1/0x2\n[ 1.0] Call Trace:\n[ 1.0]  foo_bar+0x1/0x2\n[ 1.0]  do_syscall_64+0x1/0x2\n"), sigs)
	if len(reps) != 1 || reps[0].Title != "WARNING in foo_bar" || reps[0].Signature != NewSignature {
		t.Fatalf("got %+v", reps)
	}
}

func TestBadSignatureFiles(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"badre.yaml":   {"id: x\nmatchers:\n  - title: '('\n", "badre.yaml"},
		"nomatch.yaml": {"id: y\nmatchers:\n  - symptom: z\n", "matches nothing"},
		"field.yaml":   {"id: z\nmatchrs: []\n", "field matchrs not found"},
		"noid.yaml":    {"description: d\n", "missing id"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, name), []byte(tc.yaml), 0o644)
		_, err := LoadSignatures(dir)
		if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v; want ErrBadSignature naming the file", name, err)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "l.yaml"), []byte("id: x\ndescription: d\nmatchers:\n  - title: '('\n"), 0o644)
	if _, err := LoadSignatures(dir); err == nil || !strings.Contains(err.Error(), "l.yaml:3") {
		t.Errorf("bad regexp: %v; want file:line", err)
	}
	if _, err := LoadSignatures(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing signature directory accepted")
	}
}

func TestUserSignatureOverrides(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("id: my-bug\nmatchers:\n  - title: '^WARNING in foo_bar$'\n"), 0o644)
	sigs, err := LoadSignatures(dir)
	if err != nil {
		t.Fatal(err)
	}
	reps := Classify([]byte("WARNING: CPU: 0 PID: 1 at fs/foo.c:1 foo_bar+0x1/0x2\nCall Trace:\n foo_bar+0x1/0x2\n"), sigs)
	if len(reps) != 1 || reps[0].Signature != "my-bug" {
		t.Fatalf("got %+v", reps)
	}
}
